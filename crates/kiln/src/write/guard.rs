//! What a build may replace: only what kiln wrote.
//!
//! A build puts its output at `DIR/NAME` (a directory, or one onefile executable) and its reports
//! beside it. Whatever is already there is replaced only when kiln wrote it:
//!
//! - a directory whose `NAME` file is a kiln executable (every onedir bundle and onefile suite has
//!   its launcher or dispatcher there), or an empty directory;
//! - a file that ends with a kiln trailer (a onefile executable);
//! - a report that kiln wrote (a build report or a CycloneDX document made by kiln).
//!
//! Anything else is an error that names the path. Independently of what is there, a destination
//! must not hold the app's sources or the target interpreter, nor lie inside the interpreter's
//! installation or one of the app's packages.

use std::path::{Path, PathBuf};

/// Why a destination is refused.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(
        "{path} exists and was not written by kiln ({what}); kiln replaces only its own bundles. \
         Move or remove it yourself, or choose another output (--out / --name)"
    )]
    NotOurs { path: PathBuf, what: &'static str },
    #[error(
        "the output {path} would replace {protected} ({role}); choose an output outside it \
         (--out / --name)"
    )]
    Contains {
        path: PathBuf,
        protected: PathBuf,
        role: &'static str,
    },
    #[error(
        "the output {path} lies inside {protected} ({role}); choose an output outside it (--out)"
    )]
    Inside {
        path: PathBuf,
        protected: PathBuf,
        role: &'static str,
    },
    #[error("cannot inspect {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A path the output must neither contain nor (for `inside`) lie within.
#[derive(Debug, Clone)]
pub struct Protected {
    pub path: PathBuf,
    pub role: &'static str,
    /// The output may not lie inside it either (the interpreter's installation, an app package).
    pub inside: bool,
}

impl Protected {
    pub fn new(path: impl Into<PathBuf>, role: &'static str, inside: bool) -> Protected {
        Protected {
            path: path.into(),
            role,
            inside,
        }
    }
}

/// Checks that no protected path lies in or around `dest` (what is at `dest` itself is for
/// [`check_replaceable`] or [`check_report`]).
pub fn check_protected(dest: &Path, protected: &[Protected]) -> Result<(), GuardError> {
    let dest_abs = absolute(dest);
    for p in protected {
        let prot = absolute(&p.path);
        if prot.starts_with(&dest_abs) {
            return Err(GuardError::Contains {
                path: dest.to_path_buf(),
                protected: p.path.clone(),
                role: p.role,
            });
        }
        if p.inside && dest_abs.starts_with(&prot) {
            return Err(GuardError::Inside {
                path: dest.to_path_buf(),
                protected: p.path.clone(),
                role: p.role,
            });
        }
    }
    Ok(())
}

/// Checks only what is at `dest`: absent, empty, or written by kiln.
pub fn check_replaceable(dest: &Path) -> Result<(), GuardError> {
    let Some(meta) = existing(dest)? else {
        return Ok(());
    };
    let not_ours = |what| GuardError::NotOurs {
        path: dest.to_path_buf(),
        what,
    };
    if meta.file_type().is_symlink() {
        return Err(not_ours("a symbolic link"));
    }
    if meta.is_file() {
        return if is_kiln_executable(dest) {
            Ok(())
        } else {
            Err(not_ours("a file without kiln's trailer"))
        };
    }
    if !meta.is_dir() {
        return Err(not_ours("not a regular file or directory"));
    }
    let mut entries = std::fs::read_dir(dest).map_err(|source| GuardError::Io {
        path: dest.to_path_buf(),
        source,
    })?;
    if entries.next().is_none() {
        return Ok(());
    }
    let launcher = dest.join(dest.file_name().unwrap_or_default());
    if is_kiln_executable(&launcher) {
        Ok(())
    } else {
        Err(not_ours(
            "a directory without a kiln launcher of the same name",
        ))
    }
}

/// Checks a report file beside the bundle: absent, or a report kiln wrote.
pub fn check_report(path: &Path) -> Result<(), GuardError> {
    let Some(meta) = existing(path)? else {
        return Ok(());
    };
    let not_ours = |what| GuardError::NotOurs {
        path: path.to_path_buf(),
        what,
    };
    if !meta.is_file() {
        return Err(not_ours("not a regular file"));
    }
    if is_kiln_document(path) {
        Ok(())
    } else {
        Err(not_ours("not a report written by kiln"))
    }
}

/// What is at `path` (not following a symbolic link), or `None` when nothing is.
fn existing(path: &Path) -> Result<Option<std::fs::Metadata>, GuardError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GuardError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A file that ends with a kiln trailer's magic.
pub fn is_kiln_executable(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = f.seek(SeekFrom::End(0)) else {
        return false;
    };
    if len < kiln_bundle::FOOTER_LEN as u64 {
        return false;
    }
    let mut footer = [0u8; kiln_bundle::FOOTER_LEN];
    f.seek(SeekFrom::Start(len - kiln_bundle::FOOTER_LEN as u64))
        .and_then(|_| f.read_exact(&mut footer))
        .is_ok()
        && footer.starts_with(kiln_bundle::MAGIC)
}

/// A JSON or HTML document that names kiln as the tool that made it: the build report's
/// `kiln_version`, the SBOM's tool component, or the report page's generator tag. Only the
/// first 64 KiB are read.
pub fn is_kiln_document(path: &Path) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = Vec::new();
    if f.take(64 * 1024).read_to_end(&mut head).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    text.contains(HTML_GENERATOR)
        || text.contains("\"kiln_version\"")
        || (text.contains("\"CycloneDX\"") && text.contains("\"name\": \"kiln\""))
}

/// The report page's generator tag, by which a later `kiln report` knows the page is its own.
pub const HTML_GENERATOR: &str = "<meta name=\"generator\" content=\"kiln\">";

fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    // Resolve what exists (symlinks included), keep the rest as written.
    let mut existing = joined.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return normalize(&out);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return normalize(&joined),
        }
    }
}

fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_empty_destinations_are_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_replaceable(&dir.path().join("nothing")).is_ok());
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        assert!(check_replaceable(&dir.path().join("empty")).is_ok());
    }

    #[test]
    fn foreign_files_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("mylib");
        std::fs::create_dir(&pkg).unwrap();
        std::fs::write(pkg.join("__init__.py"), "").unwrap();
        let err = check_replaceable(&pkg).unwrap_err().to_string();
        assert!(err.contains("was not written by kiln"), "{err}");
        let script = dir.path().join("app.py");
        std::fs::write(&script, "print(1)\n").unwrap();
        assert!(check_replaceable(&script).is_err());
        std::os::unix::fs::symlink(&script, dir.path().join("link")).unwrap();
        assert!(check_replaceable(&dir.path().join("link")).is_err());
    }

    #[test]
    fn kiln_executables_and_bundles_are_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"\x7fELF launcher".to_vec();
        bytes.extend_from_slice(&kiln_bundle::Trailer::new(vec![]).encode());
        let exe = dir.path().join("app");
        std::fs::write(&exe, &bytes).unwrap();
        assert!(check_replaceable(&exe).is_ok());
        let bundle = dir.path().join("bundle");
        std::fs::create_dir(&bundle).unwrap();
        std::fs::write(bundle.join("bundle"), &bytes).unwrap();
        std::fs::write(bundle.join("other"), "x").unwrap();
        assert!(check_replaceable(&bundle).is_ok());
    }

    #[test]
    fn an_output_holding_or_inside_protected_paths_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("proj");
        std::fs::create_dir_all(project.join("src")).unwrap();
        let protected = [
            Protected::new(project.join("src/main.py"), "the entry script", false),
            Protected::new(dir.path().join("venv"), "the interpreter's prefix", true),
        ];
        let err = check_protected(&project, &protected).unwrap_err();
        assert!(matches!(err, GuardError::Contains { .. }), "{err}");
        let err = check_protected(&dir.path().join("venv/lib/app"), &protected).unwrap_err();
        assert!(matches!(err, GuardError::Inside { .. }), "{err}");
        assert!(check_protected(&project.join("dist/app"), &protected).is_ok());
        // `..` in the path is resolved before comparing.
        let sneaky = project.join("dist/../..").join("proj");
        assert!(check_protected(&sneaky, &protected).is_err());
    }

    #[test]
    fn reports_are_replaced_only_when_kiln_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("a.build-report.json");
        std::fs::write(&ours, "{\n  \"kiln_version\": \"0.1.0\"\n}").unwrap();
        assert!(check_report(&ours).is_ok());
        let theirs = dir.path().join("b.build-report.json");
        std::fs::write(&theirs, "{\"mine\": 1}").unwrap();
        assert!(check_report(&theirs).is_err());
        assert!(check_report(&dir.path().join("absent.json")).is_ok());
    }
}
