#!/usr/bin/env bash
# Start-up time and peak memory of frozen apps, kiln against PyInstaller, with the same
# interpreter run directly as the baseline. One run measures, for each app, six variants:
#   plain python (the bench venv's python running main.py), kiln onedir, kiln onefile cold (its
#   cache entry removed before every run), kiln onefile warm, PyInstaller onedir and onefile;
# on four apps:
#   hello     bench/apps/hello: print a line
#   cli       bench/apps/cli: argparse + pandas + numpy imported at the top level
#   cli-pure  bench/apps/cli-pure: argparse + sqlalchemy.orm + jinja2 + pygments (mostly
#             pure-Python modules)
#   server    crates/kiln/tests/fixtures/apps/server: FastAPI + uvicorn, time from spawn to
#             the first 200 from GET /api/health (bench/healthy.py), then SIGTERM
# hello, cli and cli-pure are timed with hyperfine; peak RSS comes from wait4 (bench/peak_rss.py,
# and bench/healthy.py for the server). Prints a markdown report and writes it to
# docs/benchmarks.md (bench/startup_report.py formats it). Not run in CI.
#
# Usage: bench/startup.sh
# Settings (environment):
#   APPS="hello cli cli-pure server"   the apps to measure, a subset gives a partial report
#   RUNS_HELLO=30 RUNS_CLI=10          hyperfine runs per variant (cli is also cli-pure)
#   RUNS_SERVER=8                      spawn-to-healthy runs per variant
#   ROUNDS=2                           the runs are split over rounds taking variants in turn
#   WARMUP=2                           untimed runs first (none for onefile cold)
#   RSS_RUNS=3                         runs per variant for peak RSS (hello and cli apps)
# About 8 minutes on 2 cores with the defaults, most of it building the 16 bundles.
#
# Needs hyperfine, python3 (3.11) and PyPI access the first time (bench/common.sh makes
# target/bench-venv with the integration tests' pinned requirements plus PyInstaller).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

APPS=${APPS:-hello cli cli-pure server}
RUNS_HELLO=${RUNS_HELLO:-30}
RUNS_CLI=${RUNS_CLI:-10}
RUNS_SERVER=${RUNS_SERVER:-8}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-2}
RSS_RUNS=${RSS_RUNS:-3}
for setting in RUNS_HELLO RUNS_CLI RUNS_SERVER ROUNDS WARMUP RSS_RUNS; do
    [[ ${!setting} =~ ^[0-9]+$ ]] || { echo "bench: $setting must be a number" >&2; exit 1; }
done
((RUNS_HELLO > 0 && RUNS_CLI > 0 && RUNS_SERVER > 0 && ROUNDS > 0 && RSS_RUNS > 0)) ||
    { echo "bench: RUNS_*, ROUNDS and RSS_RUNS must be at least 1" >&2; exit 1; }

app_source() {
    case $1 in
    server) echo "$repo/crates/kiln/tests/fixtures/apps/server" ;;
    hello | cli | cli-pure) echo "$repo/bench/apps/$1" ;;
    *) echo "bench: unknown app '$1' in APPS (known: hello cli cli-pure server)" >&2; exit 1 ;;
    esac
}

for app in $APPS; do app_source "$app" >/dev/null; done

command -v hyperfine >/dev/null || { echo "bench: hyperfine is not installed" >&2; exit 1; }
source "$repo/bench/common.sh"

started=$(date +%s)
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v n="$(nproc)" '{exit !($1 > n / 2)}' /proc/loadavg; then
    log "warning: load average $loadavg_start on $(nproc) CPUs: the timings will be noisy"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-startup-XXXXXX")
trap 'rm -rf "$work"' EXIT
log "working in $work"
# The release binary may be rebuilt while this runs (cargo from another shell): use a copy.
cp "$kiln" "$work/kiln"
kiln=$work/kiln
results=$work/results
mkdir -p "$results"
export PYINSTALLER_CONFIG_DIR=$work/pyi-config
export KILN_CACHE_DIR=$work/kiln-cache
unset PYTHONPATH PYTHONHOME


# build LOG COMMAND...: run a build in the app's directory, its output to LOG; on failure show
# the log's tail and stop.
build() {
    local build_log=$1
    shift
    local t0=$(date +%s.%N)
    if ! "$@" >"$build_log" 2>&1; then
        log "build failed: $*"
        log "last lines of $build_log:"
        tail -n 40 "$build_log" >&2
        exit 1
    fi
    python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0"
}

# build_kiln APP onedir|onefile, build_pyinstaller APP onedir|onefile: build in the current
# directory (the app's copy) into $work/APP/TOOL-MODE; print the wall seconds.
build_kiln() {
    local onefile=()
    [[ $2 == onefile ]] && onefile=(--onefile)
    build "$work/$1/kiln-$2.log" "$kiln" build main.py --python "$python" --name "$1" \
        --out "$work/$1/kiln-$2" "${onefile[@]}"
}
build_pyinstaller() {
    build "$work/$1/pyi-$2.log" "$venv/bin/pyinstaller" "--$2" --noconfirm --log-level WARN \
        --name "$1" --distpath "$work/$1/pyi-$2" --workpath "$work/$1/pyi-$2-work" \
        --specpath "$work/$1/pyi-$2-spec" main.py
}

variants="python kiln-onedir kiln-onefile-cold kiln-onefile-warm pyi-onedir pyi-onefile"
# The command line of VARIANT for APP (without the server's port).
command_of() {
    local app=$1 variant=$2
    case $variant in
    python) echo "$python $work/$app/src/main.py" ;;
    kiln-onedir) echo "$work/$app/kiln-onedir/$app/$app" ;;
    kiln-onefile-*) echo "$work/$app/kiln-onefile/$app" ;;
    pyi-onedir) echo "$work/$app/pyi-onedir/$app/$app" ;;
    pyi-onefile) echo "$work/$app/pyi-onefile/$app" ;;
    esac
}
# Each onefile variant unpacks into its own directory; "cold" deletes it before every run.
export KILN_ONEFILE_DIR=$work/onefile-unused
onefile_dir() { echo "$work/onefile-$1"; }

for app in $APPS; do
    src=$(app_source "$app")
    mkdir -p "$work/$app" "$results/$app"
    cp -r "$src" "$work/$app/src"
    cd "$work/$app/src"
    log "$app: kiln onedir and onefile"
    t_kd=$(build_kiln "$app" onedir)
    t_kf=$(build_kiln "$app" onefile)
    log "$app: PyInstaller onedir and onefile"
    t_pd=$(build_pyinstaller "$app" onedir)
    t_pf=$(build_pyinstaller "$app" onefile)
    "$python" - "$work/$app" "$app" "$t_kd" "$t_kf" "$t_pd" "$t_pf" >"$results/$app/bundles.json" <<'PY'
import json, os, sys
root, app, *seconds = sys.argv[1:]
def tree(d):
    files = [os.path.join(p, f) for p, _, fs in os.walk(d) for f in fs]
    return {"bytes": sum(os.lstat(f).st_size for f in files), "files": len(files)}
out = {
    "kiln-onedir": tree(f"{root}/kiln-onedir/{app}"),
    "kiln-onefile": {"bytes": os.path.getsize(f"{root}/kiln-onefile/{app}"), "files": 1},
    "pyi-onedir": tree(f"{root}/pyi-onedir/{app}"),
    "pyi-onefile": {"bytes": os.path.getsize(f"{root}/pyi-onefile/{app}"), "files": 1},
}
for key, s in zip(out, seconds):
    out[key]["build_s"] = float(s)
json.dump(out, sys.stdout)
PY

    # Every variant of a CLI app must print what plain python prints before it is timed (the
    # server's are checked by bench/healthy.py, which waits for a healthy answer).
    if [[ $app != server ]]; then
        # shellcheck disable=SC2046 # the command lines are paths without spaces
        expected=$($(command_of "$app" python) 2>&1) ||
            { log "$app: plain python failed:"; echo "$expected" >&2; exit 1; }
        for variant in $variants; do
            # shellcheck disable=SC2046
            got=$(KILN_ONEFILE_DIR=$(onefile_dir check) $(command_of "$app" "$variant") 2>&1) || true
            if [[ $got != "$expected" ]]; then
                log "$app: $variant printed something else than plain python"
                log "expected:"; echo "$expected" >&2
                log "got:"; echo "$got" >&2
                exit 1
            fi
        done
    fi

    case $app in
    hello) runs=$RUNS_HELLO ;;
    server) runs=$RUNS_SERVER ;;
    *) runs=$RUNS_CLI ;;
    esac
    per_round=$(((runs + ROUNDS - 1) / ROUNDS))
    # The runs of each variant are split over ROUNDS rounds that take the variants in turn, so
    # that a change in the machine's load is spread over all of them rather than hitting one.
    for round in $(seq "$ROUNDS"); do
        for variant in $variants; do
            cmd=$(command_of "$app" "$variant")
            dir=$(onefile_dir "${variant#kiln-onefile-}")
            prepare=true
            warmup=0
            if [[ $variant == kiln-onefile-cold ]]; then
                prepare="rm -rf $dir"
            elif ((round == 1)); then
                warmup=$WARMUP
                # The warm variant's first run unpacks: it must not be timed.
                if [[ $variant == kiln-onefile-warm ]] && ((warmup == 0)); then warmup=1; fi
            fi
            out=$results/$app/$variant.round$round.json
            log "$app: $variant, round $round of $ROUNDS ($warmup warm-up + $per_round runs)"
            if [[ $app == server ]]; then
                # shellcheck disable=SC2086
                KILN_ONEFILE_DIR=$dir "$python" "$repo/bench/healthy.py" --runs "$per_round" \
                    --warmup "$warmup" --prepare "$prepare" -- $cmd >"$out"
            else
                KILN_ONEFILE_DIR=$dir hyperfine -N --style basic --warmup "$warmup" \
                    --runs "$per_round" --prepare "$prepare" --export-json "$out" \
                    --command-name "$variant" "$cmd" >&2
            fi
        done
    done
    # Peak RSS (the server's comes with its timing runs).
    if [[ $app != server ]]; then
        for variant in $variants; do
            dir=$(onefile_dir "${variant#kiln-onefile-}")
            prepare=true
            [[ $variant == kiln-onefile-cold ]] && prepare="rm -rf $dir"
            log "$app: $variant, peak RSS ($RSS_RUNS runs)"
            # shellcheck disable=SC2046
            KILN_ONEFILE_DIR=$dir "$python" "$repo/bench/peak_rss.py" --runs "$RSS_RUNS" \
                --prepare "$prepare" -- $(command_of "$app" "$variant") \
                >"$results/$app/$variant.rss.json"
        done
    fi
    cd "$repo"
done

cat >"$results/settings.json" <<EOF
{"apps": "$APPS", "rounds": $ROUNDS, "warmup": $WARMUP, "rss_runs": $RSS_RUNS,
 "pyinstaller": "$PYINSTALLER_VERSION", "kiln": "$("$kiln" --version)",
 "loadavg_start": "$loadavg_start", "loadavg_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "fs_onefile": "$(stat -f -c %T "$work")", "fs_tmp": "$(stat -f -c %T "${TMPDIR:-/tmp}")",
 "elapsed_s": $(($(date +%s) - started))}
EOF
report=$("$python" "$repo/bench/startup_report.py" "$results")
echo "$report"
mkdir -p "$repo/docs"
printf '%s\n' "$report" >"$repo/docs/benchmarks.md"
log "wrote docs/benchmarks.md in $(($(date +%s) - started)) s"
