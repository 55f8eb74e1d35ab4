use std::path::Path;

use super::*;
use crate::interpreter::Interpreter;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

struct Fixture {
    _tmp: tempfile::TempDir,
    app: PathBuf,
    site: PathBuf,
    site2: PathBuf,
}

fn fixture(files: &[(&str, &str)]) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    let site = tmp.path().join("site");
    let site2 = tmp.path().join("site2");
    for d in [&app, &site, &site2] {
        std::fs::create_dir_all(d).unwrap();
    }
    for (rel, text) in files {
        write(tmp.path(), rel, text);
    }
    Fixture {
        _tmp: tmp,
        app,
        site,
        site2,
    }
}

fn graph(f: &Fixture) -> ModuleGraph {
    graph_with(f, &[], &Default::default())
}

fn graph_with(
    f: &Fixture,
    hooks: &[crate::hooks::LoadedHook],
    rules: &crate::hooks::Hook,
) -> ModuleGraph {
    let interp = Interpreter::fixture(vec![f.site.clone(), f.site2.clone()]);
    resolve_for(&interp, f, hooks, rules)
}

/// The graph of the fixture's `app/main.py` for `interp`.
fn resolve_for(
    interp: &Interpreter,
    f: &Fixture,
    hooks: &[crate::hooks::LoadedHook],
    rules: &crate::hooks::Hook,
) -> ModuleGraph {
    let entry = EntryPoint::Script(f.app.join("main.py"));
    let input = ResolveInput {
        interpreter: interp,
        entry: &entry,
        app_dir: &f.app,
        extra_roots: &[],
        hooks,
        rules,
        cache: &cache::AnalysisCache::disabled(),
        trace: None,
        introspect: None,
        finder: None,
        optional: None,
    };
    resolve(&input, &()).unwrap()
}

fn names(g: &ModuleGraph) -> Vec<String> {
    g.included().map(|(_, m)| m.name.clone()).collect()
}

#[test]
fn relative_imports_at_every_depth() {
    let f = fixture(&[
        ("app/main.py", "import pkg.sub.deep.leaf\n"),
        ("app/pkg/__init__.py", "from . import top\n"),
        ("app/pkg/top.py", ""),
        ("app/pkg/util.py", ""),
        (
            "app/pkg/sub/__init__.py",
            "from .. import util\nfrom .deep import leaf\n",
        ),
        ("app/pkg/sub/deep/__init__.py", ""),
        (
            "app/pkg/sub/deep/leaf.py",
            "from ...util import x\nfrom ... import top\nfrom .... import nothing\n",
        ),
    ]);
    let g = graph(&f);
    assert_eq!(
        names(&g),
        [
            "__main__",
            "pkg",
            "pkg.sub",
            "pkg.sub.deep",
            "pkg.sub.deep.leaf",
            "pkg.top",
            "pkg.util"
        ]
    );
    // Four dots from pkg.sub.deep.leaf climbs above `pkg`.
    assert_eq!(g.missing.len(), 1, "{:?}", g.missing);
    let m = &g.missing[0];
    assert_eq!(g.modules[m.importer].name, "pkg.sub.deep.leaf");
    assert_eq!(m.line, 3);
    assert!(m
        .reason
        .as_deref()
        .unwrap()
        .contains("above the top-level package"));
    // Everything from the app directory is app code.
    assert!(g.included().all(|(_, m)| m.origin == Origin::App));
}

#[test]
fn namespace_packages_span_search_entries() {
    let f = fixture(&[
        (
            "app/main.py",
            "import ns.a\nimport ns.b\nfrom ns import c\n",
        ),
        ("site/ns/a.py", ""),
        ("site2/ns/b.py", ""),
        ("site2/ns/c/__init__.py", ""),
    ]);
    let g = graph(&f);
    let ns = &g.modules[g.get("ns").unwrap()];
    assert_eq!(ns.kind, ModuleKind::Namespace);
    assert_eq!(ns.package_dirs.len(), 2);
    assert_eq!(ns.origin, Origin::ThirdParty);
    for name in ["ns.a", "ns.b", "ns.c"] {
        assert!(g.get(name).is_some(), "{name} missing: {:?}", names(&g));
    }
    assert!(g.missing.is_empty());
}

#[test]
fn earlier_entries_shadow_later_ones_and_regular_packages_beat_namespaces() {
    let f = fixture(&[
        ("app/main.py", "import dup\nimport mixed\n"),
        ("app/dup.py", ""),
        ("site/dup.py", "import should_not_be_followed\n"),
        ("site/mixed/readme.txt", "a namespace portion"),
        ("site2/mixed/__init__.py", ""),
    ]);
    let g = graph(&f);
    let dup = &g.modules[g.get("dup").unwrap()];
    assert_eq!(dup.file(), Some(f.app.join("dup.py").as_path()));
    assert!(g.get("should_not_be_followed").is_none());
    let mixed = &g.modules[g.get("mixed").unwrap()];
    assert!(
        matches!(mixed.kind, ModuleKind::Package { .. }),
        "{mixed:?}"
    );
    assert!(g.missing.is_empty());
}

#[test]
fn conditions_decide_what_is_needed() {
    let f = fixture(&[
        (
            "app/main.py",
            "from typing import TYPE_CHECKING\n\
             if TYPE_CHECKING:\n    import typing_only\n\
             try:\n    import optional_dep\nexcept ImportError:\n    optional_dep = None\n\
             import hard_dep\n\
             def f():\n    from pkg import sub, attr\n",
        ),
        ("site/pkg/__init__.py", "attr = 1\n"),
        ("site/pkg/sub.py", ""),
    ]);
    let g = graph(&f);
    let missing: Vec<(&str, Condition)> = g
        .missing
        .iter()
        .map(|m| (m.name.as_str(), m.condition))
        .collect();
    assert!(
        missing.contains(&("optional_dep", Condition::Optional)),
        "{missing:?}"
    );
    assert!(missing.contains(&("hard_dep", Condition::Always)));
    assert!(
        missing.contains(&("typing", Condition::Always)),
        "no stdlib in this fixture"
    );
    assert!(
        !missing.iter().any(|(n, _)| *n == "typing_only"),
        "TYPE_CHECKING imports are not needed"
    );
    // `sub` is a submodule; `attr` is an attribute and not missing.
    assert!(g.get("pkg.sub").is_some());
    assert!(!missing.iter().any(|(n, _)| n.contains("attr")));
}

#[test]
fn why_chain_runs_from_the_entry() {
    let f = fixture(&[
        ("app/main.py", "import a\n"),
        ("app/a.py", "\n\nimport b\n"),
        ("app/b.py", "from c import d\n"),
        ("site/c/__init__.py", ""),
        ("site/c/d.py", ""),
    ]);
    let g = graph(&f);
    let chain = g.chain_to(g.get("c.d").unwrap()).unwrap();
    let steps: Vec<(String, String, u32)> = chain
        .iter()
        .map(|e| {
            (
                g.modules[e.from].name.clone(),
                g.modules[e.to].name.clone(),
                e.line,
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("__main__".to_string(), "a".to_string(), 1),
            ("a".to_string(), "b".to_string(), 3),
            ("b".to_string(), "c.d".to_string(), 1)
        ]
    );
}

/// A file kiln's parser rejects but CPython accepts (`raise;x = 1`, dynaconf's vendored
/// ruamel) ships, with the imports the interpreter's own parser finds; a file both reject stays
/// out.
#[test]
fn files_only_kilns_parser_rejects_ship_with_the_interpreters_reading() {
    let f = fixture(&[
        ("app/main.py", "import lib\nimport bad\n"),
        (
            "site/lib.py",
            "def dump(d):\n    try:\n        d.dispose()\n    except AttributeError:raise;d.close()\nimport helper\nfrom . import sibling\n",
        ),
        ("site/helper.py", ""),
        ("site/sibling.py", ""),
        ("site/bad.py", "def broken(:\n"),
    ]);
    let mut interp = Interpreter::fixture(vec![f.site.clone()]);
    interp.executable = which_python();
    let cache = tempfile::tempdir().unwrap();
    let g = try_resolve(&interp, &f, Some(cache.path())).unwrap();
    let names = names(&g);
    assert!(names.contains(&"lib".to_string()), "{names:?}");
    assert!(names.contains(&"helper".to_string()), "{names:?}");
    assert!(!names.contains(&"bad".to_string()), "{names:?}");
    assert!(g.modules[g.get("bad").unwrap()].skipped.is_some());
}

/// The graph of the fixture's `app/main.py`, or why it could not be resolved; `introspect` is
/// where answers of the interpreter are cached (None asks it nothing).
fn try_resolve(
    interp: &Interpreter,
    f: &Fixture,
    introspect: Option<&Path>,
) -> Result<ModuleGraph, ResolveError> {
    let entry = EntryPoint::Script(f.app.join("main.py"));
    let input = ResolveInput {
        interpreter: interp,
        entry: &entry,
        app_dir: &f.app,
        extra_roots: &[],
        hooks: &[],
        rules: &Default::default(),
        cache: &cache::AnalysisCache::disabled(),
        trace: None,
        introspect,
        finder: None,
        optional: None,
    };
    resolve(&input, &())
}

/// The first `python3` on PATH (the tests need a real interpreter's parser).
fn which_python() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .expect("python3 on PATH")
}

#[test]
fn syntax_errors_stop_app_code_but_skip_third_party_files() {
    let f = fixture(&[
        ("app/main.py", "import lib\n"),
        ("site/lib.py", "def broken(:\n"),
    ]);
    let g = graph(&f);
    assert!(g.modules[g.get("lib").unwrap()].skipped.is_some());
    assert!(!names(&g).contains(&"lib".to_string()));

    let f = fixture(&[
        ("app/main.py", "import mine\n"),
        ("app/mine.py", "import os\nx = = 1\n"),
    ]);
    let interp = Interpreter::fixture(vec![f.site.clone()]);
    let err = try_resolve(&interp, &f, None).unwrap_err().to_string();
    assert!(err.contains("mine.py:2:"), "{err}");
}

#[test]
fn hooks_apply_when_their_module_is_imported() {
    use crate::hooks::{Hook, HookSource, LoadedHook};
    let f = fixture(&[
        ("app/main.py", "import lib\n"),
        ("site/lib/__init__.py", "import lib.tests\n"),
        ("site/lib/hidden.py", ""),
        ("site/lib/tests.py", ""),
        ("site/lib/plugins/__init__.py", ""),
        ("site/lib/plugins/a.py", ""),
        ("site/lib/plugins/deep/__init__.py", ""),
        ("site/lib/plugins/deep/b.py", ""),
        ("site/unrelated/__init__.py", ""),
    ]);
    let hooks = [
        LoadedHook {
            hook: Hook {
                module: "lib".into(),
                hidden_imports: vec!["lib.hidden".into(), "lib.not_installed".into()],
                collect: vec!["lib.plugins".into()],
                exclude: vec!["lib.tests".into()],
                ..Default::default()
            },
            source: HookSource::Builtin("lib.toml".into()),
        },
        LoadedHook {
            hook: Hook {
                module: "unrelated".into(),
                hidden_imports: vec!["lib.x".into()],
                ..Default::default()
            },
            source: HookSource::Builtin("unrelated.toml".into()),
        },
    ];
    let g = graph_with(&f, &hooks, &Default::default());
    let n = names(&g);
    for want in [
        "lib.hidden",
        "lib.plugins",
        "lib.plugins.a",
        "lib.plugins.deep",
        "lib.plugins.deep.b",
    ] {
        assert!(n.contains(&want.to_string()), "{want} missing from {n:?}");
    }
    assert!(
        !n.contains(&"lib.tests".to_string()),
        "excluded module shipped"
    );
    assert!(!n.contains(&"unrelated".to_string()));
    assert_eq!(g.excluded.len(), 1);
    assert_eq!(
        g.applied_hooks
            .iter()
            .filter(|a| a.source != HookSource::Config)
            .count(),
        1
    );
    let lib_hook = g.applied_hooks.iter().find(|a| a.module == "lib").unwrap();
    assert_eq!(lib_hook.not_found, ["lib.not_installed"]);
    // A built-in hook's missing module is not an error.
    assert!(g.missing.iter().all(|m| m.name != "lib.not_installed"));
}

#[test]
fn configuration_rules_apply_from_the_start() {
    let f = fixture(&[
        ("app/main.py", "import heavy\n"),
        ("app/services/__init__.py", ""),
        ("app/services/billing.py", "import heavy\n"),
        ("site/heavy/__init__.py", ""),
        ("site/extra.py", ""),
    ]);
    let rules = crate::hooks::Hook {
        module: "__main__".into(),
        hidden_imports: vec!["extra".into(), "nope".into()],
        collect: vec!["services".into()],
        exclude: vec!["heavy".into()],
        ..Default::default()
    };
    let g = graph_with(&f, &[], &rules);
    let n = names(&g);
    assert!(
        n.contains(&"extra".to_string()) && n.contains(&"services.billing".to_string()),
        "{n:?}"
    );
    assert!(!n.contains(&"heavy".to_string()));
    assert_eq!(
        g.excluded.len(),
        2,
        "both imports of the excluded module are recorded"
    );
    // A hidden import the user named that is not installed is an unconditional missing import.
    let nope = g.missing.iter().find(|m| m.name == "nope").unwrap();
    assert_eq!(nope.condition, Condition::Always);
}

#[test]
fn stdlib_fallbacks_of_native_modules_are_not_followed() {
    let f = fixture(&[
        (
            "app/main.py",
            "import accel_builtin, accel_ext, accel_missing, thirdparty\n",
        ),
        // `time` is built in, `_fast` an extension module: their fallbacks never run.
        (
            "stdlib/accel_builtin.py",
            "try:\n    from time import *\nexcept ImportError:\n    from _pytime import *\n",
        ),
        (
            "stdlib/accel_ext.py",
            "try:\n    import _fast\nexcept ImportError:\n    import _pyfast\n",
        ),
        // What the `try` imports is not there: the fallback is what runs.
        (
            "stdlib/accel_missing.py",
            "try:\n    import _gone\nexcept ImportError:\n    import _pygone\n",
        ),
        ("stdlib/_pytime.py", ""),
        ("stdlib/_pyfast.py", ""),
        ("stdlib/_pygone.py", ""),
        ("dynload/_fast.cpython-311-x86_64-linux-gnu.so", ""),
        // Third-party code keeps its fallbacks: its extension modules may fail to load.
        (
            "site/thirdparty.py",
            "try:\n    import time\nexcept ImportError:\n    import tp_fallback\n",
        ),
        ("site/tp_fallback.py", ""),
    ]);
    let root = f.app.parent().unwrap();
    let mut interp = Interpreter::fixture(vec![
        root.join("stdlib"),
        root.join("dynload"),
        f.site.clone(),
    ]);
    interp.stdlib = root.join("stdlib");
    interp.platstdlib = root.join("stdlib");
    interp.dynload = root.join("dynload");
    let g = resolve_for(&interp, &f, &[], &Default::default());
    let n = names(&g);
    for kept in ["_fast", "_pygone", "tp_fallback"] {
        assert!(n.contains(&kept.to_string()), "{kept} missing from {n:?}");
    }
    for left in ["_pytime", "_pyfast"] {
        assert!(!n.contains(&left.to_string()), "{left} in {n:?}");
    }
    let mut fallbacks: Vec<(&str, u32)> = g
        .fallbacks
        .iter()
        .map(|e| (e.name.as_str(), e.line))
        .collect();
    fallbacks.sort();
    assert_eq!(fallbacks, [("_pyfast", 4), ("_pytime", 4)]);
    let why = crate::report::explain_why(&g, &[], "_pyfast").render();
    assert!(why.contains("accel_ext.py:4"), "{why}");
}

/// A distribution with its metadata and RECORD in the fixture's `site/`.
fn dist_files(name: &str, requires: &[&str], files: &[&str]) -> Vec<(String, String)> {
    let info = format!("site/{name}-1.0.dist-info");
    let mut metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
    for r in requires {
        metadata.push_str(&format!("Requires-Dist: {r}\n"));
        if let Some((_, extra)) = r.split_once("extra == ") {
            metadata.push_str(&format!("Provides-Extra: {}\n", extra.trim_matches('"')));
        }
    }
    let mut record: String = files.iter().map(|f| format!("{f},,\n")).collect();
    record.push_str(&format!("{name}-1.0.dist-info/METADATA,,\n"));
    vec![
        (format!("{info}/METADATA"), metadata),
        (format!("{info}/RECORD"), record),
    ]
}

/// Without a declared dependency list, the extras of a distribution the app reaches stand in
/// for one; but a distribution such an extra names ships only when a chain of imports the
/// sources state reaches it, not when the only way in is a module kiln guessed.
#[test]
fn guessed_extras_keep_only_what_stated_imports_reach() {
    let mut files: Vec<(String, String)> = vec![
        ("app/main.py".into(), "import lib\n".into()),
        (
            "site/lib/__init__.py".into(),
            "import importlib, pkgutil\nfrom . import report\n\ndef load_all():\n    for m in pkgutil.iter_modules(__path__):\n        importlib.import_module(__name__ + '.' + m.name)\n".into(),
        ),
        (
            "site/lib/report.py".into(),
            "try:\n    import rep\nexcept ImportError:\n    rep = None\n".into(),
        ),
        (
            "site/lib/builder.py".into(),
            "try:\n    import tool\nexcept ImportError:\n    tool = None\n".into(),
        ),
        ("site/rep/__init__.py".into(), String::new()),
        ("site/tool/__init__.py".into(), String::new()),
    ];
    files.extend(dist_files(
        "lib",
        &["rep; extra == \"reports\"", "tool; extra == \"compiler\""],
        &["lib/__init__.py", "lib/report.py", "lib/builder.py"],
    ));
    files.extend(dist_files("rep", &[], &["rep/__init__.py"]));
    files.extend(dist_files("tool", &[], &["tool/__init__.py"]));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let f = fixture(&refs);
    let g = graph(&f);
    let n = names(&g);
    assert!(n.contains(&"lib.builder".to_string()), "{n:?}");
    let optional: Vec<String> = optional::find(&g, None, true)
        .into_iter()
        .map(|o| o.distribution)
        .collect();
    assert_eq!(optional, ["tool"]);
}

#[test]
fn introspected_edges_are_certain_unless_the_import_may_be_guarded() {
    let edge = |condition| Edge {
        from: 0,
        to: 1,
        line: 0,
        kind: EdgeKind::Inferred {
            rule: format!("{INTROSPECTED_RULE} `pkg.ext` imports it from compiled code"),
        },
        condition,
        in_function: false,
    };
    assert_eq!(edge(Condition::Always).strength(), Strength::Certain);
    assert_eq!(edge(Condition::Optional).strength(), Strength::Conditional);
    let guess = Edge {
        kind: EdgeKind::Inferred {
            rule: "named in the extension module's compiled code".into(),
        },
        ..edge(Condition::Always)
    };
    assert_eq!(guess.strength(), Strength::Speculative);
}

/// A module that keeps every entry point (catalogue) gets the groups named after packages the
/// app imports (`spacy_architectures`, from spacy-legacy), not the others.
#[test]
fn code_keeping_every_entry_point_gets_the_groups_of_imported_packages() {
    let f = fixture(&[
        ("app/main.py", "import spacy\n"),
        ("site/spacy/__init__.py", "import catalogue\n"),
        (
            "site/catalogue.py",
            "import importlib.metadata as m\nAVAILABLE_ENTRY_POINTS = m.entry_points()\n",
        ),
        ("site/spacy_legacy/__init__.py", ""),
        ("site/spacy_legacy/architectures.py", ""),
        (
            "site/spacy_legacy-3.0.12.dist-info/entry_points.txt",
            "[spacy_architectures]\nspacy-legacy.CharacterEmbed.v1 = spacy_legacy.architectures:f\n",
        ),
        ("site/other.py", ""),
        (
            "site/other-1.0.dist-info/entry_points.txt",
            "[pytest11]\nother = other\n",
        ),
    ]);
    let names = names(&graph(&f));
    assert!(
        names.contains(&"spacy_legacy.architectures".to_string()),
        "{names:?}"
    );
    assert!(!names.contains(&"other".to_string()), "{names:?}");
}

/// A library function that imports the module its argument names (pandas'
/// `import_optional_dependency`) makes each call with a literal an import of that module by the
/// caller, whichever of the two modules is read first; the import's condition inside the
/// function carries over.
#[test]
fn calls_of_a_function_that_imports_its_argument_are_imports() {
    let f = fixture(&[
        ("app/main.py", "import lib.core\n"),
        ("site/lib/__init__.py", ""),
        (
            "site/lib/core.py",
            "from lib._optional import import_optional\nfrom . import _optional\n\
             bn = import_optional('fastcalc')\n\
             _optional.backend(kind='turbo')\n",
        ),
        (
            "site/lib/_optional.py",
            "import importlib\n\n\
             def import_optional(name, errors='raise'):\n    try:\n        \
             return importlib.import_module(name)\n    except ImportError:\n        return None\n\n\
             def backend(kind):\n    return importlib.import_module(f'lib.backends.{kind}')\n",
        ),
        ("site/fastcalc.py", ""),
        ("site/lib/backends/__init__.py", ""),
        ("site/lib/backends/turbo.py", ""),
        ("site/lib/backends/slow.py", ""),
    ]);
    let g = graph(&f);
    let edge = |to: &str| {
        g.edges
            .iter()
            .find(|e| g.modules[e.from].name == "lib.core" && g.modules[e.to].name == to)
            .unwrap_or_else(|| panic!("lib.core -> {to}: {:?}", names(&g)))
    };
    let fastcalc = edge("fastcalc");
    assert!(
        matches!(&fastcalc.kind, EdgeKind::Inferred { rule } if rule.contains("lib._optional.import_optional")),
        "{fastcalc:?}"
    );
    // Under `try: ... except ImportError` inside the function: optional.
    assert_eq!(fastcalc.condition, Condition::Optional);
    assert_eq!(fastcalc.line, 3);
    // Through an attribute of a relatively imported module, with a keyword and a prefix.
    assert_eq!(edge("lib.backends.turbo").condition, Condition::Always);
}
