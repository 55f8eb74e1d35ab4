//! The licence of an installed distribution, as its metadata declares it or, when the metadata
//! says nothing usable, as its licence files show.
//!
//! Metadata in the wild is uneven: `License-Expression` (PEP 639) is exact, but older
//! distributions put a whole licence text, or just a copyright line, in `License`, and many
//! only have a vague classifier (`License :: OSI Approved :: BSD License`). So: an SPDX
//! expression when one is stated or can be named with confidence, else the name the
//! distribution gives, else a pointer to its licence file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A distribution's licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    /// An SPDX expression when `spdx` is true (`MIT`, `Apache-2.0 OR BSD-2-Clause`), else a
    /// name as the distribution writes it (`BSD`), or `see LICENSE.txt`.
    pub text: String,
    pub spdx: bool,
    /// Where it was found.
    pub source: LicenseSource,
}

/// Which part of a distribution's metadata a licence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseSource {
    /// The `License-Expression` header.
    Expression,
    /// The `License` header.
    Field,
    /// `Classifier: License :: ...` headers.
    Classifier,
    /// A licence file in the metadata directory (recognised by its text, or only named).
    File,
}

/// The licence of the distribution whose metadata text (`METADATA` or `PKG-INFO`) is
/// `metadata` and whose metadata directory is `dist_dir`.
pub fn detect(metadata: &str, dist_dir: &Path) -> Option<License> {
    let headers = headers(metadata);
    let get = |name: &'static str| values(&headers, name);
    let found = |text: &str, spdx, source| {
        Some(License {
            text: text.to_string(),
            spdx,
            source,
        })
    };
    if let Some(expression) = get("License-Expression").next() {
        return found(expression, true, LicenseSource::Expression);
    }
    let field = get("License").next();
    let first_line = field.map(|f| f.lines().next().unwrap_or("").trim());
    if let Some(id) = first_line.and_then(spdx_id) {
        return found(id, true, LicenseSource::Field);
    }
    let classifiers: Vec<&str> = get("Classifier")
        .filter_map(|c| c.strip_prefix("License ::"))
        .map(|c| c.rsplit("::").next().unwrap_or(c).trim())
        .collect();
    let mapped: Vec<&str> = classifiers.iter().filter_map(|c| spdx_id(c)).collect();
    if !classifiers.is_empty() && mapped.len() == classifiers.len() {
        let mut ids = mapped;
        ids.dedup();
        return found(&ids.join(" OR "), true, LicenseSource::Classifier);
    }
    // The licence text itself: a multi-line `License` field, or the licence files.
    let files = license_files(&headers, dist_dir);
    if let Some(id) = field
        .filter(|f| f.lines().count() > 1)
        .and_then(identify_text)
    {
        return found(id, true, LicenseSource::Field);
    }
    for file in &files {
        if let Some(id) = std::fs::read_to_string(file)
            .ok()
            .as_deref()
            .and_then(identify_text)
        {
            return found(id, true, LicenseSource::File);
        }
    }
    if let Some(name) = first_line.filter(|_| field.is_some_and(|f| f.lines().count() == 1)) {
        if looks_like_a_name(name) {
            return found(name, false, LicenseSource::Field);
        }
    }
    if !classifiers.is_empty() {
        let mut names = classifiers;
        names.dedup();
        return found(&names.join(", "), false, LicenseSource::Classifier);
    }
    let file = files.first()?;
    let shown = file.strip_prefix(dist_dir).unwrap_or(file);
    found(
        &format!("see {}", shown.display()),
        false,
        LicenseSource::File,
    )
}

/// The non-empty values of header `name`.
fn values<'a>(
    headers: &'a [(&'a str, String)],
    name: &'static str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && *v != "UNKNOWN")
}

/// The headers of a metadata file (RFC 822 style; continuation lines start with white space),
/// up to the blank line where the description starts.
fn headers(text: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() && !line.starts_with([' ', '\t']) {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim(), value.trim().to_string()));
        }
    }
    // A continuation made only of blank lines is no continuation.
    for (_, value) in &mut out {
        let trimmed = value.trim_end().len();
        value.truncate(trimmed);
    }
    out
}

/// Licence files of a distribution: those its `License-File` headers name (PEP 639 puts them
/// under `licenses/`, older wheels beside `METADATA`), then any `LICENSE*`, `LICENCE*` or
/// `COPYING*` in the metadata directory.
fn license_files(headers: &[(&str, String)], dist_dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut push = |p: PathBuf| {
        if p.is_file() && !out.contains(&p) {
            out.push(p);
        }
    };
    for (_, value) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("License-File"))
    {
        let rel = Path::new(value.trim());
        push(dist_dir.join("licenses").join(rel));
        push(dist_dir.join(rel));
        if let Some(name) = rel.file_name() {
            push(dist_dir.join(name));
        }
    }
    for dir in [dist_dir.to_path_buf(), dist_dir.join("licenses")] {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = read
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_ascii_uppercase();
                ["LICENSE", "LICENCE", "COPYING"]
                    .iter()
                    .any(|s| name.starts_with(s))
            })
            .collect();
        names.sort();
        names.into_iter().for_each(&mut push);
    }
    out
}

/// A short licence name rather than a copyright line or the start of a text.
fn looks_like_a_name(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    s.len() <= 64
        && s.chars().any(char::is_alphabetic)
        && !lower.starts_with("copyright")
        && !lower.starts_with("(c)")
        && !lower.contains("agreement")
}

/// SPDX identifiers for the names distributions commonly give their licence (in `License`
/// or as the last part of a classifier). Vague names (`BSD`, `Apache Software License`, `GPL`)
/// have no entry: they do not say which licence.
const KNOWN_NAMES: &[(&str, &[&str])] = &[
    (
        "MIT",
        &[
            "mit",
            "mit license",
            "the mit license",
            "expat",
            "mit/expat",
        ],
    ),
    ("MIT-CMU", &["mit-cmu", "cmu license (mit-cmu)"]),
    (
        "BSD-3-Clause",
        &[
            "bsd-3-clause",
            "bsd 3-clause",
            "bsd 3-clause license",
            "3-clause bsd",
            "3-clause bsd license",
            "new bsd",
            "new bsd license",
            "modified bsd",
            "modified bsd license",
            "bsd-3",
            "bsd 3 clause",
        ],
    ),
    (
        "BSD-2-Clause",
        &[
            "bsd-2-clause",
            "bsd 2-clause",
            "bsd 2-clause license",
            "2-clause bsd",
            "simplified bsd",
            "freebsd",
        ],
    ),
    (
        "0BSD",
        &["0bsd", "zero-clause bsd", "bsd zero clause license"],
    ),
    (
        "Apache-2.0",
        &[
            "apache-2.0",
            "apache 2.0",
            "apache 2",
            "apache-2",
            "apache license 2.0",
            "apache license, version 2.0",
            "apache license version 2.0",
            "apache software license 2.0",
            "apache software license, version 2.0",
            "asl 2.0",
        ],
    ),
    (
        "MPL-2.0",
        &[
            "mpl-2.0",
            "mpl 2.0",
            "mozilla public license 2.0",
            "mozilla public license 2.0 (mpl 2.0)",
        ],
    ),
    ("ISC", &["isc", "isc license", "isc license (iscl)"]),
    (
        "PSF-2.0",
        &[
            "psf-2.0",
            "psf",
            "psfl",
            "psf license",
            "python software foundation license",
        ],
    ),
    ("Zlib", &["zlib", "zlib license", "zlib/libpng license"]),
    (
        "Unlicense",
        &["unlicense", "the unlicense", "the unlicense (unlicense)"],
    ),
    (
        "CC0-1.0",
        &[
            "cc0-1.0",
            "cc0 1.0",
            "cc0",
            "cc0 1.0 universal (cc0 1.0) public domain dedication",
        ],
    ),
    (
        "HPND",
        &["hpnd", "historical permission notice and disclaimer (hpnd)"],
    ),
    (
        "BSL-1.0",
        &["bsl-1.0", "boost software license 1.0 (bsl-1.0)"],
    ),
    (
        "GPL-2.0-only",
        &["gpl-2.0-only", "gnu general public license v2 (gplv2)"],
    ),
    (
        "GPL-2.0-or-later",
        &[
            "gpl-2.0-or-later",
            "gnu general public license v2 or later (gplv2+)",
        ],
    ),
    (
        "GPL-3.0-only",
        &["gpl-3.0-only", "gnu general public license v3 (gplv3)"],
    ),
    (
        "GPL-3.0-or-later",
        &[
            "gpl-3.0-or-later",
            "gnu general public license v3 or later (gplv3+)",
        ],
    ),
    (
        "LGPL-2.1-or-later",
        &[
            "lgpl-2.1-or-later",
            "gnu lesser general public license v2 or later (lgplv2+)",
        ],
    ),
    (
        "LGPL-3.0-only",
        &[
            "lgpl-3.0-only",
            "gnu lesser general public license v3 (lgplv3)",
        ],
    ),
    (
        "LGPL-3.0-or-later",
        &[
            "lgpl-3.0-or-later",
            "gnu lesser general public license v3 or later (lgplv3+)",
        ],
    ),
    (
        "AGPL-3.0-only",
        &["agpl-3.0-only", "gnu affero general public license v3"],
    ),
    (
        "EPL-2.0",
        &["epl-2.0", "eclipse public license 2.0 (epl-2.0)"],
    ),
];

/// The SPDX identifier a licence name stands for, when it names exactly one licence.
pub fn spdx_id(name: &str) -> Option<&'static str> {
    let lower = name.trim().trim_end_matches('.').to_ascii_lowercase();
    KNOWN_NAMES
        .iter()
        .find(|(_, names)| names.contains(&lower.as_str()))
        .map(|(id, _)| *id)
}

/// The licence a full licence text is, for the few that say so unambiguously in their wording.
fn identify_text(text: &str) -> Option<&'static str> {
    let t: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let has = |s: &str| t.contains(s);
    if has("permission is hereby granted, free of charge") {
        Some("MIT")
    } else if has("apache license") && has("version 2.0") {
        Some("Apache-2.0")
    } else if has("redistribution and use in source and binary forms") {
        if has("neither the name") || has("endorse or promote products") {
            Some("BSD-3-Clause")
        } else {
            Some("BSD-2-Clause")
        }
    } else if has("mozilla public license version 2.0") || has("mozilla public license, v. 2.0") {
        Some("MPL-2.0")
    } else if has("permission to use, copy, modify, and/or distribute this software for any") {
        if has("provided that the above copyright notice") {
            Some("ISC")
        } else {
            Some("0BSD")
        }
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(metadata: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, Option<License>) {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = tmp.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let found = detect(metadata, tmp.path());
        (tmp, found)
    }

    fn text_of(l: &Option<License>) -> (&str, bool) {
        let l = l.as_ref().expect("a licence");
        (l.text.as_str(), l.spdx)
    }

    const BSD3: &str = "Copyright (c) 2015, someone\nAll rights reserved.\n\n\
        Redistribution and use in source and binary forms, with or without modification, are \
        permitted provided that...\n* Neither the name of the copyright holder nor the names";

    #[test]
    fn an_expression_wins() {
        let (_t, l) = dist(
            "Name: numpy\nLicense-Expression: BSD-3-Clause AND 0BSD\nLicense: MIT\n\nbody",
            &[],
        );
        assert_eq!(text_of(&l), ("BSD-3-Clause AND 0BSD", true));
        assert_eq!(l.unwrap().source, LicenseSource::Expression);
    }

    #[test]
    fn a_license_field_naming_a_licence_is_normalised() {
        let (_t, l) = dist("Name: x\nLicense: MIT License\n", &[]);
        assert_eq!(text_of(&l), ("MIT", true));
        // A licence text whose first line names it (contourpy).
        let (_t, l) = dist(
            "Name: x\nLicense: BSD 3-Clause License\n         \n         Copyright (c) 2021\n",
            &[],
        );
        assert_eq!(text_of(&l), ("BSD-3-Clause", true));
        // A vague single-line name is kept as written when nothing says more.
        let (_t, l) = dist("Name: passlib\nLicense: BSD\n", &[]);
        assert_eq!(text_of(&l), ("BSD", false));
    }

    #[test]
    fn a_copyright_line_is_not_a_licence() {
        // cycler: the whole text in `License`, and a vague classifier.
        let field = BSD3.replace('\n', "\n        ");
        let (_t, l) = dist(
            &format!(
                "Name: cycler\nLicense: {field}\nClassifier: License :: OSI Approved :: BSD License\n\nbody"
            ),
            &[],
        );
        assert_eq!(text_of(&l), ("BSD-3-Clause", true));
        // scipy: a copyright line; the licence file tells.
        let (_t, l) = dist(
            "Name: scipy\nLicense: Copyright (c) 2001-2002 Enthought, Inc.\nClassifier: License :: OSI Approved :: BSD License\n",
            &[("LICENSE.txt", BSD3)],
        );
        assert_eq!(text_of(&l), ("BSD-3-Clause", true));
        assert_eq!(l.unwrap().source, LicenseSource::File);
    }

    #[test]
    fn classifiers_map_to_spdx_when_they_are_specific() {
        let (_t, l) = dist(
            "Name: certifi\nClassifier: License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)\n",
            &[],
        );
        assert_eq!(text_of(&l), ("MPL-2.0", true));
        let (_t, l) = dist(
            "Name: jinja2\nClassifier: License :: OSI Approved :: BSD License\n",
            &[],
        );
        assert_eq!(text_of(&l), ("BSD License", false));
    }

    #[test]
    fn licence_files_are_read_then_named() {
        let (_t, l) = dist(
            "Name: x\nLicense-File: LICENSE\n",
            &[(
                "licenses/LICENSE",
                "Permission is hereby granted, free of charge, to any person",
            )],
        );
        assert_eq!(text_of(&l), ("MIT", true));
        let (_t, l) = dist("Name: x\n", &[("COPYING.txt", "All yours, no conditions.")]);
        assert_eq!(text_of(&l), ("see COPYING.txt", false));
        let (_t, l) = dist("Name: x\nLicense: UNKNOWN\n", &[]);
        assert_eq!(l, None);
    }
}
