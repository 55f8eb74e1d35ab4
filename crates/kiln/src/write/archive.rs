//! The module archive: the bundle's pure-Python modules in one indexed file, which the boot
//! script serves through one finder (a dictionary lookup and one `pread` per import, instead
//! of directory scans, `stat` calls and a file open per module).
//!
//! ```text
//! "KILNMOD2" | index length u64 | index | code
//! index    marshal data (what CPython's `marshal.loads` reads): a tuple (table, children)
//!          table     {module name: (path, offset, length)}: path relative to sys.prefix,
//!                    where the module's file would be (`__file__`); offset relative to the
//!                    start of the code section; length -1 for an extension module on disk
//!          children  {directory relative to sys.prefix: {name: is_package}}, what each
//!                    directory holds, for `pkgutil.iter_modules`
//! code     each module's marshalled code object (its `.pyc` without the 16-byte header)
//! ```
//!
//! The index is marshal data so that the boot script reads it with one `marshal.loads`, in C,
//! instead of parsing a line a module in Python: start-up does not grow with the module count.
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
pub const FILE_NAME: &str = crate::collect::ARCHIVE_FILE;
/// The `.pth` file in site-packages that installs the archive's finder at start-up.
pub const PTH_NAME: &str = crate::collect::ARCHIVE_PTH;
const MAGIC: &[u8; 8] = b"KILNMOD2";
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
    let scripts: HashSet<&Path> = c.entry_scripts.iter().map(PathBuf::as_path).collect();
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
    let mut entries = Vec::with_capacity(codes.len() + plan.extensions.len());
    let mut offset = 0u64;
    let mut stored = Vec::with_capacity(codes.len());
    for (i, code) in &codes {
        let f = &c.files[*i];
        let entry = Entry {
            name: f.module.clone().unwrap_or_default(),
            path: f.dest.to_string_lossy().into_owned(),
            code: Some((offset, code.len() as u64)),
        };
        // `import pkg.__init__` runs the package's `__init__` again as a plain module, as
        // CPython's FileFinder finds it (statsmodels' `from .__init__ import test`).
        if is_init(&entry.path) && !entry.name.is_empty() {
            entries.push(Entry {
                name: format!("{}.{INIT}", entry.name),
                ..entry.clone()
            });
        }
        entries.push(entry);
        stored.push((*i, code.len() as u64));
        offset += code.len() as u64;
    }
    for &i in &plan.extensions {
        let f = &c.files[i];
        entries.push(Entry {
            name: f.module.clone().unwrap_or_default(),
            path: f.dest.to_string_lossy().into_owned(),
            code: None,
        });
    }
    let index = encode_index(&entries);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(MAGIC)?;
    out.write_all(&(index.len() as u64).to_le_bytes())?;
    out.write_all(&index)?;
    for (_, code) in &codes {
        out.write_all(code)?;
    }
    out.flush()?;
    Ok((stored, (MAGIC.len() + 8 + index.len()) as u64))
}

/// The module name of a package's `__init__` file, imported as a module of its own.
const INIT: &str = "__init__";
const INIT_SUFFIX: &str = ".__init__";

/// Whether `path` (`/`-separated) names a package's `__init__` file.
fn is_init(path: &str) -> bool {
    let file = path.rsplit_once('/').map_or(path, |(_, f)| f);
    file.strip_prefix(INIT)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// One module the archive indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The module's full name.
    pub name: String,
    /// Where its file would be, relative to sys.prefix (`/`-separated).
    pub path: String,
    /// Offset and length of its code in the code section; `None` for an extension module,
    /// which stays a file.
    pub code: Option<(u64, u64)>,
}

/// Reads an archive's index, as the boot script does: what each entry names and where.
pub fn read_index(archive: &[u8]) -> Result<Vec<Entry>, String> {
    if archive.len() < 16 || &archive[..8] != MAGIC {
        return Err("not a kiln module archive".into());
    }
    let len = u64::from_le_bytes(archive[8..16].try_into().unwrap()) as usize;
    let index = archive.get(16..16 + len).ok_or("the index is cut short")?;
    let mut reader = marshal::Reader { data: index, at: 0 };
    reader.index()
}

/// The index as marshal data: `(table, children)`, see the module documentation.
fn encode_index(entries: &[Entry]) -> Vec<u8> {
    let mut children: std::collections::BTreeMap<&str, Vec<(&str, bool)>> = Default::default();
    for e in entries.iter().filter(|e| !e.name.ends_with(INIT_SUFFIX)) {
        let (mut directory, file) = e.path.rsplit_once('/').unwrap_or(("", &e.path));
        let is_package = is_init(file);
        if is_package {
            directory = directory.rsplit_once('/').map_or("", |(d, _)| d);
        }
        let tail = e.name.rsplit_once('.').map_or(e.name.as_str(), |(_, t)| t);
        children
            .entry(directory)
            .or_default()
            .push((tail, is_package));
    }
    let mut m = marshal::Writer::default();
    m.tuple(2);
    m.dict(entries.iter(), |m, e| {
        m.str(&e.name);
        m.tuple(3);
        m.str(&e.path);
        let (offset, length) = e.code.map_or((0, -1), |(o, l)| (o as i64, l as i64));
        m.int(offset);
        m.int(length);
    });
    m.dict(children.iter(), |m, (directory, names)| {
        m.str(directory);
        m.dict(names.iter(), |m, (name, is_package)| {
            m.str(name);
            m.bool(*is_package);
        });
    });
    m.out
}

/// The part of CPython's marshal format the index uses (dicts, tuples, strings, integers,
/// booleans), stable since marshal version 4 (Python 3.4).
mod marshal {
    use super::Entry;

    const DICT: u8 = b'{';
    const NULL: u8 = b'0';
    const SMALL_TUPLE: u8 = b')';
    const SHORT_ASCII: u8 = b'z';
    const UNICODE: u8 = b'u';
    const INT: u8 = b'i';
    const LONG: u8 = b'l';
    const TRUE: u8 = b'T';
    const FALSE: u8 = b'F';

    #[derive(Default)]
    pub struct Writer {
        pub out: Vec<u8>,
    }

    impl Writer {
        pub fn tuple(&mut self, len: u8) {
            self.out.extend([SMALL_TUPLE, len]);
        }

        pub fn dict<T>(
            &mut self,
            items: impl Iterator<Item = T>,
            mut item: impl FnMut(&mut Self, T),
        ) {
            self.out.push(DICT);
            for i in items {
                item(self, i);
            }
            self.out.push(NULL);
        }

        pub fn str(&mut self, s: &str) {
            if s.is_ascii() && s.len() < 256 {
                self.out.extend([SHORT_ASCII, s.len() as u8]);
            } else {
                self.out.push(UNICODE);
                self.out.extend((s.len() as u32).to_le_bytes());
            }
            self.out.extend(s.as_bytes());
        }

        pub fn int(&mut self, v: i64) {
            if let Ok(small) = i32::try_from(v) {
                self.out.push(INT);
                self.out.extend(small.to_le_bytes());
                return;
            }
            // 15-bit digits, least significant first; the sign is the digit count's.
            let mut digits = Vec::new();
            let mut rest = v.unsigned_abs();
            while rest > 0 {
                digits.push((rest & 0x7fff) as u16);
                rest >>= 15;
            }
            let count = digits.len() as i32;
            self.out.push(LONG);
            self.out
                .extend((if v < 0 { -count } else { count }).to_le_bytes());
            for d in digits {
                self.out.extend(d.to_le_bytes());
            }
        }

        pub fn bool(&mut self, v: bool) {
            self.out.push(if v { TRUE } else { FALSE });
        }
    }

    /// Reads back what [`Writer`] writes for the index.
    pub struct Reader<'a> {
        pub data: &'a [u8],
        pub at: usize,
    }

    impl Reader<'_> {
        fn byte(&mut self) -> Result<u8, String> {
            let b = *self.data.get(self.at).ok_or("the index ends early")?;
            self.at += 1;
            Ok(b)
        }

        fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
            let b = self
                .data
                .get(self.at..self.at + n)
                .ok_or("the index ends early")?;
            self.at += n;
            Ok(b)
        }

        fn u32(&mut self) -> Result<u32, String> {
            Ok(u32::from_le_bytes(self.bytes(4)?.try_into().unwrap()))
        }

        fn expect(&mut self, code: u8) -> Result<(), String> {
            let got = self.byte()?;
            if got & 0x7f != code {
                return Err(format!(
                    "expected marshal type {:?}, found {:?} at byte {}",
                    code as char,
                    (got & 0x7f) as char,
                    self.at - 1
                ));
            }
            Ok(())
        }

        fn tuple(&mut self, len: u8) -> Result<(), String> {
            self.expect(SMALL_TUPLE)?;
            match self.byte()? {
                n if n == len => Ok(()),
                n => Err(format!("a tuple of {n}, not {len}")),
            }
        }

        fn str(&mut self) -> Result<String, String> {
            let code = self.byte()? & 0x7f;
            let len = match code {
                SHORT_ASCII => self.byte()? as usize,
                UNICODE => self.u32()? as usize,
                other => return Err(format!("expected a string, found {:?}", other as char)),
            };
            String::from_utf8(self.bytes(len)?.to_vec()).map_err(|e| e.to_string())
        }

        fn int(&mut self) -> Result<i64, String> {
            match self.byte()? & 0x7f {
                INT => Ok(self.u32()? as i32 as i64),
                LONG => {
                    let count = self.u32()? as i32;
                    let mut v: i64 = 0;
                    for i in 0..count.unsigned_abs() {
                        let d = u16::from_le_bytes(self.bytes(2)?.try_into().unwrap());
                        v |= (d as i64) << (15 * i);
                    }
                    Ok(if count < 0 { -v } else { v })
                }
                other => Err(format!("expected an integer, found {:?}", other as char)),
            }
        }

        /// Whether the next item of a dict is its end.
        fn dict_end(&mut self) -> Result<bool, String> {
            if self.data.get(self.at) == Some(&NULL) {
                self.at += 1;
                return Ok(true);
            }
            Ok(false)
        }

        pub fn index(&mut self) -> Result<Vec<Entry>, String> {
            self.tuple(2)?;
            self.expect(DICT)?;
            let mut entries = Vec::new();
            while !self.dict_end()? {
                let name = self.str()?;
                self.tuple(3)?;
                let path = self.str()?;
                let offset = self.int()?;
                let length = self.int()?;
                let code = (length >= 0).then_some((offset as u64, length as u64));
                entries.push(Entry { name, path, code });
            }
            Ok(entries)
        }
    }
}

/// The archive's place in the runtime prefix.
pub fn location(c: &Collection) -> PathBuf {
    c.boot.with_file_name(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_what_marshal_loads_reads() {
        let entries = vec![
            Entry {
                name: "pkg".into(),
                path: "lib/pkg/__init__.pyc".into(),
                code: Some((0, 5)),
            },
            Entry {
                name: "pkg.ext".into(),
                path: "lib/pkg/ext.so".into(),
                code: None,
            },
        ];
        // CPython's marshal.loads reads these bytes as ({"pkg": ("lib/pkg/__init__.pyc", 0, 5),
        // "pkg.ext": ("lib/pkg/ext.so", 0, -1)}, {"lib": {"pkg": True}, "lib/pkg": {"ext":
        // False}}) (marshal.dumps writes the same values with back-references).
        let mut expected = b")\x02{".to_vec();
        for part in [
            &b"z\x03pkg)\x03z\x14lib/pkg/__init__.pyci\0\0\0\0i\x05\0\0\0"[..],
            b"z\x07pkg.ext)\x03z\x0elib/pkg/ext.soi\0\0\0\0i\xff\xff\xff\xff0",
            b"{z\x03lib{z\x03pkgT0z\x07lib/pkg{z\x03extF00",
        ] {
            expected.extend(part);
        }
        assert_eq!(encode_index(&entries), expected);
    }

    #[test]
    fn the_index_reads_back_with_large_offsets_and_unicode_names() {
        let entries = vec![
            Entry {
                name: "caf\u{e9}".into(),
                path: "lib/caf\u{e9}.pyc".into(),
                code: Some((5_000_000_000, 7)),
            },
            Entry {
                name: "x".repeat(300),
                path: format!("lib/{}.pyc", "x".repeat(300)),
                code: Some((1 << 31, 0)),
            },
        ];
        let mut archive = MAGIC.to_vec();
        let index = encode_index(&entries);
        archive.extend((index.len() as u64).to_le_bytes());
        archive.extend(index);
        assert_eq!(read_index(&archive).unwrap(), entries);
        assert!(read_index(b"KILNMOD1\0\0\0\0\0\0\0\0").is_err());
        archive.truncate(30);
        assert!(read_index(&archive).is_err());
    }
}
