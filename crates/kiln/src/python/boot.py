# The boot script of a kiln bundle. The launcher runs it as the main script with
#   app <component> <argv0> [args...]    run a component's entry as __main__
#   mp-fork <key=value>...                 a multiprocessing child of a frozen app
# kiln fills in ENTRIES and APP_ROOT for each build.
import sys

# component -> [kind, target]: ["script", path relative to sys.prefix] | ["module", "pkg.mod"]
# | ["call", "pkg.mod:attr"]
ENTRIES = {}
# Environment variables hooks set before the app starts (values the user set win).
ENV = {}
# Where the app's own files live, relative to sys.prefix (what `sys.path[0]` was in development).
APP_ROOT = ""


def _frozen():
    sys.frozen = True
    sys._MEIPASS = sys.prefix + "/" + APP_ROOT


def _fresh_main():
    """Empties __main__ the way the interpreter leaves it before running a script."""
    g = sys.modules["__main__"].__dict__
    builtins = g["__builtins__"]
    g.clear()
    g.update(__name__="__main__", __builtins__=builtins, __doc__=None, __package__=None,
             __spec__=None, __loader__=None)
    return g


def _main():
    import sys  # a local: __main__'s globals are emptied before the entry runs

    here = __file__.rpartition("/")[0]
    if sys.path and sys.path[0] == here:
        del sys.path[0]  # the script's directory, added because boot runs as a script
    if sys.argv[1] == "mp-fork":
        _frozen()
        kwargs = {}
        for arg in sys.argv[2:]:
            name, _, value = arg.partition("=")
            kwargs[name] = None if value == "None" else int(value)
        sys.argv = [sys.executable, "--multiprocessing-fork"] + sys.argv[2:]
        from multiprocessing.spawn import spawn_main
        spawn_main(**kwargs)
        return
    component, argv0 = sys.argv[2], sys.argv[3]
    sys.argv = [argv0] + sys.argv[4:]
    if component == "*":
        # The suite's dispatcher: `NAME COMPONENT [args]` runs that component.
        if len(sys.argv) < 2 or sys.argv[1] not in ENTRIES:
            out = sys.stdout if len(sys.argv) < 2 else sys.stderr
            if len(sys.argv) >= 2:
                out.write("unknown component %r\n" % sys.argv[1])
            name = argv0.rpartition("/")[2]
            out.write("usage: %s COMPONENT [ARGS...]\ncomponents:\n" % name)
            for known in sorted(ENTRIES):
                out.write("  %s\n" % known)
            sys.exit(0 if len(sys.argv) < 2 else 2)
        component = sys.argv[1]
        sys.argv = [argv0] + sys.argv[2:]
    _frozen()
    if ENV:
        import os
        for name, value in ENV.items():
            os.environ.setdefault(name, value)
    kind, target = ENTRIES[component]
    if kind == "script":
        import marshal
        from importlib.machinery import SourcelessFileLoader
        path = sys.prefix + "/" + target
        with open(path, "rb") as f:
            code = marshal.loads(f.read()[16:])
        g = _fresh_main()
        g.update(__file__=path, __cached__=None, __loader__=SourcelessFileLoader("__main__", path))
        exec(code, g)
    elif kind == "module":
        import runpy
        _fresh_main()
        runpy._run_module_as_main(target, alter_argv=False)
    else:
        import importlib
        module, _, attr = target.partition(":")
        func = importlib.import_module(module)
        for part in attr.split("."):
            func = getattr(func, part)
        _fresh_main()
        sys.exit(func())


_main()
