//! Suites: several executables sharing one runtime. Each component gets its own module
//! closure; the bundle holds the union once, one launcher per component (`NAME-COMPONENT`),
//! and a dispatcher (`NAME COMPONENT ...`). In onefile form the dispatcher carries the runtime
//! as its payload and the component launchers run from that same payload's cache entry.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{BuildSettings, OutputMode};
use crate::plan::{BundlePlan, ComponentBuild};
use crate::report::human_bytes;
use crate::write::{self, WriteOutput, RUNTIME_DIR};

/// One component in the suite summary.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentSummary {
    pub name: String,
    pub executable: PathBuf,
    pub modules: usize,
    /// Bytes of files no other component needs.
    pub unique_bytes: u64,
    /// Bytes of files this component shares with at least one other.
    pub shared_bytes: u64,
    /// Size of its executable as written (for onefile, a launcher without a payload).
    pub executable_bytes: u64,
}

/// The outcome of building a suite.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteSummary {
    pub name: String,
    pub bundle_dir: PathBuf,
    pub mode: OutputMode,
    pub dispatcher: PathBuf,
    /// Size of the dispatcher as written (for onefile, with the payload: the whole runtime).
    pub dispatcher_bytes: u64,
    pub components: Vec<ComponentSummary>,
    /// Bytes of the suite as written: every file in `bundle_dir`.
    pub total_bytes: u64,
    /// Onefile: the size of the runtime once unpacked (None for onedir).
    pub unpacked_bytes: Option<u64>,
    /// What one separate bundle per component would take together (for onefile, estimated
    /// with the compression ratio of the suite's payload).
    pub separate_bytes: u64,
    pub seconds: f64,
    pub warnings: Vec<String>,
    /// `DIR/NAME.build-report.json`, as for a single app.
    #[serde(serialize_with = "crate::lossy::path")]
    pub report: PathBuf,
    /// `DIR/NAME.cdx.json`, the CycloneDX SBOM.
    #[serde(serialize_with = "crate::lossy::path")]
    pub sbom: PathBuf,
    /// The Debian package `--format deb` wrote.
    #[serde(serialize_with = "crate::lossy::opt_path")]
    pub deb: Option<PathBuf>,
}

impl SuiteSummary {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "built suite {} in {:.1}s", self.name, self.seconds);
        let _ = writeln!(
            s,
            "  {:<16} {:>8} {:>12} {:>12}",
            "component", "modules", "unique", "shared"
        );
        for c in &self.components {
            let _ = writeln!(
                s,
                "  {:<16} {:>8} {:>12} {:>12}",
                c.name,
                c.modules,
                human_bytes(c.unique_bytes),
                human_bytes(c.shared_bytes)
            );
        }
        let saved = 100.0 * (1.0 - self.total_bytes as f64 / self.separate_bytes.max(1) as f64);
        match self.unpacked_bytes {
            None => {
                let _ = writeln!(
                    s,
                    "  total {} (separate bundles: {}, {saved:.0}% saved)",
                    human_bytes(self.total_bytes),
                    human_bytes(self.separate_bytes),
                );
            }
            Some(unpacked) => {
                let _ = writeln!(
                    s,
                    "  total {} (separate onefile executables: about {}, {saved:.0}% saved)",
                    human_bytes(self.total_bytes),
                    human_bytes(self.separate_bytes),
                );
                let launcher = self
                    .components
                    .iter()
                    .map(|c| c.executable_bytes)
                    .max()
                    .unwrap_or(0);
                let _ = writeln!(
                    s,
                    "  written       {} {} with the runtime ({} unpacked), {} component \
                     launchers of {}",
                    self.name,
                    human_bytes(self.dispatcher_bytes),
                    human_bytes(unpacked),
                    self.components.len(),
                    human_bytes(launcher)
                );
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "  warnings      {}", self.warnings.len());
        }
        let _ = writeln!(
            s,
            "  report        {} (`kiln report` draws it), SBOM {}",
            self.report.display(),
            self.sbom.display()
        );
        if let Some(deb) = &self.deb {
            let _ = writeln!(s, "  package       {}", deb.display());
        }
        let _ = writeln!(
            s,
            "  run           {} COMPONENT, or {}-COMPONENT",
            self.dispatcher.display(),
            self.dispatcher.display()
        );
        s
    }
}

/// The suite's summary: per component, what it alone needs and what it shares, against what
/// separate bundles would take.
pub fn summary(
    settings: &BuildSettings,
    built: &[ComponentBuild],
    plan: &BundlePlan,
    written: &WriteOutput,
    warnings: Vec<String>,
    seconds: f64,
    reports: crate::report::build_report::ReportFiles,
) -> SuiteSummary {
    let sizes: HashMap<&PathBuf, u64> = written.sizes.iter().map(|(p, s)| (p, *s)).collect();
    let size_of = |dest: &PathBuf| {
        sizes
            .get(&PathBuf::from(RUNTIME_DIR).join(dest))
            .copied()
            .unwrap_or(0)
    };
    let launcher_bytes = write::LAUNCHER.len() as u64;
    let file_size = |path: &PathBuf| std::fs::metadata(path).map_or(0, |m| m.len());
    let dispatcher = written.bundle_dir.join(&settings.name);
    let dispatcher_bytes = file_size(&dispatcher);
    // Onefile: how much the payload compresses the runtime, to estimate separate executables.
    let ratio = match settings.output {
        OutputMode::Onedir => 1.0,
        OutputMode::Onefile => {
            dispatcher_bytes.saturating_sub(launcher_bytes) as f64 / written.bytes.max(1) as f64
        }
    };
    let mut components = Vec::new();
    let mut separate_bytes = 0;
    for (index, c) in built.iter().enumerate() {
        let (mut unique, mut shared) = (0, 0);
        for (dest, who) in &plan.users {
            if !who.contains(&index) {
                continue;
            }
            if who.len() == 1 {
                unique += size_of(dest);
            } else {
                shared += size_of(dest);
            }
        }
        // A separate bundle: its files, its launcher and the interpreter front (for onefile,
        // the front is in the payload).
        separate_bytes += match settings.output {
            OutputMode::Onedir => unique + shared + 2 * launcher_bytes,
            OutputMode::Onefile => {
                ((unique + shared + launcher_bytes) as f64 * ratio) as u64 + launcher_bytes
            }
        };
        let executable = written
            .bundle_dir
            .join(format!("{}-{}", settings.name, c.name));
        components.push(ComponentSummary {
            name: c.name.clone(),
            executable_bytes: file_size(&executable),
            executable,
            modules: c.analysis.graph.included().count(),
            unique_bytes: unique,
            shared_bytes: shared,
        });
    }
    let (total_bytes, unpacked_bytes) = match settings.output {
        OutputMode::Onedir => (written.bytes, None),
        OutputMode::Onefile => (
            dispatcher_bytes + components.iter().map(|c| c.executable_bytes).sum::<u64>(),
            Some(written.bytes),
        ),
    };
    SuiteSummary {
        name: settings.name.clone(),
        mode: settings.output,
        dispatcher,
        dispatcher_bytes,
        bundle_dir: written.bundle_dir.clone(),
        components,
        total_bytes,
        unpacked_bytes,
        separate_bytes,
        seconds,
        warnings,
        report: reports.report,
        sbom: reports.sbom,
        deb: None,
    }
}
