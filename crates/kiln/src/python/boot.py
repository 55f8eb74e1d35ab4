# The boot script of a kiln bundle. The launcher runs it as the main script with
#   app <component> <argv0> [args...]    run a component's entry as __main__ (a component
#                                          this runtime lacks: its only one)
#   mp-fork <key=value>...                 a multiprocessing child of a frozen app
# Imported as the module `_kiln_boot` (by `_kiln_archive.pth` in site-packages, so that an
# interpreter started through `sys.executable` gets it too), it only installs the finder of
# the module archive. kiln fills in ENTRIES and APP_ROOT for each build.
import sys

# component -> [kind, target]: ["script", path relative to sys.prefix] | ["module", "pkg.mod"]
# | ["call", "pkg.mod:attr"]
ENTRIES = {}
# component -> environment variables the hooks of that component set before it starts (values
# the user set win).
ENV = {}
# Where the app's own files live, relative to sys.prefix (what `sys.path[0]` was in development).
APP_ROOT = ""


def _serve_archive(here):
    """Serves modules from the bundle's module archive (see kiln's write/archive.rs): one
    dictionary lookup and one pread per import. Returns quietly when there is none."""
    import posix
    import marshal
    if any(getattr(f, "_kiln_archive", False) for f in sys.meta_path):
        return  # installed already, through the .pth file
    bootstrap = sys.modules["_frozen_importlib_external"]
    try:
        fd = posix.open(here + "/_kiln_modules.bin", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return
    head = posix.pread(fd, 16, 0)
    if head[:8] != b"KILNMOD2":
        posix.close(fd)
        return
    size = int.from_bytes(head[8:16], "little")
    base = 16 + size
    prefix = sys.prefix + "/"
    # table: name -> (path relative to sys.prefix, offset, length; -1 for an extension)
    # children: directory relative to sys.prefix -> {name: is_package}, for pkgutil
    table, children = marshal.loads(posix.pread(fd, size, 16))

    SourcelessFileLoader = bootstrap.SourcelessFileLoader
    ExtensionFileLoader = bootstrap.ExtensionFileLoader
    spec_from_file_location = bootstrap.spec_from_file_location

    class ArchiveLoader(SourcelessFileLoader):
        """A sourceless loader whose code comes from the archive. `path` is where the module's
        file would be, so `__file__`, resources and data beside it work as from disk."""

        def get_code(self, fullname):
            _, offset, length = table[fullname]
            return marshal.loads(posix.pread(fd, length, base + offset))

        def get_source(self, fullname):
            # Sources kept in the bundle sit beside where the bytecode would be.
            try:
                return bootstrap.decode_source(self.get_data(self.path[:-1]))
            except OSError:
                return None

    startup_entries = set(sys.path)
    # The search path last seen, and whether it held a directory added since start-up: most
    # imports see the same path, so the check is one list comparison.
    seen = [list(sys.path), False]

    def path_grew():
        if sys.path != seen[0]:
            seen[0] = list(sys.path)
            seen[1] = any(e not in startup_entries for e in sys.path if isinstance(e, str))
        return seen[1]
    FileFinder = bootstrap.FileFinder
    details = bootstrap._get_supported_file_loaders()
    added_finders = {}

    def shadowed(fullname, origin):
        """Whether a directory put on sys.path after start-up, ahead of the top-level module's
        own directory, holds a module of that name on disk, which PathFinder would find first
        (opencv puts its package directory first to import its extension module `cv2`)."""
        own = origin.rpartition("/")[0]
        if origin.rpartition("/")[2].startswith("__init__."):
            own = own.rpartition("/")[0]
        for entry in sys.path:
            if entry == own or entry == own + "/":
                return False
            if not isinstance(entry, str) or entry in startup_entries:
                continue
            finder = added_finders.get(entry)
            if finder is None:
                finder = added_finders[entry] = FileFinder(entry, *details)
            try:
                if finder.find_spec(fullname) is not None:
                    return True
            except (OSError, ValueError):
                continue
        return False

    class ArchiveFinder:
        _kiln_archive = True

        @classmethod
        def find_spec(cls, fullname, path=None, target=None):
            entry = table.get(fullname)
            if entry is None:
                return None
            origin = prefix + entry[0]
            if path is None and path_grew() and shadowed(fullname, origin):
                return None
            if entry[2] < 0:
                loader = ExtensionFileLoader(fullname, origin)
            else:
                loader = ArchiveLoader(fullname, origin)
            locations = None
            # `pkg.__init__` is the package's __init__ file imported as a plain module.
            if origin.rpartition("/")[2].startswith("__init__.") and \
                    not fullname.endswith(".__init__"):
                locations = [origin.rpartition("/")[0]]
            return spec_from_file_location(fullname, origin, loader=loader,
                                           submodule_search_locations=locations)

        @classmethod
        def invalidate_caches(cls):
            pass

    class DirectoryFinder:
        """A directory's path-entry finder: the modules the archive holds for it, then the
        files on disk (extension modules, data directories, namespace portions). pkgutil's
        `iter_modules` lists both."""

        def __init__(self, path, known):
            self.path = path
            self._known = known
            self._files = FileFinder(path, *details)

        def find_spec(self, fullname, target=None):
            tail = fullname.rpartition(".")[2]
            if tail in self._known:
                spec = ArchiveFinder.find_spec(fullname)
                if spec is not None and spec.origin.rpartition("/")[0] in (
                        self.path, self.path + "/" + tail):
                    return spec
            return self._files.find_spec(fullname, target)

        def invalidate_caches(self):
            self._files.invalidate_caches()

        def iter_modules(self, prefix=""):
            import pkgutil
            seen = set()
            for name, is_package in sorted(self._known.items()):
                seen.add(name)
                yield prefix + name, is_package
            for name, is_package in pkgutil.iter_importer_modules(self._files, prefix):
                if name[len(prefix):] not in seen:
                    yield name, is_package

    def directory_hook(path):
        known = None
        if path.startswith(prefix):
            known = children.get(path[len(prefix):].rstrip("/"))
        if known is None:
            raise ImportError("not a directory the module archive serves")
        return DirectoryFinder(path, known)

    sys.path_hooks.insert(0, directory_hook)
    sys.path_importer_cache.clear()
    # Before the path-based finder: builtin and frozen modules keep their precedence.
    meta = sys.meta_path
    at = next((i for i, f in enumerate(meta)
               if getattr(f, "__name__", "") == "PathFinder"), len(meta))
    meta.insert(at, ArchiveFinder)


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
    _serve_archive(here)
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
    if component not in ENTRIES:
        # The interpreter was started with a command line CPython refuses, by code that starts
        # a copy of the app the PyInstaller way, with no component named (see the launcher).
        if len(ENTRIES) != 1:
            sys.stderr.write(
                "%s: CPython refuses these arguments, and this runtime has several components "
                "to run instead (%s); start a component's executable\n"
                % (argv0, ", ".join(sorted(ENTRIES))))
            sys.exit(2)
        component = next(iter(ENTRIES))
    _frozen()
    import os
    # Copies of the app started through sys.executable run this same component.
    os.environ["KILN_COMPONENT"] = component
    env = ENV.get(component)
    if env:
        for name, value in env.items():
            os.environ.setdefault(name, value)
    kind, target = ENTRIES[component]
    if kind == "script":
        import marshal
        # importlib.machinery's class, without importing importlib (and warnings) for it.
        SourcelessFileLoader = sys.modules["_frozen_importlib_external"].SourcelessFileLoader
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


if __name__ == "__main__":
    _main()
else:
    _serve_archive(__file__.rpartition("/")[0])
