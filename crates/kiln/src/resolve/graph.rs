//! The module graph: every module the app can import, who imports whom, from where, and what
//! could not be found.

use std::path::PathBuf;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use super::finder::{FileKind, Location, SearchEntry};
use crate::analyse::{Condition, Via};

/// Index of a module in [`ModuleGraph::modules`].
pub type ModuleId = usize;

/// Whose code a module is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    App,
    ThirdParty,
    Stdlib,
}

/// How a module is loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ModuleKind {
    /// A single file (`.py`, `.pyc` or an extension module).
    File {
        #[serde(serialize_with = "crate::lossy::path")]
        path: PathBuf,
        file: FileKind,
    },
    /// A regular package: its `__init__` file and its directory.
    Package {
        #[serde(serialize_with = "crate::lossy::path")]
        init: PathBuf,
        file: FileKind,
    },
    /// A namespace package (no `__init__`), made of one or more directories.
    Namespace,
    /// Compiled into the interpreter.
    Builtin,
    /// Frozen into the interpreter with no file on the search path.
    Frozen,
}

impl ModuleKind {
    /// The loader a file-backed module needs.
    pub fn file_kind(&self) -> Option<FileKind> {
        match self {
            ModuleKind::File { file, .. } | ModuleKind::Package { file, .. } => Some(*file),
            _ => None,
        }
    }
}

/// One module of the graph.
#[derive(Debug, Clone, Serialize)]
pub struct Module {
    pub name: String,
    pub kind: ModuleKind,
    pub origin: Origin,
    /// The search path entry the module was found in (None for builtin and frozen modules).
    pub entry: Option<usize>,
    /// `__path__` of a package: its directories with their search entries.
    pub package_dirs: Vec<Location>,
    /// Frozen into the interpreter (it is still shipped when a file exists).
    pub frozen: bool,
    /// The file could not be parsed; it is left out of the bundle.
    pub skipped: Option<String>,
    /// A literal `__all__`, once the module has been analysed.
    #[serde(skip)]
    pub exports: Option<Vec<String>>,
}

impl Module {
    pub fn is_package(&self) -> bool {
        matches!(
            self.kind,
            ModuleKind::Package { .. } | ModuleKind::Namespace
        )
    }

    /// The file that defines the module, if any.
    pub fn file(&self) -> Option<&std::path::Path> {
        match &self.kind {
            ModuleKind::File { path, .. } => Some(path),
            ModuleKind::Package { init, .. } => Some(init),
            _ => None,
        }
    }

    pub fn file_kind(&self) -> Option<FileKind> {
        self.kind.file_kind()
    }
}

/// Why one module is in the graph because of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EdgeKind {
    /// An import the source code states.
    Import { via: Via },
    /// `from package import submodule`.
    FromImport,
    /// A module needs its parent package imported first.
    Parent,
    /// Needed for the interpreter to start, or by the bundle's boot code.
    Runtime,
    /// Inferred from code that computes module names at run time.
    Inferred { rule: String },
    /// Collected whole by built-in package knowledge or configuration.
    Collected { reason: String },
    /// Named by a hook (built-in or the user's) or the project's configuration.
    Hook { source: String },
    /// Imported by a recorded run of the app (`kiln trace`).
    Traced,
}

/// `from` needs `to`.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub from: ModuleId,
    pub to: ModuleId,
    /// 1-based line in `from`'s file (0 when not from a statement).
    pub line: u32,
    pub kind: EdgeKind,
    pub condition: Condition,
    /// The import runs inside a function body: only when that function is called.
    pub in_function: bool,
}

/// How sure the evidence behind an edge is.
///
/// Ordered from most to least sure. A certain edge runs whenever its importer is imported; a
/// conditional one is an import the source states that runs only sometimes; a speculative one
/// is a guess from a rule that cannot see the run. `resolve::optional` lets only certain edges
/// of third-party code bring a distribution in by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// A module-level import, a parent package, what the interpreter needs, what a hook or the
    /// configuration names.
    Certain,
    /// An import the source states that runs only in a function, in a branch whose outcome is
    /// unknown, or under a `try` that tolerates its failure.
    Conditional,
    /// Inferred: a string that looks like a module name, a name in compiled code, every
    /// submodule of a package that loads them by computed name, an entry point group's members.
    Speculative,
}

impl Strength {
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Certain => "certain",
            Strength::Conditional => "conditional",
            Strength::Speculative => "speculative",
        }
    }
}

/// The rule of an edge from a lazy package to its submodule named by an attribute the app's
/// code reads of it: its `__getattr__` imports that submodule, as `import package.name` would.
pub(crate) const LAZY_SUBMODULE_RULE: &str =
    "an attribute read of this lazy package is its submodule, which its __getattr__ imports";

/// The rule of an edge the interpreter's own build makes certain: a module imports a name it
/// computes from its build (`_sysconfigdata_*`), which the probe read from that interpreter.
pub(crate) const INTERPRETER_RULE: &str = "imported under a name this interpreter build computes";

impl Edge {
    /// How sure this edge's evidence is.
    pub fn strength(&self) -> Strength {
        match &self.kind {
            EdgeKind::Import { .. } | EdgeKind::FromImport => {
                if self.in_function || self.condition != Condition::Always {
                    Strength::Conditional
                } else {
                    Strength::Certain
                }
            }
            EdgeKind::Parent
            | EdgeKind::Runtime
            | EdgeKind::Collected { .. }
            | EdgeKind::Hook { .. }
            | EdgeKind::Traced => Strength::Certain,
            EdgeKind::Inferred { rule }
                if rule == INTERPRETER_RULE || rule == LAZY_SUBMODULE_RULE =>
            {
                Strength::Certain
            }
            // An import stated through a function that imports its argument: like an import.
            EdgeKind::Inferred { rule } if rule.starts_with(super::WRAPPER_RULE) => {
                if self.in_function || self.condition != Condition::Always {
                    Strength::Conditional
                } else {
                    Strength::Certain
                }
            }
            // Seen happen in the target interpreter; conditional when it may be guarded.
            EdgeKind::Inferred { rule } if rule.starts_with(super::INTROSPECTED_RULE) => {
                if self.condition == Condition::Always {
                    Strength::Certain
                } else {
                    Strength::Conditional
                }
            }
            EdgeKind::Inferred { .. } => Strength::Speculative,
        }
    }
}

/// An import that names no module on the search path.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub name: String,
    pub importer: ModuleId,
    pub line: u32,
    pub condition: Condition,
    pub in_function: bool,
    /// Extra detail, such as a relative import that climbs above the top-level package.
    pub reason: Option<String>,
    /// Asked for by the user by name (the configuration, or a hook of theirs): missing, it fails
    /// the build whoever the importer is.
    pub required: bool,
    /// A module of the graph puts this one into `sys.modules` at run time (`file:line`): the
    /// import finds it there, so it is not missing after all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_by: Option<String>,
}

/// A third-party or standard library file that could not be parsed and was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedFile {
    pub module: String,
    #[serde(serialize_with = "crate::lossy::path")]
    pub path: PathBuf,
    pub message: String,
}

/// A hook that applied, and what it added.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedHook {
    pub module: String,
    pub source: crate::hooks::HookSource,
    pub added: Vec<String>,
    /// Modules it named that are not installed.
    pub not_found: Vec<String>,
    #[serde(skip)]
    pub hook: crate::hooks::Hook,
}

/// An import of a module that a hook or the configuration excludes.
#[derive(Debug, Clone, Serialize)]
pub struct Excluded {
    pub name: String,
    pub importer: ModuleId,
    pub line: u32,
    pub condition: Condition,
}

/// A file or directory a module reads through a path built from its `__file__`.
#[derive(Debug, Clone, Serialize)]
pub struct DataReference {
    pub module: ModuleId,
    /// The file or directory on disk.
    #[serde(serialize_with = "crate::lossy::path")]
    pub path: PathBuf,
    /// As written, relative to the module's directory (`/`-separated, may start with `..`).
    pub relative: String,
    pub line: u32,
}

/// The resolved graph.
#[derive(Debug, Default, Serialize)]
pub struct ModuleGraph {
    pub entries: Vec<SearchEntry>,
    pub modules: Vec<Module>,
    pub edges: Vec<Edge>,
    pub missing: Vec<Missing>,
    /// Modules the build starts from (entries first).
    pub roots: Vec<ModuleId>,
    pub applied_hooks: Vec<AppliedHook>,
    /// Imports that were not followed because the module is excluded.
    pub excluded: Vec<Excluded>,
    /// Fallback imports of the standard library that were not followed: each sits in an
    /// `except ImportError:` handler whose `try` imports only modules built into the
    /// interpreter or shipped as its extension modules (`decimal`'s `_pydecimal`).
    pub fallbacks: Vec<Excluded>,
    /// Files and directories modules read relative to their own location.
    pub data_references: Vec<DataReference>,
    /// Third-party top-level packages with a module that reads source (`inspect.getsource`,
    /// a JIT decorator): (package, module, line, call). Their sources ship: what the reader is
    /// handed is usually a function of the same package (`triton.jit` on `triton.language`).
    pub source_readers: Vec<(String, String, u32, String)>,
    #[serde(skip)]
    pub(crate) by_name: HashMap<String, ModuleId>,
}

impl ModuleGraph {
    pub fn get(&self, name: &str) -> Option<ModuleId> {
        self.by_name.get(name).copied()
    }

    /// The site-packages-like search entries (and the app's own), where distributions live.
    pub fn site_dirs(&self) -> Vec<Location> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                matches!(
                    e.kind,
                    super::finder::EntryKind::Site | super::finder::EntryKind::App
                )
            })
            .map(|(i, e)| (e.dir.clone(), i))
            .collect()
    }

    pub(crate) fn add(&mut self, module: Module) -> ModuleId {
        let id = self.modules.len();
        self.by_name.insert(module.name.clone(), id);
        self.modules.push(module);
        id
    }

    /// Modules that are part of the bundle, in name order.
    /// Whether `name` is in the graph and ships.
    pub fn included_named(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|id| self.modules[id].skipped.is_none())
    }

    pub fn included(&self) -> impl Iterator<Item = (ModuleId, &Module)> {
        let mut ids: Vec<ModuleId> = (0..self.modules.len())
            .filter(|&i| self.modules[i].skipped.is_none())
            .collect();
        ids.sort_by(|&a, &b| self.modules[a].name.cmp(&self.modules[b].name));
        ids.into_iter().map(move |i| (i, &self.modules[i]))
    }

    /// The strongest chain of edges from a root to `target` (root first), if reachable.
    pub fn chain_to(&self, target: ModuleId) -> Option<Vec<&Edge>> {
        self.chains().chain(self, target)
    }

    /// The strongest chains from the roots to every module, computed once: fewest speculative
    /// steps, then fewest conditional ones, then fewest steps. A module that certain imports
    /// reach is explained by them, not by the first guess that happened to reach it.
    pub fn chains(&self) -> Chains {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); self.modules.len()];
        for (i, e) in self.edges.iter().enumerate() {
            outgoing[e.from].push(i);
        }
        let cost = |e: &Edge| -> u64 {
            match e.strength() {
                // An import the source states explains a module better than a package
                // collected whole.
                Strength::Certain if matches!(e.kind, EdgeKind::Collected { .. }) => 1 << 8,
                Strength::Certain => 1,
                Strength::Conditional => 1 << 16,
                Strength::Speculative => 1 << 32,
            }
        };
        let mut via: Vec<Option<usize>> = vec![None; self.modules.len()];
        let mut best: Vec<u64> = vec![u64::MAX; self.modules.len()];
        let mut seen = vec![false; self.modules.len()];
        let mut heap = BinaryHeap::new();
        for &root in &self.roots {
            best[root] = 0;
            heap.push(Reverse((0u64, root)));
        }
        while let Some(Reverse((d, m))) = heap.pop() {
            if seen[m] {
                continue;
            }
            seen[m] = true;
            for &edge in &outgoing[m] {
                let to = self.edges[edge].to;
                let next = d.saturating_add(cost(&self.edges[edge]));
                if !seen[to] && next < best[to] {
                    best[to] = next;
                    via[to] = Some(edge);
                    heap.push(Reverse((next, to)));
                }
            }
        }
        Chains { via, seen }
    }
}

/// Shortest chains from the roots, as parent pointers.
#[derive(Debug)]
pub struct Chains {
    via: Vec<Option<usize>>,
    seen: Vec<bool>,
}

impl Chains {
    /// The edges from a root to `target` (root first), if reachable.
    pub fn chain<'g>(&self, graph: &'g ModuleGraph, target: ModuleId) -> Option<Vec<&'g Edge>> {
        if !self.seen.get(target).copied().unwrap_or(false) {
            return None;
        }
        let mut chain = Vec::new();
        let mut cur = target;
        while let Some(edge) = self.via[cur] {
            chain.push(&graph.edges[edge]);
            cur = graph.edges[edge].from;
        }
        chain.reverse();
        Some(chain)
    }
}
