//! Imports made from compiled code. A Cython or mypyc extension module imports other modules
//! from C, so no parser sees them; their names are string constants in the binary. This scans
//! an extension module for dotted names under the given top-level packages.

use std::collections::BTreeSet;
use std::path::Path;

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
/// strings are compressed carries it.
const COMPRESSED_STRINGS_MARK: &[u8] = b"string data decompression failed";

/// Reads `path` once and looks for dotted names under `prefixes` (each like `numpy.`) and for
/// whole-token occurrences of `exact` names.
pub fn scan_binary(
    path: &Path,
    prefixes: &[String],
    exact: &[String],
    standalone: &[String],
) -> std::io::Result<CompiledNames> {
    let bytes = std::fs::read(path)?;
    Ok(CompiledNames {
        dotted: names_in_bytes(&bytes, prefixes),
        exact: exact_names_in_bytes(&bytes, exact),
        standalone: c_strings_in_bytes(&bytes, standalone),
        hides_strings: memchr::memmem::find(&bytes, COMPRESSED_STRINGS_MARK).is_some(),
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
    // One pass over the NUL positions, not one search per name: extension modules run to
    // tens of MiB, and the standard library has hundreds of module names.
    let longest = names.iter().map(String::len).max().unwrap_or(0);
    let wanted: std::collections::HashSet<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
    let mut found = BTreeSet::new();
    let mut nuls = memchr::memchr_iter(0, bytes);
    let Some(mut previous) = nuls.next() else {
        return Vec::new();
    };
    for next in nuls {
        let segment = &bytes[previous + 1..next];
        if !segment.is_empty() && segment.len() <= longest && wanted.contains(segment) {
            found.insert(String::from_utf8_lossy(segment).into_owned());
        }
        previous = next;
    }
    names
        .iter()
        .filter(|n| found.contains(*n))
        .cloned()
        .collect()
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
