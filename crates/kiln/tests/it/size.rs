//! What a bundle leaves out: package tests, docs, stubs, C sources and build leftovers.

use std::path::Path;

use crate::support::freeze;

/// The bundle's files, and the modules its archive holds under the paths they stand for.
fn bundle_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = crate::support::archive_members(dir).into_keys().collect();
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

/// pandas imports scipy, matplotlib and SQLAlchemy only inside functions or behind
/// `try/except ImportError`. When the project declares its dependencies and those are not
/// among them, they are left out, listed in the report, and the app still runs.
#[test]
fn undeclared_optional_integrations_are_left_out() {
    let app = "declaredapp";
    let plain = crate::support::run_plain(app, &["main.py"]);
    plain.assert_success(app);
    let build = freeze(app, &["main.py"]);
    let files = bundle_files(&build.bundle_dir());
    assert!(files.iter().any(|f| f.contains("/pandas/")), "pandas ships");
    for gone in ["/scipy/", "/matplotlib/", "/sqlalchemy/"] {
        assert!(
            !files.iter().any(|f| f.contains(gone)),
            "{gone} is an undeclared optional integration and should be left out"
        );
    }
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            build
                .out_dir
                .join(format!("{}.build-report.json", build.name)),
        )
        .unwrap(),
    )
    .unwrap();
    let listed: Vec<(String, bool)> = report["optional_integrations"]
        .as_array()
        .expect("the report lists optional integrations")
        .iter()
        .map(|o| {
            (
                o["distribution"].as_str().unwrap().to_lowercase(),
                o["skipped"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(listed.contains(&("scipy".into(), true)), "{listed:?}");
    assert!(
        build.result.stdout.contains("scipy") && build.result.stdout.contains("left out"),
        "the summary names what was left out\n{}",
        build.result.stdout
    );
    let frozen = crate::support::run_hidden(&build, &[]);
    crate::support::assert_same_run(app, &plain, &frozen.run);
}

/// Without a declared dependency list nothing is left out, but `kiln check` names the
/// optional integrations and what each costs.
#[test]
fn check_lists_optional_integrations_of_an_undeclared_project() {
    let out = std::process::Command::new(crate::support::KILN)
        .args(["check", "main.py", "--json", "--python"])
        .arg(&crate::support::test_venv().python)
        .current_dir(crate::support::app_dir("pkg_pandas"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let scipy = check["optional_integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["distribution"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("scipy")
        })
        .expect("scipy is listed");
    assert!(
        scipy["installed_bytes"].as_u64().unwrap() > 10 << 20,
        "{scipy}"
    );
    assert_eq!(scipy["skipped"], false);
    assert!(
        scipy["via"][0].as_str().unwrap().starts_with("pandas."),
        "{scipy}"
    );
}
