//! `kiln cache`: the copies that onefile executables unpacked into this user's cache (where it
//! is and what makes an entry are defined in `kiln_bundle::cache`, shared with the launcher):
//! list them, remove them.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use kiln_bundle::cache::{self as layout, EntryState, Marker, Work};

use crate::report::human_bytes;

/// Errors reading or cleaning the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("there is no onefile cache directory: set {} or HOME", layout::DIR_ENV)]
    NoDir,
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One unpacked onefile app.
#[derive(Debug, Clone, Serialize)]
pub struct CacheEntry {
    /// The first 32 hex digits of the payload's SHA-256 (the directory name).
    pub hash: String,
    pub path: PathBuf,
    /// The app that unpacked it, from its marker.
    pub app: Option<String>,
    pub bytes: u64,
    /// When an executable last started from it (seconds since the Unix epoch).
    pub last_used: Option<u64>,
    /// `ok`, `incomplete` (never run; replaced on the next start) or `unsafe: WHY` (never run).
    pub state: String,
}

/// What is in the cache.
#[derive(Debug, Clone, Serialize)]
pub struct CacheListing {
    pub dir: PathBuf,
    /// Most recently used first.
    pub entries: Vec<CacheEntry>,
    /// Work directories of unpacks that were interrupted.
    pub leftovers: Vec<PathBuf>,
}

/// Which entries `clean` removes.
#[derive(Debug, Clone, Copy)]
pub enum CleanFilter {
    All,
    /// Entries not used for this long.
    OlderThan(Duration),
}

/// What `clean` did.
#[derive(Debug, Clone, Serialize)]
pub struct Cleaned {
    pub dir: PathBuf,
    pub removed: Vec<CacheEntry>,
    pub kept: usize,
    /// Leftover work directories removed.
    pub leftovers: usize,
    /// Entries that could not be removed, with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

/// The cache directory, as the launcher finds it.
pub fn dir() -> Result<PathBuf, CacheError> {
    layout::base_dir().ok_or(CacheError::NoDir)
}

/// Lists the entries in `dir` (an empty list when it does not exist).
pub fn list(dir: &Path) -> Result<CacheListing, CacheError> {
    let mut listing = CacheListing {
        dir: dir.to_path_buf(),
        entries: Vec::new(),
        leftovers: Vec::new(),
    };
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
        Err(source) => {
            return Err(CacheError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for dirent in read.filter_map(|e| e.ok()) {
        let file_name = dirent.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if layout::is_entry_name(file_name) {
            if let Some(entry) = describe(file_name, &dirent.path()) {
                listing.entries.push(entry);
            }
        } else if let Some((_, pid)) = layout::parse_work_name(file_name) {
            if !process_alive(pid) {
                listing.leftovers.push(dirent.path());
            }
        }
    }
    listing
        .entries
        .sort_by(|a, b| (b.last_used, &a.hash).cmp(&(a.last_used, &b.hash)));
    listing.leftovers.sort();
    Ok(listing)
}

fn describe(hash: &str, path: &Path) -> Option<CacheEntry> {
    let state = match layout::entry_state(path).ok()? {
        EntryState::Missing => return None,
        EntryState::Trusted => "ok".to_string(),
        EntryState::Incomplete => "incomplete".to_string(),
        EntryState::Unsafe(why) => format!("unsafe: {why}"),
    };
    let marker_path = path.join(layout::MARKER);
    let marker = std::fs::read_to_string(&marker_path)
        .ok()
        .map(|text| Marker::decode(&text));
    // The launcher touches the marker on every start; an entry without one was last changed
    // when its unpack stopped.
    let last_used = std::fs::metadata(&marker_path)
        .or_else(|_| std::fs::metadata(path))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let bytes = match &marker {
        Some(m) if m.bytes > 0 => m.bytes,
        _ => tree_size(path),
    };
    Some(CacheEntry {
        hash: hash.to_string(),
        path: path.to_path_buf(),
        app: marker.map(|m| m.app).filter(|a| !a.is_empty()),
        bytes,
        last_used,
        state,
    })
}

fn tree_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the entries `filter` selects, and what interrupted unpacks left.
///
/// An entry is renamed away before it is deleted, so that an executable starting meanwhile
/// finds either the whole entry or none (and unpacks again); an entry being unpacked right now
/// (its lock is held) is skipped.
pub fn clean(dir: &Path, filter: CleanFilter, now: SystemTime) -> Result<Cleaned, CacheError> {
    let listing = list(dir)?;
    let mut cleaned = Cleaned {
        dir: dir.to_path_buf(),
        removed: Vec::new(),
        kept: 0,
        leftovers: 0,
        failed: Vec::new(),
    };
    let cutoff = match filter {
        CleanFilter::All => None,
        CleanFilter::OlderThan(age) => Some(
            now.checked_sub(age)
                .unwrap_or(UNIX_EPOCH)
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
    };
    for entry in listing.entries {
        let selected = match cutoff {
            None => true,
            Some(cutoff) => entry.last_used.is_none_or(|used| used < cutoff),
        };
        if !selected {
            cleaned.kept += 1;
            continue;
        }
        match remove_entry(dir, &entry.hash) {
            Ok(()) => cleaned.removed.push(entry),
            Err(why) => cleaned.failed.push((entry.path, why)),
        }
    }
    for leftover in listing.leftovers {
        if std::fs::remove_dir_all(&leftover).is_ok() {
            cleaned.leftovers += 1;
        }
    }
    remove_unused_locks(dir);
    Ok(cleaned)
}

fn remove_entry(dir: &Path, name: &str) -> Result<(), String> {
    let lock_path = dir.join(layout::lock_name(name));
    let lock = File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .ok();
    if let Some(lock) = &lock {
        if let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
            return Err("an executable is unpacking it right now".into());
        }
    }
    let aside = dir.join(layout::work_name(name, Work::Removed, std::process::id()));
    std::fs::rename(dir.join(name), &aside).map_err(|e| e.to_string())?;
    std::fs::remove_dir_all(&aside).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&lock_path);
    Ok(())
}

/// Lock files whose entry is gone and that nobody holds.
fn remove_unused_locks(dir: &Path) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for dirent in read.filter_map(|e| e.ok()) {
        let file_name = dirent.file_name();
        let Some(name) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.strip_suffix(".lock"))
        else {
            continue;
        };
        if !layout::is_entry_name(name) || dir.join(name).exists() {
            continue;
        }
        let unused = File::open(dirent.path()).is_ok_and(|f| f.try_lock().is_ok());
        if unused {
            let _ = std::fs::remove_file(dirent.path());
        }
    }
}

impl CacheListing {
    /// A table of the entries, most recently used first.
    pub fn render(&self, now: SystemTime) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "onefile cache {}", self.dir.display());
        if self.entries.is_empty() {
            let _ = writeln!(s, "  no unpacked apps");
        } else {
            let _ = writeln!(
                s,
                "  {:<32}  {:>10}  {:<14}  APP",
                "HASH", "SIZE", "LAST USED"
            );
        }
        for e in &self.entries {
            let mut app = e.app.clone().unwrap_or_else(|| "?".into());
            if e.state != "ok" {
                let _ = write!(app, " ({})", e.state);
            }
            let _ = writeln!(
                s,
                "  {:<32}  {:>10}  {:<14}  {app}",
                e.hash,
                human_bytes(e.bytes),
                e.last_used.map_or("?".into(), |t| ago(now, t)),
            );
        }
        let total: u64 = self.entries.iter().map(|e| e.bytes).sum();
        let _ = write!(
            s,
            "{} {}, {}",
            self.entries.len(),
            if self.entries.len() == 1 {
                "entry"
            } else {
                "entries"
            },
            human_bytes(total)
        );
        if !self.leftovers.is_empty() {
            let _ = write!(
                s,
                "; {} left by interrupted unpacks (`kiln cache clean` removes them)",
                self.leftovers.len()
            );
        }
        s.push('\n');
        s
    }
}

impl Cleaned {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let bytes: u64 = self.removed.iter().map(|e| e.bytes).sum();
        let _ = write!(
            s,
            "removed {} of {} unpacked apps ({}) from {}",
            self.removed.len(),
            self.removed.len() + self.kept + self.failed.len(),
            human_bytes(bytes),
            self.dir.display()
        );
        if self.leftovers > 0 {
            let _ = write!(s, ", and {} leftovers", self.leftovers);
        }
        s.push('\n');
        for (path, why) in &self.failed {
            let _ = writeln!(s, "  kept {}: {why}", path.display());
        }
        s
    }
}

/// `just now`, `5 minutes ago`, `3 hours ago`, `12 days ago`.
fn ago(now: SystemTime, then: u64) -> String {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let secs = now.saturating_sub(then);
    let (n, unit) = match secs {
        0..60 => return "just now".into(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn make_entry(dir: &Path, name: &str, app: &str) -> PathBuf {
        let entry = dir.join(name);
        std::fs::create_dir_all(entry.join("_kiln/bin")).unwrap();
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(entry.join("_kiln/bin/python3.11"), vec![0u8; 1000]).unwrap();
        let marker = Marker {
            app: app.into(),
            bytes: 1000,
            files: 1,
        };
        std::fs::write(entry.join(layout::MARKER), marker.encode()).unwrap();
        entry
    }

    #[test]
    fn list_and_clean() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = "0123456789abcdef0123456789abcdef";
        let new = "fedcba9876543210fedcba9876543210";
        make_entry(dir, old, "old-app");
        make_entry(dir, new, "new-app");
        let week_ago = SystemTime::now() - Duration::from_secs(7 * 86_400);
        File::options()
            .write(true)
            .open(dir.join(old).join(layout::MARKER))
            .unwrap()
            .set_modified(week_ago)
            .unwrap();
        // A dead process's work directory and a stray lock.
        std::fs::create_dir(dir.join(layout::work_name(old, Work::Unpack, u32::MAX - 1))).unwrap();
        std::fs::write(dir.join(layout::lock_name(old)), "").unwrap();

        let listing = list(dir).unwrap();
        let apps: Vec<_> = listing
            .entries
            .iter()
            .map(|e| e.app.clone().unwrap())
            .collect();
        assert_eq!(apps, ["new-app", "old-app"]);
        assert!(listing
            .entries
            .iter()
            .all(|e| e.state == "ok" && e.bytes == 1000));
        assert_eq!(listing.leftovers.len(), 1);
        let text = listing.render(SystemTime::now());
        assert!(text.contains(old) && text.contains("7 days ago"), "{text}");

        let week = Duration::from_secs(3 * 86_400);
        let cleaned = clean(dir, CleanFilter::OlderThan(week), SystemTime::now()).unwrap();
        assert_eq!(cleaned.removed.len(), 1);
        assert_eq!(cleaned.removed[0].hash, old);
        assert_eq!((cleaned.kept, cleaned.leftovers), (1, 1));
        let names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [new], "only the recent entry is left");

        let cleaned = clean(dir, CleanFilter::All, SystemTime::now()).unwrap();
        assert_eq!(cleaned.removed.len(), 1);
        assert!(list(dir).unwrap().entries.is_empty());
        assert!(list(&dir.join("missing")).unwrap().entries.is_empty());
    }

    #[test]
    fn ages() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(ago(now, 1_000_000 - 5), "just now");
        assert_eq!(ago(now, 1_000_000 - 120), "2 minutes ago");
        assert_eq!(ago(now, 1_000_000 - 3600), "1 hour ago");
        assert_eq!(ago(now, 1_000_000 - 3 * 86_400), "3 days ago");
    }
}
