# The target is CPython 3.11.7.
import sys
from pathlib import Path

if sys.version_info >= (3, 12):
    import new_in_312
else:
    import before_312

if sys.version_info < (3, 11):
    import tomli_backport

if sys.version_info[:2] == (3, 11):
    import exactly_311

if sys.version_info >= (3, 11, 8):
    import after_micro
elif sys.version_info >= (3, 11, 7):
    import at_micro

if sys.version_info >= (3, 11):
    import from_311

if sys.version_info.minor >= 12:
    import minor_attr

if sys.version_info[0] == 3 and sys.version_info[1] < 8:
    import legacy

if sys.version_info > (3, 11, 7, "alpha"):
    import release_level_unknown

if sys.version_info >= (3, 12):
    BASE = Path(__file__).parent / "only_312_data"
    sys.path.insert(0, str(Path(__file__).parent / "only_312_path"))
BASE = Path(__file__).parent / "always_data"
