#!/usr/bin/env bash
# Import analysis of a large environment (fastapi + sqlalchemy + pandas + scipy, thousands of
# modules): kiln cold (empty cache) and warm (unchanged files, cached parse results), next to
# PyInstaller's analysis of the same app with the same interpreter.
#
# Usage: bench/analysis.sh            (N=5 runs per variant; set N to change)
#
# Needs python3 (3.11) and PyPI access the first time (it shares target/bench-venv with the other
# bench scripts). Prints a markdown table and writes it to docs/analysis-benchmark.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

N=${N:-5}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
app=$repo/bench/apps/bigenv

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-analysis-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$app" "$work/app"
cd "$work/app"

# Median of the numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# Wall seconds of a command.
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t0" "$t1"
}

modules=$(KILN_CACHE_DIR="$work/kc-count" "$kiln" check main.py --python "$python" --json |
    "$python" -c 'import json,sys; print(json.load(sys.stdin)["modules"]["total"])')
log "the app reaches $modules modules"

kiln_cold=(); kiln_warm=(); kiln_reparse=()
for i in $(seq "$N"); do
    rm -rf "$work/kc"
    kiln_cold+=("$(KILN_CACHE_DIR=$work/kc seconds "$kiln" check main.py --python "$python")")
    kiln_warm+=("$(KILN_CACHE_DIR=$work/kc seconds "$kiln" check main.py --python "$python")")
    # What another kiln build meets: parse results are its own, the interpreter's answers stay.
    rm -rf "$work/kc/analysis"
    kiln_reparse+=("$(KILN_CACHE_DIR=$work/kc seconds "$kiln" check main.py --python "$python")")
done

# PyInstaller has no analysis-only mode: its log stamps each line with milliseconds since start,
# and "Warnings written to" closes its Analysis step (module graph, hooks, binary dependencies).
pyi_analysis() {
    local log_file=$1
    awk '/Warnings written to/ {print $1/1000; exit}' "$log_file"
}
pyi_cold=(); pyi_warm=()
for i in $(seq "$N"); do
    rm -rf "$work/pyi" "$work/pyi-config"
    PYINSTALLER_CONFIG_DIR=$work/pyi-config "$venv/bin/pyinstaller" --onedir --noconfirm \
        --distpath "$work/pyi/dist" --workpath "$work/pyi/build" --specpath "$work/pyi" \
        main.py >"$work/pyi-cold.log" 2>&1
    pyi_cold+=("$(pyi_analysis "$work/pyi-cold.log")")
    PYINSTALLER_CONFIG_DIR=$work/pyi-config "$venv/bin/pyinstaller" --onedir --noconfirm --clean \
        --distpath "$work/pyi/dist" --workpath "$work/pyi/build2" --specpath "$work/pyi" \
        main.py >"$work/pyi-warm.log" 2>&1
    pyi_warm+=("$(pyi_analysis "$work/pyi-warm.log")")
done

m() { printf '%s\n' "$@" | median; }
report=$(cat <<MD
# Import analysis benchmark

\`bench/analysis.sh\` on $(date -u +%Y-%m-%d) at commit \`$(git -C "$repo" rev-parse --short HEAD)\`;
$(nproc) cores; $("$python" --version); the app in \`bench/apps/bigenv\` imports fastapi, uvicorn,
sqlalchemy, pandas and scipy and reaches $modules modules. Median of $N runs, seconds.

| | cold | warm |
|---|---:|---:|
| kiln (\`kiln check\`: interpreter query, parse, introspection, resolve) | $(m "${kiln_cold[@]}") | $(m "${kiln_warm[@]}") |
| kiln, every file parsed again, the interpreter's answers kept | $(m "${kiln_reparse[@]}") | |
| PyInstaller $PYINSTALLER_VERSION Analysis step | $(m "${pyi_cold[@]}") | $(m "${pyi_warm[@]}") |

- kiln cold: empty kiln cache (\`KILN_CACHE_DIR\` fresh): the interpreter is asked to describe
  itself and to import the lazy packages whose \`__getattr__\` kiln cannot read (and any Cython
  module whose strings do not decompress), in a child (introspection); warm: the same command again, so unchanged files are not parsed again and the
  interpreter is not asked again. The second row is what a new build of kiln meets: parse
  results are per kiln build, the interpreter's answers are kept. The OS file cache is warm in
  all.
- PyInstaller: time from start to "Warnings written to" in its log, which ends its Analysis step
  (module graph, hooks, binary dependencies). Cold: fresh \`PYINSTALLER_CONFIG_DIR\` and work
  directory; warm: its caches kept, \`--clean\` build directory.
- Runs (kiln cold / warm / parsed again): ${kiln_cold[*]} / ${kiln_warm[*]} / ${kiln_reparse[*]}
- Runs (PyInstaller cold / warm): ${pyi_cold[*]} / ${pyi_warm[*]}
MD
)
echo "$report"
mkdir -p "$repo/docs"
# The doc's hand-written sections (from "## " on) stay below the measured table.
extra=$(sed -n '/^## /,$p' "$repo/docs/analysis-benchmark.md" 2>/dev/null || true)
printf '%s\n%s\n' "$report" "${extra:+
$extra}" >"$repo/docs/analysis-benchmark.md"
