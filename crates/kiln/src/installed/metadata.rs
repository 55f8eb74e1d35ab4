//! Distribution metadata: which installed distribution owns which file (from `RECORD`, or
//! `top_level.txt` for legacy `.egg-info`), so that bundling a module also ships its
//! `*.dist-info` and `importlib.metadata` keeps working.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// One installed distribution found on the search path.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    pub name: String,
    pub version: String,
    /// The `*.dist-info` or `*.egg-info` directory.
    pub metadata_dir: PathBuf,
    /// Index of the search entry it was found in.
    pub entry: usize,
    /// Its licence: from `License-Expression`, `License` or classifiers, else its licence files.
    pub license: Option<crate::installed::license::License>,
    /// Top-level import names it provides.
    pub top_level: Vec<String>,
    /// Its `Requires-Dist` entries.
    pub requires: Vec<Requirement>,
    /// Bytes of the files its RECORD lists (as installed).
    pub installed_bytes: u64,
}

/// One PEP 508 requirement, reduced to what decides whether it is installed with its
/// dependent: the name, the extras it asks for, and the extras its marker depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// Normalised distribution name.
    pub name: String,
    pub extras: Vec<String>,
    /// The `extra == "x"` names in its marker: empty when it is always required (other
    /// marker clauses, such as `python_version`, are taken as true).
    pub when_extras: Vec<String>,
}

impl Requirement {
    /// Parses `name[extra,...] (>= 1.0); marker`. Returns None for lines that name nothing.
    pub fn parse(text: &str) -> Option<Requirement> {
        let (spec, marker) = text.split_once(';').unwrap_or((text, ""));
        let spec = spec.trim();
        let end = spec
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(spec.len());
        let name = &spec[..end];
        if name.is_empty() {
            return None;
        }
        let rest = spec[end..].trim_start();
        let extras = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(inside, _)| {
                inside
                    .split(',')
                    .map(|e| normalize_dist_name(e.trim()))
                    .filter(|e| !e.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut when_extras = Vec::new();
        let mut m = marker;
        while let Some(at) = m.find("extra") {
            let after = m[at + 5..].trim_start();
            m = &m[at + 5..];
            let Some(after) = after.strip_prefix("==") else {
                continue;
            };
            let after = after.trim_start();
            let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            if let Some((value, _)) = after[1..].split_once(quote) {
                when_extras.push(normalize_dist_name(value));
            }
        }
        Some(Requirement {
            name: normalize_dist_name(name),
            extras,
            when_extras,
        })
    }
}

/// Whether a distribution holds GPU code only: NVIDIA's CUDA library wheels (`nvidia-*`) and
/// triton, the GPU kernel compiler torch uses. What `cpu-only` leaves out.
pub fn is_gpu_distribution(name: &str) -> bool {
    let name = normalize_dist_name(name);
    name.starts_with("nvidia-") || name == "triton" || name.starts_with("pytorch-triton")
}

/// Owner lookup for files on the search path.
#[derive(Debug, Default)]
pub struct DistIndex {
    pub distributions: Vec<Distribution>,
    /// Keyed by the normalized path's bytes: hashing a `Path` walks its components, and the
    /// index holds every file of a developer's venv.
    by_file: HashMap<OsString, usize>,
    by_top_level: HashMap<(usize, String), usize>,
    /// Normalized distribution name -> the distributions of that name.
    by_name: HashMap<String, Vec<usize>>,
}

impl DistIndex {
    /// [`DistIndex::scan`] once per process for the same directories: resolving, finding
    /// optional integrations and collecting all ask, and the installed files do not change
    /// while kiln runs.
    pub fn shared(dirs: &[(PathBuf, usize)]) -> std::sync::Arc<DistIndex> {
        use std::sync::{Arc, Mutex, OnceLock};
        type Scans = Mutex<HashMap<Vec<(PathBuf, usize)>, Arc<DistIndex>>>;
        static SCANS: OnceLock<Scans> = OnceLock::new();
        let scans = SCANS.get_or_init(Default::default);
        if let Some(found) = scans.lock().ok().and_then(|s| s.get(dirs).cloned()) {
            return found;
        }
        let index = Arc::new(DistIndex::scan(dirs));
        if let Ok(mut scans) = scans.lock() {
            scans.insert(dirs.to_vec(), index.clone());
        }
        index
    }

    /// The distributions whose normalized name is `name` (see [`normalize_dist_name`]).
    pub fn named(&self, name: &str) -> &[usize] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// Scans the given site directories (`(dir, entry index)`). Distributions are read in
    /// parallel (a developer's venv holds hundreds, with a RECORD of thousands of lines each),
    /// then indexed in directory order.
    pub fn scan(dirs: &[(PathBuf, usize)]) -> DistIndex {
        use rayon::prelude::*;
        let mut found: Vec<(&Path, usize, PathBuf)> = Vec::new();
        for (dir, entry) in dirs {
            let Ok(read) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<PathBuf> = read
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x == "dist-info" || x == "egg-info")
                })
                .collect();
            names.sort();
            found.extend(names.into_iter().map(|p| (dir.as_path(), *entry, p)));
        }
        let read: Vec<Option<(Distribution, Vec<PathBuf>)>> = found
            .par_iter()
            .map(|(dir, entry, path)| read_distribution(dir, *entry, path))
            .collect();
        let mut index = DistIndex::default();
        let files: usize = read.iter().flatten().map(|(_, files)| files.len()).sum();
        index.by_file.reserve(files);
        for (dist, files) in read.into_iter().flatten() {
            let id = index.distributions.len();
            for file in files {
                index.by_file.entry(file.into_os_string()).or_insert(id);
            }
            for t in &dist.top_level {
                index
                    .by_top_level
                    .entry((dist.entry, t.clone()))
                    .or_insert(id);
            }
            index
                .by_name
                .entry(normalize_dist_name(&dist.name))
                .or_default()
                .push(id);
            index.distributions.push(dist);
        }
        index
    }

    /// The files the RECORD of `dist` lists, sorted.
    pub fn files_of(&self, dist: usize) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .by_file
            .iter()
            .filter(|(_, &d)| d == dist)
            .map(|(f, _)| PathBuf::from(f))
            .collect();
        out.sort();
        out
    }

    /// The distribution that installed `file` (found in search entry `entry` as module
    /// `module`), by its RECORD or else by its top-level name.
    pub fn owner(&self, file: &Path, entry: usize, module: Option<&str>) -> Option<usize> {
        if let Some(&id) = self.by_file.get(normalize(file).as_os_str()) {
            return Some(id);
        }
        let top = module?.split('.').next()?;
        self.by_top_level.get(&(entry, top.to_string())).copied()
    }
}

/// One `*.dist-info` or `*.egg-info` directory in site directory `dir`: the distribution and
/// the files its RECORD lists. None if it is not a directory.
fn read_distribution(
    dir: &Path,
    entry: usize,
    path: &Path,
) -> Option<(Distribution, Vec<PathBuf>)> {
    if !path.is_dir() {
        return None;
    }
    let file_name = path.file_name()?.to_string_lossy().to_string();
    let is_dist = file_name.ends_with(".dist-info");
    let meta_file = path.join(if is_dist { "METADATA" } else { "PKG-INFO" });
    let meta = std::fs::read_to_string(&meta_file).unwrap_or_default();
    let (name, version) = parse_metadata(&meta);
    let license = crate::installed::license::detect(&meta, path);
    let mut top_level: Vec<String> = std::fs::read_to_string(path.join("top_level.txt"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let mut installed_bytes = 0;
    let mut files = Vec::new();
    if let Ok(record) = std::fs::read_to_string(path.join("RECORD")) {
        let guess_top_level = top_level.is_empty();
        for line in record.lines() {
            let rel = record_path(line);
            if rel.is_empty() {
                continue;
            }
            installed_bytes += line
                .rsplit(',')
                .next()
                .and_then(|size| size.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let file = normalize(&dir.join(rel));
            if guess_top_level {
                // Most RECORD lines name a file inside `dir` plainly; only the others (scripts
                // in `../../../bin`) need the path arithmetic.
                let plain = Path::new(rel);
                let inside = if is_normal(plain) && !rel.starts_with('/') {
                    Ok(plain)
                } else {
                    file.strip_prefix(dir)
                };
                if let Ok(inside) = inside {
                    if let Some(Component::Normal(first)) = inside.components().next() {
                        let first = first.to_string_lossy();
                        let module = first.split('.').next().unwrap_or("").to_string();
                        if !module.is_empty() && !first.ends_with("-info") {
                            top_level.push(module);
                        }
                    }
                }
            }
            files.push(file);
        }
    }
    top_level.sort();
    top_level.dedup();
    let name = if name.is_empty() {
        file_name.split('-').next().unwrap_or("").to_string()
    } else {
        name
    };
    let requires = meta
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("Requires-Dist:"))
        .filter_map(Requirement::parse)
        .collect();
    Some((
        Distribution {
            name,
            version,
            metadata_dir: path.to_path_buf(),
            entry,
            license,
            top_level,
            requires,
            installed_bytes,
        },
        files,
    ))
}

/// The path field of a RECORD line (CSV; quoted when it contains a comma).
fn record_path(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('"') {
        rest.split('"').next().unwrap_or("")
    } else {
        line.split(',').next().unwrap_or("")
    }
}

fn parse_metadata(text: &str) -> (String, String) {
    let (mut name, mut version) = (String::new(), String::new());
    for line in text.lines() {
        if line.is_empty() {
            break; // headers end at the first blank line; the description follows
        }
        if let Some(v) = line.strip_prefix("Name: ") {
            name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("Version: ") {
            version = v.trim().to_string();
        }
    }
    (name, version)
}

/// Lexical normalisation (`a/b/../c` -> `a/c`), as RECORD paths may climb out of site-packages.
pub fn normalize(path: &Path) -> PathBuf {
    if is_normal(path) {
        return path.to_path_buf();
    }
    normalize_components(path)
}

/// [`normalize`] the long way, walking every component.
fn normalize_components(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether [`normalize`] would return `path` unchanged: no `.` or `..` component, no empty one
/// (`a//b`, a trailing `/`). Checked on the bytes, without walking components.
fn is_normal(path: &Path) -> bool {
    let bytes = path.as_os_str().as_bytes();
    let body = bytes.strip_prefix(b"/").unwrap_or(bytes);
    !body.is_empty()
        && body
            .split(|&b| b == b'/')
            .all(|part| !part.is_empty() && part != b"." && part != b"..")
}

/// PEP 503 normalisation: `Foo_Bar.baz` and `foo-bar-baz` name the same distribution.
pub fn normalize_dist_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_come_from_record_and_top_level() {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("site");
        let di = site.join("demo_pkg-1.2.3.dist-info");
        std::fs::create_dir_all(&di).unwrap();
        std::fs::write(
            di.join("METADATA"),
            "Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.2.3\nLicense: MIT\n\nLicense: not a header\n",
        )
        .unwrap();
        std::fs::write(
            di.join("RECORD"),
            "demo/__init__.py,sha256=x,10\n\"demo/a,b.txt\",,\n../../bin/demo,,\ndemo_pkg-1.2.3.dist-info/RECORD,,\n",
        )
        .unwrap();
        let egg = site.join("legacy-0.1.egg-info");
        std::fs::create_dir_all(&egg).unwrap();
        std::fs::write(egg.join("PKG-INFO"), "Name: legacy\nVersion: 0.1\n").unwrap();
        std::fs::write(egg.join("top_level.txt"), "legacy_mod\n").unwrap();

        let index = DistIndex::scan(&[(site.clone(), 3)]);
        assert_eq!(index.distributions.len(), 2);
        let demo = index
            .owner(&site.join("demo/__init__.py"), 3, Some("demo"))
            .unwrap();
        assert_eq!(index.distributions[demo].name, "demo-pkg");
        assert_eq!(index.distributions[demo].version, "1.2.3");
        assert_eq!(
            index.distributions[demo]
                .license
                .as_ref()
                .map(|l| (l.text.as_str(), l.spdx)),
            Some(("MIT", true))
        );
        assert_eq!(index.owner(&site.join("demo/a,b.txt"), 3, None), Some(demo));
        // Files RECORD does not list fall back to the top-level name.
        assert_eq!(
            index.owner(&site.join("demo/other.py"), 3, Some("demo.other")),
            Some(demo)
        );
        let legacy = index
            .owner(&site.join("legacy_mod.py"), 3, Some("legacy_mod"))
            .unwrap();
        assert_eq!(index.distributions[legacy].name, "legacy");
        assert_eq!(
            index.owner(&site.join("nobody.py"), 3, Some("nobody")),
            None
        );
        // A path spelled another way names the same file.
        assert_eq!(
            index.owner(&site.join("x/../demo/./a,b.txt"), 3, None),
            Some(demo)
        );
    }

    proptest::proptest! {
        /// The byte check that skips the component walk never changes what `normalize` gives.
        #[test]
        fn normalize_without_the_walk_agrees_with_the_walk(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["a", "bc", ".", "..", "", ".d", "e..", "f.g"]),
                0..6,
            ),
            absolute in proptest::bool::ANY,
        ) {
            let text = format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"));
            let path = Path::new(&text);
            proptest::prop_assert_eq!(normalize(path), normalize_components(path));
        }
    }

    #[test]
    fn requirements() {
        let r = Requirement::parse("scipy>=1.10.0; extra == \"computation\"").unwrap();
        assert_eq!(r.name, "scipy");
        assert_eq!(r.when_extras, ["computation"]);
        let r = Requirement::parse("Uvicorn[Standard] (>=0.12)").unwrap();
        assert_eq!(
            (r.name.as_str(), r.extras.as_slice()),
            ("uvicorn", &["standard".to_string()][..])
        );
        assert!(r.when_extras.is_empty());
        let r = Requirement::parse(
            "numpy>=1.23; python_version < '3.11' or extra == 'all' or extra=='Test_Suite'",
        )
        .unwrap();
        assert_eq!(r.when_extras, ["all", "test-suite"]);
        assert!(Requirement::parse("; extra == 'x'").is_none());
    }
}
