//! Old and minimal Linux systems: bundles, and kiln itself, in Debian roots.
//!
//! `scripts/debian-root` makes two roots under `target/debian-roots/`, once (debootstrap's
//! minbase variant, reused while its stamp matches): Debian 12 with nothing added, so without
//! any Python, and Debian 11 (glibc 2.31) with its own python3 (3.9), venv and pip. A program
//! runs there with `chroot`, in a private mount namespace (`unshare -m`) that holds /proc, a
//! minimal /dev with /dev/shm, and /tmp: the mounts go with the namespace's last process,
//! whatever happens to the test, and nothing stays mounted on the host. What a run needs is
//! copied into a fresh directory under the root's /opt, removed afterwards.
//!
//! These tests skip, with a note, only when debootstrap cannot reach the Debian archive.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::{
    app_dir, assert_same_run, copy_tree, fixtures_dir, free_port, pyenv_venv, run_plain,
    run_plain_with, spawn, spawn_plain_with, target_dir, test_venv, workspace_root, Build,
    BuildOutput, Mode, RunOutput, Running, RUN_TIMEOUT,
};

/// How long `pip install` inside a root may take.
const PIP_TIMEOUT: Duration = Duration::from_secs(600);

/// The oldest glibc kiln itself is built for here (manylinux2014's, as the launcher).
const KILN_GLIBC: (u32, u32) = (2, 17);

/// Mounts what a program needs in the root (given first), then runs the rest of the arguments
/// there: the working directory inside the root, the program and its arguments. Directories
/// listed in `KILN_ROOT_HIDE` (paths inside the root, one a line) are covered by empty tmpfs.
const IN_ROOT_SCRIPT: &str = r#"set -eu
root=$1
cwd=$2
shift 2
mount -t proc kiln-proc "$root/proc"
mount -t tmpfs -o size=1m,mode=0755 kiln-dev "$root/dev"
for node in null zero full random urandom tty; do
    [ -e "/dev/$node" ] || continue
    : >"$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mkdir "$root/dev/shm"
mount -t tmpfs -o mode=1777 kiln-shm "$root/dev/shm"
mount -t tmpfs -o mode=1777 kiln-tmp "$root/tmp"
# The host's name servers and certificate authorities, for pip inside the root.
for file in /etc/resolv.conf /etc/ssl/certs/ca-certificates.crt; do
    if [ -f "$file" ] && [ -f "$root$file" ] && [ ! -L "$root$file" ]; then
        mount --bind "$file" "$root$file"
    fi
done
IFS='
'
for dir in $KILN_ROOT_HIDE; do
    mount -t tmpfs -o size=1m,mode=0755 kiln-hidden "$root$dir"
done
unset KILN_ROOT_HIDE IFS
exec chroot "$root" /usr/bin/env -C "$cwd" "$@"
"#;

// ---------------------------------------------------------------------------------------------
// Roots
// ---------------------------------------------------------------------------------------------

/// A Debian system made by `scripts/debian-root`.
#[derive(Debug)]
struct Root {
    /// `Debian 12 (minimal)`, for messages.
    label: &'static str,
    dir: PathBuf,
}

/// Debian 12 as debootstrap's minbase makes it: essential packages and apt, no Python.
fn debian_12_minimal() -> Option<&'static Root> {
    static ROOT: OnceLock<Option<Root>> = OnceLock::new();
    ROOT.get_or_init(|| make_root("Debian 12 (minimal)", "bookworm-minbase"))
        .as_ref()
}

/// Debian 11 (glibc 2.31) with its python3 (3.9), venv and pip.
fn debian_11() -> Option<&'static Root> {
    static ROOT: OnceLock<Option<Root>> = OnceLock::new();
    ROOT.get_or_init(|| make_root("Debian 11", "bullseye-python"))
        .as_ref()
}

/// Makes (or reuses) root `name` of `scripts/debian-root`; `None`, with a note, when the
/// Debian archive cannot be reached.
fn make_root(label: &'static str, name: &str) -> Option<Root> {
    let dir = target_dir().join("debian-roots").join(name);
    let started = Instant::now();
    let out = Command::new(workspace_root().join("scripts/debian-root"))
        .arg(name)
        .arg(&dir)
        .output()
        .expect("run scripts/debian-root");
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {
            eprint!("{stderr}");
            eprintln!(
                "{label} root ready at {} after {:.1}s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Some(Root { label, dir })
        }
        Some(3) => {
            eprintln!(
                "note: skipping: debootstrap cannot reach the Debian archive to make the {label} \
                 root\n{stderr}"
            );
            None
        }
        _ => panic!(
            "scripts/debian-root {name} {} failed ({})\n{stderr}",
            dir.display(),
            out.status
        ),
    }
}

impl Root {
    /// A fresh directory under the root's /opt, removed when dropped.
    fn scratch(&self, prefix: &str) -> Scratch {
        let opt = self.dir.join("opt");
        fs::create_dir_all(&opt).unwrap();
        let dir = tempfile::Builder::new()
            .prefix(&format!("kiln-it-{prefix}-"))
            .tempdir_in(&opt)
            .expect("create a directory in the root");
        let inside = format!("/opt/{}", dir.path().file_name().unwrap().to_string_lossy());
        Scratch { dir, inside }
    }

    /// The glibc version the root's `getconf` reports.
    fn glibc(&self) -> (u32, u32) {
        let out = InRoot::new(self, "/usr/bin/getconf")
            .args(["GNU_LIBC_VERSION"])
            .output();
        out.assert_success(&format!("getconf in {}", self.label));
        let version = out.stdout.trim().trim_start_matches("glibc ");
        parse_version(version).unwrap_or_else(|| panic!("getconf said {:?}", out.stdout))
    }
}

/// A directory in a root: its path on the host and inside the root.
struct Scratch {
    dir: TempDir,
    inside: String,
}

impl Scratch {
    fn host(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn inside(&self, rel: &str) -> String {
        format!("{}/{rel}", self.inside)
    }
}

/// A program to run in a root, in a private mount namespace, with a clean environment.
struct InRoot<'a> {
    root: &'a Root,
    program: String,
    args: Vec<String>,
    cwd: String,
    envs: Vec<(String, String)>,
    hide: Vec<String>,
    timeout: Duration,
}

impl<'a> InRoot<'a> {
    /// Runs `program` (a path inside the root) from `/`, with HOME `/root`.
    fn new(root: &'a Root, program: &str) -> InRoot<'a> {
        InRoot {
            root,
            program: program.to_string(),
            args: Vec::new(),
            cwd: "/".to_string(),
            envs: vec![("HOME".into(), "/root".into())],
            hide: Vec::new(),
            timeout: RUN_TIMEOUT,
        }
    }

    fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> InRoot<'a> {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    fn cwd(mut self, cwd: &str) -> InRoot<'a> {
        self.cwd = cwd.to_string();
        self
    }

    fn env(mut self, key: &str, value: &str) -> InRoot<'a> {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Covers these directories (inside the root) with empty tmpfs for the run.
    fn hide<I: IntoIterator<Item = S>, S: Into<String>>(mut self, dirs: I) -> InRoot<'a> {
        self.hide.extend(dirs.into_iter().map(Into::into));
        self
    }

    fn timeout(mut self, timeout: Duration) -> InRoot<'a> {
        self.timeout = timeout;
        self
    }

    fn spawn(self) -> Running {
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "sh", "-c", IN_ROOT_SCRIPT])
            .arg("kiln-in-root")
            .arg(&self.root.dir)
            .arg(&self.cwd)
            .arg(&self.program)
            .args(&self.args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .env("KILN_ROOT_HIDE", self.hide.join("\n"));
        for (key, value) in &self.envs {
            cmd.env(key, value);
        }
        let description = format!(
            "{} {:?} in {} ({})",
            self.program, self.args, self.cwd, self.root.label
        );
        spawn(&mut cmd, &description)
    }

    fn output(self) -> RunOutput {
        let timeout = self.timeout;
        self.spawn().output(timeout)
    }
}

// ---------------------------------------------------------------------------------------------
// Bundles in roots
// ---------------------------------------------------------------------------------------------

/// A bundle copied into a root, with an empty working directory, HOME and onefile cache.
struct Placed<'a> {
    root: &'a Root,
    scratch: Scratch,
    /// The executable, inside the root.
    exe: String,
}

/// Copies the bundle at `bundle` (a bundle directory, or a onefile executable) into `root`.
fn place<'a>(root: &'a Root, bundle: &Path, mode: Mode) -> Placed<'a> {
    let scratch = root.scratch("bundle");
    let name = bundle.file_name().unwrap().to_string_lossy().to_string();
    copy_tree(bundle, &scratch.host(&name));
    for dir in ["cwd", "home", "cache"] {
        fs::create_dir(scratch.host(dir)).unwrap();
    }
    let exe = match mode {
        Mode::Onedir => scratch.inside(&format!("{name}/{name}")),
        Mode::Onefile => scratch.inside(&name),
        Mode::Suite => unreachable!("no suites here"),
    };
    Placed { root, scratch, exe }
}

impl<'a> Placed<'a> {
    fn command(&self, args: &[&str]) -> InRoot<'a> {
        InRoot::new(self.root, &self.exe)
            .args(args.iter().copied())
            .cwd(&self.scratch.inside("cwd"))
            .env("HOME", &self.scratch.inside("home"))
            .env(kiln_bundle::cache::DIR_ENV, &self.scratch.inside("cache"))
    }
}

/// The glibc floor a build report names: its version and the file that sets it.
fn report_floor(report: &Path) -> ((u32, u32), String) {
    let text = fs::read_to_string(report)
        .unwrap_or_else(|e| panic!("read the build report {}: {e}", report.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let floor = &json["portability"]["min_glibc"];
    let version = floor["version"]
        .as_str()
        .and_then(parse_version)
        .unwrap_or_else(|| panic!("no portability.min_glibc in {}", report.display()));
    (version, floor["file"].as_str().unwrap_or("").to_string())
}

fn build_report(build: &BuildOutput) -> PathBuf {
    build
        .out_dir
        .join(format!("{}.build-report.json", build.name))
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn dotted((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

/// Panics unless the root has no Python: no `python*` program, standard library or libpython.
fn assert_no_python(root: &Root) {
    let dirs = [
        "usr/bin",
        "usr/lib",
        "usr/lib/x86_64-linux-gnu",
        "usr/local/bin",
        "usr/local/lib",
    ];
    for dir in dirs {
        for entry in fs::read_dir(root.dir.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with("python") && !name.starts_with("libpython"),
                "{} has /{dir}/{name}",
                root.label
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bundles built here, run in a minimal Debian 12
// ---------------------------------------------------------------------------------------------

#[test]
fn debian_12_without_python_runs_bundles_built_here_onedir() {
    debian_12_without_python_runs_bundles_built_here(Mode::Onedir);
}

#[test]
fn debian_12_without_python_runs_bundles_built_here_onefile() {
    debian_12_without_python_runs_bundles_built_here(Mode::Onefile);
}

/// The standard library's extension modules, pydantic, numpy and multiprocessing's spawn (its
/// semaphores in /dev/shm), built here with CPython 3.11, behave in a Debian 12 without any
/// Python as plain python does here.
fn debian_12_without_python_runs_bundles_built_here(mode: Mode) {
    let Some(root) = debian_12_minimal() else {
        return;
    };
    assert_no_python(root);
    let glibc = root.glibc();
    for app in ["stdlibapp", "pkg_pydantic", "nativeapp", "mpapp"] {
        let build = Build::new(app).args(["main.py"]).mode(mode).success();
        let (floor, file) = report_floor(&build_report(&build));
        assert!(
            floor <= glibc,
            "{app} needs glibc {} ({file}), {} has {}",
            dotted(floor),
            root.label,
            dotted(glibc)
        );
        let plain = run_plain(app, &["main.py"]);
        plain.assert_success(&format!("plain {app}"));
        let placed = place(root, &build.bundle_dir(), mode);
        let frozen = placed.command(&[]).output();
        assert_same_run(&format!("{app} in {}", root.label), &plain, &frozen);
    }
}

#[test]
fn debian_12_without_python_serves_fastapi_built_here_onedir() {
    debian_12_without_python_serves_fastapi_built_here(Mode::Onedir);
}

#[test]
fn debian_12_without_python_serves_fastapi_built_here_onefile() {
    debian_12_without_python_serves_fastapi_built_here(Mode::Onefile);
}

/// The FastAPI server, started in the root, answers its health URL polled from the host, stops
/// cleanly on SIGTERM and sees the same distributions as under plain python here.
fn debian_12_without_python_serves_fastapi_built_here(mode: Mode) {
    let Some(root) = debian_12_minimal() else {
        return;
    };
    assert_no_python(root);
    let port = free_port();
    let (plain, _) = spawn_plain_with(test_venv(), "server", &["main.py", &port.to_string()]);
    let plain = crate::check_server(plain, port, "the server under plain python");

    let build = Build::new("server").args(["main.py"]).mode(mode).success();
    let placed = place(root, &build.bundle_dir(), mode);
    let port = free_port();
    let server = placed.command(&[&port.to_string()]).spawn();
    let frozen = crate::check_server(server, port, &format!("the server in {}", root.label));
    assert_eq!(
        crate::version_lines(&plain).len(),
        2,
        "plain server\n{plain}"
    );
    assert_eq!(
        crate::version_lines(&plain),
        crate::version_lines(&frozen),
        "the same distributions\n=== plain\n{plain}\n=== in {}\n{frozen}",
        root.label
    );
}

// ---------------------------------------------------------------------------------------------
// Debian 11: a bundle of this machine's CPython 3.9, and kiln freezing there
// ---------------------------------------------------------------------------------------------

/// A bundle of pyenv's CPython 3.9, built on this machine, in Debian 11 (glibc 2.31): the
/// build report's glibc floor says whether it runs there, and it does exactly what that says.
/// pyenv builds libpython against this machine's glibc, so it needs 2.35, and Debian 11's
/// loader refuses it before any Python code runs, naming the version the report named.
#[test]
fn debian_11_runs_a_python_3_9_bundle_built_here_as_far_as_its_report_says() {
    let Some(root) = debian_11() else {
        return;
    };
    let Some(venv) = pyenv_venv(9) else {
        eprintln!("note: no CPython 3.9 from pyenv on this machine; skipping");
        return;
    };
    let glibc = root.glibc();
    assert_eq!(glibc, (2, 31), "Debian 11's glibc");
    let build = Build::new("stdlibapp")
        .python(&venv.python)
        .args(["main.py"])
        .success();
    let (floor, file) = report_floor(&build_report(&build));
    assert!(
        build
            .result
            .stdout
            .contains(&format!("{} or newer", dotted(floor))),
        "the summary names the report's floor\n{}",
        build.result
    );
    let placed = place(root, &build.bundle_dir(), Mode::Onedir);
    let frozen = placed.command(&[]).output();
    if floor <= glibc {
        let plain = run_plain_with(venv, "stdlibapp", &["main.py"]);
        assert_same_run("a CPython 3.9 bundle in Debian 11", &plain, &frozen);
        return;
    }
    let refusal = format!("version `GLIBC_{}' not found", dotted(floor));
    assert!(
        !frozen.status.success() && frozen.stdout.is_empty() && frozen.stderr.contains(&refusal),
        "the report says glibc {} (set by {file}); {} has {}, so the loader must refuse it \
         with \"{refusal}\"\n{frozen}",
        dotted(floor),
        root.label,
        dotted(glibc)
    );
    eprintln!(
        "note: the CPython 3.9 bundle built here needs glibc {} (the report: set by {file}); in \
         {} (glibc {}) the loader says: {}",
        dotted(floor),
        root.label,
        dotted(glibc),
        frozen.stderr.lines().next().unwrap_or("")
    );
}

/// What the recipe freezes inside Debian 11: a standard-library app, an app of a small
/// pure-Python package (passlib) and the FastAPI server.
const RECIPE_APPS: &[&str] = &["stdlibapp", "pkg_passlib", "server"];

/// The recipe for old targets: kiln, built here for glibc 2.17, runs inside Debian 11 with a
/// venv of Debian's own python3 (3.9) and packages installed there from PyPI, and freezes
/// bundles with `--min-glibc 2.31`, whose report names 2.31 at most; they run in Debian 11 (its Python hidden)
/// and in a Debian 12 without Python like plain python in Debian 11, and the server answers.
#[test]
fn kiln_built_for_glibc_2_17_freezes_in_debian_11_for_both_roots() {
    let Some(old) = debian_11() else {
        return;
    };
    let Some(minimal) = debian_12_minimal() else {
        return;
    };
    let old_glibc = old.glibc();
    let kiln = kiln_for_old_glibc();

    // kiln, the apps and the requirements (the version matrix's pins for 3.9 without numpy,
    // and passlib's from the main requirements) go into the root.
    let work = old.scratch("recipe");
    fs::create_dir(work.host("bin")).unwrap();
    fs::copy(kiln, work.host("bin/kiln")).unwrap();
    for app in RECIPE_APPS {
        copy_tree(&app_dir(app), &work.host(app));
    }
    let mut requirements: Vec<String> = pins("requirements-py39.txt")
        .into_iter()
        .filter(|pin| !pin.starts_with("numpy=="))
        .collect();
    requirements.extend(
        pins("requirements.txt")
            .into_iter()
            .filter(|pin| pin.starts_with("passlib==")),
    );
    fs::write(
        work.host("requirements.txt"),
        requirements.join("\n") + "\n",
    )
    .unwrap();

    let started = Instant::now();
    InRoot::new(old, "/usr/bin/python3")
        .args(["-m", "venv", &work.inside("venv")])
        .output()
        .assert_success("python3 -m venv in Debian 11");
    let mut pip = InRoot::new(old, &work.inside("venv/bin/pip"))
        .args(["install", "--disable-pip-version-check", "--no-input"])
        .args(["--quiet", "-r", &work.inside("requirements.txt")])
        .env("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
        .timeout(PIP_TIMEOUT);
    for key in ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST"] {
        if let Ok(value) = std::env::var(key) {
            pip = pip.env(key, &value);
        }
    }
    pip.output().assert_success("pip install in Debian 11");
    eprintln!(
        "venv and pip install in {}: {:.1}s",
        old.label,
        started.elapsed().as_secs_f64()
    );

    let python = work.inside("venv/bin/python");
    let mut floors = Vec::new();
    for app in RECIPE_APPS {
        let started = Instant::now();
        let build = InRoot::new(old, &work.inside("bin/kiln"))
            .args(["build", "main.py", "--python", &python, "--name", app])
            .args([
                "--out",
                &work.inside("dist"),
                "--min-glibc",
                &dotted(old_glibc),
            ])
            .cwd(&work.inside(app))
            .timeout(Duration::from_secs(600))
            .output();
        build.assert_success(&format!("kiln build {app} in {}", old.label));
        let (floor, file) = report_floor(&work.host(&format!("dist/{app}.build-report.json")));
        assert!(
            floor <= old_glibc,
            "{app} frozen in {} needs glibc {} ({file})",
            old.label,
            dotted(floor)
        );
        eprintln!(
            "{app} frozen in {} in {:.1}s: glibc {} or newer (set by {file})",
            old.label,
            started.elapsed().as_secs_f64(),
            dotted(floor)
        );
        floors.push(floor);
    }

    // Debian 11's own Python, the venv, the apps' sources and kiln are hidden when the bundles
    // run there; the minimal Debian 12 has no Python at all.
    let hidden = |root: &Root| -> Vec<String> {
        if std::ptr::eq(root, old) {
            vec![
                work.inside.clone(),
                "/usr/lib/python3".to_string(),
                "/usr/lib/python3.9".to_string(),
            ]
        } else {
            Vec::new()
        }
    };
    assert_no_python(minimal);
    for app in ["stdlibapp", "pkg_passlib"] {
        let plain = InRoot::new(old, &python)
            .args(["main.py"])
            .cwd(&work.inside(app))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output();
        plain.assert_success(&format!("plain {app} in {}", old.label));
        for root in [old, minimal] {
            let placed = place(root, &work.host(&format!("dist/{app}")), Mode::Onedir);
            let frozen = placed.command(&[]).hide(hidden(root)).output();
            assert_same_run(
                &format!("{app} frozen in {} run in {}", old.label, root.label),
                &plain,
                &frozen,
            );
        }
    }
    for root in [old, minimal] {
        let placed = place(root, &work.host("dist/server"), Mode::Onedir);
        let port = free_port();
        let server = placed
            .command(&[&port.to_string()])
            .hide(hidden(root))
            .spawn();
        crate::check_server(
            server,
            port,
            &format!("the server frozen in {} run in {}", old.label, root.label),
        );
    }
}

/// The requirement lines (`name==version`) of a requirements file of the fixtures.
fn pins(file: &str) -> Vec<String> {
    fs::read_to_string(fixtures_dir().join(file))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|line| line.contains("==") && !line.starts_with('#'))
        .map(String::from)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// kiln for old systems
// ---------------------------------------------------------------------------------------------

/// kiln built with cargo-zigbuild against glibc 2.17's symbols, in `target/glibc-2.17` (kept
/// between runs, so that it is built once).
fn kiln_for_old_glibc() -> &'static Path {
    static KILN: OnceLock<PathBuf> = OnceLock::new();
    KILN.get_or_init(|| {
        let zigbuild = std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("cargo-zigbuild"))
                    .find(|p| p.is_file())
            })
            .expect("cargo-zigbuild is not on PATH: `source scripts/tools-env` puts it there");
        let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
        let target_dir = target_dir().join(format!("glibc-{}", dotted(KILN_GLIBC)));
        let mut cmd = Command::new(zigbuild);
        cmd.args(["zigbuild", "--release", "--quiet", "-p", "kiln", "--target"])
            .arg(format!("{triple}.{}", dotted(KILN_GLIBC)))
            .arg("--target-dir")
            .arg(&target_dir)
            .current_dir(workspace_root());
        // The settings cargo gave this test run (its package, coverage flags) must not leak in,
        // as in build.rs: the build is then the same as `.ci/run`'s, and found up to date.
        let keys = std::env::vars_os().filter_map(|(key, _)| key.into_string().ok());
        let leaks = keys.filter(|key| {
            key.starts_with("CARGO_") && key != "CARGO_HOME"
                || ["RUSTFLAGS", "RUSTC_WRAPPER"].contains(&key.as_str())
        });
        for key in leaks {
            cmd.env_remove(key);
        }
        let started = Instant::now();
        let out = cmd.output().expect("run cargo-zigbuild");
        assert!(
            out.status.success(),
            "cargo zigbuild of kiln for glibc {} failed\n{}",
            dotted(KILN_GLIBC),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "kiln for glibc {} built (or found up to date) in {:.1}s",
            dotted(KILN_GLIBC),
            started.elapsed().as_secs_f64()
        );
        target_dir.join(triple).join("release/kiln")
    })
}

/// kiln itself, built with cargo-zigbuild, needs no glibc symbol newer than 2.17, as the
/// project's own ELF reader (the one behind the reports' floor) reads it.
#[test]
fn kiln_built_for_old_systems_needs_glibc_2_17_at_most() {
    let kiln = kiln_for_old_glibc();
    let info = kiln::installed::elf::read_elf(kiln)
        .unwrap()
        .expect("kiln is an ELF file");
    let needed = info.glibc.expect("kiln needs some GLIBC_ version");
    assert!(
        needed <= KILN_GLIBC,
        "{} needs GLIBC_{}",
        kiln.display(),
        dotted(needed)
    );
    // The kiln under test, linked here as usual, for comparison.
    let host = kiln::installed::elf::read_elf(Path::new(crate::support::KILN))
        .unwrap()
        .and_then(|i| i.glibc);
    eprintln!(
        "kiln built with cargo-zigbuild needs glibc {}; as built by cargo here, {}",
        dotted(needed),
        host.map(dotted).unwrap_or_default()
    );
}

/// `--format deb`: the package dpkg installs in a minimal Debian 12 (a copy of the root, so
/// the shared one stays clean), whose executables run from `/usr/bin` there, and which dpkg
/// removes again without a trace.
#[test]
fn a_deb_installs_runs_and_is_removed_in_minimal_debian_12() {
    let Some(base) = debian_12_minimal() else {
        return;
    };
    let copy = tempfile::Builder::new()
        .prefix("kiln-it-deb-root-")
        .tempdir_in(target_dir())
        .unwrap();
    copy_tree(&base.dir, &copy.path().join("root"));
    let root = Root {
        label: "Debian 12 (minimal, a copy)",
        dir: copy.path().join("root"),
    };
    let build = Build::new("scriptsproject")
        .args(["--format", "deb"])
        .success();
    let deb = fs::read_dir(&build.out_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .unwrap_or_else(|| panic!("no .deb in {}\n{}", build.out_dir.display(), build.result));
    let scratch = root.scratch("deb");
    fs::copy(&deb, scratch.host("app.deb")).unwrap();

    let dpkg = |args: &[&str]| InRoot::new(&root, "/usr/bin/dpkg").args(args.iter().copied());
    dpkg(&["-i", &scratch.inside("app.deb")])
        .output()
        .assert_success("dpkg -i in Debian 12");
    let status = dpkg(&["-s", "scriptsproject"]).output();
    assert!(
        status.stdout.contains("Status: install ok installed"),
        "{status}"
    );
    let run = InRoot::new(&root, "/usr/bin/scriptsproject-greet")
        .args(["in-debian"])
        .cwd(&scratch.inside(""))
        .output();
    run.assert_success("the installed package in Debian 12");
    assert_eq!(run.stdout.trim(), "hello from greettool cli ['in-debian']");
    assert!(root
        .dir
        .join("usr/share/applications/scriptsproject-greet-window.desktop")
        .is_file());

    dpkg(&["-r", "scriptsproject"])
        .output()
        .assert_success("dpkg -r in Debian 12");
    assert!(!root.dir.join("opt/scriptsproject").exists());
    assert!(!root.dir.join("usr/bin/scriptsproject-greet").exists());
}
