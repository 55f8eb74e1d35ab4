//! `kiln report`: find a build report, show the largest packages, write the HTML page.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::build_report::{BuildReport, GlibcRequirement, ReportError};
use super::human_bytes;

/// Errors of `kiln report`.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("no build report for {bundle}: expected {expected} (is it a bundle kiln built?)")]
    NoReport { bundle: PathBuf, expected: PathBuf },
    #[error("no build report (*.build-report.json) in {0}")]
    NoneIn(PathBuf),
    #[error("several build reports in {dir}: {}; name one", names.join(", "))]
    Several { dir: PathBuf, names: Vec<String> },
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error(transparent)]
    Report(#[from] ReportError),
}

const SUFFIX: &str = ".build-report.json";

/// The report `arg` points at: the report itself, a bundle (directory or onefile executable)
/// with its report beside it, or a directory holding exactly one report (default `dist`).
pub fn locate(arg: Option<&Path>) -> Result<PathBuf, ViewError> {
    let path = arg.unwrap_or(Path::new("dist"));
    if !path.exists() {
        return Err(ViewError::Missing(path.to_path_buf()));
    }
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    if path.is_file() && name.ends_with(".json") {
        return Ok(path.to_path_buf());
    }
    let is_bundle = path.is_file() || path.join(crate::write::RUNTIME_DIR).is_dir();
    if is_bundle {
        let expected = path.with_file_name(format!("{name}{SUFFIX}"));
        return if expected.is_file() {
            Ok(expected)
        } else {
            Err(ViewError::NoReport {
                bundle: path.to_path_buf(),
                expected,
            })
        };
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with(SUFFIX))
        })
        .collect();
    found.sort();
    match found.len() {
        0 => Err(ViewError::NoneIn(path.to_path_buf())),
        1 => Ok(found.remove(0)),
        _ => Err(ViewError::Several {
            dir: path.to_path_buf(),
            names: found
                .iter()
                .map(|p| {
                    p.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string()
                })
                .collect(),
        }),
    }
}

/// `DIR/NAME.report.html` for `DIR/NAME.build-report.json`.
/// `NAME.report.html` beside the report. `name` comes from the report file, so it is data: only
/// its last path component is used, and a name that is no plain file name becomes `report`.
pub fn default_html_path(report: &Path, name: &str) -> PathBuf {
    let plain = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.starts_with('.') && !n.chars().any(char::is_control) && n.len() <= 200)
        .unwrap_or("report");
    report.with_file_name(format!("{plain}.report.html"))
}

/// The size of one group of files: a distribution, or `app`, `stdlib`, `native`, `runtime`.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSize {
    pub name: String,
    pub version: Option<String>,
    pub license: Option<String>,
    pub files: usize,
    pub bytes: u64,
}

/// Every group, largest first.
pub fn group_sizes(report: &BuildReport) -> Vec<GroupSize> {
    let mut groups: Vec<GroupSize> = Vec::new();
    for f in &report.files {
        let i = match groups.iter().position(|g| g.name == f.group) {
            Some(i) => i,
            None => {
                let dist = report.distributions.iter().find(|d| d.name == f.group);
                let license = match dist {
                    Some(d) => d.license.as_ref().map(|l| l.text.clone()),
                    None if f.group == "stdlib" => Some("PSF-2.0".to_string()),
                    None => None,
                };
                groups.push(GroupSize {
                    name: f.group.clone(),
                    version: dist.map(|d| d.version.clone()),
                    license,
                    files: 0,
                    bytes: 0,
                });
                groups.len() - 1
            }
        };
        groups[i].files += 1;
        groups[i].bytes += f.size;
    }
    groups.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    groups
}

/// What `kiln report` found, for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    #[serde(serialize_with = "crate::lossy::path")]
    pub report: PathBuf,
    #[serde(serialize_with = "crate::lossy::path")]
    pub html: PathBuf,
    pub name: String,
    pub files: usize,
    pub bytes: u64,
    pub min_glibc: Option<GlibcRequirement>,
    /// The largest groups, largest first.
    pub top: Vec<GroupSize>,
    /// Groups left out of `top`.
    pub others: usize,
    pub others_bytes: u64,
}

impl ReportView {
    pub fn new(report: &BuildReport, path: &Path, html: &Path, top: usize) -> ReportView {
        let mut groups = group_sizes(report);
        let rest = groups.split_off(top.min(groups.len()));
        ReportView {
            report: path.to_path_buf(),
            html: html.to_path_buf(),
            name: report.name.clone(),
            files: report.totals.files,
            bytes: report.totals.bytes,
            min_glibc: report.portability.min_glibc.clone(),
            top: groups,
            others: rest.len(),
            others_bytes: rest.iter().map(|g| g.bytes).sum(),
        }
    }

    /// The table of the largest packages, then where the page went.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} in {} files",
            self.name,
            human_bytes(self.bytes),
            self.files
        );
        let width = self
            .top
            .iter()
            .map(|g| g.name.len())
            .max()
            .unwrap_or(0)
            .max("package".len());
        let _ = writeln!(
            s,
            "  {:<width$}  {:<10} {:>6} {:>11} {:>6}  licence",
            "package", "version", "files", "size", "share"
        );
        for g in &self.top {
            let share = if self.bytes == 0 {
                0.0
            } else {
                100.0 * g.bytes as f64 / self.bytes as f64
            };
            let line = format!(
                "  {:<width$}  {:<10} {:>6} {:>11} {:>5.1}%  {}",
                g.name,
                g.version.as_deref().unwrap_or(""),
                g.files,
                human_bytes(g.bytes),
                share,
                g.license.as_deref().unwrap_or("")
            );
            let _ = writeln!(s, "{}", line.trim_end());
        }
        if self.others > 0 {
            let _ = writeln!(
                s,
                "  ... {} more ({})",
                self.others,
                human_bytes(self.others_bytes)
            );
        }
        if let Some(g) = &self.min_glibc {
            let _ = writeln!(
                s,
                "needs glibc {} or newer (set by {})",
                g.version,
                g.file.display()
            );
        }
        let _ = writeln!(s, "wrote {}", self.html.display());
        s
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn the_page_name_from_a_report_stays_beside_it() {
        let report = Path::new("/out/dist/app.build-report.json");
        let page = |name| default_html_path(report, name);
        assert_eq!(page("app"), Path::new("/out/dist/app.report.html"));
        assert_eq!(page("../../x"), Path::new("/out/dist/x.report.html"));
        assert_eq!(
            page("/etc/passwd"),
            Path::new("/out/dist/passwd.report.html")
        );
        assert_eq!(page(".."), Path::new("/out/dist/report.report.html"));
        assert_eq!(page("a\nb"), Path::new("/out/dist/report.report.html"));
        assert_eq!(page(""), Path::new("/out/dist/report.report.html"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::build_report::tests::sample;
    use super::*;

    #[test]
    fn groups_are_summed_and_ordered_by_size() {
        let mut report = sample();
        report.files[0].size = 100;
        let groups = group_sizes(&report);
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["native", "numpy", "runtime"]);
        assert_eq!(groups[0].bytes, 100);
        let view = ReportView::new(&report, Path::new("r.json"), Path::new("r.html"), 2);
        assert_eq!((view.top.len(), view.others, view.others_bytes), (2, 1, 10));
        let text = view.render();
        assert!(text.contains("native"), "{text}");
        assert!(text.contains("... 1 more (10 B)"), "{text}");
        assert!(text.ends_with("wrote r.html\n"), "{text}");
    }

    #[test]
    fn a_report_is_found_from_its_bundle_or_its_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dist = tmp.path().join("dist");
        std::fs::create_dir_all(dist.join("app/_kiln")).unwrap();
        std::fs::write(dist.join("one"), "onefile executable").unwrap();
        let report = dist.join("app.build-report.json");
        std::fs::write(&report, "{}").unwrap();
        assert_eq!(locate(Some(&dist.join("app"))).unwrap(), report);
        assert_eq!(locate(Some(&report)).unwrap(), report);
        assert_eq!(locate(Some(&dist)).unwrap(), report);
        assert!(matches!(
            locate(Some(&dist.join("one"))),
            Err(ViewError::NoReport { .. })
        ));
        std::fs::write(dist.join("one.build-report.json"), "{}").unwrap();
        assert_eq!(
            locate(Some(&dist.join("one"))).unwrap(),
            dist.join("one.build-report.json")
        );
        assert!(matches!(
            locate(Some(&dist)),
            Err(ViewError::Several { .. })
        ));
        assert!(matches!(
            locate(Some(&tmp.path().join("nothing"))),
            Err(ViewError::Missing(_))
        ));
    }
}
