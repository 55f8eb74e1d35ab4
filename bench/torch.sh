#!/usr/bin/env bash
# kiln and PyInstaller side by side on the torch fixture apps, with the same interpreter and
# the same environment: for each app and tool, the onedir build time and size, the onefile
# build time and size, whether each bundle runs (moved to another directory, started from an
# empty one in a clean environment, its output compared with plain python's), and the onefile's
# first start (empty cache) and warm start. kiln's first start is set beside `tar x` of the
# same unpacked tree (a zstd tar, extracted on the same disk). The apps:
#   torch_lora     a LoRA training step with peft on a tiny GPT-2, saved, reloaded, compared
#   torch_backend  FastAPI whose service imports torch (and compiles a TorchScript function) when
#                  a request names it; timed from spawn to the /api/predict answer, then SIGTERM
#   torch_embed    sentence-transformers embeddings from a tiny BERT shipped in the app's package
#                  (made by the fixture's make_model.py; nothing is downloaded)
# Both tools run with their defaults and no options beyond the output names. Prints markdown
# tables and writes them to docs/torch-benchmark.md (bench/torch_report.py formats them; the
# measurements are kept in target/torch-bench).
#
# Usage: bench/torch.sh
# Settings (environment):
#   APPS="torch_lora torch_backend torch_embed"   the apps, a subset gives a partial report
#   TOOLS="kiln pyinstaller"                      the tools
#   WARM_RUNS=3                                   warm starts per onefile (the median is shown)
#   MERGE=1                                       keep the previous run's figures (target/torch-bench)
#                                                 of the tools TOOLS leaves out, said so in the report
#
# The environment is target/bench-torch-venv: the torch tests' venv (target/kiln-torch-venv,
# tests/fixtures/requirements-torch.txt: the default PyPI wheels of torch with its CUDA
# libraries, transformers, peft, sentence-transformers) copied as hard links, so it costs no
# disk, plus PyInstaller from PyPI, constrained to the same pins; both tools build with its
# python, as bench/build.sh does with target/bench-venv. Where the tests' venv does not exist
# the requirements are installed from PyPI (about 6 GB). Not run in CI.
#
# Each bundle of the torch stack is gigabytes: a build is deleted as soon as it is measured,
# and the run needs about 8 GiB free beside the venv; it holds the lock the torch integration
# tests take, so that neither fills the disk under the other. On two cores it takes an hour or more,
# most of it PyInstaller's builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

APPS=${APPS:-torch_lora torch_backend torch_embed}
TOOLS=${TOOLS:-kiln pyinstaller}
WARM_RUNS=${WARM_RUNS:-3}
[[ $WARM_RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench: WARM_RUNS must be at least 1" >&2; exit 1; }
for app in $APPS; do
    [[ -d $repo/crates/kiln/tests/fixtures/apps/$app && $app == torch_* ]] ||
        { echo "bench: unknown app '$app' (known: torch_lora torch_backend torch_embed)" >&2; exit 1; }
done
for tool in $TOOLS; do
    [[ $tool == kiln || $tool == pyinstaller ]] ||
        { echo "bench: unknown tool '$tool' (known: kiln pyinstaller)" >&2; exit 1; }
done

bench_own_venv=1
source "$repo/bench/common.sh"

# The environment: the tests' torch venv as hard links, plus PyInstaller.
requirements=$repo/crates/kiln/tests/fixtures/requirements-torch.txt
tests_venv=$repo/target/kiln-torch-venv
venv=$repo/target/bench-torch-venv
stamp="$("$PYTHON" -c 'import sys; print(sys.version)')
pyinstaller==$PYINSTALLER_VERSION
$(cat "$requirements")"
if [[ ! -f $venv/bench-stamp || "$(cat "$venv/bench-stamp")" != "$stamp" ]]; then
    rm -rf "$venv"
    if [[ -x $tests_venv/bin/python && -f $tests_venv/kiln-test-stamp &&
        "$(sed '1,/^--- requirements$/d' "$tests_venv/kiln-test-stamp")" == "$(cat "$requirements")" ]]; then
        log "making $venv: hard links to $tests_venv"
        cp -al "$(readlink -f "$tests_venv")" "$venv"
        rm -f "$venv/kiln-test-stamp"
    else
        log "making $venv from $requirements (about 6 GB from PyPI)"
        "$PYTHON" -m venv "$venv"
        "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
            -r "$requirements"
    fi
    # New files only: the constraints keep every installed distribution as it is, so no file
    # shared with the tests' venv is written.
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
        -c "$requirements" "pyinstaller==$PYINSTALLER_VERSION"
    printf '%s' "$stamp" >"$venv/bench-stamp"
fi
python=$venv/bin/python

# The torch integration tests take the same lock (tests/it/torch.rs): one of them or this at a
# time on the machine, each needing gigabytes of disk.
exec 9>"${TMPDIR:-/tmp}/kiln-it-torch-disk.lock"
if ! flock -n 9; then
    log "waiting for the torch tests (or another torch bench) to finish: ${TMPDIR:-/tmp}/kiln-it-torch-disk.lock"
    flock 9
fi

started=$(date +%s)
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-torch-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
log "working in $work"
# The release binary may be rebuilt while this runs (cargo from another shell): use a copy.
cp "$kiln" "$work/kiln"
kiln=$work/kiln
results=$work/results.jsonl
: >"$results"
unset PYTHONPATH PYTHONHOME

now() { date +%s.%N; }
seconds_since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }
# record APP TOOL KEY JSON-VALUE
record() { printf '{"app": "%s", "tool": "%s", "key": "%s", "value": %s}\n' "$@" >>"$results"; }
free_gib() { df -Pk "$work" | awk 'NR == 2 {printf "%.1f", $4 / 1048576}'; }
check_disk() {
    if awk -v f="$(free_gib)" 'BEGIN {exit !(f < 8)}'; then
        log "warning: $(free_gib) GiB free on $work; a torch bundle with its unpacked copy needs about 8"
    fi
}

# build APP TOOL MODE: builds from the app's copy into $work/APP/TOOL-MODE (a fresh output
# directory); records the wall seconds, or "failed" with the log's tail shown.
build() {
    local app=$1 tool=$2 mode=$3 out=$work/$1/$2-$3 t0
    local build_log=$work/$app/$tool-$mode.log
    check_disk
    log "$app: $tool $mode build"
    t0=$(now)
    if (
        cd "$work/$app/src"
        case $tool in
        kiln)
            local onefile=()
            [[ $mode == onefile ]] && onefile=(--onefile)
            KILN_CACHE_DIR=$work/$app/kiln-cache "$kiln" build main.py --python "$python" \
                --name "$app" --out "$out" "${onefile[@]}"
            ;;
        pyinstaller)
            PYINSTALLER_CONFIG_DIR=$work/$app/pyi-cache "$venv/bin/pyinstaller" "--$mode" \
                --noconfirm --log-level WARN --name "$app" --distpath "$out" \
                --workpath "$work/$app/pyi-work" --specpath "$work/$app/pyi-spec" main.py
            ;;
        esac
    ) >"$build_log" 2>&1; then
        record "$app" "$tool" "$mode-build" "$(seconds_since "$t0")"
        rm -rf "$work/$app/pyi-work" "$work/$app/pyi-spec"
        return 0
    fi
    log "$app: $tool $mode build failed; the last lines of its log:"
    tail -n 25 "$build_log" >&2
    record "$app" "$tool" "$mode-build" '"failed"'
    record "$app" "$tool" "$mode-build-log" "$(tail -n 8 "$build_log" | python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))')"
    rm -rf "$out" "$work/$app/pyi-work" "$work/$app/pyi-spec"
    return 1
}

# run APP TOOL WHAT COMMAND [ENV...]: one timed run from an empty directory, compared with
# plain python's output; records the run's JSON (seconds, ok, same) as WHAT.
run() {
    local app=$1 tool=$2 what=$3 command=$4
    shift 4
    local envs=() out=$work/$app/$tool-$what.json cwd
    for setting in "$@"; do envs+=(--env "$setting"); done
    cwd=$(mktemp -d "$work/$app/cwd-XXXXXX")
    local status=0
    python3 "$repo/bench/torch_run.py" "$kind" --cwd "$cwd" "${envs[@]}" \
        --expect "$work/$app/plain.json" -- "$command" >"$out" || status=$?
    if ((status != 0)); then
        # The runner itself was stopped (a signal from outside): a failed run, not the end.
        printf '{"seconds": null, "ok": false, "exit": null, "output": "", "log": "%s"}\n' \
            "the runner stopped with status $status" >"$out"
    fi
    rm -rf "$cwd"
    record "$app" "$tool" "$what" "$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({k: r.get(k) for k in ("seconds", "ok", "same", "exit")}))' "$out")"
    if ! python3 -c 'import json, sys; sys.exit(not json.load(open(sys.argv[1]))["ok"])' "$out"; then
        log "$app: $tool $what did not run like plain python:"
        python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("exit", r["exit"], "\n--- output\n" + r["output"][-1500:] + "\n--- log\n" + r.get("log", "")[-2500:])' "$out" >&2
    fi
}

size_of() { du -sb "$1" | cut -f1; }
files_in() { find "$1" -type f | wc -l | tr -d ' '; }

for app in $APPS; do
    kind=cli
    [[ $app == torch_backend ]] && kind=server
    mkdir -p "$work/$app"
    cp -r "$repo/crates/kiln/tests/fixtures/apps/$app" "$work/$app/src"
    if [[ -f $work/$app/src/make_model.py ]]; then
        log "$app: making its model"
        HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$python" "$work/$app/src/make_model.py" >&2
        rm -f "$work/$app/src/make_model.py"
    fi
    # Plain python, twice: the first run reads the libraries into the page cache.
    for round in 1 2; do
        cwd=$(mktemp -d "$work/$app/cwd-XXXXXX")
        python3 "$repo/bench/torch_run.py" "$kind" --cwd "$cwd" -- \
            "$python" "$work/$app/src/main.py" >"$work/$app/plain.json"
        rm -rf "$cwd"
    done
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(not r["ok"])' \
        "$work/$app/plain.json" || { log "$app: plain python failed"; cat "$work/$app/plain.json" >&2; exit 1; }
    record "$app" python run "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/$app/plain.json")"

    for tool in $TOOLS; do
        # onedir: build (with empty caches), measure, move, run, delete.
        rm -rf "$work/$app/kiln-cache" "$work/$app/pyi-cache"
        if build "$app" "$tool" onedir; then
            bundle=$work/$app/$tool-onedir/$app
            record "$app" "$tool" onedir-bytes "$(size_of "$bundle")"
            record "$app" "$tool" onedir-files "$(files_in "$bundle")"
            mkdir -p "$work/$app/moved"
            mv "$bundle" "$work/$app/moved/$app"
            rm -rf "$work/$app/$tool-onedir"
            run "$app" "$tool" onedir-run "$work/$app/moved/$app/$app"
            rm -rf "$work/$app/moved"
        fi

        # onefile: build (with the caches the onedir build left), measure, move, start it
        # with an empty cache, then warm, delete.
        if build "$app" "$tool" onefile; then
            exe=$work/$app/$tool-onefile/$app
            record "$app" "$tool" onefile-bytes "$(stat -c %s "$exe")"
            mkdir -p "$work/$app/moved"
            mv "$exe" "$work/$app/moved/$app"
            rm -rf "$work/$app/$tool-onefile"
            exe=$work/$app/moved/$app
            unpack=$work/$app/unpack
            mkdir -p "$unpack"
            # kiln unpacks into KILN_ONEFILE_DIR and keeps it; PyInstaller into TMPDIR, and
            # deletes it when the app exits.
            where=(KILN_ONEFILE_DIR="$unpack" TMPDIR="$unpack")
            run "$app" "$tool" onefile-first "$exe" "${where[@]}"
            for round in $(seq "$WARM_RUNS"); do
                run "$app" "$tool" "onefile-warm-$round" "$exe" "${where[@]}"
            done
            rm -f "$exe"
            if [[ $tool == kiln ]] && [[ -n $(ls -A "$unpack") ]]; then
                record "$app" "$tool" unpacked-bytes "$(size_of "$unpack")"
                # The reference: the same unpacked tree as a zstd tar (level 3), extracted on
                # the same disk into an empty directory.
                log "$app: tar x of the unpacked tree"
                tar -C "$unpack" -cf - . | zstd -q -3 -T0 -o "$work/$app/tree.tar.zst"
                rm -rf "$unpack"
                mkdir -p "$work/$app/untar"
                t0=$(now)
                tar -C "$work/$app/untar" --zstd -xf "$work/$app/tree.tar.zst"
                record "$app" tar x "$(seconds_since "$t0")"
                record "$app" tar bytes "$(stat -c %s "$work/$app/tree.tar.zst")"
                rm -rf "$work/$app/untar" "$work/$app/tree.tar.zst"
            fi
            rm -rf "$unpack" "$work/$app/moved"
        fi
        rm -rf "$work/$app/kiln-cache" "$work/$app/pyi-cache"
    done
    rm -rf "${work:?}/$app/src"
done

versions=$("$python" -c 'import importlib.metadata as m, platform
print(f"CPython {platform.python_version()}, " + ", ".join(f"{d} {m.version(d)}" for d in ("torch", "transformers", "peft", "sentence-transformers", "pyinstaller", "pyinstaller-hooks-contrib")))')
cat >"$work/settings.json" <<EOF
{"apps": "$APPS", "tools": "$TOOLS", "warm_runs": $WARM_RUNS,
 "kiln": "$("$kiln" --version)", "pyinstaller": "$PYINSTALLER_VERSION", "versions": "$versions",
 "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "date": "$(date -u +%Y-%m-%d)", "cpu": "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)",
 "cores": $(nproc), "memory_gib": $(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo),
 "fs": "$(stat -f -c %T "$work")", "kernel": "$(uname -r)",
 "loadavg_start": "$loadavg_start", "loadavg_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "elapsed_s": $(($(date +%s) - started))}
EOF
# The measurements stay in target/torch-bench (each run's JSON too): `bench/torch_report.py
# target/torch-bench/results.jsonl target/torch-bench/settings.json` formats them again.
kept=$repo/target/torch-bench
merged=""
if [[ ${MERGE:-0} == 1 && -f $kept/results.jsonl && -f $kept/settings.json ]]; then
    merged=$(python3 - "$kept" "$results" "$work/settings.json" "$TOOLS" <<'PY'
import json, sys
kept, results, settings_path, tools = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
old = json.load(open(f"{kept}/settings.json"))
others = [t for t in old["tools"].split() if t not in tools]
lines = [l for l in open(f"{kept}/results.jsonl") if l.strip() and json.loads(l)["tool"] in others]
with open(results, "a") as f:
    f.writelines(lines)
settings = json.load(open(settings_path))
settings.update(merged_tools=others, merged_commit=old["commit"], merged_date=old["date"])
json.dump(settings, open(settings_path, "w"))
print(" ".join(others))
PY
)
fi
[[ -n $merged ]] && log "kept the earlier figures of: $merged"
rm -rf "$kept"
mkdir -p "$kept"
cp "$results" "$work/settings.json" "$kept/"
for app in $APPS; do
    mkdir -p "$kept/$app"
    cp "$work/$app"/*.json "$work/$app"/*.log "$kept/$app/" 2>/dev/null || true
done
report=$(python3 "$repo/bench/torch_report.py" "$kept/results.jsonl" "$kept/settings.json")
echo "$report"
mkdir -p "$repo/docs"
printf '%s\n' "$report" >"$repo/docs/torch-benchmark.md"
log "wrote docs/torch-benchmark.md in $(($(date +%s) - started)) s"
