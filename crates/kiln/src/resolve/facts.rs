//! Facts about a resolved graph that the build, `kiln check` and the reports share: module
//! counts, missing imports and what decides whether they fail a build.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analyse::Condition;
use crate::interpreter::Interpreter;
use crate::resolve::{ModuleGraph, Origin};

/// The result of analysis, before anything is written: shared by `build` and `check`.
pub struct Analysis {
    pub interpreter: Interpreter,
    pub graph: ModuleGraph,
    /// Distributions reached only through other packages' optional imports.
    pub optional: Vec<crate::resolve::optional::OptionalIntegration>,
    pub timings: Vec<(String, f64)>,
}

/// Module counts by origin.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ModuleCounts {
    pub total: usize,
    pub app: usize,
    pub third_party: usize,
    pub stdlib: usize,
}

/// An import that names no installed module.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MissingImport {
    pub name: String,
    pub importer: String,
    #[serde(serialize_with = "crate::lossy::opt_path")]
    pub file: Option<PathBuf>,
    pub line: u32,
    pub condition: Condition,
    /// The import runs inside a function body: only when that function is called.
    #[serde(default)]
    pub in_function: bool,
    /// Imported by the app's own code.
    pub app: bool,
    pub reason: Option<String>,
    /// Put into `sys.modules` at run time by this `file:line`: not an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provided_by: Option<String>,
}

impl MissingImport {
    /// `path/to/file.py:12: import of `x` (...)`.
    pub fn describe(&self) -> String {
        let place = match &self.file {
            Some(f) => format!("{}:{}", f.display(), self.line),
            None => self.importer.clone(),
        };
        let detail = match (&self.provided_by, &self.reason) {
            (Some(by), _) => format!("provided at run time through sys.modules by {by}"),
            (None, Some(r)) => r.clone(),
            (None, None) => "no such module".into(),
        };
        format!("  {place}: `{}`: {detail}", self.name)
    }
}

/// Imports that cannot be found, most certain first.
pub fn missing_imports(graph: &ModuleGraph) -> Vec<MissingImport> {
    let mut out: Vec<MissingImport> = graph
        .missing
        .iter()
        .map(|m| {
            let importer = &graph.modules[m.importer];
            MissingImport {
                name: m.name.clone(),
                importer: importer.name.clone(),
                file: importer.file().map(Path::to_path_buf),
                line: m.line,
                condition: m.condition,
                in_function: m.in_function,
                app: importer.origin == Origin::App || m.required,
                reason: m.reason.clone(),
                provided_by: m.provided_by.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.condition, !a.app, &a.name, &a.importer).cmp(&(
            b.condition,
            !b.app,
            &b.name,
            &b.importer,
        ))
    });
    out
}

/// Missing imports that fail a build: the app's own unconditional imports.
pub fn fatal_missing(missing: &[MissingImport]) -> Vec<&MissingImport> {
    missing
        .iter()
        .filter(|m| m.app && m.condition == Condition::Always && m.provided_by.is_none())
        .collect()
}

/// Module counts by origin.
pub fn count_modules(graph: &ModuleGraph) -> ModuleCounts {
    let mut c = ModuleCounts::default();
    for (_, m) in graph.included() {
        c.total += 1;
        match m.origin {
            Origin::App => c.app += 1,
            Origin::ThirdParty => c.third_party += 1,
            Origin::Stdlib => c.stdlib += 1,
        }
    }
    c
}

/// Reaching a module the component excludes is an error: that component would fail.
/// Returns each such import with its file:line and chain.
pub fn excluded_reached(excluded: &[String], graph: &ModuleGraph) -> Vec<String> {
    let chains = graph.chains();
    let mut reached = Vec::new();
    for e in &graph.excluded {
        let excluded_here = excluded
            .iter()
            .any(|x| e.name == *x || e.name.starts_with(&format!("{x}.")));
        if !excluded_here || e.condition != crate::analyse::Condition::Always {
            continue;
        }
        let mut chain: Vec<String> = chains
            .chain(graph, e.importer)
            .unwrap_or_default()
            .iter()
            .map(|edge| graph.modules[edge.from].name.clone())
            .collect();
        chain.push(graph.modules[e.importer].name.clone());
        chain.push(e.name.clone());
        let file = graph.modules[e.importer]
            .file()
            .map(|f| format!("{}:{}", f.display(), e.line))
            .unwrap_or_default();
        reached.push(format!("  {file}: {}", chain.join(" -> ")));
    }
    reached
}
