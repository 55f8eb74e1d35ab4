# Reports what kiln needs to know about the interpreter running this script, as JSON on stdout.
# Runs on CPython 3.9 to 3.13; standard library only.
import importlib.machinery
import importlib.util
import json
import os
import site
import subprocess
import sys
import sysconfig


def site_packages_layout():
    """Where site.py of this interpreter looks for site-packages, relative to a prefix, as the
    base installation sees it: a bundle is no venv, and Debian's site.py, for one, looks in
    `lib/python3.X/site-packages` only inside a venv (its own installation uses dist-packages)."""
    fake = os.path.join(os.sep, "KILNPREFIX")
    saved_prefix, saved_venv = sys.prefix, os.environ.pop("VIRTUAL_ENV", None)
    try:
        sys.prefix = sys.base_prefix
        dirs = site.getsitepackages([fake])
    except Exception:
        dirs = []
    finally:
        sys.prefix = saved_prefix
        if saved_venv is not None:
            os.environ["VIRTUAL_ENV"] = saved_venv
    return [os.path.relpath(d, fake) for d in dirs if d.startswith(fake + os.sep)]


def stdlib_module_names():
    """sys.stdlib_module_names (3.10+), or on 3.9 the same set read off the installation: the
    built-in modules, and the top-level modules and packages of the standard library's
    directories and lib-dynload (never site-packages or the test suite)."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return sorted(names)
    out = set(sys.builtin_module_names)
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    dirs = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"),
            sysconfig.get_config_var("DESTSHARED") or ""}
    for d in sorted(x for x in dirs if x):
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for entry in entries:
            full = os.path.join(d, entry)
            name = None
            if entry.endswith(".py"):
                name = entry[:-3]
            elif os.path.isdir(full) and os.path.exists(os.path.join(full, "__init__.py")):
                name = entry
            else:
                for suffix in suffixes:
                    if entry.endswith(suffix):
                        name = entry[:-len(suffix)]
                        break
            if name and name.isidentifier() and name not in ("test", "site-packages"):
                out.add(name)
    return sorted(out)


STDLIB_MODULE_NAMES = stdlib_module_names()


def frozen_modules():
    names = STDLIB_MODULE_NAMES
    finder = importlib.machinery.FrozenImporter
    out = []
    for name in sorted(set(names) | {"importlib._bootstrap", "importlib._bootstrap_external",
                                     "_frozen_importlib", "_frozen_importlib_external",
                                     "importlib.util", "importlib.machinery", "os.path"}):
        try:
            if finder.find_spec(name) is not None:
                out.append(name)
        except Exception:
            pass
    return out


def startup_modules():
    """Standard library modules an isolated interpreter has imported before it runs any code:
    its own start-up and `site`'s (a bundle runs `site` too, with nothing to add)."""
    code = "import sys; print('\\n'.join(sorted(sys.modules)))"
    stdlib = set(STDLIB_MODULE_NAMES) | set(sys.builtin_module_names)
    try:
        out = subprocess.run([sys.executable, "-I", "-c", code], check=True,
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        names = out.split()
    except Exception:
        return []
    if not stdlib:
        return names
    return [n for n in names if n == "__main__" or n.split(".")[0] in stdlib]


def implicit_imports():
    """Imports the standard library makes under names computed from this build."""
    out = []
    try:
        out.append(["sysconfig", sysconfig._get_sysconfigdata_name()])
    except Exception:
        pass
    return out


def main():
    cfg = sysconfig.get_config_var
    path = list(sys.path)
    if path and path[0] in ("", os.getcwd()):
        path = path[1:]
    dynload = cfg("DESTSHARED") or ""
    info = {
        "version": list(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "executable": sys.executable,
        "base_executable": getattr(sys, "_base_executable", sys.executable),
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "platlibdir": getattr(sys, "platlibdir", "lib"),
        "path": path,
        "stdlib": sysconfig.get_path("stdlib"),
        "platstdlib": sysconfig.get_path("platstdlib"),
        "dynload": dynload,
        "extension_suffixes": list(importlib.machinery.EXTENSION_SUFFIXES),
        "source_suffixes": list(importlib.machinery.SOURCE_SUFFIXES),
        "bytecode_suffixes": list(importlib.machinery.BYTECODE_SUFFIXES),
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "builtin_modules": sorted(sys.builtin_module_names),
        "frozen_modules": frozen_modules(),
        "stdlib_module_names": STDLIB_MODULE_NAMES,
        "shared_libpython": bool(cfg("Py_ENABLE_SHARED")),
        "ldlibrary": cfg("LDLIBRARY") or "",
        "instsoname": cfg("INSTSONAME") or "",
        "libdir": cfg("LIBDIR") or "",
        "multiarch": cfg("MULTIARCH") or "",
        "site_packages_layout": site_packages_layout(),
        "startup_modules": startup_modules(),
        "platform": sys.platform,
        "implicit_imports": implicit_imports(),
        "user_site": site.getusersitepackages() if site.ENABLE_USER_SITE else None,
        "module_aliases": {name: mod.__name__ for name, mod in list(sys.modules.items())
                           if getattr(mod, "__name__", name) != name and "." in name
                           and not name.startswith("_")},
    }
    json.dump(info, sys.stdout)


main()
