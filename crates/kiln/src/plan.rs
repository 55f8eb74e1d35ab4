//! The components' collections -> one [`BundlePlan`]: every file once (with the components
//! that need it), the boot script that starts each component with its own hook environment,
//! and the launchers to write. The write stage and the reports consume the plan; nothing after
//! this point re-derives what a file is or who needs it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::collect::CollectError;
use crate::collect::{self, BootComponent, Collection, ShippedEntry};
use crate::config::BuildSettings;
use crate::interpreter::Interpreter;
use crate::resolve::facts::Analysis;
use crate::write::WriteInput;

/// One component as it is built: a single app is a suite of one component named after it.
pub struct ComponentBuild {
    pub name: String,
    pub settings: BuildSettings,
    pub analysis: Analysis,
    pub collection: Collection,
}

/// Everything the write stage needs, decided.
pub struct BundlePlan {
    /// Every file of the runtime, each once, sorted by destination.
    pub collection: Collection,
    /// For each destination, the indices of the components that need it.
    pub users: BTreeMap<PathBuf, Vec<usize>>,
    /// Launchers at the bundle's root: (file name, component it starts; `*` for a suite's
    /// dispatcher, which takes the component as its first argument).
    pub launchers: Vec<(String, String)>,
    /// Several components (a dispatcher and `NAME-COMPONENT` launchers), or one app.
    pub suite: bool,
    pub out_dir: PathBuf,
    pub name: String,
    pub archive: bool,
    pub upx: Option<PathBuf>,
}

impl BundlePlan {
    /// The write stage's view of the plan.
    pub fn write_input(&self) -> WriteInput<'_> {
        WriteInput {
            collection: &self.collection,
            out_dir: &self.out_dir,
            name: &self.name,
            launchers: &self.launchers,
            archive: self.archive,
            upx: self.upx.as_deref(),
        }
    }
}

/// Plans the bundle of `components` (one for a single app).
pub fn plan(
    settings: &BuildSettings,
    interpreter: &Interpreter,
    components: &[ComponentBuild],
    cache_dir: &Path,
    work_dir: &Path,
) -> Result<BundlePlan, CollectError> {
    let suite = !settings.components.is_empty();
    let (mut collection, users) = merge(components);
    let boot: Vec<BootComponent<'_>> = components
        .iter()
        .map(|c| BootComponent {
            name: &c.name,
            entry: ShippedEntry::from(&c.settings.entry),
            env: &c.collection.env,
        })
        .collect();
    collection.entry_scripts = components
        .iter()
        .filter_map(|c| match &c.settings.entry {
            crate::resolve::EntryPoint::Script(path) => {
                Some(collect::entry_script(&collection, path))
            }
            _ => None,
        })
        .collect();
    let boot = collect::boot_file(interpreter, &collection, &boot, cache_dir, work_dir)?;
    collection.files.push(boot);
    collection.files.sort_by(|a, b| a.dest.cmp(&b.dest));
    let launchers = if suite {
        let mut l: Vec<(String, String)> = components
            .iter()
            .map(|c| (format!("{}-{}", settings.name, c.name), c.name.clone()))
            .collect();
        l.push((settings.name.clone(), "*".to_string()));
        l
    } else {
        vec![(settings.name.clone(), components[0].name.clone())]
    };
    Ok(BundlePlan {
        collection,
        users,
        launchers,
        suite,
        out_dir: settings.out_dir.clone(),
        name: settings.name.clone(),
        archive: settings.archive,
        upx: settings.upx.clone(),
    })
}

/// The union of the components' files, each destination once (the first component's file),
/// and which components need each.
fn merge(components: &[ComponentBuild]) -> (Collection, BTreeMap<PathBuf, Vec<usize>>) {
    let mut merged = components[0].collection.clone_shell();
    merged.distributions.clear();
    let mut users: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for (index, c) in components.iter().enumerate() {
        let collection = &c.collection;
        // Each collection numbers its distributions; the plan numbers them once.
        let renumber: Vec<usize> = collection
            .distributions
            .iter()
            .map(|d| {
                let at = merged
                    .distributions
                    .iter()
                    .position(|m| m.name == d.name && m.version == d.version);
                at.unwrap_or_else(|| {
                    merged.distributions.push(d.clone());
                    merged.distributions.len() - 1
                })
            })
            .collect();
        for f in &collection.files {
            users.entry(f.dest.clone()).or_default().push(index);
            if seen.insert(f.dest.clone()) {
                let mut f = f.clone();
                f.distribution = f.distribution.and_then(|d| renumber.get(d).copied());
                merged.files.push(f);
            }
        }
        merged.dirs.extend(collection.dirs.iter().cloned());
        merged.warnings.extend(collection.warnings.iter().cloned());
        merged
            .missing_libraries
            .extend(collection.missing_libraries.iter().cloned());
    }
    merged.dirs.sort();
    merged.dirs.dedup();
    merged.warnings.sort();
    merged.warnings.dedup();
    merged.missing_libraries.sort();
    merged.missing_libraries.dedup();
    (merged, users)
}
