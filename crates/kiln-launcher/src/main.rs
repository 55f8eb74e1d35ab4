//! The kiln launcher: the executable a user runs.
//!
//! It reads the settings kiln appended to its own file, then replaces itself (`execve`) with the
//! bundled CPython interpreter. Replacing rather than spawning keeps the process id, so signals
//! sent to the app (SIGTERM from a desktop shell, SIGINT from a terminal) reach Python exactly as
//! they would reach `python main.py`, and the exit status is Python's own.
//!
//! Two modes, chosen by the trailer:
//! - `app`: run a component's entry through the bundle's boot script;
//! - `python`: behave as the bundled interpreter (this is `sys.executable`, so
//!   `subprocess.run([sys.executable, "-c", ...])` and multiprocessing's spawn work).
//!
//! A onefile executable carries the runtime as a payload; it is unpacked once into a per-user
//! cache (see `onefile`) and run from there exactly as a onedir bundle is. A component launcher
//! of a onefile suite carries no payload: its settings name the file beside it that does (the
//! suite's dispatcher), so that every component runs from the one cache entry of that payload.

mod onefile;

use std::ffi::OsString;
use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use kiln_bundle::payload::PayloadError;
use kiln_bundle::{cache, keys, Trailer, TrailerError};

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

/// Set to any value to print what the launcher executes (and, for a onefile executable, where
/// it is unpacked), on stderr.
const DEBUG_ENV: &str = "KILN_LAUNCHER_DEBUG";

enum Error {
    SelfPath(std::io::Error),
    Trailer(PathBuf, TrailerError),
    /// The file is longer than the launcher but has no trailer: its end was cut off.
    Truncated(PathBuf),
    Setting(&'static str),
    Format(String),
    Payload(PathBuf, PayloadError),
    /// The file a suite component runs from (its payload carrier) cannot be read.
    PayloadFile(PathBuf, std::io::Error),
    /// The payload carrier has no payload, or not the one this component was built with.
    WrongPayloadFile(PathBuf, &'static str),
    NoCacheDir,
    Cache(PathBuf, std::io::Error),
    Unsafe(PathBuf, String),
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
            | Error::Setting(_)
            | Error::Format(_)
            | Error::Payload(..)
            | Error::PayloadFile(..)
            | Error::WrongPayloadFile(..) => 125,
            Error::NoCacheDir | Error::Cache(..) | Error::Unsafe(..) => 123,
            Error::Exec(_, e) if e.kind() == std::io::ErrorKind::NotFound => 127,
            Error::Exec(..) => 126,
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
                "{}: the file is truncated (its end, which holds the bundle, is missing); \
                 copy or build it again",
                p.display()
            ),
            Error::Setting(k) => write!(f, "the bundle settings lack `{k}`; rebuild the bundle"),
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
            Error::Exec(p, e) => write!(
                f,
                "cannot start the bundled interpreter {}: {e} (is the bundle complete?)",
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

fn setting<'a>(trailer: &'a Trailer, key: &'static str) -> Result<&'a str, Error> {
    trailer.get(key).ok_or(Error::Setting(key))
}

fn run() -> Result<std::convert::Infallible, Error> {
    // On Linux the resolved /proc/self/exe: a symlink to the executable finds its siblings.
    let exe = std::env::current_exe().map_err(Error::SelfPath)?;
    let (trailer, payload_start) = read_trailer(&exe)?;
    let debug = std::env::var_os(DEBUG_ENV).is_some();
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let root = if let Some(file) = trailer.get(keys::PAYLOAD_FILE) {
        // A component of a onefile suite: the payload is in the dispatcher beside it.
        let carrier = dir.join(file);
        let (shared, start) = read_trailer(&carrier).map_err(|e| match e {
            Error::Trailer(p, TrailerError::Io(e)) => Error::PayloadFile(p, e),
            e => e,
        })?;
        let have = shared
            .get(keys::PAYLOAD_HASH)
            .filter(|_| shared.payload_len > 0);
        match (have, trailer.get(keys::PAYLOAD_HASH)) {
            (None, _) => return Err(Error::WrongPayloadFile(carrier, "it carries no payload")),
            (Some(have), Some(want)) if have != want => {
                return Err(Error::WrongPayloadFile(
                    carrier,
                    "it carries the payload of another build of the suite",
                ))
            }
            _ => {}
        }
        if debug {
            eprintln!("kiln launcher: payload in {}", carrier.display());
        }
        unpack(&carrier, &shared, start, debug)?
    } else if trailer.get(keys::PAYLOAD_HASH).is_some() {
        unpack(&exe, &trailer, payload_start, debug)?
    } else {
        dir.to_path_buf()
    };
    let runtime = normalize(&root.join(setting(&trailer, keys::RUNTIME)?));
    let interpreter = runtime.join(setting(&trailer, keys::INTERPRETER)?);
    let executable = runtime.join(setting(&trailer, keys::EXECUTABLE)?);
    let boot = runtime.join(setting(&trailer, keys::BOOT)?);

    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let rest: Vec<OsString> = args.collect();

    let mut cmd = Command::new(&interpreter);
    // argv[0] decides where CPython looks for its prefix and what `sys.executable` is.
    cmd.arg0(&executable);
    for var in LEAKY_ENV {
        cmd.env_remove(var);
    }
    // -s: no user site-packages; -B: never write bytecode into the bundle.
    cmd.args(["-s", "-B"]);
    match setting(&trailer, keys::MODE)? {
        "python" => {
            if rest.first().is_some_and(|a| a == "--multiprocessing-fork") {
                // multiprocessing asks a frozen `sys.executable` to start a spawned child this way.
                cmd.arg(&boot).arg("mp-fork").args(&rest[1..]);
            } else {
                cmd.args(&rest);
            }
        }
        _ => {
            cmd.arg(&boot)
                .arg("app")
                .arg(setting(&trailer, keys::COMPONENT)?)
                .arg(&argv0)
                .args(&rest);
        }
    }
    if debug {
        eprintln!("kiln launcher: runtime {}", runtime.display());
        eprintln!("kiln launcher: exec {cmd:?}");
    }
    let err = cmd.exec();
    Err(Error::Exec(interpreter, err))
}

/// The trailer of the kiln executable at `path` and where its payload starts.
fn read_trailer(path: &Path) -> Result<(Trailer, u64), Error> {
    Trailer::read_from_path(path).map_err(|e| match e {
        TrailerError::Missing if is_truncated(path) => Error::Truncated(path.to_path_buf()),
        e => Error::Trailer(path.to_path_buf(), e),
    })
}

/// The unpacked copy of the payload of `carrier` (whose trailer is `trailer`), made if needed:
/// the directory `runtime` is relative to.
fn unpack(
    carrier: &Path,
    trailer: &Trailer,
    payload_start: u64,
    debug: bool,
) -> Result<PathBuf, Error> {
    let unpacked = onefile::prepare(carrier, trailer, payload_start)?;
    if debug {
        match unpacked.took {
            Some(took) => eprintln!(
                "kiln launcher: onefile unpacked into {} in {} ms",
                unpacked.root.display(),
                took.as_millis()
            ),
            None => eprintln!(
                "kiln launcher: onefile already unpacked in {}",
                unpacked.root.display()
            ),
        }
    }
    Ok(unpacked.root)
}

/// Whether `exe` is longer than its launcher's ELF image, so that a missing trailer means its end
/// was cut off rather than that it never had one.
fn is_truncated(exe: &Path) -> bool {
    let len = std::fs::metadata(exe).map_or(0, |m| m.len());
    onefile::elf_image_len(exe).is_some_and(|image| len > image)
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
