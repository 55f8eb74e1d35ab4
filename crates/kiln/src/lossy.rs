//! Paths in JSON: Linux allows file names that are not UTF-8, JSON strings must be. Reports and
//! summaries write such a path with U+FFFD in place of the bytes that are not UTF-8 (as
//! `Path::display` shows it) instead of failing after the bundle is written.

use std::path::Path;

use serde::Serializer;

pub fn path<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

pub fn opt_path<P: AsRef<Path>, S: Serializer>(path: &Option<P>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => s.serialize_str(&p.as_ref().to_string_lossy()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    #[derive(serde::Serialize)]
    struct Both {
        #[serde(serialize_with = "super::path")]
        a: PathBuf,
        #[serde(serialize_with = "super::opt_path")]
        b: Option<PathBuf>,
    }

    #[test]
    fn a_path_that_is_not_utf8_serialises() {
        let odd = PathBuf::from(OsStr::from_bytes(b"/tmp/caf\xe9.py"));
        let json = serde_json::to_string(&Both {
            a: odd.clone(),
            b: Some(odd),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"a":"/tmp/caf\ufffd.py","b":"/tmp/caf\ufffd.py"}"#.replace("\\ufffd", "\u{fffd}")
        );
    }
}
