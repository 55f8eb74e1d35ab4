# Run by `kiln trace` in the target interpreter: runs the app's entry as python would, with an
# audit hook (PEP 578) that records the modules it imports and the files it opens, and writes
# them as JSON to the file named first on the command line: every second while the app runs
# (a server is stopped from outside), and at exit.
#
#   python -c CODE OUT script PATH ARGS...
#   python -c CODE OUT module NAME ARGS...
#   python -c CODE OUT call MODULE:FUNCTION ARGS...
import atexit
import json
import os
import signal
import sys
import threading

_out, _kind, _target = sys.argv[1:4]
_args = sys.argv[4:]
_baseline = set(sys.modules)
_imported = set()
_opened = set()
_lock = threading.Lock()
_written = [None]


def _hook(event, args):
    if event == "import":
        _imported.add(args[0])
    elif event == "open":
        path, mode = args[0], args[1]
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if isinstance(path, str) and (mode is None or "r" in mode or mode == "rb"):
            _opened.add(os.path.abspath(path))


def _dump():
    with _lock:
        modules = (_imported | set(sys.modules)) - _baseline
        modules -= {"__main__", "__mp_main__"}
        state = {"modules": sorted(m for m in modules if isinstance(m, str)),
                 "files": sorted(_opened)}
        if state == _written[0]:
            return
        tmp = _out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, _out)
        _written[0] = state


def _flusher():
    import time

    while True:
        time.sleep(1)
        try:
            _dump()
        except Exception:
            pass


def _main():
    import runpy

    sys.addaudithook(_hook)
    atexit.register(_dump)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    threading.Thread(target=_flusher, daemon=True).start()
    if _kind == "script":
        sys.argv = [_target] + _args
        sys.path[0] = os.path.dirname(os.path.abspath(_target))
        runpy.run_path(_target, run_name="__main__")
    elif _kind == "module":
        sys.argv = [_target] + _args
        sys.path[0] = os.getcwd()
        runpy.run_module(_target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [_target] + _args
        sys.path[0] = os.getcwd()
        module, _, function = _target.partition(":")
        import importlib

        result = importlib.import_module(module)
        for part in function.split("."):
            result = getattr(result, part)
        sys.exit(result())


_main()
