//! What ships of a module: its optimisation level per package (`optimize-packages`, hooks'
//! `docstrings`), its source where code reads it (`keep-source`, hooks, app modules that call
//! `inspect.getsource`), and UPX-compressed native files (`--upx`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{
    assert_same_run, freeze, run_hidden, run_plain, test_venv, Build, BuildOutput, KILN,
};

/// sourceapp under plain python: every docstring, every source, asserts on.
const PLAIN: &str = "\
docpkg: docpkg doc
docpkg.deep.f: f doc
docpkg.keep: docpkg.keep doc / asserts on
plainpkg: plainpkg doc / asserts on
hookpkg: hookpkg doc
hookpkg.strict: hookpkg.strict doc
reader.own source: def own():
keptpkg.k source: def k():
keptpkg.inner.f source: def f():
hookpkg.h source: def h():
plainpkg.h source: def h():
reader file: reader.py
plainpkg file: __init__.py
kept traceback: raise ValueError(\"x\")
";

/// sourceapp frozen with its kiln.toml: `optimize = 2` strips docstrings and asserts, except
/// where `optimize-packages` says otherwise (docpkg.keep = 0) or a hook says the package reads
/// its docstrings (hookpkg: 1, but hookpkg.strict = 2 explicitly). Sources ship for keptpkg
/// (`keep-source`), hookpkg (its hook's `keep-source`) and reader (it calls
/// inspect.getsource), and not for plainpkg.
const FROZEN: &str = "\
docpkg: None
docpkg.deep.f: None
docpkg.keep: docpkg.keep doc / asserts on
plainpkg: None / asserts off
hookpkg: hookpkg doc
hookpkg.strict: None
reader.own source: def own():
keptpkg.k source: def k():
keptpkg.inner.f source: def f():
hookpkg.h source: def h():
plainpkg.h source: OSError
reader file: reader.py
plainpkg file: __init__.pyc
kept traceback: raise ValueError(\"x\")
";

fn report(build: &BuildOutput) -> serde_json::Value {
    let path = build
        .out_dir
        .join(format!("{}.build-report.json", build.name));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn why<'r>(report: &'r serde_json::Value, path: &str) -> &'r str {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str() == Some(path))
        .unwrap_or_else(|| panic!("{path} is not in the build report"))["why"]
        .as_str()
        .unwrap()
}

fn sourceapp_runs_as_configured(args: &[&str]) -> BuildOutput {
    let plain = run_plain("sourceapp", &["main.py"]);
    plain.assert_success("plain sourceapp");
    assert_eq!(plain.stdout, PLAIN, "plain sourceapp\n{plain}");
    let build = freeze("sourceapp", args);
    let frozen = run_hidden(&build, &[]);
    frozen.run.assert_success("frozen sourceapp");
    assert_eq!(
        frozen.run.stdout, FROZEN,
        "frozen sourceapp\n{}",
        frozen.run
    );

    let site = build
        .bundle_dir()
        .join("_kiln/lib/python3.11/site-packages");
    for kept in [
        "reader.py",
        "__pycache__/reader.cpython-311.pyc",
        "keptpkg/__init__.py",
        "keptpkg/__pycache__/__init__.cpython-311.pyc",
        "keptpkg/inner.py",
        "hookpkg/strict.py",
    ] {
        assert!(site.join(kept).is_file(), "{kept} ships");
    }
    for gone in ["reader.pyc", "keptpkg/__init__.pyc", "plainpkg/__init__.py"] {
        assert!(!site.join(gone).exists(), "{gone} does not ship");
    }

    let report = report(&build);
    let site = "_kiln/lib/python3.11/site-packages";
    let reader = why(&report, &format!("{site}/reader.py"));
    assert!(
        reader.contains("it reads its own source with inspect.getsource (line 13)"),
        "{reader}"
    );
    let kept = why(&report, &format!("{site}/keptpkg/inner.py"));
    assert!(kept.contains("keptpkg is named in `keep-source`"), "{kept}");
    let hooked = why(&report, &format!("{site}/hookpkg/__init__.py"));
    assert!(
        hooked.contains("hookpkg.toml says hookpkg reads its own source"),
        "{hooked}"
    );
    let level = why(&report, &format!("{site}/docpkg/keep.pyc"));
    assert!(
        level.contains("optimize 0: `optimize-packages` sets docpkg.keep = 0"),
        "{level}"
    );
    let warnings: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    for wanted in [
        "`keep-source` names not_installed_xyz, which is not in the bundle",
        "`optimize-packages` sets hookpkg.strict = 2, but the hook",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(wanted)),
            "no warning {wanted:?} in {warnings:?}"
        );
    }
    build
}

#[test]
fn per_package_levels_and_kept_sources() {
    sourceapp_runs_as_configured(&["main.py"]);
}

/// Without the module archive every module is a file: kept sources still load from their
/// `__pycache__` bytecode (at its level), not by compiling the source at run time.
#[test]
fn per_package_levels_and_kept_sources_without_the_archive() {
    sourceapp_runs_as_configured(&["main.py", "--config", "kiln-no-archive.toml"]);
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// With a real UPX: the standard library's extension modules and the shared libraries behind
/// them (OpenSSL, SQLite, libffi, ...) compressed, the bundle still runs like plain python.
#[test]
fn upx_compressed_bundle_runs_like_plain_python() {
    if on_path("upx").or_else(|| on_path("upx-ucl")).is_none() {
        eprintln!(
            "note: `upx` is not on PATH (Debian 12 has no UPX package); skipping the test \
             that runs a UPX-compressed bundle"
        );
        return;
    }
    let plain = run_plain("stdlibapp", &["main.py"]);
    plain.assert_success("plain stdlibapp");
    let build = freeze("stdlibapp", &["main.py", "--upx"]);
    let frozen = run_hidden(&build, &[]);
    assert_same_run("stdlibapp with --upx", &plain, &frozen.run);
    let dynload = build.bundle_dir().join("_kiln/lib/python3.11/lib-dynload");
    let packed = std::fs::read_dir(&dynload)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read(e.path())
                .map(|b| memchr::memmem::find(&b, b"UPX!").is_some())
                .unwrap_or(false)
        })
        .count();
    assert!(
        packed > 0,
        "no extension module in {} is packed",
        dynload.display()
    );
}

/// A stand-in `upx` that logs what it is given and copies it unchanged, except that it fails
/// on `_ssl` after writing junk: kiln must hand it only extension modules and shared libraries
/// other than libpython, and ship the original of a file UPX fails on.
#[test]
fn upx_gets_native_files_and_a_failure_ships_the_original() {
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("log");
    let upx = tools.path().join("upx");
    std::fs::write(
        &upx,
        format!(
            "#!/bin/sh\n\
             [ \"$1 $2 $3\" = '--best -q -o' ] || {{ echo \"unexpected arguments: $*\" >&2; exit 9; }}\n\
             echo \"$5\" >> '{}'\n\
             case \"$5\" in\n\
             */_ssl.*) printf junk > \"$4\"; echo \"upx: $5: CantPackException: need DT_INIT\" >&2; exit 1;;\n\
             esac\n\
             cp \"$5\" \"$4\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&upx, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(std::iter::once(tools.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();

    let plain = run_plain("stdlibapp", &["main.py"]);
    plain.assert_success("plain stdlibapp");
    let build = Build::new("stdlibapp")
        .args(["main.py", "--upx"])
        .env("PATH", &path)
        .success();
    let frozen = run_hidden(&build, &[]);
    assert_same_run("stdlibapp with a stand-in upx", &plain, &frozen.run);

    let given = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = given
        .lines()
        .map(|l| Path::new(l).file_name().unwrap().to_str().unwrap())
        .collect();
    for wanted in [
        "_ssl.cpython-311-x86_64-linux-gnu.so",
        "_sqlite3.cpython-311-x86_64-linux-gnu.so",
    ] {
        assert!(
            names.contains(&wanted),
            "upx was not given {wanted}: {names:?}"
        );
    }
    for name in &names {
        assert!(
            !name.starts_with("libpython"),
            "libpython is never compressed"
        );
        assert!(
            !name.starts_with("python"),
            "the interpreter is not compressed"
        );
        assert!(name.contains(".so"), "only shared objects: {name}");
    }
    let warnings = report(&build)["warnings"].to_string();
    assert!(
        warnings.contains("_ssl.cpython-311-x86_64-linux-gnu.so was not compressed with UPX")
            && warnings.contains("CantPackException"),
        "{warnings}"
    );
}

#[test]
fn upx_without_the_program_fails_naming_the_flag() {
    let empty = tempfile::tempdir().unwrap();
    let build = Build::new("stdlibapp")
        .args(["main.py", "--upx"])
        .env("PATH", empty.path())
        .run();
    assert!(!build.result.status.success(), "{}", build.result);
    assert!(
        build
            .result
            .stderr
            .contains("`--upx` = true: needs the `upx` program, which is not on PATH"),
        "{}",
        build.result
    );
    // The same from the configuration, through `kiln check`.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.py"), "print(1)\n").unwrap();
    std::fs::write(
        dir.path().join("kiln.toml"),
        "entry = \"main.py\"\nupx = true\n",
    )
    .unwrap();
    let out = std::process::Command::new(KILN)
        .args(["check", "--python"])
        .arg(&test_venv().python)
        .current_dir(dir.path())
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("`upx` = true"),
        "{stderr}"
    );
}
