"""Faker with several locales (providers discovered per locale at run time), seeded for deterministic output."""
from faker import Faker


def main():
    Faker.seed(1234)
    fake = Faker(["de_DE", "ja_JP", "fr_FR", "pt_BR"])
    for loc in ("de_DE", "ja_JP", "fr_FR", "pt_BR"):
        f = fake[loc]
        print(loc, "|", f.name(), "|", f.city(), "|", f.phone_number())
    en = Faker("en_US")
    en.seed_instance(7)
    print("en:", en.email(), en.ipv4(), en.date_of_birth().isoformat(), en.credit_card_provider())
    print("user agent:", en.user_agent()[:20])
    print("color:", en.color_name(), "file:", en.file_name(category="image"))
    print("providers:", len(en.providers) > 20)


main()
