"""Formats the results of bench/startup.sh as markdown (docs/benchmarks.md).

Usage: startup_report.py RESULTS_DIR

RESULTS_DIR holds settings.json and, per app, APP/bundles.json and per variant APP/VARIANT.json
(hyperfine's --export-json, or bench/healthy.py's output for the server) and APP/VARIANT.rss.json
(bench/peak_rss.py). Run it with the bench venv's python: the versions it reports are that
environment's.
"""

import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

# The targets.
TIME_TOLERANCE = 1.05  # kiln onedir and onefile warm: at most 5% slower than plain python
PYI_SPEEDUP = 2.0  # kiln onefile warm at least 2x faster than PyInstaller onefile (CLI apps)
RSS_TOLERANCE = 1.05  # every kiln variant: peak RSS at most 5% above plain python
IMPORT_HEAVY = ("cli", "cli-pure")

VARIANTS = {
    "python": "plain `python main.py`",
    "kiln-onedir": "kiln onedir",
    "kiln-onefile-cold": "kiln onefile, cold",
    "kiln-onefile-warm": "kiln onefile, warm",
    "pyi-onedir": "PyInstaller onedir",
    "pyi-onefile": "PyInstaller onefile",
}
TIME_TARGET = ("kiln-onedir", "kiln-onefile-warm")
RSS_TARGET = ("kiln-onedir", "kiln-onefile-cold", "kiln-onefile-warm")

DESCRIPTIONS = {
    "hello": "`bench/apps/hello`: prints one line; the floor of each way of starting.",
    "cli": "`bench/apps/cli`: an argparse CLI importing pandas and numpy at the top level and "
    "printing a few statistics (the \"CLI importing a large library\" case).",
    "cli-pure": "`bench/apps/cli-pure`: an argparse CLI importing sqlalchemy.orm, jinja2 and "
    "pygments (mostly pure-Python modules), printing a highlighted SQL query.",
    "server": "`crates/kiln/tests/fixtures/apps/server`: FastAPI + uvicorn; time from spawn to "
    "the first 200 from `GET /api/health`.",
}
PACKAGES = ("numpy", "pandas", "SQLAlchemy", "Jinja2", "Pygments", "fastapi", "uvicorn",
            "pyinstaller")


def mark(ok):
    return "✓" if ok else "✗"


def load(path):
    with open(path) as f:
        return json.load(f)


def measurements(app_dir, variant):
    """(runs in ms, runs of peak RSS in KiB or None) of one variant, all its rounds together."""
    runs_ms, rss = [], []
    for path in sorted(app_dir.glob(f"{variant}.round*.json")):
        data = load(path)
        if "results" in data:  # hyperfine
            runs_ms += [t * 1000.0 for t in data["results"][0]["times"]]
        else:  # bench/healthy.py
            runs_ms += data["runs_ms"]
            rss += data["rss_kib"]
    rss_file = app_dir / f"{variant}.rss.json"
    if rss_file.exists():
        rss = load(rss_file)["rss_kib"]
    return runs_ms, rss or None


def fmt_ms(ms):
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}"


def app_section(app, app_dir, settings, score):
    rows = {v: measurements(app_dir, v) for v in VARIANTS}
    rows = {v: r for v, r in rows.items() if r[0]}
    median = {v: statistics.median(r[0]) for v, r in rows.items()}
    rss = {v: statistics.median(r[1]) / 1024 for v, r in rows.items() if r[1]}
    runs = len(rows["python"][0])
    rounds = settings["rounds"]
    in_rounds = f" in {rounds} rounds" if rounds > 1 else ""
    if app == "server":
        how = f"median of {runs} spawn-to-healthy runs{in_rounds}"
    else:
        how = f"hyperfine, median of {runs} runs{in_rounds}"
    out = [f"## {app}", "", DESCRIPTIONS[app], ""]
    out.append(
        f"| variant | median ms ({how}) | min–max ms | × plain "
        "| PyInstaller onefile ÷ this | peak RSS MiB | RSS × plain |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for v, (runs_ms, _) in rows.items():
        ratio = median[v] / median["python"]
        ratio_cell = f"{ratio:.2f}"
        if v in TIME_TARGET:
            ok = ratio <= TIME_TOLERANCE
            score.append(ok)
            ratio_cell += " " + mark(ok)
        pyi_cell = ""
        if v == "kiln-onefile-warm" and "pyi-onefile" in median:
            speedup = median["pyi-onefile"] / median[v]
            pyi_cell = f"{speedup:.1f}×"
            if app in IMPORT_HEAVY:
                ok = speedup >= PYI_SPEEDUP
                score.append(ok)
                pyi_cell += " " + mark(ok)
        rss_cell = rss_ratio_cell = "–"
        if v in rss:
            rss_cell = f"{rss[v]:.1f}"
            rss_ratio = rss[v] / rss["python"]
            rss_ratio_cell = f"{rss_ratio:.2f}"
            if v in RSS_TARGET:
                ok = rss_ratio <= RSS_TOLERANCE
                score.append(ok)
                rss_ratio_cell += " " + mark(ok)
        out.append(
            f"| {VARIANTS[v]} | {fmt_ms(median[v])} | {fmt_ms(min(runs_ms))}–{fmt_ms(max(runs_ms))} "
            f"| {ratio_cell} | {pyi_cell} | {rss_cell} | {rss_ratio_cell} |"
        )
    bundles_file = app_dir / "bundles.json"
    if bundles_file.exists():
        b = load(bundles_file)

        def size(key, what):
            e = b[key]
            files = f", {e['files']} files" if e["files"] > 1 else ""
            return f"{what} {e['bytes'] / 1048576:.1f} MiB{files} (built in {e['build_s']:.1f} s)"

        out += [
            "",
            "Bundles: "
            + "; ".join(
                size(k, w)
                for k, w in (
                    ("kiln-onedir", "kiln onedir"),
                    ("kiln-onefile", "kiln onefile"),
                    ("pyi-onedir", "PyInstaller onedir"),
                    ("pyi-onefile", "PyInstaller onefile"),
                )
            )
            + ".",
        ]
    if app == "server":
        out += [
            "",
            "Runs (ms): "
            + "; ".join(
                f"{VARIANTS[v]} " + " ".join(f"{t:.0f}" for t in r[0]) for v, r in rows.items()
            )
            + ".",
        ]
    return out


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    results = Path(sys.argv[1])
    settings = load(results / "settings.json")
    apps = [a for a in settings["apps"].split() if (results / a).is_dir()]
    repo = Path(__file__).resolve().parent.parent
    commit = run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = run(["git", "-C", str(repo), "--no-optional-locks", "status", "--porcelain",
                 "--untracked-files=no"])
    if dirty not in ("", "unknown"):
        commit += " plus uncommitted changes"
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in PACKAGES)
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    score = []
    sections = []
    for app in apps:
        sections += [""] + app_section(app, results / app, settings, score)

    s = settings
    busy = ""
    load_peak = max(float(s["loadavg_start"].split()[0]), float(s["loadavg_end"].split()[0]))
    if load_peak > (os.cpu_count() or 1) / 2:
        busy = (
            f" This run shared the machine with other work (load average up to {load_peak} on "
            f"{os.cpu_count()} CPUs): treat its ratios as rough."
        )
    out = [
        "# Start-up benchmark: kiln vs PyInstaller vs plain python",
        "",
        f"Generated by `bench/startup.sh` on {datetime.datetime.now(datetime.timezone.utc).date().isoformat()} at commit "
        f"`{commit}` ({s['kiln']}), in {s['elapsed_s'] // 60} min {s['elapsed_s'] % 60} s. "
        f"Python {platform.python_version()} (`target/bench-venv`, the same interpreter for "
        f"every variant); {versions}; {run(['hyperfine', '--version'])}; Linux "
        f"{platform.release()}, {os.cpu_count()} CPUs ({cpu}); load average "
        f"{s['loadavg_start']} at the start, {s['loadavg_end']} at the end.",
        "",
        "Targets, marked ✓/✗ in the tables:",
        f"- kiln onedir and kiln onefile warm start within {TIME_TOLERANCE - 1:.0%} of plain "
        f"python, or faster (× plain ≤ {TIME_TOLERANCE}).",
        f"- kiln onefile warm at least {PYI_SPEEDUP:.0f}× faster than PyInstaller onefile on the "
        f"import-heavy CLIs (`cli`, `cli-pure`); the ratio is shown, unmarked, for the other apps.",
        f"- Peak RSS of every kiln variant within {RSS_TOLERANCE - 1:.0%} of plain python "
        f"(RSS × plain ≤ {RSS_TOLERANCE}).",
        "- kiln onefile cold and the PyInstaller rows have no target of their own: they are there "
        "for comparison.",
        "",
        f"**{sum(score)} of {len(score)} targets met.**" + busy,
    ]
    out += sections
    out += [
        "",
        "## How it is measured",
        "",
        "- Variants: plain python is the bench venv's python running the app's `main.py`, as a "
        "user would; each tool freezes the same `main.py` with that interpreter and its defaults "
        "(`kiln build main.py --python VENV/bin/python [--onefile]`, `pyinstaller --onedir|--onefile "
        "--noconfirm`). Before timing, every variant of hello, cli and cli-pure must print exactly "
        "what plain python prints.",
        "- kiln onefile unpacks into `$KILN_ONEFILE_DIR` (a private directory per variant). Cold: "
        "that directory is deleted before every run (hyperfine `--prepare`), so each run "
        "decompresses and writes the whole payload; warm: the entry is already there. PyInstaller "
        "onefile extracts into a fresh temporary directory on every start and removes it on exit, "
        f"so it has only one case. Here kiln's cache was on {s['fs_onefile']} and PyInstaller's "
        f"temporary directory on {s['fs_tmp']} (`stat -f`).",
        f"- Runs: the runs of each variant are split over {s['rounds']} rounds, each round "
        "taking the six variants in turn, so that a change in the machine's load is spread over "
        f"all of them. Untimed warm-up runs before the first round: {s['warmup']} (none for "
        "onefile cold, at least one for onefile warm). The tables give the median and the fastest and slowest run.",
        "- hello, cli, cli-pure: timed with `hyperfine -N` (no shell), output discarded.",
        "- server: `bench/healthy.py` spawns the command with a free port, polls "
        "`GET /api/health` every 5 ms and records the time to the first 200, then sends SIGTERM.",
        f"- Peak RSS: `ru_maxrss` from `wait4` on the started process, median of {s['rss_runs']} "
        "runs (`bench/peak_rss.py`; for the server, the same runs as the timing, over its whole "
        "life up to its exit after SIGTERM). It covers the process across `exec` (kiln's launcher "
        "execs the interpreter, so it is the larger of the launcher's and the app's peak) and any "
        "child it waited for (PyInstaller's bootloader runs the app in a child).",
        "- Ratios are of medians. Runs are sequential; with few CPUs, differences of a few percent "
        "are within the noise (compare min–max)." + busy,
        "- Build time and onedir size of the server are in `docs/build-benchmark.md` "
        "(`bench/build.sh`), onedir and onefile sizes in `docs/size-benchmark.md` (`bench/size.sh`).",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
