//! What a bundle leaves out: package tests, docs, stubs, C sources and build leftovers.

use std::path::Path;

use crate::support::{check_json, freeze, BuildOutput};

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

/// Freezes `app`, checks that paths containing each of `ships` are in the bundle and none
/// containing `gone` is, runs it hidden like plain python, and returns the build with the
/// distributions its report lists as left out.
fn freeze_leaving_out(app: &str, ships: &[&str], gone: &[&str]) -> (BuildOutput, Vec<String>) {
    let plain = crate::support::run_plain(app, &["main.py"]);
    plain.assert_success(app);
    let build = freeze(app, &["main.py"]);
    let files = bundle_files(&build.bundle_dir());
    for path in ships {
        assert!(files.iter().any(|f| f.contains(path)), "{path} ships");
    }
    for path in gone {
        assert!(
            !files.iter().any(|f| f.contains(path)),
            "{path} ships, but the app only reaches it through optional imports or guesses"
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
    let left_out: Vec<String> = report["optional_integrations"]
        .as_array()
        .expect("the report lists optional integrations")
        .iter()
        .filter(|o| o["skipped"] == true)
        .map(|o| o["distribution"].as_str().unwrap().to_lowercase())
        .collect();
    let frozen = crate::support::run_hidden(&build, &[]);
    crate::support::assert_same_run(app, &plain, &frozen.run);
    (build, left_out)
}

/// pandas imports scipy, matplotlib and SQLAlchemy only inside functions or behind
/// `try/except ImportError`. When the project declares its dependencies and those are not
/// among them, they are left out, listed in the report, and the app still runs.
#[test]
fn undeclared_optional_integrations_are_left_out() {
    let (build, left_out) = freeze_leaving_out(
        "declaredapp",
        &["/pandas/"],
        &["/scipy/", "/matplotlib/", "/sqlalchemy/"],
    );
    assert!(left_out.contains(&"scipy".into()), "{left_out:?}");
    assert!(
        build.result.stdout.contains("scipy") && build.result.stdout.contains("left out"),
        "the summary names what was left out\n{}",
        build.result.stdout
    );
}

/// Without a declared dependency list, what a reached distribution offers as a user's extra
/// stays (`pandas[computation]` names scipy), and what nothing names is left out: `kiln check`
/// lists it with its size and the import that reaches it (pygments' image formatter imports
/// Pillow behind `try`), `kiln why` says it was left out; `--hidden-import` brings it back.
#[test]
fn check_lists_optional_integrations_of_an_undeclared_project() {
    let named = |check: &serde_json::Value, dist: &str| {
        check["optional_integrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| {
                o["distribution"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(dist)
            })
            .cloned()
    };
    let pandas = check_json("pkg_pandas", &[]);
    assert!(
        named(&pandas, "scipy").is_none(),
        "scipy is a pandas extra, kept: {pandas}"
    );
    let pygments = check_json("pkg_pygments", &[]);
    let pillow = named(&pygments, "pillow").expect("Pillow is listed");
    assert!(
        pillow["installed_bytes"].as_u64().unwrap() > 1 << 20,
        "{pillow}"
    );
    assert_eq!(pillow["skipped"], true, "{pillow}");
    assert!(
        pillow["via"][0].as_str().unwrap().starts_with("pygments."),
        "{pillow}"
    );
    // `kiln why` says where a left-out module went and the flag that brings it back.
    let why = why_json("pkg_pygments", "PIL.Image");
    let left_out = why["left_out"].as_str().unwrap_or_default();
    assert!(
        left_out.contains("optional integration") && left_out.contains("--hidden-import PIL"),
        "{why}"
    );
    let asked = check_json("pkg_pygments", &["--hidden-import", "PIL.Image"]);
    assert!(
        named(&asked, "pillow").is_none(),
        "Pillow is asked for: {asked}"
    );
}

/// The shared test venv is kept the way developers keep one: the app's stack beside mypy,
/// pytest, Sphinx, PyQt6, PyInstaller, Nuitka and cx_Freeze. pydantic's lazy `__getattr__` could
/// import any submodule (`pydantic.mypy` imports mypy), but the interpreter is asked which ones
/// the names the script uses import; rich (an in-function import) and from there Pillow and
/// PyQt6 are reached only through optional imports: none of them ships, the report says what
/// was left out (rich, the first optional import; what only rich imports is not even read),
/// and the script runs as under plain python.
#[test]
fn a_pydantic_script_in_a_developers_venv_ships_only_its_stack() {
    let (build, left_out) = freeze_leaving_out(
        "pkg_pydantic",
        &["/email_validator/"],
        &[
            "/mypy/",
            "/mypyc/",
            "/PyQt6/",
            "/sphinx/",
            "/_pytest/",
            "/setuptools/",
            "/PyInstaller/",
            "/nuitka/",
            "/cx_Freeze/",
            "/rich/",
            "/PIL/",
            "/babel/",
        ],
    );
    let size = walk_size(&build.bundle_dir());
    assert!(size < 64 << 20, "the bundle is {} MiB", size >> 20);
    assert!(left_out.contains(&"rich".to_string()), "{left_out:?}");
    assert!(!left_out.contains(&"pyqt6".to_string()), "{left_out:?}");
    // `kiln why` says why PyQt6 was not even considered.
    let why = why_json("pkg_pydantic", "PyQt6");
    let reason = why["left_out"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not read") && reason.contains("rich"),
        "{why}"
    );
}

/// `kiln why MODULE main.py --json` in `app`'s directory.
fn why_json(app: &str, module: &str) -> serde_json::Value {
    let why = std::process::Command::new(crate::support::KILN)
        .args(["why", module, "main.py", "--json", "--python"])
        .arg(&crate::support::test_venv().python)
        .current_dir(crate::support::app_dir(app))
        .output()
        .unwrap();
    serde_json::from_slice(&why.stdout).unwrap()
}

fn walk_size(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            walk_size(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// The PyQt6-Qt6 wheel holds all of Qt: every library, plugin, QML module and translation
/// (about 230 MiB). A widgets app that also makes a network request gets the plugins of QtGui
/// and QtNetwork (the offscreen platform it runs on, the TLS backends it lists) and the base
/// translations, with the Qt libraries those need; not SQL drivers, multimedia, QML or Quick.
#[test]
fn a_qt_app_ships_the_plugins_of_the_qt_modules_it_imports() {
    let (build, _) = freeze_leaving_out(
        "pkg_qt",
        &[
            "/Qt6/plugins/platforms/libqoffscreen.so",
            "/Qt6/plugins/tls/libqopensslbackend.so",
            "/Qt6/translations/qtbase_de.qm",
            "/Qt6/lib/libQt6Widgets.so.6",
            "/Qt6/lib/libQt6Network.so.6",
        ],
        &[
            "/Qt6/plugins/sqldrivers/",
            "/Qt6/plugins/multimedia/",
            "/Qt6/qml/",
            "/Qt6/lib/libQt6Quick.so",
            "/Qt6/lib/libavcodec",
            "/Qt6/translations/qtdeclarative_",
            "/PyQt6/bindings/",
            "/PyQt6/QtQml.abi3.so",
        ],
    );
    let size = walk_size(&build.bundle_dir());
    assert!(size < 160 << 20, "the bundle is {} MiB", size >> 20);
}
