"""phonenumbers: parse and format numbers of several regions (per-region metadata modules
loaded lazily by computed names), with geocoder, carrier and timezone data."""
import phonenumbers
from phonenumbers import geocoder, carrier, timezone

for raw, region in (("+1 650-253-0000", None), ("020 7946 0018", "GB"), ("+33 1 42 68 53 00", None),
                    ("+81 3-3224-5000", None), ("+49 30 227 0", None), ("+55 11 91234-5678", None)):
    n = phonenumbers.parse(raw, region)
    print(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164),
          phonenumbers.is_valid_number(n), phonenumbers.region_code_for_number(n),
          geocoder.description_for_number(n, "en"), repr(carrier.name_for_number(n, "en")),
          timezone.time_zones_for_number(n))
print(geocoder.description_for_number(phonenumbers.parse("+33 1 42 68 53 00"), "fr"))
ex = phonenumbers.example_number("CH")
print(phonenumbers.format_number(ex, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
for m in phonenumbers.PhoneNumberMatcher("Call 0800 123 4567 or +44 20 7946 0018 today", "GB"):
    print("match", m.raw_string)
