//! Optional integrations: installed distributions that the app reaches only through another
//! distribution's optional imports, and that nothing requires.
//!
//! pandas imports scipy inside `nanops` functions and matplotlib behind a `try`; when both
//! happen to be installed, following those imports puts 100 MiB into a bundle whose code never
//! calls them. An import is optional here when a third-party module makes it inside a function
//! body, under `try: ... except ImportError`, or under an `if` whose outcome is unknown. A
//! distribution is an optional integration when every path from the entry to its modules
//! crosses such an import, and neither the project's declared dependencies nor the
//! distributions reached without optional imports require it (`Requires-Dist`, extras
//! followed). A third-party string that names a module counts as optional too.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::{Deserialize, Serialize};

use super::graph::{EdgeKind, ModuleGraph, ModuleId, Origin, Strength};
use crate::installed::metadata::normalize_dist_name;
use crate::installed::metadata::{DistIndex, Requirement};

/// One distribution reached only through optional imports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionalIntegration {
    pub distribution: String,
    pub version: String,
    /// Bytes its RECORD lists as installed: what shipping it costs, before stripping.
    pub installed_bytes: u64,
    /// Its modules the graph reaches.
    pub modules: usize,
    /// Its outermost reached modules: excluding these leaves it out.
    pub roots: Vec<String>,
    /// The first optional import into it: importer and line.
    pub via: (String, u32),
    /// Another optional integration that requires it, when one does.
    pub required_by: Option<String>,
    /// Left out of the bundle (by `optional-integrations`), rather than shipped.
    pub skipped: bool,
}

/// Finds the optional integrations of `graph`. `declared` is the project's own dependency
/// list (PEP 508 strings), when it has one.
///
/// `tree_is_evidence`: what the app's own source tree imports counts as wanted (a single app,
/// whose services load by names that arrive at run time); false for a suite's component, which
/// carries only what its own entry reaches.
pub fn find(
    graph: &ModuleGraph,
    declared: Option<&[String]>,
    tree_is_evidence: bool,
) -> Vec<OptionalIntegration> {
    let dists = DistIndex::shared(&graph.site_dirs());
    let owner = owners(graph, &dists, 0, Vec::new());
    let kept = kept(graph, &dists, &owner, declared, tree_is_evidence);
    // Everything else the graph reaches is an optional integration.
    let mut found: BTreeMap<usize, OptionalIntegration> = BTreeMap::new();
    for (id, module) in graph.modules.iter().enumerate() {
        let Some(d) = owner[id] else { continue };
        if kept.contains(&d) {
            continue;
        }
        let dist = &dists.distributions[d];
        let entry = found.entry(d).or_insert_with(|| OptionalIntegration {
            distribution: dist.name.clone(),
            version: dist.version.clone(),
            installed_bytes: dist.installed_bytes,
            modules: 0,
            roots: Vec::new(),
            via: (String::new(), 0),
            required_by: None,
            skipped: false,
        });
        entry.modules += 1;
        let parent_same = module
            .name
            .rsplit_once('.')
            .and_then(|(parent, _)| graph.get(parent))
            .is_some_and(|p| owner[p] == Some(d));
        if !parent_same {
            entry.roots.push(module.name.clone());
        }
    }
    // The first importer by name and line, whatever order the graph was built in; one that
    // ships before one that is itself an optional integration.
    let mut first: HashMap<usize, (bool, &str, u32)> = HashMap::default();
    for e in &graph.edges {
        let (Some(to), from) = (owner[e.to], owner[e.from]) else {
            continue;
        };
        if from == Some(to) || !found.contains_key(&to) {
            continue;
        }
        let candidate = (
            from.is_some_and(|f| found.contains_key(&f)),
            graph.modules[e.from].name.as_str(),
            e.line,
        );
        let best = first.entry(to).or_insert(candidate);
        if candidate < *best {
            *best = candidate;
        }
    }
    for (to, (_, name, line)) in first {
        if let Some(entry) = found.get_mut(&to) {
            entry.via = (name.to_string(), line);
        }
    }
    // One that another integration requires comes with it: say so rather than name an import.
    let candidates: Vec<usize> = found.keys().copied().collect();
    for &d in &candidates {
        let name = normalize_dist_name(&dists.distributions[d].name);
        let by = candidates.iter().find(|&&other| {
            other != d
                && dists.distributions[other]
                    .requires
                    .iter()
                    .any(|r| r.name == name && r.when_extras.is_empty())
        });
        if let Some(&by) = by {
            let entry = found.get_mut(&d).expect("a candidate");
            entry.required_by = Some(dists.distributions[by].name.clone());
        }
    }
    let mut out: Vec<OptionalIntegration> = found.into_values().collect();
    for o in &mut out {
        o.roots.sort();
    }
    out.sort_by_key(|o| std::cmp::Reverse(o.installed_bytes));
    out
}

/// The distribution that owns each module of `graph` (third-party modules only), extending
/// `known` (the owners of its first `from` modules, already found).
pub fn owners(
    graph: &ModuleGraph,
    dists: &DistIndex,
    from: usize,
    mut known: Vec<Option<usize>>,
) -> Vec<Option<usize>> {
    known.truncate(from);
    known.extend(
        graph.modules[from..]
            .iter()
            .map(|m| match (m.origin, m.file(), m.entry) {
                (Origin::ThirdParty, Some(file), Some(entry)) => {
                    dists.owner(file, entry, Some(&m.name))
                }
                _ => None,
            }),
    );
    known
}

/// The distributions the app keeps: those it reaches firmly (from the roots without crossing
/// an optional import), the declared ones, and what those require (see [`find`]). A graph that
/// grows keeps at least what it kept: the resolver asks this while it resolves, and leaves the
/// modules of the other distributions unread.
pub fn kept(
    graph: &ModuleGraph,
    dists: &DistIndex,
    owner: &[Option<usize>],
    declared: Option<&[String]>,
    tree_is_evidence: bool,
) -> HashSet<usize> {
    // Reachability from the roots without crossing an optional import.
    let mut out_edges: HashMap<ModuleId, Vec<usize>> = HashMap::default();
    for (i, e) in graph.edges.iter().enumerate() {
        out_edges.entry(e.from).or_default().push(i);
    }
    // Third-party code brings a distribution in by itself only through certain edges: an
    // import in a function or under a `try`, or a guess (a string, a name in compiled code, a
    // lazy package's every submodule), is not evidence that the app runs it.
    // In a suite, a component's share of the app's tree ships, but what only the tree's
    // modules it never imports use is not evidence for that component.
    let optional_edge = |i: usize| {
        let e = &graph.edges[i];
        let tree = !tree_is_evidence
            && matches!(&e.kind, EdgeKind::Collected { reason } if reason == super::APP_TREE);
        tree || (graph.modules[e.from].origin == Origin::ThirdParty
            && e.strength() != Strength::Certain)
    };
    let firm = reach(graph, &out_edges, |i| !optional_edge(i));

    // Distributions that stay: reached firmly, declared, and what those require.
    let by_name: HashMap<String, usize> = dists
        .distributions
        .iter()
        .enumerate()
        .map(|(i, d)| (normalize_dist_name(&d.name), i))
        .collect();
    // Without a declared list, the features a reached distribution offers as extras stand in
    // for one: `pandas[excel]` names openpyxl, so an installed openpyxl is taken as wanted. Only
    // extras of distributions the app reaches firmly count, and never development extras.
    let guess_extras = declared.is_none();
    let mut wanted: Vec<Wanted> = owner
        .iter()
        .zip(&firm)
        .filter_map(|(o, f)| o.filter(|_| *f))
        .map(|d| Wanted {
            dist: d,
            extras: Vec::new(),
            firm: true,
        })
        .collect();
    for text in declared.unwrap_or_default() {
        if let Some(r) = Requirement::parse(text) {
            if let Some(&d) = by_name.get(&r.name) {
                wanted.push(Wanted {
                    dist: d,
                    extras: r.extras,
                    firm: false,
                });
            }
        }
    }
    let kept_strict = keep(dists, &by_name, wanted.clone(), false);
    let mut kept = keep(dists, &by_name, wanted, guess_extras);
    // A distribution only a guessed extra keeps ships when the app's code can reach it: a
    // chain of imports its sources state. One reached only through kiln's guesses in
    // third-party code (a name in compiled code, a string) stays out: mypy's `mypyc` extra
    // names setuptools, but only `mypyc.build`, which mypy's binaries merely mention, imports
    // it. The app's own code is taken at its word, guesses included (a string naming one of
    // its modules).
    if kept.len() > kept_strict.len() {
        let stated = reach(graph, &out_edges, |i| {
            let e = &graph.edges[i];
            e.strength() != Strength::Speculative
                || graph.modules[e.from].origin != Origin::ThirdParty
        });
        let reached: HashSet<usize> = owner
            .iter()
            .zip(&stated)
            .filter_map(|(o, s)| o.filter(|_| *s))
            .collect();
        kept.retain(|d| kept_strict.contains(d) || reached.contains(d));
    }

    kept
}

/// The modules reachable from the graph's roots through the edges `follow` accepts.
fn reach(
    graph: &ModuleGraph,
    out_edges: &HashMap<ModuleId, Vec<usize>>,
    follow: impl Fn(usize) -> bool,
) -> Vec<bool> {
    let mut reached = vec![false; graph.modules.len()];
    let mut queue: VecDeque<ModuleId> = graph.roots.iter().copied().collect();
    for &r in &graph.roots {
        reached[r] = true;
    }
    while let Some(m) = queue.pop_front() {
        for &i in out_edges.get(&m).map(Vec::as_slice).unwrap_or_default() {
            let to = graph.edges[i].to;
            if !reached[to] && follow(i) {
                reached[to] = true;
                queue.push_back(to);
            }
        }
    }
    reached
}

/// The distributions `wanted` keeps, with what they require (the extras asked of them
/// followed; with `guess_extras`, every user-facing extra of one the app reaches firmly).
fn keep(
    dists: &DistIndex,
    by_name: &HashMap<String, usize>,
    mut wanted: Vec<Wanted>,
    guess_extras: bool,
) -> HashSet<usize> {
    let mut kept: HashSet<usize> = HashSet::default();
    let mut extras_seen: HashSet<(usize, String)> = HashSet::default();
    let mut extras_guessed: HashSet<usize> = HashSet::default();
    while let Some(Wanted {
        dist: d,
        extras,
        firm,
    }) = wanted.pop()
    {
        let new_extras: Vec<String> = extras
            .into_iter()
            .filter(|e| extras_seen.insert((d, e.clone())))
            .collect();
        let guess_now = guess_extras && firm && extras_guessed.insert(d);
        if !kept.insert(d) && new_extras.is_empty() && !guess_now {
            continue;
        }
        for r in &dists.distributions[d].requires {
            let applies = if r.when_extras.is_empty() {
                true
            } else {
                r.when_extras.iter().any(|e| {
                    extras_seen.contains(&(d, e.clone())) || (guess_now && !is_dev_extra(e))
                })
            };
            if applies {
                if let Some(&dep) = by_name.get(&r.name) {
                    wanted.push(Wanted {
                        dist: dep,
                        extras: r.extras.clone(),
                        firm: false,
                    });
                }
            }
        }
    }
    kept
}

/// A distribution to keep, with the extras asked of it.
#[derive(Clone)]
struct Wanted {
    dist: usize,
    extras: Vec<String>,
    /// Reached firmly by the app (rather than declared or required): its extras may be guessed.
    firm: bool,
}

/// An extra that serves the package's developers, not its users: tests, docs, linters, type
/// checkers, benchmarks, release tooling, and catch-alls such as `all` (`output-formatting`
/// is a user's feature; `test-extras` and `docs` are not).
pub fn is_dev_extra(extra: &str) -> bool {
    const DEV: &[&str] = &[
        "all",
        "bench",
        "benchmark",
        "benchmarks",
        "build",
        "check",
        "checks",
        "ci",
        "complete",
        "cov",
        "coverage",
        "dev",
        "devel",
        "develop",
        "development",
        "doc",
        "docs",
        "documentation",
        "everything",
        "example",
        "examples",
        "full",
        "lint",
        "linting",
        "linters",
        "mypy",
        "qa",
        "release",
        "test",
        "testing",
        "tests",
        "type",
        "types",
        "typing",
    ];
    normalize_dist_name(extra)
        .split('-')
        .any(|token| DEV.contains(&token))
}

#[cfg(test)]
mod tests {
    #[test]
    fn development_extras_are_told_from_features() {
        for dev in [
            "test",
            "tests",
            "Testing",
            "docs",
            "dev",
            "lint",
            "typing",
            "all",
            "test-extras",
        ] {
            assert!(super::is_dev_extra(dev), "{dev}");
        }
        for feature in [
            "excel",
            "computation",
            "output-formatting",
            "email",
            "standard",
            "plot",
        ] {
            assert!(!super::is_dev_extra(feature), "{feature}");
        }
    }
}
