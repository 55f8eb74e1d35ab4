//! Bad input, as a careless or a hostile user gives it: every case must end with a non-zero
//! exit and a message that says what is wrong and where (a flag, a config key, file:line),
//! without a panic, and without changing anything outside the output directory (nor leaving a
//! staging directory behind).
//!
//! Each case runs in a fresh project directory holding a small stdlib-only app, with the base
//! interpreter of the test venv (no packages are needed).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::support::{test_venv, KILN};

/// One kind of bad input.
struct Case {
    name: &'static str,
    /// Files of the project (path relative to it, content), besides `main.py`.
    files: &'static [(&'static str, &'static str)],
    /// Arguments after `kiln`; `{py}` is the interpreter, `{dir}` the project directory.
    args: &'static [&'static str],
    /// What the message must contain (all of them).
    expect: &'static [&'static str],
    /// More preparation than files.
    setup: Option<fn(&Path)>,
}

const MAIN: &str = "import json\nprint(json.dumps({'ok': True}))\n";

macro_rules! case {
    ($name:literal, files: $files:expr, args: $args:expr, expect: $expect:expr $(, setup: $setup:expr)? $(,)?) => {
        Case {
            name: $name,
            files: $files,
            args: $args,
            expect: $expect,
            setup: case!(@setup $($setup)?),
        }
    };
    (@setup) => { None };
    (@setup $s:expr) => { Some($s) };
}

const NONE: &[(&str, &str)] = &[];

fn cases() -> Vec<Case> {
    vec![
        // --- the command line -------------------------------------------------------------
        case!("unknown subcommand", files: NONE, args: &["frobnicate"], expect: &["frobnicate"]),
        case!("unknown flag", files: NONE, args: &["build", "main.py", "--frobnicate"], expect: &["--frobnicate"]),
        case!("two entries", files: NONE, args: &["build", "main.py", "-m", "json.tool", "--python", "{py}"], expect: &["both a script and a module"]),
        case!("no entry", files: NONE, args: &["build", "--python", "{py}"], expect: &["no entry given"]),
        case!("entry missing", files: NONE, args: &["build", "nothere.py", "--python", "{py}"], expect: &["nothere.py", "does not exist"]),
        case!("entry is a directory", files: &[("sub/x.py", "")], args: &["build", "sub", "--python", "{py}"], expect: &["sub", "is a directory"]),
        case!("entry is a fifo", files: NONE, args: &["build", "pipe", "--python", "{py}"], expect: &["pipe", "not a regular file"], setup: |d| {
            let c = std::ffi::CString::new(d.join("pipe").to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        }),
        case!("entry is /dev/null", files: NONE, args: &["build", "/dev/null", "--python", "{py}"], expect: &["/dev/null", "not a regular file"]),
        case!("syntax error in the app", files: &[("bad.py", "x = 1\ndef f(:\n")], args: &["build", "bad.py", "--python", "{py}"], expect: &["bad.py:2"]),
        case!("syntax error in an app module", files: &[("app.py", "import helper\n"), ("helper.py", "\n\nclass (:\n")], args: &["build", "app.py", "--python", "{py}"], expect: &["helper.py:3"]),
        case!("app imports a missing module", files: &[("app.py", "import os\nimport notinstalled_xyz\n")], args: &["build", "app.py", "--python", "{py}"], expect: &["notinstalled_xyz", "app.py:2"]),
        case!("check fails on a missing module", files: &[("app.py", "import notinstalled_xyz\n")], args: &["check", "app.py", "--python", "{py}"], expect: &["notinstalled_xyz", "app.py:1"]),
        case!("module not a dotted name", files: NONE, args: &["build", "-m", "1abc", "--python", "{py}"], expect: &["-m", "1abc", "dotted"]),
        case!("module not installed", files: NONE, args: &["build", "-m", "nosuchmodule_xyz", "--python", "{py}"], expect: &["nosuchmodule_xyz"]),
        case!("module function missing", files: NONE, args: &["build", "-m", "json.tool:nosuchfunc", "--python", "{py}"], expect: &["json.tool:nosuchfunc", "tool.py", "nosuchfunc"]),
        case!("app function missing", files: &[("cli.py", "def main():\n    return 0\n")], args: &["build", "-m", "cli:mian", "--python", "{py}"], expect: &["cli.py", "mian"]),
        case!("optimize out of range", files: NONE, args: &["build", "main.py", "--optimize", "3", "--python", "{py}"], expect: &["--optimize", "0, 1 or 2"]),
        case!("optimize not a number", files: NONE, args: &["build", "main.py", "--optimize", "high"], expect: &["--optimize", "high"]),
        case!("compression level too high", files: NONE, args: &["build", "main.py", "--onefile", "--compression-level", "99", "--python", "{py}"], expect: &["--compression-level"]),
        case!("compression level zero", files: NONE, args: &["build", "main.py", "--onefile", "--compression-level", "0", "--python", "{py}"], expect: &["--compression-level"]),
        case!("empty name", files: NONE, args: &["build", "main.py", "--name", "", "--python", "{py}"], expect: &["--name", "plain file name"]),
        case!("name with a slash", files: NONE, args: &["build", "main.py", "--name", "a/b", "--python", "{py}"], expect: &["--name", "a/b"]),
        case!("name with a newline", files: NONE, args: &["build", "main.py", "--name", "a\nb", "--python", "{py}"], expect: &["--name", "control characters"]),
        case!("name with a tab", files: NONE, args: &["build", "main.py", "--name", "a\tb", "--python", "{py}"], expect: &["--name", "control characters"]),
        case!("hidden name", files: NONE, args: &["build", "main.py", "--name", ".app", "--python", "{py}"], expect: &["--name", ".app"]),
        case!("name python", files: NONE, args: &["build", "main.py", "--name", "python", "--python", "{py}"], expect: &["--name", "python"]),
        case!("name too long", files: NONE, args: &["build", "main.py", "--name", "{long}", "--python", "{py}"], expect: &["--name", "too long", "200 bytes"]),
        case!("min-glibc not a version", files: NONE, args: &["build", "main.py", "--min-glibc", "3", "--python", "{py}"], expect: &["--min-glibc", "glibc version"]),
        case!("config min-glibc not a version", files: &[("kiln.toml", "entry = \"main.py\"\nmin-glibc = \"two\"\n")], args: &["build", "--python", "{py}"], expect: &["min-glibc", "two"]),
        case!("interpreter missing", files: NONE, args: &["build", "main.py", "--python", "/nonexistent/python3"], expect: &["/nonexistent/python3", "does not exist"]),
        case!("interpreter prints nothing", files: NONE, args: &["build", "main.py", "--python", "/bin/true"], expect: &["/bin/true", "printed nothing"]),
        case!("interpreter fails", files: NONE, args: &["build", "main.py", "--python", "/bin/false"], expect: &["/bin/false", "exited"]),
        case!("interpreter is Python 2", files: NONE, args: &["build", "main.py", "--python", "{py2}"], expect: &["python 2.7", "unsupported version", "3.9 to 3.14"]),
        case!("interpreter is Python 3.8", files: NONE, args: &["build", "main.py", "--python", "{py38}"], expect: &["cpython 3.8", "unsupported version"]),
        case!("interpreter never exits", files: &[("slow", "#!/bin/sh\nsleep 300\n")], args: &["build", "main.py", "--python", "{dir}/slow"], expect: &["slow", "did not finish within"], setup: |d| executable(&d.join("slow"))),
        case!("interpreter floods its output", files: &[("flood", "#!/bin/sh\nexec yes\n")], args: &["build", "main.py", "--python", "{dir}/flood"], expect: &["flood", "printed more than"], setup: |d| executable(&d.join("flood"))),
        case!("interpreter prints garbage", files: &[("garbage", "#!/bin/sh\necho '{not json'\n")], args: &["build", "main.py", "--python", "{dir}/garbage"], expect: &["garbage", "unreadable description"], setup: |d| executable(&d.join("garbage"))),
        case!("interpreter is a directory", files: &[("pydir/x", "")], args: &["build", "main.py", "--python", "{dir}/pydir"], expect: &["pydir"]),
        case!("interpreter not executable", files: &[("noexec", "#!/bin/sh\n")], args: &["build", "main.py", "--python", "{dir}/noexec"], expect: &["noexec", "Permission denied"]),
        // --- what the build would replace -----------------------------------------------------
        case!("output replaces a source package", files: &[("app.py", "import mylib\n"), ("mylib/__init__.py", "")], args: &["build", "app.py", "--out", ".", "--name", "mylib", "--python", "{py}"], expect: &["mylib", "a module of the app"]),
        case!("output replaces the project", files: NONE, args: &["build", "main.py", "--out", "..", "--name", "{dirname}", "--python", "{py}"], expect: &["the app's directory"]),
        case!("onefile replaces the entry script", files: NONE, args: &["build", "main.py", "--onefile", "--out", ".", "--name", "main.py", "--python", "{py}"], expect: &["main.py", "the entry script"]),
        case!("output is a foreign directory", files: &[("dist/main/notes.txt", "mine")], args: &["build", "main.py", "--python", "{py}"], expect: &["dist/main", "not written by kiln"]),
        case!("output is a foreign file", files: &[("dist/main", "mine")], args: &["build", "main.py", "--onefile", "--python", "{py}"], expect: &["dist/main", "not written by kiln"]),
        case!("output is a symlink", files: &[("elsewhere/keep.txt", "mine")], args: &["build", "main.py", "--python", "{py}"], expect: &["dist/main", "symbolic link"], setup: |d| {
            std::fs::create_dir_all(d.join("dist")).unwrap();
            std::os::unix::fs::symlink(d.join("elsewhere"), d.join("dist/main")).unwrap();
        }),
        case!("report file is foreign", files: &[("dist/main.build-report.json", "{\"mine\": true}")], args: &["build", "main.py", "--python", "{py}"], expect: &["main.build-report.json", "not written by kiln"]),
        case!("sbom file is foreign", files: &[("dist/main.cdx.json", "{}")], args: &["build", "main.py", "--python", "{py}"], expect: &["main.cdx.json", "not written by kiln"]),
        case!("output inside the interpreter", files: NONE, args: &["build", "main.py", "--out", "{prefix}/kiln-out", "--python", "{py}"], expect: &["lies inside", "interpreter"]),
        case!("output inside an app package", files: &[("app.py", "import mylib\n"), ("mylib/__init__.py", "")], args: &["build", "app.py", "--out", "mylib/out", "--python", "{py}"], expect: &["lies inside", "mylib"]),
        case!("output directory is a file", files: &[("out", "a file")], args: &["build", "main.py", "--out", "out", "--python", "{py}"], expect: &["out"]),
        // --- configuration ------------------------------------------------------------------
        case!("config file missing", files: NONE, args: &["build", "main.py", "--config", "nothere.toml", "--python", "{py}"], expect: &["nothere.toml"]),
        case!("config unknown key", files: &[("kiln.toml", "\nentyr = \"main.py\"\n")], args: &["build", "--python", "{py}"], expect: &["kiln.toml:2", "entyr", "entry"]),
        case!("config unknown key archive typo", files: &[("kiln.toml", "entry = \"main.py\"\narchiv = false\n")], args: &["build", "--python", "{py}"], expect: &["kiln.toml:2", "archiv", "`archive`"]),
        case!("config wrong type", files: &[("kiln.toml", "entry = \"main.py\"\noptimize = \"high\"\n")], args: &["build", "--python", "{py}"], expect: &["kiln.toml:2", "`optimize`"]),
        case!("config bad toml", files: &[("kiln.toml", "entry = \"main.py\"\n[oops\n")], args: &["build", "--python", "{py}"], expect: &["kiln.toml:2"]),
        case!("config optimize-packages level", files: &[("kiln.toml", "entry = \"main.py\"\noptimize-packages = { json = 5 }\n")], args: &["build", "--python", "{py}"], expect: &["optimize-packages.json"]),
        case!("config optimize-packages name", files: &[("kiln.toml", "entry = \"main.py\"\noptimize-packages = { \"a b\" = 1 }\n")], args: &["build", "--python", "{py}"], expect: &["optimize-packages", "a b"]),
        case!("config hidden import missing", files: &[("kiln.toml", "entry = \"main.py\"\nhidden-imports = [\"nosuch_xyz\"]\n")], args: &["build", "--python", "{py}"], expect: &["nosuch_xyz", "hidden-imports"]),
        case!("config hidden import not dotted", files: &[("kiln.toml", "entry = \"main.py\"\nhidden-imports = [\"1bad\"]\n")], args: &["build", "--python", "{py}"], expect: &["hidden-imports", "1bad"]),
        case!("config collect missing", files: &[("kiln.toml", "entry = \"main.py\"\ncollect = [\"nosuch_xyz\"]\n")], args: &["build", "--python", "{py}"], expect: &["nosuch_xyz"]),
        case!("config exclude not dotted", files: &[("kiln.toml", "entry = \"main.py\"\nexclude = [\"a-b\"]\n")], args: &["build", "--python", "{py}"], expect: &["exclude", "a-b"]),
        case!("config keep-source not dotted", files: &[("kiln.toml", "entry = \"main.py\"\nkeep-source = [\"x y\"]\n")], args: &["build", "--python", "{py}"], expect: &["keep-source", "x y"]),
        case!("config data source missing", files: &[("kiln.toml", "entry = \"main.py\"\ndata = [{ src = \"nothere\" }]\n")], args: &["build", "--python", "{py}"], expect: &["data", "nothere", "does not exist"]),
        case!("config data escapes the bundle", files: &[("kiln.toml", "entry = \"main.py\"\ndata = [{ src = \"cfg\", dest = \"../../etc\" }]\n"), ("cfg/a.txt", "a")], args: &["build", "--python", "{py}"], expect: &["data", "../../etc", "relative path inside the bundle"]),
        case!("config data takes a module's place", files: &[("kiln.toml", "entry = \"main.py\"\ndata = [{ src = \"helper.txt\", dest = \"helper.pyc\" }]\n"), ("main.py", "import helper\n"), ("helper.py", "X = 1\n"), ("helper.txt", "not bytecode")], args: &["build", "--python", "{py}"], expect: &["`data`", "helper.txt", "helper.pyc", "module helper"]),
        case!("config data takes kiln's archive place", files: &[("kiln.toml", "entry = \"main.py\"\ndata = [{ src = \"x.bin\", dest = \"../../_kiln_modules.bin\" }]\n"), ("x.bin", "x")], args: &["build", "--python", "{py}"], expect: &["data", "relative path inside the bundle"]),
        case!("config bad component name", files: &[("kiln.toml", "[components.\"a b\"]\nentry = \"main.py\"\n")], args: &["build", "--python", "{py}"], expect: &["components.a b", "letters, digits"]),
        case!("config component without entry", files: &[("kiln.toml", "[components.ui]\n")], args: &["build", "--python", "{py}"], expect: &["components.ui.entry", "exactly one"]),
        case!("config upx without upx", files: &[("kiln.toml", "entry = \"main.py\"\nupx = true\n")], args: &["build", "--python", "{py}"], expect: &["upx"]),
        case!("config optional-integrations value", files: &[("kiln.toml", "entry = \"main.py\"\noptional-integrations = \"maybe\"\n")], args: &["build", "--python", "{py}"], expect: &["kiln.toml:2", "maybe"]),
        case!("config hook dir missing", files: &[("kiln.toml", "entry = \"main.py\"\nhook-dirs = [\"myhooks\"]\n")], args: &["build", "--python", "{py}"], expect: &["myhooks"]),
        case!("config package-data wrong type", files: &[("kiln.toml", "entry = \"main.py\"\npackage-data = { json = \"x\" }\n")], args: &["build", "--python", "{py}"], expect: &["kiln.toml:2", "`package-data`"]),
        case!("pyproject unknown key", files: &[("pyproject.toml", "[project]\nname = \"x\"\n\n[tool.kiln]\nentyr = \"main.py\"\n")], args: &["build", "--python", "{py}"], expect: &["pyproject.toml:5", "entyr"]),
        // --- hooks --------------------------------------------------------------------------
        case!("hook bad toml", files: &[("kiln.toml", "entry = \"main.py\"\nhook-dirs = [\"h\"]\n"), ("h/json.toml", "module = \"json\"\nhidden-imports = [\n")], args: &["build", "--python", "{py}"], expect: &["json.toml"]),
        case!("hook unknown key", files: &[("kiln.toml", "entry = \"main.py\"\nhook-dirs = [\"h\"]\n"), ("h/json.toml", "module = \"json\"\nhiden-imports = [\"x\"]\n")], args: &["build", "--python", "{py}"], expect: &["json.toml:2", "hiden-imports"]),
        case!("hook without module", files: &[("kiln.toml", "entry = \"main.py\"\nhook-dirs = [\"h\"]\n"), ("h/json.toml", "data = [\"*.txt\"]\n")], args: &["build", "--python", "{py}"], expect: &["json.toml", "module"]),
        case!("hook env name", files: &[("kiln.toml", "entry = \"main.py\"\nhook-dirs = [\"h\"]\n"), ("h/json.toml", "module = \"json\"\n\n[env]\n\"A B\" = \"x\"\n")], args: &["build", "--python", "{py}"], expect: &["json.toml:4", "A B", "environment variable name"]),
        case!("hook hidden import missing", files: &[("kiln.toml", "entry = \"main.py\"\nhook-dirs = [\"h\"]\n"), ("h/json.toml", "module = \"json\"\nhidden-imports = [\"nosuch_xyz\"]\n")], args: &["build", "--python", "{py}"], expect: &["nosuch_xyz", "json.toml"]),
        case!("hook hidden import not dotted", files: &[("kiln.toml", "entry = \"main.py\"\nhook-dirs = [\"h\"]\n"), ("h/json.toml", "module = \"json\"\nhidden-imports = [\"a/b\"]\n")], args: &["build", "--python", "{py}"], expect: &["json.toml:2", "a/b", "dotted"]),
        // --- other commands -------------------------------------------------------------------
        case!("why without an entry", files: NONE, args: &["why", "json", "--python", "{py}"], expect: &["no entry given"]),
        case!("report of nothing", files: NONE, args: &["report", "nothere.json"], expect: &["nothere.json"]),
        case!("report of a foreign file", files: &[("r.json", "{\"a\": 1}")], args: &["report", "r.json"], expect: &["r.json"]),
        case!("report page is foreign", files: &[("dist/app.build-report.json", "{}"), ("dist/app.report.html", "<html>mine</html>")], args: &["report", "dist/app.build-report.json"], expect: &["app.report.html"], setup: |d| {
            // A real report's shape is needed to get as far as the page: take one from a build.
            let out = Command::new(KILN)
                .args(["build", "main.py", "--name", "app", "--out"])
                .arg(d.join("built"))
                .arg("--python")
                .arg(&test_venv().python)
                .current_dir(d)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            std::fs::copy(d.join("built/app.build-report.json"), d.join("dist/app.build-report.json")).unwrap();
            std::fs::remove_dir_all(d.join("built")).unwrap();
        }),
        case!("cache clean negative days", files: NONE, args: &["cache", "clean", "--older-than", "-1"], expect: &["--older-than"]),
        case!("graph unknown format", files: NONE, args: &["graph", "main.py", "--format", "xml"], expect: &["xml"]),
    ]
}

fn executable(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every path under `root` with its size, mode and modification time (symlinks not followed);
/// paths under `skip` (the output directory) are left out.
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, (u64, u32, i64)> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| !e.path().starts_with(skip))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            let size = if m.is_dir() { 0 } else { m.len() };
            Some((
                e.path().to_path_buf(),
                (size, m.mode(), m.mtime() * 1_000_000_000 + m.mtime_nsec()),
            ))
        })
        .collect()
}

#[test]
fn bad_input_fails_cleanly_with_a_message_that_says_what_and_where() {
    let python = test_venv().python.clone();
    let prefix = test_venv().dir.clone();
    let cases = cases();
    assert!(cases.len() >= 60, "only {} kinds of bad input", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let root = tempfile::Builder::new()
            .prefix("kiln-bad-input-")
            .tempdir()
            .unwrap();
        let project = root.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("main.py"), MAIN).unwrap();
        for (path, text) in case.files {
            let path = project.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        if let Some(setup) = case.setup {
            setup(&project);
        }
        let long = "a".repeat(250);
        // Old interpreters from pyenv, where the machine has them.
        let old = |v: &str| {
            let p = PathBuf::from(format!("/root/.pyenv/versions/{v}/bin/python"));
            p.is_file().then_some(p)
        };
        let (py2, py38) = (old("2.7.18"), old("3.8.18"));
        let missing_old = case.args.iter().any(|a| {
            (a.contains("{py2}") && py2.is_none()) || (a.contains("{py38}") && py38.is_none())
        });
        if missing_old {
            eprintln!("{}: skipped, no such interpreter here", case.name);
            continue;
        }
        let args: Vec<String> = case
            .args
            .iter()
            .map(|a| {
                a.replace("{py}", python.to_str().unwrap())
                    .replace("{dir}", project.to_str().unwrap())
                    .replace("{dirname}", "project")
                    .replace("{prefix}", prefix.to_str().unwrap())
                    .replace("{long}", &long)
                    .replace(
                        "{py2}",
                        &py2.as_deref().unwrap_or(Path::new("")).to_string_lossy(),
                    )
                    .replace(
                        "{py38}",
                        &py38.as_deref().unwrap_or(Path::new("")).to_string_lossy(),
                    )
            })
            .collect();
        // The output directory of a build may gain kiln's own files; nothing else may change.
        let out = project.join("dist");
        let before = snapshot(root.path(), &out);
        let before_prefix = std::fs::read_dir(&prefix).unwrap().count();
        let mut cmd = Command::new(KILN);
        cmd.args(&args)
            .current_dir(&project)
            .env("KILN_PYTHON_TIMEOUT", "2")
            .env("PATH", "/usr/bin:/bin")
            .env_remove("VIRTUAL_ENV")
            .env("RUST_BACKTRACE", "0");
        let started = std::time::Instant::now();
        let output = cmd.output().expect("run kiln");
        let elapsed = started.elapsed();
        // `kiln check` reports its findings on stdout; errors go to stderr.
        let stderr = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        let code = output.status.code();
        let mut problems = Vec::new();
        if code == Some(0) || code.is_none() {
            problems.push(format!(
                "exit status {:?}, expected a failure",
                output.status
            ));
        }
        if code == Some(101) || stderr.contains("panicked") {
            problems.push("kiln panicked".to_string());
        }
        for want in case.expect {
            if !stderr.contains(want) {
                problems.push(format!("the message does not contain {want:?}"));
            }
        }
        if elapsed > Duration::from_secs(60) {
            problems.push(format!("took {elapsed:?}"));
        }
        let after = snapshot(root.path(), &out);
        if before != after {
            let changed: Vec<String> = after
                .iter()
                .filter(|(p, v)| before.get(*p) != Some(*v))
                .map(|(p, _)| format!("changed {}", p.display()))
                .chain(
                    before
                        .keys()
                        .filter(|p| !after.contains_key(*p))
                        .map(|p| format!("removed {}", p.display())),
                )
                .collect();
            problems.push(format!("files outside the output changed: {changed:?}"));
        }
        let leftovers: Vec<PathBuf> = walkdir::WalkDir::new(root.path())
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".kiln-"))
            .map(|e| e.path().to_path_buf())
            .collect();
        if !leftovers.is_empty() {
            problems.push(format!("staging left behind: {leftovers:?}"));
        }
        if std::fs::read_dir(&prefix).unwrap().count() != before_prefix {
            problems.push("the interpreter's prefix changed".to_string());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: kiln {:?}\n  {}\n  stderr: {}",
                case.name,
                args,
                problems.join("\n  "),
                stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Paths that are legal on Linux and break naive tools: a project directory with a tab, a
/// newline and bytes that are not UTF-8 in its name, and a package file whose name is not
/// UTF-8. The build succeeds, writes its reports, and the bundle runs.
#[test]
fn odd_but_legal_paths_build_and_run() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let root = tempfile::Builder::new()
        .prefix("kiln-odd-paths-")
        .tempdir()
        .unwrap();
    let project = root
        .path()
        .join(OsStr::from_bytes(b"my\tproj\nect-caf\xe9"));
    std::fs::create_dir_all(project.join("pkg")).unwrap();
    std::fs::write(project.join("main.py"), "import pkg\nprint(pkg.VALUE)\n").unwrap();
    std::fs::write(project.join("pkg/__init__.py"), "VALUE = 'odd ok'\n").unwrap();
    std::fs::write(project.join(OsStr::from_bytes(b"pkg/data\xff.txt")), "x").unwrap();
    std::fs::write(project.join("kiln.toml"), "collect = [\"pkg\"]\n").unwrap();
    for args in [
        &["build", "main.py"][..],
        &["build", "main.py", "--json"][..],
        &["check", "main.py", "--json"][..],
        &["why", "pkg", "main.py"][..],
        &["graph", "main.py"][..],
        &["report", "--json"][..],
    ] {
        let out = Command::new(KILN)
            .args(args)
            .arg("--python")
            .arg(&test_venv().python)
            .current_dir(&project)
            .output()
            .unwrap();
        let out = if args[0] == "report" {
            Command::new(KILN)
                .args(args)
                .current_dir(&project)
                .output()
                .unwrap()
        } else {
            out
        };
        assert!(
            out.status.success(),
            "kiln {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let run = Command::new(project.join("dist/main/main"))
        .current_dir(root.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "odd ok\n");
    assert!(project.join("dist/main.build-report.json").is_file());
}

/// `kiln report` takes the page's name from the report, which is data: a name that climbs out
/// of the directory or is absolute writes the page beside the report, nowhere else.
#[test]
fn report_names_cannot_point_elsewhere() {
    let root = tempfile::Builder::new()
        .prefix("kiln-report-name-")
        .tempdir()
        .unwrap();
    let project = root.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("main.py"), MAIN).unwrap();
    let out = Command::new(KILN)
        .args(["build", "main.py", "--name", "app", "--python"])
        .arg(&test_venv().python)
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = project.join("dist/app.build-report.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    for evil in ["../../escaped", "/tmp/kiln-absolute-escape"] {
        json["name"] = serde_json::Value::String(evil.to_string());
        std::fs::write(&report, serde_json::to_vec(&json).unwrap()).unwrap();
        let out = Command::new(KILN)
            .args(["report"])
            .arg(&report)
            .current_dir(&project)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let page = Path::new(evil)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(project
            .join("dist")
            .join(format!("{page}.report.html"))
            .is_file());
        assert!(!root.path().join("escaped.report.html").exists());
        assert!(!Path::new("/tmp/kiln-absolute-escape.report.html").exists());
    }
}

/// Source nested deeper than any default thread stack, in a third-party module the app imports
/// only inside a function (python runs the app; the module is never compiled): the build
/// succeeds and says it skipped the module. The app's own module nested that deep fails the
/// build naming it (CPython cannot compile it either), without a crash.
#[test]
fn deeply_nested_sources_do_not_crash_kiln() {
    let root = tempfile::Builder::new()
        .prefix("kiln-deep-")
        .tempdir()
        .unwrap();
    let site = root.path().join("site");
    let project = root.path().join("project");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    let deep = format!("x = {}\n", vec!["1"; 100_000].join("+"));
    std::fs::write(site.join("deeplib.py"), &deep).unwrap();
    // A venv of its own whose site-packages holds the deep module.
    let venv = root.path().join("venv");
    let made = Command::new(&test_venv().python)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let pth = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages/deep.pth");
    std::fs::write(&pth, format!("{}\n", site.display())).unwrap();
    std::fs::write(
        project.join("main.py"),
        "print('shallow ok')\n\ndef later():\n    import deeplib\n    return deeplib.x\n",
    )
    .unwrap();
    let build = |entry: &str| {
        Command::new(KILN)
            .args(["build", entry, "--python"])
            .arg(venv.join("bin/python"))
            .current_dir(&project)
            .output()
            .unwrap()
    };
    let out = build("main.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let run = Command::new(project.join("dist/main/main"))
        .current_dir(root.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "shallow ok\n");

    std::fs::write(project.join("own.py"), &deep).unwrap();
    std::fs::write(project.join("app.py"), "import own\n").unwrap();
    let out = build("app.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("own.py"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("overflow"),
        "{stderr}"
    );
}

/// `collect` over a package whose directory holds symbolic links back up the tree (two loops)
/// finishes, and walks each real directory once: no nested copies.
#[test]
fn symlink_loops_in_a_collected_package_are_walked_once() {
    let root = tempfile::Builder::new()
        .prefix("kiln-loops-")
        .tempdir()
        .unwrap();
    let project = root.path().join("project");
    std::fs::create_dir_all(project.join("pkg/a")).unwrap();
    std::fs::create_dir_all(project.join("pkg/b")).unwrap();
    for f in ["pkg/__init__.py", "pkg/a/__init__.py", "pkg/b/__init__.py"] {
        std::fs::write(project.join(f), "").unwrap();
    }
    std::fs::write(project.join("pkg/a/mod.py"), "X = 1\n").unwrap();
    std::os::unix::fs::symlink("..", project.join("pkg/a/up")).unwrap();
    std::os::unix::fs::symlink("../..", project.join("pkg/b/top")).unwrap();
    std::fs::write(
        project.join("main.py"),
        "import pkg.a.mod\nprint(pkg.a.mod.X)\n",
    )
    .unwrap();
    std::fs::write(project.join("kiln.toml"), "collect = [\"pkg\"]\n").unwrap();
    let mut child = Command::new(KILN)
        .args(["build", "main.py", "--json", "--python"])
        .arg(&test_venv().python)
        .current_dir(&project)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("kiln did not finish collecting a package with symlink loops");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(project.join("dist/main.build-report.json")).unwrap(),
    )
    .unwrap();
    let modules: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["module"].as_str())
        .filter(|m| m.starts_with("pkg"))
        .collect();
    assert!(modules.contains(&"pkg.a.mod"), "{modules:?}");
    assert!(
        modules.iter().all(|m| m.split('.').count() <= 4),
        "nested copies through the loops: {modules:?}"
    );
}
