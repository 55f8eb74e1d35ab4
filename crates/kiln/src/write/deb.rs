//! A Debian package of a onedir bundle (`--format deb`, `[tool.kiln.deb]`).
//!
//! The package installs the bundle as `/opt/NAME/`, links each of its executables into
//! `/usr/bin`, and with `desktop` adds a `.desktop` entry per executable (and the icon). It is
//! a plain `ar` archive of `debian-binary`, `control.tar.gz` and `data.tar.gz` (gzip, which
//! every dpkg reads), then a `_kiln` member that dpkg ignores (deb(5): members after
//! `data.tar` are ignored) and by which kiln knows a package it may replace. Entries are
//! sorted and stamped with the report's time (`SOURCE_DATE_EPOCH` when set), owned by root.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::config::DebSettings;

/// The member that marks a package kiln wrote.
const MARK: &str = "_kiln";

#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("cannot write the Debian package {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{0} exists and is not a Debian package kiln wrote; move it away or choose another \
         `deb.version`"
    )]
    NotOurs(PathBuf),
    #[error("{0}: unknown ELF machine {1}: no Debian architecture for it")]
    Architecture(PathBuf, u16),
}

/// What to package: the written bundle and the executables at its root.
pub struct DebInput<'a> {
    pub bundle_dir: &'a Path,
    pub out_dir: &'a Path,
    /// File names at the bundle root that users start (the app, or each component).
    pub executables: &'a [String],
    pub settings: &'a DebSettings,
    /// Seconds since 1970 for every entry's time.
    pub mtime: u64,
}

/// Writes `out_dir/PACKAGE_VERSION_ARCH.deb` and returns its path.
pub fn write(input: &DebInput<'_>) -> Result<PathBuf, DebError> {
    let s = input.settings;
    let first = input
        .executables
        .first()
        .map(|e| input.bundle_dir.join(e))
        .unwrap_or_else(|| input.bundle_dir.to_path_buf());
    let arch = architecture(&first)?;
    // A version's epoch (`1:`) is not part of the file name.
    let file_version = s
        .version
        .split_once(':')
        .map_or(s.version.as_str(), |(_, v)| v);
    let path = input
        .out_dir
        .join(format!("{}_{file_version}_{arch}.deb", s.package));
    if path.symlink_metadata().is_ok() && !is_kiln_deb(&path) {
        return Err(DebError::NotOurs(path));
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| DebError::Io { path: p, source }
    };
    let name = input
        .bundle_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.package.clone());
    let opt = format!("opt/{name}");

    // data.tar.gz, streamed to a temporary file: a bundle may be gigabytes.
    let mut data_file = tempfile::tempfile_in(input.out_dir).map_err(io(input.out_dir))?;
    let mut installed_bytes = 0u64;
    {
        let gz = flate2::write::GzEncoder::new(&mut data_file, flate2::Compression::new(6));
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        let mut dirs = vec![
            "./".to_string(),
            "./opt/".into(),
            "./usr/".into(),
            "./usr/bin/".into(),
        ];
        if s.desktop {
            dirs.extend(["./usr/share/".into(), "./usr/share/applications/".into()]);
        }
        let icon_dest = s.icon.as_ref().map(|icon| {
            let ext = icon
                .extension()
                .map_or("png".into(), |e| e.to_string_lossy().to_lowercase());
            if ext == "svg" {
                format!("usr/share/icons/hicolor/scalable/apps/{}.svg", s.package)
            } else {
                format!("usr/share/pixmaps/{}.png", s.package)
            }
        });
        if let Some(dest) = &icon_dest {
            let mut at = String::from(".");
            for part in Path::new(dest).parent().into_iter().flat_map(|p| p.iter()) {
                at = format!("{at}/{}", part.to_string_lossy());
                let dir = format!("{at}/");
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        for dir in &dirs {
            append_dir(&mut tar, dir, input.mtime).map_err(io(&path))?;
        }
        let mut entries: Vec<walkdir::DirEntry> = walkdir::WalkDir::new(input.bundle_dir)
            .sort_by_file_name()
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| DebError::Io {
                path: input.bundle_dir.to_path_buf(),
                source: e.into(),
            })?;
        entries.retain(|e| e.depth() > 0 || e.file_type().is_dir());
        for entry in entries {
            let rel = entry
                .path()
                .strip_prefix(input.bundle_dir)
                .unwrap_or(entry.path());
            let dest = match rel.as_os_str().is_empty() {
                true => format!("./{opt}"),
                false => format!("./{opt}/{}", rel.display()),
            };
            let meta = entry.path().symlink_metadata().map_err(io(entry.path()))?;
            if meta.is_dir() {
                append_dir(&mut tar, &format!("{dest}/"), input.mtime).map_err(io(&path))?;
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(entry.path()).map_err(io(entry.path()))?;
                tar.append_link(&mut link_header(input.mtime), &dest, &target)
                    .map_err(io(&path))?;
            } else {
                use std::os::unix::fs::PermissionsExt;
                let mode = if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                };
                let mut header = header(tar::EntryType::Regular, mode, input.mtime, meta.len());
                installed_bytes += meta.len();
                let file = std::fs::File::open(entry.path()).map_err(io(entry.path()))?;
                tar.append_data(&mut header, &dest, file)
                    .map_err(io(&path))?;
            }
        }
        for exe in input.executables {
            let mut header = link_header(input.mtime);
            tar.append_link(
                &mut header,
                format!("./usr/bin/{exe}"),
                format!("/opt/{name}/{exe}"),
            )
            .map_err(io(&path))?;
        }
        if s.desktop {
            // A suite's dispatcher (named after the bundle) lists components: not an app.
            let apps = input
                .executables
                .iter()
                .filter(|exe| input.executables.len() == 1 || **exe != name);
            for exe in apps {
                let entry = desktop_entry(s, exe);
                append_file(
                    &mut tar,
                    &format!("./usr/share/applications/{exe}.desktop"),
                    entry.as_bytes(),
                    0o644,
                    input.mtime,
                )
                .map_err(io(&path))?;
                installed_bytes += entry.len() as u64;
            }
        }
        if let (Some(icon), Some(dest)) = (&s.icon, &icon_dest) {
            let bytes = std::fs::read(icon).map_err(io(icon))?;
            installed_bytes += bytes.len() as u64;
            append_file(&mut tar, &format!("./{dest}"), &bytes, 0o644, input.mtime)
                .map_err(io(&path))?;
        }
        tar.into_inner()
            .and_then(|gz| gz.finish())
            .map_err(io(&path))?;
    }

    let control = control_file(s, arch, installed_bytes.div_ceil(1024));
    let mut control_tar = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut control_tar, flate2::Compression::new(9));
        let mut tar = tar::Builder::new(gz);
        append_dir(&mut tar, "./", input.mtime).map_err(io(&path))?;
        append_file(
            &mut tar,
            "./control",
            control.as_bytes(),
            0o644,
            input.mtime,
        )
        .map_err(io(&path))?;
        tar.into_inner()
            .and_then(|gz| gz.finish())
            .map_err(io(&path))?;
    }

    let mut out = tempfile::NamedTempFile::new_in(input.out_dir).map_err(io(input.out_dir))?;
    let mark = format!("kiln {}\n", env!("CARGO_PKG_VERSION"));
    let written = (|| -> std::io::Result<()> {
        let w = out.as_file_mut();
        w.write_all(b"!<arch>\n")?;
        ar_member(w, "debian-binary", input.mtime, &mut &b"2.0\n"[..], 4)?;
        let len = control_tar.len() as u64;
        ar_member(
            w,
            "control.tar.gz",
            input.mtime,
            &mut control_tar.as_slice(),
            len,
        )?;
        let len = data_file.stream_position()?;
        data_file.rewind()?;
        ar_member(w, "data.tar.gz", input.mtime, &mut data_file, len)?;
        ar_member(
            w,
            MARK,
            input.mtime,
            &mut mark.as_bytes(),
            mark.len() as u64,
        )?;
        w.flush()
    })();
    written.map_err(io(&path))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(io(out.path()))?;
    }
    out.persist(&path).map_err(|e| DebError::Io {
        path: path.clone(),
        source: e.error,
    })?;
    Ok(path)
}

/// One `ar` member: a 60-byte header, the bytes, a newline to an even length.
fn ar_member(
    w: &mut impl Write,
    name: &str,
    mtime: u64,
    data: &mut impl Read,
    len: u64,
) -> std::io::Result<()> {
    let header = format!(
        "{name:<16}{mtime:<12}{:<6}{:<6}{:<8}{len:<10}`\n",
        0, 0, "100644"
    );
    debug_assert_eq!(header.len(), 60);
    w.write_all(header.as_bytes())?;
    let copied = std::io::copy(&mut data.take(len), w)?;
    if copied != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "a package member changed while it was written",
        ));
    }
    if len % 2 == 1 {
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Whether `path` is an `ar` archive holding kiln's mark member.
pub fn is_kiln_deb(path: &Path) -> bool {
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut magic = [0u8; 8];
    if f.read_exact(&mut magic).is_err() || &magic != b"!<arch>\n" {
        return false;
    }
    let mut header = [0u8; 60];
    while f.read_exact(&mut header).is_ok() {
        let name = String::from_utf8_lossy(&header[..16]);
        let size: i64 = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .unwrap_or(-1);
        if size < 0 {
            return false;
        }
        if name.trim_end() == MARK {
            return true;
        }
        if f.seek(std::io::SeekFrom::Current(size + size % 2)).is_err() {
            return false;
        }
    }
    false
}

/// A tar header owned by root.
fn header(kind: tar::EntryType, mode: u32, mtime: u64, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_mtime(mtime);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    let _ = header.set_username("root");
    let _ = header.set_groupname("root");
    header
}

fn link_header(mtime: u64) -> tar::Header {
    header(tar::EntryType::Symlink, 0o777, mtime, 0)
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str, mtime: u64) -> std::io::Result<()> {
    let mut header = header(tar::EntryType::Directory, 0o755, mtime, 0);
    tar.append_data(&mut header, path, std::io::empty())
}

fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    bytes: &[u8],
    mode: u32,
    mtime: u64,
) -> std::io::Result<()> {
    let mut header = header(tar::EntryType::Regular, mode, mtime, bytes.len() as u64);
    tar.append_data(&mut header, path, bytes)
}

/// The Debian architecture of an ELF file, from its `e_machine` (and class for ARM).
fn architecture(elf: &Path) -> Result<&'static str, DebError> {
    let mut head = [0u8; 20];
    std::fs::File::open(elf)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|source| DebError::Io {
            path: elf.to_path_buf(),
            source,
        })?;
    let machine = u16::from_le_bytes([head[18], head[19]]);
    let class64 = head[4] == 2;
    Ok(match (machine, class64) {
        (62, _) => "amd64",
        (183, _) => "arm64",
        (3, _) => "i386",
        (40, false) => "armhf",
        (243, true) => "riscv64",
        (21, true) => "ppc64el",
        (22, true) => "s390x",
        (other, _) => return Err(DebError::Architecture(elf.to_path_buf(), other)),
    })
}

/// `DEBIAN/control`; a description's further lines are indented, empty ones written ` .`.
fn control_file(s: &DebSettings, arch: &str, installed_kib: u64) -> String {
    let mut lines = s.description.lines();
    let summary = lines.next().unwrap_or("").trim();
    let mut text = format!(
        "Package: {}\nVersion: {}\nArchitecture: {arch}\nMaintainer: {}\nInstalled-Size: \
         {installed_kib}\nSection: {}\nPriority: optional\n",
        s.package, s.version, s.maintainer, s.section
    );
    if !s.depends.is_empty() {
        text.push_str(&format!("Depends: {}\n", s.depends.join(", ")));
    }
    if let Some(homepage) = &s.homepage {
        text.push_str(&format!("Homepage: {homepage}\n"));
    }
    text.push_str(&format!("Description: {summary}\n"));
    for line in lines {
        match line.trim() {
            "" => text.push_str(" .\n"),
            line => text.push_str(&format!(" {line}\n")),
        }
    }
    text
}

fn desktop_entry(s: &DebSettings, exe: &str) -> String {
    let summary = s.description.lines().next().unwrap_or("").trim();
    let mut entry = format!(
        "[Desktop Entry]\nType=Application\nName={exe}\nComment={summary}\nExec=/usr/bin/{exe}\n\
         Terminal={}\nCategories={}\n",
        !s.gui, s.categories
    );
    if s.icon.is_some() {
        entry.push_str(&format!("Icon={}\n", s.package));
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DebSettings {
        DebSettings {
            package: "hello-app".into(),
            version: "1:2.0".into(),
            maintainer: "A <a@b>".into(),
            description: "Says hello\nto everyone.\n\nTwice.".into(),
            section: "utils".into(),
            homepage: Some("https://example.org".into()),
            depends: vec!["libgl1".into()],
            desktop: true,
            icon: None,
            categories: "Utility;".into(),
            gui: false,
        }
    }

    #[test]
    fn control_file_follows_debian_policy() {
        let text = control_file(&settings(), "amd64", 12);
        assert!(text.starts_with("Package: hello-app\nVersion: 1:2.0\nArchitecture: amd64\n"));
        assert!(text.contains("Installed-Size: 12\n"));
        assert!(text.contains("Depends: libgl1\n"));
        assert!(text.ends_with("Description: Says hello\n to everyone.\n .\n Twice.\n"));
    }

    #[test]
    fn a_package_is_an_ar_archive_that_kiln_recognises() {
        let tmp = tempfile::tempdir().unwrap();
        let bundle = tmp.path().join("hello");
        std::fs::create_dir_all(bundle.join("_kiln/lib")).unwrap();
        // The launcher stands in as the ELF header of this test binary.
        let mut head = [0u8; 64];
        std::fs::File::open(std::env::current_exe().unwrap())
            .and_then(|mut f| f.read_exact(&mut head))
            .unwrap();
        std::fs::write(bundle.join("hello"), head).unwrap();
        std::fs::write(bundle.join("_kiln/lib/data.txt"), "x").unwrap();
        std::os::unix::fs::symlink("data.txt", bundle.join("_kiln/lib/link")).unwrap();
        let s = settings();
        let input = DebInput {
            bundle_dir: &bundle,
            out_dir: tmp.path(),
            executables: &["hello".to_string()],
            settings: &s,
            mtime: 1_700_000_000,
        };
        let path = write(&input).unwrap();
        assert!(path.ends_with(format!(
            "hello-app_2.0_{}.deb",
            std::env::consts::ARCH
                .replace("x86_64", "amd64")
                .replace("aarch64", "arm64")
        )));
        assert!(is_kiln_deb(&path));
        let first = std::fs::read(&path).unwrap();
        // The same input gives the same bytes.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(first, std::fs::read(write(&input).unwrap()).unwrap());
        // Something else at that path is left alone.
        std::fs::write(&path, "not a package").unwrap();
        assert!(matches!(write(&input), Err(DebError::NotOurs(_))));
        assert_eq!(std::fs::read(&path).unwrap(), b"not a package");
    }
}
