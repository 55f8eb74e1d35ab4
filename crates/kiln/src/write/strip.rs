//! Strips symbol tables and debug sections from bundled native files. Dynamic linking only
//! reads `.dynsym` and `.dynstr`, which stay; what goes is what debuggers and `nm` read.

use std::path::Path;

use crate::installed::elf::removable_section as removable;

/// Strips the ELF file at `path` in place. Returns the bytes saved; 0 when there was nothing
/// to strip (the file is then left untouched).
pub(super) fn strip(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut builder = object::build::elf::Builder::read(&*bytes).map_err(|e| e.to_string())?;
    let mut any = false;
    for section in builder.sections.iter_mut() {
        if removable(section.name.as_slice()) {
            section.delete = true;
            any = true;
        }
    }
    if !any {
        return Ok(0);
    }
    for symbol in builder.symbols.iter_mut() {
        symbol.delete = true;
    }
    let mut out = Vec::with_capacity(bytes.len());
    builder.write(&mut out).map_err(|e| e.to_string())?;
    if out.len() >= bytes.len() {
        return Ok(0);
    }
    let perms = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions();
    let tmp = path.with_extension("kiln-strip");
    std::fs::write(&tmp, &out).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&tmp, perms).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())?;
    Ok((bytes.len() - out.len()) as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn strips_a_real_binary_and_it_still_runs() {
        // This test binary carries a symbol table and (in a debug build) debug sections.
        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join("bin");
        std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
        let before = std::fs::metadata(&copy).unwrap().len();
        let strippable = |p: &std::path::Path| {
            crate::installed::elf::read_elf(p)
                .unwrap()
                .unwrap()
                .strippable
        };
        assert!(strippable(&copy), "collect marks it for stripping");
        let saved = super::strip(&copy).unwrap();
        assert!(!strippable(&copy), "a stripped file is not stripped again");
        assert!(saved > 0, "a test binary has symbols to strip");
        assert_eq!(std::fs::metadata(&copy).unwrap().len(), before - saved);
        // Still a working executable: list its tests.
        let out = std::process::Command::new(&copy)
            .arg("--list")
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("strips_a_real_binary"));
        assert_eq!(super::strip(&copy).unwrap(), 0, "nothing left to strip");
    }
}
