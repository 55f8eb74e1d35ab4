//! Where onefile executables unpack themselves, and which unpacked copies may be run.
//!
//! The cache belongs to one user: `$KILN_ONEFILE_DIR`, else `$XDG_CACHE_HOME/kiln/onefile`, else
//! `~/.cache/kiln/onefile`. An entry is named after the first 32 hex digits of its payload's
//! SHA-256, so every executable with the same payload shares it and none has to hash anything
//! to find it. An entry is made by unpacking into a private work directory beside it
//! (`.NAME.tmp-PID`), writing the [`MARKER`] file last, and renaming the work directory to
//! `NAME`: a directory that has the entry's name and a marker is complete.
//!
//! An entry is run only when it is a directory that belongs to the user and that neither group
//! nor others can write, holding a marker that belongs to the user; anything else at that name
//! could hold another user's code.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Overrides where the cache is.
pub const DIR_ENV: &str = "KILN_ONEFILE_DIR";
/// Written last into a complete entry; holds a [`Marker`].
pub const MARKER: &str = ".kiln-entry";
/// Hex digits of the payload hash that name an entry.
pub const NAME_LEN: usize = 32;

/// The cache directory for this process's environment, or `None` when there is no home to put
/// it in.
pub fn base_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty(DIR_ENV) {
        // Relative to where the app starts; made absolute so that the app sees one path.
        return std::path::absolute(dir).ok();
    }
    // The XDG spec says to ignore a relative XDG_CACHE_HOME.
    let cache = non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| {
            std::env::home_dir()
                .filter(|h| h.is_absolute())
                .map(|h| h.join(".cache"))
        })?;
    Some(cache.join("kiln").join("onefile"))
}

/// The entry name for a payload hash, if it is one.
pub fn entry_name(hash: &str) -> Option<&str> {
    hash.get(..NAME_LEN).filter(|name| is_entry_name(name))
}

/// Whether `name` names an entry (32 lowercase hex digits).
pub fn is_entry_name(name: &str) -> bool {
    name.len() == NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The lock file that serialises unpacking an entry: `.NAME.lock`.
pub fn lock_name(name: &str) -> String {
    format!(".{name}.lock")
}

/// What a work directory beside an entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// An entry being unpacked.
    Unpack,
    /// An incomplete entry moved aside before it is replaced.
    Replaced,
    /// An entry moved aside before it is removed.
    Removed,
}

/// `.NAME.tmp-PID`, `.NAME.old-PID` or `.NAME.del-PID`.
pub fn work_name(name: &str, work: Work, pid: u32) -> String {
    let kind = match work {
        Work::Unpack => "tmp",
        Work::Replaced => "old",
        Work::Removed => "del",
    };
    format!(".{name}.{kind}-{pid}")
}

/// The entry name and process id of a work directory's name.
pub fn parse_work_name(file_name: &str) -> Option<(&str, u32)> {
    let rest = file_name.strip_prefix('.')?;
    let (name, work) = rest.split_once('.')?;
    let pid = ["tmp-", "old-", "del-"]
        .iter()
        .find_map(|kind| work.strip_prefix(kind))?;
    (is_entry_name(name)).then_some(())?;
    Some((name, pid.parse().ok()?))
}

/// What an entry's marker records, as `key=value` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marker {
    /// The app that unpacked it (the component the executable starts).
    pub app: String,
    /// Total size of its files.
    pub bytes: u64,
    /// Number of files.
    pub files: u64,
}

impl Marker {
    pub fn encode(&self) -> String {
        format!(
            "app={}\nbytes={}\nfiles={}\n",
            self.app.replace('\n', " "),
            self.bytes,
            self.files
        )
    }

    /// Reads what it can; unknown lines are ignored.
    pub fn decode(text: &str) -> Marker {
        let mut marker = Marker::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("app", v)) => marker.app = v.to_string(),
                Some(("bytes", v)) => marker.bytes = v.parse().unwrap_or(0),
                Some(("files", v)) => marker.files = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        marker
    }
}

/// Whether an entry may be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryState {
    /// Nothing has the entry's name.
    Missing,
    /// A private directory of the user's without a marker: not made by a complete unpack, so
    /// never run, but safe to replace.
    Incomplete,
    /// Complete and private: run it.
    Trusted,
    /// Something another user could have written: never run, never touched. Says why, as
    /// `it is ...`.
    Unsafe(String),
}

/// Checks the entry at `path` (which is not followed if it is a symlink).
pub fn entry_state(path: &Path) -> io::Result<EntryState> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(EntryState::Missing),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return Ok(EntryState::Unsafe("it is not a directory".into()));
    }
    if let Some(problem) = not_private(&meta) {
        return Ok(EntryState::Unsafe(format!("it is {problem}")));
    }
    let marker = match std::fs::symlink_metadata(path.join(MARKER)) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(EntryState::Incomplete),
        Err(e) => return Err(e),
    };
    if !marker.is_file() {
        return Ok(EntryState::Unsafe(format!("its {MARKER} is not a file")));
    }
    if let Some(problem) = not_private(&marker) {
        return Ok(EntryState::Unsafe(format!("its {MARKER} is {problem}")));
    }
    Ok(EntryState::Trusted)
}

/// Why a file or directory is not private to this user, if it is not: another owner, or
/// writable by group or others.
pub fn not_private(meta: &Metadata) -> Option<String> {
    let me = effective_uid();
    if meta.uid() != me {
        return Some(format!(
            "owned by user id {}, not by you (user id {me})",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    (mode & 0o022 != 0).then(|| format!("writable by group or others (mode {mode:04o})"))
}

/// The effective user id of this process.
pub fn effective_uid() -> u32 {
    extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn names() {
        let hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let name = entry_name(hash).unwrap();
        assert_eq!(name, "0123456789abcdef0123456789abcdef");
        assert_eq!(entry_name("0123"), None);
        assert_eq!(entry_name(&hash.to_uppercase()), None);
        assert_eq!(lock_name(name), format!(".{name}.lock"));
        let work = work_name(name, Work::Unpack, 42);
        assert_eq!(work, format!(".{name}.tmp-42"));
        assert_eq!(parse_work_name(&work), Some((name, 42)));
        assert_eq!(
            parse_work_name(&work_name(name, Work::Removed, 7)),
            Some((name, 7))
        );
        assert_eq!(parse_work_name(&lock_name(name)), None);
        assert_eq!(parse_work_name(".short.tmp-1"), None);
    }

    #[test]
    fn marker_round_trip() {
        let marker = Marker {
            app: "backend".into(),
            bytes: 123,
            files: 4,
        };
        assert_eq!(Marker::decode(&marker.encode()), marker);
        assert_eq!(Marker::decode("junk\napp=x\n").app, "x");
    }

    #[test]
    fn only_private_complete_entries_are_trusted() {
        let root =
            std::env::temp_dir().join(format!("kiln-bundle-cache-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let entry = root.join("entry");
        assert_eq!(entry_state(&entry).unwrap(), EntryState::Missing);
        fs::create_dir_all(&entry).unwrap();
        fs::set_permissions(&entry, fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(entry_state(&entry).unwrap(), EntryState::Incomplete);
        fs::write(entry.join(MARKER), "app=x\n").unwrap();
        fs::set_permissions(entry.join(MARKER), fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(entry_state(&entry).unwrap(), EntryState::Trusted);

        fs::set_permissions(&entry, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            matches!(entry_state(&entry).unwrap(), EntryState::Unsafe(why) if why.contains("writable by group or others")),
        );
        fs::set_permissions(&entry, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(entry_state(&entry).unwrap(), EntryState::Trusted);
        fs::set_permissions(entry.join(MARKER), fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(
            entry_state(&entry).unwrap(),
            EntryState::Unsafe(_)
        ));

        let link = root.join("link");
        std::os::unix::fs::symlink(&entry, &link).unwrap();
        assert!(matches!(entry_state(&link).unwrap(), EntryState::Unsafe(_)));
        fs::remove_dir_all(&root).unwrap();
    }
}
