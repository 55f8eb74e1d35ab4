//! Module name -> file, in the order CPython's `PathFinder` and `FileFinder` use.
//!
//! For each directory of the search path, in order: a regular package (`name/__init__` with any
//! loader suffix) wins, then a module file (`name` + suffix, extension modules first, then source,
//! then bytecode); a bare directory `name/` is remembered as a namespace portion and the search
//! goes on. Only when no directory has a concrete module do the portions form a namespace package.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// What a search path directory holds, which decides where its modules go in the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// The application's own directory (the entry script's, `sys.path[0]`).
    App,
    /// The standard library's pure-Python directory.
    Stdlib,
    /// The standard library's extension modules (`lib-dynload`).
    Dynload,
    /// site-packages and anything else on `sys.path`.
    Site,
}

/// One directory of the search path.
#[derive(Debug, Clone, Serialize)]
pub struct SearchEntry {
    pub dir: PathBuf,
    pub kind: EntryKind,
}

/// The loader that would load a module file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Extension,
    Source,
    Bytecode,
}

/// A directory to search, tagged with the search entry it belongs to.
pub type Location = (PathBuf, usize);

/// Result of a search for one name.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    Module {
        path: PathBuf,
        kind: FileKind,
        entry: usize,
    },
    Package {
        init: PathBuf,
        kind: FileKind,
        dir: PathBuf,
        entry: usize,
    },
    Namespace {
        portions: Vec<Location>,
    },
}

/// The names in each directory read so far (None: it cannot be listed), keyed by the
/// directory's bytes (hashing a `Path` walks its components).
type Listings = HashMap<std::ffi::OsString, Option<Arc<Listing>>>;

/// What a directory holds: its names, with the type the directory read gave for each (a
/// symbolic link, or a file system that does not say, is asked with `stat` when it matters).
#[derive(Debug, Default)]
pub struct Listing {
    names: HashMap<String, EntryType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryType {
    File,
    Dir,
    /// A symbolic link or an unknown type: `stat` follows it when asked.
    Other,
}

impl Listing {
    fn read(dir: &Path) -> Option<Listing> {
        let names = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let kind = match e.file_type() {
                    Ok(t) if t.is_file() => EntryType::File,
                    Ok(t) if t.is_dir() => EntryType::Dir,
                    _ => EntryType::Other,
                };
                Some((e.file_name().into_string().ok()?, kind))
            })
            .collect();
        Some(Listing { names })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// The names, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.names.keys()
    }

    /// The names of `dir`'s subdirectories (after links).
    pub fn subdirectories<'l>(&'l self, dir: &'l Path) -> impl Iterator<Item = &'l String> + 'l {
        self.names.keys().filter(move |n| self.is_dir(dir, n))
    }

    /// Whether `dir/name` is a regular file (after links), as `os.path.isfile` says.
    fn is_file(&self, dir: &Path, name: &str) -> bool {
        match self.names.get(name) {
            Some(EntryType::File) => true,
            Some(EntryType::Other) => dir.join(name).is_file(),
            _ => false,
        }
    }

    /// Whether `dir/name` is a directory (after links), as `os.path.isdir` says.
    fn is_dir(&self, dir: &Path, name: &str) -> bool {
        match self.names.get(name) {
            Some(EntryType::Dir) => true,
            Some(EntryType::Other) => dir.join(name).is_dir(),
            _ => false,
        }
    }
}

/// Searches directories with cached listings, like `FileFinder`'s path cache. A clone shares
/// the listings (directories do not change while kiln runs).
#[derive(Clone)]
pub struct Finder {
    suffixes: Vec<(String, FileKind)>,
    listings: Arc<Mutex<Listings>>,
}

impl Finder {
    /// A finder for the given suffixes (each list in the interpreter's own order).
    pub fn new(extension: &[String], source: &[String], bytecode: &[String]) -> Self {
        let mut suffixes = Vec::new();
        suffixes.extend(extension.iter().map(|s| (s.clone(), FileKind::Extension)));
        suffixes.extend(source.iter().map(|s| (s.clone(), FileKind::Source)));
        suffixes.extend(bytecode.iter().map(|s| (s.clone(), FileKind::Bytecode)));
        Finder {
            suffixes,
            listings: Arc::default(),
        }
    }

    /// The names in `dir`, or `None` when it cannot be listed.
    pub fn listing(&self, dir: &Path) -> Option<Arc<Listing>> {
        if let Some(cached) = self.listings.lock().unwrap().get(dir.as_os_str()) {
            return cached.clone();
        }
        let listing = Listing::read(dir).map(Arc::new);
        self.listings
            .lock()
            .unwrap()
            .insert(dir.as_os_str().to_owned(), listing.clone());
        listing
    }

    /// Whether `file` is a module file by its suffix, and which loader it needs.
    pub fn module_file_kind<'n>(&self, file_name: &'n str) -> Option<(&'n str, FileKind)> {
        self.suffixes.iter().find_map(|(suffix, kind)| {
            file_name
                .strip_suffix(suffix.as_str())
                .filter(|stem| !stem.is_empty() && !stem.contains('.'))
                .map(|stem| (stem, *kind))
        })
    }

    /// Finds `name` (one component, no dots) in `locations`, in order.
    pub fn find(&self, name: &str, locations: &[Location]) -> Option<Found> {
        let mut portions = Vec::new();
        let mut file_name = String::with_capacity(name.len() + 48);
        for (dir, entry) in locations {
            let Some(listing) = self.listing(dir) else {
                continue;
            };
            if listing.is_dir(dir, name) {
                let pkg_dir = dir.join(name);
                if let Some(inside) = self.listing(&pkg_dir) {
                    for (suffix, kind) in &self.suffixes {
                        file_name.clear();
                        file_name.push_str("__init__");
                        file_name.push_str(suffix);
                        if inside.is_file(&pkg_dir, &file_name) {
                            let init = pkg_dir.join(&file_name);
                            return Some(Found::Package {
                                init,
                                kind: *kind,
                                dir: pkg_dir,
                                entry: *entry,
                            });
                        }
                    }
                }
                portions.push((pkg_dir, *entry));
            }
            for (suffix, kind) in &self.suffixes {
                file_name.clear();
                file_name.push_str(name);
                file_name.push_str(suffix);
                if listing.is_file(dir, &file_name) {
                    return Some(Found::Module {
                        path: dir.join(&file_name),
                        kind: *kind,
                        entry: *entry,
                    });
                }
            }
        }
        (!portions.is_empty()).then_some(Found::Namespace { portions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finder() -> Finder {
        Finder::new(
            &[
                ".cpython-311-x86_64-linux-gnu.so".into(),
                ".abi3.so".into(),
                ".so".into(),
            ],
            &[".py".into()],
            &[".pyc".into()],
        )
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn follows_cpython_precedence() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        // In `a`: a namespace portion `ns`, a module `m.py` shadowed by a package `m/`,
        // an extension that beats a source file.
        std::fs::create_dir_all(a.join("ns")).unwrap();
        touch(&a.join("m.py"));
        touch(&a.join("m/__init__.py"));
        touch(&a.join("fast.py"));
        touch(&a.join("fast.cpython-311-x86_64-linux-gnu.so"));
        touch(&a.join("compiled.pyc"));
        touch(&a.join("bad.name.py"));
        // In `b`: a concrete `later` module beats the namespace portion in `a`, and another
        // portion of `ns`.
        std::fs::create_dir_all(a.join("later")).unwrap();
        touch(&b.join("later.py"));
        std::fs::create_dir_all(b.join("ns")).unwrap();
        let locs = vec![(a.clone(), 0), (b.clone(), 1)];
        let f = finder();

        assert!(matches!(
            f.find("m", &locs),
            Some(Found::Package {
                kind: FileKind::Source,
                entry: 0,
                ..
            })
        ));
        assert_eq!(
            f.find("fast", &locs),
            Some(Found::Module {
                path: a.join("fast.cpython-311-x86_64-linux-gnu.so"),
                kind: FileKind::Extension,
                entry: 0
            })
        );
        assert!(matches!(
            f.find("compiled", &locs),
            Some(Found::Module {
                kind: FileKind::Bytecode,
                ..
            })
        ));
        assert_eq!(
            f.find("later", &locs),
            Some(Found::Module {
                path: b.join("later.py"),
                kind: FileKind::Source,
                entry: 1
            })
        );
        assert_eq!(
            f.find("ns", &locs),
            Some(Found::Namespace {
                portions: vec![(a.join("ns"), 0), (b.join("ns"), 1)]
            })
        );
        assert_eq!(f.find("missing", &locs), None);
        assert_eq!(f.find("bad", &locs), None);
    }

    #[test]
    fn links_count_as_what_they_point_to() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        let site = tmp.path().join("site");
        touch(&real.join("pkg/__init__.py"));
        touch(&real.join("mod.py"));
        std::fs::create_dir_all(real.join("dir.py")).unwrap();
        std::fs::create_dir_all(&site).unwrap();
        let link = |to: &str, name: &str| {
            std::os::unix::fs::symlink(real.join(to), site.join(name)).unwrap()
        };
        link("pkg", "pkg");
        link("mod.py", "mod.py");
        link("gone.py", "dangling.py");
        // A directory named like a module file is not one, linked or not.
        link("dir.py", "dir.py");
        let locs = vec![(site.clone(), 0)];
        let f = finder();
        assert_eq!(
            f.find("pkg", &locs),
            Some(Found::Package {
                init: site.join("pkg/__init__.py"),
                kind: FileKind::Source,
                dir: site.join("pkg"),
                entry: 0
            })
        );
        assert_eq!(
            f.find("mod", &locs),
            Some(Found::Module {
                path: site.join("mod.py"),
                kind: FileKind::Source,
                entry: 0
            })
        );
        assert_eq!(f.find("dangling", &locs), None);
        assert_eq!(f.find("dir", &locs), None);
    }

    #[test]
    fn extension_package_init_and_abi3() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        touch(&d.join("pkg/__init__.abi3.so"));
        touch(&d.join("mod.abi3.so"));
        let f = finder();
        let locs = vec![(d.clone(), 0)];
        assert!(matches!(
            f.find("pkg", &locs),
            Some(Found::Package {
                kind: FileKind::Extension,
                ..
            })
        ));
        assert!(matches!(
            f.find("mod", &locs),
            Some(Found::Module {
                kind: FileKind::Extension,
                ..
            })
        ));
        assert_eq!(
            f.module_file_kind("x.cpython-311-x86_64-linux-gnu.so"),
            Some(("x", FileKind::Extension))
        );
        assert_eq!(f.module_file_kind("x.py"), Some(("x", FileKind::Source)));
        assert_eq!(f.module_file_kind("x.txt"), None);
    }
}
