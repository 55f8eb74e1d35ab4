#!/usr/bin/env bash
# Freezes the real-world apps of bench/corpus/ with kiln and with PyInstaller, all from ONE fat
# developer venv (the apps' stacks side by side with mypy, pytest, black, ruff, sphinx, PyQt6,
# Nuitka, cx_Freeze, IPython...), runs every bundle relocated with the host's Pythons hidden, and
# compares output, size, build time and kiln's module recall/precision against a traced plain run.
#
# Usage: bench/corpus.sh [--apps a,b,c] [--no-pyinstaller] [--onedir-only] [--onefile-apps a,b]
#                        [--kiln PATH] [--timeout SECONDS] [--merge] [--keep] [--report-only] [--setup-only]
#
# Needs Python 3.11 (KILN_CORPUS_PYTHON, default pyenv's 3.11.7), PyPI access the first time
# (target/corpus-venv is made from bench/corpus-requirements.txt, and made again when that file
# or the interpreter changes; wheels come from pip's cache after the first time), and root for
# `unshare -m`. Writes docs/corpus.md, target/corpus/results.json and logs per app under
# target/corpus/logs/. --onefile-apps limits the onefile builds (the slow part: compressing a
# bundle of the fat venv takes minutes) to some apps; --merge keeps the previous run's results of
# the apps not run now; --keep keeps the bundles under target/corpus/work/; --out DIR writes
# results, logs and corpus.md there instead (the test suite runs a reduced corpus that way, in
# tests/it/corpus.rs); --apps-dir DIR takes the apps from DIR instead of bench/corpus/ (to try
# new apps before they join). The harness itself is bench/corpus_run.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

PYTHON=${KILN_CORPUS_PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3.11}
[[ -x $PYTHON ]] || PYTHON=$(command -v python3.11)
venv=$repo/target/corpus-venv
requirements=$repo/bench/corpus-requirements.txt

log() { echo "corpus: $*" >&2; }

kiln=
setup_only=
pass=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --kiln) kiln=$(realpath "$2"); shift 2 ;;
        --kiln=*) kiln=$(realpath "${1#--kiln=}"); shift ;;
        --setup-only) setup_only=1; shift ;;
        -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) pass+=("$1"); shift ;;
    esac
done

stamp="$("$PYTHON" -c 'import sys; print(sys.executable, sys.version)')
$(cat "$requirements")"
if [[ ! -f $venv/corpus-stamp || "$(cat "$venv/corpus-stamp")" != "$stamp" ]]; then
    log "creating $venv from $requirements"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
        -r "$requirements"
    printf '%s' "$stamp" >"$venv/corpus-stamp"
fi

if [[ -z $kiln ]]; then
    log "building target/release/kiln"
    # zig and cargo-zigbuild, so that the launcher links the way the repository expects.
    source scripts/tools-env
    cargo build --release -p kiln >&2
    kiln=$repo/target/release/kiln
fi
[[ -n $setup_only ]] && exit 0

exec "$PYTHON" "$repo/bench/corpus_run.py" --repo "$repo" --venv "$venv" --kiln "$kiln" \
    ${pass[@]+"${pass[@]}"}
