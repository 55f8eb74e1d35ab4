# Module names computed from values the module spells out.
import importlib
import sys
import types
from importlib import import_module
from importlib.metadata import entry_points

PACKAGE = "services"
ENGINES = ("postgres", "sqlite")
GROUP = "myapp.plugins"

import_module(PACKAGE + ".auth")
import_module(f"{PACKAGE}.billing")
import_module(".".join([PACKAGE, "mail"]))
import_module("%s.%s" % (PACKAGE, "queue"))
import_module("{pkg}.{name}".format(pkg=PACKAGE, name="search"))

for engine in ENGINES:
    importlib.import_module("backends.%s.base" % engine)

loaded = [import_module("connectors." + c) for c in ["s3", "gcs"]]


def load(kind):
    target = "handlers." + kind
    fixed = "handlers.default"
    import_module(fixed)
    return import_module(target)


name = "lazy.one" if len(sys.argv) > 1 else "lazy.two"
import_module(name)

for ep in entry_points(group=GROUP):
    ep.load()

sys.modules["provided.here"] = types.ModuleType("provided.here")
sys.modules.setdefault(PACKAGE + ".shim", types.ModuleType("shim"))
import_module("unicode17-0-0")


class LanguageImporter:
    packages = ("languages.", "")
    fallback = "languages.en"

    def load(self, tag):
        for package in self.packages:
            import_module(package + tag)
        return import_module(self.fallback)


def not_a_method(self, tag):
    return import_module(self.packages + tag)


class Configured:
    backend = "backends.memory"

    def __init__(self, backend=None):
        if backend:
            self.backend = backend

    def load(self):
        return import_module(self.backend)


handler_packages = ["serial.urlhandler"]


def for_url(url):
    # A relative name built with `.format`, resolved against each package of a module-level
    # list (pyserial's URL handlers).
    protocol = url.split("://", 1)[0]
    module_name = ".protocol_{}".format(protocol)
    for package_name in handler_packages:
        import_module(package_name)
        return import_module(module_name, package_name)


MIGRATIONS_MODULE_NAME = "migrations"


def load_app_modules(app_config, app_name, name, backend):
    # Names that start with a value from the app's settings (Django's apps, commands and
    # database backends): what follows the unknown head is known.
    import_module("%s.%s" % (app_config.name, MIGRATIONS_MODULE_NAME))
    import_module("%s.management.commands.%s" % (app_name, name))
    import_module("{}.base".format(backend))
    import_module(backend + ".templatetags")
    import_module("%s" % backend)


class Loader:
    def migrations_module(self, app_config):
        # Built in one method, imported in another (Django's MigrationLoader).
        return "%s.%s" % (app_config.name, MIGRATIONS_MODULE_NAME), False

    def load(self, app_config):
        name, _ = self.migrations_module(app_config)
        return import_module(name), "%d.%s" % (1, "x")


def tag_modules(app_configs):
    # Django's template tag libraries: `templatetags` of every installed app.
    candidates = ["templates.tags"]
    candidates.extend(f"{app_config.name}.templatetags" for app_config in app_configs)
    return [import_module(c) for c in candidates]


class Validator:
    # A property that returns the module name (plotly's validators): its computed arm gives
    # a package; the arm known whole is not taken for a prefix.
    def __init__(self, parent_name):
        self.parent_name = parent_name

    @property
    def module_str(self):
        parent_name = self.parent_name.replace("layout.template.data.", "")
        if parent_name:
            return "graphs.objs." + parent_name
        return "graphs.objs"

    @property
    def fixed(self):
        return "graphs.fixed"

    def data_class(self):
        return import_module(self.module_str), import_module(self.fixed)


PLUGIN_ROOT = "plugins"


def plugin_module(kind):
    # A small function that returns a name: its callers import what it returns.
    return PLUGIN_ROOT + ".kinds." + kind


def default_backend():
    return "backends.default"


def load_plugin(kind):
    import_module(plugin_module(kind))
    return import_module(default_backend())


def not_small(kind):
    if kind:
        return None
    return "never." + kind


class Registry:
    def base(self):
        return "registry.base"

    def load(self):
        return import_module(self.base()), import_module(not_small("x"))


_module_prefix = "dns.rdtypes"


def get_rdata_class(rdclass_text, rdtype_text):
    # Items joined by a separator, the first known (dnspython's rdata classes).
    return import_module(".".join([_module_prefix, rdclass_text, rdtype_text]))


def _load_region(code):
    # A partial name relative to this package (phonenumbers' metadata modules).
    __import__("region_%s" % code, globals(), locals(), fromlist=["PHONE_METADATA_%s" % code], level=1)
    __import__("territory", globals(), locals(), [], 1)


rl_exec = getattr(__builtins__, "exec")
# Code in a string that only imports (reportlab's settings); prose is no code.
rl_exec("from reportlab.rl_settings import *", {}, {})
exec("import json, xml.dom")
ERROR = "import failed: run pip install thing"
