//! Import requests -> [`ModuleGraph`].
//!
//! Starting from the entry and the modules the interpreter needs to start, files are analysed
//! in parallel waves and every request is resolved the way CPython's import system would:
//! builtin, then frozen, then the search path (see [`finder`]), parents before children,
//! relative imports against the importing module's package.

pub mod cache;
pub mod facts;
pub mod finder;
pub mod graph;
pub mod introspect;
pub mod optional;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::analyse::{self, AnalyseError, Condition, FileImports, ImportRequest, SourceContext};
use crate::interpreter::Interpreter;
pub use finder::{EntryKind, FileKind, Finder, Found, SearchEntry};
pub use graph::{
    AppliedHook, DataReference, Edge, EdgeKind, Excluded, Missing, Module, ModuleGraph, ModuleId,
    ModuleKind, Origin, Strength,
};

use crate::hooks::{HookSource, LoadedHook};

/// What the application starts from.
#[derive(Debug, Clone)]
pub enum EntryPoint {
    /// A script run as `__main__` (`python main.py`).
    Script(PathBuf),
    /// A module run as `__main__` (`python -m pkg.mod`).
    Module(String),
    /// A function called with no arguments, its result the exit status (`pkg.cli:main`, as a
    /// console-script entry point runs).
    Call { module: String, function: String },
}

/// Inputs of the resolve stage.
pub struct ResolveInput<'a> {
    pub interpreter: &'a Interpreter,
    pub entry: &'a EntryPoint,
    /// The directory that is `sys.path[0]` for the app (the script's directory, or the project
    /// directory for `-m`).
    pub app_dir: &'a Path,
    /// Extra modules to include as if imported by the entry.
    pub extra_roots: &'a [String],
    /// Package knowledge, applied when each hook's module enters the graph.
    pub hooks: &'a [LoadedHook],
    /// The project's own `hidden-imports`, `collect` and `exclude`, applied from the start.
    pub rules: &'a crate::hooks::Hook,
    /// Analyses of unchanged files from earlier runs.
    pub cache: &'a cache::AnalysisCache,
    /// A recorded run of the app (`kiln trace`): the modules it imported and the package
    /// files it opened.
    pub trace: Option<&'a crate::trace::Trace>,
    /// Ask the target interpreter what a lazy package's attributes import
    /// ([`introspect`]), caching answers here; None reads no package (every submodule of a
    /// lazy package ships instead).
    pub introspect: Option<&'a Path>,
    /// Directory listings already read by an earlier resolve of the same interpreter, shared.
    pub finder: Option<&'a Finder>,
    /// Optional integrations will be left out ([`optional`]): the modules of a distribution
    /// the app does not keep are added where something imports them, but not read until it
    /// does keep it (most of a developer's venv is reached only that way).
    pub optional: Option<OptionalScope<'a>>,
}

/// What decides which distributions the app keeps ([`optional::kept`]).
#[derive(Debug, Clone, Copy)]
pub struct OptionalScope<'a> {
    /// The project's declared dependencies, when it has a list.
    pub declared: Option<&'a [String]>,
    /// What the app's own source tree imports counts as wanted.
    pub tree_is_evidence: bool,
}

/// Errors that stop resolution.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("entry module `{0}` was not found on the search path: run kiln from the directory that holds it, or install the project into the target interpreter (`PYTHON -m pip install -e .`, which a `src/` layout needs)")]
    EntryNotFound(String),
    #[error(transparent)]
    Syntax(#[from] AnalyseError),
}

/// Progress of the resolve stage, reported to the caller.
pub trait ResolveProgress: Sync {
    fn analysed(&self, done: usize, known: usize);
}

impl ResolveProgress for () {
    fn analysed(&self, _: usize, _: usize) {}
}

/// Stdlib packages collected whole: codecs are looked up by name at run time.
const COLLECT_WHOLE: &[&str] = &["encodings"];

/// Imports inside the standard library that only interactive use reaches.
const INTERACTIVE_ONLY: &[(&str, &str)] = &[
    ("site", "rlcompleter"),
    ("site", "readline"),
    ("_sitebuiltins", "pydoc"),
];

/// The standard library's own test and developer tooling. Other stdlib modules reach it only from
/// inside functions that tests or `python -m` call (`pickle._test` imports `doctest`,
/// `multiprocessing.util._cleanup_tests` imports `test.support`); those edges are not followed.
/// The app still gets these modules when its own code imports them.
const STDLIB_DEV_ONLY: &[&str] = &[
    "doctest",
    "unittest",
    "test",
    "pydoc",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "lib2to3",
    "ensurepip",
    "venv",
    "distutils",
    "pdb",
];

/// Why a module of the app's own source tree is in the graph when no import reaches it.
pub(crate) const APP_TREE: &str =
    "part of the app's source tree, shipped whole: the app may load it by a name computed at run time";

/// Directories of an app's tree that hold no part of the app: tests, documentation, build
/// output, environments.
const NOT_APP_DIRS: &[&str] = &[
    "tests",
    "test",
    "testing",
    "docs",
    "doc",
    "build",
    "dist",
    "site-packages",
    "node_modules",
    "venv",
    "env",
    "benchmarks",
];

/// Files of an app's tree that are tooling, not the app.
const NOT_APP_FILES: &[&str] = &["setup", "conftest", "noxfile", "fabfile", "tasks", "manage"];

/// The most modules the app's tree adds beyond what is imported; a directory holding more is
/// not an app's source tree (a home directory, a monorepo root).
const APP_TREE_LIMIT: usize = 2000;

/// How the rule of an edge found by asking the target interpreter starts ([`introspect`]).
pub(crate) const INTROSPECTED_RULE: &str = "introspected:";
/// The rule of an import made through a function that imports the module its argument names:
/// as sure as the call and the import inside it.
pub(crate) const WRAPPER_RULE: &str = "imported through";

/// How the rule of an edge inferred from a string naming a module starts.
pub(crate) const STRING_RULE: &str = "string";

/// An import whose name starts with a computed piece and ends with known text.
#[derive(Debug, Clone)]
struct Suffixed {
    importer: ModuleId,
    suffix: String,
    line: u32,
    condition: Condition,
    /// The dotted strings of the importing module.
    own_strings: Vec<String>,
}

/// Builds the module graph for `input`.
pub fn resolve(
    input: &ResolveInput<'_>,
    progress: &dyn ResolveProgress,
) -> Result<ModuleGraph, ResolveError> {
    let mut r = Resolver::new(input);
    r.run(progress)?;
    Ok(r.graph)
}

use cache::CachedAnalysis as Analysed;

struct Resolver<'a> {
    input: &'a ResolveInput<'a>,
    finder: Finder,
    graph: ModuleGraph,
    top_level: Vec<finder::Location>,
    /// Names already looked up and not found.
    not_found: HashSet<String>,
    pending: Vec<ModuleId>,
    analysed: usize,
    /// A compiled module hides its strings: imports analysis cannot see may name any module,
    /// so standard library fallbacks are followed after all.
    hidden_imports_seen: bool,
    /// Excluded module names (a name excludes its submodules too).
    /// Modules excluded with their submodules (the configuration's and applied hooks').
    excluded: HashSet<String>,
    /// `from package import *` waiting for the package's `__all__`: (importer, package, line).
    star_imports: Vec<(ModuleId, ModuleId, u32)>,
    /// Entry point group -> target modules, read from installed distributions when first asked.
    entry_points: Option<HashMap<String, Vec<(String, String)>>>,
    /// Installed distributions, read when first needed.
    distributions: Option<std::sync::Arc<crate::installed::metadata::DistIndex>>,
    /// Modules put into `sys.modules` by name at run time: name -> (provider, line).
    provided: HashMap<String, (ModuleId, u32)>,
    /// Modules added as part of the app's source tree ([`APP_TREE`]).
    app_tree: HashSet<ModuleId>,
    /// Syntax errors in those, fatal only if the app imports the module.
    tree_errors: Vec<(ModuleId, AnalyseError)>,
    /// Attribute names read of each module (`from m import X`, `m.X`): module -> names.
    attr_uses: HashMap<String, std::collections::BTreeSet<String>>,
    /// Third-party packages with a lazy `__getattr__`, and the names already asked of each.
    lazy: Vec<(ModuleId, std::collections::BTreeSet<String>)>,
    /// Those of them whose `__getattr__` imports only the submodule an attribute names: what
    /// an attribute read imports is known without asking.
    lazy_known: HashSet<ModuleId>,
    /// Modules of distributions the app does not keep (so far), added but not read.
    deferred: Vec<ModuleId>,
    /// Import wrappers by their function's dotted name, and the calls of each such name seen.
    wrappers: HashMap<String, Vec<analyse::ImportWrapper>>,
    wrapper_calls: HashMap<String, Vec<(ModuleId, analyse::NamedCall)>>,
    wrapper_edges: HashSet<(ModuleId, ModuleId)>,
    /// The distribution of each module (by id), as far as found.
    owners: Vec<Option<usize>>,
    /// The distributions the app keeps, when last asked (it only grows).
    kept: HashSet<usize>,
    /// Imports whose name starts with a computed piece and ends with known text
    /// (`"%s.migrations" % app`), tried after each package a string names ([`Self::follow_suffixes`]).
    suffixed: Vec<Suffixed>,
    /// Packages and modules the app's own strings name (Django's `INSTALLED_APPS`, a database
    /// `ENGINE`): where libraries look for modules named after them.
    app_strings: std::collections::BTreeSet<String>,
    /// Names already tried for a suffixed import: (importer, name).
    suffixes_tried: HashSet<(ModuleId, String)>,
    /// Attribute names of lazy packages that name their submodules: followed without asking.
    lazy_submodules: HashSet<(ModuleId, String)>,
    /// Third-party extension modules whose strings are compressed, not asked yet
    /// ([`introspect::introspect_compiled`]).
    hidden_compiled: Vec<ModuleId>,
    /// Installed modules kiln's parser rejected, to be read with the interpreter's parser
    /// ([`introspect::parse_with_interpreter`]) once the queue drains.
    rejected: Vec<ModuleId>,
    /// Modules that keep every entry point (see [`analyse::ALL_ENTRY_POINT_GROUPS`]), and the
    /// groups already taken for them.
    all_entry_points: Vec<(ModuleId, u32)>,
    groups_taken: HashSet<String>,
}

impl<'a> Resolver<'a> {
    fn new(input: &'a ResolveInput<'a>) -> Self {
        let interp = input.interpreter;
        let mut entries = vec![SearchEntry {
            dir: input.app_dir.to_path_buf(),
            kind: EntryKind::App,
        }];
        for dir in &interp.path {
            if !dir.is_dir() {
                continue;
            }
            let kind = if same_dir(dir, &interp.stdlib) || same_dir(dir, &interp.platstdlib) {
                EntryKind::Stdlib
            } else if same_dir(dir, &interp.dynload) {
                EntryKind::Dynload
            } else {
                EntryKind::Site
            };
            if !entries.iter().any(|e| same_dir(&e.dir, dir)) {
                entries.push(SearchEntry {
                    dir: dir.clone(),
                    kind,
                });
            }
        }
        let top_level = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.dir.clone(), i))
            .collect();
        let graph = ModuleGraph {
            entries,
            ..Default::default()
        };
        Resolver {
            input,
            finder: input.finder.cloned().unwrap_or_else(|| {
                Finder::new(
                    &interp.extension_suffixes,
                    &interp.source_suffixes,
                    &interp.bytecode_suffixes,
                )
            }),
            graph,
            top_level,
            not_found: Default::default(),
            pending: Vec::new(),
            analysed: 0,
            hidden_imports_seen: false,
            excluded: input.rules.exclude.iter().cloned().collect(),
            star_imports: Vec::new(),
            entry_points: None,
            distributions: None,
            provided: HashMap::default(),
            app_tree: Default::default(),
            tree_errors: Vec::new(),
            attr_uses: HashMap::default(),
            lazy: Vec::new(),
            lazy_known: HashSet::default(),
            deferred: Vec::new(),
            wrappers: HashMap::default(),
            wrapper_calls: HashMap::default(),
            wrapper_edges: HashSet::default(),
            owners: Vec::new(),
            kept: HashSet::default(),
            suffixed: Vec::new(),
            app_strings: Default::default(),
            suffixes_tried: Default::default(),
            lazy_submodules: HashSet::default(),
            hidden_compiled: Vec::new(),
            rejected: Vec::new(),
            all_entry_points: Vec::new(),
            groups_taken: HashSet::default(),
        }
    }

    /// The entry, what the interpreter imports before it, and the configuration's rules.
    fn add_roots(&mut self) -> Result<(), ResolveError> {
        let root = match self.input.entry {
            EntryPoint::Script(path) => {
                let id = self.graph.add(Module {
                    name: "__main__".into(),
                    kind: ModuleKind::File {
                        path: path.clone(),
                        file: FileKind::Source,
                    },
                    origin: Origin::App,
                    entry: Some(0),
                    package_dirs: Vec::new(),
                    frozen: false,
                    skipped: None,
                    exports: None,
                });
                self.pending.push(id);
                id
            }
            EntryPoint::Module(name) | EntryPoint::Call { module: name, .. } => {
                self.ensure(name)
                    .ok_or_else(|| ResolveError::EntryNotFound(name.clone()))?
            }
        };
        self.graph.roots.push(root);
        if let EntryPoint::Module(name) = self.input.entry {
            // `python -m package` runs `package.__main__`.
            if self.graph.modules[root].is_package() {
                let main = format!("{name}.__main__");
                let id = self
                    .ensure(&main)
                    .ok_or_else(|| ResolveError::EntryNotFound(main.clone()))?;
                self.runtime_edge(root, id);
            }
        }

        let interp = self.input.interpreter;
        let mut runtime: Vec<String> = interp
            .startup_modules
            .iter()
            .filter(|m| m.as_str() != "__main__")
            .cloned()
            .collect();
        runtime.push("site".into());
        if matches!(self.input.entry, EntryPoint::Module(_)) {
            runtime.push("runpy".into());
        }
        for name in runtime.iter().chain(self.input.extra_roots) {
            if let Some(id) = self.ensure(name) {
                self.runtime_edge(root, id);
            }
        }
        let rules = LoadedHook {
            hook: self.input.rules.clone(),
            source: HookSource::Config,
        };
        self.apply_hook(root, &rules);
        for package in COLLECT_WHOLE {
            if let Some(id) = self.ensure(package) {
                self.collect_submodules(id, "the standard library looks codecs up by name");
            }
        }
        if self.graph.modules[root].origin == Origin::App {
            self.include_app_tree(root);
        }
        if let Some(trace) = self.input.trace {
            self.include_traced(root, trace);
        }
        Ok(())
    }

    /// What a recorded run imported ships, whatever the analysis thinks; a module that is no
    /// longer installed is reported, not fatal (the trace may be older than the venv).
    fn include_traced(&mut self, root: ModuleId, trace: &crate::trace::Trace) {
        for name in &trace.modules {
            if self.is_excluded(name) {
                continue;
            }
            match self.ensure(name) {
                Some(id) if id != root => self.graph.edges.push(Edge {
                    from: root,
                    to: id,
                    line: 0,
                    kind: EdgeKind::Traced,
                    condition: Condition::Always,
                    in_function: false,
                }),
                Some(_) => {}
                None => self.graph.missing.push(Missing {
                    name: name.clone(),
                    importer: root,
                    line: 0,
                    condition: Condition::Branch,
                    in_function: false,
                    reason: Some(format!(
                        "imported by the run in {}, not installed now",
                        crate::trace::TRACE_FILE
                    )),
                    required: false,
                    provided_by: None,
                }),
            }
        }
    }

    /// Files a recorded run opened ship as data of the package that holds them (or of the
    /// app, beside the entry).
    fn add_traced_files(&mut self) {
        let Some(trace) = self.input.trace else {
            return;
        };
        let Some(root) = self.graph.roots.first().copied() else {
            return;
        };
        // Package directory -> the package, deepest first.
        let mut packages: Vec<(PathBuf, ModuleId)> = self
            .graph
            .modules
            .iter()
            .enumerate()
            .filter(|(_, m)| matches!(m.kind, ModuleKind::Package { .. }))
            .flat_map(|(id, m)| m.package_dirs.iter().map(move |(d, _)| (d.clone(), id)))
            .collect();
        packages.sort_by_key(|(d, _)| std::cmp::Reverse(d.components().count()));
        let app_dir = self.input.app_dir.to_path_buf();
        let site_dirs: Vec<PathBuf> = self
            .graph
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Site)
            .map(|e| e.dir.clone())
            .collect();
        for recorded in &trace.files {
            let file = match recorded.split_once('/') {
                Some(("app", rel)) => app_dir.join(rel),
                Some(("site", rel)) => {
                    match site_dirs.iter().map(|d| d.join(rel)).find(|p| p.is_file()) {
                        Some(p) => p,
                        None => continue,
                    }
                }
                _ => continue,
            };
            if !file.is_file() {
                continue;
            }
            let file = &file;
            let owner = packages
                .iter()
                .find(|(dir, _)| file.starts_with(dir))
                .map(|&(ref dir, id)| (dir.clone(), id))
                .or_else(|| {
                    let main_script = matches!(self.input.entry, EntryPoint::Script(_));
                    (main_script && file.starts_with(&app_dir)).then(|| (app_dir.clone(), root))
                });
            let Some((dir, module)) = owner else { continue };
            let Ok(relative) = file.strip_prefix(&dir) else {
                continue;
            };
            let relative = relative.to_string_lossy().replace('\\', "/");
            if self
                .graph
                .data_references
                .iter()
                .any(|r| r.module == module && r.relative == relative)
            {
                continue;
            }
            self.graph.data_references.push(DataReference {
                module,
                path: file.clone(),
                relative,
                line: 0,
            });
        }
    }

    /// Every package of the app's own source tree (beside the entry script, or in the project
    /// directory of a `-m` entry), whole: services, plugins and connectors loaded by computed
    /// names ship without a list of them. Scripts beside the entry are not included: they are
    /// other entry points. What only the tree reaches is followed as conditional: its missing
    /// imports are not fatal, and the distributions it alone imports are optional
    /// integrations (`resolve::optional`). Tests, documentation, build output, virtual environments,
    /// hidden directories and bundles kiln wrote are not the app's.
    fn include_app_tree(&mut self, root: ModuleId) {
        let Some(app) = self
            .graph
            .entries
            .iter()
            .position(|e| e.kind == EntryKind::App)
        else {
            return;
        };
        let dir = self.graph.entries[app].dir.clone();
        let entry_file = match self.input.entry {
            EntryPoint::Script(path) => std::fs::canonicalize(path).ok(),
            _ => None,
        };
        let mut found: Vec<String> = Vec::new();
        let mut stack: Vec<(PathBuf, String, usize)> = vec![(dir, String::new(), 0)];
        let mut seen: HashSet<PathBuf> = Default::default();
        while let Some((dir, prefix, depth)) = stack.pop() {
            let Ok(real) = std::fs::canonicalize(&dir) else {
                continue;
            };
            if !seen.insert(real) || depth > 8 {
                continue;
            }
            let Some(listing) = self.finder.listing(&dir) else {
                continue;
            };
            if listing.contains("pyvenv.cfg") || listing.contains("_kiln") {
                continue;
            }
            let mut files: Vec<&String> = listing.iter().collect();
            files.sort();
            for file in files {
                let path = dir.join(file);
                if let Some((stem, _)) = self.finder.module_file_kind(file) {
                    // Scripts beside the entry are other entry points (a suite's components,
                    // `train.py` beside `serve.py`), not code the entry loads by name.
                    if depth == 0 {
                        continue;
                    }
                    let tooling = NOT_APP_FILES.contains(&stem)
                        || stem.starts_with("test_")
                        || stem.ends_with("_test");
                    // Names that are not identifiers still import by name (`import_module`
                    // and pkgutil take Django's `0001_initial` migrations); hidden files and
                    // editor leftovers do not.
                    if stem == "__init__" || tooling || stem.starts_with(['.', '#', '~']) {
                        continue;
                    }
                    if entry_file.is_some() && std::fs::canonicalize(&path).ok() == entry_file {
                        continue;
                    }
                    found.push(format!("{prefix}{stem}"));
                } else if is_identifier(file)
                    && !file.starts_with('.')
                    && !NOT_APP_DIRS.contains(&file.as_str())
                    && path.is_dir()
                    && self.holds_modules(&path)
                {
                    found.push(format!("{prefix}{file}"));
                    stack.push((path, format!("{prefix}{file}."), depth + 1));
                }
            }
            if found.len() > APP_TREE_LIMIT {
                return;
            }
        }
        found.sort();
        for name in found {
            if self.graph.get(&name).is_some() || self.is_excluded(&name) {
                continue;
            }
            let Some(id) = self.ensure(&name) else {
                continue;
            };
            if self.graph.modules[id].origin != Origin::App {
                continue;
            }
            self.app_tree.insert(id);
            self.graph.edges.push(Edge {
                from: root,
                to: id,
                line: 0,
                kind: EdgeKind::Collected {
                    reason: APP_TREE.into(),
                },
                condition: Condition::Always,
                in_function: false,
            });
        }
    }

    /// Modules reached from the roots without the app-tree edges or guesses: what the app
    /// imports (a plugin found only by a computed name's package may never be loaded).
    fn imported_without_tree(&self) -> Vec<bool> {
        let mut out_edges: Vec<Vec<ModuleId>> = vec![Vec::new(); self.graph.modules.len()];
        for e in &self.graph.edges {
            let tree = matches!(&e.kind, EdgeKind::Collected { reason } if reason == APP_TREE);
            if !tree && e.strength() != Strength::Speculative {
                out_edges[e.from].push(e.to);
            }
        }
        let mut reached = vec![false; self.graph.modules.len()];
        let mut stack: Vec<ModuleId> = self.graph.roots.clone();
        while let Some(m) = stack.pop() {
            if std::mem::replace(&mut reached[m], true) {
                continue;
            }
            stack.extend(out_edges[m].iter().copied());
        }
        reached
    }

    /// A module of the app's tree that nothing imports (or only a guess reaches) may be an old
    /// script or a half-written one: what it lacks is reported, not fatal, and a syntax error in
    /// it skips it with a warning. The same in a module the app imports stops the build.
    fn settle_app_tree(&mut self) -> Result<(), ResolveError> {
        if self.app_tree.is_empty() && self.tree_errors.is_empty() {
            return Ok(());
        }
        let reached = self.imported_without_tree();
        for (id, err) in std::mem::take(&mut self.tree_errors) {
            if reached[id] {
                return Err(err.into());
            }
            self.graph.modules[id].skipped = Some(format!(
                "{err} (not imported by the app; left out of its source tree)"
            ));
        }
        for m in &mut self.graph.missing {
            if !reached[m.importer] && m.condition == Condition::Always {
                m.condition = Condition::Branch;
                m.reason.get_or_insert_with(|| {
                    "in a module of the app's tree that the entry does not import".into()
                });
            }
        }
        // A component that excludes a package is not broken by a module of the tree it never
        // imports.
        for e in &mut self.graph.excluded {
            if !reached[e.importer] && e.condition == Condition::Always {
                e.condition = Condition::Branch;
            }
        }
        Ok(())
    }

    fn run(&mut self, progress: &dyn ResolveProgress) -> Result<(), ResolveError> {
        self.add_roots()?;
        let interp = self.input.interpreter;
        let natives = NativeNames {
            hidden_stdlib: self.self_contained_stdlib_extensions(),
            site: self.site_extension_modules(),
            site_top_level: self.site_top_level_names(),
        };
        // What an extension module's analysis found depends on which top-level modules are
        // installed beside it.
        let natives_key = blake3::hash(
            format!(
                "{}|{}",
                natives.site.join(","),
                natives.site_top_level.join(",")
            )
            .as_bytes(),
        )
        .to_hex()[..16]
            .to_string();
        let job = AnalysisJob {
            interp,
            natives: &natives,
            natives_key: &natives_key,
            cache: self.input.cache,
            finder: self.finder.clone(),
        };
        loop {
            if !self.has_pending() && !self.release_kept() {
                break;
            }
            let mut batch = std::mem::take(&mut self.pending);
            batch.sort_unstable();
            let siblings = self.distribution_siblings(&batch);
            let modules = &self.graph.modules;
            let results: Vec<(ModuleId, Result<Arc<Analysed>, AnalyseError>)> = batch
                .par_iter()
                .map(|&id| {
                    let siblings = siblings.get(&id).map(Vec::as_slice).unwrap_or_default();
                    (id, job.analyse(&modules[id], siblings))
                })
                .collect();
            for (id, result) in results {
                self.take_analysis(id, result)?;
            }
            self.parse_rejected();
            if !self.has_pending() {
                self.groups_of_imported_packages();
            }
            self.resolve_star_imports();
            if !self.has_pending() {
                self.follow_suffixes();
            }
            if !self.has_pending() {
                self.introspect();
            }
            progress.analysed(self.analysed, self.graph.modules.len());
            if !self.has_pending() && self.hidden_imports_seen {
                self.follow_fallbacks();
            }
        }
        self.mark_provided();
        self.add_traced_files();
        self.settle_app_tree()
    }

    /// Whether modules wait to be read, once those of distributions the app does not keep
    /// (so far) are put aside ([`ResolveInput::optional`]).
    fn has_pending(&mut self) -> bool {
        let Some(scope) = self.input.optional else {
            return !self.pending.is_empty();
        };
        if self.pending.is_empty() {
            return false;
        }
        self.find_owners();
        let unkept =
            |this: &Self, id: ModuleId| this.owners[id].is_some_and(|d| !this.kept.contains(&d));
        // What the app keeps is asked again only when a module may be put aside.
        if self.pending.iter().any(|&id| unkept(self, id)) {
            self.kept = self.kept_distributions(scope);
            let (unkept, pending): (Vec<ModuleId>, Vec<ModuleId>) =
                std::mem::take(&mut self.pending)
                    .into_iter()
                    .partition(|&id| unkept(self, id));
            self.deferred.extend(unkept);
            self.pending = pending;
        }
        !self.pending.is_empty()
    }

    /// Puts the modules put aside whose distribution the app now keeps back to be read;
    /// whether there were any.
    fn release_kept(&mut self) -> bool {
        let Some(scope) = self.input.optional else {
            return false;
        };
        if self.deferred.is_empty() {
            return false;
        }
        self.find_owners();
        self.kept = self.kept_distributions(scope);
        let (kept, deferred): (Vec<ModuleId>, Vec<ModuleId>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|&id| self.owners[id].is_some_and(|d| self.kept.contains(&d)));
        self.deferred = deferred;
        self.pending.extend(kept);
        !self.pending.is_empty()
    }

    /// The installed distributions of the graph's site directories, read once.
    fn dist_index(&mut self) -> Arc<crate::installed::metadata::DistIndex> {
        let dirs = self.graph.site_dirs();
        self.distributions
            .get_or_insert_with(|| crate::installed::metadata::DistIndex::shared(&dirs))
            .clone()
    }

    /// The owning distribution of each module added since last asked.
    fn find_owners(&mut self) {
        if self.owners.len() == self.graph.modules.len() {
            return;
        }
        let dists = self.dist_index();
        let known = std::mem::take(&mut self.owners);
        let from = known.len();
        self.owners = optional::owners(&self.graph, &dists, from, known);
    }

    fn kept_distributions(&mut self, scope: OptionalScope<'_>) -> HashSet<usize> {
        let dists = self.dist_index();
        optional::kept(
            &self.graph,
            &dists,
            &self.owners,
            scope.declared,
            scope.tree_is_evidence,
        )
    }

    /// Installed files kiln's parser rejected may still be valid Python (its parser is stricter
    /// than CPython's in corners: `raise;x = 1`): the target interpreter parses them, and those
    /// it accepts ship, with the imports its parser finds (conditions unknown, so each counts
    /// as conditional). Those it rejects too stay out, as before.
    fn parse_rejected(&mut self) {
        let rejected = std::mem::take(&mut self.rejected);
        if rejected.is_empty() || self.input.introspect.is_none() {
            return;
        }
        let files: std::collections::BTreeMap<String, PathBuf> = rejected
            .iter()
            .filter_map(|&id| {
                let m = &self.graph.modules[id];
                Some((m.name.clone(), m.file()?.to_path_buf()))
            })
            .collect();
        let Ok(answers) = introspect::parse_with_interpreter(
            &self.input.interpreter.executable,
            self.input.introspect,
            &files,
        ) else {
            return;
        };
        for (name, answer) in answers {
            let (Some(id), None) = (self.graph.get(&name), answer.error) else {
                continue;
            };
            let imports = answer
                .modules
                .iter()
                .filter_map(|entry| {
                    let mut parts = entry.splitn(4, ' ');
                    let line = parts.next()?.parse().ok()?;
                    let level = parts.next()?.parse().ok()?;
                    let module = parts.next()?;
                    let names = parts.next()?;
                    Some(ImportRequest {
                        module: if module == "-" {
                            String::new()
                        } else {
                            module.into()
                        },
                        level,
                        names: if names == "-" {
                            Vec::new()
                        } else {
                            names.split(',').map(str::to_string).collect()
                        },
                        line,
                        condition: Condition::Branch,
                        in_function: false,
                        via: analyse::Via::Statement,
                        fallback_for: Vec::new(),
                    })
                })
                .collect();
            self.graph.modules[id].skipped = None;
            self.add_requests(
                id,
                &FileImports {
                    imports,
                    ..Default::default()
                },
            );
        }
    }

    /// Adds what one file's analysis found.
    fn take_analysis(
        &mut self,
        id: ModuleId,
        result: Result<Arc<Analysed>, AnalyseError>,
    ) -> Result<(), ResolveError> {
        self.analysed += 1;
        let analysed = match result {
            Ok(analysed) => analysed,
            Err(err) if self.app_tree.contains(&id) => {
                self.tree_errors.push((id, err));
                return Ok(());
            }
            Err(err) if self.graph.modules[id].origin == Origin::App => return Err(err.into()),
            Err(err) => {
                if matches!(err, AnalyseError::Syntax { .. }) {
                    self.rejected.push(id);
                }
                self.graph.modules[id].skipped = Some(err.to_string());
                return Ok(());
            }
        };
        match &*analysed {
            Analysed::Source(imports) => self.add_requests(id, imports),
            Analysed::Compiled(cache::CompiledImports {
                names,
                source,
                hides_strings,
                joined_runs,
                joined_names,
            }) => {
                let hides_strings = *hides_strings;
                self.hidden_imports_seen |= hides_strings;
                if hides_strings
                    && self.input.introspect.is_some()
                    && self.graph.modules[id].origin == Origin::ThirdParty
                {
                    self.hidden_compiled.push(id);
                }
                self.add_compiled_names(id, names, COMPILED_RULE, true);
                let joined = self.names_in_joined_runs(id, joined_runs);
                self.add_compiled_names(id, &joined, COMPILED_JOINED_RULE, true);
                // A bare name is a guess: whether it is a whole string, only its order tells.
                self.add_compiled_names(id, joined_names, COMPILED_JOINED_RULE, false);
                if let Some(imports) = source {
                    self.add_requests(id, imports);
                }
            }
        }
        Ok(())
    }

    /// Imports named `{package}{suffix}` where a library computes the package: tried for each
    /// package the app's own strings name, and each the importing module's strings name
    /// (Django imports `"%s.migrations" % app` for every app of `INSTALLED_APPS`, and its own
    /// commands as `"%s.management.commands.%s" % ("django.core", name)`). A name that is a
    /// package, or a suffix that ends in a dot, brings the package's contents, which such
    /// libraries list at run time.
    fn follow_suffixes(&mut self) {
        let suffixed = self.suffixed.clone();
        for s in &suffixed {
            let mut packages: Vec<String> = self.app_strings.iter().cloned().collect();
            packages.extend(s.own_strings.iter().cloned());
            for package in packages {
                let is_package = self
                    .graph
                    .get(&package)
                    .is_some_and(|id| self.graph.modules[id].is_package());
                if !is_package {
                    continue;
                }
                let name = format!("{package}{}", s.suffix.trim_end_matches('.'));
                if !self.suffixes_tried.insert((s.importer, name.clone())) || !self.probe(&name) {
                    continue;
                }
                let Some(id) = self.ensure(&name) else {
                    continue;
                };
                let rule = format!(
                    "module name computed at run time as `{{package}}{}`; `{package}` is a package a string names",
                    s.suffix
                );
                if s.suffix.ends_with('.') || self.graph.modules[id].is_package() {
                    self.include_inferred_package(s.importer, id, s.line, s.condition, rule);
                } else {
                    self.graph.edges.push(Edge {
                        from: s.importer,
                        to: id,
                        line: s.line,
                        kind: EdgeKind::Inferred { rule },
                        condition: s.condition,
                        in_function: true,
                    });
                }
            }
        }
    }

    /// Follows the standard library fallbacks left out so far: compiled code that hides its
    /// strings may import one of them directly (pandas imports `zoneinfo._zoneinfo`).
    fn follow_fallbacks(&mut self) {
        for f in std::mem::take(&mut self.graph.fallbacks) {
            if let Some(id) = self.ensure(&f.name) {
                self.graph.edges.push(Edge {
                    from: f.importer,
                    to: id,
                    line: f.line,
                    kind: EdgeKind::Import {
                        via: analyse::Via::Statement,
                    },
                    condition: f.condition,
                    in_function: false,
                });
            }
        }
    }

    /// `to` is needed to start the interpreter or the app.
    fn runtime_edge(&mut self, from: ModuleId, to: ModuleId) {
        self.graph.edges.push(Edge {
            from,
            to,
            line: 0,
            kind: EdgeKind::Runtime,
            condition: Condition::Always,
            in_function: false,
        });
    }

    /// Resolves `name` (absolute, dotted), adding it and its parents to the graph.
    fn ensure(&mut self, name: &str) -> Option<ModuleId> {
        if let Some(id) = self.graph.get(name) {
            return Some(id);
        }
        if self.not_found.contains(name) {
            return None;
        }
        let found = self.find(name);
        if found.is_none() {
            self.not_found.insert(name.to_string());
        }
        found
    }

    fn is_excluded(&self, name: &str) -> bool {
        // `name` or one of its parent packages.
        !self.excluded.is_empty()
            && (name.bytes().enumerate())
                .filter(|&(_, b)| b == b'.')
                .map(|(at, _)| &name[..at])
                .chain(std::iter::once(name))
                .any(|prefix| self.excluded.contains(prefix))
    }

    /// Applies a hook on behalf of `owner` (the module it is about, or the entry for the
    /// project's configuration).
    fn apply_hook(&mut self, owner: ModuleId, loaded: &LoadedHook) {
        let hook = &loaded.hook;
        self.excluded.extend(hook.exclude.iter().cloned());
        let source = loaded.source.to_string();
        let mut applied = AppliedHook {
            module: hook.module.clone(),
            source: loaded.source.clone(),
            added: Vec::new(),
            not_found: Vec::new(),
            hook: hook.clone(),
        };
        for name in hook.hidden_imports.iter().chain(&hook.collect) {
            match self.ensure(name) {
                Some(id) => {
                    self.graph.edges.push(Edge {
                        from: owner,
                        to: id,
                        line: 0,
                        kind: EdgeKind::Hook {
                            source: source.clone(),
                        },
                        condition: Condition::Always,
                        in_function: false,
                    });
                    applied.added.push(name.clone());
                    if hook.collect.contains(name) {
                        let source = source.clone();
                        self.include_submodules(id, || EdgeKind::Hook {
                            source: source.clone(),
                        });
                    }
                }
                None => {
                    applied.not_found.push(name.clone());
                    // The user asked for it by name, in the configuration or in a hook file of
                    // theirs: not having it is an error. Built-in hooks name modules that some
                    // versions of a package lack.
                    let asked_by = match &loaded.source {
                        HookSource::Config => {
                            Some("the configuration's `hidden-imports` or `collect`".to_string())
                        }
                        HookSource::User(path) => Some(format!(
                            "`hidden-imports` or `collect` of the hook {}",
                            path.display()
                        )),
                        HookSource::Builtin(_) => None,
                    };
                    if let Some(asked_by) = asked_by {
                        self.graph.missing.push(Missing {
                            name: name.clone(),
                            importer: owner,
                            line: 0,
                            condition: Condition::Always,
                            in_function: false,
                            reason: Some(format!("named in {asked_by}")),
                            required: true,
                            provided_by: None,
                        });
                    }
                }
            }
        }
        self.graph.applied_hooks.push(applied);
    }

    fn find(&mut self, name: &str) -> Option<ModuleId> {
        if self.is_excluded(name) {
            return None;
        }
        let interp = self.input.interpreter;
        if let Some(real) = interp.module_aliases.get(name) {
            // `os.path` is `posixpath`: os puts it in sys.modules under that name.
            let id = self.ensure(real)?;
            self.graph.by_name.insert(name.to_string(), id);
            return Some(id);
        }
        let (parent, tail) = match name.rsplit_once('.') {
            Some((p, t)) => (Some(p), t),
            None => (None, name),
        };
        let parent_id = match parent {
            Some(p) => Some(self.ensure(p)?),
            None => None,
        };
        let locations = match parent_id {
            Some(pid) => {
                let p = &self.graph.modules[pid];
                if !p.is_package() {
                    return None;
                }
                p.package_dirs.clone()
            }
            None => {
                if interp.is_builtin(name) {
                    return Some(self.add_module(
                        name,
                        ModuleKind::Builtin,
                        None,
                        Vec::new(),
                        parent_id,
                    ));
                }
                self.top_level.clone()
            }
        };
        let frozen = interp.is_frozen(name);
        let id = match self.finder.find(tail, &locations) {
            Some(Found::Module { path, kind, entry }) => self.add_module(
                name,
                ModuleKind::File { path, file: kind },
                Some(entry),
                Vec::new(),
                parent_id,
            ),
            Some(Found::Package {
                init,
                kind,
                dir,
                entry,
            }) => self.add_module(
                name,
                ModuleKind::Package { init, file: kind },
                Some(entry),
                vec![(dir, entry)],
                parent_id,
            ),
            Some(Found::Namespace { portions }) => {
                let entry = portions.first().map(|p| p.1);
                self.add_module(name, ModuleKind::Namespace, entry, portions, parent_id)
            }
            None if frozen => {
                self.add_module(name, ModuleKind::Frozen, None, Vec::new(), parent_id)
            }
            None => return None,
        };
        self.graph.modules[id].frozen = frozen;
        Some(id)
    }

    fn add_module(
        &mut self,
        name: &str,
        kind: ModuleKind,
        entry: Option<usize>,
        package_dirs: Vec<finder::Location>,
        parent: Option<ModuleId>,
    ) -> ModuleId {
        let origin = match entry.map(|e| self.graph.entries[e].kind) {
            Some(EntryKind::App) => Origin::App,
            Some(EntryKind::Site) => Origin::ThirdParty,
            Some(EntryKind::Stdlib | EntryKind::Dynload) | None => Origin::Stdlib,
        };
        // Sources are parsed; extension modules outside the stdlib are scanned for the names
        // their compiled code imports.
        let analyse = match kind.file_kind() {
            Some(FileKind::Source) => true,
            Some(FileKind::Extension) => origin != Origin::Stdlib,
            _ => false,
        };
        let id = self.graph.add(Module {
            name: name.to_string(),
            kind,
            origin,
            entry,
            package_dirs,
            frozen: false,
            skipped: None,
            exports: None,
        });
        if analyse {
            self.pending.push(id);
        }
        let implicit: Vec<String> = self
            .input
            .interpreter
            .implicit_imports
            .iter()
            .filter(|(importer, _)| importer == name)
            .map(|(_, imported)| imported.clone())
            .collect();
        let hooks: Vec<LoadedHook> = self
            .input
            .hooks
            .iter()
            .filter(|h| h.hook.module == name)
            .cloned()
            .collect();
        for hook in &hooks {
            self.apply_hook(id, hook);
        }
        for imported in implicit {
            if let Some(to) = self.ensure(&imported) {
                self.inferred_edge(id, to, graph::INTERPRETER_RULE.into(), Condition::Always);
            }
        }
        if let Some(parent) = parent {
            self.graph.edges.push(Edge {
                from: id,
                to: parent,
                line: 0,
                kind: EdgeKind::Parent,
                condition: Condition::Always,
                in_function: false,
            });
        }
        id
    }

    /// Adds every submodule of a package, recursively.
    pub(crate) fn collect_submodules(&mut self, package: ModuleId, reason: &str) {
        self.include_submodules(package, || EdgeKind::Collected {
            reason: reason.to_string(),
        });
    }

    /// Adds every submodule of a package, recursively, with edges of the given kind.
    fn include_submodules(&mut self, package: ModuleId, kind: impl Fn() -> EdgeKind) {
        self.include_submodules_to(package, usize::MAX, kind);
    }

    /// Adds submodules of a package down to `depth` levels (1: immediate submodules only).
    /// Test suites (`tests`, `test`, `conftest`) are never discovered this way: nothing loads
    /// them at run time by computed name.
    fn include_submodules_to(
        &mut self,
        package: ModuleId,
        depth: usize,
        kind: impl Fn() -> EdgeKind,
    ) {
        let mut stack = vec![(package, 0usize)];
        // Real directories already walked: a symbolic link back up the tree (or two names for
        // one directory) would otherwise be walked again, without end for a loop.
        // A directory is known by its device and inode (one `stat`, where resolving its real
        // path reads every component's link).
        let identity = |dir: &Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
        };
        let mut seen: HashSet<(u64, u64)> = HashSet::default();
        while let Some((pid, level)) = stack.pop() {
            if level >= depth {
                continue;
            }
            let dirs = self.graph.modules[pid].package_dirs.clone();
            let fresh: Vec<(u64, u64)> = dirs
                .iter()
                .filter_map(|(dir, _)| identity(dir))
                .filter(|real| !seen.contains(real))
                .collect();
            if fresh.is_empty() && !dirs.is_empty() {
                continue;
            }
            seen.extend(fresh);
            let prefix = self.graph.modules[pid].name.clone();
            let mut names: Vec<String> = Vec::new();
            for (dir, _) in &dirs {
                let Some(listing) = self.finder.listing(dir) else {
                    continue;
                };
                for file in listing.iter() {
                    if let Some((stem, _)) = self.finder.module_file_kind(file) {
                        if stem != "__init__" {
                            names.push(stem.to_string());
                        }
                    } else if is_identifier(file)
                        && self.holds_modules(&dir.join(file))
                        && identity(&dir.join(file)).is_some_and(|r| !seen.contains(&r))
                    {
                        names.push(file.clone());
                    }
                }
            }
            names.sort();
            names.dedup();
            names.retain(|n| !matches!(n.as_str(), "tests" | "test" | "conftest"));
            for name in names {
                let full = format!("{prefix}.{name}");
                // A module already in the graph (through the app's tree, say) still gets this
                // edge: it is evidence of its own.
                if let Some(id) = self.ensure(&full) {
                    self.graph.edges.push(Edge {
                        from: pid,
                        to: id,
                        line: 0,
                        kind: kind(),
                        condition: Condition::Always,
                        in_function: false,
                    });
                    if self.graph.modules[id].is_package() {
                        stack.push((id, level + 1));
                    }
                }
            }
        }
    }

    /// `importer` loads submodules of `package` by computed name: the package and all its
    /// submodules ship, marked with `rule`.
    fn include_inferred_package(
        &mut self,
        importer: ModuleId,
        package: ModuleId,
        line: u32,
        condition: Condition,
        rule: String,
    ) {
        self.graph.edges.push(Edge {
            from: importer,
            to: package,
            line,
            kind: EdgeKind::Inferred { rule: rule.clone() },
            condition,
            in_function: false,
        });
        self.include_submodules(package, || EdgeKind::Inferred { rule: rule.clone() });
    }

    /// Whether a directory is a package: it holds module files (`__init__` or others).
    fn holds_modules(&self, dir: &Path) -> bool {
        self.finder
            .listing(dir)
            .is_some_and(|l| l.iter().any(|f| self.finder.module_file_kind(f).is_some()))
    }

    /// Top-level extension modules installed in the site directories (`_cffi_backend`): compiled
    /// code imports them from C by a bare name, which a scan finds as a whole C string.
    /// Every top-level module and package installed in the site directories (by name).
    fn site_top_level_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for entry in self
            .graph
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Site)
        {
            let Some(listing) = self.finder.listing(&entry.dir) else {
                continue;
            };
            out.extend(listing.iter().filter_map(|file| {
                let name = match self.finder.module_file_kind(file) {
                    Some((stem, _)) => stem,
                    None => file.as_str(),
                };
                (is_identifier(name) && !name.starts_with("__")).then(|| name.to_string())
            }));
        }
        out.sort();
        out.dedup();
        out
    }

    fn site_extension_modules(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .top_level_extensions(EntryKind::Site)
            .into_iter()
            .filter(|(stem, _)| is_identifier(stem))
            .map(|(stem, _)| stem)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Top-level extension modules in the search entries of `kind`: (name, file).
    fn top_level_extensions(&self, kind: EntryKind) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for entry in self.graph.entries.iter().filter(|e| e.kind == kind) {
            let Some(listing) = self.finder.listing(&entry.dir) else {
                continue;
            };
            for file in listing.iter() {
                if let Some((stem, FileKind::Extension)) = self.finder.module_file_kind(file) {
                    out.push((stem.to_string(), entry.dir.join(file)));
                }
            }
        }
        out
    }

    /// Top-level extension modules of the standard library that link no library beyond libc,
    /// libm and libpython, less its test modules: what compiled code that hides its strings
    /// may import unseen, at little cost.
    fn self_contained_stdlib_extensions(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .top_level_extensions(EntryKind::Dynload)
            .into_iter()
            .filter(|(stem, _)| {
                !(stem.starts_with("_test")
                    || stem.starts_with("xx")
                    || stem.starts_with("_xx")
                    || stem.contains("test"))
            })
            .filter(|(_, file)| {
                crate::installed::elf::read_elf(file)
                    .ok()
                    .flatten()
                    .is_some_and(|elf| {
                        elf.needed.iter().all(|n| {
                            [
                                "libc.so",
                                "libm.so",
                                "libpthread.so",
                                "libdl.so",
                                "libpython",
                            ]
                            .iter()
                            .any(|p| n.starts_with(p))
                        })
                    })
            })
            .map(|(stem, _)| stem)
            .collect();
        out.sort();
        out
    }

    /// Module names found in an extension module's binary: each resolves to its longest
    /// importable prefix (the rest is an attribute path); names that resolve to nothing are
    /// ordinary strings.
    fn add_compiled_names(
        &mut self,
        importer: ModuleId,
        names: &[String],
        rule: &str,
        certain: bool,
    ) {
        let own_top = self.graph.modules[importer]
            .name
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        for name in names {
            let mut candidate = name.as_str();
            let found = loop {
                if self.probe(candidate) {
                    break self.ensure(candidate);
                }
                match candidate.rsplit_once('.') {
                    Some((parent, _)) if parent.contains('.') => candidate = parent,
                    _ => break None,
                }
            };
            if let Some(id) = found {
                if id != importer {
                    // Compiled code may guard an import as Python code does: a name of another
                    // distribution that this one does not require is taken as optional.
                    let top = candidate.split('.').next().unwrap_or(candidate);
                    let required = certain
                        && (self.graph.modules[id].origin != Origin::ThirdParty
                            || top == own_top
                            || self.requires_top_level(importer, top));
                    self.inferred_edge(
                        importer,
                        id,
                        rule.into(),
                        if required {
                            Condition::Always
                        } else {
                            Condition::Optional
                        },
                    );
                }
            }
        }
    }

    /// The modules that runs of an extension module's strings read end to end name (see
    /// [`analyse::compiled::CompiledNames::joined_runs`]): where a run holds a dot, a module
    /// whose name ends just before it and that continues, component by component, with the
    /// longest prefix of what follows that names a module too. In `npnumpynumpy.random._sfc64pop`
    /// that is `numpy.random._sfc64`; a top-level module alone (`py`, from `numpy`) is no name.
    fn names_in_joined_runs(&mut self, importer: ModuleId, runs: &[String]) -> Vec<String> {
        let mut exists: HashMap<String, bool> = HashMap::default();
        let mut probe = |this: &mut Self, name: &str| -> bool {
            if let Some(&known) = exists.get(name) {
                return known;
            }
            let found = this.probe(name);
            exists.insert(name.to_string(), found);
            found
        };
        let importer_name = self.graph.modules[importer].name.clone();
        let mut found = std::collections::BTreeSet::new();
        for run in runs {
            let bytes = run.as_bytes();
            // The run was cut for its first dot.
            let Some(dot) = run.find('.') else { continue };
            for start in 0..dot {
                if !(bytes[start].is_ascii_alphabetic() || bytes[start] == b'_') {
                    continue;
                }
                let top = &run[start..dot];
                if STDLIB_DEV_ONLY.contains(&top) || !probe(self, top) {
                    continue;
                }
                let mut name = top.to_string();
                let mut at = dot;
                while bytes.get(at) == Some(&b'.') {
                    let rest = &run[at + 1..];
                    let part = &rest[..rest.find('.').unwrap_or(rest.len())];
                    let longest = (1..=part.len()).rev().find(|&k| {
                        is_identifier(&part[..k]) && probe(self, &format!("{name}.{}", &part[..k]))
                    });
                    let Some(k) = longest else { break };
                    name = format!("{name}.{}", &part[..k]);
                    if k < part.len() {
                        break;
                    }
                    at += 1 + k;
                }
                if name.len() > top.len()
                    && name != importer_name
                    && !analyse::compiled::is_runtime_name(&name)
                {
                    found.insert(name);
                }
            }
        }
        found.into_iter().collect()
    }

    /// Every submodule of a lazy package, one level down: what ships when the package cannot
    /// be asked which ones the app's attributes import.
    fn include_lazy_submodules(&mut self, package: ModuleId, why_not_asked: &str) {
        let rule = format!(
            "package imports its submodules lazily (module-level __getattr__){why_not_asked}"
        );
        self.include_submodules_to(package, 1, || EdgeKind::Inferred { rule: rule.clone() });
    }

    /// Asks the target interpreter what it cannot be read from files, once the graph has
    /// settled: what the attributes used of each lazy package import, and what extension modules
    /// whose strings are compressed import when initialised. The two questions go to two
    /// children at once.
    fn introspect(&mut self) {
        self.follow_lazy_submodules();
        let Some(cache) = self.input.introspect else {
            return;
        };
        let compiled: std::collections::BTreeMap<String, PathBuf> =
            std::mem::take(&mut self.hidden_compiled)
                .into_iter()
                .filter_map(|id| {
                    let m = &self.graph.modules[id];
                    Some((m.name.clone(), m.file()?.to_path_buf()))
                })
                .collect();
        let python = &self.input.interpreter.executable;
        let lazy_requests = self.lazy_requests();
        let (lazy_answers, compiled_answers) = std::thread::scope(|s| {
            let compiled = s.spawn(|| {
                (!compiled.is_empty())
                    .then(|| introspect::introspect_compiled(python, Some(cache), &compiled))
            });
            let lazy = (!lazy_requests.is_empty())
                .then(|| introspect::introspect(python, Some(cache), &lazy_requests));
            (lazy, compiled.join().unwrap_or(None))
        });
        if let Some(answers) = lazy_answers {
            self.add_lazy_answers(&lazy_requests, answers);
        }
        if let Some(answers) = compiled_answers {
            self.add_compiled_answers(answers);
        }
    }

    /// An attribute read of a lazy package that names one of its submodules (`scipy.stats`)
    /// imports that submodule, as the package's `__getattr__` would: followed like an import,
    /// so that the interpreter is asked only about the other names (`pydantic.BaseModel`).
    fn follow_lazy_submodules(&mut self) {
        let mut found = Vec::new();
        for (id, asked) in &self.lazy {
            let package = &self.graph.modules[*id].name;
            for name in self.attr_uses.get(package).into_iter().flatten() {
                if !asked.contains(name)
                    && is_identifier(name)
                    && !name.starts_with("__")
                    && !self.lazy_submodules.contains(&(*id, name.clone()))
                {
                    found.push((*id, format!("{package}.{name}"), name.clone()));
                }
            }
        }
        for (id, full, name) in found {
            if !self.probe(&full) {
                continue;
            }
            self.lazy_submodules.insert((id, name));
            if let Some(to) = self.ensure(&full) {
                self.inferred_edge(id, to, graph::LAZY_SUBMODULE_RULE.into(), Condition::Always);
            }
        }
    }

    /// What to ask of each lazy package: every attribute name used of it that is not one of
    /// its submodules, when some have not been asked yet.
    fn lazy_requests(
        &self,
    ) -> std::collections::BTreeMap<String, (PathBuf, std::collections::BTreeSet<String>)> {
        let mut requests = std::collections::BTreeMap::new();
        for (id, asked) in &self.lazy {
            if self.lazy_known.contains(id) {
                continue;
            }
            let m = &self.graph.modules[*id];
            let Some(file) = m.file() else { continue };
            let wanted: std::collections::BTreeSet<String> = self
                .attr_uses
                .get(&m.name)
                .into_iter()
                .flatten()
                .filter(|n| !n.starts_with("__") && is_identifier(n))
                .filter(|n| !asked.contains(*n))
                .filter(|n| !self.lazy_submodules.contains(&(*id, (*n).clone())))
                .cloned()
                .collect();
            if !wanted.is_empty() {
                let mut all = asked.clone();
                all.extend(wanted);
                requests.insert(m.name.clone(), (file.to_path_buf(), all));
            }
        }
        requests
    }

    /// Adds what reading the attributes of each lazy package imported (or, when asking failed,
    /// every submodule).
    fn add_lazy_answers(
        &mut self,
        requests: &std::collections::BTreeMap<
            String,
            (PathBuf, std::collections::BTreeSet<String>),
        >,
        answers: Result<std::collections::BTreeMap<String, introspect::Introspected>, String>,
    ) {
        for i in 0..self.lazy.len() {
            let id = self.lazy[i].0;
            let name = self.graph.modules[id].name.clone();
            let Some((_, names)) = requests.get(&name) else {
                continue;
            };
            self.lazy[i].1 = names.clone();
            let answer = match &answers {
                Ok(a) => a.get(&name).cloned(),
                Err(e) => Some(introspect::Introspected {
                    modules: Vec::new(),
                    error: Some(e.clone()),
                }),
            };
            match answer {
                Some(introspect::Introspected {
                    error: None,
                    modules,
                }) => {
                    let rule = format!(
                        "{INTROSPECTED_RULE} `{name}` imports it when the attributes the app uses \
                         are read"
                    );
                    for module in modules {
                        if let Some(to) = self.ensure(&module) {
                            if to != id {
                                self.inferred_edge(id, to, rule.clone(), Condition::Always);
                            }
                        }
                    }
                }
                Some(introspect::Introspected { error: Some(e), .. }) => self
                    .include_lazy_submodules(id, &format!("; asking the interpreter failed: {e}")),
                None => self.include_lazy_submodules(id, "; the interpreter gave no answer"),
            }
        }
    }

    /// Adds what each extension module's compiled code imported when initialised. One that
    /// could not be imported, or a child that failed, adds nothing: the binary's scan and the
    /// standard library fallbacks stand, as without introspection.
    fn add_compiled_answers(
        &mut self,
        answers: std::collections::BTreeMap<String, introspect::Introspected>,
    ) {
        for (name, answer) in answers {
            let Some(from) = self.graph.get(&name) else {
                continue;
            };
            let rule =
                format!("{INTROSPECTED_RULE} `{name}` imports it from compiled code when imported");
            let own_top = name.split('.').next().unwrap_or(&name).to_string();
            for module in answer.modules {
                let Some(to) = self.ensure(&module) else {
                    continue;
                };
                if to == from {
                    continue;
                }
                // Compiled code may guard an import as Python code does (`pyarrow.lib` imports
                // `cloudpickle` if it is installed), and the child cannot tell: an import of
                // another distribution that this one does not require is taken as optional.
                let top = module.split('.').next().unwrap_or(&module);
                let required = self.graph.modules[to].origin != Origin::ThirdParty
                    || top == own_top
                    || self.requires_top_level(from, top);
                self.inferred_edge(
                    from,
                    to,
                    rule.clone(),
                    if required {
                        Condition::Always
                    } else {
                        Condition::Optional
                    },
                );
            }
        }
    }

    /// An inferred edge: found by a rule rather than at an import statement's line.
    fn inferred_edge(&mut self, from: ModuleId, to: ModuleId, rule: String, condition: Condition) {
        self.graph.edges.push(Edge {
            from,
            to,
            line: 0,
            kind: EdgeKind::Inferred { rule },
            condition,
            in_function: false,
        });
    }

    /// Functions that import the module their argument names, and calls of them: each call with
    /// a known argument is an import by the caller (`import_optional_dependency("bottleneck")`
    /// in pandas imports bottleneck), whichever of the two modules is read first.
    fn add_import_wrappers(&mut self, module: ModuleId, imports: &FileImports) {
        let name = self.graph.modules[module].name.clone();
        for w in &imports.import_wrappers {
            let callee = format!("{name}.{}", w.function);
            let calls = self.wrapper_calls.get(&callee).cloned().unwrap_or_default();
            for (caller, call) in &calls {
                self.import_through(*caller, call, w);
            }
            self.wrappers.entry(callee).or_default().push(w.clone());
        }
        for call in &imports.calls {
            let wrappers = self.wrappers.get(&call.callee).cloned().unwrap_or_default();
            for w in &wrappers {
                self.import_through(module, call, w);
            }
            self.wrapper_calls
                .entry(call.callee.clone())
                .or_default()
                .push((module, call.clone()));
        }
    }

    /// The imports `call` makes through the import wrapper `w`.
    fn import_through(
        &mut self,
        caller: ModuleId,
        call: &analyse::NamedCall,
        w: &analyse::ImportWrapper,
    ) {
        let values = w
            .position
            .and_then(|p| call.args.get(p))
            .filter(|v| !v.is_empty())
            .or_else(|| {
                call.keywords
                    .iter()
                    .find(|(k, _)| *k == w.param)
                    .map(|(_, v)| v)
            })
            .cloned()
            .unwrap_or_default();
        for value in values {
            let target = format!("{}{value}{}", w.prefix, w.suffix);
            if target.starts_with('.') || !self.probe(&target) {
                continue;
            }
            let Some(to) = self.ensure(&target) else {
                continue;
            };
            // One edge per importer and module: numpy's `_add_newdocs` calls `add_newdoc` 300 times.
            if to == caller || !self.wrapper_edges.insert((caller, to)) {
                continue;
            }
            self.graph.edges.push(Edge {
                from: caller,
                to,
                line: call.line,
                kind: EdgeKind::Inferred {
                    rule: format!(
                        "{WRAPPER_RULE} `{}`, which imports the module its argument names",
                        call.callee
                    ),
                },
                condition: call.condition.max(w.condition),
                in_function: call.in_function,
            });
        }
    }

    /// Marks the missing imports that a module of the graph provides through `sys.modules`.
    fn mark_provided(&mut self) {
        for m in &mut self.graph.missing {
            let mut name = m.name.as_str();
            let provider = loop {
                if let Some(p) = self.provided.get(name) {
                    break Some(p);
                }
                match name.rsplit_once('.') {
                    Some((parent, _)) => name = parent,
                    None => break None,
                }
            };
            if let Some(&(id, line)) = provider {
                let module = &self.graph.modules[id];
                let place = module
                    .file()
                    .map_or(module.name.clone(), |f| f.display().to_string());
                m.provided_by = Some(format!("{place}:{line}"));
            }
        }
    }

    fn add_requests(&mut self, importer: ModuleId, imports: &FileImports) {
        self.add_import_wrappers(importer, imports);
        for (name, line) in &imports.provides {
            self.provided
                .entry(name.clone())
                .or_insert((importer, *line));
        }
        // Directories put on sys.path come first: the file's later imports see them.
        self.add_path_references(importer, &imports.paths);
        for request in &imports.imports {
            self.add_request(importer, request);
        }
        self.graph.modules[importer].exports = imports.all.clone();
        let is_package = self.graph.modules[importer].is_package();
        let origin = self.graph.modules[importer].origin;
        if origin == Origin::ThirdParty && is_package {
            self.modules_named_in_package_config(importer);
        }
        if origin == Origin::ThirdParty {
            if let Some(read) = imports.source_reads.first() {
                let name = &self.graph.modules[importer].name;
                let top = name.split('.').next().unwrap_or(name).to_string();
                if !self.graph.source_readers.iter().any(|r| r.0 == top) {
                    self.graph.source_readers.push((
                        top,
                        name.clone(),
                        read.line,
                        read.call.clone(),
                    ));
                }
            }
        }
        for path in &imports.attributes {
            // `a.b.c` reads `b` of `a` and `c` of `a.b`.
            let dots: Vec<usize> = path.match_indices('.').map(|(at, _)| at).collect();
            for (i, &at) in dots.iter().enumerate() {
                let (owner, attr) = (
                    &path[..at],
                    &path[at + 1..*dots.get(i + 1).unwrap_or(&path.len())],
                );
                match self.attr_uses.get_mut(owner) {
                    Some(attrs) if attrs.contains(attr) => {}
                    Some(attrs) => {
                        attrs.insert(attr.to_string());
                    }
                    None => {
                        self.attr_uses
                            .insert(owner.to_string(), [attr.to_string()].into());
                    }
                }
            }
        }
        if imports.lazy_getattr && is_package && origin != Origin::Stdlib {
            if origin == Origin::ThirdParty && self.input.introspect.is_some() {
                self.lazy.push((importer, Default::default()));
            } else {
                self.include_lazy_submodules(importer, "");
            }
        } else if imports.getattr_submodules && is_package && origin != Origin::Stdlib {
            self.lazy.push((importer, Default::default()));
            self.lazy_known.insert(importer);
        }
        for scan in &imports.scans {
            if matches!(
                scan.condition,
                Condition::TypeChecking | Condition::OtherPlatform
            ) {
                continue;
            }
            let package = match &scan.target {
                crate::analyse::ScanTarget::OwnPackage => {
                    let m = &self.graph.modules[importer];
                    if m.is_package() {
                        Some(importer)
                    } else {
                        m.name
                            .rsplit_once('.')
                            .map(|(p, _)| p.to_string())
                            .and_then(|p| self.ensure(&p))
                    }
                }
                crate::analyse::ScanTarget::Named(name) => self.ensure(name),
            };
            let Some(package) = package.filter(|&p| self.graph.modules[p].is_package()) else {
                continue;
            };
            let rule = format!(
                "package contents of `{}` discovered at run time (pkgutil, importlib.resources)",
                self.graph.modules[package].name
            );
            self.include_inferred_package(importer, package, scan.line, scan.condition, rule);
        }
        // Code that keeps every entry point but reads groups it names (fsspec's
        // `entry_points().select(group="fsspec.specs")` through a variable) reads those.
        let names_groups = imports
            .entry_point_groups
            .iter()
            .any(|(g, _)| g != analyse::ALL_ENTRY_POINT_GROUPS);
        for (group, line) in &imports.entry_point_groups {
            if group == analyse::ALL_ENTRY_POINT_GROUPS {
                if !names_groups {
                    self.all_entry_points.push((importer, *line));
                }
            } else {
                self.include_entry_point_group(importer, group, *line);
            }
        }
        if origin == Origin::App {
            self.groups_named_by_app(importer);
        }
        for dynamic in &imports.dynamic {
            if matches!(
                dynamic.condition,
                Condition::TypeChecking | Condition::OtherPlatform
            ) {
                continue;
            }
            if let Some(suffix) = &dynamic.suffix {
                self.suffixed.push(Suffixed {
                    importer,
                    suffix: suffix.clone(),
                    line: dynamic.line,
                    condition: dynamic.condition,
                    own_strings: imports
                        .references
                        .iter()
                        .map(|r| r.module.clone())
                        .collect(),
                });
                continue;
            }
            let request = ImportRequest {
                module: dynamic.prefix.trim_matches('.').to_string(),
                level: dynamic.level,
                names: Vec::new(),
                line: dynamic.line,
                condition: dynamic.condition,
                in_function: true,
                via: crate::analyse::Via::ImportModule,
                fallback_for: Vec::new(),
            };
            let Ok(package) = self.absolute_name(importer, &request) else {
                continue;
            };
            let Some(id) = self.ensure(&package) else {
                continue;
            };
            if !self.graph.modules[id].is_package() {
                continue;
            }
            let rule = format!("module name computed at run time under `{package}.`");
            self.include_inferred_package(importer, id, dynamic.line, dynamic.condition, rule);
        }
        for reference in &imports.references {
            if matches!(
                reference.condition,
                Condition::TypeChecking | Condition::OtherPlatform
            ) {
                continue;
            }
            let module = if reference.explicit {
                Some(reference.module.clone())
            } else {
                self.dotted_reference(importer, &reference.module)
            };
            let Some(module) = module else { continue };
            if origin == Origin::App {
                self.app_strings.insert(module.clone());
            }
            if let Some(id) = self.ensure(&module) {
                if id != importer {
                    self.graph.edges.push(Edge {
                        from: importer,
                        to: id,
                        line: reference.line,
                        kind: EdgeKind::Inferred {
                            rule: format!("{STRING_RULE} \"{}\" names a module", reference.module),
                        },
                        condition: reference.condition,
                        in_function: false,
                    });
                }
            }
        }
    }

    fn add_request(&mut self, importer: ModuleId, request: &ImportRequest) {
        if matches!(
            request.condition,
            Condition::TypeChecking | Condition::OtherPlatform
        ) {
            return;
        }
        let importer_name = self.graph.modules[importer].name.as_str();
        if INTERACTIVE_ONLY.contains(&(importer_name, request.module.as_str())) {
            return;
        }
        let target = match self.absolute_name(importer, request) {
            Ok(t) => t,
            Err(reason) => {
                self.missing(importer, request, request.module.clone(), Some(reason));
                return;
            }
        };
        let importer_module = &self.graph.modules[importer];
        if importer_module.origin == Origin::Stdlib
            && request.in_function
            && STDLIB_DEV_ONLY.contains(&target.split('.').next().unwrap_or(""))
        {
            return;
        }
        if importer_module.origin == Origin::Stdlib
            && !self.hidden_imports_seen
            && !request.fallback_for.is_empty()
            && request
                .fallback_for
                .iter()
                .all(|m| self.is_native_stdlib(m))
        {
            // The handler runs only when its `try` fails to import, and what that imports is
            // built in or a stdlib extension the bundle carries from this same interpreter.
            self.graph.fallbacks.push(Excluded {
                name: target,
                importer,
                line: request.line,
                condition: request.condition,
            });
            return;
        }
        if self.is_excluded(&target) {
            self.graph.excluded.push(Excluded {
                name: target,
                importer,
                line: request.line,
                condition: request.condition,
            });
            return;
        }
        let Some(id) = self.ensure(&target) else {
            let missing = self.first_missing(&target);
            self.missing(importer, request, missing, None);
            return;
        };
        self.graph.edges.push(Edge {
            from: importer,
            to: id,
            line: request.line,
            kind: EdgeKind::Import { via: request.via },
            condition: request.condition,
            in_function: request.in_function,
        });
        if !self.graph.modules[id].is_package() {
            return;
        }
        for name in &request.names {
            if name == "*" {
                self.star_imports.push((importer, id, request.line));
                continue;
            }
            self.attr_uses
                .entry(target.clone())
                .or_default()
                .insert(name.clone());
            let sub = format!("{target}.{name}");
            if let Some(sid) = self.ensure(&sub) {
                self.graph.edges.push(Edge {
                    from: importer,
                    to: sid,
                    line: request.line,
                    kind: EdgeKind::FromImport,
                    condition: request.condition,
                    in_function: request.in_function,
                });
            }
        }
    }

    /// Whether `name` is a standard library module compiled into the interpreter or an
    /// extension module of its own (`_decimal`), found for the target.
    fn is_native_stdlib(&mut self, name: &str) -> bool {
        let Some(id) = self.ensure(name) else {
            return false;
        };
        let m = &self.graph.modules[id];
        m.origin == Origin::Stdlib
            && matches!(
                m.kind,
                ModuleKind::Builtin
                    | ModuleKind::File {
                        file: FileKind::Extension,
                        ..
                    }
            )
    }

    /// The absolute module a request names, as `importlib._bootstrap._resolve_name` computes it.
    fn absolute_name(&self, importer: ModuleId, request: &ImportRequest) -> Result<String, String> {
        if request.level == 0 {
            return Ok(request.module.clone());
        }
        let m = &self.graph.modules[importer];
        let package = if m.is_package() {
            m.name.as_str()
        } else {
            m.name.rsplit_once('.').map_or("", |(p, _)| p)
        };
        if package.is_empty() || m.name == "__main__" {
            return Err("relative import with no known parent package".into());
        }
        // Each level past the first climbs one package up.
        let mut base = package;
        for _ in 1..request.level {
            match base.rfind('.') {
                Some(at) => base = &base[..at],
                None => return Err("relative import climbs above the top-level package".into()),
            }
        }
        Ok(if request.module.is_empty() {
            base.to_string()
        } else {
            format!("{base}.{}", request.module)
        })
    }

    /// `from package import *`: the submodules the package lists in `__all__`, once known.
    fn resolve_star_imports(&mut self) {
        let waiting = std::mem::take(&mut self.star_imports);
        for (importer, package, line) in waiting {
            let m = &self.graph.modules[package];
            let analysed = m.exports.is_some() || !self.pending.contains(&package);
            if !analysed {
                self.star_imports.push((importer, package, line));
                continue;
            }
            let prefix = m.name.clone();
            for name in m.exports.clone().unwrap_or_default() {
                let full = format!("{prefix}.{name}");
                if self.probe(&full) {
                    if let Some(id) = self.ensure(&full) {
                        self.graph.edges.push(Edge {
                            from: importer,
                            to: id,
                            line,
                            kind: EdgeKind::FromImport,
                            condition: Condition::Always,
                            in_function: false,
                        });
                    }
                }
            }
        }
    }

    /// For each extension module in `batch`: the other top-level modules its distribution
    /// installs (from RECORD), which compiled code may import (mypyc's `<hash>__mypyc`).
    fn distribution_siblings(&mut self, batch: &[ModuleId]) -> HashMap<ModuleId, Vec<String>> {
        let mut out = HashMap::default();
        for &id in batch {
            let m = &self.graph.modules[id];
            if m.file_kind() != Some(FileKind::Extension) || m.origin == Origin::Stdlib {
                continue;
            }
            let (Some(file), Some(entry)) = (m.file().map(Path::to_path_buf), m.entry) else {
                continue;
            };
            let name = m.name.clone();
            let dists = self.dist_index();
            if let Some(dist) = dists.owner(&file, entry, Some(&name)) {
                let top = name.split('.').next().unwrap_or_default();
                let mut others: Vec<String> = dists.distributions[dist]
                    .top_level
                    .iter()
                    .filter(|t| t.as_str() != top)
                    .cloned()
                    .collect();
                // The packages of the distributions it requires, as prefixes (`preshed.`):
                // Cython imports another distribution's module by its dotted name
                // (`thinc.backends.numpy_ops` imports `preshed.maps` from C).
                let mut required: Vec<String> = dists.distributions[dist]
                    .requires
                    .iter()
                    .filter(|r| r.when_extras.is_empty())
                    .flat_map(|r| dists.named(&r.name).iter())
                    .flat_map(|&d| dists.distributions[d].top_level.iter())
                    .filter(|t| t.as_str() != top && !t.contains('/'))
                    .map(|t| format!("{t}."))
                    .collect();
                required.sort();
                required.dedup();
                others.extend(required);
                out.insert(id, others);
            }
        }
        out
    }

    /// Whether the distribution of `importer` requires (unconditionally) one that provides the
    /// top-level module `top`.
    fn requires_top_level(&mut self, importer: ModuleId, top: &str) -> bool {
        let m = &self.graph.modules[importer];
        let (Some(file), Some(entry)) = (m.file().map(Path::to_path_buf), m.entry) else {
            return false;
        };
        let name = m.name.clone();
        let dists = self.dist_index();
        let Some(own) = dists.owner(&file, entry, Some(&name)) else {
            return false;
        };
        dists.distributions[own]
            .requires
            .iter()
            .filter(|r| r.when_extras.is_empty())
            .any(|r| {
                dists
                    .named(&r.name)
                    .iter()
                    .any(|&d| dists.distributions[d].top_level.iter().any(|t| t == top))
            })
    }

    /// Whether `name` can be imported, without adding anything to the graph.
    fn probe(&mut self, name: &str) -> bool {
        // Borrowed until a package of its own is found: most names start in the graph.
        let mut locations: std::borrow::Cow<'_, [finder::Location]> =
            std::borrow::Cow::Borrowed(&self.top_level);
        let mut end = 0;
        for (i, part) in name.split('.').enumerate() {
            end += part.len() + usize::from(i > 0);
            let prefix = &name[..end];
            let last = end == name.len();
            // Its parents were checked on the way here.
            if self.excluded.contains(prefix) {
                return false;
            }
            if let Some(id) = self.graph.get(prefix) {
                let m = &self.graph.modules[id];
                if last {
                    return true;
                }
                if !m.is_package() {
                    return false;
                }
                locations = std::borrow::Cow::Borrowed(&m.package_dirs);
                continue;
            }
            if i == 0 && self.input.interpreter.is_builtin(part) {
                return last;
            }
            match self.finder.find(part, &locations) {
                None => return false,
                Some(Found::Module { .. }) => return last,
                Some(Found::Package { dir, entry, .. }) => {
                    locations = std::borrow::Cow::Owned(vec![(dir, entry)])
                }
                Some(Found::Namespace { portions }) => {
                    locations = std::borrow::Cow::Owned(portions)
                }
            }
        }
        true
    }

    /// The module a dotted string names: its longest importable prefix. The app's own strings
    /// may name any module; a third-party package's only its own modules (registry tables).
    fn dotted_reference(&mut self, importer: ModuleId, dotted: &str) -> Option<String> {
        let m = &self.graph.modules[importer];
        let origin = m.origin;
        let top = dotted.split('.').next().unwrap_or_default();
        let interp = self.input.interpreter;
        let stdlib_target = interp.is_stdlib_name(top) && !STDLIB_DEV_ONLY.contains(&top);
        let mut own_package = m.name.split('.').next() == Some(top);
        if origin == Origin::ThirdParty && !own_package && !stdlib_target {
            // Sphinx's table of built-in extensions names `sphinxcontrib.applehelp`, a
            // distribution Sphinx requires: a dependency's modules count as its own.
            own_package = self.requires_top_level(importer, top);
        }
        match origin {
            Origin::Stdlib => return None,
            // A package's registry tables name its own modules, or the standard library's
            // ("configparser.ConfigParser" in a compatibility table).
            Origin::ThirdParty if !own_package && !stdlib_target => return None,
            _ => {}
        }
        let mut candidate = dotted;
        let mut attributes = 0;
        loop {
            if self.probe(candidate) {
                // Another package's string names a stdlib module and at most one attribute
                // (`"json.decoder.JSONDecodeError"`); a longer tail is a key in some other
                // namespace (`"code.function.name"`, a telemetry attribute).
                if origin == Origin::ThirdParty && !own_package && attributes > 1 {
                    return None;
                }
                return Some(candidate.to_string());
            }
            candidate = candidate.rsplit_once('.')?.0;
            attributes += 1;
            if !candidate.contains('.') && origin != Origin::App && !stdlib_target {
                return None;
            }
        }
    }

    /// Entry point groups the app's code names in a string and hands to a library
    /// (`pluggy.PluginManager.load_setuptools_entrypoints("pytest11")`): a quoted word in an
    /// app module that is the name of an installed group brings that group's targets, as an
    /// `entry_points(group=...)` call would. Script groups are not plugins.
    fn groups_named_by_app(&mut self, importer: ModuleId) {
        let Some(file) = self.graph.modules[importer].file().map(Path::to_path_buf) else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            return;
        };
        if self.entry_points.is_none() {
            let dirs = self.graph.site_dirs();
            self.entry_points = Some(read_entry_points(&dirs));
        }
        let groups = self.entry_points.as_ref().expect("read above");
        let mut named: Vec<(String, u32)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            for inside in analyse::quoted(line) {
                if groups.contains_key(inside)
                    && !matches!(inside, "console_scripts" | "gui_scripts")
                    && !named.iter().any(|(g, _)| g == inside)
                {
                    named.push((inside.to_string(), index as u32 + 1));
                }
            }
        }
        for (group, line) in named {
            self.include_entry_point_group(importer, &group, line);
        }
    }

    /// For code that keeps every entry point and reads groups by names it builds at run time
    /// (catalogue's registries: spaCy reads `spacy_architectures`, which spacy-legacy
    /// provides): the groups named after a package of the graph, `{package}_...` or
    /// `{package}.…`, are taken as if named.
    fn groups_of_imported_packages(&mut self) {
        let Some(&(importer, line)) = self.all_entry_points.first() else {
            return;
        };
        if self.entry_points.is_none() {
            let dirs = self.graph.site_dirs();
            self.entry_points = Some(read_entry_points(&dirs));
        }
        let mut groups: Vec<String> = self
            .entry_points
            .as_ref()
            .expect("read above")
            .keys()
            .filter(|g| !self.groups_taken.contains(*g))
            .filter(|g| {
                g.split_once(['_', '.']).is_some_and(|(package, rest)| {
                    !rest.is_empty() && self.graph.get(package).is_some()
                })
            })
            .cloned()
            .collect();
        groups.sort();
        for group in groups {
            self.groups_taken.insert(group.clone());
            self.include_entry_point_group(importer, &group, line);
        }
    }

    /// Includes the targets of an entry point group from every installed distribution.
    fn include_entry_point_group(&mut self, importer: ModuleId, group: &str, line: u32) {
        if self.entry_points.is_none() {
            let dirs = self.graph.site_dirs();
            self.entry_points = Some(read_entry_points(&dirs));
        }
        let targets = self
            .entry_points
            .as_ref()
            .and_then(|m| m.get(group))
            .cloned()
            .unwrap_or_default();
        for (module, dist) in targets {
            if let Some(id) = self.ensure(&module) {
                self.graph.edges.push(Edge {
                    from: importer,
                    to: id,
                    line,
                    kind: EdgeKind::Inferred {
                        rule: format!("entry point of group `{group}` in {dist}"),
                    },
                    condition: Condition::Always,
                    in_function: false,
                });
            }
        }
    }

    /// Paths a module builds from its `__file__`: data it reads, or directories it puts on
    /// `sys.path`.
    fn add_path_references(&mut self, importer: ModuleId, paths: &[crate::analyse::PathReference]) {
        let Some(dir) = self.graph.modules[importer]
            .file()
            .and_then(|f| f.parent())
            .map(Path::to_path_buf)
        else {
            return;
        };
        let origin = self.graph.modules[importer].origin;
        for reference in paths {
            let path = crate::installed::metadata::normalize(&dir.join(&reference.path));
            if !path.exists() {
                continue;
            }
            if reference.search_path {
                if path.is_dir() && !self.graph.entries.iter().any(|e| same_dir(&e.dir, &path)) {
                    // sys.path.insert/append at run time: later imports see this directory.
                    let index = self.graph.entries.len();
                    self.graph.entries.push(SearchEntry {
                        dir: path.clone(),
                        kind: if origin == Origin::App {
                            EntryKind::App
                        } else {
                            EntryKind::Site
                        },
                    });
                    self.top_level
                        .insert(1.min(self.top_level.len()), (path, index));
                    self.not_found.clear();
                }
                continue;
            }
            if origin == Origin::Stdlib {
                continue;
            }
            self.graph.data_references.push(DataReference {
                module: importer,
                path: path.clone(),
                relative: reference.path.clone(),
                line: reference.line,
            });
            if origin == Origin::App {
                self.modules_named_in_data(importer, &path);
            }
        }
    }

    /// Module paths written in the app's data files (`"app.handlers:run"` in a JSON or TOML
    /// file it ships) that name the app's own modules.
    /// Modules of a third-party package named in its own configuration files (`theme.conf`
    /// of a Sphinx theme: `pygments_style = alabaster.support.Alabaster`): the package reads
    /// them and imports what they name.
    fn modules_named_in_package_config(&mut self, package: ModuleId) {
        const CONFIG: &[&str] = &["conf", "cfg", "ini", "toml"];
        let m = &self.graph.modules[package];
        let top = m.name.split('.').next().unwrap_or_default().to_string();
        let dirs: Vec<PathBuf> = m.package_dirs.iter().map(|(d, _)| d.clone()).collect();
        for dir in dirs {
            let Some(listing) = self.finder.listing(&dir) else {
                continue;
            };
            let mut files: Vec<&String> = listing
                .iter()
                .filter(|f| {
                    Path::new(f.as_str())
                        .extension()
                        .is_some_and(|x| CONFIG.contains(&x.to_string_lossy().as_ref()))
                })
                .collect();
            files.sort();
            for file in files.into_iter().take(20) {
                let path = dir.join(file);
                let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= 64 << 10);
                let Some(text) = small.then(|| std::fs::read_to_string(&path).ok()).flatten()
                else {
                    continue;
                };
                let names: Vec<String> = text
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                    .filter(|t| t.contains('.') && t.split('.').next() == Some(top.as_str()))
                    .map(str::to_string)
                    .collect();
                self.add_names_from_data(package, names, &path);
            }
        }
    }

    fn modules_named_in_data(&mut self, importer: ModuleId, path: &Path) {
        const TEXT: &[&str] = &["json", "toml", "yaml", "yml", "ini", "cfg", "conf", "txt"];
        let files: Vec<PathBuf> = walkdir::WalkDir::new(path)
            .max_depth(4)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().to_path_buf())
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| TEXT.contains(&x.to_string_lossy().as_ref()))
            })
            .take(200)
            .collect();
        let app = vec![(self.graph.entries[0].dir.clone(), 0)];
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            if text.len() > 1 << 20 {
                continue;
            }
            let names: Vec<String> = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == ':'))
                .filter_map(|token| {
                    let module = token.split(':').next()?;
                    let top = module.split('.').next()?;
                    (module.contains('.') || token.contains(':'))
                        .then(|| (top.to_string(), module.to_string()))
                })
                .filter(|(top, _)| !top.is_empty() && self.finder.find(top, &app).is_some())
                .map(|(_, module)| module)
                .collect();
            self.add_names_from_data(importer, names, &file);
        }
    }

    /// Edges from `importer` to the modules that dotted `names` read in data `file` stand for:
    /// each name's longest importable prefix (the rest is an attribute path).
    fn add_names_from_data(&mut self, importer: ModuleId, mut names: Vec<String>, file: &Path) {
        names.sort();
        names.dedup();
        for name in names {
            let mut candidate = name.as_str();
            while !self.probe(candidate) {
                match candidate.rsplit_once('.') {
                    Some((parent, _)) => candidate = parent,
                    None => break,
                }
            }
            let found = self
                .probe(candidate)
                .then(|| self.ensure(candidate))
                .flatten();
            if let Some(id) = found.filter(|&id| id != importer) {
                self.inferred_edge(
                    importer,
                    id,
                    format!("named in data file {}", file.display()),
                    Condition::Always,
                );
            }
        }
    }

    fn first_missing(&mut self, name: &str) -> String {
        let mut prefix = String::new();
        for part in name.split('.') {
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(part);
            if self.ensure(&prefix).is_none() {
                return prefix;
            }
        }
        name.to_string()
    }

    fn missing(
        &mut self,
        importer: ModuleId,
        request: &ImportRequest,
        name: String,
        reason: Option<String>,
    ) {
        self.graph.missing.push(Missing {
            name,
            importer,
            line: request.line,
            condition: request.condition,
            in_function: request.in_function,
            reason,
            required: false,
            provided_by: None,
        });
    }
}

/// What analysing one module needs, shared by the analysis threads.
struct AnalysisJob<'a> {
    interp: &'a Interpreter,
    natives: &'a NativeNames,
    natives_key: &'a str,
    cache: &'a cache::AnalysisCache,
    finder: finder::Finder,
}

impl AnalysisJob<'_> {
    /// The module's analysis, from the cache when its file is unchanged.
    fn analyse(&self, m: &Module, siblings: &[String]) -> Result<Arc<Analysed>, AnalyseError> {
        let interp = self.interp;
        let platform = interp.platform.as_str();
        let version = [0, 1, 2].map(|i| interp.version.get(i).copied().unwrap_or(0));
        let path = m.file().expect("only modules with files are analysed");
        let ctx = SourceContext {
            module: &m.name,
            is_package: m.is_package(),
            platform,
            version,
        };
        let is_extension = m.file_kind() == Some(FileKind::Extension);
        let key = format!(
            "{}|{}|{}|{:?}|{}{}",
            m.name,
            m.is_package(),
            platform,
            version,
            siblings.join(","),
            if is_extension { self.natives_key } else { "" }
        );
        if let Some(hit) = self.cache.get(path, &key) {
            return Ok(hit);
        }
        let result = if is_extension {
            Ok(analyse_extension(
                m,
                path,
                ctx,
                siblings,
                &self.finder,
                self.natives,
                interp,
            ))
        } else {
            analyse::analyse_file(path, ctx).map(Analysed::Source)
        }
        .map(Arc::new);
        if let Ok(analysis) = &result {
            self.cache.put(path, &key, analysis.clone());
        }
        result
    }
}

/// What an extension module imports: the dotted names and sibling names found in its binary,
/// its package's Python modules, and the imports of a source compiled into it (mypyc, Cython's
/// pure-Python mode) when that ships beside it.
fn analyse_extension(
    m: &Module,
    path: &Path,
    ctx: SourceContext<'_>,
    siblings: &[String],
    finder: &finder::Finder,
    natives: &NativeNames,
    interp: &Interpreter,
) -> Analysed {
    let top = m.name.split('.').next().unwrap_or_default();
    // Cython stores a relative import's name alone (`._validation` is
    // "_validation"): other modules of the same package, named exactly.
    let package = if m.is_package() {
        m.name.clone()
    } else {
        m.name
            .rsplit_once('.')
            .map_or(String::new(), |(p, _)| p.to_string())
    };
    let own = path
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    // (stem, is a compiled module) for the other modules of the package.
    let locals: Vec<(String, bool)> = path
        .parent()
        .filter(|_| !package.is_empty())
        .and_then(|d| finder.listing(d))
        .map(|l| {
            l.iter()
                .filter(|f| f.as_str() != own)
                .filter_map(|f| finder.module_file_kind(f))
                .filter(|(stem, _)| !matches!(*stem, "__init__" | "conftest"))
                .map(|(stem, kind)| (stem.to_string(), kind == FileKind::Extension))
                .collect()
        })
        .unwrap_or_default();
    let compiled_locals: Vec<String> = locals
        .iter()
        .filter(|(_, c)| *c)
        .map(|(n, _)| n.clone())
        .collect();
    // Siblings are other top-level modules of its distribution; those ending in a dot are the
    // packages of distributions it requires (see `distribution_siblings`).
    let (required, siblings): (Vec<String>, Vec<String>) =
        siblings.iter().cloned().partition(|s| s.ends_with('.'));
    // Compiled modules of its subpackages, by stem (`spacy.pipeline.transition_parser` does
    // `from ._parser_internals import _beam_utils`: Cython names the submodule alone).
    let mut compiled_children: HashMap<String, String> = HashMap::default();
    if let Some(dir) = path.parent().filter(|_| !package.is_empty()) {
        for sub in finder
            .listing(dir)
            .map(|l| {
                l.subdirectories(dir)
                    .filter(|d| is_identifier(d))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            let listing = finder.listing(&dir.join(&sub));
            for (f, (stem, kind)) in listing
                .iter()
                .flat_map(|l| l.iter())
                .filter_map(|f| Some((f, finder.module_file_kind(f)?)))
            {
                // A tagged suffix only: a plain `NAME.so` in a subdirectory is mostly a library
                // (torch's `lib/libtorch_cuda.so`), not a module.
                let tagged = is_tagged_extension(&interp.extension_suffixes, f);
                if kind == FileKind::Extension
                    && tagged
                    && !compiled_locals.iter().any(|c| c == stem)
                {
                    compiled_children
                        .entry(stem.to_string())
                        .or_insert_with(|| format!("{package}.{sub}.{stem}"));
                }
            }
        }
    }
    let mut exact: Vec<String> = siblings.iter().chain(&compiled_locals).cloned().collect();
    let mut children: Vec<&String> = compiled_children.keys().collect();
    children.sort();
    exact.extend(children.into_iter().cloned());
    // Cython 3.0 and older keep the names a module imports as plain C strings: the standard
    // library's modules among them are imports too (`numpy.random.bit_generator` imports
    // `secrets` from C).
    let stdlib: Vec<String> = if m.origin == Origin::Stdlib {
        Vec::new()
    } else {
        interp
            .stdlib_module_names
            .iter()
            .filter(|n| !n.starts_with('_') && !STDLIB_DEV_ONLY.contains(&n.as_str()))
            .filter(|n| !matches!(n.as_str(), "this" | "antigravity"))
            .cloned()
            .chain(natives.site.iter().filter(|n| n.as_str() != top).cloned())
            .collect()
    };
    let prefixes: Vec<String> = std::iter::once(format!("{top}.")).chain(required).collect();
    // Names only a module's own string table counts: the standard library's private extension
    // modules, and installed top-level modules (`pyarrow.lib` imports `cloudpickle` when it is
    // installed), too common as plain C strings elsewhere.
    let private: Vec<String> = natives
        .hidden_stdlib
        .iter()
        .chain(natives.site_top_level.iter().filter(|n| n.as_str() != top))
        .cloned()
        .collect();
    let found = analyse::compiled::scan_binary(path, &prefixes, &exact, &stdlib, &private)
        .unwrap_or_default();
    // An exact name is a compiled module of the package, of a subpackage, or a sibling.
    let full_name = |name: String| {
        if compiled_locals.contains(&name) {
            format!("{package}.{name}")
        } else if let Some(child) = compiled_children.get(&name) {
            child.clone()
        } else {
            name
        }
    };
    let mut names = found.dotted;
    names.extend(found.standalone);
    names.extend(found.foreign);
    names.extend(found.exact.into_iter().map(full_name));
    let joined_names = found.joined_names.into_iter().map(full_name).collect();
    // A Cython module whose compressed strings could not be read (no table
    // of lengths found) hides what it imports. Its own package's Python modules ship with it (below); so do the
    // standard library's self-contained extension modules (`cmath`,
    // `_bisect`), which no Python module might import otherwise.
    if found.hides_strings {
        names.extend(natives.hidden_stdlib.iter().cloned());
    }
    names.extend(
        locals
            .iter()
            .filter(|(_, compiled)| !compiled)
            .map(|(stem, _)| format!("{package}.{stem}")),
    );
    // mypyc and Cython's pure-Python mode compile a .py that often ships
    // beside the binary: its imports are the compiled module's imports.
    let source = compiled_source(path, &interp.extension_suffixes)
        .and_then(|py| analyse::analyse_file(&py, ctx).ok());
    Analysed::Compiled(cache::CompiledImports {
        names,
        source,
        hides_strings: found.hides_strings,
        joined_runs: found.joined_runs,
        joined_names,
    })
}

/// Why an extension module's edge is there: a name in its binary.
const COMPILED_RULE: &str = "named in the extension module's compiled code";
/// The same, from a name found in its strings read end to end, without their lengths.
const COMPILED_JOINED_RULE: &str =
    "named in the extension module's compiled code (its strings read end to end)";

/// Whether `file` ends with an extension suffix that names the interpreter or the stable ABI
/// (`.cpython-311-x86_64-linux-gnu.so`, `.abi3.so`), not a bare `.so`.
fn is_tagged_extension(suffixes: &[String], file: &str) -> bool {
    suffixes
        .iter()
        .filter(|s| s.as_str() != ".so")
        .any(|s| file.ends_with(s.as_str()))
}

/// Bare names compiled code may import: the standard library's self-contained extension
/// modules (imported unseen when a binary hides its strings) and the site directories'
/// top-level extension modules (found as whole C strings).
struct NativeNames {
    hidden_stdlib: Vec<String>,
    site: Vec<String>,
    /// Every installed top-level module (see [`Resolver::site_top_level_names`]).
    site_top_level: Vec<String>,
}

/// The `.py` an extension module was compiled from, when it sits beside the binary.
fn compiled_source(binary: &Path, extension_suffixes: &[String]) -> Option<PathBuf> {
    let name = binary.file_name()?.to_str()?;
    let stem = extension_suffixes
        .iter()
        .find_map(|s| name.strip_suffix(s.as_str()))?;
    let source = binary.with_file_name(format!("{stem}.py"));
    source.is_file().then_some(source)
}

/// `entry_points.txt` of every distribution in `dirs`: group -> (module, distribution).
fn read_entry_points(dirs: &[(PathBuf, usize)]) -> HashMap<String, Vec<(String, String)>> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::default();
    for (dir, _) in dirs {
        let Ok(read) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut metas: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "dist-info" || x == "egg-info")
            })
            .collect();
        metas.sort();
        for meta in metas {
            let Ok(text) = std::fs::read_to_string(meta.join("entry_points.txt")) else {
                continue;
            };
            let dist = meta
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let mut group = String::new();
            for line in text.lines().map(str::trim) {
                if let Some(g) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                    group = g.trim().to_string();
                } else if let Some((_, value)) = line.split_once('=') {
                    let target = value.split('[').next().unwrap_or("").trim();
                    let module = target.split(':').next().unwrap_or("").trim();
                    if !module.is_empty() && !group.is_empty() {
                        out.entry(group.clone())
                            .or_default()
                            .push((module.to_string(), dist.clone()));
                    }
                }
            }
        }
    }
    out
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests;
