//! Suites: several executables sharing one runtime (`[tool.kiln.components.*]`).

use crate::support::{assert_same_run, run_hidden, run_plain, Build};

#[test]
fn components_share_one_runtime_and_each_runs_like_plain_python() {
    let build = Build::new("suiteapp").args(["--json"]).success();
    let summary: serde_json::Value =
        serde_json::from_str(&build.result.stdout).expect("--json prints the suite summary");
    let components = summary["components"].as_array().expect("components listed");
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["analyzer", "core", "scanner"]);
    // The UI component excludes numpy and carries almost nothing of its own.
    let core = &components[1];
    let analyzer = &components[0];
    assert!(core["unique_bytes"].as_u64().unwrap() < 64 * 1024, "{core}");
    assert!(
        analyzer["unique_bytes"].as_u64().unwrap() > 1024 * 1024,
        "numpy is the analyzer's own"
    );
    assert!(
        core["shared_bytes"].as_u64().unwrap() > 1024 * 1024,
        "the runtime is shared"
    );
    assert!(
        summary["total_bytes"].as_u64().unwrap() < summary["separate_bytes"].as_u64().unwrap(),
        "one shared runtime is smaller than separate bundles: {summary}"
    );
    for component in ["core", "analyzer", "scanner"] {
        assert!(build
            .bundle_dir()
            .join(format!("suiteapp-{component}"))
            .is_file());
    }

    // The dispatcher runs each component as plain python runs its entry.
    let cases: [(&str, &[&str], &[&str]); 3] = [
        ("core", &["core_main.py", "x", "y"], &["core", "x", "y"]),
        ("analyzer", &["analyzer_main.py"], &["analyzer"]),
        ("scanner", &["-m", "scanner.cli", "z"], &["scanner", "z"]),
    ];
    for (what, plain_args, frozen_args) in cases {
        let plain = run_plain("suiteapp", plain_args);
        plain.assert_success(what);
        let frozen = run_hidden(&build, frozen_args);
        assert_same_run(what, &plain, &frozen.run);
    }

    // Without a component the dispatcher lists them; an unknown one is an error.
    let listing = run_hidden(&build, &[]);
    assert_eq!(listing.run.status.code(), Some(0), "{}", listing.run);
    for name in ["analyzer", "core", "scanner"] {
        assert!(listing.run.stdout.contains(name), "{}", listing.run);
    }
    let unknown = run_hidden(&build, &["nope"]);
    assert_eq!(unknown.run.status.code(), Some(2), "{}", unknown.run);
    assert!(
        unknown.run.stderr.contains("unknown component"),
        "{}",
        unknown.run
    );
}

#[test]
fn a_component_reaching_a_module_it_excludes_fails_with_the_chain() {
    let out = Build::new("suiteapp")
        .args(["--config", "bad-exclude.toml"])
        .run();
    assert!(!out.result.status.success(), "{}", out.result);
    let err = &out.result.stderr;
    assert!(
        err.contains("component `core` reaches modules it excludes"),
        "{err}"
    );
    assert!(err.contains("core_main.py:3"), "{err}");
    assert!(err.contains("__main__ -> common"), "{err}");
}
