"""Modules provided at run time through sys.modules, then imported by name."""
import sys
import types

settings = types.ModuleType("settings")
settings.DEBUG = False
settings.DATABASE = {"engine": "sqlite", "name": ":memory:"}
sys.modules["settings"] = settings

import settings as s  # noqa: E402  (found in sys.modules, no file behind it)

print("settings:", s.DEBUG, s.DATABASE["engine"])


class _Lazy(types.ModuleType):
    def __getattr__(self, name):
        import json
        return getattr(json, name)


sys.modules["compat_json"] = _Lazy("compat_json")
from compat_json import dumps  # noqa: E402

print(dumps({"lazy": True}))
import shim  # noqa: E402  (an app module that installs an alias for another one)
import fastjson  # noqa: E402

print(fastjson.loads('{"x": [1, 2]}'), shim.ALIASED)
