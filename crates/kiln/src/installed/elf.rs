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
    /// It has sections stripping removes (a symbol table, debug information).
    pub strippable: bool,
}

/// Section names stripping removes: what debuggers and `nm` read. Dynamic linking reads only
/// `.dynsym` and `.dynstr`, which stay.
pub fn removable_section(name: &[u8]) -> bool {
    name.starts_with(b".debug")
        || name.starts_with(b".zdebug")
        || name == b".symtab"
        || name == b".strtab"
}

/// The newest `GLIBCXX_` and `CXXABI_` versions the libstdc++ of Linux systems with glibc
/// `floor` provides, from the manylinux policies (PEP 600: what the distributions of each glibc
/// ship): systems as old as the floor may have nothing newer. `None` below glibc 2.5.
pub fn libstdcxx_for_glibc(floor: (u32, u32)) -> Option<(&'static [u32], &'static [u32])> {
    /// glibc, then the newest GLIBCXX and CXXABI.
    type Row = ((u32, u32), &'static [u32], &'static [u32]);
    /// Oldest first.
    const TABLE: &[Row] = &[
        ((2, 5), &[3, 4, 8], &[1, 3, 1]),
        ((2, 12), &[3, 4, 13], &[1, 3, 3]),
        ((2, 17), &[3, 4, 19], &[1, 3, 7]),
        ((2, 24), &[3, 4, 22], &[1, 3, 10]),
        ((2, 27), &[3, 4, 24], &[1, 3, 11]),
        ((2, 31), &[3, 4, 28], &[1, 3, 12]),
        ((2, 34), &[3, 4, 29], &[1, 3, 13]),
        ((2, 35), &[3, 4, 30], &[1, 3, 13]),
        ((2, 39), &[3, 4, 33], &[1, 3, 15]),
    ];
    TABLE
        .iter()
        .rev()
        .find(|(glibc, _, _)| *glibc <= floor)
        .map(|(_, glibcxx, cxxabi)| (*glibcxx, *cxxabi))
}

/// Reads the dynamic section of `path`. `Ok(None)` when the file is not an ELF object.
pub fn read_elf(path: &Path) -> std::io::Result<Option<ElfInfo>> {
    let bytes = std::fs::read(path)?;
    Ok(parse_elf(&bytes))
}

/// Whether the ELF object at `path` names `symbol` in its string tables (an extension module
/// defines `PyInit_NAME`; a plain native library does not). Not an ELF object: false.
pub fn defines_symbol(path: &Path, symbol: &str) -> bool {
    if !is_elf(path) {
        return false;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let mut needle = Vec::with_capacity(symbol.len() + 2);
    needle.push(0);
    needle.extend_from_slice(symbol.as_bytes());
    needle.push(0);
    memchr::memmem::find(&bytes, &needle).is_some()
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
        strippable: elf.section_headers.iter().any(|h| {
            elf.shdr_strtab
                .get_at(h.sh_name)
                .is_some_and(|name| removable_section(name.as_bytes()))
        }),
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

#[cfg(test)]
mod tests {
    #[test]
    fn libstdcxx_floors_follow_the_manylinux_policies() {
        let at = |floor| super::libstdcxx_for_glibc(floor).map(|(x, a)| (x.to_vec(), a.to_vec()));
        assert_eq!(at((2, 17)), Some((vec![3, 4, 19], vec![1, 3, 7])));
        assert_eq!(at((2, 28)), Some((vec![3, 4, 24], vec![1, 3, 11])));
        assert_eq!(at((2, 31)), Some((vec![3, 4, 28], vec![1, 3, 12])));
        assert_eq!(at((2, 99)), Some((vec![3, 4, 33], vec![1, 3, 15])));
        assert_eq!(at((2, 4)), None);
    }
}
