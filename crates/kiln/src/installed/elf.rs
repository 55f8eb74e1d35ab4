//! ELF files as installed: their `DT_NEEDED`, search paths, machine and glibc symbol versions.

use goblin::elf::dynamic::{DT_NEEDED, DT_RPATH, DT_RUNPATH};
use goblin::elf::Elf;
use std::path::Path;

/// What the loader needs to know about one ELF object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfInfo {
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub machine: u16,
    pub is_64: bool,
    /// Highest `GLIBC_x.y` symbol version the object requires, as (x, y).
    pub glibc: Option<(u32, u32)>,
    /// Highest `GLIBCXX_` and `CXXABI_` versions it requires of the system's libstdc++ (which
    /// is never bundled), as their dotted numbers.
    pub glibcxx: Option<Vec<u32>>,
    pub cxxabi: Option<Vec<u32>>,
}

/// Reads the dynamic section of `path`. `Ok(None)` when the file is not an ELF object.
pub fn read_elf(path: &Path) -> std::io::Result<Option<ElfInfo>> {
    let bytes = std::fs::read(path)?;
    Ok(parse_elf(&bytes))
}

/// Whether the file starts with the ELF magic (cheap check before a full read).
pub fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

pub fn parse_elf(bytes: &[u8]) -> Option<ElfInfo> {
    let elf = Elf::parse(bytes).ok()?;
    let mut info = ElfInfo {
        machine: elf.header.e_machine,
        is_64: elf.is_64,
        ..Default::default()
    };
    if let Some(dynamic) = &elf.dynamic {
        for d in &dynamic.dyns {
            let value = || {
                elf.dynstrtab
                    .get_at(d.d_val as usize)
                    .unwrap_or("")
                    .to_string()
            };
            match d.d_tag {
                DT_NEEDED => info.needed.push(value()),
                DT_RPATH => info.rpath.extend(split_path_list(&value())),
                DT_RUNPATH => info.runpath.extend(split_path_list(&value())),
                _ => {}
            }
        }
    }
    if let Some(verneed) = &elf.verneed {
        for need in verneed.iter() {
            for aux in need.iter() {
                let name = elf.dynstrtab.get_at(aux.vna_name).unwrap_or("");
                if let Some(v) = name.strip_prefix("GLIBC_").and_then(parse_version) {
                    info.glibc = info.glibc.max(Some(v));
                }
                if let Some(v) = name.strip_prefix("GLIBCXX_").and_then(parse_numbers) {
                    info.glibcxx = info.glibcxx.take().max(Some(v));
                }
                if let Some(v) = name.strip_prefix("CXXABI_").and_then(parse_numbers) {
                    info.cxxabi = info.cxxabi.take().max(Some(v));
                }
            }
        }
    }
    Some(info)
}

/// `3.4.29` -> [3, 4, 29].
fn parse_numbers(v: &str) -> Option<Vec<u32>> {
    v.split('.').map(|p| p.parse().ok()).collect()
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some((major, minor))
}

fn split_path_list(s: &str) -> Vec<String> {
    s.split(':')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}
