"""Formats bench/torch.sh's measurements as markdown.

Usage: torch_report.py RESULTS.jsonl SETTINGS.json

RESULTS.jsonl holds one {"app", "tool", "key", "value"} object a line (see bench/torch.sh);
SETTINGS.json the run's settings and the machine. A run that failed is explained from its own
JSON (bench/torch_run.py's, APP/TOOL-WHAT.json beside RESULTS.jsonl): the last error its log
shows, else its output.
"""

import json
import os
import re
import statistics
import sys

TOOLS = {"kiln": "kiln", "pyinstaller": "PyInstaller"}


def mib(n):
    return f"{n / 1048576:,.0f}" if isinstance(n, (int, float)) else "–"


def secs(n):
    return f"{n:.1f}" if isinstance(n, (int, float)) else "–"


def built(value):
    if value == "failed":
        return "failed"
    return secs(value)


def timed(run):
    """A run's seconds; marked † when it failed (the time to the failure)."""
    if run is None or run.get("seconds") is None:
        return "–"
    return secs(run["seconds"]) + ("" if run["ok"] else " †")


def timed_median(runs, seconds):
    if not seconds:
        return "–"
    return secs(statistics.median(seconds)) + ("" if all(r["ok"] for r in runs) else " †")


def verdict(run):
    """Whether a run behaved like plain python, said in a few words."""
    if run is None:
        return "–"
    if run["ok"]:
        return "yes"
    if run.get("exit") not in (0, None):
        return f"no (exit {run['exit']})"
    if run.get("exit") is None:
        return "no (did not finish)"
    return "no (other output)"


def reason(kept, app, tool, what):
    """Why a run failed: the last line of its log that names an error, shortened."""
    try:
        with open(os.path.join(kept, app, f"{tool}-{what}.json"), encoding="utf-8") as f:
            run = json.load(f)
    except (OSError, ValueError):
        return None
    lines = [line.strip() for line in (run.get("log") or "").splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"[\w.]*(Error|Exception|Exit)\b", line)]
    text = errors[-1] if errors else (run.get("output") or "").strip() or (lines or ["?"])[-1]
    # The run's working directory (bench/torch.sh's mktemp) shortened; PyInstaller's onefile
    # unpacks into a directory of another name each time.
    text = re.sub(r"/\S*/kiln-torch-bench-\w+", "…", text)
    text = re.sub(r"_MEI\w+", "_MEIxxxxxx", text)
    return text if len(text) <= 300 else text[:300] + "…"


def unpacking(first, warm_seconds, tar):
    """What the first start spends unpacking (its time less a warm start's), beside `tar x`."""
    if not first or not first.get("ok") or first.get("seconds") is None or not warm_seconds or not tar:
        return ""
    spent = first["seconds"] - statistics.median(warm_seconds)
    return f"{spent:.1f}, {spent / tar:.2f}×"


def main():
    results, settings = sys.argv[1], sys.argv[2]
    with open(settings, encoding="utf-8") as f:
        s = json.load(f)
    data = {}
    with open(results, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            data.setdefault(r["app"], {}).setdefault(r["tool"], {})[r["key"]] = r["value"]
    apps = [a for a in s["apps"].split() if a in data]
    tools = s["tools"].split() + [t for t in s.get("merged_tools", []) if t not in s["tools"].split()]

    out = []
    out.append("# torch benchmark: kiln vs PyInstaller")
    out.append("")
    out.append(
        f"`bench/torch.sh` on {s['date']} at commit `{s['commit']}`: {s['kiln']}, PyInstaller "
        f"{s['pyinstaller']}; {s['versions']} (the default PyPI wheels: torch with its CUDA "
        f"libraries). Machine: {s['cores']} cores ({s['cpu']}), {s['memory_gib']} GiB of memory, "
        f"{s['fs']} file system, Linux {s['kernel']}; load average {s['loadavg_start']} at the "
        f"start and {s['loadavg_end']} at the end (the machine is shared: the times are "
        f"noisy). The run took {s['elapsed_s'] / 60:.0f} minutes."
    )
    if s.get("merged_tools"):
        out.append("")
        out.append(
            f"The figures of {', '.join(TOOLS.get(t, t) for t in s['merged_tools'])} are kept from an earlier run (`MERGE=1`), at "
            f"commit `{s['merged_commit']}` on {s['merged_date']} on the same machine and venv; "
            "everything else is from this run."
        )
    out.append("")
    out.append("## Builds")
    out.append("")
    out.append(
        "| app | tool | onedir build (s) | onedir size (MiB) | files | onefile build (s) "
        "| onefile size (MiB) |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for app in apps:
        for tool in tools:
            d = data[app].get(tool, {})
            out.append(
                f"| {app} | {TOOLS[tool]} | {built(d.get('onedir-build'))} "
                f"| {mib(d.get('onedir-bytes'))} | {d.get('onedir-files', '–')} "
                f"| {built(d.get('onefile-build'))} | {mib(d.get('onefile-bytes'))} |"
            )
    out.append("")
    out.append("## Runs")
    out.append("")
    warm = s["warm_runs"]
    out.append(
        "| app | tool | onedir runs | onefile runs | plain python (s) | onedir (s) "
        f"| onefile, first start (s) | onefile, warm start (s, median of {warm}) "
        "| `tar x` of the unpacked tree (s) | unpacking: first − warm start (s), ÷ `tar x` |"
    )
    out.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for app in apps:
        plain = data[app].get("python", {}).get("run")
        tar = data[app].get("tar", {}).get("x")
        for tool in tools:
            d = data[app].get(tool, {})
            first = d.get("onefile-first")
            warms = [d[k] for k in sorted(d) if k.startswith("onefile-warm-")]
            onefile_runs = [r for r in [first, *warms] if r is not None]
            onefile_verdict = "–"
            if onefile_runs:
                failed = [r for r in onefile_runs if not r["ok"]]
                onefile_verdict = verdict(failed[0] if failed else onefile_runs[0])
            warm_seconds = [r["seconds"] for r in warms if r["seconds"] is not None]
            out.append(
                f"| {app} | {TOOLS[tool]} | {verdict(d.get('onedir-run'))} | {onefile_verdict} "
                f"| {secs(plain)} "
                f"| {timed(d.get('onedir-run'))} "
                f"| {timed(first)} "
                f"| {timed_median(warms, warm_seconds)} "
                f"| {secs(tar) if tool == 'kiln' else ''} "
                f"| {unpacking(first, warm_seconds, tar) if tool == 'kiln' else ''} |"
            )
    failures = [
        (app, tool, mode, d[f"{mode}-build-log"])
        for app in apps
        for tool, d in data[app].items()
        for mode in ("onedir", "onefile")
        if f"{mode}-build-log" in d
    ]
    kept = os.path.dirname(os.path.abspath(results))
    why = []
    for app in apps:
        for tool in tools:
            d = data[app].get(tool, {})
            for what in sorted(d):
                value = d[what]
                if isinstance(value, dict) and not value.get("ok", True):
                    text = reason(kept, app, tool, what)
                    if why and why[-1][:2] == (app, tool) and why[-1][3] == text:
                        why[-1][2].append(what)
                    else:
                        why.append((app, tool, [what], text))
    if why:
        out.append("")
        out.append(
            "† The run failed: the time is from spawn to the failure. The runs that failed, "
            "with the last error each printed:"
        )
        out.append("")
        for app, tool, whats, text in why:
            out.append(f"- {app}, {TOOLS[tool]} {', '.join(whats)}: `{text}`")
    if failures:
        out.append("")
        out.append("Builds that failed, the end of their logs:")
        for app, tool, mode, log in failures:
            out.append("")
            out.append(f"- {app}, {TOOLS[tool]} {mode}:")
            out.append("")
            out.append("  ```")
            out.extend("  " + line for line in log.rstrip().splitlines())
            out.append("  ```")
    out.append("")
    out.append("How it is measured:")
    out.append("")
    out.append(
        "- Both tools build with the same python: `target/bench-torch-venv`, the torch tests' "
        "venv (`crates/kiln/tests/fixtures/requirements-torch.txt`) with PyInstaller added, "
        "from a copy of the app, with no options beyond the output names and places "
        "(`kiln build main.py --python VENV/bin/python [--onefile]`, "
        "`pyinstaller --onedir|--onefile --noconfirm main.py`). A build is the wall time of "
        "that command. Each app's onedir build starts with empty caches (`KILN_CACHE_DIR`, "
        "`PYINSTALLER_CONFIG_DIR`); its onefile build follows with what the onedir build left."
    )
    out.append(
        "- Sizes: `du -sb` of the onedir folder (all files), the size of the onefile "
        "executable. MiB = 2^20 bytes."
    )
    out.append(
        "- Runs: each bundle is moved to another directory and started from an empty one, with "
        "only `PATH` (no Python directories), `HOME`, `LANG`, `HF_HUB_OFFLINE=1` and "
        "`TRANSFORMERS_OFFLINE=1` set; it runs when it exits with status 0 and prints what plain "
        "python printed (for torch_backend: the body of `/api/predict?service=scorer`, then "
        "SIGTERM and exit status 0). The times are wall time from spawn to exit (torch_backend: "
        "to the `/api/predict` answer, the request that imports torch). Plain python is the "
        "venv's python running `main.py`, its second run (the first reads the libraries into "
        "the page cache)."
    )
    out.append(
        "- First start: the onefile with an empty cache (kiln unpacks into `KILN_ONEFILE_DIR` "
        "and keeps the tree; PyInstaller unpacks into `TMPDIR` and deletes it when the app "
        f"exits, so each of its starts unpacks again). Warm start: the median of {warm} starts "
        "after it. The executables were just written, so they are read from the page cache."
    )
    out.append(
        "- `tar x`: the tree kiln's onefile unpacked, archived with `tar | zstd -3` after the "
        "runs and extracted with `tar --zstd -x` into an empty directory on the same disk: "
        "the cost of writing that many bytes and files there, to set the first start beside."
    )
    out.append(
        "- Unpacking: the first start less the median warm start (both run the app; the "
        "difference is what the first start spends checking and unpacking the payload), and "
        "that divided by the `tar x` time."
    )
    print("\n".join(out))


if __name__ == "__main__":
    main()
