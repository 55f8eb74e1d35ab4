//! The kiln launcher: the executable a user runs.
//!
//! It reads the settings kiln appended to its own file, then replaces itself (`execve`) with the
//! bundled CPython interpreter. Replacing rather than spawning keeps the process id, so signals
//! sent to the app (SIGTERM from a desktop shell, SIGINT from a terminal) reach Python exactly as
//! they would reach `python main.py`, and the exit status is Python's own.
//!
//! What the executable is comes from its trailer's `mode` (see `kiln_bundle::Settings`):
//! - `app`: a onedir bundle's executable: run a component's entry through the bundle's boot
//!   script, from the runtime beside it;
//! - `python`: behave as the bundled interpreter (this is `sys.executable`, so
//!   `subprocess.run([sys.executable, "-c", ...])` and multiprocessing's spawn work);
//! - `onefile`: the runtime is a payload in this file, unpacked once into a per-user cache (see
//!   `onefile`) and run from there exactly as a onedir bundle is;
//! - `component`: a component of a onefile suite: it carries no payload, its settings name the
//!   file beside it that does (the suite's dispatcher), so that every component runs from the
//!   one cache entry of that payload.
//!
//! Every setting is validated before anything is read from the cache or unpacked.
//!
//! Exit statuses of its own: 125 the executable (or the suite file it runs from) is damaged,
//! incomplete or inconsistent; 123 the onefile cache cannot be used; 126 the interpreter cannot
//! be executed (a cache on a file system mounted `noexec` among others); 127 it is missing.

mod cmdline;
mod onefile;

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use kiln_bundle::cache::{self, Stamp};
use kiln_bundle::payload::PayloadError;
use kiln_bundle::{Mode, Settings, SettingsError, Trailer, TrailerError};

/// Variables that would make the bundled interpreter look outside the bundle.
const LEAKY_ENV: &[&str] = &[
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PYTHONEXECUTABLE",
    "PYTHONPLATLIBDIR",
    "__PYVENV_LAUNCHER__",
];

/// Which component of the bundle started this process: set for the app, read when the app
/// starts its own copy through `sys.executable` the PyInstaller way (see `cmdline`).
const COMPONENT_ENV: &str = "KILN_COMPONENT";

/// Set to any value to print what the launcher executes (and, for a onefile executable, where
/// it is unpacked), on stderr.
const DEBUG_ENV: &str = "KILN_LAUNCHER_DEBUG";

enum Error {
    SelfPath(std::io::Error),
    Trailer(PathBuf, TrailerError),
    /// The file is longer than the launcher but has no intact trailer: its end was cut off or
    /// overwritten.
    Truncated(PathBuf),
    /// An intact trailer ends this many bytes before the end of the file.
    Appended(PathBuf, u64),
    Settings(PathBuf, SettingsError),
    Format(String),
    /// Part of the file does not hash to what its trailer records.
    Damaged(PathBuf, &'static str),
    /// The settings name a file (relative to the unpacked payload) that the payload lacks.
    NotInPayload(String),
    Payload(PathBuf, PayloadError),
    /// The file a suite component runs from (its payload carrier) cannot be read.
    PayloadFile(PathBuf, std::io::Error),
    /// The payload carrier has no payload, or not the one this component was built with.
    WrongPayloadFile(PathBuf, &'static str),
    NoCacheDir,
    Cache(PathBuf, std::io::Error),
    Unsafe(PathBuf, String),
    /// The directory is on a file system mounted `noexec`; `true`: it is the onefile cache.
    NoExec(PathBuf, bool),
    Exec(PathBuf, std::io::Error),
}

impl Error {
    /// Distinct exit codes so that a caller can tell a broken bundle (125), an unusable
    /// onefile cache (123) and an interpreter that cannot start (126, 127) from a failing app.
    fn exit_code(&self) -> u8 {
        match self {
            Error::Payload(_, e) if !e.is_damaged() => 123,
            Error::SelfPath(_)
            | Error::Trailer(..)
            | Error::Truncated(_)
            | Error::Appended(..)
            | Error::Settings(..)
            | Error::Format(_)
            | Error::Damaged(..)
            | Error::NotInPayload(_)
            | Error::Payload(..)
            | Error::PayloadFile(..)
            | Error::WrongPayloadFile(..) => 125,
            Error::NoCacheDir | Error::Cache(..) | Error::Unsafe(..) => 123,
            Error::Exec(_, e) if e.kind() == std::io::ErrorKind::NotFound => 127,
            Error::Exec(..) | Error::NoExec(..) => 126,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SelfPath(e) => write!(f, "cannot locate this executable: {e}"),
            Error::Trailer(p, e) => write!(f, "{}: {e}", p.display()),
            Error::Truncated(p) => write!(
                f,
                "{}: the file is truncated or its end was overwritten (no intact bundle \
                 trailer after the launcher); copy or build it again",
                p.display()
            ),
            Error::Appended(p, n) => write!(
                f,
                "{}: {n} bytes follow the bundle trailer (something was appended to the \
                 file); copy or build it again",
                p.display()
            ),
            Error::Settings(p, e) => write!(
                f,
                "{}: the bundle settings are invalid: {e}; copy or build it again",
                p.display()
            ),
            Error::Damaged(p, what) => write!(
                f,
                "{}: the executable is damaged: {what} (the file was modified); copy or \
                 build it again",
                p.display()
            ),
            Error::NotInPayload(file) => write!(
                f,
                "the bundle settings name {file}, which the bundled files do not contain; \
                 rebuild the bundle"
            ),
            Error::Format(v) => write!(
                f,
                "the bundled files have format {v:?}, which this launcher cannot read; \
                 rebuild the bundle"
            ),
            Error::Payload(p, e) if e.is_damaged() => write!(
                f,
                "{}: the executable is damaged: {e}; copy or build it again",
                p.display()
            ),
            Error::Payload(_, e) => write!(f, "cannot unpack the app: {e}"),
            Error::PayloadFile(p, e) => write!(
                f,
                "{}: cannot read the suite's executable that holds the app: {e}; keep the \
                 suite's executables together in one directory (copy or build it again)",
                p.display()
            ),
            Error::WrongPayloadFile(p, why) => write!(
                f,
                "{}: {why}; keep the suite's executables together as they were built \
                 (copy or build it again)",
                p.display()
            ),
            Error::NoCacheDir => write!(
                f,
                "no directory to unpack the app into: set {} or HOME",
                cache::DIR_ENV
            ),
            Error::Cache(p, e) => write!(f, "cannot unpack the app into {}: {e}", p.display()),
            Error::Unsafe(p, why) => write!(
                f,
                "refusing to run the app from {}: {why}, so another user could have changed \
                 it; remove it (or set {} to a directory of your own) and run again",
                p.display(),
                cache::DIR_ENV
            ),
            Error::NoExec(dir, true) => write!(
                f,
                "cannot run the app from {}: the onefile cache is on a file system mounted \
                 noexec, where nothing may be executed; set {} to a directory on another file \
                 system (one you own, for example under your home directory) and run again",
                dir.display(),
                cache::DIR_ENV
            ),
            Error::NoExec(dir, false) => write!(
                f,
                "cannot run the app from {}: it is on a file system mounted noexec, where \
                 nothing may be executed; move the bundle to another file system",
                dir.display()
            ),
            Error::Exec(p, e) if e.kind() == std::io::ErrorKind::NotFound => write!(
                f,
                "cannot start the bundled interpreter {}: {e} (is the bundle complete?)",
                p.display()
            ),
            Error::Exec(p, e) => write!(
                f,
                "cannot start the bundled interpreter {}: {e}",
                p.display()
            ),
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("kiln launcher: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// An executable this start reads: its open file, its stamp and its trailer.
pub(crate) struct Exe {
    pub path: PathBuf,
    pub file: File,
    pub stamp: Stamp,
    pub trailer: Trailer,
    /// Where its payload starts (where its settings start when it has none).
    pub payload_start: u64,
}

impl Exe {
    fn open(path: &Path) -> Result<Exe, Error> {
        let err = |e| Error::Trailer(path.to_path_buf(), TrailerError::Io(e));
        let mut file = File::open(path).map_err(err)?;
        let stamp = Stamp::of(&file.metadata().map_err(err)?);
        let (trailer, payload_start) = match Trailer::read_from(&mut file) {
            Ok(read) => read,
            Err(TrailerError::Missing) => return Err(missing_trailer(path, &mut file)),
            Err(e) => return Err(Error::Trailer(path.to_path_buf(), e)),
        };
        Ok(Exe {
            path: path.to_path_buf(),
            file,
            stamp,
            trailer,
            payload_start,
        })
    }

    fn settings(&self) -> Result<Settings, Error> {
        self.trailer
            .decode_settings()
            .map_err(|e| Error::Settings(self.path.clone(), e))
    }
}

/// Why a file longer than its launcher has no trailer at its end: cut off, or bytes appended.
fn missing_trailer(path: &Path, file: &mut File) -> Error {
    let path = path.to_path_buf();
    let len = file.metadata().map_or(0, |m| m.len());
    match onefile::elf_image_len(file) {
        Some(image) if len > image => match kiln_bundle::find_trailer_end(file, image) {
            Ok(Some(end)) if end < len => Error::Appended(path, len - end),
            _ => Error::Truncated(path),
        },
        _ => Error::Trailer(path, TrailerError::Missing),
    }
}

fn run() -> Result<std::convert::Infallible, Error> {
    // On Linux the resolved /proc/self/exe: a symlink to the executable finds its siblings.
    let exe_path = std::env::current_exe().map_err(Error::SelfPath)?;
    let exe = Exe::open(&exe_path)?;
    let settings = exe.settings()?;
    let debug = std::env::var_os(DEBUG_ENV).is_some();
    let verify = std::env::var_os(onefile::VERIFY_ENV).is_some_and(|v| !v.is_empty() && v != "0");
    let dir = exe_path.parent().unwrap_or(Path::new("/"));
    let carrier;
    let carrier_settings;
    let (root, onefile) = match &settings.mode {
        Mode::App | Mode::Python => (dir.to_path_buf(), false),
        Mode::Onefile {
            payload_hash,
            payload_format,
            app_name,
            launcher_hash,
        } => {
            let req = onefile::Request {
                carrier: &exe,
                hash: payload_hash,
                format: payload_format,
                app: app_name,
                files: vec![(&exe, launcher_hash.as_str())],
                keys: key_files(&settings),
                verify,
                debug,
            };
            (unpack(&req)?, true)
        }
        Mode::Component {
            payload_file,
            payload_hash,
            launcher_hash,
        } => {
            // A component of a onefile suite: the payload is in the dispatcher beside it.
            let path = dir.join(payload_file);
            carrier = Exe::open(&path).map_err(|e| match e {
                Error::Trailer(p, TrailerError::Io(e)) => Error::PayloadFile(p, e),
                e => e,
            })?;
            carrier_settings = carrier.settings()?;
            let Mode::Onefile {
                payload_hash: have,
                payload_format,
                app_name,
                launcher_hash: carrier_launcher,
            } = &carrier_settings.mode
            else {
                return Err(Error::WrongPayloadFile(path, "it carries no payload"));
            };
            if have != payload_hash {
                return Err(Error::WrongPayloadFile(
                    path,
                    "it carries the payload of another build of the suite",
                ));
            }
            if debug {
                eprintln!("kiln launcher: payload in {}", path.display());
            }
            let req = onefile::Request {
                carrier: &carrier,
                hash: payload_hash,
                format: payload_format,
                app: app_name,
                files: vec![
                    (&exe, launcher_hash.as_str()),
                    (&carrier, carrier_launcher.as_str()),
                ],
                keys: key_files(&settings),
                verify,
                debug,
            };
            (unpack(&req)?, true)
        }
    };
    let runtime = normalize(&root.join(&settings.runtime));
    let interpreter = runtime.join(&settings.interpreter);
    let executable = runtime.join(&settings.executable);
    let boot = runtime.join(&settings.boot);

    let mut args = std::env::args_os();
    let argv0 = args
        .next()
        .unwrap_or_else(|| exe_path.clone().into_os_string());
    let rest: Vec<OsString> = args.collect();

    let mut cmd = Command::new(&interpreter);
    // argv[0] decides where CPython looks for its prefix and what `sys.executable` is.
    cmd.arg0(&executable);
    for var in LEAKY_ENV {
        cmd.env_remove(var);
    }
    // -s: no user site-packages; -B: never write bytecode into the bundle.
    cmd.args(["-s", "-B"]);
    match settings.mode {
        Mode::Python => {
            let args: Vec<&std::ffi::OsStr> = rest.iter().map(OsString::as_os_str).collect();
            if rest.first().is_some_and(|a| a == "--multiprocessing-fork") {
                // multiprocessing asks a frozen `sys.executable` to start a spawned child this way.
                cmd.arg(&boot).arg("mp-fork").args(&rest[1..]);
            } else if let Some(why) = cmdline::rejected_by_cpython(&args, |p| p.exists()) {
                // Code written for PyInstaller starting a copy of the app: run the entry of the
                // component that started it (or the bundle's only one).
                let component = std::env::var_os(COMPONENT_ENV)
                    .unwrap_or_else(|| settings.component.clone().into());
                if debug {
                    eprintln!("kiln launcher: CPython would refuse this command line ({why}): running the app");
                }
                cmd.arg(&boot)
                    .arg("app")
                    .arg(component)
                    .arg(&argv0)
                    .args(&rest);
            } else {
                cmd.args(&rest);
            }
        }
        _ => {
            cmd.arg(&boot)
                .arg("app")
                .arg(&settings.component)
                .arg(&argv0)
                .args(&rest);
        }
    }
    if debug {
        eprintln!("kiln launcher: runtime {}", runtime.display());
        eprintln!("kiln launcher: exec {cmd:?}");
    }
    let err = cmd.exec();
    if err.kind() == std::io::ErrorKind::PermissionDenied && noexec(&interpreter) {
        return Err(Error::NoExec(root, onefile));
    }
    Err(Error::Exec(interpreter, err))
}

/// The files a onefile start executes or hands the interpreter, relative to the unpacked
/// payload (`runtime` has no `..` in these modes).
fn key_files(settings: &Settings) -> Vec<Vec<u8>> {
    [&settings.interpreter, &settings.executable, &settings.boot]
        .iter()
        .map(|file| format!("{}/{file}", settings.runtime).into_bytes())
        .collect()
}

/// The unpacked copy of a payload, made if needed: the directory `runtime` is relative to.
fn unpack(req: &onefile::Request) -> Result<PathBuf, Error> {
    let unpacked = onefile::prepare(req)?;
    if req.debug {
        match unpacked.took {
            Some((took, damage)) => {
                eprintln!(
                    "kiln launcher: onefile unpacked into {} in {} ms",
                    unpacked.root.display(),
                    took.as_millis()
                );
                if let Some(why) = damage {
                    eprintln!("kiln launcher: it replaced a damaged copy: {why}");
                }
            }
            None => eprintln!(
                "kiln launcher: onefile already unpacked in {}",
                unpacked.root.display()
            ),
        }
    }
    Ok(unpacked.root)
}

/// Whether `path` is on a file system mounted `noexec`.
pub(crate) fn noexec(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    extern "C" {
        fn statvfs(path: *const std::ffi::c_char, buf: *mut u64) -> i32;
    }
    /// `ST_NOEXEC` in `f_flag`, the tenth field of a 64-bit `struct statvfs` (glibc, musl).
    const ST_NOEXEC: u64 = 8;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // Larger than any 64-bit `struct statvfs` (112 bytes).
    let mut buf = [0u64; 32];
    // SAFETY: a NUL-terminated path and a buffer larger than the struct statvfs writes.
    let rc = unsafe { statvfs(c_path.as_ptr(), buf.as_mut_ptr()) };
    rc == 0 && buf[9] & ST_NOEXEC != 0
}

/// Removes `.` and resolves `..` lexically, so the interpreter sees a clean prefix.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
