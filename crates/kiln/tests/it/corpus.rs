//! A reduced run of the corpus (`bench/corpus/`): real apps using real PyPI packages, all
//! installed in ONE fat venv that also holds a developer's tools (mypy, pytest, Sphinx, PyQt6,
//! PyInstaller, Nuitka, cx_Freeze, IPython), frozen with zero flags and run relocated with the
//! host's Pythons hidden, through the same harness as the benchmark (`bench/corpus.sh`, which
//! makes `target/corpus-venv` the first time). The full run, with PyInstaller side by side, is
//! the benchmark (`docs/corpus.md`).

use std::path::Path;
use std::process::Command;

/// Apps chosen to cover the mechanisms: value analysis and sys.modules, plugins by pkgutil,
/// logging classes by string, cffi modules imported from C, rich's computed module names,
/// PyInstaller-style data lookup, pydantic's lazy `__getattr__` in the fat venv, a server
/// started from an import string, an ORM, a data stack, plugins from entry point groups (one
/// named only as a string handed to pluggy), an inference runtime whose hook leaves out the C
/// API library nothing loads, a Django project (migrations, commands and template tags named
/// after the apps its settings list), URL handlers named by `.format` under a package from a
/// list, Cython 3.2 modules that import from C, OpenCV's loader (config files run by path,
/// its extension module imported from a directory it puts first on `sys.path`), metadata
/// modules imported by `__import__` with a level (phonenumbers), a ctypes library found through
/// RECORD (rtree), plugins walked in a package handed over in a list (hydra), rdata modules
/// named by `".".join` (dnspython), a vendored file only CPython's parser accepts (dynaconf),
/// and settings imported by code in a string (reportlab).
const APPS: &[&str] = &[
    "sys_modules_inject",
    "plugins_pkgutil",
    "logging_dictconfig",
    "crypto_fernet",
    "rich_render",
    "pyinstaller_style",
    "pydantic_only",
    "fastapi_uvicorn",
    "sqlalchemy_orm",
    "pandas_groupby",
    "entry_points_plugins",
    "onnx_infer",
    "django_site",
    "pyserial_loop",
    "h5py_store",
    "opencv_ops",
    "phonenumbers_geo",
    "rtree_index",
    "hydra_compose",
    "net_misc",
    "config_mix",
    "pdf_docs",
];

#[test]
fn reduced_corpus_freezes_and_runs_with_zero_flags() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::Builder::new()
        .prefix("kiln-it-corpus-")
        .tempdir()
        .unwrap();
    let status = Command::new("bash")
        .arg(repo.join("bench/corpus.sh"))
        .args([
            "--no-pyinstaller",
            "--onedir-only",
            "--kiln",
            crate::support::KILN,
        ])
        .arg("--apps")
        .arg(APPS.join(","))
        .arg("--out")
        .arg(out.path())
        .status()
        .expect("run bench/corpus.sh");
    assert!(status.success(), "bench/corpus.sh failed: {status}");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("results.json")).unwrap()).unwrap();
    let mut failed = Vec::new();
    for app in results["apps"].as_array().unwrap() {
        let run = &app["runs"]["kiln-onedir"];
        if run["status"] != "ok" {
            let name = app["app"].as_str().unwrap();
            let stderr = std::fs::read_to_string(
                out.path()
                    .join("logs")
                    .join(name)
                    .join("kiln-onedir.run.stderr"),
            )
            .unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
            failed.push(format!(
                "{name}: {}\n    {}",
                run["status"],
                tail.join("\n    ")
            ));
        }
    }
    assert_eq!(results["apps"].as_array().unwrap().len(), APPS.len());
    assert!(
        failed.is_empty(),
        "corpus apps failed:\n{}",
        failed.join("\n")
    );
}
