//! What a build tells its user: the one-screen summary and its JSON form, and the reports
//! written beside the bundle (`build_report`, `sbom`) with their views (`view`, `html`).

pub mod build_report;
pub mod html;
pub mod sbom;
pub mod view;

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::analyse::Condition;
use crate::resolve::optional::OptionalIntegration;

pub use crate::resolve::facts::{MissingImport, ModuleCounts};

/// The outcome of `kiln build`.
#[derive(Debug, Clone, Serialize)]
pub struct BuildSummary {
    pub name: String,
    #[serde(serialize_with = "crate::lossy::path")]
    pub executable: PathBuf,
    /// The bundle directory, or for onefile the executable itself.
    #[serde(serialize_with = "crate::lossy::path")]
    pub bundle_dir: PathBuf,
    pub mode: crate::config::OutputMode,
    /// Size of the onefile executable (`bytes` is the size once unpacked).
    pub onefile_bytes: Option<u64>,
    #[serde(serialize_with = "crate::lossy::path")]
    pub python: PathBuf,
    pub python_version: String,
    pub modules: ModuleCounts,
    pub native_libraries: usize,
    pub extensions: usize,
    pub distributions: Vec<String>,
    pub files: usize,
    pub bytes: u64,
    /// Of `bytes`, GPU distributions' files (NVIDIA's CUDA wheels, triton).
    pub gpu_bytes: u64,
    /// `cpu-only` left out the GPU libraries nothing links.
    pub cpu_only: bool,
    pub seconds: f64,
    pub timings: Vec<(String, f64)>,
    pub missing: Vec<MissingImport>,
    pub missing_libraries: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// The oldest glibc the bundle runs with, and the file that needs it.
    pub min_glibc: Option<build_report::GlibcRequirement>,
    /// `DIR/NAME.build-report.json`.
    #[serde(serialize_with = "crate::lossy::path")]
    pub report: PathBuf,
    /// `DIR/NAME.cdx.json`, the CycloneDX SBOM.
    #[serde(serialize_with = "crate::lossy::path")]
    pub sbom: PathBuf,
    /// The Debian package `--format deb` wrote.
    #[serde(serialize_with = "crate::lossy::opt_path")]
    pub deb: Option<PathBuf>,
    /// Distributions reached only through other packages' optional imports.
    pub optional: Vec<crate::resolve::optional::OptionalIntegration>,
}

impl BuildSummary {
    /// The one-screen text summary; `verbose` adds every warning and missing import.
    pub fn render(&self, verbose: bool) -> String {
        let mut s = String::new();
        let m = &self.modules;
        let _ = writeln!(s, "built {} in {:.1}s", self.name, self.seconds);
        let _ = writeln!(
            s,
            "  interpreter   CPython {} ({})",
            self.python_version,
            self.python.display()
        );
        let _ = writeln!(
            s,
            "  modules       {} (app {}, third-party {}, stdlib {})",
            m.total, m.app, m.third_party, m.stdlib
        );
        let _ = writeln!(s, "  extensions    {}", self.extensions);
        let _ = writeln!(s, "  native libs   {}", self.native_libraries);
        let _ = writeln!(s, "  distributions {}", self.distributions.len());
        let _ = writeln!(s, "  files         {}", self.files);
        let _ = match self.onefile_bytes {
            Some(packed) => writeln!(
                s,
                "  size          {} in one file ({} unpacked)",
                human_bytes(packed),
                human_bytes(self.bytes)
            ),
            None => writeln!(s, "  size          {}", human_bytes(self.bytes)),
        };
        if self.gpu_bytes > 0 {
            let _ = if self.cpu_only {
                writeln!(
                    s,
                    "  gpu           {} of it: the CUDA libraries the bundle links (cpu-only left \
                     out triton and the ones nothing links)",
                    human_bytes(self.gpu_bytes)
                )
            } else {
                writeln!(
                    s,
                    "  gpu           {} of it: CUDA libraries and triton, for NVIDIA machines; \
                     `--cpu-only` leaves out what nothing links",
                    human_bytes(self.gpu_bytes)
                )
            };
        }
        if let Some(g) = &self.min_glibc {
            let _ = writeln!(
                s,
                "  glibc         {} or newer (set by {})",
                g.version,
                g.file.display()
            );
        }
        if let Some(line) = missing_line(&self.missing) {
            let _ = writeln!(s, "  missing       {line}");
        }
        for (i, line) in render_optional(&self.optional, verbose).iter().enumerate() {
            let label = if i == 0 { "optional" } else { "" };
            let _ = writeln!(s, "  {label:<13} {line}");
        }
        if verbose {
            for (stage, secs) in &self.timings {
                let _ = writeln!(s, "  time {stage:<9} {secs:.2}s");
            }
            for x in &self.missing {
                let _ = writeln!(s, "  missing {:?}{}", x.condition, x.describe());
            }
            for w in &self.warnings {
                let _ = writeln!(s, "  warning: {w}");
            }
        } else if !self.warnings.is_empty() {
            let _ = writeln!(s, "  warnings      {} (-v lists them)", self.warnings.len());
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
        let _ = writeln!(s, "  run           {}", self.executable.display());
        s
    }
}

/// `12.3 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The summary's count of modules imported but not installed: modules, not import sites (one
/// is often imported in many places), those third-party code imports at module level apart
/// from those only imported in functions, branches or `try`.
fn missing_line(missing: &[MissingImport]) -> Option<String> {
    let mut top_level = std::collections::BTreeSet::new();
    let mut elsewhere = std::collections::BTreeSet::new();
    for x in missing {
        if x.condition == Condition::Always && !x.in_function {
            top_level.insert(x.name.as_str());
        } else {
            elsewhere.insert(x.name.as_str());
        }
    }
    elsewhere.retain(|n| !top_level.contains(n));
    if top_level.is_empty() && elsewhere.is_empty() {
        return None;
    }
    Some(format!(
        "{} modules not installed: {} imported at module level by third-party code, {} only in \
         functions, branches or `try` (-v lists them)",
        top_level.len() + elsewhere.len(),
        top_level.len(),
        elsewhere.len()
    ))
}

/// Summary lines: one per integration, largest first, and what to do about them.
pub fn render_optional(found: &[OptionalIntegration], verbose: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let shown = if verbose {
        found.len()
    } else {
        found.len().min(4)
    };
    for o in &found[..shown] {
        let via = match &o.required_by {
            Some(by) => format!("required by {by}"),
            // Line 0: found in compiled code, not at a line of source.
            None if o.via.1 == 0 => format!("via {}", o.via.0),
            None => format!("via {}:{}", o.via.0, o.via.1),
        };
        lines.push(format!(
            "{} {} ({}, {via}){}",
            o.distribution,
            o.version,
            human_bytes(o.installed_bytes),
            if o.skipped { ", left out" } else { "" }
        ));
    }
    if shown < found.len() {
        lines.push(format!("and {} more (-v lists them)", found.len() - shown));
    }
    if found.iter().any(|o| !o.skipped) {
        lines.push(
            "reached only through other packages' optional imports; `optional-integrations = \"skip\"` \
             or `exclude` leaves them out"
                .to_string(),
        );
    }
    if let Some(first) = found.iter().find(|o| o.skipped) {
        let root = first.roots.first().map(String::as_str).unwrap_or("NAME");
        lines.push(format!(
            "left out: reached only through other packages' optional imports or guesses, and no \
             declared dependency names them; `--hidden-import {root}` (or `hidden-imports`) brings \
             one back, `optional-integrations = \"include\"` all"
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_modules_are_counted_once_by_where_they_are_imported() {
        let import = |name: &str, condition, in_function| MissingImport {
            name: name.into(),
            importer: "lib.mod".into(),
            file: None,
            line: 1,
            condition,
            in_function,
            app: false,
            reason: None,
            provided_by: None,
        };
        assert_eq!(missing_line(&[]), None);
        let line = missing_line(&[
            import("IPython", Condition::Always, true),
            import("IPython", Condition::Always, false),
            import("IPython", Condition::Always, false),
            import("cupy", Condition::Optional, false),
            import("numba", Condition::Always, true),
        ])
        .unwrap();
        assert!(
            line.starts_with("3 modules not installed: 1 imported at module level by third-party code, 2 only in"),
            "{line}"
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(48 * 1024 * 1024), "48.0 MiB");
    }
}

/// One step of a why-chain.
#[derive(Debug, Clone, Serialize)]
pub struct WhyStep {
    pub from: String,
    pub to: String,
    #[serde(serialize_with = "crate::lossy::opt_path")]
    pub file: Option<PathBuf>,
    pub line: u32,
    /// `static`, `from-import`, `parent`, `runtime`, `inferred`, `collected`.
    pub kind: String,
    pub detail: Option<String>,
    pub condition: Condition,
    /// How sure the step's evidence is: `certain`, `conditional` or `speculative`.
    pub strength: crate::resolve::Strength,
}

/// The answer to `kiln why MODULE`.
#[derive(Debug, Clone, Serialize)]
pub struct WhyExplanation {
    pub target: String,
    pub found: bool,
    pub chain: Vec<WhyStep>,
    /// Modules whose names are close, when the target is not in the graph.
    pub similar: Vec<String>,
    /// Why an import of the target was not followed, when one was left out on purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_out: Option<String>,
}

/// Explains why `target` is in `graph`; `optional` are the build's optional integrations, which
/// say why a module of one that was left out is not in it.
pub fn explain_why(
    graph: &crate::resolve::ModuleGraph,
    optional: &[crate::resolve::optional::OptionalIntegration],
    target: &str,
) -> WhyExplanation {
    use crate::resolve::EdgeKind;
    let Some(id) = graph
        .get(target)
        .filter(|&id| graph.modules[id].skipped.is_none())
    else {
        let mut similar: Vec<(f64, String)> = graph
            .included()
            .map(|(_, m)| (strsim::jaro_winkler(target, &m.name), m.name.clone()))
            .filter(|(s, _)| *s > 0.85)
            .collect();
        similar.sort_by(|a, b| b.0.total_cmp(&a.0));
        let integration = optional.iter().filter(|o| o.skipped).find(|o| {
            o.roots
                .iter()
                .any(|r| target == r || target.starts_with(&format!("{r}.")))
        });
        let left_out = integration.map(|o| {
            format!(
                "it belongs to {} {} ({}), an optional integration left out: the app reaches it \
                 only through other packages' optional imports (first {}:{}), and no declared \
                 dependency names it; `--hidden-import {}` (or `hidden-imports`) brings it back",
                o.distribution,
                o.version,
                human_bytes(o.installed_bytes),
                o.via.0,
                o.via.1,
                o.roots.first().map_or(target, String::as_str),
            )
        });
        let left_out = left_out.or_else(|| {
            graph.fallbacks.iter().find(|f| f.name == target).map(|f| {
                let importer = &graph.modules[f.importer];
                format!(
                    "{}:{} imports it only when its `try` fails to import modules built into the \
                 interpreter or shipped as its extension modules, so that fallback is not followed",
                    importer
                        .file()
                        .map_or(importer.name.clone(), |p| p.display().to_string()),
                    f.line
                )
            })
        });
        // Left-out integrations are not read: what only they import is never reached.
        let left_out = left_out.or_else(|| {
            let skipped: Vec<&str> = optional
                .iter()
                .filter(|o| o.skipped)
                .map(|o| o.distribution.as_str())
                .collect();
            (!skipped.is_empty()).then(|| {
                format!(
                    "nothing the bundle's code imports it; the optional integrations left out \
                     ({}) are not read, so what only they import is not followed either",
                    skipped.join(", ")
                )
            })
        });
        return WhyExplanation {
            target: target.to_string(),
            found: false,
            chain: Vec::new(),
            similar: similar.into_iter().take(5).map(|(_, n)| n).collect(),
            left_out,
        };
    };
    let chain = graph
        .chain_to(id)
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let from = &graph.modules[e.from];
            let (kind, detail) = match &e.kind {
                EdgeKind::Import { .. } => ("static", None),
                EdgeKind::FromImport => ("from-import", None),
                EdgeKind::Parent => (
                    "parent",
                    Some("a submodule imports its package first".to_string()),
                ),
                EdgeKind::Runtime => (
                    "runtime",
                    Some("needed to start the interpreter or the app".to_string()),
                ),
                EdgeKind::Inferred { rule } => ("inferred", Some(rule.clone())),
                EdgeKind::Collected { reason } => ("collected", Some(reason.clone())),
                EdgeKind::Hook { source } => ("hook", Some(source.clone())),
                EdgeKind::Traced => (
                    "traced",
                    Some(format!(
                        "imported by the run recorded in {}",
                        crate::trace::TRACE_FILE
                    )),
                ),
            };
            WhyStep {
                from: from.name.clone(),
                to: graph.modules[e.to].name.clone(),
                file: from.file().map(|p| p.to_path_buf()),
                line: e.line,
                kind: kind.to_string(),
                detail,
                condition: e.condition,
                strength: e.strength(),
            }
        })
        .collect();
    WhyExplanation {
        target: target.to_string(),
        found: true,
        chain,
        similar: Vec::new(),
        left_out: None,
    }
}

impl WhyExplanation {
    pub fn render(&self) -> String {
        let mut s = String::new();
        if !self.found {
            match &self.left_out {
                Some(reason) => {
                    let _ = writeln!(s, "{} is not in the bundle: {reason}", self.target);
                }
                None => {
                    let _ = writeln!(
                        s,
                        "{} is not in the bundle: nothing the entry runs imports it",
                        self.target
                    );
                }
            }
            if !self.similar.is_empty() {
                let _ = writeln!(s, "similar modules that are: {}", self.similar.join(", "));
            }
            return s;
        }
        if self.chain.is_empty() {
            let _ = writeln!(s, "{} is the entry", self.target);
            return s;
        }
        let _ = writeln!(s, "{} is in the bundle because:", self.target);
        for step in &self.chain {
            let place = match &step.file {
                Some(f) if step.line > 0 => format!("{}:{}", f.display(), step.line),
                Some(f) => f.display().to_string(),
                None => step.from.clone(),
            };
            let _ = write!(s, "  {} -> {}  [{}", step.from, step.to, step.kind);
            if step.condition != Condition::Always {
                let _ = write!(s, ", {:?}", step.condition);
            }
            let _ = write!(s, ", {}", step.strength.as_str());
            let _ = writeln!(s, "]  {place}");
            if let Some(d) = &step.detail {
                let _ = writeln!(s, "      {d}");
            }
        }
        s
    }
}

/// One unresolved import with the chain that reaches its importer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckFinding {
    #[serde(flatten)]
    pub missing: MissingImport,
    /// Modules from the entry to the importer.
    pub chain: Vec<String>,
}

/// The answer to `kiln check`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub entry: String,
    #[serde(serialize_with = "crate::lossy::opt_path")]
    pub config: Option<PathBuf>,
    #[serde(serialize_with = "crate::lossy::path")]
    pub python: PathBuf,
    pub python_version: String,
    pub modules: ModuleCounts,
    /// The app's own unconditional imports of modules that are not installed.
    pub errors: Vec<CheckFinding>,
    /// Imports guarded by `try/except ImportError`.
    pub optional: Vec<CheckFinding>,
    /// Imports that only run on another platform.
    pub platform_only: Vec<CheckFinding>,
    /// Imports inside branches, and third-party unconditional imports.
    pub conditional: Vec<CheckFinding>,
    /// Third-party or stdlib files that do not parse.
    pub skipped: Vec<String>,
    /// Distributions reached only through other packages' optional imports.
    pub optional_integrations: Vec<crate::resolve::optional::OptionalIntegration>,
    /// The recorded run the build uses as evidence, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceStatus>,
}

/// The state of `kiln-trace.json` for `kiln check`.
#[derive(Debug, Clone, Serialize)]
pub struct TraceStatus {
    #[serde(serialize_with = "crate::lossy::path")]
    pub path: PathBuf,
    pub modules: usize,
    pub files: usize,
    /// App files changed since the run was recorded (newest first, a few).
    pub older_than: Vec<PathBuf>,
}

/// Groups what analysis found for `kiln check`.
pub fn check_report(
    settings: &crate::config::BuildSettings,
    analysis: &crate::resolve::facts::Analysis,
) -> CheckReport {
    let graph = &analysis.graph;
    let mut report = CheckReport {
        entry: match &settings.entry {
            crate::resolve::EntryPoint::Script(p) => p.display().to_string(),
            crate::resolve::EntryPoint::Module(m) => format!("-m {m}"),
            crate::resolve::EntryPoint::Call { module, function } => {
                format!("-m {module}:{function}")
            }
        },
        config: settings.config_path.clone(),
        python: analysis.interpreter.executable.clone(),
        python_version: analysis.interpreter.version_string(),
        modules: crate::resolve::facts::count_modules(graph),
        errors: Vec::new(),
        optional: Vec::new(),
        platform_only: Vec::new(),
        conditional: Vec::new(),
        skipped: graph
            .modules
            .iter()
            .filter_map(|m| m.skipped.as_ref().map(|w| format!("{}: {w}", m.name)))
            .collect(),
        optional_integrations: analysis.optional.clone(),
        trace: crate::trace::load(settings).ok().flatten().map(|trace| {
            let app_files: Vec<&std::path::Path> = graph
                .modules
                .iter()
                .filter(|m| m.origin == crate::resolve::Origin::App)
                .filter_map(|m| m.file())
                .collect();
            TraceStatus {
                path: crate::trace::path_for(settings),
                modules: trace.modules.len(),
                files: trace.files.len(),
                older_than: crate::trace::newer_than(&trace, &app_files, 3),
            }
        }),
    };
    let chains = graph.chains();
    for m in crate::resolve::facts::missing_imports(graph) {
        let chain = graph
            .get(&m.importer)
            .and_then(|id| chains.chain(graph, id))
            .map(|edges| {
                let mut names: Vec<String> = edges
                    .iter()
                    .map(|e| graph.modules[e.from].name.clone())
                    .collect();
                names.push(m.importer.clone());
                names
            })
            .unwrap_or_else(|| vec![m.importer.clone()]);
        let finding = CheckFinding { missing: m, chain };
        let group = match (finding.missing.condition, finding.missing.app) {
            _ if finding.missing.provided_by.is_some() => &mut report.conditional,
            (Condition::Always, true) => &mut report.errors,
            (Condition::Optional, _) => &mut report.optional,
            (Condition::OtherPlatform, _) => &mut report.platform_only,
            _ => &mut report.conditional,
        };
        group.push(finding);
    }
    report
}

impl CheckReport {
    pub fn render(&self, verbose: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "entry        {}", self.entry);
        let _ = writeln!(
            s,
            "config       {}",
            self.config
                .as_ref()
                .map_or("none (flags and defaults)".to_string(), |p| p
                    .display()
                    .to_string())
        );
        let _ = writeln!(
            s,
            "interpreter  CPython {} ({})",
            self.python_version,
            self.python.display()
        );
        if let Some(t) = &self.trace {
            let _ = writeln!(
                s,
                "trace        {}: {} modules, {} data files",
                t.path.display(),
                t.modules,
                t.files
            );
            if !t.older_than.is_empty() {
                let names: Vec<String> = t
                    .older_than
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                let _ = writeln!(
                    s,
                    "             older than {}: run `kiln trace` again to record what they load",
                    names.join(", ")
                );
            }
        }
        let m = &self.modules;
        let _ = writeln!(
            s,
            "modules      {} (app {}, third-party {}, stdlib {})",
            m.total, m.app, m.third_party, m.stdlib
        );
        let groups: [(&str, &Vec<CheckFinding>, bool); 4] = [
            (
                "error: not installed, imported unconditionally by the app",
                &self.errors,
                true,
            ),
            (
                "optional: guarded by try/except ImportError",
                &self.optional,
                false,
            ),
            (
                "platform-only: runs only on other platforms",
                &self.platform_only,
                false,
            ),
            (
                "conditional: inside branches, or third-party",
                &self.conditional,
                false,
            ),
        ];
        for (title, findings, always) in groups {
            let shown: Vec<&CheckFinding> = findings
                .iter()
                .filter(|f| always || verbose || f.missing.app)
                .collect();
            let _ = writeln!(s, "{} {title}", findings.len());
            for f in shown {
                let _ = writeln!(s, "{}", f.missing.describe());
                let _ = writeln!(s, "      via {}", f.chain.join(" -> "));
            }
        }
        if !self.optional_integrations.is_empty() {
            let _ = writeln!(
                s,
                "{} optional integrations: installed, reached only through other packages' optional imports",
                self.optional_integrations.len()
            );
            for line in render_optional(&self.optional_integrations, verbose) {
                let _ = writeln!(s, "      {line}");
            }
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(s, "{} files skipped (do not parse)", self.skipped.len());
            if verbose {
                for w in &self.skipped {
                    let _ = writeln!(s, "  {w}");
                }
            }
        }
        let _ = writeln!(
            s,
            "{}",
            if self.errors.is_empty() {
                "ok: nothing blocks a build"
            } else {
                "check failed"
            }
        );
        s
    }
}

/// The graph as JSON for tools: modules, edges and missing imports.
pub fn graph_json(graph: &crate::resolve::ModuleGraph) -> serde_json::Value {
    let modules: Vec<serde_json::Value> = graph
        .included()
        .map(|(_, m)| {
            serde_json::json!({
                "name": m.name,
                "origin": m.origin,
                "kind": m.kind,
                "file": m.file().map(|f| f.to_string_lossy()),
            })
        })
        .collect();
    let edges: Vec<serde_json::Value> = graph
        .edges
        .iter()
        .map(|e| {
            serde_json::json!({
                "from": graph.modules[e.from].name,
                "to": graph.modules[e.to].name,
                "line": e.line,
                "kind": e.kind,
                "condition": e.condition,
                "in_function": e.in_function,
            })
        })
        .collect();
    serde_json::json!({ "modules": modules, "edges": edges, "missing": crate::resolve::facts::missing_imports(graph) })
}

/// The graph in Graphviz DOT.
pub fn graph_dot(graph: &crate::resolve::ModuleGraph) -> String {
    use crate::resolve::Origin;
    let mut s = String::from("digraph kiln {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
    for (_, m) in graph.included() {
        let color = match m.origin {
            Origin::App => "lightblue",
            Origin::ThirdParty => "khaki",
            Origin::Stdlib => "lightgrey",
        };
        let _ = writeln!(s, "  {:?} [style=filled, fillcolor={color}];", m.name);
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in &graph.edges {
        let (from, to) = (&graph.modules[e.from].name, &graph.modules[e.to].name);
        if seen.insert((from, to)) {
            let _ = writeln!(s, "  {from:?} -> {to:?};");
        }
    }
    s.push_str("}\n");
    s
}
