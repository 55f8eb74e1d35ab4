"""Plugins found through installed distributions' entry points: pluggy, babel extractors, pygments lexers."""
import io
from importlib.metadata import entry_points

import pluggy
from pygments.lexers import get_lexer_by_name

PYTEST_GROUP = "pytest11"
EXTRACTORS = "babel.extractors"
LEXERS = "pygments.lexers"

hookspec = pluggy.HookspecMarker("pytest")
pm = pluggy.PluginManager("pytest")
loaded = pm.load_setuptools_entrypoints(PYTEST_GROUP)
print("pluggy loaded from", PYTEST_GROUP + ":", loaded, sorted(name for name, _ in pm.list_name_plugin()))
print("plugin modules:", sorted(type(p).__name__ if not hasattr(p, "__name__") else p.__name__ for p in pm.get_plugins()))

extractors = {ep.name: ep for ep in entry_points(group=EXTRACTORS)}
print("extractors:", sorted(extractors))
extract_python = extractors["python"].load()
src = io.BytesIO(b'_("Hello")\nngettext("one", "many", n)\nprint("not me")\n')
print([(lineno, funcname, msg) for lineno, funcname, msg, _ in extract_python(src, ["_", "ngettext"], [], {})])

names = sorted(ep.name for ep in entry_points(group=LEXERS))
print("lexer plugins:", names)
lexer = get_lexer_by_name("mako")
print("mako lexer:", type(lexer).__name__, type(lexer).__module__)
print("tokens:", [t[1] for t in lexer.get_tokens("% for x in y:\n${x}\n% endfor\n")][:6])
