//! The formats shared by the kiln writer and the kiln launcher: the trailer and the launcher's
//! settings (here), the onefile payload ([`payload`]) and the cache that onefile executables
//! unpack into ([`cache`]).
//!
//! A kiln executable is the launcher's own ELF image followed by a trailer:
//!
//! ```text
//! [launcher ELF][payload (onefile only)][settings: `key=value\n` lines][footer]
//! footer (32 bytes) = magic "KILNBNDL" | version u32 LE | settings_len u32 LE
//!                     | payload_len u64 LE | check u64 LE
//! ```
//!
//! `check` is the first 8 bytes of the SHA-256 of the settings followed by the footer's first
//! 24 bytes: a flipped bit in the settings or the footer is caught before any setting is used.
//!
//! The settings are one [`Settings`]: an explicit [`Mode`] says what the executable is (a onedir
//! app, the interpreter front, a onefile executable, a component of a onefile suite), and each
//! mode has its exact set of keys. Nothing is inferred from which keys happen to be present;
//! an unknown, missing or repeated key, or a value of the wrong shape, is an error.
//!
//! A onefile suite has one executable with the payload (the dispatcher) and, beside it, one
//! launcher per component whose settings name that file (`payload-file`) instead of carrying a
//! payload of their own.
//!
//! The launcher links this crate and must stay small: its only dependencies are a zstd decoder
//! and SHA-256.

pub mod cache;
pub mod payload;

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Identifies a kiln trailer.
pub const MAGIC: &[u8; 8] = b"KILNBNDL";
/// The trailer version this crate writes and reads. 2: explicit mode, checked settings.
pub const VERSION: u32 = 2;
/// Size of the fixed footer at the very end of the file.
pub const FOOTER_LEN: usize = 32;
/// Settings larger than this are rejected as corrupt.
const MAX_SETTINGS_LEN: u32 = 1 << 20;

/// The setting keys.
pub mod keys {
    /// What the executable is: `app`, `python`, `onefile` or `component` ([`crate::Mode`]).
    pub const MODE: &str = "mode";
    /// Runtime prefix, relative to the directory holding the executable (onedir) or to the
    /// unpacked copy of the payload (onefile).
    pub const RUNTIME: &str = "runtime";
    /// The real interpreter binary, relative to the runtime prefix.
    pub const INTERPRETER: &str = "interpreter";
    /// The interpreter front (`sys.executable`), relative to the runtime prefix.
    pub const EXECUTABLE: &str = "executable";
    /// The boot script (compiled), relative to the runtime prefix.
    pub const BOOT: &str = "boot";
    /// The component this executable starts.
    pub const COMPONENT: &str = "component";
    /// Onefile and component: SHA-256 of the payload, lowercase hex.
    pub const PAYLOAD_HASH: &str = "payload-hash";
    /// Onefile: the payload's format ([`crate::payload::FORMAT`]).
    pub const PAYLOAD_FORMAT: &str = "payload-format";
    /// Component: the file beside this executable (in the directory of its resolved path) that
    /// carries the payload it runs from; its own trailer must name the same `payload-hash`.
    pub const PAYLOAD_FILE: &str = "payload-file";
    /// Onefile: the name the cache entry's marker records.
    pub const APP_NAME: &str = "app-name";
    /// Onefile and component: SHA-256 of the launcher's ELF image (the bytes before the
    /// payload, or before the settings when there is none), lowercase hex.
    pub const LAUNCHER_HASH: &str = "launcher-hash";
}

/// Errors reading a trailer.
#[derive(Debug)]
pub enum TrailerError {
    /// The file could not be read.
    Io(io::Error),
    /// The file does not end with a kiln footer.
    Missing,
    /// A footer is present but its content does not add up.
    Corrupt(&'static str),
    /// The trailer was written by an incompatible kiln.
    Version(u32),
}

impl fmt::Display for TrailerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrailerError::Io(e) => write!(f, "cannot read the executable: {e}"),
            TrailerError::Missing => f.write_str("the executable carries no kiln bundle trailer"),
            TrailerError::Corrupt(what) => write!(f, "the bundle trailer is corrupt ({what})"),
            TrailerError::Version(v) => write!(
                f,
                "the bundle trailer has version {v}, this launcher reads version {VERSION} \
                 (the file is damaged or was made by another kiln)"
            ),
        }
    }
}

impl std::error::Error for TrailerError {}

impl From<io::Error> for TrailerError {
    fn from(e: io::Error) -> Self {
        TrailerError::Io(e)
    }
}

/// Settings and payload location carried at the end of a kiln executable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailer {
    /// Ordered `key=value` settings. Keys and values contain no newline; keys no `=`.
    pub settings: Vec<(String, String)>,
    /// Length of the payload that precedes the settings (0 when there is none).
    pub payload_len: u64,
}

impl Trailer {
    /// A trailer with the given settings and no payload.
    pub fn new(settings: Vec<(String, String)>) -> Self {
        Trailer {
            settings,
            payload_len: 0,
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The typed settings, validated against the mode they declare and the payload length.
    pub fn decode_settings(&self) -> Result<Settings, SettingsError> {
        Settings::from_trailer(self)
    }

    /// Serialises settings and footer (the payload itself is written by the caller first).
    ///
    /// Panics if a key or value contains a newline or a key contains `=`: settings are
    /// produced by kiln itself, never from user text without validation.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.settings {
            assert!(
                !k.contains(['\n', '=']) && !v.contains('\n'),
                "invalid trailer setting {k:?}"
            );
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
            out.push(b'\n');
        }
        let settings_len = out.len() as u32;
        let mut head = [0u8; 24];
        head[..8].copy_from_slice(MAGIC);
        head[8..12].copy_from_slice(&VERSION.to_le_bytes());
        head[12..16].copy_from_slice(&settings_len.to_le_bytes());
        head[16..24].copy_from_slice(&self.payload_len.to_le_bytes());
        let check = check(&out, &head);
        out.extend_from_slice(&head);
        out.extend_from_slice(&check.to_le_bytes());
        out
    }

    /// Parses the footer and settings from the tail of a file's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Trailer, TrailerError> {
        let footer = parse_footer(bytes)?;
        let total = bytes.len() as u64;
        let settings_end = total - FOOTER_LEN as u64;
        let settings_start = settings_end
            .checked_sub(footer.settings_len as u64)
            .ok_or(TrailerError::Corrupt("settings overrun the file"))?;
        let text = &bytes[settings_start as usize..settings_end as usize];
        footer.verify(text)?;
        let mut trailer = parse_settings(text)?;
        if footer.payload_len > settings_start {
            return Err(TrailerError::Corrupt("payload overruns the file"));
        }
        trailer.payload_len = footer.payload_len;
        Ok(trailer)
    }

    /// Reads the trailer of the file at `path` without reading the whole file.
    /// Returns the trailer and the offset at which its payload starts.
    pub fn read_from_path(path: &Path) -> Result<(Trailer, u64), TrailerError> {
        Trailer::read_from(&mut File::open(path)?)
    }

    /// [`Trailer::read_from_path`] on an open file.
    pub fn read_from(file: &mut File) -> Result<(Trailer, u64), TrailerError> {
        let len = file.seek(SeekFrom::End(0))?;
        Trailer::read_ending_at(file, len)
    }

    /// The trailer whose footer ends at offset `end` of `file`, and where its payload starts.
    fn read_ending_at(file: &mut File, end: u64) -> Result<(Trailer, u64), TrailerError> {
        if end < FOOTER_LEN as u64 {
            return Err(TrailerError::Missing);
        }
        let mut footer_bytes = [0u8; FOOTER_LEN];
        file.seek(SeekFrom::Start(end - FOOTER_LEN as u64))?;
        file.read_exact(&mut footer_bytes)?;
        let footer = parse_footer(&footer_bytes)?;
        let settings_start = (end - FOOTER_LEN as u64)
            .checked_sub(footer.settings_len as u64)
            .ok_or(TrailerError::Corrupt("settings overrun the file"))?;
        let mut text = vec![0u8; footer.settings_len as usize];
        file.seek(SeekFrom::Start(settings_start))?;
        file.read_exact(&mut text)?;
        footer.verify(&text)?;
        let mut trailer = parse_settings(&text)?;
        let payload_start = settings_start
            .checked_sub(footer.payload_len)
            .ok_or(TrailerError::Corrupt("payload overruns the file"))?;
        trailer.payload_len = footer.payload_len;
        Ok((trailer, payload_start))
    }
}

/// Where the last intact kiln trailer in `file` at or after offset `from` ends, if there is
/// one: for telling a file with bytes appended after its trailer from a truncated one. Reads
/// the file from its end back to `from`; meant for error paths only.
pub fn find_trailer_end(file: &mut File, from: u64) -> io::Result<Option<u64>> {
    const CHUNK: u64 = 1 << 20;
    let len = file.seek(SeekFrom::End(0))?;
    let mut hi = len;
    let mut buf = Vec::new();
    while hi > from {
        let lo = hi.saturating_sub(CHUNK).max(from);
        // Overlap by the magic's length less one, so that no occurrence is cut in two.
        let read_to = (hi + MAGIC.len() as u64 - 1).min(len);
        buf.resize((read_to - lo) as usize, 0);
        file.seek(SeekFrom::Start(lo))?;
        file.read_exact(&mut buf)?;
        let mut at = buf.len();
        while at >= MAGIC.len() {
            at -= 1;
            if at + MAGIC.len() > buf.len() || buf[at..at + MAGIC.len()] != MAGIC[..] {
                continue;
            }
            let end = lo + at as u64 + FOOTER_LEN as u64;
            if end <= len && Trailer::read_ending_at(file, end).is_ok() {
                return Ok(Some(end));
            }
        }
        hi = lo;
    }
    Ok(None)
}

/// The footer's check over the settings and the footer's first 24 bytes.
fn check(settings: &[u8], head: &[u8]) -> u64 {
    let digest = Sha256::new()
        .chain_update(settings)
        .chain_update(head)
        .finalize();
    u64::from_le_bytes(digest[..8].try_into().unwrap())
}

struct Footer {
    head: [u8; 24],
    settings_len: u32,
    payload_len: u64,
    check: u64,
}

impl Footer {
    fn verify(&self, settings: &[u8]) -> Result<(), TrailerError> {
        if check(settings, &self.head) == self.check {
            Ok(())
        } else {
            Err(TrailerError::Corrupt(
                "its checksum does not match: the settings or the footer were changed",
            ))
        }
    }
}

fn parse_footer(bytes: &[u8]) -> Result<Footer, TrailerError> {
    if bytes.len() < FOOTER_LEN {
        return Err(TrailerError::Missing);
    }
    let f = &bytes[bytes.len() - FOOTER_LEN..];
    if &f[0..8] != MAGIC {
        return Err(TrailerError::Missing);
    }
    let version = u32::from_le_bytes(f[8..12].try_into().unwrap());
    if version != VERSION {
        return Err(TrailerError::Version(version));
    }
    let settings_len = u32::from_le_bytes(f[12..16].try_into().unwrap());
    if settings_len > MAX_SETTINGS_LEN {
        return Err(TrailerError::Corrupt("settings length"));
    }
    Ok(Footer {
        head: f[..24].try_into().unwrap(),
        settings_len,
        payload_len: u64::from_le_bytes(f[16..24].try_into().unwrap()),
        check: u64::from_le_bytes(f[24..32].try_into().unwrap()),
    })
}

fn parse_settings(text: &[u8]) -> Result<Trailer, TrailerError> {
    let text = std::str::from_utf8(text).map_err(|_| TrailerError::Corrupt("settings text"))?;
    let mut settings = Vec::new();
    for line in text.split_terminator('\n') {
        let (k, v) = line
            .split_once('=')
            .ok_or(TrailerError::Corrupt("settings line"))?;
        settings.push((k.to_string(), v.to_string()));
    }
    Ok(Trailer {
        settings,
        payload_len: 0,
    })
}

/// What a kiln executable is, with what only that kind needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `app`: a onedir bundle's executable; `runtime` is beside it.
    App,
    /// `python`: the interpreter front of a bundle (`sys.executable`).
    Python,
    /// `onefile`: carries the runtime as a payload; `runtime` is relative to its unpacked copy.
    Onefile {
        payload_hash: String,
        payload_format: String,
        /// What the cache entry's marker records as the app.
        app_name: String,
        launcher_hash: String,
    },
    /// `component`: a component of a onefile suite, run from the payload of the file
    /// `payload_file` beside it (a [`Mode::Onefile`] executable with `payload_hash`).
    Component {
        payload_file: String,
        payload_hash: String,
        launcher_hash: String,
    },
}

impl Mode {
    /// The name the `mode` key gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::App => "app",
            Mode::Python => "python",
            Mode::Onefile { .. } => "onefile",
            Mode::Component { .. } => "component",
        }
    }

    /// The payload's hash, for the modes that run from one.
    pub fn payload_hash(&self) -> Option<&str> {
        match self {
            Mode::Onefile { payload_hash, .. } | Mode::Component { payload_hash, .. } => {
                Some(payload_hash)
            }
            Mode::App | Mode::Python => None,
        }
    }

    /// The launcher image's hash, for the modes that record one.
    pub fn launcher_hash(&self) -> Option<&str> {
        match self {
            Mode::Onefile { launcher_hash, .. } | Mode::Component { launcher_hash, .. } => {
                Some(launcher_hash)
            }
            Mode::App | Mode::Python => None,
        }
    }
}

/// Everything a launcher reads from its trailer: written by kiln's `write` stage, read by the
/// launcher, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mode: Mode,
    /// Relative `/`-separated path; `..` parts only in [`Mode::Python`] (the front lives in
    /// the runtime's `bin/`).
    pub runtime: String,
    /// Relative to the runtime, inside it.
    pub interpreter: String,
    /// Relative to the runtime, inside it.
    pub executable: String,
    /// Relative to the runtime, inside it.
    pub boot: String,
    /// The component to run (`*`: a suite's dispatcher).
    pub component: String,
}

/// Why settings were rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// A key this launcher does not know (or one the mode does not take).
    Unknown {
        key: String,
        mode: Option<&'static str>,
    },
    /// A key given twice.
    Repeated(String),
    /// A key the mode needs.
    Missing {
        key: &'static str,
        mode: &'static str,
    },
    /// A value of the wrong shape.
    Invalid {
        key: &'static str,
        why: &'static str,
    },
    /// The footer's payload length does not fit the mode.
    PayloadLen { mode: &'static str, len: u64 },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Unknown { key, mode: None } => write!(f, "unknown key `{key}`"),
            SettingsError::Unknown {
                key,
                mode: Some(mode),
            } => write!(f, "key `{key}` does not belong to mode `{mode}`"),
            SettingsError::Repeated(key) => write!(f, "key `{key}` is given twice"),
            SettingsError::Missing { key, mode } => {
                write!(f, "key `{key}` is missing (mode `{mode}` needs it)")
            }
            SettingsError::Invalid { key, why } => write!(f, "`{key}` {why}"),
            SettingsError::PayloadLen { mode, len: 0 } => {
                write!(f, "mode `{mode}` needs a payload, and there is none")
            }
            SettingsError::PayloadLen { mode, len } => {
                write!(
                    f,
                    "mode `{mode}` carries no payload, but {len} bytes are declared"
                )
            }
        }
    }
}

impl std::error::Error for SettingsError {}

/// Every key, in the order they are written.
const ALL_KEYS: [&str; 11] = [
    keys::MODE,
    keys::RUNTIME,
    keys::INTERPRETER,
    keys::EXECUTABLE,
    keys::BOOT,
    keys::COMPONENT,
    keys::APP_NAME,
    keys::PAYLOAD_FILE,
    keys::PAYLOAD_HASH,
    keys::PAYLOAD_FORMAT,
    keys::LAUNCHER_HASH,
];

impl Settings {
    /// The trailer holding these settings, for a payload of `payload_len` bytes.
    pub fn to_trailer(&self, payload_len: u64) -> Trailer {
        let mut out = Vec::new();
        let mut put = |k: &str, v: &str| out.push((k.to_string(), v.to_string()));
        put(keys::MODE, self.mode.name());
        put(keys::RUNTIME, &self.runtime);
        put(keys::INTERPRETER, &self.interpreter);
        put(keys::EXECUTABLE, &self.executable);
        put(keys::BOOT, &self.boot);
        put(keys::COMPONENT, &self.component);
        match &self.mode {
            Mode::App | Mode::Python => {}
            Mode::Onefile {
                payload_hash,
                payload_format,
                app_name,
                launcher_hash,
            } => {
                put(keys::APP_NAME, app_name);
                put(keys::PAYLOAD_HASH, payload_hash);
                put(keys::PAYLOAD_FORMAT, payload_format);
                put(keys::LAUNCHER_HASH, launcher_hash);
            }
            Mode::Component {
                payload_file,
                payload_hash,
                launcher_hash,
            } => {
                put(keys::PAYLOAD_FILE, payload_file);
                put(keys::PAYLOAD_HASH, payload_hash);
                put(keys::LAUNCHER_HASH, launcher_hash);
            }
        }
        Trailer {
            settings: out,
            payload_len,
        }
    }

    /// Settings, footer included, as appended after the launcher (and payload).
    pub fn encode(&self, payload_len: u64) -> Vec<u8> {
        self.to_trailer(payload_len).encode()
    }

    /// Validates a trailer's settings: the mode, the exact keys it takes, each value's shape,
    /// and that a payload is there exactly when the mode carries one.
    pub fn from_trailer(trailer: &Trailer) -> Result<Settings, SettingsError> {
        let mut values: [Option<&str>; ALL_KEYS.len()] = [None; ALL_KEYS.len()];
        for (k, v) in &trailer.settings {
            let i = ALL_KEYS
                .iter()
                .position(|known| known == k)
                .ok_or_else(|| SettingsError::Unknown {
                    key: k.clone(),
                    mode: None,
                })?;
            if values[i].replace(v).is_some() {
                return Err(SettingsError::Repeated(k.clone()));
            }
        }
        let value = |key: &'static str| {
            let i = ALL_KEYS.iter().position(|k| *k == key).unwrap();
            values[i]
        };
        let mode_name = value(keys::MODE).ok_or(SettingsError::Missing {
            key: keys::MODE,
            mode: "any",
        })?;
        let (mode_name, takes): (&'static str, &[&str]) = match mode_name {
            "app" => ("app", &[]),
            "python" => ("python", &[]),
            "onefile" => (
                "onefile",
                &[
                    keys::APP_NAME,
                    keys::PAYLOAD_HASH,
                    keys::PAYLOAD_FORMAT,
                    keys::LAUNCHER_HASH,
                ],
            ),
            "component" => (
                "component",
                &[keys::PAYLOAD_FILE, keys::PAYLOAD_HASH, keys::LAUNCHER_HASH],
            ),
            _ => {
                return Err(SettingsError::Invalid {
                    key: keys::MODE,
                    why: "is not one of app, python, onefile, component",
                })
            }
        };
        let common = &ALL_KEYS[..6];
        for (i, key) in ALL_KEYS.iter().enumerate() {
            if values[i].is_some() && !common.contains(key) && !takes.contains(key) {
                return Err(SettingsError::Unknown {
                    key: key.to_string(),
                    mode: Some(mode_name),
                });
            }
        }
        let need = |key: &'static str| {
            value(key).ok_or(SettingsError::Missing {
                key,
                mode: mode_name,
            })
        };
        let path = |key: &'static str, parents: bool| {
            let v = need(key)?;
            match relative_path(v, parents) {
                true => Ok(v.to_string()),
                false => Err(SettingsError::Invalid {
                    key,
                    why: if parents {
                        "is not a relative path"
                    } else {
                        "is not a relative path inside the bundle"
                    },
                }),
            }
        };
        let hash = |key: &'static str| {
            let v = need(key)?;
            match v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                true => Ok(v.to_string()),
                false => Err(SettingsError::Invalid {
                    key,
                    why: "is not a SHA-256 in lowercase hex",
                }),
            }
        };
        let text = |key: &'static str| {
            let v = need(key)?;
            match !v.is_empty() && !v.contains('\0') {
                true => Ok(v.to_string()),
                false => Err(SettingsError::Invalid {
                    key,
                    why: "is empty",
                }),
            }
        };
        let mode = match mode_name {
            "app" => Mode::App,
            "python" => Mode::Python,
            "onefile" => Mode::Onefile {
                payload_hash: hash(keys::PAYLOAD_HASH)?,
                payload_format: {
                    let v = need(keys::PAYLOAD_FORMAT)?;
                    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(SettingsError::Invalid {
                            key: keys::PAYLOAD_FORMAT,
                            why: "is not a format number",
                        });
                    }
                    v.to_string()
                },
                app_name: text(keys::APP_NAME)?,
                launcher_hash: hash(keys::LAUNCHER_HASH)?,
            },
            _ => Mode::Component {
                payload_file: {
                    let v = need(keys::PAYLOAD_FILE)?;
                    if !relative_path(v, false) || v.contains('/') {
                        return Err(SettingsError::Invalid {
                            key: keys::PAYLOAD_FILE,
                            why: "is not a file name",
                        });
                    }
                    v.to_string()
                },
                payload_hash: hash(keys::PAYLOAD_HASH)?,
                launcher_hash: hash(keys::LAUNCHER_HASH)?,
            },
        };
        let carries = matches!(mode, Mode::Onefile { .. });
        if carries != (trailer.payload_len > 0) {
            return Err(SettingsError::PayloadLen {
                mode: mode_name,
                len: trailer.payload_len,
            });
        }
        Ok(Settings {
            runtime: path(keys::RUNTIME, matches!(mode, Mode::Python))?,
            interpreter: path(keys::INTERPRETER, false)?,
            executable: path(keys::EXECUTABLE, false)?,
            boot: path(keys::BOOT, false)?,
            component: text(keys::COMPONENT)?,
            mode,
        })
    }
}

/// Whether `path` is relative, `/`-separated, with no empty or `.` parts, no NUL, and `..`
/// parts only when `parents`.
pub fn relative_path(path: &str, parents: bool) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && (parents || part != ".."))
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    payload::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Trailer {
        Trailer::new(vec![
            ("mode".into(), "app".into()),
            ("runtime".into(), "_kiln".into()),
            ("component".into(), "backend".into()),
            ("empty".into(), String::new()),
        ])
    }

    fn onefile() -> Settings {
        Settings {
            mode: Mode::Onefile {
                payload_hash: "a".repeat(64),
                payload_format: "2".into(),
                app_name: "backend".into(),
                launcher_hash: "b".repeat(64),
            },
            runtime: "_kiln".into(),
            interpreter: "bin/python3.11".into(),
            executable: "bin/python".into(),
            boot: "lib/python3.11/_kiln_boot.pyc".into(),
            component: "backend".into(),
        }
    }

    #[test]
    fn round_trip_in_memory_and_on_disk() {
        let mut t = sample();
        t.payload_len = 5;
        let mut file = b"\x7fELF-launcher-bytes".to_vec();
        file.extend_from_slice(b"PAYLD");
        file.extend_from_slice(&t.encode());
        assert_eq!(Trailer::decode(&file).unwrap(), t);

        let dir = std::env::temp_dir().join(format!("kiln-bundle-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("exe");
        std::fs::write(&path, &file).unwrap();
        let (read, payload_start) = Trailer::read_from_path(&path).unwrap();
        assert_eq!(read, t);
        assert_eq!(
            &file[payload_start as usize..payload_start as usize + 5],
            b"PAYLD"
        );
        assert_eq!(read.get("component"), Some("backend"));
        assert_eq!(read.get("empty"), Some(""));
        assert_eq!(read.get("nope"), None);

        // Bytes appended after the trailer: found where the trailer ends.
        let mut f = File::open(&path).unwrap();
        assert_eq!(
            find_trailer_end(&mut f, 0).unwrap(),
            Some(file.len() as u64)
        );
        let mut appended = file.clone();
        appended.extend_from_slice(b"garbage after the trailer, KILNBNDL included");
        std::fs::write(&path, &appended).unwrap();
        let mut f = File::open(&path).unwrap();
        assert!(matches!(
            Trailer::read_from(&mut f),
            Err(TrailerError::Missing)
        ));
        assert_eq!(
            find_trailer_end(&mut f, 0).unwrap(),
            Some(file.len() as u64)
        );
        // Cut off: no intact trailer anywhere.
        std::fs::write(&path, &file[..file.len() - 1]).unwrap();
        let mut f = File::open(&path).unwrap();
        assert_eq!(find_trailer_end(&mut f, 0).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_missing_and_corrupt_trailers() {
        assert!(matches!(
            Trailer::decode(b"just an elf file without anything at the end"),
            Err(TrailerError::Missing)
        ));
        let mut bytes = sample().encode();
        // Claim more settings bytes than exist.
        let n = bytes.len();
        bytes[n - 20..n - 16].copy_from_slice(&10_000u32.to_le_bytes());
        assert!(matches!(
            Trailer::decode(&bytes),
            Err(TrailerError::Corrupt(_))
        ));
        let mut bytes = sample().encode();
        let n = bytes.len();
        bytes[n - 24..n - 20].copy_from_slice(&99u32.to_le_bytes());
        assert!(matches!(
            Trailer::decode(&bytes),
            Err(TrailerError::Version(99))
        ));
        // Any flipped bit in the settings, the lengths or the check is caught.
        let good = sample().encode();
        for at in 0..good.len() {
            let mut bytes = good.clone();
            bytes[at] ^= 0x04;
            assert!(Trailer::decode(&bytes).is_err(), "byte {at}");
        }
    }

    #[test]
    fn settings_round_trip_through_the_trailer() {
        let s = onefile();
        let mut file = b"ELF".to_vec();
        file.extend_from_slice(&[0; 7]);
        file.extend_from_slice(&s.encode(7));
        let t = Trailer::decode(&file).unwrap();
        assert_eq!(t.get(keys::MODE), Some("onefile"));
        assert_eq!(t.decode_settings().unwrap(), s);
    }

    fn with(
        s: &Settings,
        payload_len: u64,
        edit: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Trailer {
        let mut t = s.to_trailer(payload_len);
        edit(&mut t.settings);
        t
    }

    fn set<'a>(key: &'a str, value: &'a str) -> impl FnOnce(&mut Vec<(String, String)>) + 'a {
        move |settings| {
            let slot = settings.iter_mut().find(|(k, _)| k == key).unwrap();
            slot.1 = value.to_string();
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn part() -> impl Strategy<Value = String> {
            "[A-Za-z0-9_.+-]{0,12}"
                .prop_filter("a path part", |p| !p.is_empty() && p != "." && p != "..")
        }

        fn path() -> impl Strategy<Value = String> {
            proptest::collection::vec(part(), 1..5).prop_map(|parts| parts.join("/"))
        }

        fn hash() -> impl Strategy<Value = String> {
            "[0-9a-f]{64}"
        }

        fn text() -> impl Strategy<Value = String> {
            "[^\n\u{0}]{1,24}"
        }

        fn mode() -> impl Strategy<Value = Mode> {
            prop_oneof![
                Just(Mode::App),
                Just(Mode::Python),
                (hash(), "[0-9]{1,3}", text(), hash()).prop_map(|(h, f, a, l)| Mode::Onefile {
                    payload_hash: h,
                    payload_format: f,
                    app_name: a,
                    launcher_hash: l,
                }),
                (part(), hash(), hash()).prop_map(|(f, h, l)| Mode::Component {
                    payload_file: f,
                    payload_hash: h,
                    launcher_hash: l,
                }),
            ]
        }

        fn settings() -> impl Strategy<Value = Settings> {
            (mode(), path(), path(), path(), path(), text()).prop_map(
                |(mode, runtime, interpreter, executable, boot, component)| {
                    let runtime = match mode {
                        Mode::Python => format!("../{runtime}"),
                        _ => runtime,
                    };
                    Settings {
                        mode,
                        runtime,
                        interpreter,
                        executable,
                        boot,
                        component,
                    }
                },
            )
        }

        proptest! {
            /// What the writer encodes, the launcher decodes to the same settings, payload
            /// length and payload offset, whatever precedes it.
            #[test]
            fn encode_then_decode_is_identity(
                s in settings(),
                prefix in proptest::collection::vec(any::<u8>(), 0..64),
                len in 1u64..32,
            ) {
                let payload_len = if matches!(s.mode, Mode::Onefile { .. }) { len } else { 0 };
                let mut file = prefix.clone();
                file.extend(std::iter::repeat_n(7u8, payload_len as usize));
                file.extend_from_slice(&s.encode(payload_len));
                let t = Trailer::decode(&file).unwrap();
                prop_assert_eq!(t.payload_len, payload_len);
                prop_assert_eq!(t.decode_settings().unwrap(), s);
            }

            /// A flipped bit anywhere in the encoded settings or footer is an error, never
            /// other settings.
            #[test]
            fn flipped_bits_never_decode(s in settings(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
                let payload_len = if matches!(s.mode, Mode::Onefile { .. }) { 3 } else { 0 };
                let mut file = vec![0u8; 3];
                file.extend_from_slice(&s.encode(payload_len));
                let i = 3 + at.index(file.len() - 3);
                file[i] ^= 1 << bit;
                prop_assert!(Trailer::decode(&file).is_err());
            }
        }
    }

    #[test]
    fn settings_are_rejected_when_keys_or_values_are_wrong() {
        let s = onefile();
        let err = |t: Trailer| t.decode_settings().unwrap_err().to_string();
        assert_eq!(
            err(with(&s, 9, |v| v.push(("extra".into(), "1".into())))),
            "unknown key `extra`"
        );
        assert_eq!(
            err(with(&s, 9, |v| v.retain(|(k, _)| k != keys::PAYLOAD_HASH))),
            "key `payload-hash` is missing (mode `onefile` needs it)"
        );
        assert_eq!(
            err(with(&s, 9, |v| v.push((keys::BOOT.into(), "x".into())))),
            "key `boot` is given twice"
        );
        assert_eq!(
            err(with(&s, 9, |v| v.retain(|(k, _)| k != keys::MODE))),
            "key `mode` is missing (mode `any` needs it)"
        );
        // A flipped letter in a key name is an unknown key, never a different mode.
        assert!(err(with(&s, 9, |v| v[7].0 = "payload-hasi".into())).contains("payload-hasi"));
        assert!(err(with(&s, 9, set(keys::MODE, "onefilf"))).contains("`mode`"));
        assert!(err(with(&s, 9, set(keys::PAYLOAD_HASH, &"A".repeat(64)))).contains("SHA-256"));
        assert!(err(with(&s, 9, set(keys::LAUNCHER_HASH, "abc"))).contains("launcher-hash"));
        assert!(err(with(&s, 9, set(keys::RUNTIME, "../x"))).contains("inside the bundle"));
        assert!(err(with(&s, 9, set(keys::BOOT, "/abs/boot.pyc"))).contains("`boot`"));
        assert!(err(with(&s, 9, set(keys::INTERPRETER, "bin//python"))).contains("interpreter"));
        assert!(err(with(&s, 9, set(keys::PAYLOAD_FORMAT, "2a"))).contains("format"));
        assert!(err(with(&s, 9, set(keys::COMPONENT, ""))).contains("`component` is empty"));
        assert_eq!(
            err(with(&s, 0, |_| {})),
            "mode `onefile` needs a payload, and there is none"
        );
        // Keys of another mode.
        let app = Settings {
            mode: Mode::App,
            ..onefile()
        };
        assert_eq!(
            err(with(&app, 0, |v| v
                .push((keys::PAYLOAD_HASH.into(), "a".repeat(64))))),
            "key `payload-hash` does not belong to mode `app`"
        );
        assert!(err(with(&app, 5, |_| {})).contains("carries no payload"));
        let python = Settings {
            mode: Mode::Python,
            runtime: "..".into(),
            ..onefile()
        };
        assert_eq!(python.to_trailer(0).decode_settings().unwrap(), python);
        let component = Settings {
            mode: Mode::Component {
                payload_file: "suite".into(),
                payload_hash: "c".repeat(64),
                launcher_hash: "d".repeat(64),
            },
            ..onefile()
        };
        assert_eq!(
            component.to_trailer(0).decode_settings().unwrap(),
            component
        );
        assert!(
            err(with(&component, 0, set(keys::PAYLOAD_FILE, "../suite"))).contains("file name")
        );
        assert!(err(with(&component, 0, set(keys::PAYLOAD_FILE, "a/b"))).contains("file name"));
    }
}
