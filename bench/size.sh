#!/usr/bin/env bash
# Bundle sizes, kiln against PyInstaller with defaults, on the same apps and interpreter: the
# FastAPI backend fixture and a numpy/pandas app, in onedir and onefile form.
#
# Usage: bench/size.sh
#
# Shares target/bench-venv with the other bench scripts (PyInstaller and the fixtures'
# requirements). Prints a markdown table and writes it to docs/size-benchmark.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-size-XXXXXX")
trap 'rm -rf "$work"' EXIT

mib() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1048576:.1f}')" "$1"; }
ratio() { python3 -c "import sys; print(f'{int(sys.argv[1]) / int(sys.argv[2]):.2f}')" "$1" "$2"; }

rows=""
for app in "server:$repo/crates/kiln/tests/fixtures/apps/server" "dataapp:$repo/bench/apps/dataapp"; do
    name=${app%%:*}
    src=${app#*:}
    cp -r "$src" "$work/$name"
    cd "$work/$name"
    log "$name: kiln onedir and onefile"
    KILN_CACHE_DIR=$work/kc "$kiln" build main.py --python "$python" --name "$name" --out "$work/k1" >/dev/null
    KILN_CACHE_DIR=$work/kc "$kiln" build main.py --python "$python" --name "$name" --out "$work/k2" --onefile >/dev/null
    log "$name: PyInstaller onedir and onefile"
    "$venv/bin/pyinstaller" --onedir --noconfirm --name "$name" --distpath "$work/p1" \
        --workpath "$work/pw1" --specpath "$work/ps1" main.py >/dev/null 2>&1
    "$venv/bin/pyinstaller" --onefile --noconfirm --name "$name" --distpath "$work/p2" \
        --workpath "$work/pw2" --specpath "$work/ps2" main.py >/dev/null 2>&1
    k_dir=$(du -sb "$work/k1/$name" | cut -f1)
    k_file=$(stat -c %s "$work/k2/$name")
    p_dir=$(du -sb "$work/p1/$name" | cut -f1)
    p_file=$(stat -c %s "$work/p2/$name")
    rows+="| $name | $(mib "$k_dir") | $(mib "$p_dir") | $(ratio "$k_dir" "$p_dir") | $(mib "$k_file") | $(mib "$p_file") | $(ratio "$k_file" "$p_file") |"$'\n'
    cd "$repo"
done

report=$(cat <<MD
# Bundle size benchmark

\`bench/size.sh\` on $(date -u +%Y-%m-%d) at commit \`$(git rev-parse --short HEAD)\`; $("$python" --version);
PyInstaller $PYINSTALLER_VERSION with its defaults; kiln with its defaults (stripped native
files, default exclusions, the module archive, zstd level 19 for onefile). Sizes in MiB: \`du -sb\` of the onedir
folder, the file size of the onefile executable.

| app | kiln onedir | PyInstaller onedir | ratio | kiln onefile | PyInstaller onefile | ratio |
|---|---:|---:|---:|---:|---:|---:|
$rows
MD
)
echo "$report"
mkdir -p "$repo/docs"
echo "$report" >"$repo/docs/size-benchmark.md"
