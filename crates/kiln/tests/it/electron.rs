//! A frozen FastAPI backend under an Electron app's main process.
//!
//! `fixtures/electron/main.js`, run by Node (the runtime of Electron's main process), does what
//! such an app does with its backend: spawns it with `PORT` set, polls `/api/health`, makes one
//! request, stops it with SIGTERM, and checks that it exited with status 0 and left no process
//! behind. These tests run it against the `electron_backend` fixture frozen as a onedir bundle,
//! a onefile executable (first start, then a start from the warm cache) and a suite component,
//! each relocated and with the host's Pythons hidden (Node stays visible), and against
//! `python main.py` as in development.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{
    app_dir, base_env, copy_tree, fixtures_dir, freeze_mode, onefile_entries, spawn, temp_dir,
    test_venv, Hidden, Mode, RunOutput, RUN_TIMEOUT,
};

const APP: &str = "electron_backend";

/// `node` from `PATH`, or `None` (with a note) where it is not installed.
fn node() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|node| node.is_file());
    if found.is_none() {
        eprintln!("skipped: `node` is not on PATH (.ci/run installs Debian's nodejs)");
    }
    found
}

fn main_js() -> PathBuf {
    fixtures_dir().join("electron/main.js")
}

/// Checks what main.js reported about one start and stop of the backend.
fn check(run: &RunOutput, frozen: bool, what: &str) {
    assert!(run.status.success(), "{what}: main.js failed\n{run}");
    let line = run.stdout.lines().last().unwrap_or_default();
    let report: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{what}: main.js printed no JSON line: {e}\n{run}"));
    let context = format!("{what}\n{report:#}\n{run}");
    assert_eq!(report["ok"], true, "{context}");
    let mode = if frozen { "packaged" } else { "dev" };
    assert_eq!(report["mode"], mode, "{context}");
    assert_eq!(report["health"]["status"], "ok", "{context}");
    assert_eq!(report["health"]["frozen"], frozen, "{context}");
    // The pid Electron holds is the server itself: the launcher replaced itself with the
    // interpreter, so SIGTERM reaches Python and no launcher process waits in between.
    assert_eq!(report["health"]["pid"], report["pid"], "{context}");
    assert_eq!(report["sum"]["sum"], 42, "{context}");
    let worker = &report["health"]["worker_pid"];
    assert_eq!(&report["sum"]["worker_pid"], worker, "{context}");
    // Before the stop the backend's only process besides itself is the worker it started
    // through sys.executable.
    let children = report["children_before"].as_array().expect("a list");
    assert_eq!(children.len(), 1, "{context}");
    assert_eq!(&children[0]["pid"], worker, "{context}");
    assert_eq!(children[0]["why"], "descendant", "{context}");
    // SIGTERM is a clean exit, and the backend waited for its worker.
    assert_eq!(report["exit_code"], 0, "{context}");
    assert_eq!(report["exit_signal"], Value::Null, "{context}");
    assert_eq!(report["leftover"], serde_json::json!([]), "{context}");
    assert_eq!(report["stdio_closed"], true, "{context}");
    for line in ["worker stopped (status 0)", "shutdown complete"] {
        assert!(run.stderr.contains(line), "{what}: no {line:?}\n{context}");
    }
    eprintln!(
        "{what}: healthy after {} ms, exited {} ms after SIGTERM",
        report["healthy_ms"], report["stop_ms"]
    );
}

/// Runs main.js against the bundle `hidden` starts, relocated with the host's Pythons hidden.
fn run_client(node: &Path, hidden: Hidden) -> RunOutput {
    hidden.client(node, [main_js()]).output().run
}

#[test]
fn dev_mode_spawns_python_main_py() {
    let Some(node) = node() else { return };
    let root = temp_dir("kiln-it-electron-dev-");
    let app = root.path().join("app");
    copy_tree(&app_dir(APP), &app);
    let mut cmd = Command::new(&node);
    cmd.arg(main_js())
        .arg("--dev")
        .arg(&test_venv().python)
        .arg(&app)
        .current_dir(root.path());
    base_env(&mut cmd, root.path(), &[]);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    let run = spawn(&mut cmd, "node main.js --dev (venv python main.py)").output(RUN_TIMEOUT);
    check(&run, false, "dev mode");
}

/// Freezes the backend in `mode` and runs main.js against it once.
fn packaged_backend(mode: Mode, what: &str) {
    let Some(node) = node() else { return };
    let build = freeze_mode(APP, &["main.py"], mode);
    check(&run_client(&node, Hidden::new(&build)), true, what);
}

#[test]
fn onedir_backend() {
    packaged_backend(Mode::Onedir, "onedir");
}

#[test]
fn onefile_backend_cold_then_warm() {
    let Some(node) = node() else { return };
    let build = freeze_mode(APP, &["main.py"], Mode::Onefile);
    let cache = temp_dir("kiln-it-electron-cache-");
    // Each start is of a fresh copy of the executable, in the same cache.
    let start = || {
        let hidden = Hidden::new(&build)
            .cache(cache.path())
            .env("KILN_LAUNCHER_DEBUG", "1");
        run_client(&node, hidden)
    };

    let cold = start();
    check(&cold, true, "onefile, first start (empty cache)");
    assert!(
        cold.stderr.contains("onefile unpacked into"),
        "the first start unpacks\n{cold}"
    );
    let entries = onefile_entries(cache.path());
    assert_eq!(entries.len(), 1, "one cache entry: {entries:?}");

    let warm = start();
    check(&warm, true, "onefile, second start (warm cache)");
    assert!(
        warm.stderr.contains(&format!(
            "onefile already unpacked in {}",
            entries[0].display()
        )),
        "the second start runs from the entry the first one made\n{warm}"
    );
    assert_eq!(onefile_entries(cache.path()), entries);
}

#[test]
fn suite_component_backend() {
    // Hidden starts the component's launcher, `NAME-main`, beside the dispatcher.
    packaged_backend(Mode::Suite, "suite component");
}
