//! [`ModuleGraph`] -> [`Collection`]: every file the bundle ships, where it goes, and why.
//!
//! Bytecode for each module (compiled by the target interpreter), extension modules, data files
//! that live inside collected packages, `*.dist-info` of the distributions those files came
//! from, the interpreter and the closure of native libraries they load.

pub mod bytecode;
pub use crate::installed::metadata::normalize_dist_name;
pub use crate::installed::{license, metadata};
pub mod native;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::interpreter::Interpreter;
use crate::resolve::{EntryKind, FileKind, ModuleGraph, ModuleKind, Origin};
use bytecode::CompileJob;
use metadata::DistIndex;
pub use native::ElfInfo;

const BOOT_TEMPLATE: &str = include_str!("../python/boot.py");

/// Where a bundled file comes from, for the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileRole {
    /// Bytecode of a Python module.
    Module,
    /// An extension module.
    Extension,
    /// A data file inside a package.
    Data,
    /// Distribution metadata (`*.dist-info`).
    Metadata,
    /// A shared library some native code needs.
    NativeLibrary,
    /// The interpreter binary.
    Interpreter,
    /// The bundle's boot script.
    Boot,
}

/// How the write stage must adjust a native file's library search path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "value", rename_all = "kebab-case")]
pub enum RpathFix {
    /// Make `DT_RPATH` exactly this, with no `DT_RUNPATH` (searched before `LD_LIBRARY_PATH`;
    /// the interpreter's is inherited by everything it loads).
    ForceRpath(String),
    /// Drop the search path (host paths only), so the interpreter's RPATH applies.
    Remove,
}

/// One file of the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct BundleFile {
    /// Destination relative to the runtime prefix.
    pub dest: PathBuf,
    /// The file whose bytes are shipped (for modules, the compiled bytecode in the cache).
    pub source: PathBuf,
    /// The file in the environment this one stands for (the `.py` for bytecode).
    pub origin: PathBuf,
    pub role: FileRole,
    /// The module it belongs to, when it is one.
    pub module: Option<String>,
    /// Owning distribution (index into [`Collection::distributions`]).
    pub distribution: Option<usize>,
    /// Why it is in the bundle, in words.
    pub why: String,
    #[serde(skip)]
    pub elf: Option<ElfInfo>,
    pub rpath_fix: Option<RpathFix>,
    /// Remove symbol tables and debug sections when writing (native files, unless disabled).
    pub strip: bool,
    /// Part of a GPU distribution (CUDA libraries, triton): the share `cpu-only` reduces.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gpu: bool,
}

impl BundleFile {
    /// A file of the bundle: where it goes, the bytes that ship, the file it stands for, its
    /// role and why it is in; no module, distribution or ELF facts, no search path change, not
    /// stripped (the setters and the native closure add those).
    pub fn new(
        dest: PathBuf,
        source: PathBuf,
        origin: PathBuf,
        role: FileRole,
        why: impl Into<String>,
    ) -> BundleFile {
        BundleFile {
            dest,
            source,
            origin,
            role,
            module: None,
            distribution: None,
            why: why.into(),
            elf: None,
            rpath_fix: None,
            strip: false,
            gpu: false,
        }
    }

    pub fn module(mut self, module: Option<String>) -> BundleFile {
        self.module = module;
        self
    }

    pub fn distribution(mut self, distribution: Option<usize>) -> BundleFile {
        self.distribution = distribution;
        self
    }

    pub fn elf(mut self, elf: Option<ElfInfo>) -> BundleFile {
        self.elf = elf;
        self
    }
}

/// What the collect stage found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Collection {
    pub files: Vec<BundleFile>,
    /// Modules the interpreter imports before the boot script runs.
    pub startup_modules: Vec<String>,
    /// Directories that must exist even if empty (namespace packages).
    pub dirs: Vec<PathBuf>,
    pub distributions: Vec<metadata::Distribution>,
    /// The entry scripts' bytecode, relative to the prefix (run by path, never archived).
    pub entry_scripts: Vec<PathBuf>,
    /// The interpreter binary and its `sys.executable` front, relative to the prefix.
    pub interpreter: PathBuf,
    pub executable: PathBuf,
    pub boot: PathBuf,
    /// The app root (site-packages) relative to the prefix.
    pub app_root: PathBuf,
    /// Environment variables hooks set before the app starts.
    pub env: BTreeMap<String, String>,
    /// Libraries that native code needs and that could not be found.
    pub missing_libraries: Vec<(String, String)>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
}

impl Collection {
    /// The same layout and settings with no files: the start of a merged collection.
    pub fn clone_shell(&self) -> Collection {
        Collection {
            files: Vec::new(),
            startup_modules: self.startup_modules.clone(),
            dirs: Vec::new(),
            distributions: self.distributions.clone(),
            entry_scripts: self.entry_scripts.clone(),
            interpreter: self.interpreter.clone(),
            executable: self.executable.clone(),
            boot: self.boot.clone(),
            app_root: self.app_root.clone(),
            env: self.env.clone(),
            missing_libraries: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// What a component starts.
#[derive(Debug, Clone)]
pub enum ShippedEntry {
    Script(PathBuf),
    Module(String),
    /// `module:function`.
    Call(String),
}

impl From<&crate::resolve::EntryPoint> for ShippedEntry {
    fn from(entry: &crate::resolve::EntryPoint) -> Self {
        match entry {
            crate::resolve::EntryPoint::Script(p) => ShippedEntry::Script(p.clone()),
            crate::resolve::EntryPoint::Module(m) => ShippedEntry::Module(m.clone()),
            crate::resolve::EntryPoint::Call { module, function } => {
                ShippedEntry::Call(format!("{module}:{function}"))
            }
        }
    }
}

/// The module archive's file name: beside the boot script, in the standard library directory.
pub const ARCHIVE_FILE: &str = "_kiln_modules.bin";
/// The `.pth` in the app root that installs the archive's finder in every interpreter.
pub const ARCHIVE_PTH: &str = "_kiln_archive.pth";

/// How the boot script starts an entry (`ENTRIES` in `python/boot.py`).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum BootKind {
    /// Run a script's bytecode by path as `__main__`.
    Script,
    /// `runpy` a module as `__main__`.
    Module,
    /// Call `module:function` and exit with its result.
    Call,
}

/// One component as the boot script starts it.
pub struct BootComponent<'a> {
    pub name: &'a str,
    pub entry: ShippedEntry,
    /// Environment variables the hooks that applied to this component set.
    pub env: &'a BTreeMap<String, String>,
}

/// The boot script for `components`, compiled by the target interpreter: it starts each
/// component's entry with that component's hook environment. Written into `work_dir` first.
pub fn boot_file(
    interp: &Interpreter,
    layout: &Collection,
    components: &[BootComponent<'_>],
    cache_dir: &Path,
    work_dir: &Path,
) -> Result<BundleFile, CollectError> {
    let mut entries: BTreeMap<&str, (BootKind, String)> = BTreeMap::new();
    let mut env: BTreeMap<&str, &BTreeMap<String, String>> = BTreeMap::new();
    for c in components {
        let target = match &c.entry {
            ShippedEntry::Script(path) => (
                BootKind::Script,
                entry_script(layout, path).to_string_lossy().to_string(),
            ),
            ShippedEntry::Module(m) => (BootKind::Module, m.clone()),
            ShippedEntry::Call(target) => (BootKind::Call, target.clone()),
        };
        entries.insert(c.name, target);
        if !c.env.is_empty() {
            env.insert(c.name, c.env);
        }
    }
    let boot_source = work_dir.join("_kiln_boot.py");
    let boot_text = BOOT_TEMPLATE
        .replacen(
            "ENTRIES = {}",
            &format!("ENTRIES = {}", py_literal(&entries)),
            1,
        )
        .replacen("ENV = {}", &format!("ENV = {}", py_literal(&env)), 1)
        .replacen(
            "APP_ROOT = \"\"",
            &format!(
                "APP_ROOT = {}",
                py_literal(&layout.app_root.to_string_lossy())
            ),
            1,
        );
    std::fs::write(&boot_source, boot_text).map_err(io_err(&boot_source))?;
    let job = CompileJob {
        source: boot_source.clone(),
        display: "_kiln_boot.py".into(),
        optimize: 0,
    };
    let compiled = bytecode::compile_all(
        &interp.base_executable,
        &interp.magic,
        std::slice::from_ref(&job),
        cache_dir,
        1,
    )?;
    let pyc = compiled
        .into_iter()
        .next()
        .unwrap_or_else(|| Err("no result".into()))
        .map_err(|message| {
            CollectError::Compile(format!("cannot compile the boot script: {message}"))
        })?;
    Ok(BundleFile::new(
        layout.boot.clone(),
        pyc,
        boot_source,
        FileRole::Boot,
        "starts the app",
    ))
}

/// Where the bytecode of entry script `path` lies in the bundle, relative to the prefix.
pub fn entry_script(layout: &Collection, path: &Path) -> PathBuf {
    layout
        .app_root
        .join(path.file_name().unwrap_or_default())
        .with_extension("pyc")
}

/// A value of the boot script's tables as Python source: JSON of strings, lists and dicts is.
fn py_literal<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

/// Inputs of the collect stage.
pub struct CollectInput<'a> {
    pub interpreter: &'a Interpreter,
    pub graph: &'a ModuleGraph,
    pub cache_dir: &'a Path,
    pub optimize: u8,
    pub jobs: usize,
    /// The project's `data` entries: (source, destination relative to the app root).
    pub data: &'a [(PathBuf, PathBuf)],
    /// Strip symbols from bundled native files.
    pub strip: bool,
    /// Leave out the GPU libraries nothing links (`cpu-only`): a library wheel's siblings of a
    /// linked CUDA library do not ship.
    pub cpu_only: bool,
}

/// Errors that stop the collect stage.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Bytecode(#[from] bytecode::BytecodeError),
    #[error("{0}")]
    Compile(String),
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CollectError + '_ {
    move |source| CollectError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Collects every file of the bundle.
pub fn collect(input: &CollectInput<'_>) -> Result<Collection, CollectError> {
    let mut g = Gather::new(input);
    g.modules()?;
    g.configured_data()?;
    g.referenced_data()?;
    g.hook_data()?;
    g.ctypes_libraries();
    g.compile()?;
    g.metadata()?;
    g.natives()?;
    g.finish()
}

/// The collect stage's state: what each collector adds to.
struct Gather<'a> {
    input: &'a CollectInput<'a>,
    layout: Layout<'a>,
    c: Collection,
    dists: std::sync::Arc<DistIndex>,
    policy: bytecode::Policy,
    /// Sources to compile, with the file each becomes.
    jobs: Vec<(CompileJob, BundleFile)>,
    /// Files shipped as they are (and, once compiled, bytecode).
    copies: Vec<BundleFile>,
    /// Bytecode that sits in `__pycache__` beside a shipped source: CPython's source loader
    /// finds it there, and it is listed under its module's `.py`.
    cached_beside_source: HashSet<PathBuf>,
    /// The configuration's `data` files: destination -> source.
    configured: HashMap<PathBuf, PathBuf>,
    /// Hook environment variables.
    env: BTreeMap<String, String>,
    /// Distributions whose metadata hooks ask for, normalised.
    wanted_metadata: Vec<String>,
    /// Distribution index of the scan -> index in the collection.
    dist_map: HashMap<usize, usize>,
}

impl<'a> Gather<'a> {
    fn new(input: &'a CollectInput<'a>) -> Gather<'a> {
        let interp = input.interpreter;
        let graph = input.graph;
        let stdlib = interp.bundle_stdlib();
        let app_root = interp.bundle_site_packages();
        let c = Collection {
            interpreter: PathBuf::from("bin").join(interp.python_name()),
            executable: PathBuf::from("bin/python"),
            boot: stdlib.join("_kiln_boot.pyc"),
            app_root: app_root.clone(),
            startup_modules: interp.startup_modules.clone(),
            ..Default::default()
        };
        Gather {
            input,
            layout: Layout {
                graph,
                stdlib,
                app_root,
            },
            c,
            dists: DistIndex::shared(&graph.site_dirs()),
            policy: bytecode::Policy::new(graph, input.optimize),
            jobs: Vec::new(),
            copies: Vec::new(),
            cached_beside_source: HashSet::new(),
            configured: HashMap::new(),
            env: BTreeMap::new(),
            wanted_metadata: Vec::new(),
            dist_map: HashMap::new(),
        }
    }

    /// Every module of the graph: sources to compile, bytecode and extension modules as they are.
    fn modules(&mut self) -> Result<(), CollectError> {
        let Gather {
            layout,
            c,
            dists,
            jobs,
            copies,
            policy,
            cached_beside_source,
            ..
        } = self;
        let interp = self.input.interpreter;
        let graph = self.input.graph;
        let cpu_only = self.input.cpu_only;
        let app_root = &layout.app_root;
        let unread = unread_package_data(graph);
        for (_, module) in graph.included() {
            let (Some(file), Some(kind), Some(entry)) =
                (module.file(), module.file_kind(), module.entry)
            else {
                if module.kind == ModuleKind::Namespace {
                    for (dir, entry) in &module.package_dirs {
                        c.dirs.push(layout.place(*entry, dir));
                    }
                }
                continue;
            };
            let placed = if module.name == "__main__" {
                app_root.join(file.file_name().unwrap_or_default())
            } else {
                layout.place(entry, file)
            };
            let distribution = dists.owner(file, entry, Some(&module.name));
            let why = format!("module {}", module.name);
            match kind {
                FileKind::Source => {
                    let (optimize, optimize_reason) = policy.optimize(&module.name);
                    let keep = keep_source(policy, graph, module, file, interp, &mut c.warnings);
                    let why = match optimize_reason {
                        Some(reason) => format!("{why} (optimize {optimize}: {reason})"),
                        None => why,
                    };
                    // A kept source ships where it was, its bytecode where CPython's source loader
                    // looks for it: the module loads from that bytecode with `__file__` and
                    // `co_filename` naming the source, so inspect and tracebacks read it.
                    let (dest, why) = match &keep {
                        Some(reason) => {
                            copies.push(
                                BundleFile::new(
                                    placed.clone(),
                                    file.to_path_buf(),
                                    file.to_path_buf(),
                                    FileRole::Module,
                                    format!("source of module {}, kept: {reason}", module.name),
                                )
                                .module(Some(module.name.clone()))
                                .distribution(distribution),
                            );
                            let dest = bytecode::cached_path(&placed, &interp.cache_tag);
                            cached_beside_source.insert(dest.clone());
                            (dest, format!("bytecode beside the kept source; {why}"))
                        }
                        None => (placed.with_extension("pyc"), why),
                    };
                    let display = layout.relative(entry, file).to_string_lossy().to_string();
                    jobs.push((
                        CompileJob {
                            source: file.to_path_buf(),
                            display,
                            optimize,
                        },
                        BundleFile::new(
                            dest,
                            PathBuf::new(),
                            file.to_path_buf(),
                            FileRole::Module,
                            why,
                        )
                        .module(Some(module.name.clone()))
                        .distribution(distribution),
                    ));
                }
                FileKind::Bytecode | FileKind::Extension => copies.push(
                    BundleFile::new(
                        placed,
                        file.to_path_buf(),
                        file.to_path_buf(),
                        if kind == FileKind::Extension {
                            FileRole::Extension
                        } else {
                            FileRole::Module
                        },
                        why,
                    )
                    .module(Some(module.name.clone()))
                    .distribution(distribution),
                ),
            }
            if module.is_package() {
                for (dir, entry) in &module.package_dirs {
                    for data in package_data(dir, interp) {
                        if unread.iter().any(|(root, set)| {
                            data.strip_prefix(root).is_ok_and(|rel| set.is_match(rel))
                        }) {
                            continue;
                        }
                        let owner = dists.owner(&data, *entry, Some(&module.name));
                        // A GPU vendor's libraries (nvidia-*, triton) ship as what the native
                        // closure loads needs, not as data: their directories hold profilers
                        // and tools nothing loads, and `cpu-only` leaves most of them out.
                        let name = data.file_name().unwrap_or_default().to_string_lossy();
                        let library = name.ends_with(".so") || name.contains(".so.");
                        if library
                            && owner.is_some_and(|d| {
                                metadata::is_gpu_distribution(&dists.distributions[d].name)
                            })
                        {
                            continue;
                        }
                        // Without a GPU, a library of the package that links CUDA's is of no
                        // use (torch's `libtorch_cuda_linalg.so`, which it loads for linear
                        // algebra on a CUDA device).
                        if library && cpu_only && links_cuda(&data) {
                            continue;
                        }
                        copies.push(
                            BundleFile::new(
                                layout.place(*entry, &data),
                                data.clone(),
                                data,
                                FileRole::Data,
                                format!("data of package {}", module.name),
                            )
                            .distribution(owner),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The configuration's `data` entries.
    fn configured_data(&mut self) -> Result<(), CollectError> {
        let Gather {
            input,
            copies,
            configured,
            ..
        } = self;
        let app_root = &self.layout.app_root;
        for (src, dest) in input.data {
            for (from, to) in walk_files(src, dest) {
                configured.insert(app_root.join(&to), from.clone());
                copies.push(BundleFile::new(
                    app_root.join(to),
                    from.clone(),
                    from,
                    FileRole::Data,
                    "listed in `data` of the configuration",
                ));
            }
        }
        Ok(())
    }

    /// Data files and directories the code reads by a path built from `__file__`.
    fn referenced_data(&mut self) -> Result<(), CollectError> {
        let Gather {
            layout,
            c,
            dists,
            copies,
            ..
        } = self;
        let interp = self.input.interpreter;
        let graph = self.input.graph;
        let app_root = &layout.app_root;
        for reference in &graph.data_references {
            let module = &graph.modules[reference.module];
            let (Some(file), Some(entry)) = (module.file(), module.entry) else {
                continue;
            };
            let placed_dir = if module.name == "__main__" {
                app_root.clone()
            } else {
                layout
                    .place(entry, file)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default()
            };
            let dest = metadata::normalize(&placed_dir.join(&reference.relative));
            if dest.starts_with("..") || dest.is_absolute() {
                c.warnings.push(format!(
                    "{} reads {}, which lies outside the bundle; not shipped",
                    module.name,
                    reference.path.display()
                ));
                continue;
            }
            let why = format!("read by {} (line {})", module.name, reference.line);
            let mut files = walk_files(&reference.path, &dest);
            if reference.path.is_dir() && module.origin == Origin::ThirdParty {
                // A package naming a directory of its own (`Path(__file__).parent / "x"`) gets
                // its data, not its code or its test suite: modules in it ship only if reached.
                files.retain(|(from, _)| {
                    let rel = from.strip_prefix(&reference.path).unwrap_or(from);
                    let name = from.file_name().unwrap_or_default().to_string_lossy();
                    !rel.parent()
                        .into_iter()
                        .flat_map(Path::components)
                        .any(|c| {
                            EXCLUDED_DATA_DIRS.contains(&c.as_os_str().to_string_lossy().as_ref())
                        })
                        && !excluded_data_file(&name)
                        && !is_module_file(interp, from, &name)
                });
            }
            for (from, to) in files {
                let owner = dists.owner(&from, entry, Some(&module.name));
                copies.push(
                    BundleFile::new(to, from.clone(), from, FileRole::Data, why.clone())
                        .distribution(owner),
                );
            }
        }
        Ok(())
    }

    /// Libraries auditwheel vendored into a distribution's `<name>.libs/` ship with it when its
    /// code imports ctypes and it has no extension module (which would link them, so that the
    /// native closure finds what they need): such a distribution loads them by path (rtree
    /// finds `libspatialindex_c` through its RECORD and loads it with `CDLL`). The native
    /// closure then brings what they link.
    fn ctypes_libraries(&mut self) {
        let graph = self.input.graph;
        let Some(ctypes) = graph.get("ctypes") else {
            return;
        };
        let included: HashSet<crate::resolve::ModuleId> =
            graph.included().map(|(id, _)| id).collect();
        let mut users: BTreeMap<usize, usize> = BTreeMap::new();
        for e in graph.edges.iter().filter(|e| e.to == ctypes) {
            let m = &graph.modules[e.from];
            if !included.contains(&e.from) || m.origin != Origin::ThirdParty {
                continue;
            }
            if let (Some(file), Some(entry)) = (m.file(), m.entry) {
                if let Some(d) = self.dists.owner(file, entry, Some(&m.name)) {
                    users.insert(d, entry);
                }
            }
        }
        let shipped: HashSet<PathBuf> = self.copies.iter().map(|f| f.origin.clone()).collect();
        let suffixes: Vec<&str> = self
            .input
            .interpreter
            .extension_suffixes
            .iter()
            .map(String::as_str)
            .filter(|s| *s != ".so")
            .collect();
        for (d, entry) in users {
            let name = self.dists.distributions[d].name.clone();
            let files = self.dists.files_of(d);
            let has_extension = files.iter().any(|f| {
                let f = f.to_string_lossy();
                suffixes.iter().any(|s| f.ends_with(s))
            });
            if has_extension {
                continue;
            }
            for file in files {
                let vendored = file
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|dir| dir.to_string_lossy().ends_with(".libs"));
                let library = file
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy().contains(".so"));
                if !vendored || !library || shipped.contains(&file) || !file.is_file() {
                    continue;
                }
                let dest = self.layout.place(entry, &file);
                self.copies.push(
                    BundleFile::new(
                        dest,
                        file.clone(),
                        file,
                        FileRole::Data,
                        format!("vendored in {name}, whose code loads libraries with ctypes"),
                    )
                    .distribution(Some(d)),
                );
            }
        }
    }

    /// Hooks' data globs, environment and metadata.
    fn hook_data(&mut self) -> Result<(), CollectError> {
        let Gather {
            layout,
            c,
            dists,
            copies,
            policy,
            env,
            wanted_metadata,
            ..
        } = self;
        let graph = self.input.graph;
        for applied in &graph.applied_hooks {
            env.extend(applied.hook.env.clone());
            wanted_metadata.extend(applied.hook.metadata.iter().map(|m| normalize_dist_name(m)));
            let mut globs = applied.hook.data.clone();
            for (module, more) in &applied.hook.data_for {
                if graph.included_named(module) {
                    globs.extend(more.iter().cloned());
                }
            }
            if globs.is_empty() {
                continue;
            }
            let Some(id) = graph.get(&applied.module) else {
                continue;
            };
            for (dir, entry) in &graph.modules[id].package_dirs {
                for file in crate::hooks::data_matches(dir, &globs) {
                    let owner = dists.owner(&file, *entry, Some(&applied.module));
                    copies.push(
                        BundleFile::new(
                            layout.place(*entry, &file),
                            file.clone(),
                            file,
                            FileRole::Data,
                            format!("data named by the {}", applied.source),
                        )
                        .distribution(owner),
                    );
                }
            }
        }
        c.warnings
            .extend(policy.warnings(graph.included().map(|(_, m)| m.name.as_str())));
        if let Some(dir) = graph
            .modules
            .iter()
            .find(|m| m.kind == ModuleKind::Namespace && m.entry.is_none())
        {
            c.warnings
                .push(format!("namespace package {} has no directory", dir.name));
        }
        Ok(())
    }

    /// Compiles the sources with the target interpreter.
    fn compile(&mut self) -> Result<(), CollectError> {
        let Gather {
            input,
            c,
            jobs,
            copies,
            cached_beside_source,
            ..
        } = self;
        let interp = input.interpreter;
        let graph = input.graph;
        // Bytecode.
        let compile_jobs: Vec<CompileJob> = jobs.iter().map(|(j, _)| j.clone()).collect();
        let compiled = bytecode::compile_all(
            &interp.base_executable,
            &interp.magic,
            &compile_jobs,
            input.cache_dir,
            input.jobs,
        )?;
        for ((job, mut file), result) in std::mem::take(jobs).into_iter().zip(compiled) {
            match result {
                Ok(pyc) => {
                    file.source = pyc;
                    if cached_beside_source.contains(&file.dest) {
                        // Not a module file of its own: the module archive must not serve it.
                        file.module = None;
                    }
                    copies.push(file);
                }
                Err(message) => {
                    let module = file.module.as_deref().and_then(|m| graph.get(m));
                    let is_app = module.is_none_or(|id| graph.modules[id].origin == Origin::App);
                    if is_app {
                        return Err(CollectError::Compile(format!(
                            "cannot compile {}: {message}",
                            job.source.display()
                        )));
                    }
                    c.warnings
                        .push(format!("skipped {}: {message}", job.source.display()));
                }
            }
        }
        Ok(())
    }

    /// Distribution metadata for every distribution a shipped file came from.
    fn metadata(&mut self) -> Result<(), CollectError> {
        let Gather {
            layout,
            c,
            dists,
            copies,
            wanted_metadata,
            dist_map,
            ..
        } = self;
        // Distribution metadata for every distribution a shipped file came from.
        let mut used: Vec<usize> = copies.iter().filter_map(|f| f.distribution).collect();
        used.extend(
            dists
                .distributions
                .iter()
                .enumerate()
                .filter(|(_, d)| wanted_metadata.contains(&normalize_dist_name(&d.name)))
                .map(|(i, _)| i),
        );
        used.sort_unstable();
        used.dedup();
        for id in used {
            let dist = &dists.distributions[id];
            dist_map.insert(id, c.distributions.len());
            c.distributions.push(dist.clone());
            for entry in walkdir::WalkDir::new(&dist.metadata_dir).sort_by_file_name() {
                let Ok(entry) = entry else { continue };
                if entry.file_type().is_file() {
                    let path = entry.path().to_path_buf();
                    copies.push(
                        BundleFile::new(
                            layout.place(dist.entry, &path),
                            path.clone(),
                            path,
                            FileRole::Metadata,
                            format!("metadata of {} {}", dist.name, dist.version),
                        )
                        .distribution(Some(id)),
                    );
                }
            }
        }
        for f in copies.iter_mut() {
            f.distribution = f.distribution.and_then(|d| dist_map.get(&d).copied());
        }
        Ok(())
    }

    /// The interpreter and the closure of native libraries.
    fn natives(&mut self) -> Result<(), CollectError> {
        let Gather {
            input,
            layout,
            c,
            dists,
            copies,
            dist_map,
            ..
        } = self;
        let interp = input.interpreter;
        // The interpreter and the closure of native libraries.
        copies.push(BundleFile::new(
            c.interpreter.clone(),
            interp.base_executable.clone(),
            interp.base_executable.clone(),
            FileRole::Interpreter,
            "the Python interpreter",
        ));
        let siblings = |found: &Path, entry: usize| -> Vec<PathBuf> {
            let Some(d) = dists.owner(found, entry, None) else {
                return Vec::new();
            };
            // NVIDIA's CUDA wheels load parts of themselves by path (cuDNN its engines, NVRTC
            // its builtins): by default they ship whole, for the user's NVIDIA machine. Other
            // library wheels (Qt's) ship what is linked and what hooks name.
            if input.cpu_only || !metadata::is_gpu_distribution(&dists.distributions[d].name) {
                return Vec::new();
            }
            library_siblings(&dists.files_of(d))
        };
        native_closure(copies, layout, c, &siblings)?;
        for f in copies.iter_mut() {
            // Most wheels' libraries come stripped: reading and parsing them again (CUDA's run
            // to gigabytes) would find nothing to remove.
            f.strip = input.strip && f.elf.as_ref().is_some_and(|e| e.strippable);
            f.gpu = layout.entry_of(&f.origin).is_some_and(|entry| {
                dists
                    .owner(&f.origin, entry, f.module.as_deref())
                    .is_some_and(|d| metadata::is_gpu_distribution(&dists.distributions[d].name))
            });
        }
        // Libraries vendored inside a distribution (`numpy.libs/`) belong to it.
        for f in copies
            .iter_mut()
            .filter(|f| f.role == FileRole::NativeLibrary && f.distribution.is_none())
        {
            f.distribution = layout
                .entry_of(&f.origin)
                .and_then(|entry| dists.owner(&f.origin, entry, None))
                .and_then(|d| dist_map.get(&d).copied());
        }
        Ok(())
    }

    /// One file per destination, in a stable order.
    fn finish_inner(&mut self) -> Result<(), CollectError> {
        let Gather {
            c,
            copies,
            configured,
            ..
        } = self;
        let app_root = &self.layout.app_root;
        check_data_destinations(configured, copies, c, app_root)?;

        // One file per destination, in a stable order.
        copies.sort_by(|a, b| a.dest.cmp(&b.dest));
        let mut files: Vec<BundleFile> = Vec::with_capacity(copies.len());
        for f in std::mem::take(copies) {
            if let Some(prev) = files.last() {
                if prev.dest == f.dest {
                    if prev.origin != f.origin && prev.role != FileRole::Module {
                        c.warnings.push(format!(
                            "{} and {} both go to {}; keeping the first",
                            prev.origin.display(),
                            f.origin.display(),
                            f.dest.display()
                        ));
                    }
                    continue;
                }
            }
            files.push(f);
        }
        c.files = files;
        c.dirs.sort();
        c.dirs.dedup();
        Ok(())
    }

    fn finish(mut self) -> Result<Collection, CollectError> {
        self.finish_inner()?;
        self.c.env = std::mem::take(&mut self.env);
        Ok(self.c)
    }
}

/// Why `module`'s `.py` ships beside its bytecode, if it does: the configuration or a hook
/// says so, or it is the app's and reads its own source (`inspect.getsource`, TorchScript).
/// The entry script cannot keep its source (the boot script runs its bytecode): a warning
/// says so instead.
fn keep_source(
    policy: &bytecode::Policy,
    graph: &ModuleGraph,
    module: &crate::resolve::Module,
    file: &Path,
    interp: &Interpreter,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let mut reason = policy.keep_source(&module.name);
    if reason.is_none() && module.origin == Origin::ThirdParty {
        let top = module.name.split('.').next().unwrap_or(&module.name);
        reason = graph
            .source_readers
            .iter()
            .find(|r| r.0 == top)
            .map(|(package, reader, line, call)| {
                format!("{reader} (line {line}) reads source with {call}, so {package} ships its sources")
            });
    }
    if reason.is_none() && module.origin == Origin::App {
        let ctx = crate::analyse::SourceContext {
            module: &module.name,
            is_package: module.is_package(),
            platform: &interp.platform,
            version: [0, 1, 2].map(|i| interp.version.get(i).copied().unwrap_or(0)),
        };
        reason = bytecode::own_source_read(file, ctx).map(|read| {
            format!(
                "it reads its own source with {} (line {})",
                read.call, read.line
            )
        });
    }
    if module.name == "__main__" {
        if let Some(reason) = reason {
            warnings.push(format!(
                "the entry script's source cannot ship, but {reason}: functions defined in it \
                 have no source in the bundle; move them into a module"
            ));
        }
        return None;
    }
    reason
}

/// Where things go in the bundle, relative to its prefix.
struct Layout<'a> {
    graph: &'a ModuleGraph,
    stdlib: PathBuf,
    app_root: PathBuf,
}

impl Layout<'_> {
    /// `path` relative to the search entry it was found in.
    fn relative<'p>(&self, entry: usize, path: &'p Path) -> &'p Path {
        path.strip_prefix(&self.graph.entries[entry].dir)
            .unwrap_or(path)
    }

    /// The bundle location of `path`, found in search entry `entry`: the same place relative
    /// to the matching bundle directory.
    fn place(&self, entry: usize, path: &Path) -> PathBuf {
        let rel = self.relative(entry, path);
        match self.graph.entries[entry].kind {
            EntryKind::Stdlib => self.stdlib.join(rel),
            EntryKind::Dynload => self.stdlib.join("lib-dynload").join(rel),
            // Directories the app adds to sys.path keep their place relative to the app root.
            EntryKind::App => {
                let app_dir = &self.graph.entries[0].dir;
                let base = self.graph.entries[entry]
                    .dir
                    .strip_prefix(app_dir)
                    .unwrap_or(Path::new(""));
                self.app_root.join(base).join(rel)
            }
            EntryKind::Site => self.app_root.join(rel),
        }
    }

    /// The search entry whose directory holds `path`, preferring the most specific.
    fn entry_of(&self, path: &Path) -> Option<usize> {
        self.graph
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| path.starts_with(&e.dir))
            .max_by_key(|(_, e)| e.dir.components().count())
            .map(|(i, _)| i)
    }
}

/// Directories inside packages that are never data the package reads at run time: its test
/// suite, documentation, examples and benchmarks. A package that does read one gets it through
/// a hook's or the configuration's `data` globs.
pub const EXCLUDED_DATA_DIRS: &[&str] = &[
    "__pycache__",
    "tests",
    "test",
    "testing_data",
    "docs",
    "doc",
    "examples",
    "example",
    "benchmarks",
    "benchmark",
];

/// File suffixes never shipped as package data: type stubs, C/C++/Cython/Fortran sources and
/// headers, objects and static libraries, build-system files, stale bytecode.
pub const EXCLUDED_DATA_SUFFIXES: &[&str] = &[
    ".pyi", ".pyc", ".pyo", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".pyx", ".pxd",
    ".pxi", ".f", ".f90", ".o", ".a", ".la", ".lib", ".cmake", ".orig", ".rej",
];

/// File names never shipped as package data (build-system files and typing markers).
pub const EXCLUDED_DATA_NAMES: &[&str] = &[
    "py.typed",
    "CMakeLists.txt",
    "Makefile",
    "meson.build",
    "setup.cfg",
    "MANIFEST.in",
];

fn excluded_data_file(name: &str) -> bool {
    EXCLUDED_DATA_NAMES.contains(&name) || EXCLUDED_DATA_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// The package directories whose hooks say part of their data is not read at run time
/// (`exclude-data`), with those globs.
fn unread_package_data(graph: &ModuleGraph) -> Vec<(PathBuf, globset::GlobSet)> {
    let mut out = Vec::new();
    for applied in &graph.applied_hooks {
        if applied.hook.exclude_data.is_empty() {
            continue;
        }
        let (Some(id), Some(set)) = (
            graph.get(&applied.module),
            crate::hooks::glob_set(&applied.hook.exclude_data),
        ) else {
            continue;
        };
        for (dir, _) in &graph.modules[id].package_dirs {
            out.push((dir.clone(), set.clone()));
        }
    }
    out
}

/// Whether the native library at `path` links one of CUDA's (`libcudart`, `libcublas`,
/// `libcusolver`, `libnvrtc`, `libnvJitLink`, ...).
fn links_cuda(path: &Path) -> bool {
    crate::installed::elf::read_elf(path)
        .ok()
        .flatten()
        .is_some_and(|elf| {
            elf.needed
                .iter()
                .any(|n| n.starts_with("libcu") || n.starts_with("libnv"))
        })
}

/// Whether the file at `path` (named `name`) is one the import system would load as a module.
/// A file that only the plain extension suffix matches (`NAME.so`) is a module only when it
/// defines `PyInit_NAME`: otherwise it is a native library the package loads itself, with
/// ctypes, from a path it computes (`lightgbm/lib/lib_lightgbm.so`, llvmlite's
/// `libllvmlite.so`), and ships as the package's data.
fn is_module_file(interp: &Interpreter, path: &Path, name: &str) -> bool {
    let mut matching = interp
        .extension_suffixes
        .iter()
        .chain(&interp.source_suffixes)
        .chain(&interp.bytecode_suffixes)
        .filter(|s| name.ends_with(s.as_str()));
    let Some(first) = matching.next() else {
        return false;
    };
    let plain_extension = interp.extension_suffixes.iter().any(|s| s == first)
        && matching.next().is_none()
        && !first.contains('-')
        && first.matches('.').count() == 1;
    if !plain_extension {
        return true;
    }
    let stem = &name[..name.len() - first.len()];
    crate::installed::elf::defines_symbol(path, &format!("PyInit_{stem}"))
}

/// Non-module files inside a package directory: files beside its modules, and whole
/// subdirectories that are not packages themselves (templates, data, vendored libraries),
/// less the default exclusions above.
fn package_data(dir: &Path, interp: &Interpreter) -> Vec<PathBuf> {
    let is_module_file = |path: &Path, name: &str| is_module_file(interp, path, name);
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in read.filter_map(|e| e.ok()) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(ft) = std::fs::metadata(&path) else {
            continue;
        };
        if ft.is_file() {
            if !is_module_file(&path, &name) && !excluded_data_file(&name) {
                out.push(path);
            }
            continue;
        }
        if !ft.is_dir() || EXCLUDED_DATA_DIRS.contains(&name.as_str()) {
            continue;
        }
        let holds_modules = std::fs::read_dir(&path)
            .map(|rd| {
                rd.filter_map(|e| e.ok()).any(|e| {
                    let n = e.file_name().to_string_lossy().to_string();
                    e.path().is_file() && is_module_file(&e.path(), &n)
                })
            })
            .unwrap_or(false);
        let is_identifier = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if is_identifier && holds_modules {
            continue; // a subpackage: shipped only if the graph reaches it
        }
        for f in walkdir::WalkDir::new(&path)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| {
                !(e.file_type().is_dir()
                    && EXCLUDED_DATA_DIRS.contains(&e.file_name().to_string_lossy().as_ref()))
            })
        {
            let Ok(f) = f else { continue };
            if f.file_type().is_file() && !excluded_data_file(&f.file_name().to_string_lossy()) {
                out.push(f.path().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// A `data` entry of the configuration may not take the place of anything else the bundle holds:
/// a module's bytecode, a package's data, kiln's own files, or a directory of them.
fn check_data_destinations(
    configured: &HashMap<PathBuf, PathBuf>,
    files: &[BundleFile],
    c: &Collection,
    app_root: &Path,
) -> Result<(), CollectError> {
    if configured.is_empty() {
        return Ok(());
    }
    let kiln_files = [
        (c.boot.clone(), "kiln's boot script"),
        (c.boot.with_file_name(ARCHIVE_FILE), "kiln's module archive"),
        (app_root.join(ARCHIVE_PTH), "kiln's archive finder"),
        (c.executable.clone(), "the bundle's interpreter"),
        (c.interpreter.clone(), "the bundle's interpreter"),
    ];
    let others = files
        .iter()
        .filter(|f| configured.get(&f.dest) != Some(&f.origin))
        .map(|f| {
            let what = match &f.module {
                Some(m) => format!("module {m} ({})", f.origin.display()),
                None => f.origin.display().to_string(),
            };
            (f.dest.clone(), what)
        })
        .chain(kiln_files.iter().map(|(d, w)| (d.clone(), w.to_string())));
    for (dest, what) in others {
        let clash = configured
            .iter()
            .find(|(d, _)| **d == dest || dest.starts_with(d) || d.starts_with(&dest));
        if let Some((d, src)) = clash {
            let shown = |p: &Path| p.strip_prefix(app_root).unwrap_or(p).display().to_string();
            return Err(CollectError::Compile(format!(
                "`data`: {} would go to {} in the bundle, which {what} already takes; choose \
                 another `dest`",
                src.display(),
                shown(d),
            )));
        }
    }
    Ok(())
}

/// The shared libraries of a library wheel (a distribution of native libraries and no Python
/// code, such as NVIDIA's CUDA wheels), given the files its RECORD lists; none for a
/// distribution with Python code, whose libraries the modules that load them decide.
fn library_siblings(record: &[PathBuf]) -> Vec<PathBuf> {
    let name = |p: &PathBuf| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string()
    };
    let python = record.iter().map(name).any(|n| {
        n.ends_with(".py") || n.ends_with(".pyc") || n.contains(".cpython-") || n.contains(".abi3.")
    });
    if python {
        return Vec::new();
    }
    record
        .iter()
        .filter(|p| {
            let n = name(p);
            n.ends_with(".so") || n.contains(".so.")
        })
        .cloned()
        .collect()
}

/// Adds the shared libraries every ELF file of the bundle needs (transitively), and decides
/// how each ELF file's library search path must change.
///
/// `siblings(library, entry)`: the libraries that ship with a library found on the search path
/// (its library wheel's others, which it loads by path from its own directory: cuDNN its
/// engines, NVRTC its builtins); each is followed like a needed library.
fn native_closure(
    files: &mut Vec<BundleFile>,
    layout: &Layout<'_>,
    c: &mut Collection,
    siblings: &dyn Fn(&Path, usize) -> Vec<PathBuf>,
) -> Result<(), CollectError> {
    let resolver = native::LibraryResolver::default();
    // (file index, RPATH directories inherited from the objects that load it)
    let mut queue: VecDeque<(usize, Vec<PathBuf>)> = VecDeque::new();
    for (i, f) in files.iter_mut().enumerate() {
        if matches!(
            f.role,
            FileRole::Extension | FileRole::Data | FileRole::Interpreter
        ) && native::is_elf(&f.source)
        {
            f.elf = native::read_elf(&f.source).map_err(io_err(&f.source))?;
            if f.elf.is_some() {
                queue.push_back((i, Vec::new()));
            }
        }
    }
    // soname -> index of the bundled file that provides it in lib/
    let mut in_lib: HashMap<String, usize> = HashMap::new();
    let mut by_origin: HashMap<PathBuf, usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.elf.is_some())
        .map(|(i, f)| (metadata::normalize(&f.origin), i))
        .collect();
    // For each ELF file: which of its needed libraries landed in lib/.
    let mut needs_lib: HashMap<usize, bool> = HashMap::new();
    while let Some((i, from_loader)) = queue.pop_front() {
        let info = files[i].elf.clone().expect("queued files are ELF");
        let origin = files[i].origin.clone();
        let requester = files[i].dest.clone();
        let inherited = native::inherited_rpath(&origin, &info, &from_loader);
        for needed in &info.needed {
            if native::is_system_library(needed) {
                continue;
            }
            if in_lib.contains_key(needed) {
                needs_lib.insert(i, true);
                continue;
            }
            let Some(found) = resolver.resolve(needed, &origin, &info, &from_loader) else {
                c.missing_libraries
                    .push((needed.clone(), requester.display().to_string()));
                continue;
            };
            let key = metadata::normalize(&found);
            if let Some(&j) = by_origin.get(&key) {
                if files[j].dest.parent() == Some(Path::new("lib")) {
                    needs_lib.insert(i, true);
                }
                continue;
            }
            let (dest, goes_to_lib) = match layout.entry_of(&key) {
                Some(entry) => (layout.place(entry, &key), false),
                None => (PathBuf::from("lib").join(needed), true),
            };
            let elf = native::read_elf(&found).map_err(io_err(&found))?;
            let j = files.len();
            files.push(
                BundleFile::new(
                    dest,
                    found.clone(),
                    key.clone(),
                    FileRole::NativeLibrary,
                    format!("needed by {}", requester.display()),
                )
                .elf(elf),
            );
            by_origin.insert(key.clone(), j);
            if goes_to_lib {
                in_lib.insert(needed.clone(), j);
                needs_lib.insert(i, true);
            }
            if files[j].elf.is_some() {
                queue.push_back((j, inherited.clone()));
            }
            let Some(entry) = layout.entry_of(&key) else {
                continue;
            };
            for sibling in siblings(&key, entry) {
                let sibling = metadata::normalize(&sibling);
                if by_origin.contains_key(&sibling) || !sibling.is_file() {
                    continue;
                }
                let elf = native::read_elf(&sibling).map_err(io_err(&sibling))?;
                let k = files.len();
                files.push(
                    BundleFile::new(
                        layout.place(entry, &sibling),
                        sibling.clone(),
                        sibling.clone(),
                        FileRole::NativeLibrary,
                        format!(
                            "installed beside {} by the same library wheel, which loads its \
                             libraries from their directory",
                            found.file_name().unwrap_or_default().to_string_lossy()
                        ),
                    )
                    .elf(elf),
                );
                by_origin.insert(sibling, k);
                if files[k].elf.is_some() {
                    queue.push_back((k, inherited.clone()));
                }
            }
        }
    }
    for (i, f) in files.iter_mut().enumerate() {
        let Some(info) = &f.elf else { continue };
        if f.role == FileRole::Interpreter {
            f.rpath_fix = Some(RpathFix::ForceRpath("$ORIGIN/../lib".into()));
            continue;
        }
        let all: Vec<&String> = info.runpath.iter().chain(&info.rpath).collect();
        let has_host_paths = all
            .iter()
            .any(|p| !p.starts_with("$ORIGIN") && !p.starts_with("${ORIGIN}"));
        let wants_lib = needs_lib.get(&i).copied().unwrap_or(false);
        // A DT_RUNPATH is searched after LD_LIBRARY_PATH, and it hides the interpreter's
        // DT_RPATH: with one, a library that conda or CUDA put on LD_LIBRARY_PATH would be loaded
        // in place of the bundled one. Every search path of the bundle is a DT_RPATH, searched
        // before LD_LIBRARY_PATH.
        if !has_host_paths && info.runpath.is_empty() {
            continue;
        }
        let mut kept: Vec<String> = all
            .iter()
            .filter(|p| p.starts_with("$ORIGIN") || p.starts_with("${ORIGIN}"))
            .map(|p| p.to_string())
            .collect();
        if wants_lib {
            kept.push(origin_path_to(&f.dest, Path::new("lib")));
        }
        kept.dedup();
        f.rpath_fix = Some(if kept.is_empty() {
            RpathFix::Remove
        } else {
            RpathFix::ForceRpath(kept.join(":"))
        });
    }
    Ok(())
}

/// The files of `src` (a file, or a directory walked without bytecode caches), each with its
/// destination under `dest`.
fn walk_files(src: &Path, dest: &Path) -> Vec<(PathBuf, PathBuf)> {
    if !src.is_dir() {
        return vec![(src.to_path_buf(), dest.to_path_buf())];
    }
    walkdir::WalkDir::new(src)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != "__pycache__")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.path().extension().is_none_or(|x| x != "pyc"))
        .map(|e| {
            let rel = e.path().strip_prefix(src).unwrap_or(e.path()).to_path_buf();
            (e.path().to_path_buf(), dest.join(rel))
        })
        .collect()
}

/// `$ORIGIN/<relative path from the directory of file to dir>` (both relative to the prefix).
fn origin_path_to(file: &Path, dir: &Path) -> String {
    let from: Vec<_> = file
        .parent()
        .unwrap_or(Path::new(""))
        .components()
        .collect();
    let to: Vec<_> = dir.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to[common..] {
        rel.push(c);
    }
    if rel.as_os_str().is_empty() {
        "$ORIGIN".into()
    } else {
        format!("$ORIGIN/{}", rel.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_paths() {
        assert_eq!(
            origin_path_to(
                Path::new("lib/python3.11/lib-dynload/_ssl.so"),
                Path::new("lib")
            ),
            "$ORIGIN/../.."
        );
        assert_eq!(
            origin_path_to(Path::new("lib/libssl.so.3"), Path::new("lib")),
            "$ORIGIN"
        );
        assert_eq!(
            origin_path_to(
                Path::new("lib/python3.11/site-packages/np/core/x.so"),
                Path::new("lib")
            ),
            "$ORIGIN/../../../.."
        );
    }
}
