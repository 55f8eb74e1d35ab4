//! Builds the launcher with its own size-first profile and hands its path to the kiln crate,
//! which embeds it with `include_bytes!`. The launcher is a separate workspace, so it is built by
//! a nested cargo into this crate's OUT_DIR.

use std::path::PathBuf;
use std::process::Command;

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
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let target_dir = out_dir.join("launcher-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--quiet", "--manifest-path"])
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
    let binary = target_dir.join("release/kiln-launcher");
    println!("cargo:rustc-env=KILN_LAUNCHER_BIN={}", binary.display());
}
