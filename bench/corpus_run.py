#!/usr/bin/env python3
"""The harness of bench/corpus.sh: freezes every app of bench/corpus/ with kiln and PyInstaller
from one fat venv, runs each bundle relocated with the host's Pythons hidden, and writes
docs/corpus.md and target/corpus/results.json.

Per app:
  1. a plain run (`VENV/bin/python main.py ARGS` in a copy of the app) gives the expected stdout;
     a traced run of the same records every module the app imported (the tracer is written to
     target/corpus/trace.py: it snapshots sys.modules at exit, importing nothing itself before);
  2. kiln onedir and onefile builds with no flags but --python/--name/--out, timed;
  3. PyInstaller onedir and onefile builds with its defaults, timed;
  4. every bundle is copied to a fresh directory and run from an empty working directory inside
     `unshare -m`, with tmpfs over the host's Python installations, the venv and the app's
     source, and /dev/null over python* executables and libpython3* libraries (as the
     integration tests' hidden runs do: crates/kiln/tests/it/support.rs), with a timeout;
     stdout and exit status must equal the plain run's;
  5. sizes: `du -sb` of onedir bundles, the file size of onefile executables;
  6. kiln's module recall and precision against the trace, from the build report; and the
     largest distributions kiln ships that no traced module belongs to.

One app failing, hanging or crashing the tool never stops the run: every build and run has a
timeout, and every step's output is kept in target/corpus/logs/APP/.
"""

import argparse
import datetime
import glob
import gzip
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# Mirrors HOST_PYTHON_DIRS, PYTHON_BIN_DIRS and LIBPYTHON_DIRS of crates/kiln/tests/it/support.rs.
HOST_PYTHON_DIRS = ["/root/.pyenv", "/usr/lib/python3", "/usr/lib/python3.11", "/usr/local/lib/python3.11"]
HOST_PYTHON_GLOBS = ["/usr/lib/python3*", "/usr/local/lib/python3*"]
PYTHON_BIN_DIRS = ["/usr/bin", "/usr/local/bin", "/bin"]
LIBPYTHON_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib",
                  "/lib/x86_64-linux-gnu"]

# Mounts the hiding filesystems, then runs the command given as arguments (support.rs' HIDE_SCRIPT).
HIDE_SCRIPT = r"""set -eu
IFS='
'
for dir in $KILN_TEST_HIDE_DIRS; do
    mount -t tmpfs -o size=1m,mode=0755 kiln-hidden "$dir"
done
for file in $KILN_TEST_HIDE_FILES; do
    mount --bind /dev/null "$file"
done
unset KILN_TEST_HIDE_DIRS KILN_TEST_HIDE_FILES IFS
exec "$@"
"""

TRACER = r'''"""Runs an app's main.py as `python main.py ARGS` would, then records every module it imported.
Usage: python trace.py OUT.json main.py [ARGS...]. Written by bench/corpus_run.py.

Imports nothing beyond what the interpreter loaded at start-up until the app has finished; the
modules present before the app started (start-up, `site`, `.pth` files) are listed apart.
"""
import sys

_BEFORE = sorted(sys.modules)
_OUT = sys.argv[1]
_PID = __import__("os").getpid()  # os is loaded (frozen) at start-up already
_IMPORTERS = {}


class _Importers:
    """First on sys.meta_path: for each module imported, the module whose code imported it
    (the nearest frame outside importlib). Finds nothing itself."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        f = sys._getframe(1)
        while f is not None:
            filename = f.f_code.co_filename
            if not (filename.startswith("<frozen importlib") or filename.endswith("importlib/__init__.py")):
                break
            f = f.f_back
        if f is not None and name not in _IMPORTERS:
            _IMPORTERS[name] = f.f_globals.get("__name__")
        return None


def _dump():
    import os

    if os.getpid() != _PID:  # a forked worker that reached exit normally
        return
    snapshot = list(sys.modules.items())
    import json  # after the snapshot

    modules = {}
    for name, module in snapshot:
        spec = getattr(module, "__spec__", None)
        modules[name] = {
            "file": getattr(module, "__file__", None),
            "origin": getattr(spec, "origin", None) if spec is not None else None,
            "package": hasattr(module, "__path__"),
            "alias": getattr(module, "__name__", name) != name,
        }
    with open(_OUT, "w") as f:
        json.dump({"before": _BEFORE, "modules": modules, "importers": _IMPORTERS}, f, indent=0,
                  sort_keys=True)


def _main():
    import atexit  # built in
    import os

    atexit.register(_dump)
    sys.meta_path.insert(0, _Importers)
    script = os.path.abspath(sys.argv[2])
    sys.argv = sys.argv[2:]
    sys.path[0] = os.path.dirname(script)
    sys._corpus_tracer = sys.modules["__main__"]  # keeps this module's globals alive
    main = type(sys)("__main__")
    main.__file__ = script
    main.__builtins__ = __builtins__
    main.__cached__ = None
    sys.modules["__main__"] = main
    with open(script, "rb") as f:
        code = compile(f.read(), script, "exec")
    exec(code, main.__dict__)


_main()
'''

DEV_TOOLS = ["mypy", "pytest", "black", "ruff", "sphinx", "PyQt6", "pyinstaller", "Nuitka", "cx_Freeze",
             "ipython", "ipykernel", "nbformat", "onnx"]

MODES = [("kiln", "onedir"), ("kiln", "onefile"), ("pyinstaller", "onedir"), ("pyinstaller", "onefile")]

MIB = 1024 * 1024


def log(msg):
    print(f"corpus: {msg}", file=sys.stderr, flush=True)


def run(cmd, *, cwd, env, timeout, stdout_path=None, stderr_path=None, stdin=subprocess.DEVNULL):
    """Runs cmd in its own process group; kills the group past the timeout. Returns a dict."""
    start = time.monotonic()
    out_f = open(stdout_path, "wb") if stdout_path else subprocess.PIPE
    err_f = open(stderr_path, "wb") if stderr_path else subprocess.PIPE
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=stdin, stdout=out_f, stderr=err_f,
                                start_new_session=True)
    except OSError as e:
        return {"rc": None, "timeout": False, "seconds": 0.0, "stdout": b"", "stderr": str(e).encode()}
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    finally:
        for f in (out_f, err_f):
            if f is not subprocess.PIPE:
                f.close()
    seconds = time.monotonic() - start
    if stdout_path:
        with open(stdout_path, "rb") as f:
            out = f.read()
    if stderr_path:
        with open(stderr_path, "rb") as f:
            err = f.read()
    return {"rc": proc.returncode, "timeout": timed_out, "seconds": seconds, "stdout": out or b"",
            "stderr": err or b""}


def tail(data, lines=15):
    """The last lines, after any earlier line that names an error (the last lines of a tool's
    report are often boilerplate)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    all_lines = text.rstrip().splitlines()
    last = all_lines[-lines:]
    key = [line for line in all_lines[:-lines] if re.search(r"\w(Error|Exception)\b.*:|^E\s|error:", line)]
    seen = []
    for line in key:
        if line not in seen and line not in last:
            seen.append(line)
    if seen:
        return "\n".join(["(earlier lines naming errors)"] + seen[-6:] + ["(last lines)"] + last)
    return "\n".join(last)


def base_env(home, hidden):
    """A clean environment, as support.rs' base_env: PATH without Python-ish entries."""
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(w in d for w in ("python", "pyenv", "venv"))
            and not any(d == h or d.startswith(h + "/") for h in hidden)]
    return {"PATH": os.pathsep.join(kept), "HOME": home, "LANG": "C.UTF-8"}


def hidden_paths(extra_dirs):
    dirs = list(HOST_PYTHON_DIRS)
    for pattern in HOST_PYTHON_GLOBS:
        dirs.extend(glob.glob(pattern))
    dirs.extend(extra_dirs)
    dirs = sorted({os.path.realpath(d) for d in dirs if os.path.isdir(d)})
    dirs = [d for d in dirs if not any(o != d and d.startswith(o + "/") for o in dirs)]
    files = set()
    for d, prefix in [(d, "python") for d in PYTHON_BIN_DIRS] + [(d, "libpython3") for d in LIBPYTHON_DIRS]:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if not name.startswith(prefix) or (prefix == "libpython3" and ".so" not in name):
                continue
            real = os.path.realpath(os.path.join(d, name))
            if os.path.isfile(real) and not any(real.startswith(h + "/") for h in dirs):
                files.add(real)
    return dirs, sorted(files)


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def read_env(path):
    env = {}
    for line in read_lines(path):
        if line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value
    return env


def du(path):
    try:
        return int(subprocess.run(["du", "-sb", path], capture_output=True, check=True, text=True).stdout.split()[0])
    except (subprocess.CalledProcessError, ValueError, IndexError):
        return None


def own_file(name, path):
    """Whether `path` is the module's own file: `x.py`, `x.cpython-311-....so` or
    `x/__init__.py` for module `....x`. A submodule an extension module makes when it is
    imported (pybind11's `capi.state.opkernel`), or a name bound to another module in
    `sys.modules`, reports its maker's file, which kiln ships under the maker's name."""
    last = name.rsplit(".", 1)[-1]
    stem = os.path.basename(path).split(".", 1)[0]
    if stem == "__init__":
        return os.path.basename(os.path.dirname(path)) == last
    return stem == last


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def first_doc_line(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return ""
    m = re.match(r'\s*(?:#[^\n]*\n\s*)*[rR]?"""(.*?)(?:"""|\n\n)', text, re.S)
    return " ".join(m.group(1).split()) if m else ""


class Venv:
    def __init__(self, path):
        self.path = path
        self.python = os.path.join(path, "bin", "python")
        info = json.loads(subprocess.run([self.python, "-c", (
            "import sys, sysconfig, json, _imp\n"
            "p = sysconfig.get_paths()\n"
            "print(json.dumps({'version': sys.version.split()[0], 'stdlib': p['stdlib'],"
            " 'platstdlib': p['platstdlib'], 'purelib': p['purelib'], 'platlib': p['platlib'],"
            " 'base_prefix': sys.base_prefix, 'builtin': list(sys.builtin_module_names),"
            " 'frozen': sorted(_imp._frozen_module_names()) if hasattr(_imp, '_frozen_module_names') else []}))")],
            capture_output=True, text=True, check=True).stdout)
        self.version = info["version"]
        self.stdlib_dirs = sorted({os.path.realpath(info["stdlib"]), os.path.realpath(info["platstdlib"])})
        self.site_dirs = sorted({os.path.realpath(info["purelib"]), os.path.realpath(info["platlib"])})
        self.base_prefix = info["base_prefix"]
        self.builtin = set(info["builtin"]) | set(info["frozen"])
        self._records = None
        self._dists = None

    def records(self):
        """Installed file (real path) -> normalized distribution name, from every RECORD."""
        if self._records is None:
            self._records, self._dists = {}, {}
            for site in self.site_dirs:
                for info in glob.glob(os.path.join(site, "*.dist-info")):
                    name, version = self._name_version(info)
                    self._dists[normalize(name)] = (name, version)
                    try:
                        with open(os.path.join(info, "RECORD")) as f:
                            rows = f.read().splitlines()
                    except OSError:
                        continue
                    for row in rows:
                        rel = row.split(",")[0]
                        if rel:
                            self._records[os.path.realpath(os.path.join(site, rel))] = normalize(name)
        return self._records

    def dists(self):
        self.records()
        return self._dists

    @staticmethod
    def _name_version(info):
        name = version = None
        try:
            with open(os.path.join(info, "METADATA"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break
                    if line.startswith("Name:"):
                        name = line.split(":", 1)[1].strip()
                    elif line.startswith("Version:"):
                        version = line.split(":", 1)[1].strip()
        except OSError:
            pass
        if not name:
            name, _, version = os.path.basename(info)[: -len(".dist-info")].partition("-")
        return name, version


class Harness:
    def __init__(self, args):
        self.args = args
        self.repo = os.path.realpath(args.repo)
        self.apps_dir = os.path.realpath(args.apps_dir) if args.apps_dir else os.path.join(self.repo, "bench", "corpus")
        self.out = args.out or os.path.join(self.repo, "target", "corpus")
        self.logs = os.path.join(self.out, "logs")
        self.work = os.path.join(self.out, "work")
        self.venv = Venv(os.path.realpath(args.venv))
        self.kiln = args.kiln
        self.tracer = os.path.join(self.out, "trace.py")
        self.pyi_cache = os.path.join(self.out, "pyinstaller-config")
        self.tmp_root = tempfile.mkdtemp(prefix="kiln-corpus-")
        # Every other venv of the repository is hidden too: a bundle must not find any Python.
        venvs = glob.glob(os.path.join(self.repo, "target", "*venv*"))
        self.hide_always = [self.venv.path] + [v for v in venvs if os.path.isdir(v)]

    # -- running ---------------------------------------------------------------------------

    def plain_env(self, app_dir, home):
        env = base_env(home, [])
        env.update(read_env(os.path.join(app_dir, "env")))
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def hidden_run(self, exe, args, app_env, src_dir, logdir, tag):
        """Runs exe ARGS from an empty directory with the host's Pythons hidden."""
        cwd = tempfile.mkdtemp(prefix="cwd-", dir=self.tmp_root)
        dirs, files = hidden_paths(self.hide_always + [src_dir])
        for d in dirs:
            for inside in (exe, cwd):
                if inside.startswith(d + "/"):
                    raise RuntimeError(f"{inside} would be hidden by the tmpfs over {d}")
        env = base_env(cwd, dirs)
        env.update(app_env)
        env["KILN_TEST_HIDE_DIRS"] = "\n".join(dirs)
        env["KILN_TEST_HIDE_FILES"] = "\n".join(files)
        cmd = ["unshare", "-m", "bash", "-c", HIDE_SCRIPT, "kiln-hide", exe, *args]
        res = run(cmd, cwd=cwd, env=env, timeout=self.args.timeout,
                  stdout_path=os.path.join(logdir, f"{tag}.run.stdout"),
                  stderr_path=os.path.join(logdir, f"{tag}.run.stderr"))
        shutil.rmtree(cwd, ignore_errors=True)
        return res

    def plain(self, app, src, logdir):
        args = read_lines(os.path.join(src, "args"))
        home = tempfile.mkdtemp(prefix="home-", dir=self.tmp_root)
        env = self.plain_env(src, home)
        res = run([self.venv.python, "main.py", *args], cwd=src, env=env, timeout=self.args.timeout,
                  stdout_path=os.path.join(logdir, "plain.stdout"), stderr_path=os.path.join(logdir, "plain.stderr"))
        trace_json = os.path.join(logdir, "trace.json")
        if os.path.exists(trace_json):
            os.remove(trace_json)
        traced = run([self.venv.python, self.tracer, trace_json, "main.py", *args], cwd=src, env=env,
                     timeout=self.args.timeout, stdout_path=os.path.join(logdir, "traced.stdout"),
                     stderr_path=os.path.join(logdir, "traced.stderr"))
        shutil.rmtree(home, ignore_errors=True)
        return res, traced, trace_json

    # -- building --------------------------------------------------------------------------

    def build(self, tool, mode, app, src, logdir):
        dist = os.path.join(self.work, app, f"{tool}-{mode}")
        shutil.rmtree(dist, ignore_errors=True)
        os.makedirs(dist)
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        if tool == "kiln":
            cmd = [self.kiln, "build", "main.py", "--python", self.venv.python, "--name", app, "--out", dist]
            if mode == "onefile":
                cmd.append("--onefile")
            timeout = self.args.build_timeout
        else:
            env["PYINSTALLER_CONFIG_DIR"] = self.pyi_cache
            spec = os.path.join(self.work, app, f"pyi-spec-{mode}")
            workpath = os.path.join(self.work, app, f"pyi-work-{mode}")
            cmd = [os.path.join(self.venv.path, "bin", "pyinstaller"), "--noconfirm", f"--{mode}", "--name", app,
                   "--distpath", dist, "--workpath", workpath, "--specpath", spec, "main.py"]
            timeout = self.args.pyinstaller_timeout
        res = run(cmd, cwd=src, env=env, timeout=timeout,
                  stdout_path=os.path.join(logdir, f"{tool}-{mode}.build.stdout"),
                  stderr_path=os.path.join(logdir, f"{tool}-{mode}.build.stderr"))
        if tool == "pyinstaller":
            for d in ("pyi-spec-" + mode, "pyi-work-" + mode):
                shutil.rmtree(os.path.join(self.work, app, d), ignore_errors=True)
        path = os.path.join(dist, app)
        ok = res["rc"] == 0 and not res["timeout"] and (os.path.isfile(path) or os.path.isdir(path))
        if ok and mode == "onedir":
            exe, size = os.path.join(path, app), du(path)
        elif ok:
            exe, size = path, os.path.getsize(path)
        else:
            exe, size = None, None
        return res, dist, exe, size

    # -- one app ---------------------------------------------------------------------------

    def do_app(self, app):
        logdir = os.path.join(self.logs, app)
        shutil.rmtree(logdir, ignore_errors=True)
        os.makedirs(logdir)
        src = os.path.join(self.work, app, "src")
        shutil.rmtree(os.path.join(self.work, app), ignore_errors=True)
        shutil.copytree(os.path.join(self.apps_dir, app), src,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        args = read_lines(os.path.join(src, "args"))
        app_env = read_env(os.path.join(src, "env"))
        result = {"app": app, "about": first_doc_line(os.path.join(src, "main.py")), "args": args,
                  "env": app_env, "runs": {}}

        log(f"{app}: plain run")
        plain, traced, trace_json = self.plain(app, src, logdir)
        result["plain"] = {"rc": plain["rc"], "timeout": plain["timeout"], "seconds": round(plain["seconds"], 2),
                           "stderr_tail": tail(plain["stderr"]) if plain["rc"] != 0 else ""}
        result["traced_same"] = traced["stdout"] == plain["stdout"] and traced["rc"] == plain["rc"]
        if plain["rc"] != 0 or plain["timeout"]:
            log(f"{app}: the plain run failed (rc={plain['rc']}); skipping")
            result["error"] = "plain run failed"
            return result
        trace = None
        if os.path.exists(trace_json):
            with open(trace_json) as f:
                trace = json.load(f)

        for tool, mode in MODES:
            if tool == "pyinstaller" and self.args.no_pyinstaller:
                continue
            if mode == "onefile" and (self.args.onedir_only or (
                    self.args.onefile_apps is not None and app not in self.args.onefile_apps.split(","))):
                continue
            tag = f"{tool}-{mode}"
            log(f"{app}: {tag} build")
            res, dist, exe, size = self.build(tool, mode, app, src, logdir)
            entry = {"build_seconds": round(res["seconds"], 1), "build_rc": res["rc"],
                     "build_timeout": res["timeout"], "size": size}
            if exe is None:
                entry["status"] = "build-timeout" if res["timeout"] else "build-failed"
                entry["reason"] = tail(res["stderr"] + b"\n" + res["stdout"] if tool == "pyinstaller" else
                                       res["stderr"] or res["stdout"], 20)
            else:
                if tool == "kiln":
                    report = os.path.join(dist, f"{app}.build-report.json")
                    if os.path.exists(report):
                        with open(report, "rb") as f:
                            data = f.read()
                        with gzip.open(os.path.join(logdir, f"{tag}.build-report.json.gz"), "wb") as f:
                            f.write(data)
                        if mode == "onedir":
                            entry.update(self.kiln_analysis(json.loads(data), trace, src))
                log(f"{app}: {tag} run")
                frozen = self.run_bundle(dist, app, mode, args, app_env, src, logdir, tag)
                entry["run_seconds"] = round(frozen["seconds"], 2)
                entry["run_rc"] = frozen["rc"]
                same = frozen["stdout"] == plain["stdout"] and frozen["rc"] == plain["rc"]
                if same and not frozen["timeout"]:
                    entry["status"] = "ok"
                else:
                    entry["status"] = ("timeout" if frozen["timeout"] else
                                       "exit %s" % frozen["rc"] if frozen["rc"] != plain["rc"] else "output differs")
                    entry["reason"] = tail(frozen["stderr"], 20)
                    if frozen["rc"] == plain["rc"] and not frozen["timeout"]:
                        entry["reason"] = (entry["reason"] + "\n--- stdout diff\n" +
                                           short_diff(plain["stdout"], frozen["stdout"])).strip()
            if not self.args.keep:
                shutil.rmtree(dist, ignore_errors=True)
            log(f"{app}: {tag}: {entry['status']} (build {entry['build_seconds']} s, "
                f"{'-' if size is None else f'{size / MIB:.1f} MiB'})")
            result["runs"][tag] = entry
        if not self.args.keep:
            shutil.rmtree(os.path.join(self.work, app), ignore_errors=True)
        return result

    def run_bundle(self, dist, app, mode, args, app_env, src, logdir, tag):
        """Copies the bundle to a fresh directory and runs it there with the host's Pythons hidden."""
        copy_root = tempfile.mkdtemp(prefix="bundle-", dir=self.tmp_root)
        try:
            if mode == "onedir":
                shutil.copytree(os.path.join(dist, app), os.path.join(copy_root, app), symlinks=True)
                exe = os.path.join(copy_root, app, app)
            else:
                exe = os.path.join(copy_root, app)
                shutil.copy2(os.path.join(dist, app), exe)
            return self.hidden_run(exe, args, app_env, src, logdir, tag)
        finally:
            shutil.rmtree(copy_root, ignore_errors=True)

    # -- recall and precision --------------------------------------------------------------

    def classify(self, path, src):
        real = os.path.realpath(path)
        for d in self.venv.site_dirs:
            if real.startswith(d + "/"):
                return "third-party"
        if real.startswith(os.path.realpath(src) + "/"):
            return "app"
        for d in self.venv.stdlib_dirs:
            if real.startswith(d + "/"):
                return "stdlib"
        return None

    def traced_modules(self, trace, src):
        """name -> (category, file) for the modules the app imported, without interpreter-internal ones."""
        before = set(trace["before"])
        out = {}
        for name, m in trace["modules"].items():
            if name in before or name == "__main__" or m["alias"] or name in self.venv.builtin:
                continue
            origin, path = m["origin"], m["file"]
            if origin in ("built-in", "frozen") or not path:
                continue  # built-in, frozen, namespace packages and modules made at run time
            if not own_file(name, path):
                continue  # made at run time by another module's code (pybind11 submodules, aliases)
            category = self.classify(path, src)
            if category:
                out[name] = (category, path)
        return out

    def kiln_analysis(self, report, trace, src):
        files = report.get("files", [])
        shipped = {}
        for f in files:
            if f.get("module") and f.get("role") in ("module", "extension"):
                shipped.setdefault(f["module"], f)
        out = {"kiln_modules": len(shipped), "kiln_distributions": len(report.get("distributions", [])),
               "kiln_missing": len(report.get("missing", [])), "kiln_warnings": len(report.get("warnings", []))}
        if trace is None:
            return out
        traced = self.traced_modules(trace, src)
        before = set(trace["before"])
        considered = {n for n in shipped if n != "__main__" and n not in before and n not in self.venv.builtin}
        # A module whose file ships as data counts too (a test file pytest imports by path).
        shipped_files = {os.path.realpath(f["origin"]) for f in files if f.get("origin")}
        hit = {n for n in traced if n in shipped or os.path.realpath(traced[n][1]) in shipped_files}
        missed = sorted(n for n in traced if n not in hit)
        out["traced_modules"] = len(traced)
        out["recall"] = round(len(hit) / len(traced), 4) if traced else None
        out["precision"] = round(len(considered & set(traced)) / len(considered), 4) if considered else None
        # A missed module of a distribution the report lists as an optional integration left out
        # is kiln's decision, said in the summary and `kiln check` with the flag that brings it
        # back, not an oversight: recall is also given without those.
        records = self.venv.records()
        left_out = {normalize(o["distribution"]) for o in report.get("optional_integrations", [])
                    if o.get("skipped")}
        out["missed"] = []
        for n in missed:
            dist = records.get(os.path.realpath(traced[n][1]))
            entry = {"module": n, "category": traced[n][0]}
            if dist and normalize(dist) in left_out:
                entry["left_out"] = normalize(dist)
            out["missed"].append(entry)
        # A module only a left-out module imported (the standard library modules of a pytest
        # plugin kiln left out) is left out with it: follow the trace's importers.
        importers = trace.get("importers", {})
        by_name = {m["module"]: m for m in out["missed"]}
        changed = True
        while changed:
            changed = False
            for m in out["missed"]:
                importer = by_name.get(importers.get(m["module"]))
                if not m.get("left_out") and importer and importer.get("left_out"):
                    m["left_out"] = importer["left_out"]
                    m["imported_by"] = importer["module"]
                    changed = True
        deliberate = sum(1 for m in out["missed"] if m.get("left_out"))
        if traced and deliberate:
            out["recall_not_left_out"] = round(len(hit) / (len(traced) - deliberate), 4)
        elif traced:
            out["recall_not_left_out"] = out["recall"]
        # Distributions: the ones traced modules belong to, and the shipped ones none does.
        traced_dists = {records.get(os.path.realpath(path)) for _, path in traced.values()} - {None}
        out["traced_distributions"] = sorted(traced_dists)
        by_dist = {}
        for f in files:
            d = f.get("distribution")
            if d:
                entry = by_dist.setdefault(normalize(d), {"name": d, "bytes": 0, "files": 0, "via": None})
                entry["bytes"] += f.get("size", 0)
                entry["files"] += 1
                chain = f.get("chain") or []
                if f.get("module") and chain and (entry["via"] is None or len(chain) < len(entry["via"])):
                    entry["via"] = chain
                elif entry["via"] is None and f.get("why") and not f.get("module"):
                    entry.setdefault("why", f.get("why"))
        unexplained = sorted((e for k, e in by_dist.items() if k not in traced_dists), key=lambda e: -e["bytes"])
        out["unexplained_distributions"] = len(unexplained)
        out["unexplained_bytes"] = sum(e["bytes"] for e in unexplained)
        out["unexplained"] = [{"name": e["name"], "bytes": e["bytes"], "files": e["files"],
                               "via": " → ".join(e["via"]) if e["via"] else e.get("why", "")}
                              for e in unexplained[:10]]
        out["kiln_bytes_traced_distributions"] = sum(e["bytes"] for k, e in by_dist.items() if k in traced_dists)
        return out

    # -- everything ------------------------------------------------------------------------

    def apps(self):
        names = sorted(d for d in os.listdir(self.apps_dir)
                       if os.path.isfile(os.path.join(self.apps_dir, d, "main.py")))
        if self.args.apps:
            wanted = [a.strip() for a in self.args.apps.split(",") if a.strip()]
            unknown = [a for a in wanted if a not in names]
            if unknown:
                sys.exit(f"corpus: no such app: {', '.join(unknown)} (apps: {', '.join(names)})")
            names = wanted
        return names

    def environment(self):
        def cmd(*c):
            try:
                return subprocess.run(c, capture_output=True, text=True, timeout=60, cwd=self.repo).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                return ""
        versions = json.loads(subprocess.run([self.venv.python, "-c", (
            "import json, importlib.metadata as m\n"
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")],
            capture_output=True, text=True, check=True).stdout)
        lower = {k.lower(): (k, v) for k, v in versions.items()}
        dev = [f"{lower[t.lower()][0]} {lower[t.lower()][1]}" for t in DEV_TOOLS if t.lower() in lower]
        dirty = cmd("git", "status", "--porcelain", "--untracked-files=no")
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": cmd("git", "rev-parse", "--short=12", "HEAD") + (" (with uncommitted changes)" if dirty else ""),
            "kiln": cmd(self.kiln, "--version"),
            "python": f"CPython {self.venv.version} ({self.venv.base_prefix})",
            "pyinstaller": versions.get("pyinstaller", "?"),
            "venv_bytes": du(self.venv.path),
            "venv_distributions": len(versions),
            "dev_tools": dev,
            "cpus": os.cpu_count(),
        }

    def main(self):
        os.makedirs(self.logs, exist_ok=True)
        with open(self.tracer, "w") as f:
            f.write(TRACER)
        apps = self.apps()
        env = self.environment()
        env["options"] = {"apps": self.args.apps or "all", "pyinstaller": not self.args.no_pyinstaller,
                          "onefile": "no" if self.args.onedir_only else (self.args.onefile_apps or "all"),
                          "run_timeout": self.args.timeout}
        results = []
        earlier = []
        earlier_runs = {}
        previous = os.path.join(self.out, "results.json")
        if self.args.merge and os.path.exists(previous):
            with open(previous) as f:
                kept = json.load(f).get("apps", [])
            earlier = [r for r in kept if r.get("app") not in apps]
            earlier_runs = {r["app"]: r.get("runs", {}) for r in kept if r.get("app") in apps}
            if earlier:
                env["options"]["merged"] = sorted(r["app"] for r in earlier)
        started = time.monotonic()
        try:
            for i, app in enumerate(apps, 1):
                log(f"[{i}/{len(apps)}] {app}")
                try:
                    result = self.do_app(app)
                    # A tool or mode this run left out keeps its earlier results for the app.
                    for tag, run in earlier_runs.get(app, {}).items():
                        if tag not in result.get("runs", {}):
                            result.setdefault("runs", {})[tag] = run
                            env["options"].setdefault("merged_runs", [])
                            if tag not in env["options"]["merged_runs"]:
                                env["options"]["merged_runs"].append(tag)
                    results.append(result)
                except Exception as e:  # the harness's own bug on one app never stops the run
                    import traceback
                    log(f"{app}: harness error: {e}")
                    results.append({"app": app, "error": "harness error: " + traceback.format_exc()[-2000:],
                                    "runs": {}})
                env["seconds"] = round(time.monotonic() - started)
                self.write(env, sorted(results + earlier, key=lambda r: r["app"]))
        finally:
            shutil.rmtree(self.tmp_root, ignore_errors=True)
        doc_dir = os.path.join(self.repo, "docs") if not self.args.out else self.out
        log(f"done in {env['seconds']} s: {os.path.join(doc_dir, 'corpus.md')}")

    def write(self, env, results):
        summary = summarize(results, self.args)
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump({"environment": env, "summary": summary, "apps": results}, f, indent=1)
        # A run into another directory (the test suite's) leaves the published page alone.
        doc_dir = os.path.join(self.repo, "docs") if not self.args.out else self.out
        os.makedirs(doc_dir, exist_ok=True)
        with open(os.path.join(doc_dir, "corpus.md"), "w") as f:
            f.write(markdown(env, summary, results))


def short_diff(a, b, limit=20):
    import difflib
    a = a.decode("utf-8", "replace").splitlines()
    b = b.decode("utf-8", "replace").splitlines()
    lines = list(difflib.unified_diff(a, b, "plain", "frozen", lineterm="", n=1))[2:]
    return "\n".join(lines[:limit] + (["..."] if len(lines) > limit else []))


def ratio(a, b):
    return a / b if a and b else None


def summarize(results, args):
    # Every tool and mode with results, this run's or kept from an earlier one (`--merge`).
    present = {tag for r in results for tag in r.get("runs", {})}
    modes = [m for m in MODES if f"{m[0]}-{m[1]}" in present or not (
        (m[0] == "pyinstaller" and args.no_pyinstaller) or (m[1] == "onefile" and args.onedir_only))]
    s = {"apps": len(results), "plain_ok": sum(1 for r in results if "error" not in r), "passes": {}, "built": {},
         "attempted": {}}
    for tool, mode in modes:
        tag = f"{tool}-{mode}"
        s["passes"][tag] = sum(1 for r in results if r.get("runs", {}).get(tag, {}).get("status") == "ok")
        s["attempted"][tag] = sum(1 for r in results if tag in r.get("runs", {}))
        s["built"][tag] = sum(1 for r in results if r.get("runs", {}).get(tag, {}).get("size") is not None)
    for mode in ("onedir", "onefile"):
        both_built, both_ok = [], []
        for r in results:
            k, p = r.get("runs", {}).get(f"kiln-{mode}", {}), r.get("runs", {}).get(f"pyinstaller-{mode}", {})
            q = ratio(k.get("size"), p.get("size"))
            if q:
                both_built.append(q)
                if k.get("status") == "ok" and p.get("status") == "ok":
                    both_ok.append(q)
        s[f"median_size_ratio_{mode}"] = round(statistics.median(both_built), 3) if both_built else None
        s[f"median_size_ratio_{mode}_both_pass"] = round(statistics.median(both_ok), 3) if both_ok else None
        s[f"size_ratio_apps_{mode}"] = len(both_built)
    for tool, mode in modes:
        tag = f"{tool}-{mode}"
        times = [r["runs"][tag]["build_seconds"] for r in results if tag in r.get("runs", {})]
        sizes = [r["runs"][tag]["size"] for r in results if r.get("runs", {}).get(tag, {}).get("size")]
        s[f"median_build_seconds_{tag}"] = round(statistics.median(times), 1) if times else None
        s[f"median_size_mib_{tag}"] = round(statistics.median(sizes) / MIB, 1) if sizes else None
    recalls = [r["runs"]["kiln-onedir"].get("recall") for r in results if "kiln-onedir" in r.get("runs", {})]
    precisions = [r["runs"]["kiln-onedir"].get("precision") for r in results if "kiln-onedir" in r.get("runs", {})]
    recalls = [x for x in recalls if x is not None]
    kept_recalls = [r["runs"]["kiln-onedir"].get("recall_not_left_out") for r in results
                    if "kiln-onedir" in r.get("runs", {})]
    kept_recalls = [x for x in kept_recalls if x is not None]
    s["median_recall_not_left_out"] = round(statistics.median(kept_recalls), 4) if kept_recalls else None
    s["min_recall_not_left_out"] = min(kept_recalls) if kept_recalls else None
    precisions = [x for x in precisions if x is not None]
    s["median_recall"] = round(statistics.median(recalls), 4) if recalls else None
    s["min_recall"] = min(recalls) if recalls else None
    s["median_precision"] = round(statistics.median(precisions), 4) if precisions else None
    unexplained = {}
    for r in results:
        for u in r.get("runs", {}).get("kiln-onedir", {}).get("unexplained", []):
            e = unexplained.setdefault(u["name"], {"name": u["name"], "apps": 0, "bytes": u["bytes"]})
            e["apps"] += 1
            e["bytes"] = max(e["bytes"], u["bytes"])
    s["unexplained_top"] = sorted(unexplained.values(), key=lambda e: (-e["apps"] * e["bytes"], e["name"]))[:15]
    return s


def fmt_status(entry):
    if not entry:
        return "–"
    return {"ok": "pass", "build-failed": "**build fails**", "build-timeout": "**build timeout**",
            "timeout": "**timeout**", "output differs": "**differs**"}.get(entry["status"], f"**{entry['status']}**")


def fmt_mib(n):
    return "–" if n is None else f"{n / MIB:.1f}"


def fmt_ratio(a, b):
    q = ratio(a, b)
    return "–" if q is None else f"{q:.2f}"


def fmt_pct(x):
    return "–" if x is None else f"{100 * x:.1f}%"


def markdown(env, s, results):
    out = []
    w = out.append
    w("# kiln and PyInstaller on a corpus of real-world apps in one fat venv\n")
    w("Written by `bench/corpus.sh` (harness: `bench/corpus_run.py`); do not edit by hand. "
      "Machine-readable results: `target/corpus/results.json`; logs per app: `target/corpus/logs/APP/`.\n")
    w("Every app of `bench/corpus/` is frozen from the same venv, which holds the apps' stacks side by side "
      "with the tools a developer keeps there, with no flags at all: `kiln build main.py --python VENV/bin/python "
      "--name APP --out DIR [--onefile]` and `pyinstaller --noconfirm --onedir|--onefile main.py` (with "
      "--name/--distpath/--workpath/--specpath). Each bundle is copied to a fresh directory and run from an empty "
      "working directory inside `unshare -m` with the host's Pythons, the venv and the app's source hidden "
      "(as the integration tests run bundles); it passes when stdout and exit status equal the plain run's "
      "(`VENV/bin/python main.py`).\n")
    w("| | |\n| --- | --- |")
    w(f"| date | {env['date']} |")
    w(f"| commit | `{env['commit']}` |")
    w(f"| kiln | {env['kiln']} |")
    w(f"| interpreter | {env['python']} |")
    w(f"| PyInstaller | {env['pyinstaller']} |")
    w(f"| venv | `target/corpus-venv`, {fmt_mib(env['venv_bytes'])} MiB, {env['venv_distributions']} distributions "
      f"(`bench/corpus-requirements.txt`) |")
    w(f"| dev tools in the venv | {', '.join(env['dev_tools'])} |")
    w(f"| machine | {env['cpus']} CPUs |")
    w(f"| run | apps: {env['options']['apps']}; PyInstaller: {'yes' if env['options']['pyinstaller'] else 'no'}; "
      f"onefile: {env['options']['onefile']}; run timeout {env['options']['run_timeout']} s; "
      f"took {env.get('seconds', 0) // 60} min |")
    if env["options"].get("merged"):
        w(f"| merged | results of an earlier run kept for {', '.join(env['options']['merged'])} |")
    if env["options"].get("merged_runs"):
        w(f"| merged runs | {', '.join(sorted(env['options']['merged_runs']))}: kept from an earlier run for the apps "
          f"this run did not build that way |")
    w("")
    w("## Summary\n")
    w(f"{s['apps']} apps, {s['plain_ok']} of them pass under plain python.\n")
    w("| | passes | builds |\n| --- | --- | --- |")  # of the apps built in that mode
    for tag, n in s["passes"].items():
        w(f"| {tag} | {n}/{s['attempted'][tag]} | {s['built'][tag]}/{s['attempted'][tag]} |")
    w("")
    lines = []
    for mode in ("onedir", "onefile"):
        if s.get(f"median_size_ratio_{mode}") is not None:
            lines.append(f"- median size ratio kiln/PyInstaller, {mode}: **{s[f'median_size_ratio_{mode}']:.2f}** over "
                         f"the {s[f'size_ratio_apps_{mode}']} apps both tools build"
                         + (f"; {s[f'median_size_ratio_{mode}_both_pass']:.2f} over the apps both run correctly"
                            if s.get(f"median_size_ratio_{mode}_both_pass") is not None else ""))
    for tag in s["passes"]:
        if s.get(f"median_build_seconds_{tag}") is not None:
            lines.append(f"- {tag}: median build {s[f'median_build_seconds_{tag}']} s, median size "
                         f"{s.get(f'median_size_mib_{tag}')} MiB")
    if s.get("median_recall") is not None:
        lines.append(f"- kiln module recall against the trace: median {fmt_pct(s['median_recall'])}, lowest "
                     f"{fmt_pct(s['min_recall'])}; precision (lower bound: shipped modules the plain run imported): "
                     f"median {fmt_pct(s['median_precision'])}")
    if s.get("median_recall_not_left_out") is not None:
        lines.append(f"- the same recall without the modules of optional integrations kiln left out on purpose (each "
                     f"listed by the build summary and `kiln check` with the flag that brings it back; the app "
                     f"still ran as under plain python): median {fmt_pct(s['median_recall_not_left_out'])}, lowest "
                     f"{fmt_pct(s['min_recall_not_left_out'])}")
    w("\n".join(lines) + "\n")
    if s.get("unexplained_top"):
        w("Distributions kiln ships most often although no module of theirs was imported in the plain run "
          "(largest size seen, number of apps):\n")
        w(", ".join(f"{e['name']} ({fmt_mib(e['bytes'])} MiB, {e['apps']})" for e in s["unexplained_top"]) + "\n")

    w("## Per app\n")
    w("Status: pass, **build fails**, **exit N** (the bundle exited differently), **differs** (same exit, "
      "other stdout), **timeout**. Sizes in MiB: onedir `du -sb`, onefile the executable. Ratio = kiln / "
      "PyInstaller. Build times in seconds (kiln onedir / onefile, PyInstaller onedir / onefile; the onefile "
      "build runs after the onedir one, with both tools' caches warm). Recall = traced modules kiln ships ÷ traced "
      "modules; precision = shipped modules that were traced ÷ shipped modules (both without built-in, frozen and "
      "start-up modules).\n")
    w("| app | kiln dir | kiln 1f | PyI dir | PyI 1f | kiln dir MiB | PyI dir MiB | ratio | kiln 1f MiB | PyI 1f MiB "
      "| ratio | build s | recall | precision |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        runs = r.get("runs", {})
        if "error" in r:
            w(f"| {r['app']} | {r['error'].splitlines()[0]} |||||||||||||")
            continue
        kd, kf, pd, pf = (runs.get(t, {}) for t in ("kiln-onedir", "kiln-onefile", "pyinstaller-onedir",
                                                     "pyinstaller-onefile"))
        times = " / ".join("–" if not e else f"{e['build_seconds']:.0f}" for e in (kd, kf, pd, pf))
        w(f"| {r['app']} | {fmt_status(kd)} | {fmt_status(kf)} | {fmt_status(pd)} | {fmt_status(pf)} | "
          f"{fmt_mib(kd.get('size'))} | {fmt_mib(pd.get('size'))} | {fmt_ratio(kd.get('size'), pd.get('size'))} | "
          f"{fmt_mib(kf.get('size'))} | {fmt_mib(pf.get('size'))} | {fmt_ratio(kf.get('size'), pf.get('size'))} | "
          f"{times} | {fmt_pct(kd.get('recall'))} | {fmt_pct(kd.get('precision'))} |")
    w("")
    w("## The apps\n")
    for r in results:
        extra = ""
        if r.get("args"):
            extra += f" Args: `{' '.join(r['args'])}`."
        if r.get("env"):
            extra += " Env: " + ", ".join(f"`{k}={v}`" for k, v in r["env"].items()) + "."
        w(f"- **{r['app']}**: {r.get('about', '')}{extra}")
    w("")
    w("## Failures\n")
    any_fail = False
    for r in results:
        if "error" in r:
            any_fail = True
            w(f"### {r['app']}: {r['error'].splitlines()[0]}\n")
            w("```\n" + (r.get("plain", {}).get("stderr_tail") or r["error"]) + "\n```\n")
        for tag, e in r.get("runs", {}).items():
            if e.get("status") != "ok":
                any_fail = True
                w(f"### {r['app']}, {tag}: {e['status']}\n")
                w("```\n" + (e.get("reason") or "(no output)").replace("```", "'''") + "\n```\n")
    if not any_fail:
        w("None.\n")
    w("## kiln: traced modules not shipped\n")
    w("Modules the plain run imported (from the venv, the app's directory or the standard library) that kiln's "
      "onedir build did not ship.\n")
    for r in results:
        kd = r.get("runs", {}).get("kiln-onedir", {})
        missed = kd.get("missed")
        if missed:
            names = [m["module"] for m in missed if not m.get("left_out")]
            dists = sorted({m["left_out"] for m in missed if m.get("left_out")})
            left = sum(1 for m in missed if m.get("left_out"))
            line = f"- **{r['app']}** ({len(missed)} of {kd.get('traced_modules')})"
            if dists:
                line += f": {left} of optional integrations left out ({', '.join(dists)})"
            if names:
                line += ("; others: " if dists else ": ") + ", ".join(f"`{n}`" for n in names[:25]) + (
                    ", ..." if len(names) > 25 else "")
            w(line)
    w("")
    w("## kiln: shipped distributions no traced module belongs to\n")
    w("Per app, the five largest distributions in kiln's onedir bundle that none of the plain run's modules "
      "belongs to (files mapped to distributions through the venv's `*.dist-info/RECORD`), with the shortest "
      "import chain kiln's report gives for one of their modules.\n")
    for r in results:
        kd = r.get("runs", {}).get("kiln-onedir", {})
        if "unexplained" not in kd:
            continue
        w(f"- **{r['app']}**: {kd['unexplained_distributions']} distributions, "
          f"{fmt_mib(kd['unexplained_bytes'])} MiB of {fmt_mib(kd.get('size'))} MiB "
          f"(traced distributions: {fmt_mib(kd.get('kiln_bytes_traced_distributions'))} MiB)")
        for u in kd["unexplained"][:5]:
            w(f"  - {u['name']}: {fmt_mib(u['bytes'])} MiB, {u['files']} files; via {u['via'] or '?'}")
    w("")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", required=True)
    p.add_argument("--venv", required=True)
    p.add_argument("--kiln", required=True)
    p.add_argument("--apps", help="comma-separated app names (default: every directory of bench/corpus/)")
    p.add_argument("--apps-dir", help="take the apps from this directory instead of bench/corpus/ (to try new apps)")
    p.add_argument("--no-pyinstaller", action="store_true")
    p.add_argument("--onedir-only", action="store_true")
    p.add_argument("--onefile-apps", help="comma-separated apps to build onefile too (default: all)")
    p.add_argument("--timeout", type=int, default=120, help="seconds per run of an app or bundle")
    p.add_argument("--build-timeout", type=int, default=900, help="seconds per kiln build")
    p.add_argument("--pyinstaller-timeout", type=int, default=1800, help="seconds per PyInstaller build")
    p.add_argument("--merge", action="store_true",
                   help="keep the other apps' results of the previous run in results.json and docs/corpus.md, and "
                        "for the apps run, the previous results of the tools and modes this run leaves out")
    p.add_argument("--keep", action="store_true", help="keep the bundles under target/corpus/work/")
    p.add_argument("--out", help="write results, logs and corpus.md here instead of target/corpus/ and docs/")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite docs/corpus.md from target/corpus/results.json without running anything")
    args = p.parse_args()
    if args.report_only:
        path = os.path.join(args.repo, "target", "corpus", "results.json")
        with open(path) as f:
            data = json.load(f)
        data["summary"] = summarize(data["apps"], args)
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
        with open(os.path.join(args.repo, "docs", "corpus.md"), "w") as f:
            f.write(markdown(data["environment"], data["summary"], data["apps"]))
        return
    Harness(args).main()


if __name__ == "__main__":
    main()
