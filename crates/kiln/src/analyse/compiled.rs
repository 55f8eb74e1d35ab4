//! Imports made from compiled code. A Cython or mypyc extension module imports other modules
//! from C, so no parser sees them; their names are string constants in the binary. This scans
//! an extension module for dotted names under the given top-level packages.

use std::collections::BTreeSet;
use std::path::Path;

use rustc_hash::FxHashSet as HashSet;

/// Names found in an extension module's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CompiledNames {
    /// Dotted names that start with one of the prefixes.
    pub dotted: Vec<String>,
    /// Which of the exact names occur as whole tokens.
    pub exact: Vec<String>,
    /// Which of the standalone names occur as whole C strings (NUL on both sides), as Cython
    /// 3.0 and older store the names a module imports.
    pub standalone: Vec<String>,
    /// The binary keeps its string constants compressed (Cython 3.1+), so the names it
    /// imports cannot be read from it.
    pub hides_strings: bool,
}

/// What Cython's string-table decompression reports on failure; only a module whose
/// strings are compressed carries one: Cython 3.1, then 3.2 (which words it differently).
const COMPRESSED_STRINGS_MARKS: &[&[u8]] = &[
    b"string data decompression failed",
    b"cannot initialise module strings",
];

/// Reads `path` once and looks for dotted names under `prefixes` (each like `numpy.`) and for
/// whole-token occurrences of `exact` names.
pub fn scan_binary(
    path: &Path,
    prefixes: &[String],
    exact: &[String],
    standalone: &[String],
) -> std::io::Result<CompiledNames> {
    // One buffer per thread, reused: a fresh one per file had every page of every binary
    // zeroed by the kernel before the read filled it.
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|bytes| {
        use std::io::Read;
        bytes.clear();
        std::fs::File::open(path)?.read_to_end(bytes)?;
        let found = CompiledNames {
            dotted: names_in_bytes(bytes, prefixes),
            exact: exact_names_in_bytes(bytes, exact),
            standalone: c_strings_in_bytes(bytes, standalone),
            hides_strings: COMPRESSED_STRINGS_MARKS
                .iter()
                .any(|mark| memchr::memmem::find(bytes, mark).is_some()),
        };
        // A very large binary's buffer is not kept for the rest of the run.
        if bytes.capacity() > 64 << 20 {
            *bytes = Vec::new();
        }
        Ok(found)
    })
}

/// The `names` that occur in `bytes` as whole identifiers.
pub fn exact_names_in_bytes(bytes: &[u8], names: &[String]) -> Vec<String> {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    names
        .iter()
        .filter(|name| {
            memchr::memmem::find_iter(bytes, name.as_bytes()).any(|start| {
                let end = start + name.len();
                (start == 0 || !is_name_byte(bytes[start - 1]))
                    && bytes.get(end).is_none_or(|&b| !is_name_byte(b))
            })
        })
        .cloned()
        .collect()
}

/// The `names` that occur in `bytes` as a whole C string: a NUL before and after.
pub fn c_strings_in_bytes(bytes: &[u8], names: &[String]) -> Vec<String> {
    // One pass over the runs between NULs, not one search per name: extension modules run to
    // tens of MiB, and the standard library has hundreds of module names. Runs of NULs
    // (alignment padding, zeroed data) are skipped a word at a time, and a run is looked up only
    // when its length and first byte could be a wanted name's.
    let longest = names.iter().map(String::len).max().unwrap_or(0);
    let wanted: HashSet<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
    let mut first = [false; 256];
    for name in names {
        if let Some(&b) = name.as_bytes().first() {
            first[b as usize] = true;
        }
    }
    let mut found = BTreeSet::new();
    let mut pos = match memchr::memchr(0, bytes) {
        Some(at) => at,
        None => return Vec::new(),
    };
    loop {
        pos = skip_nuls(bytes, pos);
        if pos >= bytes.len() {
            break;
        }
        // `bytes[pos]` is not NUL and `bytes[pos - 1]` is.
        let Some(len) = memchr::memchr(0, &bytes[pos..]) else {
            break;
        };
        let segment = &bytes[pos..pos + len];
        if len <= longest && first[segment[0] as usize] && wanted.contains(segment) {
            found.insert(String::from_utf8_lossy(segment).into_owned());
        }
        pos += len;
    }
    names
        .iter()
        .filter(|n| found.contains(*n))
        .cloned()
        .collect()
}

/// The first position at or after `pos` that holds a byte other than NUL (or the length).
fn skip_nuls(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && bytes[pos] == 0 {
        if pos.is_multiple_of(8) {
            // Whole zero words at once.
            while let Some(word) = bytes.get(pos..pos + 8) {
                if word != [0u8; 8] {
                    break;
                }
                pos += 8;
            }
            if pos >= bytes.len() || bytes[pos] != 0 {
                break;
            }
        }
        pos += 1;
    }
    pos
}

pub fn names_in_bytes(bytes: &[u8], prefixes: &[String]) -> Vec<String> {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut found = BTreeSet::new();
    for prefix in prefixes {
        for start in memchr::memmem::find_iter(bytes, prefix.as_bytes()) {
            if start > 0 && is_name_byte(bytes[start - 1]) {
                continue;
            }
            let end = bytes[start..]
                .iter()
                .position(|&b| !is_name_byte(b))
                .map_or(bytes.len(), |n| start + n);
            let Ok(token) = std::str::from_utf8(&bytes[start..end]) else {
                continue;
            };
            let token = token.trim_end_matches('.');
            let valid = token.split('.').all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            });
            if valid && token.len() > prefix.len() {
                found.insert(token.to_string());
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn compressed_strings_of_each_cython_release_are_recognised() {
        let tmp = tempfile::tempdir().unwrap();
        let scan = |bytes: &[u8]| {
            let path = tmp.path().join("m.so");
            std::fs::write(&path, bytes).unwrap();
            super::scan_binary(&path, &[], &[], &[])
                .unwrap()
                .hides_strings
        };
        // Cython 3.1 and 3.2's messages, as their modules carry them.
        assert!(scan(b"\0zlib: string data decompression failed\0"));
        assert!(scan(
            b"\0Failed to import '%.20s.decompress' - cannot initialise module strings. \
              String compression was configured\0"
        ));
        assert!(!scan(b"\0PyInit_m\0numpy.core\0"));
    }

    #[test]
    fn standalone_names_are_whole_c_strings() {
        let bytes = b"\0secrets\0http://example.org\0timeout\0json\0";
        let names: Vec<String> = ["secrets", "http", "time", "json", "os"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            super::c_strings_in_bytes(bytes, &names),
            ["secrets", "json"]
        );
    }

    proptest::proptest! {
        /// The word-at-a-time scan finds exactly what splitting at every NUL finds.
        #[test]
        fn whole_c_strings_match_a_plain_split(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![0u8, 0, 0, b'a', b'b', b'o', b's']), 0..200),
            names in proptest::collection::vec("[abos]{1,3}", 0..6),
        ) {
            let mut expected: Vec<String> = Vec::new();
            if let Some(first) = bytes.iter().position(|&b| b == 0) {
                let inner = &bytes[first + 1..];
                let mut parts: Vec<&[u8]> = inner.split(|&b| b == 0).collect();
                // The run after the last NUL has no NUL after it.
                parts.pop();
                for name in &names {
                    if parts.contains(&name.as_bytes()) && !expected.contains(name) {
                        expected.push(name.clone());
                    }
                }
            }
            let mut got = super::c_strings_in_bytes(&bytes, &names);
            got.dedup();
            let mut expected_in_order: Vec<String> =
                names.iter().filter(|n| expected.contains(n)).cloned().collect();
            expected_in_order.dedup();
            proptest::prop_assert_eq!(got, expected_in_order);
        }
    }

    #[test]
    fn finds_dotted_names_under_the_prefix() {
        let bytes = b"\0numpy._core._exceptions\0xnumpy.no\0numpy.\0numpy.linalg._umath_linalg.\0numpy.1bad\0";
        let names = super::names_in_bytes(bytes, &["numpy.".to_string()]);
        assert_eq!(
            names,
            ["numpy._core._exceptions", "numpy.linalg._umath_linalg"]
        );
    }
}
