//! Analysis results kept between runs: a file whose size and modification time are unchanged
//! is not read or parsed again. One cache per interpreter environment, kept in a few files.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::{Deserialize, Serialize};

use crate::analyse::FileImports;

/// What was learnt from one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CachedAnalysis {
    Source(FileImports),
    Compiled(CompiledImports),
}

/// What an extension module imports, as far as its binary tells.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompiledImports {
    /// Module names found in the binary.
    pub names: Vec<String>,
    /// The imports of the source it was compiled from, when that ships beside it.
    pub source: Option<FileImports>,
    /// The binary hides its strings, so that what it imports cannot all be seen.
    pub hides_strings: bool,
    /// Runs of its strings read end to end, which may hold dotted module names
    /// ([`crate::analyse::compiled::CompiledNames::joined_runs`]).
    pub joined_runs: Vec<String>,
    /// Bare module names that may be whole strings of those runs: a guess.
    pub joined_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: i64,
    /// Facts the analysis depended on besides the file: module name, package-ness, and for
    /// extension modules the sibling modules searched for.
    context: String,
    /// Shared with the resolver, which reads it once or twice per run.
    analysis: Arc<CachedAnalysis>,
}

/// Cached analyses, shared by the analysis threads.
#[derive(Debug, Default)]
pub struct AnalysisCache {
    file: Option<PathBuf>,
    /// Keyed by the path's bytes (hashing a `Path` walks its components).
    entries: Mutex<HashMap<OsString, Entry>>,
    /// Entries already checked against their file in this run: a build resolves twice (the
    /// second time without optional integrations), and files do not change while kiln runs.
    checked: Mutex<HashSet<OsString>>,
    dirty: AtomicBool,
}

fn identity(path: &Path) -> Option<(u64, i64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.mtime() * 1_000_000_000 + meta.mtime_nsec()))
}

impl AnalysisCache {
    /// A cache that remembers nothing (for tests and one-off runs).
    pub fn disabled() -> Self {
        AnalysisCache::default()
    }

    /// Loads the cache stored at `file` (an unreadable or stale-format file is ignored). It is
    /// kept in [`SHARDS`] files beside `file`, decoded in parallel, in a compact binary form
    /// (postcard): a developer's venv gives thousands of entries, and decoding them as JSON was
    /// a fifth of a warm run's instructions.
    pub fn load(file: PathBuf) -> Self {
        use rayon::prelude::*;
        let entries = (0..SHARDS)
            .into_par_iter()
            .map(|i| {
                std::fs::read(shard(&file, i))
                    .ok()
                    .and_then(|bytes| postcard::from_bytes::<Vec<(PathBuf, Entry)>>(&bytes).ok())
                    .unwrap_or_default()
            })
            .flatten()
            .map(|(path, entry): (PathBuf, Entry)| (path.into_os_string(), entry))
            .collect();
        AnalysisCache {
            file: Some(file),
            entries: Mutex::new(entries),
            checked: Mutex::default(),
            dirty: AtomicBool::new(false),
        }
    }

    /// The cached analysis of `path`, if the file is unchanged and the context matches.
    pub fn get(&self, path: &Path, context: &str) -> Option<Arc<CachedAnalysis>> {
        let key = path.as_os_str();
        if self.checked.lock().unwrap().contains(key) {
            let entries = self.entries.lock().unwrap();
            let e = entries.get(key)?;
            return (e.context == context).then(|| e.analysis.clone());
        }
        let (size, mtime_ns) = identity(path)?;
        let entries = self.entries.lock().unwrap();
        let e = entries.get(key)?;
        let hit = (e.size == size && e.mtime_ns == mtime_ns && e.context == context)
            .then(|| e.analysis.clone());
        if hit.is_some() {
            self.checked.lock().unwrap().insert(key.to_owned());
        }
        hit
    }

    pub fn put(&self, path: &Path, context: &str, analysis: Arc<CachedAnalysis>) {
        if self.file.is_none() {
            return;
        }
        let Some((size, mtime_ns)) = identity(path) else {
            return;
        };
        self.entries.lock().unwrap().insert(
            path.as_os_str().to_owned(),
            Entry {
                size,
                mtime_ns,
                context: context.to_string(),
                analysis,
            },
        );
        self.checked
            .lock()
            .unwrap()
            .insert(path.as_os_str().to_owned());
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Writes the cache back if anything changed, each shard atomically (a temporary file, then
    /// rename). Shards written by different runs may mix: every entry checks its own file.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if !self.dirty.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut shards: Vec<Vec<(&Path, &Entry)>> = vec![Vec::new(); SHARDS];
        let entries = self.entries.lock().unwrap();
        // Paths are kept as UTF-8; a file with another name is analysed every time.
        for (path, entry) in entries.iter().filter(|(k, _)| k.to_str().is_some()) {
            let path = Path::new(path);
            shards[shard_of(path)].push((path, entry));
        }
        for (i, mut entries) in shards.into_iter().enumerate() {
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let target = shard(file, i);
            let tmp = target.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(
                &tmp,
                postcard::to_stdvec(&entries).map_err(std::io::Error::other)?,
            )?;
            std::fs::rename(&tmp, target)?;
        }
        Ok(())
    }
}

/// How many files the cache is kept in.
const SHARDS: usize = 8;

/// The file of shard `i` of the cache kept at `file` (`NAME.bin` -> `NAME.i.bin`).
fn shard(file: &Path, i: usize) -> PathBuf {
    file.with_extension(format!("{i}.bin"))
}

/// Which shard keeps `path`: by a hash of its bytes that does not change between runs.
fn shard_of(path: &Path) -> usize {
    let hash = blake3::hash(path.as_os_str().as_encoded_bytes());
    hash.as_bytes()[0] as usize % SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_save_and_go_stale_when_the_file_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let source = tmp.path().join("m.py");
        std::fs::write(&source, "import os\n").unwrap();
        let store = tmp.path().join("cache/analysis.bin");
        let cache = AnalysisCache::load(store.clone());
        // Every kind of fact a file gives survives the binary form.
        let facts = crate::analyse::analyse_source(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/analyse/computed_names.py"
            ))
            .unwrap(),
            crate::analyse::SourceContext {
                module: "computed_names",
                is_package: false,
                platform: "linux",
                version: [3, 12, 0],
            },
        )
        .unwrap();
        assert!(!facts.imports.is_empty() && !facts.dynamic.is_empty());
        let analysis = CachedAnalysis::Compiled(CompiledImports {
            names: vec!["a.b".into()],
            source: Some(facts),
            hides_strings: true,
            joined_runs: vec!["xa.b".into()],
            joined_names: vec!["c".into()],
        });
        let analysis = Arc::new(analysis);
        cache.put(&source, "m", analysis.clone());
        let empty = tmp.path().join("empty.py");
        std::fs::write(&empty, "").unwrap();
        let nothing = Arc::new(CachedAnalysis::Source(FileImports::default()));
        cache.put(&empty, "empty", nothing.clone());
        cache.save().unwrap();

        let again = AnalysisCache::load(store.clone());
        assert_eq!(again.get(&source, "m"), Some(analysis));
        assert_eq!(again.get(&empty, "empty"), Some(nothing));
        assert_eq!(again.get(&source, "other-context"), None);
        std::fs::write(&source, "import os, sys\n").unwrap();
        assert_eq!(
            AnalysisCache::load(store).get(&source, "m"),
            None,
            "a changed file is analysed again by the next run"
        );
    }
}
