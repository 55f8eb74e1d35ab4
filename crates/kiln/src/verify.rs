//! `kiln test`: runs a built bundle the way a user's machine will, and says whether it works.
//!
//! The bundle is relocated into a fresh directory (hard links where the file system allows,
//! copies elsewhere), started from an empty working directory with a cold onefile cache, and
//! with the build machine's Pythons and the build's environment hidden: a private mount
//! namespace covers their directories with empty tmpfs mounts and their `python*` executables
//! and `libpython3*` libraries with `/dev/null`. As root that is a mount namespace; otherwise a
//! user namespace that maps only the caller's own ids. Where neither can be made, the run goes
//! on unhidden and the outcome says so.
//!
//! Checks: the exit status (and standard output, when given); for servers, the desktop shell's
//! contract (`PORT` set, the health path answers 2xx, SIGTERM stops it cleanly); that no process
//! of the app's session outlives it; and with `import_all`, that every module the bundle carries
//! imports in the bundled interpreter as it does in the build's, each failure with its chain.

use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::OutputMode;
use crate::report::build_report::{BuildReport, Role};

/// Directories that hold Python installations on common systems; those that exist are hidden.
const PYTHON_DIR_GLOBS: &[(&str, &str)] = &[
    ("/usr/lib", "python3"),
    ("/usr/lib64", "python3"),
    ("/usr/local/lib", "python3"),
    ("/usr/local/lib64", "python3"),
];

/// Per-user and tool-managed Python installations, relative to `$HOME` (and absolute ones).
const PYTHON_HOMES: &[&str] = &[
    ".pyenv",
    ".local/share/uv/python",
    ".local/lib/python3",
    "miniconda3",
    "anaconda3",
    "miniforge3",
    "/opt/conda",
    "/opt/python",
];

/// Directories whose `python*` executables are covered, besides those on `PATH`.
const BIN_DIRS: &[&str] = &["/usr/bin", "/usr/local/bin", "/bin"];

/// Directories whose `libpython3*` libraries are covered, besides the multiarch ones.
const LIB_DIRS: &[&str] = &["/usr/lib", "/usr/lib64", "/usr/local/lib", "/lib", "/lib64"];

/// Environment variables that point a process at a Python environment.
const PYTHON_ENV: &[&str] = &[
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
];

/// How long processes of the app's session may outlive it before they count as left behind.
const LEFTOVER_GRACE: Duration = Duration::from_secs(3);

/// What to run and what to expect.
#[derive(Debug, Clone)]
pub struct TestRequest {
    /// A file of the bundle directory to start instead of the bundle's executable (a suite's
    /// `NAME-COMPONENT`).
    pub program: Option<String>,
    pub args: Vec<OsString>,
    pub expect_exit: i32,
    pub expect_stdout: Option<Vec<u8>>,
    /// A server: the path polled on `http://127.0.0.1:PORT`, with `PORT` in the environment.
    pub health: Option<String>,
    pub timeout: Duration,
    pub import_all: bool,
}

/// One check and whether it passed.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// A module that imports in the build's interpreter and not in the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct ImportFailure {
    pub module: String,
    pub error: String,
    /// The import chain from the entry, as the build recorded it.
    pub chain: Vec<String>,
}

/// What was hidden from the run, and what could not be.
#[derive(Debug, Clone, Serialize)]
pub struct Isolation {
    pub hidden: Vec<String>,
    /// Why nothing could be hidden, when that happened.
    pub not_hidden: Option<String>,
}

/// The outcome of `kiln test`.
#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    pub bundle: String,
    pub command: Vec<String>,
    pub isolation: Isolation,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub import_failures: Vec<ImportFailure>,
    pub passed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("cannot prepare the test directory {path}")]
    Prepare {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the bundle {0} does not exist (build it first, or name it: `kiln test dist/NAME`)")]
    NoBundle(PathBuf),
    #[error("the bundle has no file {0} to start")]
    NoProgram(String),
    #[error("cannot start {path}")]
    Start {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs the bundle the report describes, as `request` says.
pub fn run(report: &BuildReport, request: &TestRequest) -> Result<TestOutcome, TestError> {
    if !report.bundle.exists() {
        return Err(TestError::NoBundle(report.bundle.clone()));
    }
    let sandbox = Sandbox::new(report)?;
    let exe = match (&request.program, report.mode) {
        (Some(file), OutputMode::Onedir) => {
            let exe = sandbox.bundle.join(file);
            if file.contains('/') || !exe.is_file() {
                return Err(TestError::NoProgram(file.clone()));
            }
            exe
        }
        (Some(file), OutputMode::Onefile) => return Err(TestError::NoProgram(file.clone())),
        (None, OutputMode::Onedir) => sandbox.bundle.join(
            report
                .executable
                .file_name()
                .unwrap_or(report.name.as_ref()),
        ),
        (None, OutputMode::Onefile) => sandbox.bundle.clone(),
    };
    let hide = Hide::for_report(report, &sandbox);
    let port = request.health.as_ref().map(|_| free_port());
    let mut cmd = Command::new(&exe);
    cmd.args(&request.args);
    sandbox.prepare(&mut cmd, &hide);
    if let Some(port) = port {
        cmd.env("PORT", port.to_string());
    }
    let started = Instant::now();
    let (mut child, isolation) = hide.spawn(&mut cmd).map_err(|source| TestError::Start {
        path: exe.clone(),
        source,
    })?;
    let out = collect(child.stdout.take());
    let err = collect(child.stderr.take());
    let mut checks = Vec::new();
    let status = match (&request.health, port) {
        (Some(path), Some(port)) => serve(&mut child, port, path, request.timeout, &mut checks),
        _ => wait_for(&mut child, request.timeout),
    };
    let seconds = started.elapsed().as_secs_f64();
    let leftovers = leftovers(child.id());
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(status) if request.health.is_none() => {
            let code = status.code();
            checks.push(Check {
                name: "exit status".into(),
                passed: code == Some(request.expect_exit),
                detail: match (code, status.signal()) {
                    (Some(code), _) => format!("{code} (expected {})", request.expect_exit),
                    (None, Some(signal)) => format!("killed by signal {signal}"),
                    _ => "unknown".into(),
                },
            });
        }
        Some(_) => {}
        None => checks.push(Check {
            name: "finished".into(),
            passed: false,
            detail: format!(
                "still running after {} s; killed",
                request.timeout.as_secs()
            ),
        }),
    }
    if let Some(expected) = &request.expect_stdout {
        checks.push(Check {
            name: "standard output".into(),
            passed: &stdout == expected,
            detail: first_difference(expected, &stdout),
        });
    }
    checks.push(Check {
        name: "no process left behind".into(),
        passed: leftovers.is_empty(),
        detail: if leftovers.is_empty() {
            "none".into()
        } else {
            format!(
                "{} still running, killed: {}",
                leftovers.len(),
                leftovers.join("; ")
            )
        },
    });
    let mut import_failures = Vec::new();
    if request.import_all {
        let (check, failures) = import_all(report, &sandbox, &hide, request.timeout);
        checks.push(check);
        import_failures = failures;
    }
    let passed = checks.iter().all(|c| c.passed);
    Ok(TestOutcome {
        bundle: report.bundle.display().to_string(),
        command: std::iter::once(exe.display().to_string())
            .chain(
                request
                    .args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned()),
            )
            .collect(),
        isolation,
        exit_code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        seconds,
        checks,
        import_failures,
        passed,
    })
}

/// A fresh directory with the relocated bundle, an empty working directory and an empty onefile
/// cache; removed when dropped.
struct Sandbox {
    root: tempfile::TempDir,
    bundle: PathBuf,
    cwd: PathBuf,
    cache: PathBuf,
}

impl Sandbox {
    fn new(report: &BuildReport) -> Result<Sandbox, TestError> {
        let root = tempfile::Builder::new()
            .prefix("kiln-test-")
            .tempdir()
            .map_err(|source| TestError::Prepare {
                path: std::env::temp_dir(),
                source,
            })?;
        let prepare = |path: &Path, source| TestError::Prepare {
            path: path.to_path_buf(),
            source,
        };
        let name = report.bundle.file_name().unwrap_or(report.name.as_ref());
        let bundle = root.path().join("app").join(name);
        let cwd = root.path().join("cwd");
        let cache = root.path().join("cache");
        for dir in [root.path().join("app"), cwd.clone(), cache.clone()] {
            std::fs::create_dir(&dir).map_err(|e| prepare(&dir, e))?;
        }
        relocate(&report.bundle, &bundle).map_err(|e| prepare(&bundle, e))?;
        Ok(Sandbox {
            root,
            bundle,
            cwd,
            cache,
        })
    }

    fn prepare(&self, cmd: &mut Command, hide: &Hide) {
        cmd.current_dir(&self.cwd)
            .env(kiln_bundle::cache::DIR_ENV, &self.cache)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in PYTHON_ENV {
            cmd.env_remove(var);
        }
        if let Some(path) = std::env::var_os("PATH") {
            let kept: Vec<PathBuf> = std::env::split_paths(&path)
                .filter(|dir| !hide.dirs.iter().any(|h| dir.starts_with(h)))
                .collect();
            if let Ok(joined) = std::env::join_paths(kept) {
                cmd.env("PATH", joined);
            }
        }
    }

    /// The unpacked runtime root: the bundle directory, or the onefile's cache entry.
    fn runtime_root(&self, mode: OutputMode) -> Option<PathBuf> {
        match mode {
            OutputMode::Onedir => Some(self.bundle.clone()),
            OutputMode::Onefile => std::fs::read_dir(&self.cache)
                .ok()?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| {
                    p.is_dir()
                        && kiln_bundle::cache::is_entry_name(
                            &p.file_name().unwrap_or_default().to_string_lossy(),
                        )
                }),
        }
    }
}

/// Recreates `from` (a directory or a file) at `to` with hard links, copying what cannot be
/// linked (another file system).
fn relocate(from: &Path, to: &Path) -> std::io::Result<()> {
    let link_or_copy = |from: &Path, to: &Path| {
        std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
    };
    if !from.is_dir() {
        return link_or_copy(from, to);
    }
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.map_err(std::io::Error::other)?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dest = to.join(rel);
        let kind = entry.file_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &dest)?;
        } else {
            link_or_copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// What a run hides: directories covered with tmpfs, files covered with `/dev/null`.
struct Hide {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

impl Hide {
    fn for_report(report: &BuildReport, sandbox: &Sandbox) -> Hide {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for (parent, prefix) in PYTHON_DIR_GLOBS {
            dirs.extend(children(Path::new(parent), |n| n.starts_with(prefix)));
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        for place in PYTHON_HOMES {
            match (place.strip_prefix('/'), &home) {
                (Some(_), _) => dirs.push(PathBuf::from(place)),
                (None, Some(home)) if place.ends_with("python3") => {
                    let (parent, prefix) = place.rsplit_once('/').unwrap_or(("", place));
                    dirs.extend(children(&home.join(parent), |n| n.starts_with(prefix)));
                }
                (None, Some(home)) => dirs.push(home.join(place)),
                (None, None) => {}
            }
        }
        // The build's environment and its interpreter's installation, unless that is a system
        // prefix (whose Python directories are covered above).
        for python in [&report.inputs.python, &report.inputs.python_executable] {
            if let Some(prefix) = python.parent().and_then(Path::parent) {
                let system = ["/", "/usr", "/usr/local"]
                    .iter()
                    .any(|s| prefix == Path::new(s));
                if !system {
                    dirs.push(prefix.to_path_buf());
                }
            }
        }
        let mut files = Vec::new();
        let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        for dir in BIN_DIRS.iter().map(PathBuf::from).chain(path_dirs) {
            files.extend(children(&dir, is_python_program));
        }
        let mut lib_dirs: Vec<PathBuf> = LIB_DIRS.iter().map(PathBuf::from).collect();
        for lib in ["/usr/lib", "/lib"] {
            lib_dirs.extend(children(Path::new(lib), |n| n.ends_with("-linux-gnu")));
        }
        for dir in lib_dirs {
            files.extend(children(&dir, |n| n.starts_with("libpython3")));
        }
        let keep = |p: &PathBuf| -> bool {
            p.exists() && !sandbox.root.path().starts_with(p) && !p.starts_with(sandbox.root.path())
        };
        dirs.retain(|d| d.is_dir() && keep(d));
        dirs.sort();
        dirs.dedup();
        // A directory inside another hidden one is hidden already.
        let covered = dirs.clone();
        dirs.retain(|d| !covered.iter().any(|o| o != d && d.starts_with(o)));
        files.retain(|f| {
            let real = f.symlink_metadata().map(|m| m.is_file()).unwrap_or(false);
            real && keep(f) && !dirs.iter().any(|d| f.starts_with(d))
        });
        files.sort();
        files.dedup();
        Hide { dirs, files }
    }

    /// Starts `cmd` in a private mount namespace with everything hidden, in a session of its
    /// own; where no namespace can be made, unhidden, and says why.
    fn spawn(&self, cmd: &mut Command) -> std::io::Result<(Child, Isolation)> {
        let dirs: Vec<CString> = self.dirs.iter().filter_map(|p| c_path(p)).collect();
        let files: Vec<CString> = self.files.iter().filter_map(|p| c_path(p)).collect();
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let maps = [
            (c"/proc/self/setgroups", b"deny".to_vec()),
            (c"/proc/self/uid_map", format!("{uid} {uid} 1").into_bytes()),
            (c"/proc/self/gid_map", format!("{gid} {gid} 1").into_bytes()),
        ];
        // SAFETY: between fork and exec the closure calls only async-signal-safe functions
        // (setsid, unshare, open, write, close, mount) on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                enter_namespace(&maps)?;
                let tmpfs = c"tmpfs";
                let options = c"size=1m,mode=0755";
                for dir in &dirs {
                    let rc = libc::mount(
                        c"kiln-hidden".as_ptr(),
                        dir.as_ptr(),
                        tmpfs.as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV,
                        options.as_ptr().cast(),
                    );
                    if rc != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for file in &files {
                    let rc = libc::mount(
                        c"/dev/null".as_ptr(),
                        file.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    );
                    if rc != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(child) => {
                let hidden = self
                    .dirs
                    .iter()
                    .chain(&self.files)
                    .map(|p| p.display().to_string())
                    .collect();
                Ok((
                    child,
                    Isolation {
                        hidden,
                        not_hidden: None,
                    },
                ))
            }
            Err(namespace) if namespace.raw_os_error().is_some() => {
                // No namespace here (a container without user namespaces, say): run unhidden.
                let child = unhidden(cmd)?;
                Ok((
                    child,
                    Isolation {
                        hidden: Vec::new(),
                        not_hidden: Some(format!(
                            "no private mount namespace could be made ({namespace}): the \
                             host's Pythons stayed visible"
                        )),
                    },
                ))
            }
            Err(e) => Err(e),
        }
    }
}

/// Spawns `cmd` whose earlier `pre_exec` hooks failed: `Command` keeps every hook, so a fresh
/// command with the same program, arguments and settings is built.
fn unhidden(cmd: &Command) -> std::io::Result<Child> {
    let mut fresh = Command::new(cmd.get_program());
    fresh.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => fresh.env(key, value),
            None => fresh.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        fresh.current_dir(dir);
    }
    // SAFETY: between fork and exec only setsid, which is async-signal-safe.
    unsafe {
        fresh.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    fresh
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// Unshares the mount namespace (with a user namespace when not privileged) and makes every
/// mount private, so nothing done here reaches the host.
///
/// # Safety
/// Called between fork and exec: async-signal-safe calls only.
unsafe fn enter_namespace(maps: &[(&std::ffi::CStr, Vec<u8>); 3]) -> std::io::Result<()> {
    if libc::unshare(libc::CLONE_NEWNS) != 0 {
        if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for (file, text) in maps {
            let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, text.as_ptr().cast(), text.len());
            libc::close(fd);
            if written < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    let rc = libc::mount(
        std::ptr::null(),
        c"/".as_ptr(),
        std::ptr::null(),
        libc::MS_REC | libc::MS_PRIVATE,
        std::ptr::null(),
    );
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `python`, `python3`, `python3.11`: an interpreter's name, not a tool named after one.
fn is_python_program(name: &str) -> bool {
    name.strip_prefix("python")
        .is_some_and(|version| version.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn c_path(path: &Path) -> Option<CString> {
    CString::new(path.as_os_str().as_bytes()).ok()
}

/// The entries of `dir` whose names pass `wanted`, sorted.
fn children(dir: &Path, wanted: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|read| {
            read.filter_map(|e| e.ok())
                .filter(|e| wanted(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn collect(stream: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(stream) = stream {
            // At most 16 MiB is kept; the rest is read and dropped so the app never blocks.
            let mut stream = stream;
            let _ = (&mut stream).take(16 << 20).read_to_end(&mut buf);
            let _ = std::io::copy(&mut stream, &mut std::io::sink());
        }
        buf
    })
}

/// Waits for the app; `None` when it ran past `timeout` (its session is then killed).
fn wait_for(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if started.elapsed() >= timeout {
            kill_session(child.id(), libc::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The desktop shell's contract: the health path answers 2xx within `timeout`, then SIGTERM
/// stops the app cleanly (exit status 0, or the default action of SIGTERM) within 10 s.
fn serve(
    child: &mut Child,
    port: u16,
    path: &str,
    timeout: Duration,
    checks: &mut Vec<Check>,
) -> Option<ExitStatus> {
    let host = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let mut healthy = false;
    while started.elapsed() < timeout {
        if let Ok(Some(status)) = child.try_wait() {
            checks.push(Check {
                name: "health".into(),
                passed: false,
                detail: format!("exited ({status}) before {path} answered"),
            });
            return Some(status);
        }
        if crate::trace::http_ok(&host, path) {
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    checks.push(Check {
        name: "health".into(),
        passed: healthy,
        detail: if healthy {
            format!(
                "http://{host}{path} answered 2xx after {:.1} s",
                started.elapsed().as_secs_f64()
            )
        } else {
            format!(
                "http://{host}{path} did not answer 2xx within {} s",
                timeout.as_secs()
            )
        },
    });
    // SAFETY: kill(2) on the child this process started and has not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = wait_for(child, Duration::from_secs(10));
    let clean = status.is_some_and(|s| s.code() == Some(0) || s.signal() == Some(libc::SIGTERM));
    checks.push(Check {
        name: "stops on SIGTERM".into(),
        passed: clean,
        detail: match status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(signal)) => format!("ended by signal {signal}"),
                _ => s.to_string(),
            },
            None => "still running 10 s after SIGTERM; killed".into(),
        },
    });
    status
}

/// Processes of the session `sid` (the app's, see `setsid` above) still running after a grace
/// period; they are killed.
fn leftovers(sid: u32) -> Vec<String> {
    let started = Instant::now();
    loop {
        let found = session_members(sid);
        if found.is_empty() || started.elapsed() >= LEFTOVER_GRACE {
            if !found.is_empty() {
                kill_session(sid, libc::SIGKILL);
            }
            return found
                .into_iter()
                .map(|(pid, name)| format!("{pid} ({name})"))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The live processes whose session is `sid`, with their names.
fn session_members(sid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.filter_map(|e| e.ok()) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let zombie = fields.first() == Some(&"Z");
        if !zombie && fields.get(3).and_then(|s| s.parse::<u32>().ok()) == Some(sid) {
            let name = head.split_once('(').map_or("", |(_, n)| n).to_string();
            found.push((pid, name));
        }
    }
    found
}

fn kill_session(sid: u32, signal: libc::c_int) {
    for (pid, _) in session_members(sid) {
        // SAFETY: kill(2) on processes of the session this process started.
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(8000)
}

/// Where two outputs first differ, in words.
fn first_difference(expected: &[u8], got: &[u8]) -> String {
    if expected == got {
        return "as expected".into();
    }
    let expected = String::from_utf8_lossy(expected);
    let got = String::from_utf8_lossy(got);
    let mut lines_got = got.lines();
    for (i, want) in expected.lines().enumerate() {
        match lines_got.next() {
            Some(line) if line == want => continue,
            Some(line) => return format!("line {}: expected {want:?}, got {line:?}", i + 1),
            None => return format!("line {}: expected {want:?}, got the end", i + 1),
        }
    }
    match lines_got.next() {
        Some(extra) => format!("an extra line after the expected output: {extra:?}"),
        None => "the same lines with different line endings".into(),
    }
}

/// Imports each module named on standard input (one per line) and writes `name<TAB>error`
/// lines to argv[1] (an empty error for success). Only builtins: the bundle may carry nothing
/// more than the app needs.
const IMPORT_ALL: &str = r#"
import sys
out = open(sys.argv[1], "w")
sys.path[:0] = [root for root in sys.argv[2].split("\n") if root]
for name in sys.stdin.read().split():
    try:
        __import__(name)
        error = ""
    except BaseException as e:
        error = ("%s: %s" % (type(e).__name__, e)).replace("\t", " ").replace("\n", " ")
    out.write("%s\t%s\n" % (name, error))
    out.flush()
"#;

/// Modules whose import does something beyond defining names (opens a browser, prints text,
/// runs a program).
fn importable(module: &str) -> bool {
    module != "__main__"
        && !module.ends_with(".__main__")
        && !matches!(module, "antigravity" | "this")
        && !module.starts_with("_kiln")
}

/// Imports every module the bundle carries in the bundled interpreter, and the failures again
/// in the build's own interpreter: only what fails in the bundle alone is a bundle failure.
fn import_all(
    report: &BuildReport,
    sandbox: &Sandbox,
    hide: &Hide,
    timeout: Duration,
) -> (Check, Vec<ImportFailure>) {
    let fail = |detail: String| Check {
        name: "every module imports".into(),
        passed: false,
        detail,
    };
    let mut modules: Vec<&str> = report
        .files
        .iter()
        .filter(|f| matches!(f.role, Role::Module | Role::Extension))
        .filter_map(|f| f.module.as_deref())
        .filter(|m| importable(m))
        .collect();
    modules.sort_unstable();
    modules.dedup();
    let Some(root) = sandbox.runtime_root(report.mode) else {
        return (
            fail("the onefile executable was not unpacked".into()),
            vec![],
        );
    };
    let Some(front) = report
        .files
        .iter()
        .find(|f| f.role == Role::Launcher && f.path.starts_with(crate::write::RUNTIME_DIR))
    else {
        return (fail("the bundle has no interpreter front".into()), vec![]);
    };
    let python = root.join(&front.path);
    let bundled = match import_each(&python, &modules, &[], sandbox, Some(hide), timeout) {
        Ok(results) => results,
        Err(why) => return (fail(format!("the bundled interpreter: {why}")), vec![]),
    };
    let failed: Vec<(&str, String)> = bundled
        .iter()
        .filter_map(|(m, e)| e.as_ref().map(|e| (m.as_str(), e.clone())))
        .collect();
    // The app's own modules are found from where their sources were.
    let app_roots: Vec<String> = report
        .files
        .iter()
        .filter(|f| f.group == "app")
        .filter_map(|f| {
            let module = f.module.as_deref()?;
            let origin = f.origin.as_deref()?;
            let mut depth = module.split('.').count();
            if origin.file_stem().is_some_and(|s| s == "__init__") {
                depth += 1;
            }
            origin
                .ancestors()
                .nth(depth)
                .map(|p| p.display().to_string())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let names: Vec<&str> = failed.iter().map(|(m, _)| *m).collect();
    let (reference, uncompared) = if names.is_empty() {
        (Vec::new(), None)
    } else if !report.inputs.python.exists() {
        (Vec::new(), Some("it no longer exists".to_string()))
    } else {
        match import_each(
            &report.inputs.python,
            &names,
            &app_roots,
            sandbox,
            None,
            timeout,
        ) {
            Ok(found) => (found, None),
            Err(why) => (Vec::new(), Some(why)),
        }
    };
    let reference: std::collections::HashMap<&str, &Option<String>> =
        reference.iter().map(|(m, e)| (m.as_str(), e)).collect();
    let failures: Vec<ImportFailure> = failed
        .into_iter()
        .filter(|(m, _)| reference.get(m).is_none_or(|e| e.is_none()))
        .map(|(module, error)| ImportFailure {
            chain: report
                .files
                .iter()
                .find(|f| f.module.as_deref() == Some(module))
                .map(|f| f.chain.clone())
                .unwrap_or_default(),
            module: module.to_string(),
            error,
        })
        .collect();
    let same = bundled.len() - failures.len();
    let check = Check {
        name: "every module imports".into(),
        passed: failures.is_empty() && bundled.len() == modules.len(),
        detail: if bundled.len() < modules.len() {
            format!(
                "the bundled interpreter stopped after {} of {} modules (at {})",
                bundled.len(),
                modules.len(),
                modules[bundled.len()]
            )
        } else {
            let mut detail = format!(
                "{same} of {} modules import as under {}",
                modules.len(),
                report.inputs.python.display()
            );
            if let Some(why) = uncompared {
                detail.push_str(&format!(
                    "; the failures could not be compared with that interpreter: {why}"
                ));
            }
            detail
        },
    };
    (check, failures)
}

/// Runs [`IMPORT_ALL`] under `python`: each module with its error, in order.
fn import_each(
    python: &Path,
    modules: &[&str],
    roots: &[String],
    sandbox: &Sandbox,
    hide: Option<&Hide>,
    timeout: Duration,
) -> Result<Vec<(String, Option<String>)>, String> {
    let results =
        tempfile::NamedTempFile::new_in(sandbox.root.path()).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(IMPORT_ALL)
        .arg(results.path())
        .arg(roots.join("\n"));
    let mut child = match hide {
        Some(hide) => {
            sandbox.prepare(&mut cmd, hide);
            cmd.stdin(Stdio::piped());
            hide.spawn(&mut cmd).map(|(c, _)| c)
        }
        None => cmd
            .current_dir(&sandbox.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn(),
    }
    .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let names = modules.join("\n").into_bytes();
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(&names);
    }
    let _out = collect(child.stdout.take());
    let err = collect(child.stderr.take());
    let status = wait_for(&mut child, timeout);
    let stderr = err.join().unwrap_or_default();
    let text = std::fs::read_to_string(results.path()).unwrap_or_default();
    let found: Vec<(String, Option<String>)> = text
        .lines()
        .filter_map(|line| {
            let (name, error) = line.split_once('\t')?;
            Some((
                name.to_string(),
                (!error.is_empty()).then(|| error.to_string()),
            ))
        })
        .collect();
    if found.is_empty() {
        let stderr = String::from_utf8_lossy(&stderr);
        return Err(match status {
            None => format!("did not finish within {} s", timeout.as_secs()),
            Some(status) => format!("{status}: {}", stderr.trim()),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_located_by_line() {
        assert_eq!(first_difference(b"a\nb\n", b"a\nb\n"), "as expected");
        assert_eq!(
            first_difference(b"a\nb\n", b"a\nc\n"),
            "line 2: expected \"b\", got \"c\""
        );
        assert!(first_difference(b"a\n", b"a\nz\n").contains("extra line"));
        assert!(first_difference(b"a\nb\n", b"a\n").contains("got the end"));
    }

    #[test]
    fn modules_with_effects_are_not_imported() {
        assert!(importable("json"));
        assert!(!importable("__main__"));
        assert!(!importable("pip.__main__"));
        assert!(!importable("antigravity"));
        assert!(!importable("_kiln_boot"));
    }

    #[test]
    fn a_session_is_found_and_left_processes_are_named() {
        let mut child = unsafe {
            Command::new("sleep")
                .arg("30")
                .pre_exec(|| {
                    libc::setsid();
                    Ok(())
                })
                .spawn()
                .unwrap()
        };
        let members = session_members(child.id());
        assert_eq!(members.len(), 1, "{members:?}");
        assert_eq!(members[0].1, "sleep");
        kill_session(child.id(), libc::SIGKILL);
        let _ = child.wait();
        assert!(session_members(child.id()).is_empty());
    }
}
