"""Measures how long a server takes from spawn to its first healthy response.

Usage: startup.py RUNS LABEL -- COMMAND...

COMMAND is started RUNS times, each time with a free port on 127.0.0.1 appended as its last
argument. Each run polls GET /api/health until it answers 200, records the time since spawn,
then stops the server with SIGTERM and waits for it to exit. Prints one JSON object:
{"label": ..., "runs_ms": [...], "median_ms": ...}. Exits non-zero if a run fails.
"""

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HEALTH_TIMEOUT = 60.0
EXIT_TIMEOUT = 15.0
POLL_INTERVAL = 0.005


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/api/health")
        response = conn.getresponse()
        body = response.read()
        return response.status == 200 and json.loads(body) == {"status": "ok"}
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        conn.close()


def one_run(command, log):
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        command + [str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        cwd=tempfile.gettempdir(),
    )
    try:
        while not healthy(port):
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} before it was healthy")
            if time.perf_counter() - started > HEALTH_TIMEOUT:
                raise RuntimeError(f"not healthy within {HEALTH_TIMEOUT}s")
            time.sleep(POLL_INTERVAL)
        elapsed = time.perf_counter() - started
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=EXIT_TIMEOUT)
        return elapsed * 1000.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    args = sys.argv[1:]
    if len(args) < 4 or args[2] != "--":
        sys.exit(__doc__)
    runs, label, command = int(args[0]), args[1], args[3:]
    times = []
    with tempfile.TemporaryFile() as log:
        for _ in range(runs):
            try:
                times.append(one_run(command, log))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log.seek(0)
                sys.stderr.write(f"{label}: {e}\n--- its output\n")
                sys.stderr.write(log.read().decode(errors="replace")[-4000:])
                sys.exit(1)
    print(json.dumps({"label": label, "runs_ms": times, "median_ms": statistics.median(times)}))


if __name__ == "__main__":
    os.environ.pop("PYTHONPATH", None)
    main()
