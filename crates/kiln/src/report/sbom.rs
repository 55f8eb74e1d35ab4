//! The bundle's software bill of materials in CycloneDX JSON (spec 1.5), made from the build
//! report: the app as the described component; every bundled distribution, the CPython
//! interpreter and the shared libraries that belong to no distribution as its components.

use std::collections::BTreeSet;

use serde::Serialize;

use super::build_report::{BuildReport, Role};
use crate::installed::license::License;

/// A CycloneDX 1.5 document (the subset kiln fills in).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    pub bom_format: &'static str,
    pub spec_version: &'static str,
    pub serial_number: String,
    pub version: u32,
    pub metadata: Metadata,
    pub components: Vec<Component>,
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub timestamp: String,
    pub tools: Tools,
    pub component: Component,
}

#[derive(Debug, Serialize)]
pub struct Tools {
    pub components: Vec<Component>,
}

/// A component (`type`, `name` required; `bom-ref` unique in the document).
#[derive(Debug, Serialize)]
pub struct Component {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// CycloneDX's license choice: an SPDX expression, or a named licence.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LicenseChoice {
    Expression { expression: String },
    Named { license: NamedLicense },
}

#[derive(Debug, Serialize)]
pub struct NamedLicense {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct Property {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct Dependency {
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(rename = "dependsOn")]
    pub depends_on: Vec<String>,
}

/// The SBOM of the bundle a report describes.
pub fn cyclonedx(report: &BuildReport) -> Bom {
    let mut refs = BTreeSet::new();
    // bom-refs must be unique: a second component with the same reference gets a suffix.
    let mut unique = |wanted: String| {
        let mut candidate = wanted.clone();
        let mut n = 1;
        while !refs.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{wanted}#{n}");
        }
        candidate
    };
    let app_ref = unique(format!("app:{}", report.name));
    let mut components = Vec::new();

    for d in &report.distributions {
        let purl = format!(
            "pkg:pypi/{}@{}",
            crate::installed::metadata::normalize_dist_name(&d.name),
            d.version
        );
        components.push(Component {
            kind: "library",
            bom_ref: Some(unique(purl.clone())),
            name: d.name.clone(),
            version: (!d.version.is_empty()).then(|| d.version.clone()),
            description: None,
            purl: Some(purl),
            licenses: d.license.iter().map(license_choice).collect(),
            properties: Vec::new(),
        });
    }

    let version = &report.inputs.python_version;
    let purl = format!("pkg:generic/cpython@{version}");
    components.push(Component {
        kind: "application",
        bom_ref: Some(unique(purl.clone())),
        name: "cpython".into(),
        version: Some(version.clone()),
        description: Some("the Python interpreter and its standard library".into()),
        purl: Some(purl),
        licenses: vec![LicenseChoice::Expression {
            expression: "PSF-2.0".into(),
        }],
        properties: Vec::new(),
    });

    // Shared libraries of no distribution, other than the interpreter's own libpython.
    let mut libraries: Vec<&super::build_report::FileEntry> = report
        .files
        .iter()
        .filter(|f| f.role == Role::NativeLibrary && f.distribution.is_none())
        .filter(|f| f.group != "runtime")
        .collect();
    libraries.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    for lib in libraries {
        let soname = lib
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let mut properties = vec![Property {
            name: "kiln:path".into(),
            value: lib.path.display().to_string(),
        }];
        if let Some(origin) = &lib.origin {
            properties.push(Property {
                name: "kiln:origin".into(),
                value: origin.display().to_string(),
            });
        }
        components.push(Component {
            kind: "library",
            bom_ref: Some(unique(format!("native:{soname}"))),
            name: soname,
            version: None,
            description: Some(lib.why.clone()),
            purl: None,
            licenses: Vec::new(),
            properties,
        });
    }

    let depends_on = components
        .iter()
        .filter_map(|c| c.bom_ref.clone())
        .collect();
    Bom {
        bom_format: "CycloneDX",
        spec_version: "1.5",
        serial_number: serial_number(report),
        version: 1,
        metadata: Metadata {
            timestamp: report.created.clone(),
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    bom_ref: None,
                    name: "kiln".into(),
                    version: Some(report.inputs.kiln_version.clone()),
                    description: None,
                    purl: None,
                    licenses: Vec::new(),
                    properties: Vec::new(),
                }],
            },
            component: Component {
                kind: "application",
                bom_ref: Some(app_ref.clone()),
                name: report.name.clone(),
                version: None,
                description: Some(format!("frozen from {}", report.inputs.entry)),
                purl: None,
                licenses: Vec::new(),
                properties: vec![Property {
                    name: "kiln:mode".into(),
                    value: match report.mode {
                        crate::config::OutputMode::Onedir => "onedir",
                        crate::config::OutputMode::Onefile => "onefile",
                    }
                    .into(),
                }],
            },
        },
        components,
        dependencies: vec![Dependency {
            reference: app_ref,
            depends_on,
        }],
    }
}

fn license_choice(l: &License) -> LicenseChoice {
    if l.spdx {
        LicenseChoice::Expression {
            expression: l.text.clone(),
        }
    } else {
        LicenseChoice::Named {
            license: NamedLicense {
                name: l.text.clone(),
            },
        }
    }
}

/// A version-4-shaped UUID URN, unique per document: hashed from the report, the time and the
/// process.
fn serial_number(report: &BuildReport) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{}|{}|{}|{}|{now}",
        report.name,
        report.inputs.settings_hash,
        report.created,
        std::process::id()
    );
    let mut b: [u8; 16] = blake3::hash(seed.as_bytes()).as_bytes()[..16]
        .try_into()
        .expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bom_has_the_required_structure() {
        let bom =
            serde_json::to_value(cyclonedx(&super::super::build_report::tests::sample())).unwrap();
        assert_eq!(bom["bomFormat"], "CycloneDX");
        assert_eq!(bom["specVersion"], "1.5");
        assert_eq!(bom["version"], 1);
        let serial = bom["serialNumber"].as_str().unwrap();
        assert!(
            serial.starts_with("urn:uuid:") && serial.len() == 45,
            "{serial}"
        );
        assert_eq!(&serial[23..24], "4", "{serial}");
        assert_eq!(bom["metadata"]["component"]["name"], "demo");
        assert_eq!(bom["metadata"]["component"]["type"], "application");
        assert_eq!(bom["metadata"]["tools"]["components"][0]["name"], "kiln");

        let components = bom["components"].as_array().unwrap();
        let mut refs = BTreeSet::new();
        refs.insert(bom["metadata"]["component"]["bom-ref"].as_str().unwrap());
        for c in components {
            assert!(c["type"].is_string() && c["name"].is_string(), "{c}");
            let r = c["bom-ref"]
                .as_str()
                .expect("every component has a bom-ref");
            assert!(refs.insert(r), "bom-ref {r} is not unique");
        }
        let by_name = |n: &str| components.iter().find(|c| c["name"] == n).unwrap();
        let foo = by_name("Foo_Bar");
        assert_eq!(foo["purl"], "pkg:pypi/foo-bar@1.0");
        assert_eq!(foo["licenses"][0]["expression"], "MIT");
        assert_eq!(by_name("legacy")["licenses"][0]["license"]["name"], "BSD");
        assert!(by_name("nolicence").get("licenses").is_none());
        let python = by_name("cpython");
        assert_eq!(python["purl"], "pkg:generic/cpython@3.11.7");
        assert_eq!(python["version"], "3.11.7");
        let ffi = by_name("libffi.so.8");
        assert_eq!(ffi["type"], "library");
        assert!(ffi.get("version").is_none() && ffi.get("purl").is_none());
        // libpython is part of cpython; vendored libraries belong to their distribution.
        assert!(!components
            .iter()
            .any(|c| c["name"] == "libpython3.11.so.1.0"));
        assert!(!components.iter().any(|c| c["name"] == "libopenblas.so"));

        let deps = bom["dependencies"].as_array().unwrap();
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0]["ref"], bom["metadata"]["component"]["bom-ref"]);
        for d in deps[0]["dependsOn"].as_array().unwrap() {
            assert!(refs.contains(d.as_str().unwrap()), "{d} names no component");
        }
    }

    #[test]
    fn names_are_normalised_for_purls() {
        assert_eq!(
            crate::installed::metadata::normalize_dist_name("Foo_Bar.baz"),
            "foo-bar-baz"
        );
        assert_eq!(
            crate::installed::metadata::normalize_dist_name("typing_extensions"),
            "typing-extensions"
        );
    }
}
