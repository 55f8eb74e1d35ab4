//! Integration tests: freeze the fixture apps in `tests/fixtures/apps` with the real kiln binary
//! and a real CPython, then run each bundle from a copy in another directory with the host's
//! Python installations hidden, and compare with the same app run by plain python.
//!
//! They need CPython 3.11 (`python3` on PATH, or `KILN_TEST_PYTHON`), the packages in
//! `tests/fixtures/requirements.txt` (installed once into `target/kiln-test-venv`), and root for
//! `unshare -m`, so they sit behind the `integration` feature.

#![cfg(feature = "integration")]

mod archive;
mod bad_input;
mod bytecode;
mod corpus;
mod deb;
mod electron;
mod fuzz_onefile;
mod hooks;
mod inference;
mod onefile;
mod portability;
mod pyinstaller;
mod reports;
mod rootfs;
mod size;
mod suite;
mod support;
mod torch;
mod verify;
mod wheel;

use std::time::{Duration, Instant};

use support::{
    assert_same_run, free_port, freeze_mode, http_get, run_hidden, run_plain, run_plain_with,
    spawn_plain_with, static_venv, test_venv, Build, Hidden, Mode, RunOutput, Running,
    HOST_PYTHON_PREFIXES, STATIC_PYTHON,
};

/// Runs each named build test once per output mode, as `NAME::onedir` and `NAME::onefile`,
/// and as a suite of one component (`NAME::suite`): one pipeline builds all three.
macro_rules! in_each_mode {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[test]
            fn onedir() {
                super::$name(super::Mode::Onedir)
            }
            #[test]
            fn onefile() {
                super::$name(super::Mode::Onefile)
            }
            #[test]
            fn suite() {
                super::$name(super::Mode::Suite)
            }
        })*
    };
}

in_each_mode!(
    package_app_runs_like_plain_python,
    module_entry_point_runs_like_plain_python,
    numpy_with_vendored_libraries_runs_like_plain_python,
    multiprocessing_spawn_works_without_freeze_support,
    sys_executable_runs_python_code,
    sys_executable_starts_the_app_the_pyinstaller_way,
    bundle_is_frozen_and_isolated_from_the_host,
    json_summary_is_one_json_object,
    syntax_error_in_app_fails_the_build_with_its_location,
    failed_build_keeps_the_previous_bundle,
    stdlib_extensions_with_shared_libpython,
    stdlib_extensions_with_static_debian_python,
    bundled_libraries_win_over_ld_library_path,
    fastapi_server_answers_and_stops_on_sigterm,
);

/// The harness itself: in a hidden run no host Python can start, none is on PATH, and the
/// standard library and the venv are not there.
#[test]
fn hidden_runs_cannot_reach_a_host_python() {
    let venv = test_venv();
    let script = r#"
        status=0
        for file in "$1" "$2"; do
            if [ -e "$file" ]; then echo "visible: $file"; status=1; fi
        done
        shift 2
        for python in "$@" python3 python python3.11; do
            if "$python" -c pass 2>/dev/null; then echo "runs: $python"; status=1; fi
        done
        exit $status
    "#;
    let stdlib_os = venv.stdlib.join("os.py");
    let venv_cfg = venv.dir.join("pyvenv.cfg");
    let hidden = support::run_in_hidden_env(
        "bash",
        &[
            "-c",
            script,
            "check",
            stdlib_os.to_str().unwrap(),
            venv_cfg.to_str().unwrap(),
            venv.python.to_str().unwrap(),
            STATIC_PYTHON,
            "/usr/bin/python3",
        ],
    );
    assert!(
        stdlib_os.exists() && venv_cfg.exists(),
        "the probes exist outside"
    );
    hidden.assert_success("looking for a host python in a hidden run");
    assert_eq!(hidden.stdout, "", "{hidden}");
}

fn package_app_runs_like_plain_python(mode: Mode) {
    let build = freeze_mode("pkgapp", &["main.py"], mode);

    let plain = run_plain("pkgapp", &["main.py"]);
    plain.assert_success("plain pkgapp");
    let frozen = run_hidden(&build, &[]);
    assert_same_run("pkgapp", &plain, &frozen.run);

    // Arguments pass through unchanged (spaces, non-ASCII, dashes) and the exit code comes back.
    let args = ["7", "two words", "--flag", "ünï", ""];
    let mut plain_args = vec!["main.py"];
    plain_args.extend(args);
    let plain = run_plain("pkgapp", &plain_args);
    assert_eq!(plain.status.code(), Some(7), "plain pkgapp\n{plain}");
    let frozen = run_hidden(&build, &args);
    assert_same_run("pkgapp with arguments", &plain, &frozen.run);
}

fn module_entry_point_runs_like_plain_python(mode: Mode) {
    let build = freeze_mode("pkgapp", &["-m", "myapp"], mode);
    let plain = run_plain("pkgapp", &["-m", "myapp"]);
    plain.assert_success("plain python -m myapp");
    let frozen = run_hidden(&build, &[]);
    assert_same_run("pkgapp -m myapp", &plain, &frozen.run);
}

fn numpy_with_vendored_libraries_runs_like_plain_python(mode: Mode) {
    let build = freeze_mode("nativeapp", &["main.py"], mode);
    let plain = run_plain("nativeapp", &["main.py"]);
    plain.assert_success("plain nativeapp");
    let frozen = run_hidden(&build, &[]);
    assert_same_run("nativeapp", &plain, &frozen.run);
}

fn multiprocessing_spawn_works_without_freeze_support(mode: Mode) {
    let build = freeze_mode("mpapp", &["main.py"], mode);
    let plain = run_plain("mpapp", &["main.py"]);
    plain.assert_success("plain mpapp");
    // A broken bundle tends to respawn itself in a loop: give up early.
    let frozen = Hidden::new(&build)
        .timeout(Duration::from_secs(60))
        .output();
    assert_same_run("mpapp", &plain, &frozen.run);
}

fn sys_executable_runs_python_code(mode: Mode) {
    let build = freeze_mode("subproc", &["main.py"], mode);
    let plain = run_plain("subproc", &["main.py"]);
    plain.assert_success("plain subproc");
    assert!(
        plain.stdout.contains("child returncode: 3"),
        "plain subproc\n{plain}"
    );
    let frozen = run_hidden(&build, &[]);
    assert_same_run("subproc", &plain, &frozen.run);
}

/// Code written for PyInstaller starts workers as `[sys.executable, "--worker", JOB]`: a
/// command line CPython refuses runs the app's entry instead, while `-c` keeps its meaning.
fn sys_executable_starts_the_app_the_pyinstaller_way(mode: Mode) {
    let build = freeze_mode("selfworker", &["main.py"], mode);
    let plain = run_plain("selfworker", &["main.py"]);
    plain.assert_success("plain selfworker");
    for line in [
        "worker job1: argv ['--worker', 'job1']",
        "| exit 7 |",
        "python -c: 42 0",
    ] {
        assert!(plain.stdout.contains(line), "plain selfworker\n{plain}");
    }
    let frozen = run_hidden(&build, &[]);
    assert_same_run("selfworker", &plain, &frozen.run);
}

fn bundle_is_frozen_and_isolated_from_the_host(mode: Mode) {
    let build = freeze_mode("frozenfacts", &["main.py"], mode);
    let hidden = Hidden::new(&build)
        .args(["first arg", "second"])
        .env("PYTHONPATH", "/nonexistent-dir-xyz")
        .output();
    hidden.run.assert_success("frozenfacts");
    let facts: serde_json::Value = serde_json::from_str(hidden.run.stdout.trim())
        .unwrap_or_else(|e| panic!("frozenfacts printed no JSON ({e})\n{}", hidden.run));
    let context = format!("facts: {facts:#}");

    assert_eq!(facts["frozen"], true, "sys.frozen\n{context}");
    let argv0 = facts["argv0"].as_str().expect("argv0 is a string");
    assert_eq!(
        argv0,
        hidden.exe.to_str().unwrap(),
        "sys.argv[0] is the path the bundle was started with\n{context}"
    );
    let launcher = match mode {
        Mode::Suite => "/frozenfacts-main",
        _ => "/frozenfacts",
    };
    assert!(argv0.ends_with(launcher), "{context}");
    assert_eq!(
        facts["argv"],
        serde_json::json!(["first arg", "second"]),
        "{context}"
    );

    // For onefile, the cache entry it was unpacked into.
    let bundle_dir = hidden.runtime_root.to_str().unwrap();
    let cwd = hidden.cwd.to_str().unwrap();
    let executable = facts["executable"]
        .as_str()
        .expect("executable is a string");
    assert!(
        executable.starts_with(bundle_dir),
        "sys.executable is inside the bundle\n{context}"
    );
    let path: Vec<&str> = facts["path"]
        .as_array()
        .expect("path is a list")
        .iter()
        .map(|p| p.as_str().expect("path entries are strings"))
        .collect();
    assert!(!path.is_empty(), "{context}");
    for entry in &path {
        for prefix in HOST_PYTHON_PREFIXES {
            assert!(
                !entry.starts_with(prefix),
                "sys.path entry {entry:?} is in the host's Python ({prefix})\n{context}"
            );
        }
        assert!(
            !entry.is_empty() && *entry != "." && !entry.starts_with(cwd),
            "sys.path contains the working directory ({entry:?})\n{context}"
        );
        assert!(
            !entry.contains("nonexistent-dir-xyz"),
            "PYTHONPATH leaked into sys.path\n{context}"
        );
        assert!(
            entry.starts_with(bundle_dir),
            "sys.path entry {entry:?} is outside the bundle {bundle_dir}\n{context}"
        );
    }
}

fn json_summary_is_one_json_object(mode: Mode) {
    let build = Build::new("frozenfacts")
        .mode(mode)
        .args(["main.py", "--json"])
        .success();
    let summary: serde_json::Value =
        serde_json::from_str(&build.result.stdout).unwrap_or_else(|e| {
            panic!(
                "`kiln build --json` stdout is not one JSON document: {e}\n{}",
                build.result
            )
        });
    assert!(summary.is_object(), "summary: {summary:#}");
    let expected = match mode {
        Mode::Onedir | Mode::Suite => "onedir",
        Mode::Onefile => "onefile",
    };
    assert_eq!(summary["mode"], expected, "summary: {summary:#}");
    let executable = match mode {
        Mode::Suite => &summary["components"][0]["executable"],
        _ => &summary["executable"],
    };
    assert_eq!(
        executable.as_str(),
        build.exe().to_str(),
        "summary: {summary:#}"
    );
    let report = summary["report"].as_str().unwrap_or_default();
    assert!(
        std::path::Path::new(report).is_file(),
        "the summary names the build report it wrote: {summary:#}"
    );
}

fn syntax_error_in_app_fails_the_build_with_its_location(mode: Mode) {
    let build = Build::new("badsyntax").mode(mode).args(["main.py"]).run();
    assert!(
        !build.result.status.success(),
        "building an app with a syntax error succeeded\n{}",
        build.result
    );
    let message = format!("{}{}", build.result.stdout, build.result.stderr);
    assert!(
        message.contains("broken.py:4"),
        "the error names the file and line (broken.py:4)\n{}",
        build.result
    );
    assert!(
        !message.contains("panicked at"),
        "kiln panicked instead of reporting an error\n{}",
        build.result
    );
    assert!(
        !build.exe().exists(),
        "a failed build left an executable at {}",
        build.exe().display()
    );
}

fn failed_build_keeps_the_previous_bundle(mode: Mode) {
    let out = tempfile::Builder::new()
        .prefix("kiln-it-out-")
        .tempdir()
        .expect("temporary out dir");
    let good = Build::new("pkgapp")
        .mode(mode)
        .args(["main.py"])
        .name("app")
        .out(out.path())
        .success();
    let before = run_hidden(&good, &[]);
    before.run.assert_success("the first bundle");

    let bad = Build::new("badsyntax")
        .mode(mode)
        .args(["main.py"])
        .name("app")
        .out(out.path())
        .run();
    assert!(
        !bad.result.status.success(),
        "building an app with a syntax error succeeded\n{}",
        bad.result
    );

    let after = run_hidden(&good, &[]);
    assert_same_run(
        "the bundle left in place after a failed build",
        &before.run,
        &after.run,
    );
}

fn stdlib_extensions_with_shared_libpython(mode: Mode) {
    let build = freeze_mode("stdlibapp", &["main.py"], mode);
    let plain = run_plain("stdlibapp", &["main.py"]);
    plain.assert_success("plain stdlibapp");
    let frozen = run_hidden(&build, &[]);
    assert_same_run("stdlibapp", &plain, &frozen.run);
}

fn stdlib_extensions_with_static_debian_python(mode: Mode) {
    let Some(venv) = static_venv() else {
        eprintln!("note: {STATIC_PYTHON} is not installed; skipping the static-interpreter test");
        return;
    };
    let build = Build::new("stdlibapp")
        .mode(mode)
        .args(["main.py"])
        .python(&venv.python)
        .success();
    let plain = run_plain_with(venv, "stdlibapp", &["main.py"]);
    plain.assert_success("plain stdlibapp with the static interpreter");
    let frozen = run_hidden(&build, &[]);
    assert_same_run("stdlibapp (static interpreter)", &plain, &frozen.run);
}

/// Every CPython pyenv has besides the suite's own 3.11: the core set of apps frozen and run
/// with the host's Pythons hidden, compared with the same interpreter's plain run. Versions the
/// machine lacks are skipped with a note.
macro_rules! version_matrix {
    ($($name:ident => $minor:expr),* $(,)?) => {
        $(mod $name {
            #[test]
            fn onedir() {
                super::core_set_on(super::Mode::Onedir, $minor)
            }
            #[test]
            fn onefile() {
                super::core_set_on(super::Mode::Onefile, $minor)
            }
        })*
    };
}

version_matrix!(cpython39 => 9, cpython310 => 10, cpython312 => 12, cpython313 => 13, cpython314 => 14);

/// Standard-library extension modules, multiprocessing's spawn, `sys.executable -c/-m`, numpy's
/// vendored libraries, and a FastAPI server on its health URL, stopped with SIGTERM.
fn core_set_on(mode: Mode, minor: u32) {
    let Some(venv) = support::pyenv_venv(minor) else {
        eprintln!("note: no CPython 3.{minor} from pyenv on this machine; skipping");
        return;
    };
    for app in ["stdlibapp", "mpapp", "subproc", "nativeapp"] {
        let build = Build::new(app)
            .mode(mode)
            .args(["main.py"])
            .python(&venv.python)
            .success();
        let plain = run_plain_with(venv, app, &["main.py"]);
        plain.assert_success(&format!("plain {app} with CPython 3.{minor}"));
        let frozen = Hidden::new(&build)
            .timeout(Duration::from_secs(90))
            .output();
        assert_same_run(&format!("{app} (CPython 3.{minor})"), &plain, &frozen.run);
    }
    let port = free_port();
    let (plain, _) = spawn_plain_with(venv, "server", &["main.py", &port.to_string()]);
    let plain = check_server(plain, port, "the server under plain python");
    let build = Build::new("server")
        .mode(mode)
        .args(["main.py"])
        .python(&venv.python)
        .success();
    let port = free_port();
    let (frozen, _) = Hidden::new(&build).args([port.to_string()]).spawn();
    let frozen = check_server(
        frozen,
        port,
        &format!("the frozen server (CPython 3.{minor})"),
    );
    assert_eq!(version_lines(&plain), version_lines(&frozen));
}

/// Conda and CUDA shells set LD_LIBRARY_PATH: libraries found there must not replace the
/// bundled ones, in the app or in an interpreter it starts. Files that are not libraries at
/// all stand in that directory, so loading any of them fails loudly.
fn bundled_libraries_win_over_ld_library_path(mode: Mode) {
    let build = freeze_mode("stdlibapp", &["main.py"], mode);
    let plain = run_plain("stdlibapp", &["main.py"]);
    plain.assert_success("plain stdlibapp");
    let fake = tempfile::tempdir().unwrap();
    for lib in [
        "libssl.so.3",
        "libcrypto.so.3",
        "libffi.so.8",
        "libffi.so.7",
        "libz.so.1",
        "libsqlite3.so.0",
        "libssl.so.1.1",
        "libcrypto.so.1.1",
        "libbz2.so.1.0",
        "liblzma.so.5",
    ] {
        std::fs::write(fake.path().join(lib), "not a shared library").unwrap();
    }
    let frozen = Hidden::new(&build)
        .env("LD_LIBRARY_PATH", fake.path().to_str().unwrap())
        .output();
    assert_same_run("stdlibapp with LD_LIBRARY_PATH", &plain, &frozen.run);
}

/// Waits until `GET /api/health` answers 200 and returns the body.
fn wait_healthy(server: &mut Running, port: u16, what: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if server.has_exited() {
            return Err(format!("{what} exited before it answered /api/health"));
        }
        match http_get(port, "/api/health") {
            Ok((200, body)) => return Ok(body),
            Ok(_) | Err(_) if Instant::now() >= deadline => {
                return Err(format!("{what} did not answer /api/health within 30s"))
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Checks the health answer, stops the server with SIGTERM and checks that it shut down
/// cleanly; returns what it printed.
fn check_server(mut server: Running, port: u16, what: &str) -> RunOutput {
    let body = match wait_healthy(&mut server, port, what) {
        Ok(body) => body,
        Err(message) => panic!("{message}\n{}", server.kill()),
    };
    let json: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{what}: /api/health body {body:?} is not JSON: {e}"));
    assert_eq!(json, serde_json::json!({"status": "ok"}), "{what}");

    server.signal(libc::SIGTERM);
    let output = server
        .wait_timeout(Duration::from_secs(15))
        .unwrap_or_else(|server| {
            panic!(
                "{what} did not exit within 15s of SIGTERM\n{}",
                server.kill()
            )
        });
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what} exits with status 0 after SIGTERM\n{output}"
    );
    assert!(
        output.stdout.contains("shutdown complete"),
        "{what} ran its shutdown handler\n{output}"
    );
    output
}

/// The lines in which the server reports its packages' versions (from their dist-info).
fn version_lines(output: &RunOutput) -> Vec<&str> {
    output
        .stdout
        .lines()
        .filter(|line| line.contains(" version: "))
        .collect()
}

fn fastapi_server_answers_and_stops_on_sigterm(mode: Mode) {
    // The same steps with plain python first, so that a failure below is the bundle's.
    let port = free_port();
    let (plain, _) = spawn_plain_with(test_venv(), "server", &["main.py", &port.to_string()]);
    let plain = check_server(plain, port, "the server under plain python");

    let build = freeze_mode("server", &["main.py"], mode);
    let port = free_port();
    let (frozen, _) = Hidden::new(&build).args([port.to_string()]).spawn();
    let frozen = check_server(frozen, port, "the frozen server");
    assert_eq!(version_lines(&plain).len(), 2, "plain server\n{plain}");
    assert_eq!(
        version_lines(&plain),
        version_lines(&frozen),
        "importlib.metadata sees the same distributions\n=== plain\n{plain}\n=== frozen\n{frozen}"
    );
}
