//! kiln as a Python package: `scripts/build-wheel` makes a manylinux2014 wheel holding the kiln
//! executable, pip installs it offline into a fresh venv, and the installed kiln freezes the
//! repository's example, whose bundle runs with the host's Pythons hidden.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::support::{run_checked, run_hidden, workspace_root, Build};

/// The oldest glibc the wheel's tag promises (manylinux2014).
const WHEEL_GLIBC: (u32, u32) = (2, 17);

#[test]
fn wheel_installs_with_pip_and_its_kiln_freezes_the_example() {
    let wheel = build_wheel();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("kiln-{}-py3-none-", env!("CARGO_PKG_VERSION")))
            && name.contains("manylinux2014_")
            && name.contains("manylinux_2_17_"),
        "{name}"
    );

    let venv = tempfile::Builder::new()
        .prefix("kiln-it-wheel-venv-")
        .tempdir()
        .unwrap();
    let base = std::env::var_os("KILN_TEST_PYTHON").unwrap_or_else(|| "python3".into());
    run_checked(
        Command::new(base).args(["-m", "venv"]).arg(venv.path()),
        "create a venv",
    );
    let python = venv.path().join("bin/python");
    run_checked(
        Command::new(&python)
            .args(["-m", "pip", "install", "--no-index", "--no-deps"])
            .args(["--disable-pip-version-check", "--no-input", "--quiet"])
            .arg(&wheel),
        "pip install the wheel",
    );

    // pip put the executable on the venv's PATH, and it is the one built.
    let kiln = venv.path().join("bin/kiln");
    let version = run_checked(Command::new(&kiln).arg("--version"), "kiln --version");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("kiln {}", env!("CARGO_PKG_VERSION"))
    );
    let wheel_meta = run_checked(
        Command::new(&python).args([
            "-c",
            "from importlib.metadata import distribution; \
             print(distribution('kiln').read_text('WHEEL'))",
        ]),
        "read the installed WHEEL file",
    );
    let wheel_meta = String::from_utf8_lossy(&wheel_meta.stdout);
    assert!(
        wheel_meta.contains("Tag: py3-none-manylinux_2_17_")
            && wheel_meta.contains("Root-Is-Purelib: false"),
        "{wheel_meta}"
    );

    // Its tag is honest: neither kiln nor the launcher it writes into every bundle needs a
    // glibc newer than manylinux2014's.
    assert_glibc_at_most(&kiln, WHEEL_GLIBC);

    let build = Build::new("hello")
        .source(&workspace_root().join("examples/hello"))
        .kiln(&kiln)
        .args(["hello.py"])
        .success();
    assert_glibc_at_most(&build.exe(), WHEEL_GLIBC);
    let run = run_hidden(&build, &["kiln"]).run;
    run.assert_success("the example frozen by the installed kiln");
    assert_eq!(run.stdout.trim(), r#"{"hello": "kiln", "frozen": true}"#);
}

/// Runs `scripts/build-wheel` and returns the wheel it names on its first line.
fn build_wheel() -> PathBuf {
    let started = Instant::now();
    let mut cmd = Command::new(workspace_root().join("scripts/build-wheel"));
    // What cargo set for this test process is not meant for the wheel's build, as
    // crates/kiln/build.rs keeps the outer build's settings from the launcher's.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR"
            || key == "CARGO"
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    let out = run_checked(&mut cmd, "scripts/build-wheel");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "scripts/build-wheel took {:.1}s\n{stdout}",
        started.elapsed().as_secs_f64()
    );
    let wheel = PathBuf::from(stdout.lines().next().unwrap_or_default());
    assert!(
        wheel.is_file(),
        "no wheel named on the first line:\n{stdout}"
    );
    wheel
}

fn assert_glibc_at_most(file: &Path, floor: (u32, u32)) {
    let elf = kiln::installed::elf::read_elf(file)
        .unwrap()
        .unwrap_or_else(|| panic!("{} is not ELF", file.display()));
    let needed = elf.glibc.expect("links glibc");
    assert!(
        needed <= floor,
        "{} needs GLIBC_{}.{}, newer than {}.{}",
        file.display(),
        needed.0,
        needed.1,
        floor.0,
        floor.1
    );
}
