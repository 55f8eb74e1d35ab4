"""One timed run of a torch bench app, in a clean environment.

Usage: torch_run.py cli|server --cwd DIR [--env KEY=VALUE]... [--expect JSON] -- COMMAND...

cli     runs COMMAND to its end; the output is its stdout.
server  appends a free port on 127.0.0.1 to COMMAND, polls GET /api/health until it answers
        200, then asks GET /api/predict?service=scorer (the request that imports torch); the
        time is from spawn to that answer and the output is its body; then SIGTERM, after which
        the server must exit with status 0.

COMMAND runs in DIR (which should be empty) with only PATH (its Python, pyenv and venv
directories removed), HOME=DIR, LANG=C.UTF-8, HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1 and the
--env settings. Prints one JSON object: {"seconds": ..., "ok": true|false, "exit": ...,
"output": ..., "log": the last lines of stderr when it failed}; with --expect, the output of an
earlier run (its JSON file) that this one must equal: "ok" then also requires the same output,
and "same" says whether it was.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

RUN_TIMEOUT = 900.0
EXIT_TIMEOUT = 30.0
POLL_INTERVAL = 0.02


def clean_env(cwd, extra):
    path = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not any(w in d for w in ("python", "pyenv", "venv"))
    ]
    env = {
        "PATH": os.pathsep.join(path),
        "HOME": cwd,
        "LANG": "C.UTF-8",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    for setting in extra:
        key, _, value = setting.partition("=")
        env[key] = value
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):
        return None, ""
    finally:
        conn.close()


def run_cli(command, cwd, env, err):
    started = time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=err,
        timeout=RUN_TIMEOUT,
    )
    seconds = time.perf_counter() - started
    return seconds, proc.returncode, proc.stdout.decode(errors="replace")


def run_server(command, cwd, env, err):
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        command + [str(port)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=err,
        stderr=err,
        start_new_session=True,
    )
    try:
        while get(port, "/api/health")[0] != 200:
            if proc.poll() is not None:
                return time.perf_counter() - started, proc.returncode, ""
            if time.perf_counter() - started > RUN_TIMEOUT:
                return time.perf_counter() - started, None, ""
            time.sleep(POLL_INTERVAL)
        status, body = get(port, "/api/predict?service=scorer")
        seconds = time.perf_counter() - started
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        return seconds, code, body if status == 200 else f"HTTP {status}: {body}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main():
    parser = argparse.ArgumentParser(usage=__doc__.splitlines()[2].removeprefix("Usage: "))
    parser.add_argument("kind", choices=["cli", "server"])
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--expect")
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("need a COMMAND after --")
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    env = clean_env(args.cwd, args.env)
    run = run_cli if args.kind == "cli" else run_server
    with tempfile.TemporaryFile() as err:
        try:
            seconds, code, output = run(command, args.cwd, env, err)
        except (OSError, subprocess.TimeoutExpired) as e:
            seconds, code, output = None, None, f"{type(e).__name__}: {e}"
        err.seek(0)
        log = err.read().decode(errors="replace")
    ok = code == 0 and bool(output)
    result = {"seconds": seconds, "ok": ok, "exit": code, "output": output}
    if args.expect:
        with open(args.expect, encoding="utf-8") as f:
            result["same"] = json.load(f)["output"] == output
        result["ok"] = ok and result["same"]
    if not result["ok"]:
        result["log"] = log[-4000:]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
