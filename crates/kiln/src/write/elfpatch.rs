//! Library search path edits on bundled ELF files, through `arwen` (a patchelf port): it can
//! grow the dynamic string table when a new path is longer than the old one.

use std::path::Path;

use super::WriteError;
use crate::collect::RpathFix;

/// Applies `fix` to the file at `path` in place.
pub(super) fn apply(path: &Path, fix: &RpathFix) -> Result<(), WriteError> {
    let fail = |message: String| WriteError::Patch {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let mut elf = arwen::elf::ElfContainer::parse(&bytes).map_err(|e| fail(e.to_string()))?;
    match fix {
        RpathFix::ForceRpath(p) => {
            elf.set_runpath(p.as_bytes())
                .map_err(|e| fail(e.to_string()))?;
            elf.force_rpath().map_err(|e| fail(e.to_string()))?;
        }
        RpathFix::Remove => elf.remove_runpath().map_err(|e| fail(e.to_string()))?,
    }
    let mut out = Vec::with_capacity(bytes.len() + 4096);
    elf.write(&mut out).map_err(|e| fail(e.to_string()))?;
    let perms = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .permissions();
    std::fs::write(path, &out).map_err(|e| fail(e.to_string()))?;
    std::fs::set_permissions(path, perms).map_err(|e| fail(e.to_string()))
}
