"""The app's own plugins package, discovered with pkgutil and imported by computed names."""
import importlib
import pkgutil

import plugins

PLUGIN_PACKAGE = "plugins"
FORMATTERS = "formatters"
ORDER = ["upper", "reverse", "stars"]

loaded = {}
for info in pkgutil.iter_modules(plugins.__path__):
    if not info.ispkg:
        loaded[info.name] = importlib.import_module(f"{PLUGIN_PACKAGE}.{info.name}")
print("discovered:", sorted(loaded))
text = "kiln"
for name in ORDER:
    text = loaded[name].apply(text)
print("pipeline:", text)

# Names built in other ways real apps build them.
joined = importlib.import_module(".".join([PLUGIN_PACKAGE, FORMATTERS, "json_fmt"]))
percent = importlib.import_module("%s.%s.%s" % (PLUGIN_PACKAGE, FORMATTERS, "csv_fmt"))
fmt = importlib.import_module("{}.{}.{}".format(PLUGIN_PACKAGE, FORMATTERS, "table_fmt"))
row = {"a": 1, "b": "two"}
for mod in (joined, percent, fmt):
    print(mod.NAME, mod.render(row))
sub = sorted(m.name for m in pkgutil.walk_packages(plugins.__path__, PLUGIN_PACKAGE + "."))
print("walk:", sub)
