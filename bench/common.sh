# Shared set-up of the bench scripts (sourced, not run): builds target/release/kiln and makes
# target/bench-venv with the integration tests' pinned requirements plus PyInstaller, reused
# while its stamp (interpreter, requirements, PyInstaller version) matches.
# Sets: repo, kiln, venv, python, PYINSTALLER_VERSION, and defines log(). A script that brings
# its own environment sets bench_own_venv=1 first: then only kiln is built (no venv, no python).

PYINSTALLER_VERSION=6.22.3
PYTHON=${KILN_BENCH_PYTHON:-python3}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$repo/target/bench-venv
requirements=$repo/crates/kiln/tests/fixtures/requirements.txt

log() { echo "bench: $*" >&2; }

log "building target/release/kiln"
# The same build users get: the launcher linked for an old glibc with zig (scripts/tools-env
# installs zig and cargo-zigbuild the first time).
source "$repo/scripts/tools-env"
cargo build --release -p kiln --manifest-path "$repo/Cargo.toml" >&2
kiln=$repo/target/release/kiln
if [[ -n ${bench_own_venv:-} ]]; then
    return 0
fi

stamp="$("$PYTHON" -c 'import sys; print(sys.executable, sys.version)')
pyinstaller==$PYINSTALLER_VERSION
$(cat "$requirements")"
if [[ ! -f $venv/bench-stamp || "$(cat "$venv/bench-stamp")" != "$stamp" ]]; then
    log "creating $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
        -r "$requirements" "pyinstaller==$PYINSTALLER_VERSION"
    printf '%s' "$stamp" >"$venv/bench-stamp"
fi
python=$venv/bin/python
