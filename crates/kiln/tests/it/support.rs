//! The test context: the shared test venvs, building a fixture app with the kiln binary, and
//! running a bundle somewhere else with the host's Python installations hidden.
//!
//! A bundle is only proven standalone when it runs where no Python can be found. Each hidden run
//! copies the bundle to a fresh directory and starts it under `unshare -m` with a tmpfs mounted
//! over every Python installation (and over the venv and the build directory it came from), and
//! `/dev/null` bind-mounted over the `python*` executables and `libpython` libraries in the
//! system directories. The mounts live only in the child's mount namespace.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The kiln binary under test.
pub const KILN: &str = env!("CARGO_BIN_EXE_kiln");

/// How long a `kiln build` may take before the test gives up on it.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a fixture app may run before it is killed (with its whole process group).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// System directories that hold Python installations; those that exist are hidden.
const HOST_PYTHON_DIRS: &[&str] = &[
    "/root/.pyenv",
    "/usr/lib/python3",
    "/usr/lib/python3.11",
    "/usr/local/lib/python3.11",
];

/// Directories whose `python*` executables are replaced by `/dev/null` in a hidden run.
const PYTHON_BIN_DIRS: &[&str] = &["/usr/bin", "/usr/local/bin", "/bin"];

/// Directories whose `libpython3*` shared libraries are replaced by `/dev/null` in a hidden run,
/// so that a bundle cannot fall back to the system's libpython.
const LIBPYTHON_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib",
    "/usr/local/lib",
    "/lib/x86_64-linux-gnu",
];

/// Prefixes that no `sys.path` entry of a bundle may start with.
pub const HOST_PYTHON_PREFIXES: &[&str] =
    &["/root/.pyenv", "/usr/lib/python3", "/usr/local/lib/python3"];

/// The Debian interpreter, statically linked against libpython.
pub const STATIC_PYTHON: &str = "/usr/bin/python3.11";

/// Mounts the hiding filesystems, then runs the command given as arguments. The lists arrive in
/// environment variables, one path per line, and are removed before the app starts.
const HIDE_SCRIPT: &str = r#"set -eu
IFS='
'
for dir in $KILN_TEST_HIDE_DIRS; do
    mount -t tmpfs -o size=1m,mode=0755 kiln-hidden "$dir"
done
for file in $KILN_TEST_HIDE_FILES; do
    mount --bind /dev/null "$file"
done
unset KILN_TEST_HIDE_DIRS KILN_TEST_HIDE_FILES IFS
exec "$@"
"#;

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/kiln has a workspace two levels up")
        .to_path_buf()
}

/// Cargo's target directory, where the test venvs live between runs.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// `crates/kiln/tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Recreates a directory tree of hard links with `cp -al` (the same file system), or copies it
/// where links cannot be made.
pub fn link_tree(from: &Path, to: &Path) {
    let linked = Command::new("cp")
        .arg("-al")
        .arg(from)
        .arg(to)
        .stderr(Stdio::null())
        .status()
        .expect("run cp");
    if !linked.success() {
        let _ = fs::remove_dir_all(to);
        copy_tree(from, to);
    }
}

/// The source directory of one fixture app.
pub fn app_dir(app: &str) -> PathBuf {
    let dir = fixtures_dir().join("apps").join(app);
    assert!(dir.is_dir(), "no fixture app at {}", dir.display());
    dir
}

pub fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory")
}

/// Copies a directory tree with `cp -a`, which keeps symlinks, modes and times.
pub fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp -a {} {} failed: {status}",
        from.display(),
        to.display()
    );
}

// ---------------------------------------------------------------------------------------------
// Venvs
// ---------------------------------------------------------------------------------------------

/// A virtual environment made for the tests, and facts about the interpreter it is based on.
#[derive(Debug)]
pub struct Venv {
    /// The venv directory.
    pub dir: PathBuf,
    /// `<dir>/bin/python`.
    pub python: PathBuf,
    /// The base interpreter's standard library directory.
    pub stdlib: PathBuf,
    /// The base interpreter's `LIBDIR` (where a shared libpython lives), if it has one.
    pub libdir: Option<PathBuf>,
}

/// The venv with `tests/fixtures/requirements.txt` installed, based on `python3` from `PATH`
/// or on `KILN_TEST_PYTHON`. Made once and reused across test processes while its stamp matches.
pub fn test_venv() -> &'static Venv {
    static VENV: OnceLock<Venv> = OnceLock::new();
    VENV.get_or_init(|| {
        let base = std::env::var_os("KILN_TEST_PYTHON").unwrap_or_else(|| "python3".into());
        ensure_venv(
            &target_dir().join("kiln-test-venv"),
            Path::new(&base),
            Some(&fixtures_dir().join("requirements.txt")),
        )
    })
}

/// The torch tier's venv: the test interpreter with `tests/fixtures/requirements-torch.txt`
/// (torch with its CUDA wheels, transformers, peft, ...: about 6 GB, installed once).
pub fn torch_venv() -> &'static Venv {
    static VENV: OnceLock<Venv> = OnceLock::new();
    VENV.get_or_init(|| {
        let base = std::env::var_os("KILN_TEST_PYTHON").unwrap_or_else(|| "python3".into());
        ensure_venv(
            &target_dir().join("kiln-torch-venv"),
            Path::new(&base),
            Some(&fixtures_dir().join("requirements-torch.txt")),
        )
    })
}

/// A venv without packages based on Debian's statically linked `/usr/bin/python3.11`, or
/// `None` where that interpreter is not installed.
pub fn static_venv() -> Option<&'static Venv> {
    static VENV: OnceLock<Option<Venv>> = OnceLock::new();
    VENV.get_or_init(|| {
        Path::new(STATIC_PYTHON)
            .exists()
            .then(|| ensure_venv(&static_venv_dir(), Path::new(STATIC_PYTHON), None))
    })
    .as_ref()
}

/// The venv of the version matrix for CPython 3.`minor` from pyenv (the newest 3.`minor`.x it
/// has), with `tests/fixtures/requirements-py3MINOR.txt` installed; `None` where the machine
/// has no such interpreter.
pub fn pyenv_venv(minor: u32) -> Option<&'static Venv> {
    static VENVS: [OnceLock<Option<Venv>>; 8] = [const { OnceLock::new() }; 8];
    let slot = VENVS.get(minor.checked_sub(9)? as usize)?;
    slot.get_or_init(|| {
        let base = pyenv_python(minor)?;
        let requirements = fixtures_dir().join(format!("requirements-py3{minor}.txt"));
        Some(ensure_venv(
            &target_dir().join(format!("kiln-test-venv-py3{minor}")),
            &base,
            requirements.is_file().then_some(requirements.as_path()),
        ))
    })
    .as_ref()
}

/// pyenv's newest CPython 3.`minor`, if it has one.
pub fn pyenv_python(minor: u32) -> Option<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.pyenv"));
    let prefix = format!("3.{minor}.");
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(root.join("versions"))
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let micro = name.strip_prefix(&prefix)?.parse::<u32>().ok()?;
            let python = e.path().join(format!("bin/python3.{minor}"));
            python.is_file().then_some((micro, python))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, python)| python)
}

fn static_venv_dir() -> PathBuf {
    target_dir().join("kiln-test-venv-static")
}

/// An exclusive `flock` on a file, released when dropped. Each acquisition opens the file
/// anew, so it excludes other acquisitions in the same process as well as other processes.
pub struct FileLock {
    _file: fs::File,
}

impl FileLock {
    pub fn acquire(path: &Path) -> FileLock {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open lock file {}: {e}", path.display()));
        loop {
            // SAFETY: flock on a descriptor that `file` keeps open.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return FileLock { _file: file };
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                panic!("lock {}: {err}", path.display());
            }
        }
    }
}

const PROBE: &str = "import sys, sysconfig; \
print(sys.executable); print(sys.version.replace(chr(10), ' ')); \
print(sysconfig.get_path('stdlib')); print(sysconfig.get_config_var('LIBDIR') or '')";

struct Probe {
    stamp: String,
    stdlib: PathBuf,
    libdir: Option<PathBuf>,
}

fn probe(python: &Path) -> Probe {
    let output = Command::new(python)
        .args(["-I", "-c", PROBE])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("probe output is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "unexpected probe output: {text}");
    Probe {
        stamp: format!("interpreter: {}\nversion: {}\n", lines[0], lines[1]),
        stdlib: PathBuf::from(lines[2]),
        libdir: (!lines[3].is_empty()).then(|| PathBuf::from(lines[3])),
    }
}

/// Makes (or reuses) a venv at `dir` from `base`, with `requirements` installed.
///
/// A lock file beside the venv serialises test processes; the stamp file is written last, so a
/// venv whose creation was interrupted is made again from scratch.
fn ensure_venv(dir: &Path, base: &Path, requirements: Option<&Path>) -> Venv {
    let base_probe = probe(base);
    let mut stamp = base_probe.stamp.clone();
    if let Some(requirements) = requirements {
        let text = fs::read_to_string(requirements)
            .unwrap_or_else(|e| panic!("read {}: {e}", requirements.display()));
        stamp.push_str("\n--- requirements\n");
        stamp.push_str(&text);
    }
    let parent = dir.parent().expect("venv dir has a parent");
    fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    let mut lock_name = dir.file_name().expect("venv dir has a name").to_owned();
    lock_name.push(".lock");
    let _lock = FileLock::acquire(&parent.join(lock_name));

    let stamp_path = dir.join("kiln-test-stamp");
    let venv = Venv {
        dir: dir.to_path_buf(),
        python: dir.join("bin/python"),
        stdlib: base_probe.stdlib,
        libdir: base_probe.libdir,
    };
    if fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) && venv.python.exists() {
        return venv;
    }

    let started = Instant::now();
    eprintln!(
        "creating test venv {} from {}",
        dir.display(),
        base.display()
    );
    if dir.exists() {
        fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("remove {}: {e}", dir.display()));
    }
    let mut venv_cmd = Command::new(base);
    venv_cmd.args(["-m", "venv"]);
    if requirements.is_none() {
        venv_cmd.arg("--without-pip");
    }
    run_checked(venv_cmd.arg(dir), "create the test venv");
    if let Some(requirements) = requirements {
        run_checked(
            Command::new(&venv.python)
                .args(["-m", "pip", "install", "--disable-pip-version-check"])
                .args(["--no-input", "--quiet", "-r"])
                .arg(requirements),
            "install the test requirements",
        );
    }
    fs::write(&stamp_path, stamp).unwrap_or_else(|e| panic!("write {}: {e}", stamp_path.display()));
    eprintln!(
        "created test venv {} in {:.1}s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    venv
}

/// Runs `cmd` to completion and returns its output; panics with it unless it succeeded.
pub fn run_checked(cmd: &mut Command, what: &str) -> std::process::Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{what}: {cmd:?} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/// The output modes of `kiln build`; every build test runs in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `OUT/NAME/NAME` beside `OUT/NAME/_kiln/`.
    Onedir,
    /// The single executable `OUT/NAME` (`--onefile`).
    Onefile,
    /// A suite of one component, [`SUITE_COMPONENT`]: `OUT/NAME/NAME-main` beside the
    /// dispatcher and `_kiln/`. A single app is built the same way, so it must behave the same.
    Suite,
}

/// The component a [`Mode::Suite`] build makes of the app.
pub const SUITE_COMPONENT: &str = "main";

/// Declares the app's entry (the first of `args`: a script, or `-m MODULE`) as the only
/// component of a suite, in the app's own configuration, and returns the other arguments.
fn declare_suite(app: &Path, args: &[OsString]) -> Vec<OsString> {
    let (key, value, rest) = match args.first().and_then(|a| a.to_str()) {
        Some("-m") => ("module", args[1].to_string_lossy().to_string(), &args[2..]),
        Some(_) => ("entry", args[0].to_string_lossy().to_string(), &args[1..]),
        None => return args.to_vec(),
    };
    let table = format!("components.{SUITE_COMPONENT}");
    let (file, header) = if app.join("kiln.toml").is_file() || !app.join("pyproject.toml").is_file()
    {
        (app.join("kiln.toml"), format!("[{table}]"))
    } else {
        (app.join("pyproject.toml"), format!("[tool.kiln.{table}]"))
    };
    let mut text = fs::read_to_string(&file).unwrap_or_default();
    text.push_str(&format!("\n{header}\n{key} = {value:?}\n"));
    fs::write(&file, text).unwrap();
    rest.to_vec()
}

/// Work done on an app's copy before it is built.
type Prepare = Box<dyn FnOnce(&Path)>;

/// One `kiln build` of a fixture app, run in a copy of the app in a fresh temporary directory.
pub struct Build {
    app: String,
    /// The app's source directory (default: the fixture app `app`).
    source: Option<PathBuf>,
    /// The kiln executable (default: [`KILN`], the one under test).
    kiln: PathBuf,
    args: Vec<OsString>,
    python: PathBuf,
    name: String,
    out: Option<PathBuf>,
    mode: Mode,
    envs: Vec<(OsString, OsString)>,
    /// Runs on the app's copy before the build.
    prepare: Option<Prepare>,
}

impl Build {
    /// A build of fixture `app` with the test venv's python, named after the app.
    pub fn new(app: &str) -> Build {
        Build {
            app: app.to_string(),
            source: None,
            kiln: PathBuf::from(KILN),
            args: Vec::new(),
            python: test_venv().python.clone(),
            name: app.to_string(),
            out: None,
            mode: Mode::Onedir,
            envs: Vec::new(),
            prepare: None,
        }
    }

    /// Runs `f` on the app's copy before building it (to record a trace, say).
    pub fn prepare(mut self, f: impl FnOnce(&Path) + 'static) -> Build {
        self.prepare = Some(Box::new(f));
        self
    }

    /// Builds a copy of `dir` instead of the fixture app (one of the repository's examples).
    pub fn source(mut self, dir: &Path) -> Build {
        self.source = Some(dir.to_path_buf());
        self
    }

    /// Builds with another kiln executable (one installed from the wheel).
    pub fn kiln(mut self, kiln: &Path) -> Build {
        self.kiln = kiln.to_path_buf();
        self
    }

    /// Sets an environment variable of the `kiln build` process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Build {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Sets the output mode (default [`Mode::Onedir`]).
    pub fn mode(mut self, mode: Mode) -> Build {
        self.mode = mode;
        self
    }

    /// Adds arguments after `kiln build` (the entry point, flags).
    pub fn args<I, S>(mut self, args: I) -> Build
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Builds with another interpreter.
    pub fn python(mut self, python: &Path) -> Build {
        self.python = python.to_path_buf();
        self
    }

    /// Sets `--name` (default: the app's name).
    pub fn name(mut self, name: &str) -> Build {
        self.name = name.to_string();
        self
    }

    /// Sets `--out` (default: `dist` in the build's temporary directory).
    pub fn out(mut self, out: &Path) -> Build {
        self.out = Some(out.to_path_buf());
        self
    }

    /// Runs the build and returns what happened, successful or not.
    pub fn run(self) -> BuildOutput {
        let root = temp_dir(&format!("kiln-it-build-{}-", self.app));
        let app_copy = root.path().join("app");
        let source = self.source.unwrap_or_else(|| app_dir(&self.app));
        copy_tree(&source, &app_copy);
        if let Some(prepare) = self.prepare {
            prepare(&app_copy);
        }
        let out_dir = self.out.unwrap_or_else(|| root.path().join("dist"));
        let args = match self.mode {
            Mode::Suite => declare_suite(&app_copy, &self.args),
            _ => self.args.clone(),
        };
        let mut cmd = Command::new(&self.kiln);
        cmd.arg("build")
            .args(&args)
            .arg("--python")
            .arg(&self.python)
            .arg("--name")
            .arg(&self.name)
            .arg("--out")
            .arg(&out_dir)
            // Tests check behaviour, not ratio: the fastest level keeps onefile builds quick.
            .args(match self.mode {
                Mode::Onedir | Mode::Suite => &[][..],
                Mode::Onefile => &["--onefile", "--compression-level", "1"][..],
            })
            .current_dir(&app_copy)
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .envs(self.envs.iter().map(|(k, v)| (k, v)));
        let description = format!("{cmd:?}");
        let child = spawn(&mut cmd, &description);
        let result = child.wait_timeout(BUILD_TIMEOUT).unwrap_or_else(|child| {
            let partial = child.kill();
            panic!(
                "`{description}` did not finish within {BUILD_TIMEOUT:?}\n{partial}",
                partial = partial.describe()
            )
        });
        BuildOutput {
            root,
            out_dir,
            name: self.name,
            mode: self.mode,
            command: description,
            result,
        }
    }

    /// Runs the build and panics with its output unless it succeeded and made an executable.
    pub fn success(self) -> BuildOutput {
        let build = self.run();
        build.assert_success();
        build
    }
}

/// Builds fixture `app` with `args` after `kiln build` and asserts success.
pub fn freeze(app: &str, args: &[&str]) -> BuildOutput {
    freeze_mode(app, args, Mode::Onedir)
}

/// [`freeze`] in output mode `mode`.
pub fn freeze_mode(app: &str, args: &[&str], mode: Mode) -> BuildOutput {
    Build::new(app).args(args).mode(mode).success()
}

/// What one `kiln build` did. Keeps its temporary directory alive.
pub struct BuildOutput {
    root: TempDir,
    /// The `--out` directory.
    pub out_dir: PathBuf,
    /// The `--name`.
    pub name: String,
    pub mode: Mode,
    /// The command line, for messages.
    pub command: String,
    /// Exit status and output of `kiln build`.
    pub result: RunOutput,
}

impl BuildOutput {
    /// `OUT/NAME`: the bundle directory, or the onefile executable.
    pub fn bundle_dir(&self) -> PathBuf {
        self.out_dir.join(&self.name)
    }

    /// `OUT/NAME/NAME`, or `OUT/NAME` for onefile.
    pub fn exe(&self) -> PathBuf {
        match self.mode {
            Mode::Onedir => self.bundle_dir().join(&self.name),
            Mode::Onefile => self.bundle_dir(),
            Mode::Suite => self
                .bundle_dir()
                .join(format!("{}-{SUITE_COMPONENT}", self.name)),
        }
    }

    /// The build's own temporary directory (the app copy and, by default, the out dir).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Panics with the build's output unless it succeeded and left an executable.
    pub fn assert_success(&self) {
        assert!(
            self.result.status.success(),
            "kiln build failed\n{}\n{}",
            self.command,
            self.result.describe()
        );
        let exe = self.exe();
        let is_executable = fs::metadata(&exe)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        assert!(
            is_executable,
            "kiln build succeeded but {} is not an executable file; the out dir holds: {:?}\n{}",
            exe.display(),
            list_dir(&self.out_dir),
            self.result.describe()
        );
    }
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/// Exit status and decoded output of a finished process.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    /// The exit status, stdout and stderr (long ones shortened), for an assertion message.
    pub fn describe(&self) -> String {
        format!(
            "status: {}\n--- stdout\n{}\n--- stderr\n{}\n---",
            self.status,
            shorten(&self.stdout),
            shorten(&self.stderr)
        )
    }

    /// Panics with the output unless the process exited with status 0.
    pub fn assert_success(&self, what: &str) {
        assert!(self.status.success(), "{what} failed\n{}", self.describe());
    }
}

/// Keeps the start and the end of a long output, where the useful lines usually are.
fn shorten(text: &str) -> String {
    const KEEP: usize = 6000;
    if text.len() <= 2 * KEEP {
        return text.to_string();
    }
    let mut head = KEEP;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - KEEP;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[... {} bytes left out ...]\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

impl fmt::Display for RunOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A running process whose stdout and stderr are collected by threads, in its own process
/// group so that a timeout can end everything it started.
pub struct Running {
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    description: String,
    /// Directories that must outlive the process (its bundle copy, its cwd).
    _keep: Vec<TempDir>,
}

fn collect<R: Read + Send + 'static>(mut pipe: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

pub fn spawn(cmd: &mut Command, description: &str) -> Running {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{description}`: {e}"));
    let stdout = child.stdout.take().map(collect);
    let stderr = child.stderr.take().map(collect);
    Running {
        child,
        stdout,
        stderr,
        description: description.to_string(),
        _keep: Vec::new(),
    }
}

impl Running {
    /// The process id (the same process as the app's Python: the launcher execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the process itself (not its group).
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits pid_t");
        // SAFETY: kill has no memory-safety preconditions.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {signal}): {}",
            std::io::Error::last_os_error()
        );
    }

    /// Whether the process has exited (without collecting its output).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    fn finish(&mut self, status: ExitStatus) -> RunOutput {
        let text = |handle: Option<JoinHandle<Vec<u8>>>| {
            handle
                .map(|h| String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned())
                .unwrap_or_default()
        };
        RunOutput {
            status,
            stdout: text(self.stdout.take()),
            stderr: text(self.stderr.take()),
        }
    }

    /// Waits up to `timeout` for the process to exit; hands itself back if it has not.
    ///
    /// Output is read until the pipes close, so a grandchild that keeps them open past the
    /// exit is waited for too, which is what a test wants to hear about.
    pub fn wait_timeout(mut self, timeout: Duration) -> Result<RunOutput, Box<Running>> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(self.finish(status)),
                Ok(None) if Instant::now() >= deadline => return Err(Box::new(self)),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("wait for `{}`: {e}", self.description),
            }
        }
    }

    /// Kills the whole process group and returns what it had printed.
    pub fn kill(mut self) -> RunOutput {
        self.kill_group();
        let status = self.child.wait().expect("wait for a killed child");
        self.finish(status)
    }

    fn kill_group(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill has no memory-safety preconditions; the child leads its own group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }

    /// Waits up to `timeout`, killing the process group and panicking with its output if it
    /// has not exited by then.
    pub fn output(self, timeout: Duration) -> RunOutput {
        self.wait_timeout(timeout).unwrap_or_else(|running| {
            let description = running.description.clone();
            let partial = running.kill();
            panic!(
                "`{description}` did not exit within {timeout:?} and was killed\n{}",
                partial.describe()
            )
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill_group();
            let _ = self.child.wait();
        }
    }
}

/// A clean, small environment for running apps: PATH without any Python, a fresh HOME, UTF-8.
pub fn base_env(cmd: &mut Command, home: &Path, hidden: &[PathBuf]) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| {
            let text = dir.to_string_lossy();
            let pythonish = ["python", "pyenv", "venv"].iter().any(|w| text.contains(w));
            !pythonish && !hidden.iter().any(|h| dir.starts_with(h))
        })
        .collect();
    cmd.env_clear()
        .env(
            "PATH",
            std::env::join_paths(kept).expect("PATH entries join"),
        )
        .env("HOME", home)
        .env("LANG", "C.UTF-8");
}

/// A bundle copied to a fresh directory, ready to run with the host's Pythons hidden.
pub struct Hidden<'a> {
    build: &'a BuildOutput,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    timeout: Duration,
    cache: Option<PathBuf>,
    program: Option<String>,
    hard_link: bool,
    /// More directories to hide: a venv of another tier than the test venv's, say.
    also_hidden: Vec<PathBuf>,
    /// A client that starts the bundle itself: its program and the arguments before the
    /// bundle's executable.
    client: Option<(PathBuf, Vec<OsString>)>,
}

/// Runs the bundle of `build` relocated and with the host's Pythons hidden; see [`Hidden`].
pub fn run_hidden(build: &BuildOutput, args: &[&str]) -> HiddenOutput {
    Hidden::new(build).args(args).output()
}

/// The output of a hidden run and where the bundle ran from.
#[derive(Debug)]
pub struct HiddenOutput {
    /// Exit status and output.
    pub run: RunOutput,
    /// The path the executable was started with (`argv[0]`).
    pub exe: PathBuf,
    /// The (empty) working directory it ran in.
    pub cwd: PathBuf,
    /// Where the app's files were: the relocated bundle directory, or the onefile cache entry
    /// it was unpacked into.
    pub runtime_root: PathBuf,
    _cache: Option<TempDir>,
}

/// The entries in a onefile cache directory.
pub fn onefile_entries(cache: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(cache)
        .map(|read| {
            read.filter_map(|e| e.ok())
                .filter(|e| kiln_bundle::cache::is_entry_name(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
}

impl<'a> Hidden<'a> {
    pub fn new(build: &'a BuildOutput) -> Hidden<'a> {
        Hidden {
            build,
            args: Vec::new(),
            envs: Vec::new(),
            timeout: RUN_TIMEOUT,
            cache: None,
            program: None,
            hard_link: false,
            also_hidden: Vec::new(),
            client: None,
        }
    }

    /// Relocates the bundle as hard links instead of copies, for bundles of gigabytes: the run
    /// must then leave the bundle's files alone, since they are the build's too.
    pub fn hard_linked(mut self) -> Hidden<'a> {
        self.hard_link = true;
        self
    }

    /// Hides `dir` as well: the venv the bundle was built from, when it is not the test venv
    /// (which is always hidden).
    pub fn hiding(mut self, dir: &Path) -> Hidden<'a> {
        self.also_hidden.push(dir.to_path_buf());
        self
    }

    /// Starts this file of the bundle directory instead of the bundle's executable (a suite's
    /// `NAME-COMPONENT` launcher).
    pub fn program(mut self, file_name: &str) -> Hidden<'a> {
        self.program = Some(file_name.to_string());
        self
    }

    /// Runs `program ARGS... EXE BUNDLE_ARGS...` instead of the bundle's executable: a client
    /// that starts the bundle as its own child, as a desktop app's shell does, in the same
    /// hidden environment. `program` must lie outside the hidden directories.
    pub fn client<I, S>(mut self, program: &Path, args: I) -> Hidden<'a>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.client = Some((
            program.to_path_buf(),
            args.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// The onefile cache to use (default: a fresh one per run).
    pub fn cache(mut self, dir: &Path) -> Hidden<'a> {
        self.cache = Some(dir.to_path_buf());
        self
    }

    /// How long [`Hidden::output`] waits before it kills the app (default [`RUN_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Hidden<'a> {
        self.timeout = timeout;
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Hidden<'a>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Hidden<'a> {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Copies the bundle and starts it; the returned process owns the copies.
    pub fn spawn(self) -> (Running, HiddenOutputPaths) {
        let bundle_root = temp_dir("kiln-it-bundle-");
        let bundle_dir = bundle_root.path().join(&self.build.name);
        if self.hard_link {
            link_tree(&self.build.bundle_dir(), &bundle_dir);
        } else {
            copy_tree(&self.build.bundle_dir(), &bundle_dir);
        }
        let exe = match (self.build.mode, &self.program) {
            (_, Some(file_name)) => bundle_dir.join(file_name),
            (Mode::Onedir, None) => bundle_dir.join(&self.build.name),
            (Mode::Onefile, None) => bundle_dir.clone(),
            (Mode::Suite, None) => {
                bundle_dir.join(format!("{}-{SUITE_COMPONENT}", self.build.name))
            }
        };
        let cwd = temp_dir("kiln-it-cwd-");
        // Outside the hidden directories, and not in HOME (the working directory), which the
        // app must not find on sys.path.
        let own_cache = (self.build.mode == Mode::Onefile && self.cache.is_none())
            .then(|| temp_dir("kiln-it-onefile-cache-"));
        let cache = self
            .cache
            .clone()
            .or_else(|| own_cache.as_ref().map(|c| c.path().to_path_buf()));

        // The build's own directory holds the app's sources and the bundle as built; then the
        // directories asked for.
        let mut build_dirs = vec![self.build.root().to_path_buf(), self.build.out_dir.clone()];
        build_dirs.extend(self.also_hidden.iter().cloned());
        let mut visible = vec![bundle_root.path()];
        visible.extend(cache.as_deref());
        let (program, args) = match &self.client {
            Some((program, args)) => {
                visible.push(program);
                let mut all = args.clone();
                all.push(exe.clone().into_os_string());
                all.extend(self.args.iter().cloned());
                (program.clone(), all)
            }
            None => (exe.clone(), self.args.clone()),
        };
        let mut cmd = hidden_command(&program, &args, cwd.path(), &build_dirs, &visible);
        if let Some(cache) = &cache {
            cmd.env(kiln_bundle::cache::DIR_ENV, cache);
        }
        for (key, value) in &self.envs {
            cmd.env(key, value);
        }
        let description = format!(
            "{} {:?} (relocated, host Pythons hidden)",
            program.display(),
            args
        );
        let mut running = spawn(&mut cmd, &description);
        let paths = HiddenOutputPaths {
            exe,
            bundle_dir,
            cwd: cwd.path().to_path_buf(),
            cache_dir: cache,
        };
        running._keep.push(bundle_root);
        running._keep.push(cwd);
        running._keep.extend(own_cache);
        (running, paths)
    }

    /// Runs to completion (within the timeout).
    pub fn output(mut self) -> HiddenOutput {
        let timeout = self.timeout;
        let mode = self.build.mode;
        // Kept past the run, so that the caller can look at what was unpacked.
        let own_cache = (mode == Mode::Onefile && self.cache.is_none())
            .then(|| temp_dir("kiln-it-onefile-cache-"));
        if let Some(dir) = &own_cache {
            self.cache = Some(dir.path().to_path_buf());
        }
        let (running, paths) = self.spawn();
        let run = running.output(timeout);
        let runtime_root = match (&paths.cache_dir, mode) {
            (Some(cache), Mode::Onefile) => onefile_entries(cache)
                .pop()
                .unwrap_or_else(|| cache.clone()),
            _ => paths.bundle_dir.clone(),
        };
        HiddenOutput {
            run,
            exe: paths.exe,
            cwd: paths.cwd,
            runtime_root,
            _cache: own_cache,
        }
    }
}

/// Where a hidden run's bundle copy, working directory and onefile cache are.
#[derive(Debug, Clone)]
pub struct HiddenOutputPaths {
    pub exe: PathBuf,
    pub bundle_dir: PathBuf,
    pub cwd: PathBuf,
    pub cache_dir: Option<PathBuf>,
}

/// A command that runs `program` in a private mount namespace with the host's Pythons (and
/// `extra_dirs`) hidden, in `cwd`, with a clean environment. `visible` (and `cwd`) must not lie
/// in a hidden directory.
fn hidden_command(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    extra_dirs: &[PathBuf],
    visible: &[&Path],
) -> Command {
    require_unshare();
    let (dirs, files) = hidden_paths(extra_dirs);
    for dir in &dirs {
        for inside in visible.iter().copied().chain([cwd]) {
            assert!(
                !inside.starts_with(dir),
                "{} would be hidden by the tmpfs over {}; set TMPDIR elsewhere",
                inside.display(),
                dir.display()
            );
        }
    }
    let lines = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "bash", "-c", HIDE_SCRIPT, "kiln-hide"])
        .arg(program)
        .args(args)
        .current_dir(cwd);
    base_env(&mut cmd, cwd, &dirs);
    cmd.env("KILN_TEST_HIDE_DIRS", lines(&dirs))
        .env("KILN_TEST_HIDE_FILES", lines(&files));
    cmd
}

/// Runs `program ARGS...` (found on the hidden run's PATH) with the host's Pythons hidden, as
/// a bundle would run. For checking the hiding itself.
pub fn run_in_hidden_env(program: &str, args: &[&str]) -> RunOutput {
    let cwd = temp_dir("kiln-it-cwd-");
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let mut cmd = hidden_command(Path::new(program), &args, cwd.path(), &[], &[]);
    spawn(
        &mut cmd,
        &format!("{program} {args:?} (host Pythons hidden)"),
    )
    .output(RUN_TIMEOUT)
}

/// Directories to cover with tmpfs and files to cover with /dev/null for a hidden run.
fn hidden_paths(extra_dirs: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let venv = test_venv();
    let mut dirs: Vec<PathBuf> = HOST_PYTHON_DIRS.iter().map(PathBuf::from).collect();
    dirs.push(venv.dir.clone());
    dirs.push(venv.stdlib.clone());
    // Hidden whenever it exists, without making it for tests that do not use it.
    dirs.push(static_venv_dir());
    dirs.extend(extra_dirs.iter().cloned());
    let mut dirs: Vec<PathBuf> = dirs
        .into_iter()
        .filter(|d| d.is_dir())
        .filter_map(|d| d.canonicalize().ok())
        .collect();
    dirs.sort();
    dirs.dedup();
    // A directory inside another hidden one is hidden already (and can no longer be mounted on).
    let dirs: Vec<PathBuf> = dirs
        .iter()
        .filter(|d| !dirs.iter().any(|o| o != *d && d.starts_with(o)))
        .cloned()
        .collect();

    let mut files = Vec::new();
    let mut lib_dirs: Vec<PathBuf> = LIBPYTHON_DIRS.iter().map(PathBuf::from).collect();
    lib_dirs.extend(venv.libdir.clone());
    for (dir, prefix) in PYTHON_BIN_DIRS
        .iter()
        .map(|d| (PathBuf::from(d), "python"))
        .chain(lib_dirs.into_iter().map(|d| (d, "libpython3")))
    {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with(prefix) || (prefix == "libpython3" && !name.contains(".so")) {
                continue;
            }
            if let Ok(real) = entry.path().canonicalize() {
                if real.is_file() && !dirs.iter().any(|d| real.starts_with(d)) {
                    files.push(real);
                }
            }
        }
    }
    files.sort();
    files.dedup();
    (dirs, files)
}

/// Panics with a clear message unless `unshare -m` works here (it needs root or user
/// namespaces).
fn require_unshare() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECK.get_or_init(|| {
        match Command::new("unshare")
            .args(["-m", "true"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "`unshare -m true` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run `unshare`: {e}")),
        }
    });
    if let Err(message) = result {
        panic!(
            "the integration tests run bundles in a private mount namespace to hide the host's \
             Python, which needs `unshare -m` (util-linux) and root: {message}"
        );
    }
}

/// Runs fixture `app` from a fresh copy with the test venv's python: `python ARGS...`.
pub fn run_plain(app: &str, args: &[&str]) -> RunOutput {
    run_plain_with(test_venv(), app, args)
}

/// Runs fixture `app` from a fresh copy with `venv`'s python.
pub fn run_plain_with(venv: &Venv, app: &str, args: &[&str]) -> RunOutput {
    let (running, _dir) = spawn_plain_with(venv, app, args);
    running.output(RUN_TIMEOUT)
}

/// Starts fixture `app` from a fresh copy with `venv`'s python.
pub fn spawn_plain_with(venv: &Venv, app: &str, args: &[&str]) -> (Running, PathBuf) {
    spawn_plain_prepared(venv, app, args, &[], |_| {})
}

/// Runs fixture `app` with `venv`'s python from a fresh copy that `prepare` worked on first (to
/// put generated files in place, as [`Build::prepare`] does for the build), with `envs` added
/// to the clean environment.
pub fn run_plain_prepared(
    venv: &Venv,
    app: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    prepare: impl FnOnce(&Path),
) -> RunOutput {
    let (running, _dir) = spawn_plain_prepared(venv, app, args, envs, prepare);
    running.output(RUN_TIMEOUT)
}

fn spawn_plain_prepared(
    venv: &Venv,
    app: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    prepare: impl FnOnce(&Path),
) -> (Running, PathBuf) {
    let root = temp_dir(&format!("kiln-it-plain-{app}-"));
    let dir = root.path().join("app");
    copy_tree(&app_dir(app), &dir);
    prepare(&dir);
    let mut cmd = Command::new(&venv.python);
    cmd.args(args).current_dir(&dir);
    base_env(&mut cmd, root.path(), &[]);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(envs.iter().copied());
    let description = format!("{} {args:?} in a copy of {app}", venv.python.display());
    let mut running = spawn(&mut cmd, &description);
    running._keep.push(root);
    (running, dir)
}

/// Asserts that a frozen run printed the same stdout and exited the same way as a plain one.
pub fn assert_same_run(what: &str, plain: &RunOutput, frozen: &RunOutput) {
    assert!(
        plain.stdout == frozen.stdout && plain.status.code() == frozen.status.code(),
        "{what}: the bundle behaves differently from plain python\n\
         === plain python\n{}\n=== frozen bundle\n{}",
        plain.describe(),
        frozen.describe()
    );
    assert_eq!(
        plain.status.signal(),
        frozen.status.signal(),
        "{what}: different terminating signal"
    );
}

// ---------------------------------------------------------------------------------------------
// Networking
// ---------------------------------------------------------------------------------------------

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A minimal HTTP/1.1 GET to 127.0.0.1: returns the status code and body.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let malformed = || std::io::Error::other(format!("malformed HTTP response: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(malformed)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(malformed)?;
    Ok((status, body.to_string()))
}

/// The modules a bundle's module archive holds: the path each stands for (relative to the
/// bundle root, like `_kiln/lib/python3.11/json/__init__.pyc`) and its stored length. Empty
/// when the bundle has no archive. Reads the format `write/archive.rs` documents.
pub fn archive_members(root: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(lib) = std::fs::read_dir(root.join("_kiln/lib")) else {
        return out;
    };
    for dir in lib.filter_map(|e| e.ok()) {
        let Ok(bytes) = std::fs::read(dir.path().join("_kiln_modules.bin")) else {
            continue;
        };
        let entries = kiln::write::archive::read_index(&bytes).expect("the archive's index");
        for e in entries {
            if let Some((_, length)) = e.code {
                out.insert(format!("_kiln/{}", e.path), length);
            }
        }
    }
    out
}

/// `kiln check --json` of fixture `app` with `extra` flags.
pub fn check_json(app: &str, extra: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(KILN)
        .args(["check", "main.py", "--json"])
        .args(extra)
        .arg("--python")
        .arg(&test_venv().python)
        .current_dir(app_dir(app))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
