//! Builds the launcher with its own size-first profile and hands its path to the kiln crate,
//! which embeds it with `include_bytes!`. The launcher is a separate workspace, so it is built by
//! a nested cargo.
//!
//! Every bundle carries the launcher, so its glibc floor is every bundle's: when
//! `cargo-zigbuild` is on `PATH` (`scripts/test` and `.ci/run` install it, with zig, from PyPI),
//! the launcher is linked against glibc 2.17's symbols and needs nothing newer; otherwise it
//! needs the build machine's glibc, and the build says so.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest glibc the launcher is linked for (manylinux2014's).
const LAUNCHER_GLIBC: &str = "2.17";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let crates = manifest_dir.parent().unwrap();
    let launcher_manifest = crates.join("kiln-launcher/Cargo.toml");
    for dir in [
        "kiln-launcher/src",
        "kiln-launcher/Cargo.toml",
        "kiln-bundle/src",
    ] {
        println!("cargo:rerun-if-changed={}", crates.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=PATH");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    // One launcher build for every profile and tool (build, test, clippy) of this target dir:
    // OUT_DIR is TARGET_DIR/PROFILE/build/kiln-HASH/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("kiln-launcher"))
        .unwrap_or_else(|| out_dir.join("launcher-target"));
    let target = std::env::var("TARGET").unwrap_or_default();
    let zigbuild = (target.ends_with("-linux-gnu"))
        .then(|| find_on_path("cargo-zigbuild"))
        .flatten();
    let (mut cmd, binary) = match &zigbuild {
        Some(zigbuild) => {
            let mut cmd = Command::new(zigbuild);
            cmd.args(["zigbuild", "--target"])
                .arg(format!("{target}.{LAUNCHER_GLIBC}"));
            (cmd, target_dir.join(&target).join("release/kiln-launcher"))
        }
        None => {
            println!(
                "cargo:warning=cargo-zigbuild is not on PATH: the launcher (and so every bundle) \
                 needs this machine's glibc; scripts/test installs it"
            );
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            (
                Command::new(cargo),
                target_dir.join("release/kiln-launcher"),
            )
        }
    };
    if zigbuild.is_none() {
        cmd.arg("build");
    }
    cmd.args(["--release", "--quiet", "--manifest-path"])
        .arg(&launcher_manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    // Settings meant for the outer build (coverage, sanitizers, wrappers) must not leak in.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME"
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd.status().expect("failed to run cargo for the launcher");
    assert!(status.success(), "building kiln-launcher failed");
    println!("cargo:rustc-env=KILN_LAUNCHER_BIN={}", binary.display());
    println!(
        "cargo:rustc-env=KILN_LAUNCHER_GLIBC={}",
        if zigbuild.is_some() {
            LAUNCHER_GLIBC
        } else {
            ""
        }
    );
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
