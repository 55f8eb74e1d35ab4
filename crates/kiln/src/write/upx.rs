//! Optional UPX compression of bundled native files (`upx = true` / `--upx`), applied to the
//! staged copies after their search paths are fixed and they are stripped.
//!
//! Extension modules and shared libraries are compressed with `upx --best`; the interpreter
//! executable is not, and neither are the files UPX is known to break:
//!
//! - libpython: UPX-compressed shared libraries, libpython among them, crash when `dlopen`ed on
//!   recent Linux distributions (the reason PyInstaller turned UPX off outside Windows), and
//!   every bundle's start depends on it;
//! - Qt plugins: Qt finds a plugin by the `QTMETADATA` block in its file, which UPX compresses
//!   away (PyInstaller skips files containing that string for the same reason).
//!
//! A file UPX cannot pack, or packs with an error, ships as it was, with a warning; a file it
//! finds not worth compressing ships as it was, silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::collect::{BundleFile, FileRole};

/// Compresses `staged`, the bundle's copy of `f`, with the UPX program `upx` when `f` is a file
/// UPX may compress. Returns a warning when UPX failed; the file is then left as it was.
pub(super) fn compress(upx: &Path, f: &BundleFile, staged: &Path) -> Option<String> {
    if !wanted(f) {
        return None;
    }
    match try_compress(upx, staged) {
        Ok(()) => None,
        Err(Failure::Skipped) => None,
        Err(Failure::Failed(message)) => Some(format!(
            "{} was not compressed with UPX (it ships as it was): {message}",
            f.dest.display()
        )),
    }
}

/// Extension modules and shared libraries (those that ship as package data too, such as a
/// wheel's vendored Qt), less libpython; Qt plugins are found by content.
fn wanted(f: &BundleFile) -> bool {
    let name = f.dest.file_name().unwrap_or_default().to_string_lossy();
    let shared_library = match f.role {
        FileRole::Extension | FileRole::NativeLibrary => true,
        FileRole::Data => name.ends_with(".so") || name.contains(".so."),
        _ => false,
    };
    f.elf.is_some() && shared_library && !name.starts_with("libpython")
}

enum Failure {
    /// Nothing to gain or not applicable (already packed, not compressible, a Qt plugin).
    Skipped,
    Failed(String),
}

fn try_compress(upx: &Path, staged: &Path) -> Result<(), Failure> {
    let failed = |e: std::io::Error| Failure::Failed(e.to_string());
    let bytes = std::fs::read(staged).map_err(failed)?;
    if memchr::memmem::find(&bytes, b"QTMETADATA").is_some() {
        return Err(Failure::Skipped);
    }
    drop(bytes);
    let name = staged.file_name().unwrap_or_default().to_string_lossy();
    let packed: PathBuf = staged.with_file_name(format!(".{name}.kiln-upx"));
    let _ = std::fs::remove_file(&packed);
    let output = Command::new(upx)
        .args(["--best", "-q", "-o"])
        .arg(&packed)
        .arg(staged)
        .output()
        .map_err(|e| Failure::Failed(format!("cannot run {}: {e}", upx.display())))?;
    if !output.status.success() || !packed.is_file() {
        let _ = std::fs::remove_file(&packed);
        let text = String::from_utf8_lossy(&output.stderr).to_string()
            + &String::from_utf8_lossy(&output.stdout);
        if text.contains("NotCompressibleException") || text.contains("AlreadyPackedException") {
            return Err(Failure::Skipped);
        }
        let message = text
            .lines()
            .map(str::trim)
            .find(|l| l.contains("Exception") || l.starts_with("upx:"))
            .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
            .map(str::to_string)
            .unwrap_or_else(|| format!("upx exited with {}", output.status));
        return Err(Failure::Failed(message));
    }
    let keep = || -> std::io::Result<()> {
        let permissions = std::fs::metadata(staged)?.permissions();
        std::fs::set_permissions(&packed, permissions)?;
        std::fs::rename(&packed, staged)
    };
    keep().map_err(|e| {
        let _ = std::fs::remove_file(&packed);
        Failure::Failed(e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dest: &str, role: FileRole, elf: bool) -> BundleFile {
        BundleFile {
            dest: PathBuf::from(dest),
            source: PathBuf::new(),
            origin: PathBuf::new(),
            role,
            module: None,
            distribution: None,
            why: String::new(),
            elf: elf.then(crate::collect::ElfInfo::default),
            rpath_fix: None,
            strip: false,
            gpu: false,
        }
    }

    /// A stand-in for `upx` that logs its arguments and copies the input to `-o`'s file with a
    /// marker, or fails as told by the input's content.
    fn fake_upx(dir: &Path) -> PathBuf {
        let path = dir.join("upx");
        std::fs::write(
            &path,
            "#!/bin/sh\n\
             echo \"$@\" >> \"$(dirname \"$0\")/log\"\n\
             case \"$(cat \"$5\")\" in\n\
             *boom*) echo 'upx: x.so: CantPackException: need DT_INIT' >&2; printf junk > \"$4\"; exit 1;;\n\
             *tiny*) echo 'upx: x.so: NotCompressibleException' >&2; exit 2;;\n\
             esac\n\
             { cat \"$5\"; echo packed; } > \"$4\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn compresses_extensions_and_libraries_and_keeps_the_original_on_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let upx = fake_upx(tmp.path());
        let staged = |name: &str, text: &str| {
            let p = tmp.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };

        let ext = staged("x.so", "code");
        let f = file("lib/x.so", FileRole::Extension, true);
        assert_eq!(compress(&upx, &f, &ext), None);
        assert_eq!(std::fs::read_to_string(&ext).unwrap(), "codepacked\n");
        assert_eq!(
            std::fs::metadata(&ext).unwrap().permissions().mode() & 0o777,
            0o755
        );

        let bad = staged("bad.so", "boom");
        let f = file("lib/bad.so", FileRole::NativeLibrary, true);
        let warning = compress(&upx, &f, &bad).unwrap();
        assert!(warning.contains("lib/bad.so"), "{warning}");
        assert!(warning.contains("CantPackException"), "{warning}");
        assert_eq!(
            std::fs::read_to_string(&bad).unwrap(),
            "boom",
            "the original ships"
        );

        let tiny = staged("tiny.so", "tiny");
        let f = file("lib/tiny.so", FileRole::NativeLibrary, true);
        assert_eq!(compress(&upx, &f, &tiny), None, "not worth it: no warning");
        assert_eq!(std::fs::read_to_string(&tiny).unwrap(), "tiny");

        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".kiln-upx"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn leaves_out_libpython_qt_plugins_the_interpreter_and_non_elf_files() {
        let tmp = tempfile::tempdir().unwrap();
        let upx = fake_upx(tmp.path());
        let cases = [
            (
                "lib/libpython3.11.so.1.0",
                FileRole::NativeLibrary,
                true,
                "x",
            ),
            ("bin/python3.11", FileRole::Interpreter, true, "x"),
            ("site/data.bin", FileRole::Data, false, "x"),
            ("site/m.pyc", FileRole::Module, false, "x"),
            (
                "site/PyQt6/Qt6/plugins/platforms/libqxcb.so",
                FileRole::Data,
                true,
                "QTMETADATA",
            ),
            (
                "site/PyQt6/Qt6/libexec/QtWebEngineProcess",
                FileRole::Data,
                true,
                "x",
            ),
            (
                "site/PyQt6/Qt6/plugins/imageformats/libqjpeg.so",
                FileRole::NativeLibrary,
                true,
                "..QTMETADATA..",
            ),
        ];
        for (i, (dest, role, elf, text)) in cases.iter().enumerate() {
            let staged = tmp.path().join(format!("f{i}"));
            std::fs::write(&staged, text).unwrap();
            assert_eq!(compress(&upx, &file(dest, *role, *elf), &staged), None);
            assert_eq!(&std::fs::read_to_string(&staged).unwrap(), text, "{dest}");
        }
        assert!(!tmp.path().join("log").exists(), "upx never ran");
    }
}
