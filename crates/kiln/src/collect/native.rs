//! Native code: resolve `DT_NEEDED` the way the dynamic loader does (`DT_RPATH` unless
//! `DT_RUNPATH` is present, then `DT_RUNPATH`, the loader cache, the default directories), with
//! `$ORIGIN` expanded against each object's real location.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use crate::installed::elf::{is_elf, parse_elf, read_elf, ElfInfo};

/// Libraries that are part of every Linux system a bundle runs on and must come from it: the
/// glibc family (tied to the kernel interface and each other), the C++ and GCC runtime (shared
/// with other system libraries loaded later), and graphics drivers (tied to the machine's GPU).
/// This follows the manylinux policies' list of libraries a wheel may assume.
const SYSTEM_LIBRARY_PREFIXES: &[&str] = &[
    "ld-linux",
    "libc.so",
    "libm.so",
    "libdl.so",
    "librt.so",
    "libpthread.so",
    "libutil.so",
    "libresolv.so",
    "libnsl.so",
    "libanl.so",
    "libBrokenLocale.so",
    "libnss_",
    "libthread_db.so",
    "libmvec.so",
    "libc_malloc_debug.so",
    "libgcc_s.so",
    "libstdc++.so",
    "libGL.so",
    "libGLX",
    "libGLdispatch.so",
    "libEGL.so",
    "libOpenGL.so",
    "libGLESv",
    "libvulkan.so",
    "libdrm.so",
    "libgbm.so",
    "libcuda.so",
    "libnvidia-",
    "libX11.so",
    "libXext.so",
    "libXrender.so",
    "libICE.so",
    "libSM.so",
    "libglib-2.0.so",
    "libgobject-2.0.so",
    "libgthread-2.0.so",
];

/// Whether `soname` is never bundled (see [`SYSTEM_LIBRARY_PREFIXES`]).
pub fn is_system_library(soname: &str) -> bool {
    let base = soname.rsplit('/').next().unwrap_or(soname);
    SYSTEM_LIBRARY_PREFIXES.iter().any(|p| base.starts_with(p))
}

/// Resolves library names as the dynamic loader of this machine would.
#[derive(Default)]
pub struct LibraryResolver {
    cache: OnceLock<HashMap<String, Vec<PathBuf>>>,
}

/// The dynamic loader's default directories for an object of `info`'s machine: Debian's
/// multiarch directory for that machine, then the `lib64` (64-bit objects) and `lib`
/// directories.
pub fn default_dirs(info: &ElfInfo) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(triple) = multiarch(info.machine) {
        dirs.push(PathBuf::from(format!("/lib/{triple}")));
        dirs.push(PathBuf::from(format!("/usr/lib/{triple}")));
    }
    if info.is_64 {
        dirs.extend(["/lib64", "/usr/lib64"].map(PathBuf::from));
    }
    dirs.extend(["/lib", "/usr/lib"].map(PathBuf::from));
    dirs
}

/// Debian's multiarch triple for an ELF machine (`e_machine`).
fn multiarch(machine: u16) -> Option<&'static str> {
    use goblin::elf::header::{EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64};
    Some(match machine {
        EM_X86_64 => "x86_64-linux-gnu",
        EM_AARCH64 => "aarch64-linux-gnu",
        EM_386 => "i386-linux-gnu",
        EM_ARM => "arm-linux-gnueabihf",
        EM_PPC64 => "powerpc64le-linux-gnu",
        EM_S390 => "s390x-linux-gnu",
        EM_RISCV => "riscv64-linux-gnu",
        _ => return None,
    })
}

impl LibraryResolver {
    /// Finds `needed` for the object at `object_path` (its real location) described by `info`.
    /// `inherited` holds the `DT_RPATH` directories of the objects that loaded this one, which
    /// the loader also searches when this object has no `DT_RUNPATH` (see [`inherited_rpath`]).
    pub fn resolve(
        &self,
        needed: &str,
        object_path: &Path,
        info: &ElfInfo,
        inherited: &[PathBuf],
    ) -> Option<PathBuf> {
        if needed.contains('/') {
            let p = PathBuf::from(needed);
            return p.is_file().then_some(p);
        }
        let origin = object_path.parent().unwrap_or(Path::new("/"));
        let matches = |p: &Path| p.is_file() && arch_matches(p, info);
        let search = |dirs: &[String]| {
            dirs.iter()
                .map(|d| expand_origin(d, origin).join(needed))
                .find(|p| matches(p))
        };
        if info.runpath.is_empty() {
            if let Some(p) = search(&info.rpath) {
                return Some(p);
            }
            if let Some(p) = inherited
                .iter()
                .map(|d| d.join(needed))
                .find(|p| matches(p))
            {
                return Some(p);
            }
        }
        if let Some(p) = search(&info.runpath) {
            return Some(p);
        }
        if let Some(paths) = self.ld_cache().get(needed) {
            if let Some(p) = paths.iter().find(|p| matches(p)) {
                return Some(p.clone());
            }
        }
        default_dirs(info)
            .iter()
            .map(|d| d.join(needed))
            .find(|p| matches(p))
    }

    fn ld_cache(&self) -> &HashMap<String, Vec<PathBuf>> {
        self.cache.get_or_init(read_ld_cache)
    }
}

/// The `DT_RPATH` directories the dependencies of an object inherit: its own (when it has no
/// `DT_RUNPATH`), then those it inherited from the object that loaded it. This is the
/// loader's search up the chain of loading objects.
pub fn inherited_rpath(
    object_path: &Path,
    info: &ElfInfo,
    from_loader: &[PathBuf],
) -> Vec<PathBuf> {
    if !info.runpath.is_empty() {
        return Vec::new();
    }
    let origin = object_path.parent().unwrap_or(Path::new("/"));
    info.rpath
        .iter()
        .map(|d| expand_origin(d, origin))
        .chain(from_loader.iter().cloned())
        .collect()
}

fn expand_origin(dir: &str, origin: &Path) -> PathBuf {
    let o = origin.to_string_lossy();
    PathBuf::from(dir.replace("$ORIGIN", &o).replace("${ORIGIN}", &o))
}

fn arch_matches(path: &Path, info: &ElfInfo) -> bool {
    use std::io::Read;
    let mut header = [0u8; 20];
    if std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_err()
    {
        return false;
    }
    if &header[..4] != b"\x7fELF" {
        return false;
    }
    let is_64 = header[4] == 2;
    let machine = u16::from_le_bytes([header[18], header[19]]);
    is_64 == info.is_64 && (info.machine == 0 || machine == info.machine)
}

/// The loader cache as `ldconfig -p` prints it: `libfoo.so.1 (libc6,x86-64) => /path`.
fn read_ld_cache() -> HashMap<String, Vec<PathBuf>> {
    let mut map: HashMap<String, Vec<PathBuf>> = HashMap::new();
    let output = ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"]
        .iter()
        .find_map(|exe| std::process::Command::new(exe).arg("-p").output().ok());
    let Some(output) = output else {
        return map;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines().skip(1) {
        let Some((left, path)) = line.split_once(" => ") else {
            continue;
        };
        let name = left.trim().split(' ').next().unwrap_or("");
        map.entry(name.to_string())
            .or_default()
            .push(PathBuf::from(path.trim()));
    }
    map
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_directories_follow_the_object_machine() {
        use goblin::elf::header::{EM_AARCH64, EM_X86_64};
        let dirs = |machine, is_64| {
            super::default_dirs(&super::ElfInfo {
                machine,
                is_64,
                ..Default::default()
            })
        };
        let arm = dirs(EM_AARCH64, true);
        assert_eq!(arm[0], std::path::Path::new("/lib/aarch64-linux-gnu"));
        assert!(arm.iter().all(|d| !d.to_string_lossy().contains("x86_64")));
        assert_eq!(
            dirs(EM_X86_64, true)[1],
            std::path::Path::new("/usr/lib/x86_64-linux-gnu")
        );
        assert!(!dirs(3, false).iter().any(|d| d.ends_with("lib64")));
    }

    use super::*;

    #[test]
    fn system_libraries_are_recognised() {
        assert!(is_system_library("libc.so.6"));
        assert!(is_system_library("ld-linux-x86-64.so.2"));
        assert!(is_system_library("libstdc++.so.6"));
        assert!(is_system_library("libGL.so.1"));
        assert!(!is_system_library("libffi.so.8"));
        assert!(!is_system_library("libcrypto.so.3"));
        assert!(!is_system_library("libpython3.11.so.1.0"));
    }

    #[test]
    fn reads_a_real_executable_and_resolves_libc() {
        // The test binary itself is a dynamically linked ELF on Linux.
        let exe = std::env::current_exe().unwrap();
        let info = read_elf(&exe).unwrap().expect("test binary is ELF");
        assert!(
            info.needed.iter().any(|n| n.starts_with("libc.so")),
            "{info:?}"
        );
        assert!(info.glibc.is_some());
        let resolver = LibraryResolver::default();
        let libc = info
            .needed
            .iter()
            .find(|n| n.starts_with("libc.so"))
            .unwrap();
        let found = resolver
            .resolve(libc, &exe, &info, &[])
            .expect("libc resolves");
        assert!(found.is_file());
        assert!(read_elf(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("Cargo.toml")
                .as_path()
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn origin_is_expanded_against_the_object() {
        let tmp = tempfile::tempdir().unwrap();
        let libs = tmp.path().join("pkg.libs");
        std::fs::create_dir_all(&libs).unwrap();
        let exe = std::env::current_exe().unwrap();
        // Any ELF of the right class and machine serves as the library.
        std::fs::copy(&exe, libs.join("libvendored.so.1")).unwrap();
        let info = ElfInfo {
            runpath: vec!["$ORIGIN/../pkg.libs".into()],
            machine: read_elf(&exe).unwrap().unwrap().machine,
            is_64: cfg!(target_pointer_width = "64"),
            ..Default::default()
        };
        std::fs::create_dir_all(tmp.path().join("pkg")).unwrap();
        let object = tmp.path().join("pkg/ext.so");
        let found = LibraryResolver::default().resolve("libvendored.so.1", &object, &info, &[]);
        assert_eq!(
            found,
            Some(tmp.path().join("pkg/../pkg.libs/libvendored.so.1"))
        );

        // A library without a search path of its own finds its dependency through the
        // DT_RPATH of the object that loaded it; a loader's DT_RUNPATH is not inherited.
        let loader = ElfInfo {
            runpath: Vec::new(),
            rpath: vec!["$ORIGIN/../pkg.libs".into()],
            ..info.clone()
        };
        let inherited = inherited_rpath(&object, &loader, &[]);
        let plain = ElfInfo {
            runpath: Vec::new(),
            ..info.clone()
        };
        let lib = tmp.path().join("elsewhere/libgfortran.so.5");
        assert_eq!(
            LibraryResolver::default().resolve("libvendored.so.1", &lib, &plain, &inherited),
            Some(tmp.path().join("pkg/../pkg.libs/libvendored.so.1"))
        );
        assert_eq!(
            LibraryResolver::default().resolve("libvendored.so.1", &lib, &plain, &[]),
            None
        );
        assert!(inherited_rpath(&object, &info, &[]).is_empty());
    }
}
