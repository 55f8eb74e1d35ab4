"""i18n: babel's CLDR locale data (dates, numbers, currencies, plurals) and gettext with a .mo shipped in the app."""
import gettext
import os
from datetime import date, datetime, timezone

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations

here = os.path.dirname(os.path.abspath(__file__))
d = date(2024, 3, 7)
dt = datetime(2024, 3, 7, 15, 30, tzinfo=timezone.utc)
for loc in ("de_DE", "fr_FR", "ja_JP"):
    print(loc, format_date(d, format="full", locale=loc), "|", format_decimal(1234567.891, locale=loc),
          "|", format_currency(1234.5, "EUR", locale=loc), "|", format_percent(0.256, locale=loc))
print(format_datetime(dt, "medium", tzinfo=timezone.utc, locale="de_DE"))
from datetime import timedelta
print(format_timedelta(timedelta(days=3), locale="de_DE"))
print(Locale.parse("de_DE").display_name, Locale("de").territories["FR"])

t = gettext.translation("app", localedir=os.path.join(here, "locale"), languages=["de"])
_, ngettext = t.gettext, t.ngettext
print(_("Hello, world!"))
for n in (1, 3):
    print(ngettext("%(n)d file", "%(n)d files", n) % {"n": n})
bt = Translations.load(os.path.join(here, "locale"), ["de"], domain="app")
print(bt.gettext("Goodbye"))
