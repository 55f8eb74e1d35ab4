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
//!
//! The marker is also the entry's [`Record`]: the payload it was unpacked from, every directory
//! and file with its mode, size and change time (`ctime`, which every write, `chmod`, `chown`,
//! rename, creation or removal inside a directory updates, and which no user can set back), and
//! the stamps of the executables whose bytes were checked in full against their trailer.
//! [`quick_check`] compares the directories and the files the launcher executes with the
//! record (a `stat` each: a few hundred for a 10,000-file entry); [`full_check`] compares every
//! file and directory, and what else is there.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
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

/// A file's identity as `stat` gives it: a file whose stamp is unchanged was not written since
/// the stamp was taken (a write updates the change time, which no user can set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    fn encode(&self) -> String {
        format!(
            "{}:{}:{}:{}.{}:{}.{}",
            self.dev, self.ino, self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1
        )
    }

    fn decode(text: &str) -> Option<Stamp> {
        let mut parts = text.split(':');
        let stamp = Stamp {
            dev: parts.next()?.parse().ok()?,
            ino: parts.next()?.parse().ok()?,
            size: parts.next()?.parse().ok()?,
            mtime: time(parts.next()?)?,
            ctime: time(parts.next()?)?,
        };
        parts.next().is_none().then_some(stamp)
    }
}

fn time(text: &str) -> Option<(i64, i64)> {
    let (s, ns) = text.split_once('.')?;
    Some((s.parse().ok()?, ns.parse().ok()?))
}

/// One directory or file of an entry, as its unpack left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Relative to the entry.
    pub path: Vec<u8>,
    pub dir: bool,
    /// Permission bits.
    pub mode: u32,
    /// 0 for a directory.
    pub size: u64,
    pub ctime: (i64, i64),
}

impl Item {
    /// `path` (relative to `root`) as it is now, if it is a directory or regular file.
    pub fn of(root: &Path, path: &[u8]) -> io::Result<Item> {
        let meta = std::fs::symlink_metadata(root.join(std::ffi::OsStr::from_bytes(path)))?;
        Ok(Item {
            path: path.to_vec(),
            dir: meta.is_dir(),
            mode: meta.mode() & 0o7777,
            size: if meta.is_dir() { 0 } else { meta.size() },
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }

    fn encode(&self, kind: char, out: &mut String) {
        let _ = write!(
            out,
            "{kind} {:o} {} {}.{} ",
            self.mode, self.size, self.ctime.0, self.ctime.1
        );
        escape(&self.path, out);
        out.push('\n');
    }

    fn decode(line: &str) -> Option<Item> {
        let mut parts = line.splitn(5, ' ');
        let dir = parts.next()? == "d";
        let item = Item {
            dir,
            mode: u32::from_str_radix(parts.next()?, 8).ok()?,
            size: parts.next()?.parse().ok()?,
            ctime: time(parts.next()?)?,
            path: unescape(parts.next()?)?,
        };
        Some(item)
    }

    /// Why `meta`, what is at this item's path now, is not this item, if it is not.
    fn differs(&self, meta: &Metadata) -> Option<String> {
        let what = if self.dir { "directory" } else { "file" };
        let path = String::from_utf8_lossy(&self.path);
        if meta.file_type().is_symlink() {
            return Some(format!("{path} is a symbolic link"));
        }
        if meta.is_dir() != self.dir || !(meta.is_dir() || meta.is_file()) {
            return Some(format!("{path} is no longer a {what}"));
        }
        if let Some(problem) = not_private(meta) {
            return Some(format!("{path} is {problem}"));
        }
        if !self.dir && meta.size() != self.size {
            return Some(format!(
                "{path} has {} bytes, not the {} it was unpacked with",
                meta.size(),
                self.size
            ));
        }
        if meta.mode() & 0o7777 != self.mode || (meta.ctime(), meta.ctime_nsec()) != self.ctime {
            return Some(format!("{path} was changed after it was unpacked"));
        }
        None
    }
}

/// Bytes outside printable ASCII, space and `\` as `\XX`: one path per line, in UTF-8.
fn escape(path: &[u8], out: &mut String) {
    for &b in path {
        if b.is_ascii_graphic() && b != b'\\' {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\{b:02x}");
        }
    }
}

fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// How many executables' stamps an entry remembers (the most recent).
pub const MAX_VERIFIED: usize = 8;

/// What a complete entry's marker records (a superset of [`Marker`], whose reader skips the
/// rest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub marker: Marker,
    /// The SHA-256 of the payload it was unpacked from, lowercase hex.
    pub payload: String,
    /// Executables whose launcher and payload were checked in full against their trailer,
    /// most recent first.
    pub verified: Vec<Stamp>,
    /// The files the launcher executes or hands the interpreter (checked on every start).
    pub keys: Vec<Item>,
    /// Every directory below the entry.
    pub dirs: Vec<Item>,
    /// Every file below the entry (left empty by a quick decode).
    pub files: Vec<Item>,
}

impl Record {
    pub fn encode(&self) -> String {
        let mut out = self.marker.encode();
        let _ = writeln!(out, "payload={}", self.payload);
        for stamp in &self.verified {
            let _ = writeln!(out, "verified={}", stamp.encode());
        }
        for item in &self.keys {
            item.encode('k', &mut out);
        }
        for item in &self.dirs {
            item.encode('d', &mut out);
        }
        for item in &self.files {
            item.encode('f', &mut out);
        }
        out
    }

    /// The record a marker holds, or `None` when it holds none (a marker of an older kiln, or
    /// a damaged one). Without `full`, stops before the files.
    pub fn decode(text: &str, full: bool) -> Option<Record> {
        let mut record = Record::default();
        for line in text.lines() {
            match line.as_bytes().get(..2) {
                Some(b"k ") => record.keys.push(Item::decode(line)?),
                Some(b"d ") => record.dirs.push(Item::decode(line)?),
                Some(b"f ") if !full => break,
                Some(b"f ") => record.files.push(Item::decode(line)?),
                _ => match line.split_once('=') {
                    Some(("payload", v)) => record.payload = v.to_string(),
                    Some(("verified", v)) => record.verified.push(Stamp::decode(v)?),
                    Some(("app", v)) => record.marker.app = v.to_string(),
                    Some(("bytes", v)) => record.marker.bytes = v.parse().ok()?,
                    Some(("files", v)) => record.marker.files = v.parse().ok()?,
                    _ => return None,
                },
            }
        }
        (record.payload.len() == 64).then_some(record)
    }

    /// Remembers `stamp` as checked; whether it was new.
    pub fn add_verified(&mut self, stamp: Stamp) -> bool {
        if self.verified.first() == Some(&stamp) {
            return false;
        }
        self.verified.retain(|s| *s != stamp);
        self.verified.insert(0, stamp);
        self.verified.truncate(MAX_VERIFIED);
        true
    }

    /// What was recorded for the file at `path`.
    pub fn key(&self, path: &[u8]) -> Option<&Item> {
        self.keys
            .iter()
            .chain(&self.files)
            .find(|item| item.path == path)
    }
}

/// Records `paths` (relative to `root`, as an unpack listed them) as they are now: the
/// directories and files of a [`Record`], and the items of `keys` among them.
pub fn record_tree(
    root: &Path,
    paths: &[PathBuf],
    keys: &[Vec<u8>],
) -> io::Result<(Vec<Item>, Vec<Item>, Vec<Item>)> {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for path in paths {
        let item = Item::of(root, path.as_os_str().as_bytes())?;
        if item.dir {
            dirs.push(item);
        } else {
            files.push(item);
        }
    }
    let keys = keys
        .iter()
        .filter_map(|k| files.iter().find(|f| f.path == *k).cloned())
        .collect();
    Ok((dirs, files, keys))
}

/// Checks what every start relies on: each directory of the entry, and the files `keys`
/// (already looked up in the record), are as they were unpacked. A `stat` each.
pub fn quick_check(entry: &Path, record: &Record, keys: &[&Item]) -> Result<(), String> {
    for item in record.dirs.iter().chain(keys.iter().copied()) {
        let path = entry.join(std::ffi::OsStr::from_bytes(&item.path));
        match std::fs::symlink_metadata(&path) {
            Ok(meta) => {
                if let Some(why) = item.differs(&meta) {
                    return Err(why);
                }
            }
            Err(e) => {
                return Err(format!("{}: {e}", String::from_utf8_lossy(&item.path)));
            }
        }
    }
    Ok(())
}

/// Checks everything: every directory and file below the entry is one the record lists, as it
/// was unpacked (type, owner, mode, size, change time), and every one it lists is there.
/// `record` must have been decoded in full.
pub fn full_check(entry: &Path, record: &Record) -> Result<(), String> {
    let mut expected: HashMap<&[u8], &Item> = record
        .dirs
        .iter()
        .chain(&record.files)
        .map(|item| (item.path.as_slice(), item))
        .collect();
    let mut stack = vec![Vec::new()];
    let mut dirs = Vec::new();
    while let Some(rel) = stack.pop() {
        let dir = entry.join(std::ffi::OsStr::from_bytes(&rel));
        let read = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for dirent in read {
            let dirent = dirent.map_err(|e| format!("{}: {e}", dir.display()))?;
            let name = dirent.file_name().into_vec();
            if rel.is_empty() && name.starts_with(MARKER.as_bytes()) {
                continue;
            }
            let mut path = rel.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            let shown = String::from_utf8_lossy(&path).into_owned();
            let Some(item) = expected.remove(path.as_slice()) else {
                return Err(format!("{shown} is not from the payload"));
            };
            let meta = dirent.metadata().map_err(|e| format!("{shown}: {e}"))?;
            if item.dir && meta.is_dir() {
                // Checked last: what changed inside it says more than its change time.
                dirs.push((item, meta));
                stack.push(path);
            } else if let Some(why) = item.differs(&meta) {
                return Err(why);
            }
        }
    }
    if let Some(missing) = expected.keys().min() {
        return Err(format!("{} is missing", String::from_utf8_lossy(missing)));
    }
    match dirs.iter().find_map(|(item, meta)| item.differs(meta)) {
        Some(why) => Err(why),
        None => Ok(()),
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

    /// An unpacked-looking tree under `root`, recorded.
    fn recorded_tree(root: &Path) -> Record {
        let paths = [
            "_kiln",
            "_kiln/bin",
            "_kiln/bin/python3",
            "_kiln/lib",
            "_kiln/lib/a b\n=c",
        ];
        for p in paths {
            if p.contains("python") || p.ends_with('c') {
                fs::write(root.join(p), p).unwrap();
            } else {
                fs::create_dir(root.join(p)).unwrap();
            }
        }
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        let keys = vec![b"_kiln/bin/python3".to_vec()];
        let (dirs, files, keys) = record_tree(root, &paths, &keys).unwrap();
        Record {
            marker: Marker {
                app: "x".into(),
                bytes: 20,
                files: 2,
            },
            payload: "e".repeat(64),
            verified: Vec::new(),
            keys,
            dirs,
            files,
        }
    }

    #[test]
    fn records_round_trip_and_stay_readable_as_markers() {
        let tmp = tempfile_dir("record");
        let mut record = recorded_tree(&tmp);
        let stamp = Stamp::of(&fs::metadata(&tmp).unwrap());
        assert!(record.add_verified(stamp));
        assert!(!record.add_verified(stamp));
        let text = record.encode();
        assert_eq!(Record::decode(&text, true).unwrap(), record);
        let quick = Record::decode(&text, false).unwrap();
        assert!(quick.files.is_empty());
        assert_eq!(quick.dirs, record.dirs);
        assert_eq!(Marker::decode(&text), record.marker);
        assert_eq!(quick.key(b"_kiln/bin/python3"), record.keys.first());
        assert!(text.contains("_kiln/lib/a\\20b\\0a=c"), "{text}");
        // A marker of an older kiln holds no record.
        assert_eq!(Record::decode("app=x\nbytes=1\nfiles=1\n", true), None);
        fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn checks_see_changes_below_the_entry() {
        let tmp = tempfile_dir("checks");
        let record = recorded_tree(&tmp);
        let key = record.keys[0].clone();
        assert_eq!(quick_check(&tmp, &record, &[&key]), Ok(()));
        assert_eq!(full_check(&tmp, &record), Ok(()));

        // A subdirectory others may write; a planted file; a removed one; a rewritten one.
        fs::set_permissions(tmp.join("_kiln/lib"), fs::Permissions::from_mode(0o777)).unwrap();
        let why = quick_check(&tmp, &record, &[&key]).unwrap_err();
        assert!(
            why.contains("_kiln/lib is writable by group or others"),
            "{why}"
        );
        fs::set_permissions(tmp.join("_kiln/lib"), fs::Permissions::from_mode(0o755)).unwrap();
        let why = quick_check(&tmp, &record, &[&key]).unwrap_err();
        assert!(why.contains("_kiln/lib was changed"), "{why}");

        let record = recorded_tree(&fresh(&tmp));
        fs::write(tmp.join("_kiln/lib/planted.py"), "").unwrap();
        assert!(quick_check(&tmp, &record, &[&key]).is_err());
        let why = full_check(&tmp, &record).unwrap_err();
        assert_eq!(why, "_kiln/lib/planted.py is not from the payload");

        let record = recorded_tree(&fresh(&tmp));
        fs::remove_file(tmp.join("_kiln/lib/a b\n=c")).unwrap();
        assert!(quick_check(&tmp, &record, &[&key]).is_err());
        assert_eq!(
            full_check(&tmp, &record).unwrap_err(),
            "_kiln/lib/a b\n=c is missing"
        );

        // Written in place: only the file itself changes.
        let record = recorded_tree(&fresh(&tmp));
        let key = record.keys[0].clone();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(tmp.join("_kiln/bin/python3"), "_kiln/bin/pythoN3").unwrap();
        let why = quick_check(&tmp, &record, &[&key]).unwrap_err();
        assert!(why.contains("_kiln/bin/python3 was changed"), "{why}");
        fs::write(tmp.join("_kiln/bin/python3"), "short").unwrap();
        let why = full_check(&tmp, &record).unwrap_err();
        assert!(why.contains("has 5 bytes, not the 17"), "{why}");

        let record = recorded_tree(&fresh(&tmp));
        fs::remove_file(tmp.join("_kiln/bin/python3")).unwrap();
        std::os::unix::fs::symlink("/bin/sh", tmp.join("_kiln/bin/python3")).unwrap();
        let key = record.keys[0].clone();
        assert!(quick_check(&tmp, &record, &[&key]).is_err());
        let why = full_check(&tmp, &record).unwrap_err();
        assert!(why.contains("symbolic link"), "{why}");
        fs::remove_dir_all(&tmp).unwrap();
    }

    /// What a warm start spends on the entry of a 10,000-file bundle: reading the marker and
    /// checking every directory and the key files. Run with `--ignored --nocapture` (release)
    /// to see the numbers; the assertion is a loose bound for debug builds on slow machines.
    #[test]
    #[ignore]
    fn warm_check_of_a_10000_file_entry() {
        let tmp = tempfile_dir("warm-cost");
        let mut paths = Vec::new();
        for d in 0..500 {
            let dir = format!(
                "_kiln/lib/python3.11/site-packages/pkg{}/sub{}",
                d / 5,
                d % 5
            );
            fs::create_dir_all(tmp.join(&dir)).unwrap();
            for f in 0..20 {
                let file = format!("{dir}/module_{f}.pyc");
                fs::write(tmp.join(&file), [0u8; 100]).unwrap();
                paths.push(PathBuf::from(file));
            }
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for p in &paths {
            let mut a = p.parent();
            while let Some(d) = a.filter(|d| !d.as_os_str().is_empty()) {
                dirs.push(d.to_path_buf());
                a = d.parent();
            }
        }
        dirs.sort();
        dirs.dedup();
        let all: Vec<PathBuf> = dirs.iter().chain(&paths).cloned().collect();
        let key = paths[0].as_os_str().as_bytes().to_vec();
        let (dirs, files, keys) = record_tree(&tmp, &all, std::slice::from_ref(&key)).unwrap();
        let record = Record {
            marker: Marker::default(),
            payload: "e".repeat(64),
            verified: Vec::new(),
            keys,
            dirs,
            files,
        };
        let text = record.encode();
        fs::write(tmp.join(MARKER), &text).unwrap();
        let rounds = 20;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            let text = fs::read_to_string(tmp.join(MARKER)).unwrap();
            let quick = Record::decode(&text, false).unwrap();
            let key = quick.key(&key).unwrap();
            quick_check(&tmp, &quick, &[key, key, key]).unwrap();
        }
        let warm = started.elapsed() / rounds;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            let text = fs::read_to_string(tmp.join(MARKER)).unwrap();
            let quick = Record::decode(&text, false).unwrap();
            std::hint::black_box(quick);
        }
        eprintln!("read and decode: {:?}", started.elapsed() / rounds);
        let started = std::time::Instant::now();
        let full = Record::decode(&text, true).unwrap();
        full_check(&tmp, &full).unwrap();
        let full = started.elapsed();
        eprintln!(
            "{} files in {} directories, marker {} KiB: warm check {warm:?}, full check {full:?}",
            record.files.len(),
            record.dirs.len(),
            text.len() / 1024
        );
        assert!(warm < std::time::Duration::from_millis(50), "{warm:?}");
        fs::remove_dir_all(&tmp).unwrap();
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-bundle-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fresh(dir: &Path) -> PathBuf {
        fs::remove_dir_all(dir).unwrap();
        fs::create_dir_all(dir).unwrap();
        dir.to_path_buf()
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
