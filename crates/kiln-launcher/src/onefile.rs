//! Onefile: find this executable's unpacked copy in the per-user cache, or make it.
//!
//! The rules for what is trusted live in `kiln_bundle::cache`. A warm start costs a few `stat`s
//! and never reads or hashes the payload. A first start takes a lock (so that concurrent first
//! starts unpack once), unpacks into a private work directory beside the entry while checking
//! the payload's hash, writes the marker, and renames the work directory into place. Whatever
//! is interrupted leaves at most a work directory, which no start ever runs and the next unpack
//! of the same payload removes.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use kiln_bundle::cache::{self, EntryState, Marker, Work};
use kiln_bundle::{keys, payload, Trailer};

use crate::{setting, Error};

/// The unpacked copy a onefile executable runs from.
pub(crate) struct Unpacked {
    /// The entry directory: what `runtime` is relative to.
    pub root: PathBuf,
    /// How long unpacking took, when this start did it.
    pub took: Option<Duration>,
}

/// Returns the trusted entry for this executable's payload, unpacking it first if needed.
pub(crate) fn prepare(
    exe: &Path,
    trailer: &Trailer,
    payload_start: u64,
) -> Result<Unpacked, Error> {
    let hash = setting(trailer, keys::PAYLOAD_HASH)?;
    let format = setting(trailer, keys::PAYLOAD_FORMAT)?;
    if format != payload::FORMAT {
        return Err(Error::Format(format.to_string()));
    }
    let name = cache::entry_name(hash).ok_or(Error::Setting(keys::PAYLOAD_HASH))?;
    let base = cache::base_dir().ok_or(Error::NoCacheDir)?;
    let entry = base.join(name);
    if private_dir(&base)? && trusted(&entry)? {
        touch(&entry.join(cache::MARKER));
        return Ok(Unpacked {
            root: entry,
            took: None,
        });
    }

    let started = Instant::now();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&base)
        .map_err(|e| Error::Cache(base.clone(), e))?;
    private_dir(&base)?;
    let _lock = lock(&base.join(cache::lock_name(name)));
    // Another start may have finished while this one waited for the lock.
    let replace = match cache::entry_state(&entry).map_err(|e| Error::Cache(entry.clone(), e))? {
        EntryState::Trusted => {
            return Ok(Unpacked {
                root: entry,
                took: None,
            })
        }
        EntryState::Unsafe(problem) => return Err(Error::Unsafe(entry, problem)),
        EntryState::Incomplete => true,
        EntryState::Missing => false,
    };
    remove_leftovers(&base, name);

    let pid = std::process::id();
    let work = base.join(cache::work_name(name, Work::Unpack, pid));
    DirBuilder::new()
        .mode(0o700)
        .create(&work)
        .map_err(|e| Error::Cache(work.clone(), e))?;
    if let Err(e) = fill(exe, trailer, payload_start, hash, &work) {
        let _ = std::fs::remove_dir_all(&work);
        return Err(e);
    }
    if replace {
        let aside = base.join(cache::work_name(name, Work::Replaced, pid));
        if std::fs::rename(&entry, &aside).is_ok() {
            let _ = std::fs::remove_dir_all(&aside);
        }
    }
    if let Err(e) = std::fs::rename(&work, &entry) {
        let _ = std::fs::remove_dir_all(&work);
        // A start that could not take the lock may have won the race: use its entry.
        if !trusted(&entry)? {
            return Err(Error::Cache(entry, e));
        }
    }
    Ok(Unpacked {
        root: entry,
        took: Some(started.elapsed()),
    })
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

/// Whether `entry` may be run; an error when something unsafe has its name.
fn trusted(entry: &Path) -> Result<bool, Error> {
    match cache::entry_state(entry).map_err(|e| Error::Cache(entry.to_path_buf(), e))? {
        EntryState::Trusted => Ok(true),
        EntryState::Unsafe(problem) => Err(Error::Unsafe(entry.to_path_buf(), problem)),
        EntryState::Missing | EntryState::Incomplete => Ok(false),
    }
}

/// Unpacks the payload into `work` and writes the marker that completes it.
fn fill(
    exe: &Path,
    trailer: &Trailer,
    payload_start: u64,
    hash: &str,
    work: &Path,
) -> Result<(), Error> {
    let mut file = File::open(exe).map_err(Error::SelfPath)?;
    file.seek(SeekFrom::Start(payload_start))
        .map_err(Error::SelfPath)?;
    let unpacked = payload::unpack(file, trailer.payload_len, hash, work)
        .map_err(|e| Error::Payload(exe.to_path_buf(), e))?;
    let marker = Marker {
        app: trailer
            .get(keys::APP_NAME)
            .or_else(|| trailer.get(keys::COMPONENT))
            .unwrap_or_default()
            .to_string(),
        bytes: unpacked.bytes,
        files: unpacked.files as u64,
    };
    let path = work.join(cache::MARKER);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(marker.encode().as_bytes()))
        .map_err(|e| Error::Cache(path, e))
}

/// Holds an exclusive lock on `path` until dropped. Without one (a read-only or odd file
/// system) concurrent first starts each unpack, which the final rename still makes safe.
fn lock(path: &Path) -> Option<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .ok()?;
    file.lock().ok()?;
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
pub(crate) fn elf_image_len(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut header = [0u8; 64];
    File::open(path).ok()?.read_exact(&mut header).ok()?;
    // 64-bit little-endian ELF only: the launcher is built for nothing else.
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let shoff = u64::from_le_bytes(header[0x28..0x30].try_into().ok()?);
    let entsize = u16::from_le_bytes(header[0x3a..0x3c].try_into().ok()?);
    let count = u16::from_le_bytes(header[0x3c..0x3e].try_into().ok()?);
    Some(shoff + u64::from(entsize) * u64::from(count))
}
