"""holidays: country and financial calendars (modules picked by a computed country code),
with localized names read from .mo files."""
import datetime
import holidays

for code in ("US", "DE", "JP", "BR", "IN"):
    h = holidays.country_holidays(code, years=2024)
    print(code, len(h), sorted(h.items())[0])
fr = holidays.country_holidays("FR", years=2024, language="fr")
print("FR fr", fr.get(datetime.date(2024, 7, 14)))
de = holidays.country_holidays("DE", subdiv="BY", years=2024, language="de")
print("DE de", de.get(datetime.date(2024, 12, 25)))
nyse = holidays.financial_holidays("NYSE", years=2024)
print("NYSE", len(nyse), nyse.get(datetime.date(2024, 11, 28)))
print("supported", len(holidays.list_supported_countries()) > 100)
