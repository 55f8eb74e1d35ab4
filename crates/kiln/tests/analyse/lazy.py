import importlib

_SUBMODULES = {"Frame": "pkg._frame", "Series": "pkg._series"}


def __getattr__(name):
    if name == "compat":
        from . import compat

        return compat
    return getattr(importlib.import_module(_SUBMODULES[name]), name)
