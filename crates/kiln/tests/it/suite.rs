//! Suites: several executables sharing one runtime (`[tool.kiln.components.*]`).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::support::{
    assert_same_run, onefile_entries, run_hidden, run_plain, Build, Hidden, RunOutput,
};

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
    let cases: [(&str, &[&str], &[&str]); 4] = [
        ("core", &["core_main.py", "x", "y"], &["core", "x", "y"]),
        (
            "core starting itself through sys.executable",
            &["core_main.py", "--spawn-self"],
            &["core", "--spawn-self"],
        ),
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

/// Runs `exe` directly (the host's Pythons are not hidden: for starts that must fail before
/// any interpreter runs), with `cache` as the onefile cache.
fn run_direct(exe: &Path, args: &[&str], cache: &Path) -> RunOutput {
    let out = Command::new(exe)
        .args(args)
        .env(kiln_bundle::cache::DIR_ENV, cache)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    RunOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn temp(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory")
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A onefile suite has the onedir suite's layout (`DIR/NAME/NAME`, `DIR/NAME/NAME-COMPONENT`)
/// without `_kiln/`, so the harness builds and runs it as onedir with `--onefile` added.
#[test]
fn onefile_suite_runs_every_component_from_one_cache_entry() {
    let build = Build::new("suiteapp")
        .args(["--onefile", "--json"])
        .success();
    let summary: serde_json::Value =
        serde_json::from_str(&build.result.stdout).expect("--json prints the suite summary");
    assert_eq!(summary["mode"], "onefile", "{summary:#}");
    let bundle = build.bundle_dir();
    assert_eq!(
        file_names(&bundle),
        [
            "suiteapp",
            "suiteapp-analyzer",
            "suiteapp-core",
            "suiteapp-scanner"
        ],
        "the dispatcher and one launcher per component, no runtime directory"
    );
    let dispatcher = bundle.join("suiteapp");
    assert_eq!(summary["dispatcher"].as_str(), dispatcher.to_str());

    // The dispatcher carries the one payload; the component launchers only point at it.
    let (trailer, _) = kiln_bundle::Trailer::read_from_path(&dispatcher).unwrap();
    assert!(trailer.payload_len > 1024 * 1024, "{trailer:?}");
    let hash = trailer.get(kiln_bundle::keys::PAYLOAD_HASH).unwrap();
    let size = |path: &Path| fs::metadata(path).unwrap().len();
    let mut total = size(&dispatcher);
    assert_eq!(summary["dispatcher_bytes"].as_u64(), Some(total));
    for component in summary["components"].as_array().unwrap() {
        let exe = bundle.join(format!("suiteapp-{}", component["name"].as_str().unwrap()));
        assert_eq!(component["executable"].as_str(), exe.to_str());
        let (own, _) = kiln_bundle::Trailer::read_from_path(&exe).unwrap();
        assert_eq!(
            own.payload_len,
            0,
            "{} has no payload: {own:?}",
            exe.display()
        );
        assert_eq!(own.get(kiln_bundle::keys::PAYLOAD_FILE), Some("suiteapp"));
        assert_eq!(own.get(kiln_bundle::keys::PAYLOAD_HASH), Some(hash));
        assert_eq!(component["executable_bytes"].as_u64(), Some(size(&exe)));
        assert!(size(&exe) < 2 * 1024 * 1024, "{component}");
        total += size(&exe);
    }
    assert_eq!(summary["total_bytes"].as_u64(), Some(total), "{summary:#}");
    assert!(
        summary["unpacked_bytes"].as_u64().unwrap() > total,
        "{summary:#}"
    );
    assert!(
        total < summary["separate_bytes"].as_u64().unwrap(),
        "{summary:#}"
    );

    // Each component launcher and the dispatcher run as plain python runs the entry, all
    // from one cache entry.
    let cache = temp("kiln-it-suite-cache-");
    let cases: [(&str, &[&str], &[&str]); 3] = [
        ("core", &["core_main.py", "x", "y"], &["x", "y"]),
        ("analyzer", &["analyzer_main.py"], &[]),
        ("scanner", &["-m", "scanner.cli", "z"], &["z"]),
    ];
    for (component, plain_args, args) in cases {
        let plain = run_plain("suiteapp", plain_args);
        plain.assert_success(component);
        let launcher = Hidden::new(&build)
            .program(&format!("suiteapp-{component}"))
            .cache(cache.path())
            .args(args)
            .output();
        assert_same_run(component, &plain, &launcher.run);
        let dispatched = Hidden::new(&build)
            .cache(cache.path())
            .args(std::iter::once(component).chain(args.iter().copied()))
            .output();
        assert_same_run(&format!("suiteapp {component}"), &plain, &dispatched.run);
    }
    let listing = Hidden::new(&build).cache(cache.path()).output();
    assert_eq!(listing.run.status.code(), Some(0), "{}", listing.run);
    assert!(listing.run.stdout.contains("analyzer"), "{}", listing.run);

    let entries = onefile_entries(cache.path());
    assert_eq!(
        entries.len(),
        1,
        "one cache entry for the suite: {entries:?}"
    );
    assert_eq!(
        entries[0].file_name().unwrap().to_str(),
        kiln_bundle::cache::entry_name(hash)
    );
    let marker = fs::read_to_string(entries[0].join(kiln_bundle::cache::MARKER)).unwrap();
    assert_eq!(
        kiln_bundle::cache::Marker::decode(&marker).app,
        "suiteapp",
        "{marker}"
    );
}

#[test]
fn onefile_suite_component_without_its_payload_file_fails_clearly() {
    // Two components without numpy, quick to build. (`./`: a bare `--config small.toml`
    // resolves module entries against an empty directory.)
    let build = Build::new("suiteapp")
        .args([
            "--onefile",
            "--config",
            "./small.toml",
            "--compression-level",
            "1",
        ])
        .success();
    let bundle = build.bundle_dir();
    let dispatcher = fs::read(bundle.join("suiteapp")).unwrap();
    let dir = temp("kiln-it-suite-alone-");
    let cache = temp("kiln-it-suite-cache-");
    let exe = dir.path().join("suiteapp-core");
    fs::copy(bundle.join("suiteapp-core"), &exe).unwrap();
    let sibling = dir.path().join("suiteapp");
    let sibling_text = sibling.to_str().unwrap();

    let fails = |what: &str, needles: &[&str]| {
        let run = run_direct(&exe, &["x"], cache.path());
        assert_eq!(run.status.code(), Some(125), "{what}: exit status\n{run}");
        for needle in needles {
            assert!(
                run.stderr.contains(needle),
                "{what}: stderr lacks {needle:?}\n{run}"
            );
        }
        assert!(!run.stderr.contains("panicked"), "{what}: panicked\n{run}");
        assert_eq!(run.stdout, "", "{what}: the app ran\n{run}");
        assert!(onefile_entries(cache.path()).is_empty(), "{what}");
    };
    fails(
        "no payload file",
        &[sibling_text, "cannot read the suite's executable"],
    );
    fs::write(&sibling, &dispatcher[..dispatcher.len() / 2]).unwrap();
    fails("a truncated payload file", &[sibling_text, "truncated"]);
    fs::copy(bundle.join("suiteapp-scanner"), &sibling).unwrap();
    fails(
        "a launcher as the payload file",
        &[sibling_text, "no payload"],
    );

    // With the dispatcher beside it again, the lone copy runs.
    fs::write(&sibling, &dispatcher).unwrap();
    let run = run_direct(&exe, &["x"], cache.path());
    assert_eq!(run.status.code(), Some(0), "{run}");
    assert!(run.stdout.contains("\"core\""), "{run}");
    assert_eq!(onefile_entries(cache.path()).len(), 1);
}

/// A hook's `env` reaches the component whose modules the hook applies to, also when that is
/// not the first component (each component starts with its own hook environment).
#[test]
fn hook_environment_reaches_the_component_that_imports_the_package() {
    let build = Build::new("suiteapp")
        .name("envsuite")
        .args(["--config", "envsuite.toml"])
        .success();
    let probe = Hidden::new(&build).program("envsuite-probe").output();
    probe.run.assert_success("the probe component");
    assert!(
        probe
            .run
            .stdout
            .contains("\"probe\"} 1 set by the probe hook"),
        "the hook's env did not reach the second component:\n{}",
        probe.run
    );
    let core = Hidden::new(&build)
        .program("envsuite-core")
        .args(["a"])
        .output();
    core.run.assert_success("the core component");
    assert!(
        build.out_dir.join("envsuite.build-report.json").is_file(),
        "a suite writes its build report"
    );
    assert!(
        build.out_dir.join("envsuite.cdx.json").is_file(),
        "and its SBOM"
    );
}

/// `kiln build --component NAME` builds that component alone, named after it, with the suite's
/// settings (the hook directory) and nothing of the other components.
#[test]
fn one_component_builds_on_its_own() {
    let build = Build::new("suiteapp")
        .name("probe")
        .args(["--config", "envsuite.toml", "--component", "probe"])
        .success();
    assert!(
        build.bundle_dir().join("probe").is_file(),
        "{}",
        build.result
    );
    assert!(!build.bundle_dir().join("probe-core").exists());
    let run = run_hidden(&build, &[]);
    run.run.assert_success("the probe component built alone");
    assert!(
        run.run
            .stdout
            .contains("\"probe\"} 1 set by the probe hook"),
        "{}",
        run.run
    );

    let unknown = Build::new("suiteapp")
        .args(["--config", "envsuite.toml", "--component", "nope"])
        .run();
    assert!(!unknown.result.status.success());
    assert!(
        unknown.result.stderr.contains("--component") && unknown.result.stderr.contains("`probe`"),
        "{}",
        unknown.result
    );
}

/// With no entry anywhere, a project's `[project.scripts]` and `[project.gui-scripts]` are the
/// entries: several make a suite with one component per script, one makes an app named after
/// it, and each runs its `module:function` with its exit status.
#[test]
fn a_projects_scripts_are_its_entries() {
    let build = Build::new("scriptsproject").success();
    for (program, args, expected, code) in [
        (
            "scriptsproject-greet",
            &["x", "--fail"][..],
            "hello from greettool cli ['x', '--fail']",
            3,
        ),
        (
            "scriptsproject-greet-window",
            &[][..],
            "hello from greettool window True",
            0,
        ),
    ] {
        let run = Hidden::new(&build).program(program).args(args).output();
        assert_eq!(run.run.status.code(), Some(code), "{program}: {}", run.run);
        assert_eq!(run.run.stdout.trim(), expected, "{program}: {}", run.run);
    }

    // One script: an app named after it (no --name given).
    let project = temp("kiln-it-one-script-");
    crate::support::copy_tree(
        &crate::support::app_dir("scriptsproject"),
        &project.path().join("p"),
    );
    let dir = project.path().join("p");
    let pyproject = fs::read_to_string(dir.join("pyproject.toml")).unwrap();
    let one = pyproject.replace(
        "[project.gui-scripts]\ngreet-window = \"greettool.gui:main\"\n",
        "",
    );
    assert_ne!(one, pyproject);
    fs::write(dir.join("pyproject.toml"), one).unwrap();
    crate::support::run_checked(
        Command::new(crate::support::KILN)
            .current_dir(&dir)
            .args(["build", "--python"])
            .arg(&crate::support::test_venv().python),
        "kiln build of a one-script project",
    );
    let exe = dir.join("dist/greet/greet");
    let ran = Command::new(&exe)
        .arg("y")
        .current_dir(project.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "hello from greettool cli ['y']"
    );

    // A script kiln cannot freeze is named by its key.
    fs::write(
        dir.join("pyproject.toml"),
        "[project]\nname = \"x\"\n[project.scripts]\nbad = \"not a target\"\n",
    )
    .unwrap();
    let out = Command::new(crate::support::KILN)
        .current_dir(&dir)
        .arg("build")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("project.scripts.bad"), "{stderr}");
}
