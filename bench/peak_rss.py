"""Peak resident set size of a command, the median over a few runs.

Usage: peak_rss.py [--runs N] [--prepare SHELL-CMD] -- COMMAND...

Runs COMMAND N times (SHELL-CMD, if given, before each run), its output discarded, and reaps it
with wait4: ru_maxrss is the peak RSS of the process over its whole life, exec included (so a
launcher that execs the interpreter reports the app's peak, or its own if that was higher), and
of any child it waited for (a bootloader that runs the app in a child reports the child's).
Prints one JSON object: {"rss_kib": [...], "median_rss_kib": ...}. Exits non-zero if a run
fails.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser(usage=__doc__.splitlines()[2].removeprefix("Usage: "))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prepare")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.runs < 1:
        parser.error("need --runs >= 1 and a COMMAND after --")
    rss = []
    for _ in range(args.runs):
        if args.prepare:
            subprocess.run(args.prepare, shell=True, check=True)
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # Read stderr before reaping; wait4 (unlike Popen.wait) returns the rusage.
        err = proc.stderr.read()
        proc.stderr.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.stderr.write(f"{' '.join(command)}: exit {proc.returncode}\n")
            sys.stderr.write(err.decode(errors="replace")[-4000:])
            sys.exit(1)
        rss.append(usage.ru_maxrss)
    print(json.dumps({"rss_kib": rss, "median_rss_kib": statistics.median(rss)}))


if __name__ == "__main__":
    main()
