"""Times a server from spawn to its first healthy response, and records its peak RSS.

Usage: healthy.py [--runs N] [--warmup K] [--prepare SHELL-CMD] -- COMMAND...

COMMAND is started K + N times (the first K runs are not recorded), each time with a free port on
127.0.0.1 appended as its last argument; SHELL-CMD, if given, runs before every start (e.g. to
empty a cache). Each run polls GET /api/health every 5 ms until it answers 200 with
{"status": "ok"}, records the time since spawn, then stops the server with SIGTERM and reaps it
with wait4, whose ru_maxrss is the peak RSS of the process and of any child it waited for (a
launcher that execs the interpreter is the same process). Prints one JSON object:
{"runs_ms": [...], "median_ms": ..., "rss_kib": [...], "median_rss_kib": ...}.
Exits non-zero, with the server's output, if a run fails.
"""

import argparse
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


class RunFailed(Exception):
    pass


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


def reap(proc, timeout):
    """wait4 the process within timeout: (exit status, peak RSS in KiB), or None."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL_INTERVAL)


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
                raise RunFailed(f"exited with {proc.returncode} before it was healthy")
            if time.perf_counter() - started > HEALTH_TIMEOUT:
                raise RunFailed(f"not healthy within {HEALTH_TIMEOUT}s")
            time.sleep(POLL_INTERVAL)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        proc.send_signal(signal.SIGTERM)
        reaped = reap(proc, EXIT_TIMEOUT)
        if reaped is None:
            raise RunFailed(f"still running {EXIT_TIMEOUT}s after SIGTERM")
        return elapsed_ms, reaped[1]
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser(usage=__doc__.splitlines()[2].removeprefix("Usage: "))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--prepare")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.runs < 1:
        parser.error("need --runs >= 1 and a COMMAND after --")
    times, rss = [], []
    with tempfile.TemporaryFile() as log:
        for i in range(args.warmup + args.runs):
            if args.prepare:
                subprocess.run(args.prepare, shell=True, check=True)
            log.seek(0)
            log.truncate()
            try:
                elapsed_ms, rss_kib = one_run(command, log)
            except (RunFailed, subprocess.TimeoutExpired, OSError) as e:
                log.seek(0)
                sys.stderr.write(f"{' '.join(command)}: {e}\n--- its output\n")
                sys.stderr.write(log.read().decode(errors="replace")[-4000:])
                sys.exit(1)
            if i >= args.warmup:
                times.append(elapsed_ms)
                rss.append(rss_kib)
    print(
        json.dumps(
            {
                "runs_ms": times,
                "median_ms": statistics.median(times),
                "rss_kib": rss,
                "median_rss_kib": statistics.median(rss),
            }
        )
    )


if __name__ == "__main__":
    os.environ.pop("PYTHONPATH", None)
    main()
