//! Modules and files an app loads at run time, found without any configuration.

use crate::support::{assert_same_run, freeze, run_hidden, run_plain};

/// Services by f-string, connectors by `pkgutil.iter_modules`, plugins by `walk_packages`,
/// a template read through `Path(__file__)`, handlers named in a JSON file the app ships, a
/// directory the app puts on `sys.path`, and a logging formatter named by dotted path.
#[test]
fn dynamic_loading_is_found_without_configuration() {
    let build = freeze("dynamicapp", &["main.py"]);
    let plain = run_plain("dynamicapp", &["main.py"]);
    plain.assert_success("plain dynamicapp");
    let frozen = run_hidden(&build, &[]);
    assert_same_run("dynamicapp", &plain, &frozen.run);
}

/// Module names computed through constants, loops over literals, `join`, `%`, `.format` and
/// f-strings (standard library modules nothing else imports, so a missed one fails the run);
/// a module the app provides through `sys.modules` is not a missing import; a service named
/// only on the command line ships because the app's own tree ships whole (migrations named
/// `0001_initial` too), while a draft in it that imports something not installed does not
/// fail the build.
#[test]
fn computed_names_provided_modules_and_the_apps_own_tree() {
    let build = freeze("computedapp", &["main.py"]);
    let plain = run_plain("computedapp", &["main.py", "reports"]);
    plain.assert_success("plain computedapp");
    let frozen = run_hidden(&build, &["reports"]);
    assert_same_run("computedapp", &plain, &frozen.run);

    let report = crate::support::check_json("computedapp", &[]);
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    let conditional = report["conditional"].to_string();
    assert!(
        conditional.contains("appconfig") && conditional.contains("provided_by"),
        "appconfig is listed as provided at run time: {conditional}"
    );
    assert!(
        conditional.contains("not_installed_anywhere"),
        "the draft's missing import is reported, not fatal: {conditional}"
    );
}

/// `kiln trace` records what a run imports: a backend named in a settings file, and, for a
/// server traced until its health URL answers, what serving a request loaded. Traces of two
/// runs add up; the build ships what they recorded (`kiln why` says `traced`), and the frozen
/// app runs where the untraced build could not know its backend.
#[test]
fn traced_runs_are_evidence_for_the_build() {
    let python = crate::support::test_venv().python.clone();
    let port = crate::support::free_port();
    let trace_python = python.clone();
    let build = crate::support::Build::new("tracedapp")
        .args(["main.py"])
        .prepare(move |app| {
            let trace = |extra: &[String]| {
                let out = std::process::Command::new(crate::support::KILN)
                    .args(["trace", "main.py", "--python"])
                    .arg(&trace_python)
                    .args(extra)
                    .current_dir(app)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "kiln trace {extra:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            trace(&["--".into(), "show".into()]);
            trace(&[
                "--health".into(),
                format!("http://127.0.0.1:{port}/health"),
                "--".into(),
                "serve".into(),
                port.to_string(),
            ]);
        })
        .success();
    let app = build.root().join("app");
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(app.join("kiln-trace.json")).unwrap()).unwrap();
    let modules = recorded["modules"].to_string();
    assert!(
        modules.contains("\"colorsys\"") && modules.contains("\"wave\""),
        "both runs are recorded: {modules}"
    );
    let why = std::process::Command::new(crate::support::KILN)
        .args(["why", "wave", "main.py", "--python"])
        .arg(&python)
        .current_dir(&app)
        .output()
        .unwrap();
    let why = String::from_utf8_lossy(&why.stdout);
    assert!(why.contains("traced"), "{why}");

    let plain = run_plain("tracedapp", &["main.py", "show"]);
    plain.assert_success("plain tracedapp");
    let frozen = run_hidden(&build, &["show"]);
    assert_same_run("tracedapp", &plain, &frozen.run);
}

/// What kiln asks the target interpreter is kept between runs, and asked again once its
/// search path changes: a `.pth` file added to site-packages puts a directory on `sys.path`,
/// and the next check finds the module there.
#[test]
fn the_interpreter_is_asked_again_when_its_search_path_changes() {
    let tmp = crate::support::temp_dir("interpreter-cache");
    let venv = tmp.path().join("venv");
    crate::support::run_checked(
        std::process::Command::new(&crate::support::test_venv().python)
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
        "python -m venv",
    );
    let app = tmp.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("main.py"), "import pthmod\nprint(pthmod.VALUE)\n").unwrap();
    let cache = tmp.path().join("cache");
    let check = || {
        std::process::Command::new(crate::support::KILN)
            .args(["check", "main.py", "--json", "--python"])
            .arg(venv.join("bin/python"))
            .env("KILN_CACHE_DIR", &cache)
            .current_dir(&app)
            .output()
            .unwrap()
    };
    let before = check();
    assert!(
        !before.status.success(),
        "pthmod is not on the search path yet"
    );
    assert!(
        String::from_utf8_lossy(&before.stdout).contains("pthmod"),
        "{}",
        String::from_utf8_lossy(&before.stdout)
    );
    let kept = std::fs::read_dir(cache.join("interpreter"))
        .unwrap()
        .count();
    assert_eq!(kept, 1, "the interpreter's description is kept");

    let extra = tmp.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("pthmod.py"), "VALUE = 1\n").unwrap();
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages");
    std::fs::write(site.join("extra.pth"), format!("{}\n", extra.display())).unwrap();
    let after = check();
    assert!(
        after.status.success(),
        "{}{}",
        String::from_utf8_lossy(&after.stdout),
        String::from_utf8_lossy(&after.stderr)
    );
}
