//! The formats shared by the kiln writer and the kiln launcher: the trailer (here), the onefile
//! payload ([`payload`]) and the cache that onefile executables unpack into ([`cache`]).
//!
//! A kiln executable is the launcher's own ELF image followed by a trailer:
//!
//! ```text
//! [launcher ELF][payload (onefile only)][settings: `key=value\n` lines][footer]
//! footer (32 bytes) = magic "KILNBNDL" | version u32 LE | settings_len u32 LE
//!                     | payload_len u64 LE | reserved u64
//! ```
//!
//! A onefile suite has one such executable with the payload (the dispatcher) and, beside it, one
//! launcher per component whose settings name that file (`payload-file`) instead of carrying a
//! payload of their own.
//!
//! The launcher reads the footer from the end of its own file, then the settings. Settings are
//! plain text so that the launcher needs no parser beyond splitting lines. The launcher links
//! this crate and must stay small: its only dependencies are a zstd decoder and SHA-256.

pub mod cache;
pub mod payload;

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Identifies a kiln trailer.
pub const MAGIC: &[u8; 8] = b"KILNBNDL";
/// The trailer version this crate writes and reads.
pub const VERSION: u32 = 1;
/// Size of the fixed footer at the very end of the file.
pub const FOOTER_LEN: usize = 32;
/// Settings larger than this are rejected as corrupt.
const MAX_SETTINGS_LEN: u32 = 1 << 20;

/// Well-known setting keys.
pub mod keys {
    /// `app` (run a component's entry) or `python` (behave as the bundled interpreter).
    pub const MODE: &str = "mode";
    /// Runtime prefix, relative to the directory holding the executable.
    pub const RUNTIME: &str = "runtime";
    /// The real interpreter binary, relative to the runtime prefix.
    pub const INTERPRETER: &str = "interpreter";
    /// The interpreter front (`sys.executable`), relative to the runtime prefix.
    pub const EXECUTABLE: &str = "executable";
    /// The boot script (compiled), relative to the runtime prefix.
    pub const BOOT: &str = "boot";
    /// The component this executable starts.
    pub const COMPONENT: &str = "component";
    /// Onefile only: SHA-256 of the payload, lowercase hex. With it, `runtime` is relative to
    /// the directory the payload is unpacked into.
    pub const PAYLOAD_HASH: &str = "payload-hash";
    /// Onefile only: the payload's format ([`crate::payload::FORMAT`]).
    pub const PAYLOAD_FORMAT: &str = "payload-format";
    /// Component launchers of a onefile suite only: the file beside this executable (in the
    /// directory of its resolved path) that carries the payload it runs from. That file's
    /// trailer gives the payload's hash and format; `payload-hash`, when this trailer has it
    /// too, must match it.
    pub const PAYLOAD_FILE: &str = "payload-file";
    /// Onefile only: the name the cache entry's marker records (default: `component`).
    pub const APP_NAME: &str = "app-name";
}

/// Errors reading a trailer.
#[derive(Debug)]
pub enum TrailerError {
    /// The file could not be read.
    Io(io::Error),
    /// The file ends without a kiln footer.
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
                "the bundle trailer has version {v}, this launcher reads version {VERSION}"
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
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&settings_len.to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
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
        let mut file = File::open(path)?;
        let len = file.seek(SeekFrom::End(0))?;
        if len < FOOTER_LEN as u64 {
            return Err(TrailerError::Missing);
        }
        let mut footer_bytes = [0u8; FOOTER_LEN];
        file.seek(SeekFrom::Start(len - FOOTER_LEN as u64))?;
        file.read_exact(&mut footer_bytes)?;
        let footer = parse_footer(&footer_bytes)?;
        let settings_start = (len - FOOTER_LEN as u64)
            .checked_sub(footer.settings_len as u64)
            .ok_or(TrailerError::Corrupt("settings overrun the file"))?;
        let mut text = vec![0u8; footer.settings_len as usize];
        file.seek(SeekFrom::Start(settings_start))?;
        file.read_exact(&mut text)?;
        let mut trailer = parse_settings(&text)?;
        let payload_start = settings_start
            .checked_sub(footer.payload_len)
            .ok_or(TrailerError::Corrupt("payload overruns the file"))?;
        trailer.payload_len = footer.payload_len;
        Ok((trailer, payload_start))
    }
}

struct Footer {
    settings_len: u32,
    payload_len: u64,
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
    let payload_len = u64::from_le_bytes(f[16..24].try_into().unwrap());
    Ok(Footer {
        settings_len,
        payload_len,
    })
}

fn parse_settings(text: &[u8]) -> Result<Trailer, TrailerError> {
    let text = std::str::from_utf8(text).map_err(|_| TrailerError::Corrupt("settings text"))?;
    let mut settings = Vec::new();
    for line in text.lines() {
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
    }
}
