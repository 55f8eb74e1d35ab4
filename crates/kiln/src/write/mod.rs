//! [`Collection`] -> a bundle on disk.
//!
//! Everything is written into a private staging directory beside the destination and swapped
//! into place only when complete, so an interrupted or failed build leaves the previous bundle
//! untouched. The onedir layout:
//!
//! ```text
//! DIR/NAME/NAME                      the launcher (app mode)
//! DIR/NAME/_kiln/                    the runtime prefix (sys.prefix)
//!   bin/python3.X                    the interpreter, RPATH $ORIGIN/../lib
//!   bin/python                       the launcher in python mode (sys.executable)
//!   lib/                             bundled shared libraries (libpython, libffi, ...)
//!   lib/python3.X/                   standard library bytecode, lib-dynload/, boot script
//!   lib/python3.X/site-packages/     the app and its third-party packages, with dist-info
//! ```
//!
//! A onefile build (`onefile.rs`) populates the same `_kiln/` and packs it into the single
//! executable `DIR/NAME`.

pub mod archive;
mod elfpatch;
pub mod guard;
mod onefile;
mod strip;
mod upx;

pub use onefile::write_onefile;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::collect::Collection;
use kiln_bundle::{keys, Trailer};

/// The launcher executable, built with its own size-first profile.
pub const LAUNCHER: &[u8] = include_bytes!(env!("KILN_LAUNCHER_BIN"));

/// The runtime directory name inside a onedir bundle.
pub const RUNTIME_DIR: &str = "_kiln";

/// Errors writing the bundle.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy {from} to {to}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot adjust the library search path of {path}: {message}")]
    Patch { path: PathBuf, message: String },
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    #[error("a onefile executable starts one app, not {0}")]
    OnefileLaunchers(usize),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What to write.
pub struct WriteInput<'a> {
    pub collection: &'a Collection,
    pub out_dir: &'a Path,
    pub name: &'a str,
    /// Executables to create at the bundle root: (file name, component).
    pub launchers: &'a [(String, String)],
    /// Serve pure-Python modules from the module archive (`archive.rs`).
    pub archive: bool,
    /// The UPX program that compresses native files (`upx.rs`), if asked for.
    pub upx: Option<&'a Path>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct WriteOutput {
    pub bundle_dir: PathBuf,
    pub executables: Vec<PathBuf>,
    pub files: usize,
    /// Size of the bundle's files as they are run.
    pub bytes: u64,
    /// Size of the onefile executable (None for onedir).
    pub onefile_bytes: Option<u64>,
    /// Every file of the bundle as it is run, relative to its root (for onefile, the unpacked
    /// directory), with its size as written.
    pub sizes: Vec<(PathBuf, u64)>,
    /// Non-fatal findings (native files that could not be stripped).
    pub warnings: Vec<String>,
    /// The module archive, relative to the bundle root, when there is one. In `sizes` it
    /// counts its header and index; each module it holds is listed under the path it stands
    /// for (its `__file__`), with its stored size, and named in `archived`.
    pub archive: Option<PathBuf>,
    pub archived: Vec<PathBuf>,
}

/// Writes a onedir bundle to `out_dir/name`, replacing any previous one atomically.
pub fn write_onedir(input: &WriteInput<'_>) -> Result<WriteOutput, WriteError> {
    std::fs::create_dir_all(input.out_dir).map_err(io_err(input.out_dir))?;
    let final_dir = input.out_dir.join(input.name);
    guard::check_replaceable(&final_dir)?;
    remove_stale_staging(input.out_dir, input.name);
    let staging = staging_dir(input.out_dir, input.name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    let result = populate(&staging, input);
    let output = match result {
        Ok(o) => o,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    swap_into_place(&staging, &final_dir)?;
    Ok(WriteOutput {
        bundle_dir: final_dir.clone(),
        executables: output
            .executables
            .iter()
            .map(|e| final_dir.join(e.strip_prefix(&staging).unwrap_or(e)))
            .collect(),
        ..output
    })
}

/// This process's private directory beside `out_dir/name`; `remove_stale_staging` knows the name.
/// The name is short whatever `name` is (a hash of it), so that it fits where `name` fits.
fn staging_dir(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(format!(
        "{}{}-{}",
        staging_prefix(name),
        "new",
        std::process::id()
    ))
}

/// `.kiln-<hash of name>-`: what every temporary name of a build of `name` starts with.
fn staging_prefix(name: &str) -> String {
    format!(".kiln-{}-", &blake3::hash(name.as_bytes()).to_hex()[..16])
}

fn populate(staging: &Path, input: &WriteInput<'_>) -> Result<WriteOutput, WriteError> {
    let c = input.collection;
    let runtime = staging.join(RUNTIME_DIR);
    std::fs::create_dir_all(&runtime).map_err(io_err(&runtime))?;
    let plan = input.archive.then(|| archive::plan(c));
    let archived: std::collections::HashSet<usize> = plan
        .as_ref()
        .map(|p| p.code.iter().copied().collect())
        .unwrap_or_default();
    let mut dirs: Vec<PathBuf> = c
        .files
        .iter()
        .filter_map(|f| f.dest.parent().map(|p| runtime.join(p)))
        .chain(c.dirs.iter().map(|d| runtime.join(d)))
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        std::fs::create_dir_all(d).map_err(io_err(d))?;
    }
    let warnings = std::sync::Mutex::new(Vec::new());
    c.files.par_iter().enumerate().try_for_each(|(i, f)| {
        if archived.contains(&i) {
            return Ok(());
        }
        let to = runtime.join(&f.dest);
        std::fs::copy(&f.source, &to).map_err(|source| WriteError::Copy {
            from: f.source.clone(),
            to: to.clone(),
            source,
        })?;
        if let Some(fix) = &f.rpath_fix {
            // A library the ELF editor cannot rewrite (some CUDA libraries) ships as it was,
            // with the search path it came with: its neighbours in the same package still
            // find each other through `$ORIGIN`.
            if let Err(e) = elfpatch::apply(&to, fix) {
                std::fs::copy(&f.source, &to).map_err(|source| WriteError::Copy {
                    from: f.source.clone(),
                    to: to.clone(),
                    source,
                })?;
                warnings.lock().unwrap().push(format!(
                    "{} keeps its own library search path: {e}",
                    f.dest.display()
                ));
            }
        }
        if f.strip {
            // A file that cannot be rewritten ships as it was.
            if let Err(e) = strip::strip(&to) {
                warnings
                    .lock()
                    .unwrap()
                    .push(format!("{} was not stripped: {e}", f.dest.display()));
            }
        }
        if let Some(warning) = input.upx.and_then(|upx| upx::compress(upx, f, &to)) {
            warnings.lock().unwrap().push(warning);
        }
        Ok::<(), WriteError>(())
    })?;
    let mut warnings = warnings.into_inner().unwrap();
    warnings.sort();
    // Archived modules are listed under the paths they stand for, with their stored size.
    let mut stored = std::collections::HashMap::new();
    let mut generated = Vec::new();
    if let Some(plan) = &plan {
        let path = runtime.join(archive::location(c));
        let (members, own) = archive::write(&path, c, plan).map_err(io_err(&path))?;
        stored.extend(members);
        generated.push((path.clone(), Some(own)));
        // `site` runs this line in every interpreter of the bundle, also one started through
        // `sys.executable` without the boot script: it installs the archive's finder.
        let pth = runtime.join(&c.app_root).join(archive::PTH_NAME);
        std::fs::create_dir_all(runtime.join(&c.app_root)).map_err(io_err(&pth))?;
        std::fs::write(&pth, "import _kiln_boot\n").map_err(io_err(&pth))?;
        generated.push((pth, None));
    }

    // The interpreter front (`sys.executable`).
    let python_front = runtime.join(&c.executable);
    write_launcher(&python_front, &settings("python", "..", c, input.name))?;
    let mut executables = Vec::new();
    for (file_name, component) in input.launchers {
        let exe = staging.join(file_name);
        write_launcher(&exe, &settings("app", RUNTIME_DIR, c, component))?;
        executables.push(exe);
    }
    normalize_modes(staging)?;
    let sizes: Vec<(PathBuf, u64)> = c
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (runtime.join(&f.dest), stored.get(&i).copied()))
        .chain(generated.iter().cloned())
        .chain(std::iter::once((python_front, None)))
        .chain(executables.iter().map(|e| (e.clone(), None)))
        .map(|(path, stored)| {
            let size = stored.unwrap_or_else(|| std::fs::metadata(&path).map_or(0, |m| m.len()));
            let rel = path.strip_prefix(staging).unwrap_or(&path).to_path_buf();
            (rel, size)
        })
        .collect();
    Ok(WriteOutput {
        bundle_dir: staging.to_path_buf(),
        executables,
        files: sizes.len(),
        bytes: sizes.iter().map(|(_, size)| size).sum(),
        onefile_bytes: None,
        sizes,
        warnings,
        archive: plan
            .as_ref()
            .map(|_| PathBuf::from(RUNTIME_DIR).join(archive::location(c))),
        archived: archived
            .iter()
            .map(|&i| PathBuf::from(RUNTIME_DIR).join(&c.files[i].dest))
            .collect(),
    })
}

/// Gives every directory mode 0755 and every file 0755 or 0644 (by whether anyone may execute
/// it), whatever the umask and the modes of the files copied in: the same inputs make the same
/// bundle, modes included.
fn normalize_modes(root: &Path) -> Result<(), WriteError> {
    use std::os::unix::fs::PermissionsExt;
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.map_err(|e| WriteError::Io {
            path: root.to_path_buf(),
            source: e.into(),
        })?;
        let ft = entry.file_type();
        if ft.is_symlink() {
            continue;
        }
        let path = entry.path();
        let meta = entry.metadata().map_err(|e| WriteError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let mode = if ft.is_dir() || meta.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        if meta.permissions().mode() & 0o7777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(io_err(path))?;
        }
    }
    Ok(())
}

/// Launcher settings of a bundle without payload: `mode` is `app` (a onedir executable) or
/// `python` (the interpreter front); `runtime` is the prefix relative to the executable's
/// directory. The onefile writer turns them into its modes.
fn settings(mode: &str, runtime: &str, c: &Collection, component: &str) -> kiln_bundle::Settings {
    let mode = match mode {
        "app" => kiln_bundle::Mode::App,
        "python" => kiln_bundle::Mode::Python,
        other => panic!("no launcher {} `{other}` without a payload", keys::MODE),
    };
    kiln_bundle::Settings {
        mode,
        runtime: runtime.to_string(),
        interpreter: c.interpreter.to_string_lossy().into_owned(),
        executable: c.executable.to_string_lossy().into_owned(),
        boot: c.boot.to_string_lossy().into_owned(),
        component: component.to_string(),
    }
}

/// Writes the launcher with `settings` (and no payload) to `path`, executable.
fn write_launcher(path: &Path, settings: &kiln_bundle::Settings) -> Result<(), WriteError> {
    use std::os::unix::fs::PermissionsExt;
    let trailer: Trailer = settings.to_trailer(0);
    let mut bytes = LAUNCHER.to_vec();
    bytes.extend_from_slice(&trailer.encode());
    std::fs::write(path, &bytes).map_err(io_err(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io_err(path))
}

/// Puts `staging` at `final_dir`: an atomic exchange when something is already there, and only
/// when kiln wrote what is there (`guard`).
fn swap_into_place(staging: &Path, final_dir: &Path) -> Result<(), WriteError> {
    guard::check_replaceable(final_dir)?;
    if std::fs::symlink_metadata(final_dir).is_err() {
        return std::fs::rename(staging, final_dir).map_err(io_err(final_dir));
    }
    if exchange(staging, final_dir).is_ok() {
        // `staging` now holds the previous bundle.
        let _ = remove_any(staging);
        return Ok(());
    }
    // No RENAME_EXCHANGE (old kernel or file system): move the old one aside first.
    let aside = final_dir.with_file_name(format!(
        "{}old-{}",
        staging_prefix(&final_dir.file_name().unwrap_or_default().to_string_lossy()),
        std::process::id()
    ));
    std::fs::rename(final_dir, &aside).map_err(io_err(final_dir))?;
    if let Err(e) = std::fs::rename(staging, final_dir) {
        let _ = std::fs::rename(&aside, final_dir);
        return Err(io_err(final_dir)(e));
    }
    let _ = remove_any(&aside);
    Ok(())
}

fn remove_any(path: &Path) -> std::io::Result<()> {
    if path.is_dir() && !path.is_symlink() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // The system call rather than glibc's wrapper, which glibc has only since 2.28: kiln itself
    // is meant to run on older systems (built for glibc 2.17, see README's Portability).
    // SAFETY: both paths are valid NUL-terminated strings; renameat2 does not retain them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Removes staging directories left by builds that were killed (their process is gone).
fn remove_stale_staging(out_dir: &Path, name: &str) {
    let Ok(read) = std::fs::read_dir(out_dir) else {
        return;
    };
    let prefix = staging_prefix(name);
    for entry in read.filter_map(|e| e.ok()) {
        let file_name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest
            .strip_prefix("old-")
            .or_else(|| rest.strip_prefix("new-"))
            .unwrap_or(rest);
        let alive = pid
            .parse::<u32>()
            .map(|p| Path::new(&format!("/proc/{p}")).exists())
            .unwrap_or(false);
        if !alive {
            let _ = remove_any(&entry.path());
        }
    }
}

#[cfg(test)]
mod launcher_tests {
    /// Every bundle carries the launcher: it must add nothing to a bundle's glibc floor beyond
    /// what libpython needs on any system kiln targets (glibc 2.17, manylinux2014).
    #[test]
    fn the_launcher_needs_glibc_2_17_at_most() {
        assert_eq!(
            env!("KILN_LAUNCHER_GLIBC"),
            "2.17",
            "the launcher was built without cargo-zigbuild (scripts/test installs it)"
        );
        let elf = crate::installed::elf::parse_elf(super::LAUNCHER).expect("the launcher is ELF");
        let needed = elf.glibc.expect("the launcher links glibc");
        assert!(
            needed <= (2, 17),
            "the launcher needs GLIBC_{}.{}",
            needed.0,
            needed.1
        );
    }
}
