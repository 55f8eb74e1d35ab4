//! What a bundle leaves out: package tests, docs, stubs, C sources and build leftovers.

use std::path::Path;

use crate::support::freeze;

fn bundle_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .to_string(),
                );
            }
        }
    }
    out
}

#[test]
fn default_exclusions_leave_out_sources_stubs_and_headers() {
    let build = freeze("nativeapp", &["main.py"]);
    let files = bundle_files(&build.bundle_dir());
    assert!(
        files.iter().any(|f| f.contains("numpy/__init__.pyc")),
        "numpy is shipped"
    );
    for f in &files {
        for suffix in [".pyi", ".pyx", ".pxd", ".a", "py.typed"] {
            assert!(!f.ends_with(suffix), "{f} should be left out");
        }
        // Headers nothing reads at run time (f2py does read its own `src/`, by path, so that
        // directory ships whole).
        assert!(
            !(f.contains("/numpy/_core/include/") && f.ends_with(".h")),
            "{f} should be left out"
        );
        assert!(!f.contains("/tests/"), "{f}: test suites are not shipped");
    }
}

#[test]
fn package_data_in_config_brings_back_what_the_defaults_leave_out() {
    let build = freeze(
        "nativeapp",
        &["main.py", "--config", "kiln-keep-headers.toml"],
    );
    let files = bundle_files(&build.bundle_dir());
    let headers: Vec<&String> = files
        .iter()
        .filter(|f| f.contains("numpy/_core/include/") && f.ends_with(".h"))
        .collect();
    assert!(
        !headers.is_empty(),
        "numpy's headers are shipped when package-data asks for them"
    );
}
