//! The module graph: every module the app can import, who imports whom, from where, and what
//! could not be found.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

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
    pub fn included(&self) -> impl Iterator<Item = (ModuleId, &Module)> {
        let mut ids: Vec<ModuleId> = (0..self.modules.len())
            .filter(|&i| self.modules[i].skipped.is_none())
            .collect();
        ids.sort_by(|&a, &b| self.modules[a].name.cmp(&self.modules[b].name));
        ids.into_iter().map(move |i| (i, &self.modules[i]))
    }

    /// The shortest chain of edges from a root to `target` (root first), if reachable.
    pub fn chain_to(&self, target: ModuleId) -> Option<Vec<&Edge>> {
        self.chains().chain(self, target)
    }

    /// Shortest chains from the roots to every module, computed once (breadth-first).
    pub fn chains(&self) -> Chains {
        let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); self.modules.len()];
        for (i, e) in self.edges.iter().enumerate() {
            outgoing[e.from].push(i);
        }
        let mut via: Vec<Option<usize>> = vec![None; self.modules.len()];
        let mut seen = vec![false; self.modules.len()];
        let mut queue = VecDeque::new();
        for &root in &self.roots {
            if !seen[root] {
                seen[root] = true;
                queue.push_back(root);
            }
        }
        while let Some(m) = queue.pop_front() {
            for &edge in &outgoing[m] {
                let to = self.edges[edge].to;
                if !seen[to] {
                    seen[to] = true;
                    via[to] = Some(edge);
                    queue.push_back(to);
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
