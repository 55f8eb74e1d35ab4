//! The module archive: the bundle's pure-Python modules in one indexed file, which the boot
//! script serves through one finder (a dictionary lookup and one `pread` per import, instead
//! of directory scans, `stat` calls and a file open per module).
//!
//! ```text
//! "KILNMOD1" | index length u64 | index | code
//! index    one line per module: name \t kind \t path \t offset \t length \n
//!          kind `c` (code in this file) or `x` (an extension module on disk); path relative
//!          to sys.prefix, where the module's file would be (`__file__`); offset relative to
//!          the start of the code section
//! code     each module's marshalled code object (its `.pyc` without the 16-byte header)
//! ```
//!
//! (integers little-endian). Modules keep their `__file__` and their package directories stay
//! on disk with the package's data, so `os.path.dirname(__file__)`, `importlib.resources`
//! and data files behave as before. Extension modules stay files (the dynamic loader needs
//! them); they are indexed so that finding them is one lookup too. What the interpreter imports
//! before the boot script runs (`encodings`, and the start-up and `site` modules the probe saw,
//! among them `os`, whose `.pyc` is also how the interpreter finds its prefix) stays on disk as
//! `.pyc`: no finder is installed yet when they load. So do entry scripts, run by path.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::collect::{Collection, FileRole};

/// The archive's file name, beside the boot script.
pub const FILE_NAME: &str = "_kiln_modules.bin";
/// The `.pth` file in site-packages that installs the archive's finder at start-up.
pub const PTH_NAME: &str = "_kiln_archive.pth";
const MAGIC: &[u8; 8] = b"KILNMOD1";
const PYC_HEADER: usize = 16;

/// Which of the collection's files go into the archive (by index into `c.files`), and which
/// extension modules it indexes.
pub struct Plan {
    pub code: Vec<usize>,
    pub extensions: Vec<usize>,
}

/// Decides what the archive serves.
pub fn plan(c: &Collection) -> Plan {
    let early: HashSet<&str> = c.startup_modules.iter().map(String::as_str).collect();
    let loaded_early =
        |name: &str| name == "encodings" || name.starts_with("encodings.") || early.contains(name);
    // Entry scripts are run by path.
    let scripts: HashSet<&Path> = c
        .entries
        .values()
        .filter(|(kind, _)| kind == "script")
        .map(|(_, target)| Path::new(target.as_str()))
        .collect();
    let mut plan = Plan {
        code: Vec::new(),
        extensions: Vec::new(),
    };
    for (i, f) in c.files.iter().enumerate() {
        let Some(name) = f.module.as_deref() else {
            continue;
        };
        if name == "__main__" || loaded_early(name) || scripts.contains(f.dest.as_path()) {
            continue;
        }
        match f.role {
            FileRole::Module if f.dest.extension().is_some_and(|x| x == "pyc") => plan.code.push(i),
            FileRole::Extension => plan.extensions.push(i),
            _ => {}
        }
    }
    plan
}

/// Writes the archive to `path`. Returns each archived file's stored size (by index into
/// `c.files`) and the bytes of the archive's own header and index.
pub fn write(
    path: &Path,
    c: &Collection,
    plan: &Plan,
) -> std::io::Result<(Vec<(usize, u64)>, u64)> {
    let mut codes: Vec<(usize, Vec<u8>)> = Vec::with_capacity(plan.code.len());
    for &i in &plan.code {
        let f = &c.files[i];
        let bytes = std::fs::read(&f.source)?;
        if bytes.len() < PYC_HEADER {
            return Err(std::io::Error::other(format!(
                "{}: not a bytecode file",
                f.source.display()
            )));
        }
        codes.push((i, bytes[PYC_HEADER..].to_vec()));
    }
    let mut index = String::new();
    let mut offset = 0u64;
    let mut stored = Vec::with_capacity(codes.len());
    for (i, code) in &codes {
        let f = &c.files[*i];
        let name = f.module.as_deref().unwrap_or_default();
        index.push_str(&format!(
            "{name}\tc\t{}\t{offset}\t{}\n",
            f.dest.display(),
            code.len()
        ));
        stored.push((*i, code.len() as u64));
        offset += code.len() as u64;
    }
    for &i in &plan.extensions {
        let f = &c.files[i];
        let name = f.module.as_deref().unwrap_or_default();
        index.push_str(&format!("{name}\tx\t{}\t0\t0\n", f.dest.display()));
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(MAGIC)?;
    out.write_all(&(index.len() as u64).to_le_bytes())?;
    out.write_all(index.as_bytes())?;
    for (_, code) in &codes {
        out.write_all(code)?;
    }
    out.flush()?;
    Ok((stored, (MAGIC.len() + 8 + index.len()) as u64))
}

/// The archive's place in the runtime prefix.
pub fn location(c: &Collection) -> PathBuf {
    c.boot.with_file_name(FILE_NAME)
}
