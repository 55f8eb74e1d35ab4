//! What a build tells its user: the one-screen summary and its JSON form.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::analyse::Condition;

/// Module counts by origin.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ModuleCounts {
    pub total: usize,
    pub app: usize,
    pub third_party: usize,
    pub stdlib: usize,
}

/// An import that names no installed module.
#[derive(Debug, Clone, Serialize)]
pub struct MissingImport {
    pub name: String,
    pub importer: String,
    pub file: Option<PathBuf>,
    pub line: u32,
    pub condition: Condition,
    /// Imported by the app's own code.
    pub app: bool,
    pub reason: Option<String>,
}

impl MissingImport {
    /// `path/to/file.py:12: import of `x` (...)`.
    pub fn describe(&self) -> String {
        let place = match &self.file {
            Some(f) => format!("{}:{}", f.display(), self.line),
            None => self.importer.clone(),
        };
        let detail = match &self.reason {
            Some(r) => r.clone(),
            None => "no such module".into(),
        };
        format!("  {place}: `{}`: {detail}", self.name)
    }
}

/// The outcome of `kiln build`.
#[derive(Debug, Clone, Serialize)]
pub struct BuildSummary {
    pub name: String,
    pub executable: PathBuf,
    pub bundle_dir: PathBuf,
    pub python: PathBuf,
    pub python_version: String,
    pub modules: ModuleCounts,
    pub native_libraries: usize,
    pub extensions: usize,
    pub distributions: Vec<String>,
    pub files: usize,
    pub bytes: u64,
    pub seconds: f64,
    pub timings: Vec<(String, f64)>,
    pub missing: Vec<MissingImport>,
    pub missing_libraries: Vec<(String, String)>,
    pub warnings: Vec<String>,
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
        let _ = writeln!(s, "  size          {}", human_bytes(self.bytes));
        let optional = self
            .missing
            .iter()
            .filter(|x| x.condition != Condition::Always)
            .count();
        let other = self.missing.len() - optional;
        let _ = writeln!(
            s,
            "  missing       {other} third-party unconditional, {optional} optional or conditional"
        );
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

#[cfg(test)]
mod tests {
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
    pub file: Option<PathBuf>,
    pub line: u32,
    /// `static`, `from-import`, `parent`, `runtime`, `inferred`, `collected`.
    pub kind: String,
    pub detail: Option<String>,
    pub condition: Condition,
}

/// The answer to `kiln why MODULE`.
#[derive(Debug, Clone, Serialize)]
pub struct WhyExplanation {
    pub target: String,
    pub found: bool,
    pub chain: Vec<WhyStep>,
    /// Modules whose names are close, when the target is not in the graph.
    pub similar: Vec<String>,
}

/// Explains why `target` is in `graph`.
pub fn explain_why(graph: &crate::resolve::ModuleGraph, target: &str) -> WhyExplanation {
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
        return WhyExplanation {
            target: target.to_string(),
            found: false,
            chain: Vec::new(),
            similar: similar.into_iter().take(5).map(|(_, n)| n).collect(),
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
            };
            WhyStep {
                from: from.name.clone(),
                to: graph.modules[e.to].name.clone(),
                file: from.file().map(|p| p.to_path_buf()),
                line: e.line,
                kind: kind.to_string(),
                detail,
                condition: e.condition,
            }
        })
        .collect();
    WhyExplanation {
        target: target.to_string(),
        found: true,
        chain,
        similar: Vec::new(),
    }
}

impl WhyExplanation {
    pub fn render(&self) -> String {
        let mut s = String::new();
        if !self.found {
            let _ = writeln!(
                s,
                "{} is not in the bundle: nothing the entry runs imports it",
                self.target
            );
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
            let _ = writeln!(s, "]  {place}");
            if let Some(d) = &step.detail {
                let _ = writeln!(s, "      {d}");
            }
        }
        s
    }
}
