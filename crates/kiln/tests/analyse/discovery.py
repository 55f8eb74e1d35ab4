"""Docstring mentioning some.module.path that is not a reference."""
import os
import pkgutil
import sys
from pathlib import Path
import importlib.resources
from importlib import resources
from importlib.metadata import entry_points
import myapp.plugins as plugins

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = Path(__file__).resolve().parent.parent
__all__ = ["alpha", "beta"]
__all__ += ["gamma"]

for info in pkgutil.iter_modules(plugins.__path__):
    pass
for info in pkgutil.walk_packages(__path__, __name__ + "."):
    pass
pkgutil.iter_modules([os.path.dirname(__file__)])
resources.files("myapp.assets")
importlib.resources.files(__package__)

for ep in entry_points(group="myapp.plugins"):
    pass
entry_points().select(group="console_scripts")
entry_points()["legacy.group"]
entry_points().get("other.group")
# A plugin manager's method named for what it does (pluggy, as pytest calls it).
pluginmanager.load_setuptools_entrypoints("pytest11")

TEMPLATES = os.path.join(HERE, "templates")
config = ROOT / "conf" / "settings.json"
open(os.path.join(os.path.dirname(__file__), "data", "x.json"))
Path(__file__).parent.joinpath("static", "app.css")
sys.path.insert(0, os.path.join(HERE, "vendor"))
sys.path.append(str(Path(__file__).parent / "libs"))

LOGGING = {"formatters": {"f": {"()": "myapp.logs.JsonFormatter"}}}
INSTALLED_APPS = ["django.contrib.admin", "myapp.billing"]


class Lazy:
    __all__ = ["not_module_level"]


def __getattr__(name):
    raise AttributeError(name)


def _unrelated():
    return importlib.import_module(_names[0])

import lazy_loader as lazy

# lazy_loader reads the module's own stub to know what its attributes import.
__getattr__, __dir__, _ = lazy.attach_stub(__name__, __file__)

import importlib_metadata

# catalogue keeps every entry point and reads groups by names it builds later.
AVAILABLE_ENTRY_POINTS = importlib_metadata.entry_points()
