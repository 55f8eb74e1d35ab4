//! `kiln trace`: what no analysis can see, recorded from a real run.
//!
//! The app runs under the target interpreter with an audit hook (PEP 578, `python/trace.py`)
//! that records the modules it imports and the files it opens. The record is kept in the
//! project as `kiln-trace.json` beside the entry; later builds read it as evidence (`traced` in
//! `kiln why`): every traced module ships, and package files the run opened ship as data of
//! their package. A server is traced until its health URL answers, then stopped with SIGTERM.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::BuildSettings;
use crate::interpreter::Interpreter;
use crate::resolve::EntryPoint;

/// The trace's file name, beside the entry (the app's directory).
pub const TRACE_FILE: &str = "kiln-trace.json";

const WRAPPER: &str = include_str!("python/trace.py");

/// A recorded run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Trace {
    pub format: u32,
    /// Seconds since the epoch when the run ended.
    pub created: u64,
    pub interpreter: String,
    pub entry: String,
    pub args: Vec<String>,
    /// Modules the run imported, beyond what the interpreter had imported before the entry.
    pub modules: Vec<String>,
    /// Files the run opened for reading inside the app's directory (`app/PATH`) or a site
    /// directory (`site/PATH`), less module files: data the app or its packages read. Relative,
    /// so the trace stays right in another checkout or venv.
    pub files: Vec<String>,
}

impl Trace {
    /// Adds what an earlier run of the same entry recorded.
    pub fn merge(&mut self, earlier: Trace) {
        self.modules.extend(earlier.modules);
        self.modules.sort();
        self.modules.dedup();
        self.files.extend(earlier.files);
        self.files.sort();
        self.files.dedup();
    }
}

/// Errors of tracing and of reading a trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot start {python}: {source}")]
    Start {
        python: PathBuf,
        source: std::io::Error,
    },
    #[error("the app ran, but it wrote no trace to {0}")]
    NoRecord(PathBuf),
    #[error("{path}: not a kiln trace: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{url} did not answer within {seconds} s; the app is stopped and the trace so far kept"
    )]
    Health { url: String, seconds: u64 },
    #[error("--health takes an http://HOST:PORT/PATH URL, not `{0}`")]
    HealthUrl(String),
}

/// How to run the app.
pub struct TraceRun<'a> {
    pub settings: &'a BuildSettings,
    pub interpreter: &'a Interpreter,
    pub args: &'a [String],
    /// Stop once this URL answers (a server), instead of waiting for the app to exit.
    pub health: Option<&'a str>,
    /// How long to wait for the health URL.
    pub timeout: Duration,
}

/// What a traced run gave.
pub struct Traced {
    pub trace: Trace,
    /// The app's exit status (None when it was stopped by kiln or a signal).
    pub status: Option<i32>,
    /// Stopped after its health URL answered.
    pub stopped: bool,
}

/// Where the trace of `settings` is kept.
pub fn path_for(settings: &BuildSettings) -> PathBuf {
    settings.app_dir.join(TRACE_FILE)
}

/// Reads the trace kept for `settings`, if there is one.
pub fn load(settings: &BuildSettings) -> Result<Option<Trace>, TraceError> {
    let path = path_for(settings);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(_) => return Ok(None),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| TraceError::Invalid {
            path,
            message: e.to_string(),
        })
}

/// The raw record the wrapper writes.
#[derive(Deserialize)]
struct Record {
    modules: Vec<String>,
    files: Vec<PathBuf>,
}

/// Runs the app under the audit hook and returns its trace (not yet written).
pub fn run(r: &TraceRun<'_>) -> Result<Traced, TraceError> {
    let settings = r.settings;
    let python = &r.interpreter.executable;
    let work = tempfile::tempdir().map_err(|source| TraceError::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    let record = work.path().join("record.json");
    let (kind, target) = match &settings.entry {
        EntryPoint::Script(path) => ("script", path.display().to_string()),
        EntryPoint::Module(name) => ("module", name.clone()),
        EntryPoint::Call { module, function } => ("call", format!("{module}:{function}")),
    };
    let entry = match &settings.entry {
        EntryPoint::Script(path) => path
            .strip_prefix(&settings.app_dir)
            .unwrap_or(path)
            .display()
            .to_string(),
        _ => target.clone(),
    };
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(WRAPPER)
        .arg(&record)
        .arg(kind)
        .arg(&target)
        .args(r.args);
    // Its own process group: SIGTERM reaches the app, not kiln.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|source| TraceError::Start {
        python: python.clone(),
        source,
    })?;
    let mut stopped = false;
    let mut health_error = None;
    if let Some(url) = r.health {
        let (host, path) = parse_url(url)?;
        let started = Instant::now();
        loop {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            if http_ok(&host, &path) {
                // Let the record catch up with the imports the first request made.
                std::thread::sleep(Duration::from_millis(1500));
                stopped = true;
                break;
            }
            if started.elapsed() > r.timeout {
                health_error = Some(TraceError::Health {
                    url: url.to_string(),
                    seconds: r.timeout.as_secs(),
                });
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if child.try_wait().ok().flatten().is_none() {
            // SAFETY: kill(2) on the process group of a child this process started and has
            // not reaped.
            unsafe {
                libc::kill(-(child.id() as libc::pid_t), libc::SIGTERM);
            }
            let waited = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if waited.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let status = child.wait().ok().and_then(|s| s.code());
    let bytes = std::fs::read(&record).map_err(|_| TraceError::NoRecord(record.clone()))?;
    let raw: Record = serde_json::from_slice(&bytes).map_err(|e| TraceError::Invalid {
        path: record.clone(),
        message: e.to_string(),
    })?;
    if let Some(err) = health_error {
        return Err(err);
    }
    let app_dir = std::fs::canonicalize(&settings.app_dir).unwrap_or(settings.app_dir.clone());
    let mut roots: Vec<(&str, PathBuf)> = vec![("app", app_dir)];
    roots.extend(
        r.interpreter
            .path
            .iter()
            .filter(|p| {
                !p.starts_with(&r.interpreter.stdlib)
                    && !p.starts_with(&r.interpreter.platstdlib)
                    && !p.starts_with(&r.interpreter.dynload)
            })
            .map(|p| ("site", std::fs::canonicalize(p).unwrap_or(p.clone()))),
    );
    let module_suffixes: Vec<&str> = r
        .interpreter
        .extension_suffixes
        .iter()
        .chain(&r.interpreter.source_suffixes)
        .chain(&r.interpreter.bytecode_suffixes)
        .map(String::as_str)
        .collect();
    let mut files: Vec<String> = raw
        .files
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            !module_suffixes.iter().any(|s| name.ends_with(s))
                && !f.components().any(|c| c.as_os_str() == "__pycache__")
                && !name.ends_with(".pth")
                && f.file_name().is_some_and(|n| n != TRACE_FILE)
                && f.is_file()
        })
        .filter_map(|f| {
            let real = std::fs::canonicalize(&f).unwrap_or(f);
            roots.iter().find_map(|(kind, root)| {
                let rel = real.strip_prefix(root).ok()?;
                Some(format!("{kind}/{}", rel.to_string_lossy()))
            })
        })
        .collect();
    files.sort();
    files.dedup();
    Ok(Traced {
        trace: Trace {
            format: 1,
            created: now(),
            interpreter: python.display().to_string(),
            entry,
            args: r.args.to_vec(),
            modules: raw.modules,
            files,
        },
        status,
        stopped,
    })
}

/// Writes `trace` where builds look for it; returns the path. A file there that is not a kiln
/// trace is the user's and is left alone (an error).
pub fn save(settings: &BuildSettings, trace: &Trace) -> Result<PathBuf, TraceError> {
    let path = path_for(settings);
    if path.symlink_metadata().is_ok() {
        load(settings)?;
    }
    let text = serde_json::to_string_pretty(trace).expect("a trace serialises");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| TraceError::Write {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// Files of the app changed after the trace was taken (newest first, at most `limit`).
pub fn newer_than(trace: &Trace, files: &[&Path], limit: usize) -> Vec<PathBuf> {
    let mut newer: Vec<(u64, PathBuf)> = files
        .iter()
        .filter_map(|f| {
            let modified = std::fs::metadata(f).ok()?.modified().ok()?;
            let secs = modified.duration_since(UNIX_EPOCH).ok()?.as_secs();
            (secs > trace.created).then(|| (secs, f.to_path_buf()))
        })
        .collect();
    newer.sort_by(|a, b| b.cmp(a));
    newer.into_iter().take(limit).map(|(_, f)| f).collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `http://host:port/path` -> (`host:port`, `/path`).
fn parse_url(url: &str) -> Result<(String, String), TraceError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| TraceError::HealthUrl(url.to_string()))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host.is_empty() {
        return Err(TraceError::HealthUrl(url.to_string()));
    }
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    Ok((host, path.to_string()))
}

/// Whether a GET of `path` on `host` answers 2xx.
/// Whether `GET path` on `host` answers with a 2xx status.
pub(crate) fn http_ok(host: &str, path: &str) -> bool {
    use std::net::ToSocketAddrs;
    let Some(addr) = host.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return false;
    };
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let ok = stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/") && head[9] == b'2';
    // Read the rest, so the server's reply is not cut short by a reset.
    let _ = std::io::copy(&mut stream.take(1 << 20), &mut std::io::sink());
    ok
}

#[cfg(test)]
mod tests {
    #[test]
    fn health_urls() {
        assert_eq!(
            super::parse_url("http://127.0.0.1:8000/api/health").unwrap(),
            ("127.0.0.1:8000".to_string(), "/api/health".to_string())
        );
        assert_eq!(
            super::parse_url("http://localhost").unwrap(),
            ("localhost:80".to_string(), "/".to_string())
        );
        assert!(super::parse_url("https://x/").is_err());
    }
}
