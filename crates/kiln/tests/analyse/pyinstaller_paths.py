# Code written for PyInstaller: data found through sys._MEIPASS when frozen, through __file__
# otherwise, by a helper that joins its arguments; and rich's versioned tables, imported
# relative to a package passed by position under names that are not identifiers.
import os
import sys
from importlib import import_module


def resource_path(*parts):
    if getattr(sys, "frozen", False):
        base = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
    else:
        base = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(base, *parts)


def asset(name):
    return os.path.join(os.path.dirname(__file__), "assets", name)


CONFIG = resource_path("data", "config.json")
ICON = asset("icon.png")
BASE = sys._MEIPASS if getattr(sys, "frozen", False) else os.path.dirname(__file__)
BANNER = os.path.join(BASE, "data", "banner.txt")


def load(version):
    component = version.replace(".", "-")
    return import_module(f".unicode{component}", "rich._unicode_data")
