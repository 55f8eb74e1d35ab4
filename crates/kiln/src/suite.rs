//! Suites: several executables sharing one runtime. Each component gets its own module
//! closure; the bundle holds the union once, one launcher per component (`NAME-COMPONENT`),
//! and a dispatcher (`NAME COMPONENT ...`). In onefile form the dispatcher carries the runtime
//! as its payload and the component launchers run from that same payload's cache entry.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::collect::{self, CollectInput, Collection, ShippedEntry};
use crate::config::{BuildSettings, OutputMode};
use crate::pipeline::{self, BuildError, Progress};
use crate::report::human_bytes;
use crate::write::{self, RUNTIME_DIR};

/// One component in the suite summary.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentSummary {
    pub name: String,
    pub executable: PathBuf,
    pub modules: usize,
    /// Bytes of files no other component needs.
    pub unique_bytes: u64,
    /// Bytes of files this component shares with at least one other.
    pub shared_bytes: u64,
    /// Size of its executable as written (for onefile, a launcher without a payload).
    pub executable_bytes: u64,
}

/// The outcome of building a suite.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteSummary {
    pub name: String,
    pub bundle_dir: PathBuf,
    pub mode: OutputMode,
    pub dispatcher: PathBuf,
    /// Size of the dispatcher as written (for onefile, with the payload: the whole runtime).
    pub dispatcher_bytes: u64,
    pub components: Vec<ComponentSummary>,
    /// Bytes of the suite as written: every file in `bundle_dir`.
    pub total_bytes: u64,
    /// Onefile: the size of the runtime once unpacked (None for onedir).
    pub unpacked_bytes: Option<u64>,
    /// What one separate bundle per component would take together (for onefile, estimated
    /// with the compression ratio of the suite's payload).
    pub separate_bytes: u64,
    pub seconds: f64,
    pub warnings: Vec<String>,
}

impl SuiteSummary {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "built suite {} in {:.1}s", self.name, self.seconds);
        let _ = writeln!(
            s,
            "  {:<16} {:>8} {:>12} {:>12}",
            "component", "modules", "unique", "shared"
        );
        for c in &self.components {
            let _ = writeln!(
                s,
                "  {:<16} {:>8} {:>12} {:>12}",
                c.name,
                c.modules,
                human_bytes(c.unique_bytes),
                human_bytes(c.shared_bytes)
            );
        }
        let saved = 100.0 * (1.0 - self.total_bytes as f64 / self.separate_bytes.max(1) as f64);
        match self.unpacked_bytes {
            None => {
                let _ = writeln!(
                    s,
                    "  total {} (separate bundles: {}, {saved:.0}% saved)",
                    human_bytes(self.total_bytes),
                    human_bytes(self.separate_bytes),
                );
            }
            Some(unpacked) => {
                let _ = writeln!(
                    s,
                    "  total {} (separate onefile executables: about {}, {saved:.0}% saved)",
                    human_bytes(self.total_bytes),
                    human_bytes(self.separate_bytes),
                );
                let launcher = self
                    .components
                    .iter()
                    .map(|c| c.executable_bytes)
                    .max()
                    .unwrap_or(0);
                let _ = writeln!(
                    s,
                    "  written       {} {} with the runtime ({} unpacked), {} component \
                     launchers of {}",
                    self.name,
                    human_bytes(self.dispatcher_bytes),
                    human_bytes(unpacked),
                    self.components.len(),
                    human_bytes(launcher)
                );
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "  warnings      {}", self.warnings.len());
        }
        let _ = writeln!(
            s,
            "  run           {} COMPONENT, or {}-COMPONENT",
            self.dispatcher.display(),
            self.dispatcher.display()
        );
        s
    }
}

/// Builds every component of `settings.components` into one bundle.
pub fn build_suite(
    settings: &BuildSettings,
    progress: &dyn Progress,
) -> Result<SuiteSummary, BuildError> {
    let started = Instant::now();
    let shipped: Vec<(String, ShippedEntry)> = settings
        .components
        .iter()
        .map(|c| (c.name.clone(), ShippedEntry::from(&c.entry)))
        .collect();
    let work = tempfile::tempdir().map_err(BuildError::WorkDir)?;
    let mut collections: Vec<(String, Collection, usize)> = Vec::new();
    for component in &settings.components {
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
            ..settings.clone()
        };
        let analysis = pipeline::analyse(&one, progress)?;
        let graph = &analysis.graph;
        pipeline::check_outputs(settings, &analysis.interpreter, &[graph])?;
        let missing = pipeline::missing_imports(graph);
        let fatal = pipeline::fatal_missing(&missing);
        if !fatal.is_empty() {
            return Err(BuildError::Unresolved {
                python: analysis.interpreter.executable.clone(),
                list: fatal
                    .iter()
                    .map(|m| format!("[{}]{}", component.name, m.describe()))
                    .collect(),
            });
        }
        // Reaching a module the component excludes is an error: the component would fail.
        let chains = graph.chains();
        let mut reached = Vec::new();
        for e in &graph.excluded {
            let excluded_here = component
                .rules
                .exclude
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
        if !reached.is_empty() {
            return Err(BuildError::ExcludedReached {
                component: component.name.clone(),
                list: reached,
            });
        }
        progress.stage("collect");
        let collection = collect::collect(&CollectInput {
            interpreter: &analysis.interpreter,
            graph,
            components: &shipped,
            cache_dir: &pipeline::cache_dir(),
            work_dir: work.path(),
            optimize: settings.optimize,
            jobs: rayon::current_num_threads(),
            data: &settings.data,
            strip: settings.strip,
        })?;
        let modules = graph.included().count();
        collections.push((component.name.clone(), collection, modules));
    }

    // Each file once: the union of the components' files.
    let mut merged = collections[0].1.clone_shell();
    let mut users: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for (index, (_, collection, _)) in collections.iter().enumerate() {
        for f in &collection.files {
            users.entry(f.dest.clone()).or_default().push(index);
            if seen.insert(f.dest.clone()) {
                merged.files.push(f.clone());
            }
        }
        merged.dirs.extend(collection.dirs.iter().cloned());
        merged.warnings.extend(collection.warnings.iter().cloned());
        merged
            .missing_libraries
            .extend(collection.missing_libraries.iter().cloned());
        merged.env.extend(collection.env.clone());
    }
    merged.files.sort_by(|a, b| a.dest.cmp(&b.dest));
    merged.dirs.sort();
    merged.dirs.dedup();
    merged.warnings.sort();
    merged.warnings.dedup();

    progress.stage("write");
    let mut launchers: Vec<(String, String)> = settings
        .components
        .iter()
        .map(|c| (format!("{}-{}", settings.name, c.name), c.name.clone()))
        .collect();
    launchers.push((settings.name.clone(), "*".to_string()));
    let written = pipeline::write_bundle(settings, &merged, &launchers)?;

    let sizes: HashMap<PathBuf, u64> = written.sizes.iter().cloned().collect();
    let size_of = |dest: &PathBuf| {
        sizes
            .get(&PathBuf::from(RUNTIME_DIR).join(dest))
            .copied()
            .unwrap_or(0)
    };
    let launcher_bytes = write::LAUNCHER.len() as u64;
    let file_size = |path: &PathBuf| std::fs::metadata(path).map_or(0, |m| m.len());
    let dispatcher = written.bundle_dir.join(&settings.name);
    let dispatcher_bytes = file_size(&dispatcher);
    // Onefile: how much the payload compresses the runtime, to estimate separate executables.
    let ratio = match settings.output {
        OutputMode::Onedir => 1.0,
        OutputMode::Onefile => {
            dispatcher_bytes.saturating_sub(launcher_bytes) as f64 / written.bytes.max(1) as f64
        }
    };
    let mut components = Vec::new();
    let mut separate_bytes = 0;
    for (index, (name, _, modules)) in collections.iter().enumerate() {
        let (mut unique, mut shared) = (0, 0);
        for (dest, who) in &users {
            if !who.contains(&index) {
                continue;
            }
            if who.len() == 1 {
                unique += size_of(dest);
            } else {
                shared += size_of(dest);
            }
        }
        // A separate bundle: its files, its launcher and the interpreter front (for onefile,
        // the front is in the payload).
        separate_bytes += match settings.output {
            OutputMode::Onedir => unique + shared + 2 * launcher_bytes,
            OutputMode::Onefile => {
                ((unique + shared + launcher_bytes) as f64 * ratio) as u64 + launcher_bytes
            }
        };
        let executable = written.bundle_dir.join(format!("{}-{name}", settings.name));
        components.push(ComponentSummary {
            name: name.clone(),
            executable_bytes: file_size(&executable),
            executable,
            modules: *modules,
            unique_bytes: unique,
            shared_bytes: shared,
        });
    }
    let mut warnings = merged.warnings.clone();
    warnings.extend(written.warnings.iter().cloned());
    let (total_bytes, unpacked_bytes) = match settings.output {
        OutputMode::Onedir => (written.bytes, None),
        OutputMode::Onefile => (
            dispatcher_bytes + components.iter().map(|c| c.executable_bytes).sum::<u64>(),
            Some(written.bytes),
        ),
    };
    Ok(SuiteSummary {
        name: settings.name.clone(),
        mode: settings.output,
        dispatcher,
        dispatcher_bytes,
        bundle_dir: written.bundle_dir.clone(),
        components,
        total_bytes,
        unpacked_bytes,
        separate_bytes,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}
