//! Onefile: find this executable's unpacked copy in the per-user cache, check it, or make it.
//!
//! The rules for what is trusted live in `kiln_bundle::cache`. Every start checks, before it
//! runs anything:
//! - the executables it reads (itself, and for a suite component the file with the payload):
//!   their stamp (`stat`) is one the entry's marker lists as checked in full; otherwise their
//!   launcher part and payload are hashed now and compared with their trailer, and the stamp is
//!   added. A copy that never ran here, or a file changed since it last ran, is so hashed once.
//! - the entry: the marker names this payload, and every directory below the entry and the
//!   interpreter, front and boot script are as the unpack left them (type, owner, mode, size,
//!   change time; a `stat` each). With `KILN_VERIFY=1` (or when the entry directory is open to
//!   group or others) every file is compared, and the executables are hashed whatever their
//!   stamp.
//!
//! A damaged entry is unpacked again. A first start (and a repair) takes a lock, so that
//! concurrent starts unpack once, unpacks into a private work directory beside the entry while
//! checking the payload's hash, writes the marker, and renames the work directory into place.
//! Whatever is interrupted leaves at most a work directory, which no start ever runs and the
//! next unpack of the same payload removes.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use kiln_bundle::cache::{self, EntryState, Item, Marker, Record, Stamp, Work};
use kiln_bundle::payload;

use crate::{Error, Exe};

/// Set (to anything but `0`) to check the whole entry and hash the executables on this start.
pub(crate) const VERIFY_ENV: &str = "KILN_VERIFY";

/// What a onefile start needs.
pub(crate) struct Request<'a> {
    /// The file that carries the payload.
    pub carrier: &'a Exe,
    pub hash: &'a str,
    pub format: &'a str,
    /// What the marker records as the app.
    pub app: &'a str,
    /// Every file this start reads, with its launcher hash: the carrier and, for a suite
    /// component, the component's own executable.
    pub files: Vec<(&'a Exe, &'a str)>,
    /// The files the launcher executes or hands the interpreter, relative to the entry.
    pub keys: Vec<Vec<u8>>,
    pub verify: bool,
    pub debug: bool,
}

/// The unpacked copy a onefile executable runs from.
pub(crate) struct Unpacked {
    /// The entry directory: what `runtime` is relative to.
    pub root: PathBuf,
    /// How long unpacking took, when this start did it, and what was wrong with the entry it
    /// replaced, if any.
    pub took: Option<(Duration, Option<String>)>,
}

/// What is at the entry's name.
enum Look {
    Missing,
    /// Usable once the executables are checked.
    Ready(Record),
    /// Private to the user but not as unpacked: replace it.
    Damaged(String),
}

/// Returns the checked entry for this payload, unpacking it first if needed.
pub(crate) fn prepare(req: &Request) -> Result<Unpacked, Error> {
    if req.format != payload::FORMAT {
        return Err(Error::Format(req.format.to_string()));
    }
    // The settings were validated: the hash is 64 hex digits.
    let name = cache::entry_name(req.hash).unwrap_or(req.hash);
    let base = cache::base_dir().ok_or(Error::NoCacheDir)?;
    let entry = base.join(name);
    if private_dir(&base)? {
        if let Look::Ready(record) = look(&entry, req)? {
            ready(&base, name, &entry, record, req, false)?;
            return Ok(Unpacked {
                root: entry,
                took: None,
            });
        }
    }

    let started = Instant::now();
    // The launcher parts before anything is written (the payload is checked as it is
    // unpacked): a damaged launcher may misread where its cache is.
    for (exe, launcher_hash) in &req.files {
        check_image(exe, launcher_hash)?;
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&base)
        .map_err(|e| Error::Cache(base.clone(), e))?;
    private_dir(&base)?;
    let lock = lock(&base.join(cache::lock_name(name)), true);
    // Another start may have unpacked or repaired it while this one waited for the lock.
    let damage = match look(&entry, req)? {
        Look::Ready(record) => {
            ready(&base, name, &entry, record, req, lock.is_some())?;
            return Ok(Unpacked {
                root: entry,
                took: None,
            });
        }
        Look::Damaged(why) => Some(why),
        Look::Missing => None,
    };
    remove_leftovers(&base, name);
    if crate::noexec(&base) {
        return Err(Error::NoExec(base, true));
    }

    let pid = std::process::id();
    let work = base.join(cache::work_name(name, Work::Unpack, pid));
    DirBuilder::new()
        .mode(0o700)
        .create(&work)
        .map_err(|e| Error::Cache(work.clone(), e))?;
    let notice = Notice::after(
        NOTICE_AFTER,
        format!(
            "kiln launcher: unpacking {} ({} MiB) into {} for its first start",
            req.app,
            req.carrier.trailer.payload_len >> 20,
            entry.display()
        ),
    );
    let filled = fill(req, &work);
    notice.done(started.elapsed());
    if let Err(e) = filled {
        let _ = std::fs::remove_dir_all(&work);
        return Err(e);
    }
    let aside = base.join(cache::work_name(name, Work::Replaced, pid));
    let moved = damage.is_some() && std::fs::rename(&entry, &aside).is_ok();
    let placed = std::fs::rename(&work, &entry);
    if moved {
        let _ = std::fs::remove_dir_all(&aside);
    }
    if let Err(e) = placed {
        let _ = std::fs::remove_dir_all(&work);
        // A start that could not take the lock may have won the race: use its entry.
        match look(&entry, req)? {
            Look::Ready(record) => ready(&base, name, &entry, record, req, lock.is_some())?,
            _ => return Err(Error::Cache(entry, e)),
        }
    }
    drop(lock);
    Ok(Unpacked {
        root: entry,
        took: Some((started.elapsed(), damage)),
    })
}

/// How long an unpack goes on before the launcher says on stderr what it is doing: a first
/// start of a multi-gigabyte app takes seconds, and silence looks like a hang.
const NOTICE_AFTER: Duration = Duration::from_secs(1);

/// A line on stderr once `after` has passed, and another when the work is done (only if the
/// first was printed).
struct Notice {
    done: std::sync::mpsc::Sender<Duration>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Notice {
    fn after(after: Duration, message: String) -> Notice {
        let (done, rx) = std::sync::mpsc::channel::<Duration>();
        let thread = std::thread::Builder::new()
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(after) {
                    eprintln!("{message} ...");
                    if let Ok(took) = rx.recv() {
                        eprintln!("kiln launcher: unpacked in {:.1} s", took.as_secs_f64());
                    }
                }
            })
            .ok();
        Notice { done, thread }
    }

    fn done(mut self, took: Duration) {
        let _ = self.done.send(took);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether the cache directory exists; an error when another user could write to it (and so
/// swap entries).
fn private_dir(base: &Path) -> Result<bool, Error> {
    match std::fs::metadata(base) {
        Ok(meta) => match cache::not_private(&meta) {
            Some(problem) => Err(Error::Unsafe(
                base.to_path_buf(),
                format!("it is {problem}"),
            )),
            None => Ok(true),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Cache(base.to_path_buf(), e)),
    }
}

/// Reads and checks the entry: an error when it is not the user's own, or when the settings
/// name a file the payload does not hold.
fn look(entry: &Path, req: &Request) -> Result<Look, Error> {
    let cache_err = |e| Error::Cache(entry.to_path_buf(), e);
    let top = match cache::entry_state(entry).map_err(cache_err)? {
        EntryState::Missing => return Ok(Look::Missing),
        EntryState::Incomplete => {
            return Ok(Look::Damaged(
                "it has no marker (its unpack was interrupted)".into(),
            ))
        }
        EntryState::Unsafe(problem) => return Err(Error::Unsafe(entry.to_path_buf(), problem)),
        EntryState::Trusted => std::fs::symlink_metadata(entry).map_err(cache_err)?,
    };
    let mut text = String::new();
    if let Err(e) =
        File::open(entry.join(cache::MARKER)).and_then(|mut f| f.read_to_string(&mut text))
    {
        return Ok(Look::Damaged(format!("its marker cannot be read: {e}")));
    }
    // An entry that others may enter gets every file checked: a file they could write would
    // not show in its directory.
    let full = req.verify || top.mode() & 0o077 != 0;
    let Some(mut record) = Record::decode(&text, full) else {
        return Ok(Look::Damaged(
            "its marker was written by another version of kiln".into(),
        ));
    };
    if record.payload != req.hash {
        return Ok(Look::Damaged("it was unpacked from another payload".into()));
    }
    if !full && req.keys.iter().any(|k| record.key(k).is_none()) {
        record = Record::decode(&text, true).unwrap_or(record);
    }
    let mut keys: Vec<&Item> = Vec::new();
    for key in &req.keys {
        match record.key(key) {
            Some(item) => keys.push(item),
            None => {
                return Err(Error::NotInPayload(
                    String::from_utf8_lossy(key).into_owned(),
                ))
            }
        }
    }
    let started = Instant::now();
    let checked = match full {
        true => cache::full_check(entry, &record),
        false => cache::quick_check(entry, &record, &keys),
    };
    if let Err(why) = checked {
        return Ok(Look::Damaged(why));
    }
    if req.debug {
        let what = match full {
            true => format!("every file ({})", record.marker.files),
            false => format!("{} directories and {} files", record.dirs.len(), keys.len()),
        };
        eprintln!(
            "kiln launcher: checked {what} of {} in {} us",
            entry.display(),
            started.elapsed().as_micros()
        );
    }
    Ok(Look::Ready(record))
}

/// Checks in full the executables the entry does not list as checked (all of them with
/// `KILN_VERIFY`), and remembers them in its marker. `locked`: this start holds the lock.
fn ready(
    base: &Path,
    name: &str,
    entry: &Path,
    record: Record,
    req: &Request,
    locked: bool,
) -> Result<(), Error> {
    let mut fresh = Vec::new();
    for (exe, launcher_hash) in &req.files {
        if !req.verify && record.verified.contains(&exe.stamp) {
            continue;
        }
        let started = Instant::now();
        check_image(exe, launcher_hash)?;
        if std::ptr::eq(*exe, req.carrier) {
            check_payload(exe, req.hash)?;
        }
        if req.debug {
            eprintln!(
                "kiln launcher: checked {} in full in {} ms",
                exe.path.display(),
                started.elapsed().as_millis()
            );
        }
        fresh.push(exe.stamp);
    }
    let marker = entry.join(cache::MARKER);
    if !fresh.is_empty() {
        // Best effort: without it the next start checks them again.
        let _lock = if locked {
            None
        } else {
            match lock(&base.join(cache::lock_name(name)), false) {
                Some(lock) => Some(lock),
                None => {
                    touch(&marker);
                    return Ok(());
                }
            }
        };
        remember(entry, req.hash, &fresh);
    }
    touch(&marker);
    Ok(())
}

/// Adds `stamps` to the marker of `entry`, replacing it atomically. Under the entry's lock.
fn remember(entry: &Path, hash: &str, stamps: &[Stamp]) {
    let marker = entry.join(cache::MARKER);
    let Ok(text) = std::fs::read_to_string(&marker) else {
        return;
    };
    let Some(mut record) = Record::decode(&text, true).filter(|r| r.payload == hash) else {
        return;
    };
    for stamp in stamps.iter().rev() {
        record.add_verified(*stamp);
    }
    let tmp = entry.join(format!("{}.new-{}", cache::MARKER, std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(record.encode().as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, &marker));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Compares the launcher part of `exe` (the bytes before its payload, or before its settings
/// when it has none) with its trailer's hash.
fn check_image(exe: &Exe, launcher_hash: &str) -> Result<(), Error> {
    let digest = payload::hash_range(&exe.file, 0, exe.payload_start)
        .map_err(|e| Error::Trailer(exe.path.clone(), kiln_bundle::TrailerError::Io(e)))?;
    match digest == launcher_hash {
        true => Ok(()),
        false => Err(Error::Damaged(
            exe.path.clone(),
            "its launcher part does not match the checksum in its trailer",
        )),
    }
}

/// Compares the payload of `exe` with its trailer's hash.
fn check_payload(exe: &Exe, hash: &str) -> Result<(), Error> {
    let digest = payload::hash_range(&exe.file, exe.payload_start, exe.trailer.payload_len)
        .map_err(|e| Error::Trailer(exe.path.clone(), kiln_bundle::TrailerError::Io(e)))?;
    match digest == hash {
        true => Ok(()),
        false => Err(Error::Damaged(
            exe.path.clone(),
            "its bundled files do not match the checksum in its trailer",
        )),
    }
}

/// Unpacks the payload into `work` and writes the marker that completes it.
fn fill(req: &Request, work: &Path) -> Result<(), Error> {
    let carrier = req.carrier;
    let reader = ReadAt {
        file: &carrier.file,
        at: carrier.payload_start,
    };
    let unpacked = payload::unpack(reader, carrier.trailer.payload_len, req.hash, work)
        .map_err(|e| Error::Payload(carrier.path.clone(), e))?;
    for key in &req.keys {
        let path = work.join(std::ffi::OsStr::from_bytes(key));
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            return Err(Error::NotInPayload(
                String::from_utf8_lossy(key).into_owned(),
            ));
        }
    }
    let cache_err = |e| Error::Cache(work.to_path_buf(), e);
    let (dirs, files, keys) =
        cache::record_tree(work, &unpacked.paths, &req.keys).map_err(cache_err)?;
    let record = Record {
        marker: Marker {
            app: req.app.to_string(),
            bytes: unpacked.bytes,
            files: unpacked.files as u64,
        },
        payload: req.hash.to_string(),
        verified: req.files.iter().map(|(exe, _)| exe.stamp).collect(),
        keys,
        dirs,
        files,
    };
    let path = work.join(cache::MARKER);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(record.encode().as_bytes()))
        .map_err(|e| Error::Cache(path, e))
}

/// Reads a file from an offset on, without moving its shared position.
struct ReadAt<'a> {
    file: &'a File,
    at: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Holds an exclusive lock on `path` until dropped; `wait`: block until it is free. Without
/// one (a read-only or odd file system) concurrent first starts each unpack, which the final
/// rename still makes safe.
fn lock(path: &Path, wait: bool) -> Option<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .ok()?;
    match wait {
        true => file.lock().ok()?,
        false => file.try_lock().ok()?,
    }
    Some(file)
}

/// Removes work directories of `name` left by starts that were killed. Called under the lock,
/// so a work directory whose process is alive belongs to a start that could not lock.
fn remove_leftovers(base: &Path, name: &str) {
    let Ok(read) = std::fs::read_dir(base) else {
        return;
    };
    for dirent in read.filter_map(|e| e.ok()) {
        let file_name = dirent.file_name();
        let Some((owner, pid)) = file_name.to_str().and_then(cache::parse_work_name) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        if owner == name && (!alive || pid == std::process::id()) {
            let _ = std::fs::remove_dir_all(dirent.path());
        }
    }
}

/// Records the last use of an entry (what `kiln cache clean --older-than` reads); best effort.
fn touch(marker: &Path) {
    if let Ok(file) = OpenOptions::new().write(true).open(marker) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// The length of the ELF image at the start of `path`, as the linker wrote it: where its
/// section header table ends. A kiln executable longer than that carries a bundle.
pub(crate) fn elf_image_len(file: &File) -> Option<u64> {
    let mut header = [0u8; 64];
    file.read_exact_at(&mut header, 0).ok()?;
    // 64-bit little-endian ELF only: the launcher is built for nothing else.
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let shoff = u64::from_le_bytes(header[0x28..0x30].try_into().ok()?);
    let entsize = u16::from_le_bytes(header[0x3a..0x3c].try_into().ok()?);
    let count = u16::from_le_bytes(header[0x3c..0x3e].try_into().ok()?);
    shoff.checked_add(u64::from(entsize) * u64::from(count))
}
