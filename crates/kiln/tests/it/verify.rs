//! `kiln test`: a good bundle passes, a broken one fails with the reason, and a server is held
//! to the desktop shell's contract (health, SIGTERM, nothing left behind).

use std::path::Path;
use std::process::Command;

use crate::support::{run_plain, Build, BuildOutput, Mode, KILN};

/// `kiln test BUNDLE --json ARGS...` in `cwd`: its exit status and what it printed.
fn kiln_test_in(cwd: &Path, build: &BuildOutput, args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(KILN)
        .current_dir(cwd)
        .arg("test")
        .arg(build.bundle_dir())
        .arg("--json")
        .args(args)
        .output()
        .expect("run kiln test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "kiln test printed no JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), printed)
}

/// `kiln test` of one case given by flags: its exit status and that case's outcome.
fn kiln_test(build: &BuildOutput, args: &[&str]) -> (i32, serde_json::Value) {
    let (code, printed) = kiln_test_in(build.root(), build, args);
    let cases = printed["cases"].as_array().expect("cases listed");
    assert_eq!(cases.len(), 1, "{printed:#}");
    assert_eq!(cases[0]["outcome"]["passed"], printed["passed"]);
    (code, cases[0]["outcome"].clone())
}

fn check<'a>(outcome: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    outcome["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {outcome:#}"))
}

/// The file of the bundle that holds `myapp/data/greeting.txt`: in the directory, or inside
/// the onefile payload (then the bundle is rebuilt without it).
fn greeting(bundle: &Path) -> std::path::PathBuf {
    walkdir::WalkDir::new(bundle)
        .into_iter()
        .filter_map(|e| e.ok())
        .find(|e| e.path().ends_with("myapp/data/greeting.txt"))
        .map(|e| e.into_path())
        .expect("the bundle carries the greeting")
}

#[test]
fn a_good_bundle_passes_and_a_removed_data_file_fails() {
    let plain = run_plain("pkgapp", &["main.py"]);
    plain.assert_success("plain pkgapp");
    let build = Build::new("pkgapp").args(["main.py"]).success();
    let expected = build.root().join("expected.txt");
    std::fs::write(&expected, &plain.stdout).unwrap();
    let expect = [
        "--expect-stdout",
        expected.to_str().unwrap(),
        "--import-all",
    ];

    let (code, outcome) = kiln_test(&build, &expect);
    assert_eq!(code, 0, "{outcome:#}");
    assert_eq!(outcome["passed"], true, "{outcome:#}");
    assert!(
        outcome["isolation"]["hidden"].as_array().unwrap().len() > 1,
        "{outcome:#}"
    );
    assert!(outcome["isolation"]["not_hidden"].is_null(), "{outcome:#}");
    let imports = check(&outcome, "every module imports");
    assert_eq!(imports["passed"], true, "{outcome:#}");
    // It ran a copy, elsewhere.
    let ran = outcome["command"][0].as_str().unwrap();
    assert!(!ran.starts_with(build.out_dir.to_str().unwrap()), "{ran}");

    // The build succeeded; the bundle loses a data file afterwards: kiln test says so.
    std::fs::remove_file(greeting(&build.bundle_dir())).unwrap();
    let (code, outcome) = kiln_test(&build, &expect);
    assert_eq!(code, 1, "{outcome:#}");
    assert_eq!(outcome["passed"], false);
    assert_eq!(
        check(&outcome, "exit status")["passed"],
        false,
        "{outcome:#}"
    );
    assert!(
        outcome["stderr"].as_str().unwrap().contains("greeting.txt"),
        "{outcome:#}"
    );
}

#[test]
fn a_missing_extension_module_fails_import_all_with_its_chain() {
    let build = Build::new("pkgapp")
        .args(["main.py"])
        .mode(Mode::Onefile)
        .success();
    let (code, outcome) = kiln_test(&build, &["--import-all"]);
    assert_eq!(code, 0, "{outcome:#}");

    // A onedir build of the same app loses an extension module whose pure-Python fallback
    // keeps the app itself running: only --import-all notices.
    let build = Build::new("pkgapp").args(["main.py"]).success();
    // Accelerators that the standard library imports in a `try`, falling back to Python.
    let accelerators = ["_heapq", "_bisect", "_json", "_datetime"];
    let (module, dynload) = walkdir::WalkDir::new(build.bundle_dir())
        .into_iter()
        .filter_map(|e| e.ok())
        .find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let module = accelerators
                .into_iter()
                .find(|m| name.starts_with(&format!("{m}.cpython-")))?;
            Some((module, e.into_path()))
        })
        .expect("the bundle carries an accelerator module");
    std::fs::remove_file(dynload).unwrap();
    let (code, outcome) = kiln_test(&build, &[]);
    assert_eq!(code, 0, "the app still runs: {outcome:#}");
    let (code, outcome) = kiln_test(&build, &["--import-all"]);
    assert_eq!(code, 1, "{outcome:#}");
    let failures = outcome["import_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{outcome:#}");
    assert_eq!(failures[0]["module"], module);
    let chain: Vec<&str> = failures[0]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(chain.first(), Some(&"__main__"), "{chain:?}");
    assert_eq!(chain.last(), Some(&module), "{chain:?}");
}

#[test]
fn a_server_is_held_to_the_desktop_shells_contract() {
    for mode in [Mode::Onedir, Mode::Onefile] {
        let build = Build::new("healthapp")
            .args(["main.py"])
            .mode(mode)
            .success();
        let (code, outcome) = kiln_test(&build, &["--health", "/api/health"]);
        assert_eq!(code, 0, "{mode:?}: {outcome:#}");
        assert_eq!(check(&outcome, "health")["passed"], true);
        assert_eq!(
            check(&outcome, "stops on SIGTERM")["detail"],
            "exit status 0",
            "{outcome:#}"
        );
        assert!(outcome["stdout"].as_str().unwrap().contains("stopped"));

        if mode == Mode::Onedir {
            // A helper process that outlives the app is caught, and stopped.
            let (code, outcome) =
                kiln_test(&build, &["--health", "/api/health", "--", "--leave-child"]);
            assert_eq!(code, 1, "{outcome:#}");
            let left = check(&outcome, "no process left behind");
            assert_eq!(left["passed"], false, "{outcome:#}");
            assert!(left["detail"].as_str().unwrap().contains("sleep"), "{left}");

            // A health path that never answers 2xx fails within the timeout.
            let (code, outcome) = kiln_test(&build, &["--health", "/nope", "--timeout", "3"]);
            assert_eq!(code, 1, "{outcome:#}");
            assert_eq!(check(&outcome, "health")["passed"], false);
        }
    }
}

/// A project's smoke cases in `[tool.kiln.test.NAME]` run when no flags name one.
#[test]
fn smoke_cases_come_from_the_projects_configuration() {
    let plain = run_plain("pkgapp", &["main.py"]);
    plain.assert_success("plain pkgapp");
    let build = Build::new("pkgapp").args(["main.py"]).success();
    let project = build.root().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("expected.txt"), &plain.stdout).unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        r#"[project]
name = "pkgapp"

[tool.kiln.test.greets]
expect-stdout = "expected.txt"

[tool.kiln.test.exit-code]
args = ["3"]
expect-exit = 3

[tool.kiln.test.wrong-code]
args = ["4"]
"#,
    )
    .unwrap();
    let (code, printed) = kiln_test_in(&project, &build, &[]);
    assert_eq!(code, 1, "{printed:#}");
    assert_eq!(printed["passed"], false);
    let verdicts: Vec<(&str, bool)> = printed["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["outcome"]["passed"] == true))
        .collect();
    assert_eq!(
        verdicts,
        [("exit-code", true), ("greets", true), ("wrong-code", false)]
    );

    // A mistyped key is named, with the file and line.
    std::fs::write(
        project.join("pyproject.toml"),
        "[tool.kiln.test.greets]\nexpect-stdoot = \"expected.txt\"\n",
    )
    .unwrap();
    let out = Command::new(KILN)
        .current_dir(&project)
        .arg("test")
        .arg(build.bundle_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pyproject.toml"), "{stderr}");
    assert!(stderr.contains("expect-stdout"), "{stderr}");
}
