//! `kiln build` from resolved settings to a written bundle: runs the stages in order and
//! gathers what the summary and reports show.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::collect::{self, CollectInput, Collection, FileRole};
use crate::config::{BuildSettings, OptionalPolicy, OutputMode};
use crate::interpreter::Interpreter;
use crate::report::{BuildSummary, MissingImport};
use crate::resolve::{self, ModuleGraph, Origin, ResolveInput, ResolveProgress};
use crate::write;

/// The stages of a build, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Interpreter,
    Analyse,
    Collect,
    Write,
}

impl Stage {
    /// Its name in timings and reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Interpreter => "interpreter",
            Stage::Analyse => "analyse",
            Stage::Collect => "collect",
            Stage::Write => "write",
        }
    }

    /// What the stage is doing, for a progress line.
    pub fn doing(self) -> &'static str {
        match self {
            Stage::Interpreter => "asking the interpreter",
            Stage::Analyse => "analysing imports",
            Stage::Collect => "collecting files and compiling bytecode",
            Stage::Write => "writing the bundle",
        }
    }
}

/// Progress of a build, reported to whoever drives it (the CLI draws it).
pub trait Progress: ResolveProgress {
    fn stage(&self, stage: Stage);
}

impl Progress for () {
    fn stage(&self, _: Stage) {}
}

/// Errors that stop a build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Interpreter(#[from] crate::interpreter::InterpreterError),
    #[error(transparent)]
    Resolve(#[from] resolve::ResolveError),
    #[error(transparent)]
    Collect(#[from] collect::CollectError),
    #[error(transparent)]
    Write(#[from] write::WriteError),
    #[error("the app imports modules that are not installed in {python}:\n{}", list.join("\n"))]
    Unresolved { python: PathBuf, list: Vec<String> },
    #[error(transparent)]
    Hooks(#[from] crate::hooks::HookError),
    #[error("component `{component}` reaches modules it excludes:\n{}", list.join("\n"))]
    ExcludedReached {
        component: String,
        list: Vec<String>,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error(
        "the bundle would need a newer glibc than {}.{} (`{key}`):\n{}",
        floor.0,
        floor.1,
        list.join("\n")
    )]
    GlibcFloor {
        floor: (u32, u32),
        key: String,
        list: Vec<String>,
    },
    #[error(
        "entry point `{module}:{function}`: {module} ({}) binds no `{name}` at its top level; \
         name a function it defines",
        file.display()
    )]
    EntryAttribute {
        module: String,
        function: String,
        name: String,
        file: PathBuf,
    },
    #[error("cannot create a working directory")]
    WorkDir(#[source] std::io::Error),
    #[error(transparent)]
    Deb(#[from] write::deb::DebError),
    #[error(transparent)]
    Report(#[from] crate::report::build_report::ReportError),
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
}

pub use crate::plan::ComponentBuild;
pub use crate::resolve::facts::{count_modules, fatal_missing, missing_imports, Analysis};

/// Finds and asks the target interpreter, once per command.
pub fn interpreter(
    settings: &BuildSettings,
    progress: &dyn Progress,
) -> Result<(Interpreter, f64), BuildError> {
    let t = Instant::now();
    progress.stage(Stage::Interpreter);
    let python = Interpreter::locate(settings.python.as_deref())?;
    let interpreter = Interpreter::query_cached(&python, &cache_dir().join("interpreter"))?;
    Ok((interpreter, t.elapsed().as_secs_f64()))
}

/// Queries the interpreter and resolves the module graph.
pub fn analyse(settings: &BuildSettings, progress: &dyn Progress) -> Result<Analysis, BuildError> {
    let (interpreter, seconds) = interpreter(settings, progress)?;
    let mut analysis = analyse_with(settings, &interpreter, progress)?;
    analysis
        .timings
        .insert(0, (Stage::Interpreter.name().to_string(), seconds));
    Ok(analysis)
}

/// Resolves the module graph of `settings.entry` for an interpreter already asked.
pub fn analyse_with(
    settings: &BuildSettings,
    interpreter: &Interpreter,
    progress: &dyn Progress,
) -> Result<Analysis, BuildError> {
    let mut timings = Vec::new();
    let t = Instant::now();
    progress.stage(Stage::Analyse);
    let mut hooks = crate::hooks::load(&settings.hook_dirs)?;
    // `package-data` works as a hook of the configuration for each package it names.
    hooks.extend(
        settings
            .package_data
            .iter()
            .map(|(module, globs)| crate::hooks::LoadedHook {
                hook: crate::hooks::Hook {
                    module: module.clone(),
                    data: globs.clone(),
                    ..Default::default()
                },
                source: crate::hooks::HookSource::Config,
            }),
    );
    // The kiln binary itself is part of the key: another build of kiln may analyse differently.
    let kiln_build = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| format!("{}-{:?}", m.len(), m.modified().ok()))
        .unwrap_or_default();
    let cache_key = blake3::hash(
        format!(
            "{}|{kiln_build}|{}|{}",
            env!("CARGO_PKG_VERSION"),
            interpreter.executable.display(),
            interpreter.magic
        )
        .as_bytes(),
    );
    let trace = crate::trace::load(settings)?;
    let introspect_cache = cache_dir().join("introspect");
    let analysis_cache = resolve::cache::AnalysisCache::load(
        cache_dir()
            .join("analysis")
            .join(format!("{}.bin", &cache_key.to_hex()[..32])),
    );
    let finder = resolve::Finder::new(
        &interpreter.extension_suffixes,
        &interpreter.source_suffixes,
        &interpreter.bytecode_suffixes,
    );
    let input = ResolveInput {
        interpreter,
        entry: &settings.entry,
        app_dir: &settings.app_dir,
        extra_roots: &[],
        hooks: &hooks,
        rules: &settings.rules,
        cache: &analysis_cache,
        trace: trace.as_ref(),
        introspect: Some(&introspect_cache),
        finder: Some(&finder),
        optional: None,
    };
    let skip = match settings.optional_integrations {
        OptionalPolicy::Include => false,
        OptionalPolicy::Skip => true,
        OptionalPolicy::Auto => true,
    };
    // Distributions left out are not read past the modules something imports of them.
    let input = ResolveInput {
        optional: skip.then_some(resolve::OptionalScope {
            declared: settings.declared_dependencies.as_deref(),
            tree_is_evidence: !settings.suite_component,
        }),
        ..input
    };
    let mut graph = resolve::resolve(&input, progress)?;
    check_entry_attribute(&settings.entry, &graph)?;
    let mut optional = resolve::optional::find(
        &graph,
        settings.declared_dependencies.as_deref(),
        !settings.suite_component,
    );
    let mut skipped = false;
    if skip && !optional.is_empty() {
        // Resolve again with their outermost modules excluded: imports of them become
        // `excluded` and nothing they alone reach is collected.
        let mut rules = settings.rules.clone();
        rules
            .exclude
            .extend(optional.iter().flat_map(|o| o.roots.iter().cloned()));
        let input = ResolveInput {
            rules: &rules,
            ..input
        };
        graph = resolve::resolve(&input, progress)?;
        skipped = true;
    }
    // A cache that cannot be written only costs speed next time.
    let _ = analysis_cache.save();
    // Freeing a developer's venv worth of entries is a few percent of a warm run: a thread
    // does it while the build goes on, or the process exits first.
    std::thread::spawn(move || drop(analysis_cache));
    timings.push((Stage::Analyse.name().to_string(), t.elapsed().as_secs_f64()));
    for o in &mut optional {
        o.skipped = skipped;
    }
    Ok(Analysis {
        interpreter: interpreter.clone(),
        graph,
        optional,
        timings,
    })
}

/// A `module:function` entry must name something the module binds; checked in its source
/// (a module that binds names only at run time, or has no source, is taken on trust).
fn check_entry_attribute(
    entry: &resolve::EntryPoint,
    graph: &ModuleGraph,
) -> Result<(), BuildError> {
    let resolve::EntryPoint::Call { module, function } = entry else {
        return Ok(());
    };
    let Some(file) = graph.get(module).and_then(|id| graph.modules[id].file()) else {
        return Ok(());
    };
    if file.extension().is_none_or(|x| x != "py") {
        return Ok(());
    }
    let Ok(source) = std::fs::read(file) else {
        return Ok(());
    };
    let name = function.split('.').next().unwrap_or(function);
    match crate::analyse::names::top_level_names(&String::from_utf8_lossy(&source)) {
        Some(names) if !names.contains(name) => Err(BuildError::EntryAttribute {
            module: module.clone(),
            function: function.clone(),
            name: name.to_string(),
            file: file.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Refuses, before anything is collected, an output that would replace what kiln did not write
/// or that holds the app's sources or the interpreter (`write::guard`); the same rule for the
/// reports written beside the bundle.
pub fn check_outputs(
    settings: &BuildSettings,
    interpreter: &Interpreter,
    graphs: &[&ModuleGraph],
) -> Result<(), BuildError> {
    use crate::write::guard::{self, Protected};
    let mut protected = vec![
        Protected::new(&settings.app_dir, "the app's directory", false),
        Protected::new(&interpreter.executable, "the target interpreter", false),
        Protected::new(
            &interpreter.base_executable,
            "the target interpreter",
            false,
        ),
    ];
    // A venv or a private installation is the interpreter's alone; of a system-wide prefix
    // (`/usr`), only the directories of the standard library and of installed packages are.
    for prefix in [&interpreter.prefix, &interpreter.base_prefix] {
        let system = ["/", "/usr", "/usr/local"]
            .iter()
            .any(|p| prefix == Path::new(p));
        if !system {
            protected.push(Protected::new(
                prefix,
                "the target interpreter's prefix",
                true,
            ));
        }
    }
    for dir in [&interpreter.stdlib, &interpreter.platstdlib]
        .into_iter()
        .chain(&interpreter.path)
    {
        protected.push(Protected::new(
            dir,
            "the target interpreter's library",
            true,
        ));
    }
    if let Some(config) = &settings.config_path {
        protected.push(Protected::new(config, "the configuration file", false));
    }
    let entries =
        std::iter::once(&settings.entry).chain(settings.components.iter().map(|c| &c.entry));
    for entry in entries {
        if let resolve::EntryPoint::Script(script) = entry {
            protected.push(Protected::new(script, "the entry script", false));
        }
    }
    for c in &settings.components {
        protected.push(Protected::new(&c.app_dir, "a component's directory", false));
    }
    for dir in &settings.hook_dirs {
        protected.push(Protected::new(dir, "a hook directory", false));
    }
    for (src, _) in &settings.data {
        protected.push(Protected::new(src, "a `data` source", false));
    }
    for graph in graphs {
        for (_, m) in graph.included().filter(|(_, m)| m.origin == Origin::App) {
            if let Some(file) = m.file() {
                protected.push(Protected::new(file, "a module of the app", false));
                if m.is_package() {
                    if let Some(dir) = file.parent() {
                        protected.push(Protected::new(dir, "a package of the app", true));
                    }
                }
            }
        }
    }
    let dest = settings.out_dir.join(&settings.name);
    guard::check_protected(&dest, &protected).map_err(write::WriteError::from)?;
    guard::check_replaceable(&dest).map_err(write::WriteError::from)?;
    let report = crate::report::build_report::report_path(&settings.out_dir, &settings.name);
    let sbom = crate::report::build_report::sbom_path(&settings.out_dir, &settings.name);
    for path in [report, sbom] {
        guard::check_protected(&path, &protected).map_err(write::WriteError::from)?;
        guard::check_report(&path).map_err(write::WriteError::from)?;
    }
    Ok(())
}

/// Where kiln keeps caches: `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KILN_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("kiln");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/kiln"),
        None => std::env::temp_dir().join("kiln-cache"),
    }
}

/// What `kiln build` made: one app, or a suite of components.
pub enum Outcome {
    App(Box<BuildSummary>),
    Suite(Box<crate::suite::SuiteSummary>),
}

/// Runs a whole build: the interpreter once, then per component analyse, check and collect;
/// the union of the components' files, the boot script and the launchers; write; report.
pub fn build(settings: &BuildSettings, progress: &dyn Progress) -> Result<Outcome, BuildError> {
    let started = Instant::now();
    let (interpreter, interpreter_seconds) = interpreter(settings, progress)?;
    let work = tempfile::tempdir().map_err(BuildError::WorkDir)?;
    let mut components = Vec::new();
    for one in component_settings(settings) {
        components.push(build_component(settings, one, &interpreter, progress)?);
    }

    let t = Instant::now();
    progress.stage(Stage::Write);
    let plan = crate::plan::plan(
        settings,
        &interpreter,
        &components,
        &cache_dir(),
        work.path(),
    )?;
    check_glibc_floor(settings, &plan)?;
    let written = match settings.output {
        OutputMode::Onedir => write::write_onedir(&plan.write_input())?,
        OutputMode::Onefile => {
            write::write_onefile(&plan.write_input(), settings.compression_level)?
        }
    };
    let write_seconds = t.elapsed().as_secs_f64();

    let mut timings = vec![(Stage::Interpreter.name().to_string(), interpreter_seconds)];
    for (stage, seconds) in components.iter().flat_map(|c| &c.analysis.timings) {
        match timings.iter_mut().find(|(s, _)| s == stage) {
            Some((_, total)) => *total += seconds,
            None => timings.push((stage.clone(), *seconds)),
        }
    }
    timings.push((Stage::Write.name().to_string(), write_seconds));
    let graphs: Vec<&ModuleGraph> = components.iter().map(|c| &c.analysis.graph).collect();
    let missing: Vec<MissingImport> = graphs.iter().flat_map(|g| missing_imports(g)).collect();
    let optional: Vec<_> = components
        .iter()
        .flat_map(|c| c.analysis.optional.iter().cloned())
        .collect();
    let untested = (interpreter.minor() > crate::interpreter::TESTED_MAX_MINOR).then(|| {
        format!(
            "CPython {} is newer than any this kiln was tested with (3.{} at most): check the \
             bundle with `kiln test --import-all`",
            interpreter.version_string(),
            crate::interpreter::TESTED_MAX_MINOR
        )
    });
    let warnings: Vec<String> = graphs
        .iter()
        .flat_map(|g| warnings(g, &plan.collection))
        .chain(written.warnings.iter().cloned())
        .chain(untested)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // Written once the bundle is in place, beside it.
    let report = crate::report::build_report::assemble(&crate::report::build_report::ReportInput {
        settings,
        interpreter: &interpreter,
        graphs: &graphs,
        collection: &plan.collection,
        written: &written,
        timings: &timings,
        seconds: started.elapsed().as_secs_f64(),
        missing: &missing,
        warnings: &warnings,
        optional: &optional,
    });
    let report_files = report.write(&settings.out_dir)?;
    let deb = match &settings.deb {
        Some(deb) => Some(write_deb(settings, deb, &written)?),
        None => None,
    };
    if plan.suite {
        let mut summary = crate::suite::summary(
            settings,
            &components,
            &plan,
            &written,
            warnings,
            started.elapsed().as_secs_f64(),
            report_files,
        );
        summary.deb = deb;
        return Ok(Outcome::Suite(Box::new(summary)));
    }
    let collection = &plan.collection;
    Ok(Outcome::App(Box::new(BuildSummary {
        name: settings.name.clone(),
        executable: written.executables.first().cloned().unwrap_or_default(),
        bundle_dir: written.bundle_dir,
        mode: settings.output,
        onefile_bytes: written.onefile_bytes,
        python: interpreter.executable.clone(),
        python_version: interpreter.version_string(),
        modules: count_modules(&components[0].analysis.graph),
        native_libraries: count_role(collection, FileRole::NativeLibrary),
        extensions: count_role(collection, FileRole::Extension),
        distributions: collection
            .distributions
            .iter()
            .map(|d| format!("{} {}", d.name, d.version))
            .collect(),
        files: written.files,
        bytes: written.bytes,
        gpu_bytes: report.totals.gpu_bytes,
        cpu_only: settings.cpu_only,
        seconds: started.elapsed().as_secs_f64(),
        timings,
        missing,
        missing_libraries: collection.missing_libraries.clone(),
        warnings,
        min_glibc: report.portability.min_glibc,
        report: report_files.report,
        sbom: report_files.sbom,
        deb,
        optional,
    })))
}

/// The Debian package of the bundle just written, beside it.
fn write_deb(
    settings: &BuildSettings,
    deb: &crate::config::DebSettings,
    written: &write::WriteOutput,
) -> Result<PathBuf, BuildError> {
    let executables: Vec<String> = written
        .executables
        .iter()
        .filter(|exe| exe.parent() == Some(written.bundle_dir.as_path()))
        .filter_map(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let mtime = crate::report::build_report::build_time()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(write::deb::write(&write::deb::DebInput {
        bundle_dir: &written.bundle_dir,
        out_dir: &settings.out_dir,
        executables: &executables,
        settings: deb,
        mtime,
    })?)
}

/// With `min-glibc`, refuses before anything is written a bundle whose files (the launcher
/// among them) need a newer `GLIBC_` symbol version, naming each file and the version.
fn check_glibc_floor(
    settings: &BuildSettings,
    plan: &crate::plan::BundlePlan,
) -> Result<(), BuildError> {
    let Some(crate::config::GlibcFloor {
        version: floor,
        key,
    }) = &settings.min_glibc
    else {
        return Ok(());
    };
    let launcher = crate::installed::elf::parse_elf(write::LAUNCHER).and_then(|e| e.glibc);
    let mut list: Vec<String> = plan
        .collection
        .files
        .iter()
        .filter_map(|f| Some((f.dest.display().to_string(), f.elf.as_ref()?.glibc?)))
        .chain(launcher.map(|g| {
            (
                "the launcher (every executable of the bundle)".to_string(),
                g,
            )
        }))
        .filter(|(_, needed)| needed > floor)
        .map(|(file, (major, minor))| format!("  {file}: GLIBC_{major}.{minor}"))
        .collect();
    // libstdc++ comes from the system too: the newest its systems of that glibc carry.
    if let Some((glibcxx, cxxabi)) = crate::installed::elf::libstdcxx_for_glibc(*floor) {
        let dotted = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
        for f in &plan.collection.files {
            let Some(elf) = &f.elf else { continue };
            for (symbol, needed, most) in [
                ("GLIBCXX", &elf.glibcxx, glibcxx),
                ("CXXABI", &elf.cxxabi, cxxabi),
            ] {
                if let Some(needed) = needed.as_deref().filter(|n| *n > most) {
                    list.push(format!(
                        "  {}: {symbol}_{} (systems with glibc {}.{} have {symbol}_{} at most)",
                        f.dest.display(),
                        dotted(needed),
                        floor.0,
                        floor.1,
                        dotted(most)
                    ));
                }
            }
        }
    }
    list.sort();
    if list.is_empty() {
        return Ok(());
    }
    Err(BuildError::GlibcFloor {
        floor: *floor,
        key: key.clone(),
        list,
    })
}

/// The settings each component is built with: the build's own for a single app, else the
/// build's with the component's entry, directory and rules added.
fn component_settings(settings: &BuildSettings) -> Vec<(String, BuildSettings)> {
    if settings.components.is_empty() {
        return vec![(settings.name.clone(), settings.clone())];
    }
    settings
        .components
        .iter()
        .map(|component| {
            let mut rules = settings.rules.clone();
            rules
                .hidden_imports
                .extend(component.rules.hidden_imports.iter().cloned());
            rules
                .collect
                .extend(component.rules.collect.iter().cloned());
            rules
                .exclude
                .extend(component.rules.exclude.iter().cloned());
            let one = BuildSettings {
                entry: component.entry.clone(),
                app_dir: component.app_dir.clone(),
                rules,
                components: Vec::new(),
                suite_component: true,
                ..settings.clone()
            };
            (component.name.clone(), one)
        })
        .collect()
}

/// Analyses one component, refuses what would make a broken bundle or replace what kiln did not
/// write, and collects its files.
fn build_component(
    settings: &BuildSettings,
    (name, one): (String, BuildSettings),
    interpreter: &Interpreter,
    progress: &dyn Progress,
) -> Result<ComponentBuild, BuildError> {
    let mut analysis = analyse_with(&one, interpreter, progress)?;
    let graph = &analysis.graph;
    let suite = !settings.components.is_empty();
    let missing = missing_imports(graph);
    let fatal = fatal_missing(&missing);
    if !fatal.is_empty() {
        return Err(BuildError::Unresolved {
            python: interpreter.executable.clone(),
            list: fatal
                .iter()
                .map(|m| match suite {
                    true => format!("[{name}]{}", m.describe()),
                    false => m.describe(),
                })
                .collect(),
        });
    }
    if suite {
        let own = settings.components.iter().find(|c| c.name == name);
        let excluded = own.map_or(&[][..], |c| &c.rules.exclude[..]);
        let reached = crate::resolve::facts::excluded_reached(excluded, graph);
        if !reached.is_empty() {
            return Err(BuildError::ExcludedReached {
                component: name,
                list: reached,
            });
        }
    }
    check_outputs(settings, interpreter, &[graph])?;

    let t = Instant::now();
    progress.stage(Stage::Collect);
    let collection = collect::collect(&CollectInput {
        interpreter,
        graph,
        cache_dir: &cache_dir(),
        optimize: settings.optimize,
        jobs: rayon::current_num_threads(),
        data: &settings.data,
        strip: settings.strip,
        cpu_only: settings.cpu_only,
    })?;
    analysis
        .timings
        .push((Stage::Collect.name().to_string(), t.elapsed().as_secs_f64()));
    Ok(ComponentBuild {
        name,
        settings: one,
        analysis,
        collection,
    })
}

fn count_role(c: &Collection, role: FileRole) -> usize {
    c.files.iter().filter(|f| f.role == role).count()
}

fn warnings(graph: &ModuleGraph, c: &Collection) -> Vec<String> {
    let mut out: Vec<String> = graph
        .modules
        .iter()
        .filter_map(|m| {
            m.skipped
                .as_ref()
                .map(|why| format!("skipped {}: {why}", m.name))
        })
        .collect();
    out.extend(c.warnings.iter().cloned());
    out.extend(
        c.missing_libraries
            .iter()
            .map(|(lib, by)| format!("shared library {lib} (needed by {by}) was not found")),
    );
    out
}
