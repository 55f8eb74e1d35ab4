//! Raw configuration (`kiln.toml`, or `[tool.kiln]` in `pyproject.toml`) merged with the command
//! line into resolved [`BuildSettings`]. Flags win over the file; unknown keys are errors that
//! name the key, its line, and the closest valid key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::resolve::EntryPoint;

/// Keys accepted in the `kiln.toml` / `[tool.kiln]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfig {
    /// The entry script, relative to the config file.
    pub entry: Option<String>,
    /// The entry module (`python -m MODULE`), instead of a script.
    pub module: Option<String>,
    /// The target interpreter.
    pub python: Option<String>,
    /// Name of the bundle and its executable.
    pub name: Option<String>,
    /// Output directory, relative to the config file.
    pub out: Option<String>,
    /// Bytecode optimisation level (0, 1 or 2, as `python -O`/`-OO`).
    pub optimize: Option<u8>,
    /// Strip symbols from bundled native libraries (default true).
    pub strip: Option<bool>,
    /// Write one executable (`DIR/NAME`) instead of a directory.
    pub onefile: Option<bool>,
    /// zstd level of a onefile executable's payload, 1 (fastest) to 19 (smallest).
    pub compression_level: Option<i32>,
    /// Modules to include although no import names them.
    pub hidden_imports: Option<Vec<String>>,
    /// Packages to include whole (every submodule, recursively).
    pub collect: Option<Vec<String>>,
    /// Modules (and their submodules) never to bundle.
    pub exclude: Option<Vec<String>>,
    /// Files or directories to ship: `{ src = "config", dest = "config" }`, `dest` relative to
    /// the app root (where the entry script sits).
    pub data: Option<Vec<DataSpec>>,
    /// Directories of hook files (`*.toml`), relative to the config file.
    pub hook_dirs: Option<Vec<String>>,
    /// Per package, files to ship although the default exclusions leave them out:
    /// `{ numpy = ["_core/include/**"] }`, globs relative to the package directory.
    pub package_data: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// A suite: several executables sharing one runtime, `[components.NAME]` tables.
    pub components: Option<std::collections::BTreeMap<String, RawComponent>>,
    /// Distributions reached only through other packages' optional imports or guesses:
    /// `"auto"` (leave out what the project's dependencies do not name; without a dependency
    /// list, what no extra of a reached distribution names), `"include"` or `"skip"`.
    pub optional_integrations: Option<OptionalPolicy>,
    /// For machines without an NVIDIA GPU: leave out triton and the CUDA libraries nothing
    /// links (the ones a linked CUDA library would load at run time), default false.
    pub cpu_only: Option<bool>,
    /// Serve pure-Python modules from one indexed archive (default true); `false` ships each
    /// module as its own `.pyc` file.
    pub archive: Option<bool>,
    /// Per package or module, its bytecode optimisation level (0, 1 or 2):
    /// `{ mypkg = 2, numpy = 1 }`. A name covers its submodules; the longest matching name
    /// wins over `optimize`, and over a hook's `docstrings`.
    pub optimize_packages: Option<std::collections::BTreeMap<String, i64>>,
    /// Packages and modules (with their submodules) whose `.py` sources ship beside their
    /// bytecode, for code that reads its own source (`inspect.getsource`, TorchScript).
    pub keep_source: Option<Vec<String>>,
    /// Compress bundled extension modules and shared libraries with UPX (default false).
    pub upx: Option<bool>,
    /// Fail the build when anything bundled needs a newer glibc than this (`"2.28"`).
    pub min_glibc: Option<String>,
    /// Smoke cases `kiln test` runs: `[test.NAME]` tables (`[tool.kiln.test.NAME]`).
    pub test: Option<std::collections::BTreeMap<String, RawTestCase>>,
    /// Also write a Debian package of the onedir bundle: the `[deb]` table
    /// (`[tool.kiln.deb]`), or `--format deb`.
    pub deb: Option<RawDeb>,
}

/// `[tool.kiln.deb]`: the Debian package's metadata; each key defaults from `[project]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawDeb {
    /// Package name [default: the bundle's name, lower-cased].
    pub package: Option<String>,
    /// [default: `[project].version`, else 0.1.0].
    pub version: Option<String>,
    /// `Name <email>` [default: the first of `[project].authors`].
    pub maintainer: Option<String>,
    /// [default: `[project].description`].
    pub description: Option<String>,
    pub section: Option<String>,
    pub homepage: Option<String>,
    /// Debian packages it needs (the bundle carries Python and its libraries; a GUI may need
    /// the display stack).
    pub depends: Option<Vec<String>>,
    /// Write a `.desktop` entry [default: true for `[project.gui-scripts]` or an icon].
    pub desktop: Option<bool>,
    /// A PNG or SVG icon, relative to the config file.
    pub icon: Option<String>,
    /// The `.desktop` entry's `Categories` [default: `Utility;`].
    pub categories: Option<String>,
}

/// A resolved Debian package request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebSettings {
    pub package: String,
    pub version: String,
    pub maintainer: String,
    pub description: String,
    pub section: String,
    pub homepage: Option<String>,
    pub depends: Vec<String>,
    pub desktop: bool,
    pub icon: Option<PathBuf>,
    pub categories: String,
    /// A GUI app (`[project.gui-scripts]`): its `.desktop` entries need no terminal.
    pub gui: bool,
}

/// One smoke case of `kiln test` (`[tool.kiln.test.NAME]`); the keys are its flags.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawTestCase {
    /// Arguments for the app.
    pub args: Option<Vec<String>>,
    /// The file of the bundle directory to start (a suite's `NAME-COMPONENT`).
    pub program: Option<String>,
    pub expect_exit: Option<i32>,
    /// A file holding the exact expected standard output, relative to the config file.
    pub expect_stdout: Option<String>,
    /// A server's health path (`/api/health`).
    pub health: Option<String>,
    pub timeout: Option<u64>,
    pub import_all: Option<bool>,
}

/// What to do with optional integrations (`resolve::optional`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptionalPolicy {
    /// Skip those the declared dependencies (`[project].dependencies`, else a
    /// `requirements.txt` beside the entry) do not name; without a declaration, those no
    /// non-development extra of a reached distribution names.
    #[default]
    Auto,
    Include,
    Skip,
}

/// One component of a suite (`[tool.kiln.components.NAME]`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawComponent {
    pub entry: Option<String>,
    pub module: Option<String>,
    /// Modules this component must never reach (reaching one is a build error).
    pub exclude: Option<Vec<String>>,
    pub hidden_imports: Option<Vec<String>>,
    pub collect: Option<Vec<String>>,
}

/// A resolved suite component.
#[derive(Debug, Clone)]
pub struct ComponentSettings {
    pub name: String,
    pub entry: EntryPoint,
    pub app_dir: PathBuf,
    /// The component's own `hidden-imports`, `collect` and `exclude`.
    pub rules: crate::hooks::Hook,
}

/// One entry of the `data` key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub src: String,
    #[serde(default)]
    pub dest: Option<String>,
}

#[derive(Deserialize)]
struct Pyproject {
    project: Option<PyprojectProject>,
    tool: Option<PyprojectTool>,
}

#[derive(Deserialize)]
struct PyprojectProject {
    name: Option<String>,
    dependencies: Option<Vec<String>>,
    scripts: Option<std::collections::BTreeMap<String, String>>,
    #[serde(rename = "gui-scripts")]
    gui_scripts: Option<std::collections::BTreeMap<String, String>>,
    version: Option<String>,
    description: Option<String>,
    authors: Option<Vec<PyprojectAuthor>>,
    urls: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct PyprojectAuthor {
    name: Option<String>,
    email: Option<String>,
}

/// What `[project]` says about the project, for package metadata.
#[derive(Debug, Clone, Default)]
pub struct ProjectMeta {
    pub version: Option<String>,
    pub description: Option<String>,
    /// `Name <email>` of the first author.
    pub author: Option<String>,
    pub homepage: Option<String>,
    /// It declares `[project.gui-scripts]`.
    pub gui: bool,
}

#[derive(Deserialize)]
struct PyprojectTool {
    kiln: Option<RawConfig>,
}

/// Errors reading or validating configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("no entry given: pass a script (`kiln build main.py`), a module (`-m pkg.mod`), set `entry` in kiln.toml, or declare `[project.scripts]` in pyproject.toml")]
    NoEntry,
    #[error("both a script and a module are given as the entry; choose one")]
    TwoEntries,
    #[error("entry script {0} does not exist")]
    EntryMissing(PathBuf),
    #[error("entry script {0} is {1}")]
    EntryNotScript(PathBuf, &'static str),
    #[error("`{key}` = {value}: {message}")]
    Value {
        key: String,
        value: String,
        message: String,
    },
}

/// A configuration file that was found and read.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    pub raw: RawConfig,
    /// The file it came from (None when there is no config file).
    pub path: Option<PathBuf>,
    /// Key prefix in messages: `` for kiln.toml, `tool.kiln.` for pyproject.toml.
    pub key_prefix: &'static str,
    /// `[project].name` of pyproject.toml, the default name of a suite.
    pub project_name: Option<String>,
    /// `[project].dependencies` of the project's pyproject.toml, when it declares them.
    pub project_dependencies: Option<Vec<String>>,
    /// `[project.scripts]` and `[project.gui-scripts]`: script name -> `module:function`.
    pub project_scripts: std::collections::BTreeMap<String, String>,
    pub project_meta: ProjectMeta,
}

impl LoadedConfig {
    /// Directory that relative paths in the file are relative to.
    pub fn base_dir(&self, cwd: &Path) -> PathBuf {
        self.path
            .as_ref()
            .and_then(|p| p.parent())
            // `--config small.toml`: a bare file name lies in the current directory.
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| cwd.join(p))
            .unwrap_or_else(|| cwd.to_path_buf())
    }
}

/// Finds `kiln.toml`, else a `pyproject.toml` with `[tool.kiln]`, in `dir`.
pub fn discover(dir: &Path, explicit: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
    if let Some(path) = explicit {
        return load(path);
    }
    let kiln = dir.join("kiln.toml");
    if kiln.is_file() {
        return load(&kiln);
    }
    let pyproject = dir.join("pyproject.toml");
    if pyproject.is_file() {
        // Without `[tool.kiln]` it still names the project and declares its dependencies.
        return load(&pyproject);
    }
    Ok(LoadedConfig::default())
}

/// Reads one config file (`pyproject.toml` is read for its `[tool.kiln]` table).
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    let invalid = |e: toml::de::Error, prefix: &str| {
        let line = e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        let at = e.span().map_or(0, |s| s.start.min(text.len()));
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message: explain(e.message(), prefix, key_at(&text, at).as_deref()),
        }
    };
    if is_pyproject {
        let doc: Pyproject = toml::from_str(&text).map_err(|e| invalid(e, "tool.kiln."))?;
        let (project_name, project_dependencies, project_scripts, project_meta) = doc
            .project
            .map(|p| {
                let meta = ProjectMeta {
                    version: p.version,
                    description: p.description,
                    author: p.authors.unwrap_or_default().into_iter().find_map(|a| {
                        match (a.name, a.email) {
                            (Some(name), Some(email)) => Some(format!("{name} <{email}>")),
                            (Some(name), None) => Some(name),
                            (None, Some(email)) => Some(format!("<{email}>")),
                            (None, None) => None,
                        }
                    }),
                    homepage: p.urls.and_then(|urls| {
                        urls.into_iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("homepage"))
                            .map(|(_, v)| v)
                    }),
                    gui: p.gui_scripts.as_ref().is_some_and(|g| !g.is_empty()),
                };
                let mut scripts = p.scripts.unwrap_or_default();
                scripts.extend(p.gui_scripts.unwrap_or_default());
                (p.name, p.dependencies, scripts, meta)
            })
            .unwrap_or_default();
        Ok(match doc.tool.and_then(|t| t.kiln) {
            Some(raw) => LoadedConfig {
                raw,
                path: Some(path.to_path_buf()),
                key_prefix: "tool.kiln.",
                project_name,
                project_dependencies,
                project_scripts,
                project_meta,
            },
            // Without `[tool.kiln]` it still names the project, its dependencies and scripts.
            None => LoadedConfig {
                path: (!project_scripts.is_empty()).then(|| path.to_path_buf()),
                key_prefix: "tool.kiln.",
                project_name,
                project_dependencies,
                project_scripts,
                project_meta,
                ..LoadedConfig::default()
            },
        })
    } else {
        let raw: RawConfig = toml::from_str(&text).map_err(|e| invalid(e, ""))?;
        // A kiln.toml beside a pyproject.toml: the project still declares its dependencies.
        let sibling = path.with_file_name("pyproject.toml");
        let (project_dependencies, project_meta) = match sibling.is_file() {
            true => {
                let project = load(&sibling)?;
                (project.project_dependencies, project.project_meta)
            }
            false => (None, ProjectMeta::default()),
        };
        Ok(LoadedConfig {
            raw,
            path: Some(path.to_path_buf()),
            key_prefix: "",
            project_name: None,
            project_dependencies,
            project_scripts: Default::default(),
            project_meta,
        })
    }
}

/// Rewrites serde's "unknown field" message into one that names the key and a suggestion, and
/// puts the key in front of other messages (`invalid type: ...`). The valid keys come from
/// serde's own message, so they are the fields `RawConfig` has.
fn explain(message: &str, prefix: &str, key: Option<&str>) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        let message = message.trim();
        return match key {
            Some(key) => format!("`{prefix}{key}`: {message}"),
            None => message.to_string(),
        };
    };
    let key = rest.split('`').next().unwrap_or("");
    let valid: Vec<&str> = rest
        .split_once("expected one of ")
        .or_else(|| rest.split_once("expected "))
        .map(|(_, list)| list.split(", ").map(|k| k.trim_matches('`')).collect())
        .unwrap_or_default();
    let best = valid
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), *k))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.7);
    match best {
        Some((_, k)) => format!("unknown key `{prefix}{key}`; did you mean `{prefix}{k}`?"),
        None => format!(
            "unknown key `{prefix}{key}`; valid keys are {}",
            valid
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The dotted key whose value starts at byte `at` of a TOML text: the key on that line (before
/// its `=`), under the last `[table]` header above it. Good enough to name the key in an error.
fn key_at(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let line = line.split('\n').next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) if t == "tool.kiln" => key.to_string(),
        Some(t) => format!("{}.{key}", t.strip_prefix("tool.kiln.").unwrap_or(&t)),
        None => key.to_string(),
    })
}

/// What the user typed on the command line for `kiln build`.
#[derive(Debug, Clone, Default)]
pub struct BuildArgs {
    pub entry: Option<PathBuf>,
    pub module: Option<String>,
    pub python: Option<PathBuf>,
    pub name: Option<String>,
    pub out: Option<PathBuf>,
    pub optimize: Option<u8>,
    /// `--no-strip`.
    pub no_strip: bool,
    /// `--onefile`.
    pub onefile: Option<bool>,
    pub compression_level: Option<i32>,
    /// `--upx`.
    pub upx: bool,
    /// `--min-glibc`.
    pub min_glibc: Option<String>,
    /// `--hidden-import`, added to the configuration's `hidden-imports`.
    pub hidden_imports: Vec<String>,
    /// `--format deb`: also write a Debian package.
    pub deb: bool,
    /// `--cpu-only`.
    pub cpu_only: bool,
}

/// Settings of one build, resolved and ready to use.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    pub entry: EntryPoint,
    /// `sys.path[0]` of the app: the script's directory, or the project directory for `-m`.
    pub app_dir: PathBuf,
    /// Interpreter to use, before it is queried.
    pub python: Option<PathBuf>,
    pub name: String,
    /// The name came from `--name` or the `name` key, not from a default.
    pub name_given: bool,
    pub out_dir: PathBuf,
    pub optimize: u8,
    /// Strip symbols from bundled native libraries.
    pub strip: bool,
    pub config_path: Option<PathBuf>,
    /// The project's `hidden-imports`, `collect` and `exclude`, as a hook applied from the start.
    pub rules: crate::hooks::Hook,
    /// `data` entries: (source on disk, destination relative to the app root).
    pub data: Vec<(PathBuf, PathBuf)>,
    /// Directories of the user's hook files.
    pub hook_dirs: Vec<PathBuf>,
    /// Suite components (empty for a single executable).
    pub components: Vec<ComponentSettings>,
    /// `package-data`: package -> globs relative to its directory.
    pub package_data: std::collections::BTreeMap<String, Vec<String>>,
    /// A directory or one file.
    pub output: OutputMode,
    /// zstd level of a onefile payload.
    /// zstd level of a onefile payload; None chooses by payload size.
    pub compression_level: Option<i32>,
    /// What happens to optional integrations.
    pub optional_integrations: OptionalPolicy,
    /// `cpu-only`: GPU libraries nothing links, and triton, stay out.
    pub cpu_only: bool,
    /// The project's declared dependencies (`[project].dependencies`), if any.
    pub declared_dependencies: Option<Vec<String>>,
    /// Serve pure-Python modules from the module archive.
    pub archive: bool,
    /// The UPX program that compresses bundled native files (`upx` / `--upx`), if asked for.
    pub upx: Option<PathBuf>,
    /// The oldest glibc the bundle must run with (`min-glibc` / `--min-glibc`), and where it
    /// was set (the flag or the key).
    pub min_glibc: Option<GlibcFloor>,
    /// One component of a suite: the app tree's packages ship, but what only they import is
    /// not brought in for this component (each component carries what it imports).
    pub suite_component: bool,
    /// Also write a Debian package of the bundle.
    pub deb: Option<DebSettings>,
}

/// `min-glibc`: the oldest glibc a bundle must run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlibcFloor {
    /// (2, 28) for "2.28".
    pub version: (u32, u32),
    /// Where it was set: `--min-glibc` or the config key.
    pub key: String,
}

/// What `kiln build` writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputMode {
    /// `DIR/NAME/`: the executable beside its runtime directory.
    #[default]
    Onedir,
    /// `DIR/NAME`: one executable that unpacks its runtime into a per-user cache on first run.
    Onefile,
}

/// The default level for payloads up to [`STRONGEST_LEVEL_UP_TO`]. A onefile executable is
/// built to be shipped, but also rebuilt on every change: level 19 made the smallest files
/// (about 10% smaller than 12) at about 2 MB/s per core, so a 20 MB runtime took longer to
/// compress than PyInstaller takes to build its whole onefile; 12 compresses it in about a
/// second, and decompression is as fast from either. `--compression-level 19` still asks for
/// the smallest. Larger payloads get faster levels ([`auto_compression_level`]), so a
/// multi-gigabyte torch app builds in seconds rather than half an hour.
pub const DEFAULT_COMPRESSION_LEVEL: i32 = 12;

/// The largest payload the default level compresses at [`DEFAULT_COMPRESSION_LEVEL`].
pub const STRONGEST_LEVEL_UP_TO: u64 = 64 << 20;

/// The level for a payload of `bytes` when none is given: 12 up to 64 MiB, 10 up to 1 GiB,
/// 3 beyond.
pub fn auto_compression_level(bytes: u64) -> i32 {
    if bytes <= STRONGEST_LEVEL_UP_TO {
        DEFAULT_COMPRESSION_LEVEL
    } else if bytes <= 1 << 30 {
        10
    } else {
        3
    }
}

/// The longest bundle name: with `.build-report.json` or `-COMPONENT` it still fits a file name.
pub const MAX_NAME_LEN: usize = 200;
/// The longest component name (`NAME-COMPONENT` is a file name too).
pub const MAX_COMPONENT_LEN: usize = 50;

/// What every part of [`resolve_settings`] reads: the flags, the configuration, and the
/// directories paths are relative to.
struct Cx<'a> {
    args: &'a BuildArgs,
    config: &'a LoadedConfig,
    cwd: &'a Path,
    /// The configuration file's directory (or the current one).
    base: PathBuf,
    raw: &'a RawConfig,
}

impl Cx<'_> {
    /// A key as the user wrote it (`tool.kiln.` in front inside pyproject.toml).
    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.config.key_prefix)
    }
}

/// Merges flags over the config file.
pub fn resolve_settings(
    args: &BuildArgs,
    config: &LoadedConfig,
    cwd: &Path,
) -> Result<BuildSettings, ConfigError> {
    let scripted = project_entries(args, config)?;
    let config = scripted.as_ref().unwrap_or(config);
    let cx = Cx {
        args,
        config,
        cwd,
        base: config.base_dir(cwd),
        raw: &config.raw,
    };
    let (entry, app_dir, default_name) = entry_point(&cx)?;
    let name = bundle_name(&cx, default_name)?;
    let optimize = optimize_level(&cx)?;
    let (out_dir, python) = places(&cx)?;
    let mut rules = project_rules(&cx)?;
    let cpu_only = args.cpu_only || cx.raw.cpu_only.unwrap_or(false);
    if cpu_only && !rules.exclude.iter().any(|e| e == "triton") {
        // torch imports it only to compile GPU kernels, behind checks that it is there.
        rules.exclude.push("triton".into());
    }
    let data = data_entries(&cx)?;
    let hook_dirs = hook_dirs(&cx)?;
    let (output, compression_level) = output_mode(&cx)?;
    let upx = upx_program(&cx)?;
    let min_glibc = min_glibc(&cx)?;
    let components = components(&cx)?;
    let declared_dependencies = config
        .project_dependencies
        .clone()
        .or_else(|| requirements_file(&app_dir));
    let raw = cx.raw;
    let base = &cx.base;
    let name = if components.is_empty() || args.name.is_some() || raw.name.is_some() {
        name
    } else {
        config.project_name.clone().unwrap_or_else(|| {
            base.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string()
        })
    };
    Ok(BuildSettings {
        suite_component: false,
        components,
        entry,
        app_dir,
        python,
        name_given: args.name.is_some() || raw.name.is_some(),
        name,
        out_dir,
        optimize,
        strip: !args.no_strip && raw.strip.unwrap_or(true),
        config_path: config.path.clone(),
        rules,
        data,
        hook_dirs,
        package_data: raw.package_data.clone().unwrap_or_default(),
        output,
        compression_level,
        optional_integrations: raw.optional_integrations.unwrap_or_default(),
        cpu_only,
        declared_dependencies,
        archive: raw.archive.unwrap_or(true),
        upx,
        min_glibc,
        deb: None,
    })
    .and_then(|mut settings| {
        settings.deb = deb_settings(&cx, &settings)?;
        Ok(settings)
    })
}

/// The Debian package asked for by `--format deb` or the `deb` table, with its defaults filled
/// in from `[project]` and checked as Debian requires.
fn deb_settings(cx: &Cx<'_>, settings: &BuildSettings) -> Result<Option<DebSettings>, ConfigError> {
    let raw = match (&cx.raw.deb, cx.args.deb) {
        (Some(raw), _) => raw.clone(),
        (None, true) => RawDeb::default(),
        (None, false) => return Ok(None),
    };
    let key = |k: &str| cx.key(&format!("deb.{k}"));
    let meta = &cx.config.project_meta;
    if settings.output == OutputMode::Onefile {
        return Err(ConfigError::Value {
            key: if cx.args.deb {
                "--format".into()
            } else {
                cx.key("deb")
            },
            value: "deb".into(),
            message: "a Debian package holds a onedir bundle; build without `onefile`".into(),
        });
    }
    let package = raw
        .package
        .clone()
        .unwrap_or_else(|| settings.name.to_ascii_lowercase().replace('_', "-"));
    let valid_package = package.len() >= 2
        && package.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && package
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if !valid_package {
        return Err(ConfigError::Value {
            key: key("package"),
            value: format!("{package:?}"),
            message: "a Debian package name is two or more of a-z, 0-9, `+`, `-` and `.`, \
                      starting with a letter or digit"
                .into(),
        });
    }
    let version = raw
        .version
        .clone()
        .or_else(|| meta.version.clone())
        .unwrap_or_else(|| "0.1.0".into());
    let valid_version = version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~-:".contains(c));
    if !valid_version {
        return Err(ConfigError::Value {
            key: key("version"),
            value: format!("{version:?}"),
            message: "a Debian version starts with a digit and holds letters, digits and \
                      `.+~-:`"
                .into(),
        });
    }
    let one_line = |k: &str, v: &Option<String>| -> Result<(), ConfigError> {
        match v {
            Some(v) if v.contains('\n') => Err(ConfigError::Value {
                key: key(k),
                value: format!("{v:?}"),
                message: "must be one line".into(),
            }),
            _ => Ok(()),
        }
    };
    one_line("maintainer", &raw.maintainer)?;
    one_line("section", &raw.section)?;
    one_line("homepage", &raw.homepage)?;
    one_line("categories", &raw.categories)?;
    let icon = match &raw.icon {
        Some(icon) => {
            let path = cx.base.join(icon);
            let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
            if !path.is_file() || !matches!(ext.as_deref(), Some("png" | "svg")) {
                return Err(ConfigError::Value {
                    key: key("icon"),
                    value: format!("{icon:?}"),
                    message: format!("{} is not a .png or .svg file", path.display()),
                });
            }
            Some(path)
        }
        None => None,
    };
    Ok(Some(DebSettings {
        package,
        version,
        maintainer: raw
            .maintainer
            .clone()
            .or_else(|| meta.author.clone())
            .unwrap_or_else(|| "unknown <unknown@localhost>".into()),
        description: raw
            .description
            .clone()
            .or_else(|| meta.description.clone())
            .unwrap_or_else(|| format!("{} (frozen with kiln)", settings.name)),
        section: raw.section.clone().unwrap_or_else(|| "misc".into()),
        homepage: raw.homepage.clone().or_else(|| meta.homepage.clone()),
        depends: raw.depends.clone().unwrap_or_default(),
        desktop: raw.desktop.unwrap_or(meta.gui || icon.is_some()),
        icon,
        categories: raw.categories.clone().unwrap_or_else(|| "Utility;".into()),
        gui: meta.gui,
    }))
}

/// A project frozen as it is installed: with no entry given anywhere, the scripts of
/// `[project.scripts]` and `[project.gui-scripts]` are the entries. One script is the app,
/// named after it; several are a suite with one component per script.
fn project_entries(
    args: &BuildArgs,
    config: &LoadedConfig,
) -> Result<Option<LoadedConfig>, ConfigError> {
    let raw = &config.raw;
    let no_entry = args.entry.is_none()
        && args.module.is_none()
        && raw.entry.is_none()
        && raw.module.is_none()
        && raw.components.is_none();
    if !no_entry || config.project_scripts.is_empty() {
        return Ok(None);
    }
    let mut entries = Vec::new();
    for (script, target) in &config.project_scripts {
        // `module:function`, perhaps followed by extras (`[cli]`) in old metadata.
        let target = target.split_whitespace().next().unwrap_or("");
        let valid = target.split_once(':').is_some_and(|(module, function)| {
            crate::hooks::is_dotted_name(module) && crate::hooks::is_dotted_name(function)
        });
        if !valid {
            return Err(ConfigError::Value {
                key: format!("project.scripts.{script}"),
                value: format!("{target:?}"),
                message: "a script kiln can freeze names `module:function`".into(),
            });
        }
        entries.push((script.clone(), target.to_string()));
    }
    let mut scripted = config.clone();
    if let [(script, target)] = entries.as_slice() {
        scripted.raw.module = Some(target.clone());
        scripted.raw.name = raw.name.clone().or_else(|| Some(script.clone()));
    } else {
        let components = entries
            .into_iter()
            .map(|(script, target)| {
                let component = RawComponent {
                    module: Some(target),
                    ..RawComponent::default()
                };
                (script, component)
            })
            .collect();
        scripted.raw.components = Some(components);
    }
    Ok(Some(scripted))
}

/// The requirements a `requirements.txt` in the app's directory names, as PEP 508 strings:
/// pip's options, includes, editable and URL lines name no distribution by itself and are
/// skipped. None when there is no such file (or it names nothing).
fn requirements_file(app_dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(app_dir.join("requirements.txt")).ok()?;
    let found: Vec<String> = text
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim())
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('#')
                && !l.starts_with('-')
                && !l.starts_with('.')
                && !l.starts_with('/')
                && (!l.contains("://") || l.contains(" @ "))
        })
        .map(str::to_string)
        .collect();
    (!found.is_empty()).then_some(found)
}

fn entry_point(cx: &Cx<'_>) -> Result<(EntryPoint, PathBuf, String), ConfigError> {
    let args = cx.args;
    let cwd = cx.cwd;
    let base = &cx.base;
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let (script, module) = match (&args.entry, &args.module) {
        (Some(_), Some(_)) => return Err(ConfigError::TwoEntries),
        (Some(e), None) => (Some(cwd.join(e)), None),
        (None, Some(m)) => (None, Some(m.clone())),
        (None, None) => match (&raw.entry, &raw.module) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoEntries),
            (Some(e), None) => (Some(base.join(e)), None),
            (None, Some(m)) => (None, Some(m.clone())),
            // A suite without a main entry: the first component stands in until the
            // components are resolved below.
            (None, None) => match raw.components.as_ref().and_then(|c| c.iter().next()) {
                Some((name, first)) if first.entry.is_none() == first.module.is_none() => {
                    return Err(ConfigError::Value {
                        key: key(&format!("components.{name}.entry")),
                        value: "(none)".into(),
                        message: "each component needs exactly one of `entry` or `module`".into(),
                    })
                }
                Some((_, first)) => (
                    first.entry.as_ref().map(|e| base.join(e)),
                    first.module.clone(),
                ),
                None => return Err(ConfigError::NoEntry),
            },
        },
    };
    let (entry, app_dir, default_name) = match (script, module) {
        (Some(script), _) => {
            match std::fs::metadata(&script) {
                Ok(m) if m.is_file() => {}
                Ok(m) => {
                    let what = if m.is_dir() {
                        "a directory; give the script inside it, or `-m PACKAGE` for a package \
                         with a __main__.py"
                    } else {
                        "not a regular file (a device, fifo or socket); give a Python script"
                    };
                    return Err(ConfigError::EntryNotScript(script, what));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ConfigError::EntryMissing(script));
                }
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: script,
                        source,
                    })
                }
            }
            let script = std::fs::canonicalize(&script).map_err(|source| ConfigError::Read {
                path: script.clone(),
                source,
            })?;
            let dir = script.parent().unwrap_or(Path::new("/")).to_path_buf();
            let stem = script
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            (EntryPoint::Script(script), dir, stem)
        }
        (None, Some(module)) => {
            // `pkg.cli:main` calls a function, as a console-script entry point does.
            let (module_name, attr) = match module.split_once(':') {
                Some((m, a)) => (m.to_string(), Some(a.to_string())),
                None => (module.clone(), None),
            };
            if !crate::hooks::is_dotted_name(&module_name)
                || attr
                    .as_deref()
                    .is_some_and(|a| !crate::hooks::is_dotted_name(a))
            {
                return Err(ConfigError::Value {
                    key: if args.module.is_some() {
                        "-m".into()
                    } else {
                        key("module")
                    },
                    value: format!("{module:?}"),
                    message: "not a dotted module name (or `module:function`)".into(),
                });
            }
            let name = match &attr {
                Some(_) => module_name
                    .split('.')
                    .next()
                    .unwrap_or(&module_name)
                    .to_string(),
                None => {
                    let last = module_name
                        .rsplit('.')
                        .next()
                        .unwrap_or(&module_name)
                        .to_string();
                    if last == "__main__" {
                        module_name
                            .split('.')
                            .next()
                            .unwrap_or(&module_name)
                            .to_string()
                    } else {
                        last
                    }
                }
            };
            let entry = match attr {
                Some(attr) => EntryPoint::Call {
                    module: module_name,
                    function: attr,
                },
                None => EntryPoint::Module(module_name),
            };
            (entry, base.clone(), name)
        }
        (None, None) => return Err(ConfigError::NoEntry),
    };
    Ok((entry, app_dir, default_name))
}

fn bundle_name(cx: &Cx<'_>, default_name: String) -> Result<String, ConfigError> {
    let args = cx.args;
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let name = args
        .name
        .clone()
        .or_else(|| raw.name.clone())
        .unwrap_or(default_name.to_string());
    let name_key = if args.name.is_some() {
        "--name".to_string()
    } else {
        key("name")
    };
    if name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\0'])
        || name.chars().any(char::is_control)
        || name == "python"
    {
        return Err(ConfigError::Value {
            key: name_key,
            value: format!("{name:?}"),
            message: "must be a plain file name (not empty, no `/`, no control characters such \
                      as newlines or tabs, not starting with `.`, not `python`)"
                .into(),
        });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ConfigError::Value {
            key: name_key,
            value: format!("{} bytes", name.len()),
            message: format!(
                "is too long: at most {MAX_NAME_LEN} bytes, so that `NAME.build-report.json` \
                 and the suite launchers `NAME-COMPONENT` fit the 255-byte limit of a file name"
            ),
        });
    }
    Ok(name)
}

fn optimize_level(cx: &Cx<'_>) -> Result<u8, ConfigError> {
    let args = cx.args;
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let optimize = args.optimize.or(raw.optimize).unwrap_or(0);
    if optimize > 2 {
        return Err(ConfigError::Value {
            key: if args.optimize.is_some() {
                "--optimize".into()
            } else {
                key("optimize")
            },
            value: optimize.to_string(),
            message: "must be 0, 1 or 2".into(),
        });
    }
    Ok(optimize)
}

fn places(cx: &Cx<'_>) -> Result<(PathBuf, Option<PathBuf>), ConfigError> {
    let args = cx.args;
    let cwd = cx.cwd;
    let base = &cx.base;
    let raw = cx.raw;
    let out_dir = match (&args.out, &raw.out) {
        (Some(o), _) => cwd.join(o),
        (None, Some(o)) => base.join(o),
        (None, None) => cwd.join("dist"),
    };
    let python = match (&args.python, &raw.python) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) if p.contains('/') => Some(base.join(p)),
        (None, Some(p)) => Some(PathBuf::from(p)),
        (None, None) => None,
    };
    Ok((out_dir, python))
}

fn project_rules(cx: &Cx<'_>) -> Result<crate::hooks::Hook, ConfigError> {
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let mut bytecode = crate::hooks::BytecodeRules {
        keep_source: raw.keep_source.clone().unwrap_or_default(),
        ..Default::default()
    };
    for (name, &level) in raw.optimize_packages.iter().flatten() {
        if !crate::hooks::is_dotted_name(name) {
            return Err(ConfigError::Value {
                key: key("optimize-packages"),
                value: format!("{name:?}"),
                message: "not a dotted module name".into(),
            });
        }
        let level = u8::try_from(level)
            .ok()
            .filter(|l| *l <= 2)
            .ok_or_else(|| ConfigError::Value {
                key: key(&format!("optimize-packages.{name}")),
                value: level.to_string(),
                message: "must be 0, 1 or 2".into(),
            })?;
        bytecode.optimize.insert(name.clone(), level);
    }
    if let Some(bad) = cx
        .args
        .hidden_imports
        .iter()
        .find(|n| !crate::hooks::is_dotted_name(n))
    {
        return Err(ConfigError::Value {
            key: "--hidden-import".into(),
            value: format!("{bad:?}"),
            message: "not a dotted module name".into(),
        });
    }
    let mut hidden_imports = raw.hidden_imports.clone().unwrap_or_default();
    hidden_imports.extend(cx.args.hidden_imports.iter().cloned());
    let rules = crate::hooks::Hook {
        module: "__main__".into(),
        hidden_imports,
        collect: raw.collect.clone().unwrap_or_default(),
        exclude: raw.exclude.clone().unwrap_or_default(),
        bytecode,
        ..Default::default()
    };
    for (k, names) in [
        ("hidden-imports", &rules.hidden_imports),
        ("collect", &rules.collect),
        ("exclude", &rules.exclude),
        ("keep-source", &rules.bytecode.keep_source),
    ] {
        if let Some(bad) = names.iter().find(|n| !crate::hooks::is_dotted_name(n)) {
            return Err(ConfigError::Value {
                key: key(k),
                value: format!("{bad:?}"),
                message: "not a dotted module name".into(),
            });
        }
    }
    Ok(rules)
}

fn data_entries(cx: &Cx<'_>) -> Result<Vec<(PathBuf, PathBuf)>, ConfigError> {
    let base = &cx.base;
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let mut data = Vec::new();
    for spec in raw.data.iter().flatten() {
        let src = base.join(&spec.src);
        if !src.exists() {
            return Err(ConfigError::Value {
                key: key("data"),
                value: format!("{{ src = {:?} }}", spec.src),
                message: format!("{} does not exist", src.display()),
            });
        }
        let dest = match &spec.dest {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(src.file_name().unwrap_or_default()),
        };
        if dest.is_absolute()
            || dest
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(ConfigError::Value {
                key: key("data"),
                value: format!("{{ dest = {:?} }}", dest.display().to_string()),
                message: "must be a relative path inside the bundle".into(),
            });
        }
        data.push((src, dest));
    }
    Ok(data)
}

fn hook_dirs(cx: &Cx<'_>) -> Result<Vec<PathBuf>, ConfigError> {
    let base = &cx.base;
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let hook_dirs: Vec<PathBuf> = raw
        .hook_dirs
        .iter()
        .flatten()
        .map(|d| base.join(d))
        .collect();
    if let Some(missing) = hook_dirs.iter().find(|d| !d.is_dir()) {
        return Err(ConfigError::Value {
            key: key("hook-dirs"),
            value: format!("{:?}", missing.display().to_string()),
            message: "is not a directory".into(),
        });
    }
    Ok(hook_dirs)
}

fn output_mode(cx: &Cx<'_>) -> Result<(OutputMode, Option<i32>), ConfigError> {
    let args = cx.args;
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let output = match args.onefile.or(raw.onefile) {
        Some(true) => OutputMode::Onefile,
        _ => OutputMode::Onedir,
    };
    let compression_level = args.compression_level.or(raw.compression_level);
    if let Some(compression_level) = compression_level.filter(|l| !(1..=19).contains(l)) {
        return Err(ConfigError::Value {
            key: if args.compression_level.is_some() {
                "--compression-level".into()
            } else {
                key("compression-level")
            },
            value: compression_level.to_string(),
            message: "must be from 1 (fastest) to 19 (smallest)".into(),
        });
    }
    Ok((output, compression_level))
}

fn min_glibc(cx: &Cx<'_>) -> Result<Option<GlibcFloor>, ConfigError> {
    let (value, key) = match (&cx.args.min_glibc, &cx.raw.min_glibc) {
        (Some(v), _) => (v.clone(), "--min-glibc".to_string()),
        (None, Some(v)) => (v.clone(), cx.key("min-glibc")),
        (None, None) => return Ok(None),
    };
    let parsed = value
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .filter(|(major, _)| *major == 2);
    match parsed {
        Some(version) => Ok(Some(GlibcFloor { version, key })),
        None => Err(ConfigError::Value {
            key,
            value: format!("{value:?}"),
            message: "a glibc version such as \"2.28\"".into(),
        }),
    }
}

fn upx_program(cx: &Cx<'_>) -> Result<Option<PathBuf>, ConfigError> {
    let args = cx.args;
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let upx = match (args.upx, raw.upx) {
        (true, _) => Some("--upx".to_string()),
        (false, Some(true)) => Some(key("upx")),
        _ => None,
    };
    let upx = match upx {
        Some(asked_by) => Some(locate_upx(&asked_by, std::env::var_os("PATH").as_deref())?),
        None => None,
    };
    Ok(upx)
}

fn components(cx: &Cx<'_>) -> Result<Vec<ComponentSettings>, ConfigError> {
    let config = cx.config;
    let cwd = cx.cwd;
    let base = &cx.base;
    let raw = cx.raw;
    let key = |k: &str| cx.key(k);
    let mut components = Vec::new();
    for (component, rc) in raw.components.iter().flatten() {
        let ckey = |k: &str| key(&format!("components.{component}.{k}"));
        let valid = !component.is_empty()
            && component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && component != "*"
            && component.len() <= MAX_COMPONENT_LEN;
        if !valid {
            return Err(ConfigError::Value {
                key: key(&format!("components.{component}")),
                value: format!("{component:?}"),
                message: format!(
                    "a component name uses letters, digits, `-` and `_`, at most \
                     {MAX_COMPONENT_LEN} of them"
                ),
            });
        }
        if rc.entry.is_none() == rc.module.is_none() {
            return Err(ConfigError::Value {
                key: ckey("entry"),
                value: "(none)".into(),
                message: "each component needs exactly one of `entry` or `module`".into(),
            });
        }
        let sub_args = BuildArgs {
            entry: rc.entry.as_ref().map(|e| base.join(e)),
            module: rc.module.clone(),
            ..Default::default()
        };
        let sub_config = LoadedConfig {
            raw: RawConfig {
                components: None,
                entry: None,
                module: None,
                name: Some(component.clone()),
                ..raw.clone()
            },
            path: config.path.clone(),
            key_prefix: config.key_prefix,
            project_name: None,
            project_dependencies: None,
            project_scripts: Default::default(),
            project_meta: ProjectMeta::default(),
        };
        let resolved = resolve_settings(&sub_args, &sub_config, cwd)?;
        let rules = crate::hooks::Hook {
            module: "__main__".into(),
            hidden_imports: rc.hidden_imports.clone().unwrap_or_default(),
            collect: rc.collect.clone().unwrap_or_default(),
            exclude: rc.exclude.clone().unwrap_or_default(),
            ..Default::default()
        };
        components.push(ComponentSettings {
            name: component.clone(),
            entry: resolved.entry,
            app_dir: resolved.app_dir,
            rules,
        });
    }
    Ok(components)
}

/// The settings of `kiln build --component NAME`: that component of the suite alone, built as
/// a single app named after it (unless a name was given), with the suite's settings and the
/// component's own `hidden-imports`, `collect` and `exclude`.
pub fn only_component(settings: BuildSettings, name: &str) -> Result<BuildSettings, ConfigError> {
    let Some(component) = settings.components.iter().find(|c| c.name == name).cloned() else {
        let known: Vec<String> = settings
            .components
            .iter()
            .map(|c| format!("`{}`", c.name))
            .collect();
        return Err(ConfigError::Value {
            key: "--component".into(),
            value: format!("{name:?}"),
            message: if known.is_empty() {
                "the configuration defines no components".into()
            } else {
                format!("no such component; the suite has {}", known.join(", "))
            },
        });
    };
    let mut rules = settings.rules.clone();
    rules.hidden_imports.extend(component.rules.hidden_imports);
    rules.collect.extend(component.rules.collect);
    rules.exclude.extend(component.rules.exclude);
    let name = if settings.name_given {
        settings.name.clone()
    } else {
        component.name.clone()
    };
    Ok(BuildSettings {
        suite_component: false,
        entry: component.entry,
        app_dir: component.app_dir,
        rules,
        name,
        components: Vec::new(),
        ..settings
    })
}

/// The UPX program on `path` (a `PATH` value), for the setting `asked_by` (`--upx`, `upx`).
pub fn locate_upx(asked_by: &str, path: Option<&std::ffi::OsStr>) -> Result<PathBuf, ConfigError> {
    find_program(&["upx", "upx-ucl"], path).ok_or_else(|| ConfigError::Value {
        key: asked_by.to_string(),
        value: "true".into(),
        message: "needs the `upx` program, which is not on PATH; install UPX (the `upx` or \
                  `upx-ucl` package) or leave UPX off"
            .into(),
    })
}

/// The first of `names` that is an executable file in a directory of `path`.
fn find_program(names: &[&str], path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dirs: Vec<PathBuf> = std::env::split_paths(path?).collect();
    names.iter().find_map(|name| {
        dirs.iter()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join(name))
            .find(|p| {
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    })
}

#[cfg(test)]
mod tests {
    /// The README's configuration example uses only keys the code knows, with their types.
    #[test]
    fn the_readme_configuration_example_parses() {
        let readme = include_str!("../../../README.md");
        let section = &readme[readme.find("### Configuration").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let parsed: Result<RawConfig, _> = toml::from_str(example);
        assert!(parsed.is_ok(), "{parsed:?}\n{example}");
    }

    use super::*;

    #[test]
    fn onefile_and_compression_level() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "tool.py", "");
        let loaded = |text: &str| LoadedConfig {
            raw: toml::from_str(text).unwrap(),
            path: Some(tmp.path().join("kiln.toml")),
            key_prefix: "",
            project_name: None,
            project_dependencies: None,
            project_scripts: Default::default(),
            project_meta: Default::default(),
        };
        let none = BuildArgs::default();
        let s = resolve_settings(&none, &loaded("entry = \"tool.py\""), tmp.path()).unwrap();
        assert_eq!(s.output, OutputMode::Onedir);
        assert_eq!(s.compression_level, None);
        assert_eq!(auto_compression_level(1 << 20), DEFAULT_COMPRESSION_LEVEL);
        assert_eq!(auto_compression_level(300 << 20), 10);
        assert_eq!(auto_compression_level(3 << 30), 3);

        let file = loaded("entry = \"tool.py\"\nonefile = true\ncompression-level = 3");
        let s = resolve_settings(&none, &file, tmp.path()).unwrap();
        assert_eq!(
            (s.output, s.compression_level),
            (OutputMode::Onefile, Some(3))
        );
        let flags = BuildArgs {
            compression_level: Some(19),
            ..Default::default()
        };
        assert_eq!(
            resolve_settings(&flags, &file, tmp.path())
                .unwrap()
                .compression_level,
            Some(19)
        );

        let err = resolve_settings(
            &none,
            &loaded("entry = \"tool.py\"\ncompression-level = 0"),
            tmp.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`compression-level` = 0"), "{err}");
        let flags = BuildArgs {
            compression_level: Some(23),
            ..Default::default()
        };
        let err = resolve_settings(&flags, &file, tmp.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`--compression-level` = 23"), "{err}");
    }

    #[test]
    fn optimize_packages_and_keep_source_are_validated() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "tool.py", "");
        let resolve = |prefix: &'static str, text: &str| {
            let loaded = LoadedConfig {
                raw: toml::from_str(text).unwrap(),
                path: Some(tmp.path().join("kiln.toml")),
                key_prefix: prefix,
                project_name: None,
                project_dependencies: None,
                project_scripts: Default::default(),
                project_meta: Default::default(),
            };
            resolve_settings(&BuildArgs::default(), &loaded, tmp.path())
        };
        let s = resolve(
            "",
            "entry = \"tool.py\"\noptimize = 1\n\
             optimize-packages = { mypkg = 2, \"numpy.linalg\" = 0 }\n\
             keep-source = [\"mypkg.models\", \"torch\"]\n",
        )
        .unwrap();
        assert_eq!(s.optimize, 1);
        let expected: std::collections::BTreeMap<String, u8> =
            [("mypkg".to_string(), 2), ("numpy.linalg".to_string(), 0)].into();
        assert_eq!(s.rules.bytecode.optimize, expected);
        assert_eq!(s.rules.bytecode.keep_source, ["mypkg.models", "torch"]);

        for (text, wanted) in [
            (
                "optimize-packages = { mypkg = 3 }",
                "`optimize-packages.mypkg` = 3: must be 0, 1 or 2",
            ),
            (
                "optimize-packages = { mypkg = -1 }",
                "`optimize-packages.mypkg` = -1: must be 0, 1 or 2",
            ),
            (
                "optimize-packages = { \"my-pkg\" = 1 }",
                "`optimize-packages` = \"my-pkg\": not a dotted module name",
            ),
            (
                "keep-source = [\"torch\", \"a..b\"]",
                "`keep-source` = \"a..b\": not a dotted module name",
            ),
        ] {
            let err = resolve("", &format!("entry = \"tool.py\"\n{text}"))
                .unwrap_err()
                .to_string();
            assert_eq!(err, wanted);
        }
        let err = resolve(
            "tool.kiln.",
            "entry = \"tool.py\"\noptimize-packages = { mypkg = 7 }",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("`tool.kiln.optimize-packages.mypkg` = 7"),
            "{err}"
        );

        let p = write(tmp.path(), "typo.toml", "optimise-packages = { a = 1 }\n");
        let err = load(&p).unwrap_err().to_string();
        assert!(err.contains("did you mean `optimize-packages`?"), "{err}");
    }

    #[test]
    fn upx_needs_the_program_and_names_what_asked_for_it() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty");
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&empty).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let err = locate_upx("--upx", Some(empty.as_os_str()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`--upx` = true: needs the `upx` program, which is not on PATH"),
            "{err}"
        );
        let err = locate_upx("tool.kiln.upx", None).unwrap_err().to_string();
        assert!(err.starts_with("`tool.kiln.upx` = true"), "{err}");

        // Not executable: not a program.
        let upx = write(&bin, "upx", "#!/bin/sh\n");
        assert!(locate_upx("upx", Some(bin.as_os_str())).is_err());
        std::fs::set_permissions(&upx, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&empty, &bin]).unwrap();
        assert_eq!(locate_upx("upx", Some(&path)).unwrap(), upx);

        // Through resolve_settings: the key as written, and off by default.
        write(tmp.path(), "tool.py", "");
        let loaded = |text: &str| LoadedConfig {
            raw: toml::from_str(text).unwrap(),
            path: Some(tmp.path().join("kiln.toml")),
            key_prefix: "",
            project_name: None,
            project_dependencies: None,
            project_scripts: Default::default(),
            project_meta: Default::default(),
        };
        let off = resolve_settings(
            &BuildArgs::default(),
            &loaded("entry = \"tool.py\""),
            tmp.path(),
        )
        .unwrap();
        assert_eq!(off.upx, None);
        let on = resolve_settings(
            &BuildArgs::default(),
            &loaded("entry = \"tool.py\"\nupx = true"),
            tmp.path(),
        );
        let on_path = find_program(&["upx", "upx-ucl"], std::env::var_os("PATH").as_deref());
        match on_path {
            Some(found) => assert_eq!(on.unwrap().upx, Some(found)),
            None => assert!(on.unwrap_err().to_string().starts_with("`upx` = true")),
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn unknown_keys_name_the_key_line_and_suggestion() {
        let tmp = tempfile::tempdir().unwrap();
        let p = write(
            tmp.path(),
            "kiln.toml",
            "name = \"x\"\nentyr = \"main.py\"\n",
        );
        let err = load(&p).unwrap_err().to_string();
        assert!(err.contains("kiln.toml:2:"), "{err}");
        assert!(
            err.contains("unknown key `entyr`; did you mean `entry`?"),
            "{err}"
        );

        let p = write(
            tmp.path(),
            "pyproject.toml",
            "[project]\nname = \"app\"\n\n[tool.kiln]\npyton = \"python3\"\n",
        );
        let err = load(&p).unwrap_err().to_string();
        assert!(err.contains("pyproject.toml:5:"), "{err}");
        assert!(
            err.contains("`tool.kiln.pyton`; did you mean `tool.kiln.python`?"),
            "{err}"
        );

        let p = write(tmp.path(), "bad.toml", "zzzzzz = 1\n");
        let err = load(&p).unwrap_err().to_string();
        assert!(err.contains("valid keys are"), "{err}");
    }

    #[test]
    fn flags_win_over_the_file_and_paths_are_relative_to_it() {
        let tmp = tempfile::tempdir().unwrap();
        let proj = tmp.path().join("proj");
        std::fs::create_dir_all(&proj).unwrap();
        write(&proj, "main.py", "");
        write(&proj, "other.py", "");
        let cfg = write(
            &proj,
            "kiln.toml",
            "entry = \"main.py\"\nname = \"fromfile\"\nout = \"build\"\n",
        );
        let loaded = load(&cfg).unwrap();
        let s = resolve_settings(&BuildArgs::default(), &loaded, tmp.path()).unwrap();
        assert_eq!(s.name, "fromfile");
        assert_eq!(s.out_dir, proj.join("build"));
        assert!(matches!(&s.entry, EntryPoint::Script(p) if p.ends_with("proj/main.py")));

        let args = BuildArgs {
            entry: Some("proj/other.py".into()),
            name: Some("flag".into()),
            ..Default::default()
        };
        let s = resolve_settings(&args, &loaded, tmp.path()).unwrap();
        assert_eq!(s.name, "flag");
        assert!(matches!(&s.entry, EntryPoint::Script(p) if p.ends_with("other.py")));
    }

    #[test]
    fn zero_config_and_bad_values() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "tool.py", "");
        let args = BuildArgs {
            entry: Some("tool.py".into()),
            ..Default::default()
        };
        let s = resolve_settings(&args, &LoadedConfig::default(), tmp.path()).unwrap();
        assert_eq!(s.name, "tool");
        assert_eq!(s.out_dir, tmp.path().join("dist"));

        let args = BuildArgs {
            module: Some("pkg.cli".into()),
            ..Default::default()
        };
        let s = resolve_settings(&args, &LoadedConfig::default(), tmp.path()).unwrap();
        assert_eq!(s.name, "cli");

        let bad = BuildArgs {
            module: Some("pkg..x".into()),
            ..Default::default()
        };
        assert!(resolve_settings(&bad, &LoadedConfig::default(), tmp.path()).is_err());
        let missing = BuildArgs {
            entry: Some("nope.py".into()),
            ..Default::default()
        };
        let err = resolve_settings(&missing, &LoadedConfig::default(), tmp.path()).unwrap_err();
        assert!(err.to_string().contains("nope.py"));
        assert!(matches!(
            resolve_settings(&BuildArgs::default(), &LoadedConfig::default(), tmp.path()),
            Err(ConfigError::NoEntry)
        ));
        let loaded = LoadedConfig {
            raw: RawConfig {
                entry: Some("tool.py".into()),
                optimize: Some(3),
                ..Default::default()
            },
            path: Some(tmp.path().join("kiln.toml")),
            key_prefix: "",
            project_name: None,
            project_dependencies: None,
            project_scripts: Default::default(),
            project_meta: Default::default(),
        };
        let err = resolve_settings(&BuildArgs::default(), &loaded, tmp.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`optimize` = 3"), "{err}");
    }
}
