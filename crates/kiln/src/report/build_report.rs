//! `NAME.build-report.json`: what a build shipped and why, written beside the bundle once the
//! bundle is in place.
//!
//! Plain data: the inputs of the build, every file of the bundle (destination, origin, role,
//! size, owning distribution, why it is in and, for modules, the import chain from the entry),
//! the distributions with their licences, missing imports, hooks, warnings, the minimum glibc
//! the bundle needs, and what the build cost (stage timings, peak memory). `kiln report`, the
//! HTML page and the SBOM are all made from this one document.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CheckFinding, MissingImport, ModuleCounts};
use crate::collect::{BundleFile, Collection, FileRole};
use crate::config::{BuildSettings, OutputMode};
use crate::installed::license::License;
use crate::interpreter::Interpreter;
use crate::resolve::{EntryPoint, ModuleGraph, Origin};
use crate::write::{WriteOutput, RUNTIME_DIR};

/// Version of the report's layout; bumped when a field changes meaning.
pub const REPORT_FORMAT: u32 = 1;

/// Everything a build shipped, where each file came from and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildReport {
    pub format: u32,
    pub name: String,
    pub mode: OutputMode,
    /// `DIR/NAME`: the bundle directory, or the onefile executable.
    #[serde(serialize_with = "crate::lossy::path")]
    pub bundle: PathBuf,
    #[serde(serialize_with = "crate::lossy::path")]
    pub executable: PathBuf,
    /// When the report was written (RFC 3339, UTC), or `SOURCE_DATE_EPOCH` when set.
    pub created: String,
    /// BLAKE3 of what ships, `blake3:HEX`: every file's path, mode and bytes in path order (a
    /// onefile executable's bytes). Equal digests, identical bundles.
    #[serde(default)]
    pub content_digest: String,
    pub inputs: Inputs,
    pub totals: Totals,
    pub portability: Portability,
    pub distributions: Vec<DistributionEntry>,
    /// Every file of the bundle, in path order.
    pub files: Vec<FileEntry>,
    /// Imports that name no installed module (optional, conditional and third-party ones: a
    /// build with fatal ones does not get this far), each with the chain to its importer.
    pub missing: Vec<CheckFinding>,
    /// Shared libraries native code needs that were not found.
    pub missing_libraries: Vec<MissingLibrary>,
    pub hooks: Vec<HookEntry>,
    pub warnings: Vec<String>,
    pub metrics: Metrics,
    /// Distributions reached only through other packages' optional imports: shipped, or
    /// left out by `optional-integrations`.
    #[serde(default)]
    pub optional_integrations: Vec<crate::resolve::optional::OptionalIntegration>,
}

/// What the build was made from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inputs {
    pub kiln_version: String,
    /// The interpreter as given (a venv's `python`).
    #[serde(serialize_with = "crate::lossy::path")]
    pub python: PathBuf,
    /// The interpreter binary that was bundled.
    #[serde(serialize_with = "crate::lossy::path")]
    pub python_executable: PathBuf,
    pub python_version: String,
    /// The entry script, `-m module`, or `-m module:function`.
    pub entry: String,
    /// The configuration file read, if any.
    #[serde(serialize_with = "crate::lossy::opt_path")]
    pub config: Option<PathBuf>,
    /// BLAKE3 of the resolved settings (flags and configuration merged): equal hashes, equal
    /// settings.
    pub settings_hash: String,
    /// BLAKE3 of what the bundle was made from, `blake3:HEX`: the kiln and Python versions,
    /// the entry, and the bytes of every source file (the `.py` of bytecode, each library,
    /// data file and interpreter), each with the bundle path it became, in path order. Unlike
    /// `settings_hash` it does not depend on where the project or the output lives.
    #[serde(default)]
    pub digest: String,
}

/// Sizes and counts of the whole bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Totals {
    pub files: usize,
    /// Sum of every file's size: the bundle as it is run (for onefile, once unpacked).
    pub bytes: u64,
    /// Size of the onefile executable.
    pub onefile_bytes: Option<u64>,
    pub modules: ModuleCounts,
    pub extensions: usize,
    pub native_libraries: usize,
    /// Bytes of GPU distributions' files (NVIDIA's CUDA wheels, triton): what `cpu-only`
    /// reduces.
    #[serde(default)]
    pub gpu_bytes: u64,
}

/// Where the bundle can run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Portability {
    /// The newest `GLIBC_x.y` symbol version any bundled ELF file requires.
    pub min_glibc: Option<GlibcRequirement>,
    /// How many bundled files are ELF objects.
    pub elf_files: usize,
}

/// The oldest glibc a bundle runs with, and the file that requires it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlibcRequirement {
    /// `2.17`.
    pub version: String,
    /// The first bundled file (in path order) that needs that version, relative to the bundle.
    #[serde(serialize_with = "crate::lossy::path")]
    pub file: PathBuf,
}

/// One distribution whose files are shipped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DistributionEntry {
    pub name: String,
    pub version: String,
    pub license: Option<License>,
    pub files: usize,
    pub bytes: u64,
}

/// What a bundled file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Module,
    Extension,
    Data,
    Metadata,
    NativeLibrary,
    Interpreter,
    Boot,
    /// The app executable or `sys.executable`'s front: kiln's launcher.
    Launcher,
}

impl From<FileRole> for Role {
    fn from(role: FileRole) -> Role {
        match role {
            FileRole::Module => Role::Module,
            FileRole::Extension => Role::Extension,
            FileRole::Data => Role::Data,
            FileRole::Metadata => Role::Metadata,
            FileRole::NativeLibrary => Role::NativeLibrary,
            FileRole::Interpreter => Role::Interpreter,
            FileRole::Boot => Role::Boot,
        }
    }
}

/// One file of the bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the bundle root (`_kiln/lib/...`); for onefile, to the unpacked directory.
    #[serde(serialize_with = "crate::lossy::path")]
    pub path: PathBuf,
    /// The file in the build environment it stands for (the `.py` of bytecode); none for files
    /// kiln generates.
    #[serde(serialize_with = "crate::lossy::opt_path")]
    pub origin: Option<PathBuf>,
    pub role: Role,
    pub size: u64,
    pub distribution: Option<String>,
    /// What it counts towards in size views: its distribution, else `app`, `stdlib`,
    /// `third-party`, `native` (shared libraries of no distribution) or `runtime` (the
    /// interpreter, libpython, launchers, boot script).
    pub group: String,
    /// The top-level package, module or directory inside the group (`numpy`, `numpy.libs`,
    /// `json`, `lib`).
    pub package: String,
    pub module: Option<String>,
    /// Why it is in the bundle, in words.
    pub why: String,
    /// For modules: the import chain from the entry (`__main__` first, this module last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// For ELF files: the newest glibc symbol version it requires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc: Option<String>,
    /// For modules served from the module archive: the archive file that holds them (`path`
    /// is where the module's file would be, its `__file__`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::lossy::opt_path")]
    pub archive: Option<PathBuf>,
    /// Part of a GPU distribution (NVIDIA's CUDA wheels, triton).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gpu: bool,
}

/// A shared library that was needed and not found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MissingLibrary {
    pub library: String,
    pub needed_by: String,
}

/// A hook that applied, and what it did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookEntry {
    pub module: String,
    /// `built-in hook numpy`, `hook path/to/x.toml`, `project configuration`.
    pub source: String,
    pub added: Vec<String>,
    pub not_found: Vec<String>,
    pub excludes: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// What the build cost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metrics {
    /// Wall time of the whole build, up to the report.
    pub seconds: f64,
    pub timings: Vec<StageTiming>,
    /// Peak resident memory of kiln itself (`VmHWM`).
    pub peak_memory_bytes: Option<u64>,
    /// Peak resident memory of the largest child process (the interpreter compiling bytecode).
    pub peak_child_memory_bytes: Option<u64>,
}

/// Wall time of one stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageTiming {
    pub stage: String,
    pub seconds: f64,
}

/// What the report is made from.
pub struct ReportInput<'a> {
    pub settings: &'a BuildSettings,
    pub interpreter: &'a Interpreter,
    /// The module graph of each component (one for a single app).
    pub graphs: &'a [&'a ModuleGraph],
    pub collection: &'a Collection,
    pub written: &'a WriteOutput,
    pub timings: &'a [(String, f64)],
    pub seconds: f64,
    pub missing: &'a [MissingImport],
    pub warnings: &'a [String],
    pub optional: &'a [crate::resolve::optional::OptionalIntegration],
}

/// A file of the module archive's own (the archive's index, the `.pth` that installs it).
fn archive_entry(path: &Path, size: u64, why: String) -> FileEntry {
    FileEntry {
        path: path.to_path_buf(),
        origin: None,
        role: Role::Boot,
        size,
        distribution: None,
        group: "runtime".into(),
        package: "module archive".into(),
        module: None,
        why,
        chain: Vec::new(),
        glibc: None,
        archive: None,
        gpu: false,
    }
}

/// Modules of every component, each counted once.
fn count_modules(graphs: &[&ModuleGraph]) -> crate::report::ModuleCounts {
    let mut seen = std::collections::HashSet::new();
    let mut counts = crate::report::ModuleCounts::default();
    for g in graphs {
        for (_, m) in g.included() {
            if seen.insert(m.name.as_str()) {
                counts.total += 1;
                match m.origin {
                    crate::resolve::Origin::App => counts.app += 1,
                    crate::resolve::Origin::ThirdParty => counts.third_party += 1,
                    crate::resolve::Origin::Stdlib => counts.stdlib += 1,
                }
            }
        }
    }
    counts
}

/// Builds the report of a finished build.
pub fn assemble(input: &ReportInput<'_>) -> BuildReport {
    let c = input.collection;
    let graphs = input.graphs;
    let modules = Modules::new(graphs);
    let files = file_entries(input, &modules);
    let distributions = distribution_entries(c, &files);
    let missing = input
        .missing
        .iter()
        .map(|m| {
            let mut chain = modules.chain_of(&m.importer);
            if chain.is_empty() {
                chain.push(m.importer.clone());
            }
            CheckFinding {
                missing: m.clone(),
                chain,
            }
        })
        .collect();

    let count = |role: FileRole| c.files.iter().filter(|f| f.role == role).count();
    BuildReport {
        format: REPORT_FORMAT,
        name: input.settings.name.clone(),
        mode: input.settings.output,
        bundle: input.settings.out_dir.join(&input.settings.name),
        executable: input
            .written
            .executables
            .first()
            .cloned()
            .unwrap_or_default(),
        created: utc_timestamp(build_time()),
        content_digest: content_digest(input, &files),
        inputs: Inputs {
            kiln_version: env!("CARGO_PKG_VERSION").to_string(),
            python: input.interpreter.executable.clone(),
            python_executable: input.interpreter.base_executable.clone(),
            python_version: input.interpreter.version_string(),
            entry: entry_label(&input.settings.entry),
            config: input.settings.config_path.clone(),
            settings_hash: blake3::hash(format!("{:?}", input.settings).as_bytes())
                .to_hex()
                .to_string(),
            digest: inputs_digest(input, &files),
        },
        totals: Totals {
            files: files.len(),
            bytes: files.iter().map(|f| f.size).sum(),
            onefile_bytes: input.written.onefile_bytes,
            modules: count_modules(graphs),
            extensions: count(FileRole::Extension),
            native_libraries: count(FileRole::NativeLibrary),
            gpu_bytes: files.iter().filter(|f| f.gpu).map(|f| f.size).sum(),
        },
        portability: Portability {
            min_glibc: min_glibc(&files),
            elf_files: files.iter().filter(|f| f.glibc.is_some()).count(),
        },
        distributions,
        files,
        missing,
        missing_libraries: c
            .missing_libraries
            .iter()
            .map(|(library, by)| MissingLibrary {
                library: library.clone(),
                needed_by: by.clone(),
            })
            .collect(),
        hooks: hook_entries(graphs),
        warnings: input.warnings.to_vec(),
        optional_integrations: input.optional.to_vec(),
        metrics: metrics(input),
    }
}

/// Every file of the bundle as it is run, with its role, owner, group and why.
fn file_entries(input: &ReportInput<'_>, modules: &Modules<'_>) -> Vec<FileEntry> {
    let c = input.collection;
    let runtime = Path::new(RUNTIME_DIR);
    let by_path: HashMap<PathBuf, &BundleFile> =
        c.files.iter().map(|f| (runtime.join(&f.dest), f)).collect();
    let places = Places {
        stdlib: runtime.join(input.interpreter.bundle_stdlib()),
        site: runtime.join(&c.app_root),
        libpython: input.interpreter.instsoname.clone(),
    };
    let launcher_glibc = crate::installed::elf::parse_elf(crate::write::LAUNCHER)
        .and_then(|e| e.glibc)
        .map(glibc_string);

    let archived: std::collections::HashSet<&PathBuf> = input.written.archived.iter().collect();
    let mut files: Vec<FileEntry> = input
        .written
        .sizes
        .iter()
        .map(|(path, size)| match by_path.get(path) {
            Some(f) => {
                let origin_kind = f.module.as_deref().and_then(|m| modules.origin(m));
                let distribution = f.distribution.map(|d| c.distributions[d].name.clone());
                let role = Role::from(f.role);
                let (group, package) =
                    places.classify(path, role, distribution.as_deref(), origin_kind);
                FileEntry {
                    path: path.clone(),
                    origin: (f.role != FileRole::Boot).then(|| f.origin.clone()),
                    role,
                    size: *size,
                    distribution,
                    group,
                    package,
                    module: f.module.clone(),
                    why: f.why.clone(),
                    chain: if matches!(f.role, FileRole::Module | FileRole::Extension) {
                        f.module
                            .as_deref()
                            .map(|m| modules.chain_of(m))
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                    glibc: f.elf.as_ref().and_then(|e| e.glibc).map(glibc_string),
                    archive: archived
                        .contains(path)
                        .then(|| input.written.archive.clone())
                        .flatten(),
                    gpu: f.gpu,
                }
            }
            None if Some(path) == input.written.archive.as_ref() => archive_entry(
                path,
                *size,
                format!(
                    "the module archive: its index of {} modules (their code is listed under \
                     their own paths)",
                    archived.len()
                ),
            ),
            None if path.extension().is_some_and(|x| x == "pth") => archive_entry(
                path,
                *size,
                "installs the module archive's finder in every interpreter of the bundle".into(),
            ),
            None => FileEntry {
                path: path.clone(),
                origin: None,
                role: Role::Launcher,
                size: *size,
                distribution: None,
                group: "runtime".into(),
                package: "launchers".into(),
                module: None,
                why: if path.starts_with(runtime) {
                    "sys.executable: starts the interpreter for child processes".into()
                } else {
                    "the app's executable: starts the interpreter on the boot script".into()
                },
                chain: Vec::new(),
                glibc: launcher_glibc.clone(),
                archive: None,
                gpu: false,
            },
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));

    files
}

/// Size and licence per distribution.
fn distribution_entries(c: &Collection, files: &[FileEntry]) -> Vec<DistributionEntry> {
    c.distributions
        .iter()
        .map(|d| {
            let own = files
                .iter()
                .filter(|f| f.distribution.as_deref() == Some(d.name.as_str()));
            DistributionEntry {
                name: d.name.clone(),
                version: d.version.clone(),
                license: d.license.clone(),
                files: own.clone().count(),
                bytes: own.map(|f| f.size).sum(),
            }
        })
        .collect()
}

/// The hooks that applied, in every component.
fn hook_entries(graphs: &[&ModuleGraph]) -> Vec<HookEntry> {
    graphs
        .iter()
        .flat_map(|g| &g.applied_hooks)
        // The configuration applies as a hook to every build; list it when it did something.
        .filter(|a| {
            a.source != crate::hooks::HookSource::Config
                || !a.added.is_empty()
                || !a.hook.exclude.is_empty()
                || !a.hook.data.is_empty()
        })
        .map(|a| HookEntry {
            module: a.module.clone(),
            source: a.source.to_string(),
            added: a.added.clone(),
            not_found: a.not_found.clone(),
            excludes: a.hook.exclude.clone(),
            env: a.hook.env.clone(),
        })
        .collect()
}

fn metrics(input: &ReportInput<'_>) -> Metrics {
    Metrics {
        seconds: input.seconds,
        timings: input
            .timings
            .iter()
            .map(|(stage, seconds)| StageTiming {
                stage: stage.clone(),
                seconds: *seconds,
            })
            .collect(),
        peak_memory_bytes: peak_memory(),
        peak_child_memory_bytes: peak_child_memory(),
    }
}

/// Modules across the components' graphs: a module's facts come from the first component
/// whose graph has it.
struct Modules<'g> {
    graphs: &'g [&'g ModuleGraph],
    chains: Vec<crate::resolve::graph::Chains>,
}

impl<'g> Modules<'g> {
    fn new(graphs: &'g [&'g ModuleGraph]) -> Modules<'g> {
        Modules {
            graphs,
            chains: graphs.iter().map(|g| g.chains()).collect(),
        }
    }

    fn find(&self, module: &str) -> Option<(usize, usize)> {
        self.graphs
            .iter()
            .enumerate()
            .find_map(|(i, g)| g.get(module).map(|id| (i, id)))
    }

    fn origin(&self, module: &str) -> Option<Origin> {
        self.find(module)
            .map(|(i, id)| self.graphs[i].modules[id].origin)
    }

    /// The import chain from `__main__` to `module`, both included.
    fn chain_of(&self, module: &str) -> Vec<String> {
        let Some((i, id)) = self.find(module) else {
            return Vec::new();
        };
        let graph = self.graphs[i];
        let Some(edges) = self.chains[i].chain(graph, id) else {
            return Vec::new();
        };
        let mut names: Vec<String> = edges
            .iter()
            .map(|e| graph.modules[e.from].name.clone())
            .collect();
        names.push(module.to_string());
        names
    }
}

/// Bundle locations that decide a file's group and package.
struct Places {
    stdlib: PathBuf,
    site: PathBuf,
    libpython: String,
}

impl Places {
    /// `(group, package)` of a bundled file; see [`FileEntry::group`].
    fn classify(
        &self,
        path: &Path,
        role: Role,
        distribution: Option<&str>,
        origin: Option<Origin>,
    ) -> (String, String) {
        let first = |rest: &Path| {
            let mut parts = rest.components();
            let head = parts
                .next()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .unwrap_or_default();
            // A single file stands for its module: `six.pyc`, `_ssl.cpython-311-...so`.
            if parts.next().is_none() {
                head.split('.').next().unwrap_or(&head).to_string()
            } else {
                head
            }
        };
        let in_site = path.strip_prefix(&self.site).ok();
        let in_stdlib = path
            .strip_prefix(&self.stdlib)
            .ok()
            .filter(|_| in_site.is_none());
        let package = match (in_site, in_stdlib) {
            (Some(rest), _) => first(rest),
            (None, Some(rest)) if rest.starts_with("lib-dynload") => {
                first(rest.strip_prefix("lib-dynload").unwrap_or(rest))
            }
            (None, Some(rest)) => first(rest),
            _ => path
                .strip_prefix(RUNTIME_DIR)
                .ok()
                .and_then(|r| r.components().next())
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .unwrap_or_else(|| "launchers".into()),
        };
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let group = if let Some(d) = distribution {
            d.to_string()
        } else {
            match role {
                Role::Interpreter | Role::Boot | Role::Launcher => "runtime".into(),
                Role::NativeLibrary if file_name.starts_with(&self.libpython) => "runtime".into(),
                Role::NativeLibrary => "native".into(),
                Role::Module | Role::Extension => match origin {
                    Some(Origin::Stdlib) => "stdlib".into(),
                    Some(Origin::ThirdParty) => "third-party".into(),
                    _ => "app".into(),
                },
                Role::Data | Role::Metadata if in_stdlib.is_some() => "stdlib".into(),
                Role::Data | Role::Metadata => "app".into(),
            }
        };
        (group, package)
    }
}

/// The oldest glibc that has every symbol version the bundle's ELF files need.
pub fn min_glibc(files: &[FileEntry]) -> Option<GlibcRequirement> {
    let mut best: Option<((u32, u32), &FileEntry)> = None;
    for f in files {
        let Some(v) = f.glibc.as_deref().and_then(parse_glibc) else {
            continue;
        };
        if best.is_none_or(|(b, _)| v > b) {
            best = Some((v, f));
        }
    }
    best.map(|(v, f)| GlibcRequirement {
        version: glibc_string(v),
        file: f.path.clone(),
    })
}

fn glibc_string((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

fn parse_glibc(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// How the entry was given: `main.py`, `-m pkg`, `-m pkg.cli:main`.
pub fn entry_label(entry: &EntryPoint) -> String {
    match entry {
        EntryPoint::Script(p) => p.display().to_string(),
        EntryPoint::Module(m) => format!("-m {m}"),
        EntryPoint::Call { module, function } => format!("-m {module}:{function}"),
    }
}

/// This process's peak resident memory, from `VmHWM` in `/proc/self/status`.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The peak resident memory of the largest child process waited for so far.
fn peak_child_memory() -> Option<u64> {
    // SAFETY: rusage is plain integers (all-zero is valid), and getrusage only writes into the
    // struct it is given.
    let (rc, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let rc = libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        (rc, usage)
    };
    (rc == 0 && usage.ru_maxrss > 0).then(|| usage.ru_maxrss as u64 * 1024)
}

/// The process's file mode creation mask, from `/proc/self/status` (reading it with
/// `umask(2)` would change it for a moment under other threads).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

/// When the build happened, for the report: `SOURCE_DATE_EPOCH` (seconds since 1970, the
/// reproducible-builds convention) when it holds a number, else now.
pub fn build_time() -> std::time::SystemTime {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .unwrap_or_else(std::time::SystemTime::now)
}

/// BLAKE3 over `(name, bytes)` items in order, each length-prefixed so no two item lists
/// share a digest; a file that cannot be read counts as its error text.
fn digest_of(items: Vec<(String, PathBuf)>, extra: &[&str]) -> String {
    use rayon::prelude::*;
    let hashes: Vec<(String, String)> = items
        .into_par_iter()
        .map(|(name, path)| {
            let hash = match std::fs::File::open(&path) {
                Ok(file) => {
                    let mut hasher = blake3::Hasher::new();
                    match hasher.update_reader(file) {
                        Ok(_) => hasher.finalize().to_hex().to_string(),
                        Err(e) => format!("unreadable: {e}"),
                    }
                }
                Err(e) => format!("unreadable: {e}"),
            };
            (name, hash)
        })
        .collect();
    let mut total = blake3::Hasher::new();
    for part in extra.iter().copied().chain(
        hashes
            .iter()
            .flat_map(|(name, hash)| [name.as_str(), hash.as_str()]),
    ) {
        total.update(&(part.len() as u64).to_le_bytes());
        total.update(part.as_bytes());
    }
    format!("blake3:{}", total.finalize().to_hex())
}

/// See [`BuildReport::content_digest`].
fn content_digest(input: &ReportInput<'_>, files: &[FileEntry]) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bundle = input.settings.out_dir.join(&input.settings.name);
    if input.written.onefile_bytes.is_some() {
        return digest_of(vec![(String::new(), bundle)], &[]);
    }
    let items: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| {
            let path = bundle.join(&f.path);
            let mode =
                std::fs::symlink_metadata(&path).map_or(0, |m| m.permissions().mode() & 0o7777);
            (format!("{} {mode:o}", f.path.display()), path)
        })
        .collect();
    digest_of(items, &[])
}

/// See [`Inputs::digest`].
fn inputs_digest(input: &ReportInput<'_>, files: &[FileEntry]) -> String {
    let items: Vec<(String, PathBuf)> = files
        .iter()
        .filter_map(|f| Some((f.path.display().to_string(), f.origin.clone()?)))
        .collect();
    let version = input.interpreter.version_string();
    let entry = match &input.settings.entry {
        EntryPoint::Script(path) => path
            .strip_prefix(&input.settings.app_dir)
            .unwrap_or(path)
            .display()
            .to_string(),
        other => entry_label(other),
    };
    digest_of(items, &[env!("CARGO_PKG_VERSION"), &version, &entry])
}

/// `2024-05-01T12:00:00Z`.
pub fn utc_timestamp(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `DIR/NAME.build-report.json`: beside the bundle, never inside what ships.
pub fn report_path(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(format!("{name}.build-report.json"))
}

/// `DIR/NAME.cdx.json`, the CycloneDX SBOM.
pub fn sbom_path(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(format!("{name}.cdx.json"))
}

/// Errors writing or reading a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a kiln build report")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The files a build writes beside its bundle.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFiles {
    #[serde(serialize_with = "crate::lossy::path")]
    pub report: PathBuf,
    #[serde(serialize_with = "crate::lossy::path")]
    pub sbom: PathBuf,
}

impl BuildReport {
    /// Writes the report and its SBOM beside the bundle, each atomically.
    pub fn write(&self, out_dir: &Path) -> Result<ReportFiles, ReportError> {
        let report = report_path(out_dir, &self.name);
        let sbom = sbom_path(out_dir, &self.name);
        for path in [&report, &sbom] {
            crate::write::guard::check_report(path).map_err(|e| ReportError::Write {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        }
        let json = serde_json::to_vec_pretty(self).expect("the report serialises");
        write_atomic(&report, &json)?;
        let bom =
            serde_json::to_vec_pretty(&super::sbom::cyclonedx(self)).expect("the SBOM serialises");
        write_atomic(&sbom, &bom)?;
        Ok(ReportFiles { report, sbom })
    }

    /// Reads a report written by [`BuildReport::write`].
    pub fn read(path: &Path) -> Result<BuildReport, ReportError> {
        let bytes = std::fs::read(path).map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| ReportError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".kiln-report-")
        .tempfile_in(dir)
        .map_err(err)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(err)?;
    // Readable like any file the user writes (a temporary file starts private).
    let mode = 0o666 & !umask();
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(mode),
    )
    .map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::installed::license::LicenseSource;

    /// A small report: four distributions (one found twice), three native libraries.
    pub(crate) fn sample() -> BuildReport {
        let lib = |path: &str, dist: Option<&str>, group: &str| FileEntry {
            path: path.into(),
            origin: Some(format!("/usr/lib/{path}").into()),
            role: Role::NativeLibrary,
            size: 10,
            distribution: dist.map(str::to_string),
            group: group.into(),
            package: "lib".into(),
            module: None,
            why: "needed by _kiln/bin/python3.11".into(),
            chain: Vec::new(),
            glibc: Some("2.17".into()),
            archive: None,
            gpu: false,
        };
        let dist = |name: &str, version: &str, license: Option<(&str, bool)>| DistributionEntry {
            name: name.into(),
            version: version.into(),
            license: license.map(|(text, spdx)| License {
                text: text.into(),
                spdx,
                source: LicenseSource::Expression,
            }),
            files: 1,
            bytes: 10,
        };
        BuildReport {
            format: REPORT_FORMAT,
            name: "demo".into(),
            mode: crate::config::OutputMode::Onedir,
            bundle: "dist/demo".into(),
            executable: "dist/demo/demo".into(),
            created: "2024-02-29T12:34:56Z".into(),
            content_digest: "blake3:00".into(),
            inputs: Inputs {
                kiln_version: "0.1.0".into(),
                python: "/venv/bin/python".into(),
                python_executable: "/usr/bin/python3.11".into(),
                python_version: "3.11.7".into(),
                entry: "main.py".into(),
                config: None,
                settings_hash: "00".into(),
                digest: "blake3:00".into(),
            },
            totals: Totals {
                files: 4,
                bytes: 40,
                onefile_bytes: None,
                modules: Default::default(),
                extensions: 0,
                native_libraries: 3,
                gpu_bytes: 0,
            },
            portability: Portability {
                min_glibc: None,
                elf_files: 3,
            },
            distributions: vec![
                dist("Foo_Bar", "1.0", Some(("MIT", true))),
                dist("legacy", "0.1", Some(("BSD", false))),
                dist("nolicence", "2", None),
                // The same distribution found twice on the path still gets unique references.
                dist("foo-bar", "1.0", None),
            ],
            files: vec![
                lib("_kiln/lib/libffi.so.8", None, "native"),
                lib("_kiln/lib/libpython3.11.so.1.0", None, "runtime"),
                lib(
                    "_kiln/lib/python3.11/site-packages/numpy.libs/libopenblas.so",
                    Some("numpy"),
                    "numpy",
                ),
            ],
            missing: Vec::new(),
            missing_libraries: Vec::new(),
            hooks: Vec::new(),
            warnings: Vec::new(),
            optional_integrations: Vec::new(),
            metrics: Metrics {
                seconds: 1.0,
                timings: Vec::new(),
                peak_memory_bytes: None,
                peak_child_memory_bytes: None,
            },
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_709_210_096);
        assert_eq!(utc_timestamp(t), "2024-02-29T12:34:56Z");
        assert_eq!(utc_timestamp(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn digests_follow_names_bytes_and_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::write(&a, "one").unwrap();
        std::fs::write(&b, "two").unwrap();
        let items = |list: &[(&str, &Path)]| -> Vec<(String, PathBuf)> {
            list.iter()
                .map(|(n, p)| (n.to_string(), p.to_path_buf()))
                .collect()
        };
        let base = digest_of(items(&[("x", &a), ("y", &b)]), &["v"]);
        assert!(base.starts_with("blake3:"));
        assert_eq!(base, digest_of(items(&[("x", &a), ("y", &b)]), &["v"]));
        for other in [
            digest_of(items(&[("y", &b), ("x", &a)]), &["v"]),
            digest_of(items(&[("x", &b), ("y", &a)]), &["v"]),
            digest_of(items(&[("xy", &a), ("", &b)]), &["v"]),
            digest_of(items(&[("x", &a), ("y", &b)]), &["w"]),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn the_newest_glibc_wins_and_names_its_file() {
        let file = |path: &str, glibc: Option<&str>| FileEntry {
            path: path.into(),
            origin: None,
            role: Role::NativeLibrary,
            size: 1,
            distribution: None,
            group: "native".into(),
            package: "lib".into(),
            module: None,
            why: String::new(),
            chain: Vec::new(),
            glibc: glibc.map(str::to_string),
            archive: None,
            gpu: false,
        };
        let files = [
            file("a", Some("2.17")),
            file("b", Some("2.28")),
            file("c", None),
            file("d", Some("2.3")),
            file("e", Some("2.28")),
        ];
        assert_eq!(
            min_glibc(&files),
            Some(GlibcRequirement {
                version: "2.28".into(),
                file: "b".into()
            })
        );
        assert_eq!(min_glibc(&files[2..3]), None);
    }

    #[test]
    fn files_are_grouped_by_distribution_then_by_place() {
        let places = Places {
            stdlib: "_kiln/lib/python3.11".into(),
            site: "_kiln/lib/python3.11/site-packages".into(),
            libpython: "libpython3.11.so.1.0".into(),
        };
        let c = |p: &str, role, dist, origin| places.classify(Path::new(p), role, dist, origin);
        assert_eq!(
            c(
                "_kiln/lib/python3.11/site-packages/numpy/linalg/__init__.pyc",
                Role::Module,
                Some("numpy"),
                Some(Origin::ThirdParty)
            ),
            ("numpy".into(), "numpy".into())
        );
        assert_eq!(
            c(
                "_kiln/lib/python3.11/site-packages/numpy.libs/libopenblas.so",
                Role::NativeLibrary,
                Some("numpy"),
                None
            ),
            ("numpy".into(), "numpy.libs".into())
        );
        assert_eq!(
            c(
                "_kiln/lib/python3.11/json/decoder.pyc",
                Role::Module,
                None,
                Some(Origin::Stdlib)
            ),
            ("stdlib".into(), "json".into())
        );
        assert_eq!(
            c(
                "_kiln/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
                Role::Extension,
                None,
                Some(Origin::Stdlib)
            ),
            ("stdlib".into(), "_ssl".into())
        );
        assert_eq!(
            c(
                "_kiln/lib/python3.11/site-packages/main.pyc",
                Role::Module,
                None,
                Some(Origin::App)
            ),
            ("app".into(), "main".into())
        );
        assert_eq!(
            c("_kiln/lib/libssl.so.3", Role::NativeLibrary, None, None),
            ("native".into(), "lib".into())
        );
        assert_eq!(
            c(
                "_kiln/lib/libpython3.11.so.1.0",
                Role::NativeLibrary,
                None,
                None
            ),
            ("runtime".into(), "lib".into())
        );
        assert_eq!(
            c("_kiln/bin/python3.11", Role::Interpreter, None, None),
            ("runtime".into(), "bin".into())
        );
        assert_eq!(
            c("app", Role::Launcher, None, None),
            ("runtime".into(), "launchers".into())
        );
    }
}
