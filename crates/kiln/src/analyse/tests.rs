//! File-per-case tests: each `tests/analyse/NAME.py` has its expected requests in `NAME.imports`,
//! one per line: `line level module [names] condition scope via`. Set `KILN_BLESS=1` to rewrite
//! the expectations from the current output (then review the diff).

use super::*;

fn render(imports: &FileImports) -> String {
    let mut out = String::new();
    for r in &imports.imports {
        let names = if r.names.is_empty() {
            String::new()
        } else {
            format!(" [{}]", r.names.join(","))
        };
        out.push_str(&format!(
            "{} {} {}{} {:?} {} {:?}\n",
            r.line,
            r.level,
            if r.module.is_empty() { "-" } else { &r.module },
            names,
            r.condition,
            if r.in_function { "function" } else { "module" },
            r.via
        ));
        if !r.fallback_for.is_empty() {
            out.push_str(&format!("  fallback for {}\n", r.fallback_for.join(",")));
        }
    }
    for r in &imports.references {
        let kind = if r.explicit { "reference" } else { "dotted" };
        out.push_str(&format!(
            "{} {kind} {} {:?}\n",
            r.line, r.module, r.condition
        ));
    }
    for s in &imports.scans {
        out.push_str(&format!(
            "{} scan {:?} {:?}\n",
            s.line, s.target, s.condition
        ));
    }
    for (group, line) in &imports.entry_point_groups {
        out.push_str(&format!("{line} entry-points {group}\n"));
    }
    for p in &imports.paths {
        let kind = if p.search_path { "sys.path" } else { "data" };
        out.push_str(&format!("{} {kind} {:?}\n", p.line, p.path));
    }
    if let Some(all) = &imports.all {
        out.push_str(&format!("__all__ {}\n", all.join(",")));
    }
    for (name, line) in &imports.provides {
        out.push_str(&format!("{line} provides {name}\n"));
    }
    if imports.lazy_getattr {
        out.push_str("__getattr__\n");
    }
    for r in &imports.source_reads {
        out.push_str(&format!("{} reads-source {}\n", r.line, r.call));
    }
    for d in &imports.dynamic {
        match &d.suffix {
            Some(suffix) => out.push_str(&format!(
                "{} {} dynamic *{} {:?}\n",
                d.line, d.level, suffix, d.condition
            )),
            None => out.push_str(&format!(
                "{} {} dynamic {} {:?}\n",
                d.line, d.level, d.prefix, d.condition
            )),
        }
    }
    out
}

fn ctx(module: &str) -> SourceContext<'_> {
    SourceContext {
        module,
        is_package: false,
        platform: "linux",
        version: [3, 11, 7],
    }
}

#[test]
fn fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/analyse");
    let bless = std::env::var_os("KILN_BLESS").is_some();
    let mut cases = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "py") {
            continue;
        }
        cases += 1;
        let stem = path.file_stem().unwrap().to_str().unwrap();
        // Files named main_*.py are analysed as the entry script.
        let module = if stem.starts_with("main_") {
            "__main__"
        } else {
            "pkg.mod"
        };
        let source = std::fs::read_to_string(&path).unwrap();
        let got = render(&analyse_source(&source, ctx(module)).unwrap());
        let expected_path = path.with_extension("imports");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(
        cases >= 5,
        "expected analyser fixtures in {}",
        dir.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn syntax_error_reports_line_and_column() {
    let err = analyse_source("import os\n\ndef f(:\n    pass\n", ctx("m")).unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.column >= 6, "{err:?}");
}

#[test]
fn lines_are_counted_across_crlf_and_unicode() {
    let src = "# é ü\r\nx = 'ünïcode'\r\nimport json\r\n";
    let got = analyse_source(src, ctx("m")).unwrap();
    assert_eq!(got.imports[0].line, 3);
    assert_eq!(got.imports[0].module, "json");
}

/// A package whose `__getattr__` imports the submodule the attribute names (scipy's pattern)
/// needs no interpreter to say what an attribute read imports; other computed names do.
#[test]
fn a_getattr_that_imports_the_submodule_an_attribute_names_is_known() {
    let package = SourceContext {
        is_package: true,
        ..ctx("pkg")
    };
    for src in [
        "import importlib\n_sub = ['a', 'b']\ndef __getattr__(name):\n    if name in _sub:\n        return importlib.import_module(f'pkg.{name}')\n    raise AttributeError(name)\n",
        "import importlib\ndef __getattr__(attr):\n    return importlib.import_module('.' + attr, __name__)\n",
        "from importlib import import_module\ndef __getattr__(name):\n    mod = f'{__name__}.{name}'\n    return import_module(mod)\n",
    ] {
        let got = analyse_source(src, package).unwrap();
        assert!(got.getattr_submodules && !got.lazy_getattr, "{src}");
    }
    for src in [
        // A subpackage's module, a transformed name, a table: not the attribute's submodule.
        "import importlib\ndef __getattr__(name):\n    return importlib.import_module(f'pkg.sub.{name}')\n",
        "import importlib\ndef __getattr__(name):\n    return importlib.import_module(f'pkg.{name.lower()}')\n",
        "import importlib\ndef __getattr__(name):\n    if name == 'x':\n        return importlib.import_module(f'pkg.{name}')\n    return importlib.import_module(_table[name])\n",
    ] {
        let got = analyse_source(src, package).unwrap();
        assert!(got.lazy_getattr, "{src}");
    }
    // A module's `__getattr__` has no submodules.
    let got = analyse_source(
        "import importlib\ndef __getattr__(name):\n    return importlib.import_module(f'pkg.{name}')\n",
        ctx("pkg"),
    )
    .unwrap();
    assert!(!got.getattr_submodules);
}

/// A module-level function that imports what a parameter names is an import wrapper; calls of
/// imported functions with literal arguments are recorded for the resolver to match.
#[test]
fn functions_that_import_their_argument_and_calls_with_literals() {
    let src = "import importlib\nfrom .compat import optional as opt\n\n\
        def import_optional(name, extra=''):\n    try:\n        module = importlib.import_module(name)\n    \
        except ImportError:\n        return None\n    return module\n\n\
        def backend(kind):\n    return importlib.import_module(f'pkg.backends.{kind}')\n\n\
        def not_a_wrapper(name):\n    return importlib.import_module(name.upper())\n\n\
        bn = import_optional('bottleneck')\nopt('numexpr', errors='warn')\nbackend(kind='fast')\n\
        print('hello world')\n";
    let got = analyse_source(src, ctx("pkg.mod")).unwrap();
    let wrappers: Vec<(&str, Option<usize>, &str, &str, Condition)> = got
        .import_wrappers
        .iter()
        .map(|w| {
            (
                w.function.as_str(),
                w.position,
                w.param.as_str(),
                w.prefix.as_str(),
                w.condition,
            )
        })
        .collect();
    assert_eq!(
        wrappers,
        [
            ("import_optional", Some(0), "name", "", Condition::Optional),
            (
                "backend",
                Some(0),
                "kind",
                "pkg.backends.",
                Condition::Always
            ),
        ]
    );
    let calls: Vec<(&str, u32)> = got
        .calls
        .iter()
        .map(|c| (c.callee.as_str(), c.line))
        .collect();
    assert_eq!(
        calls,
        [
            ("pkg.mod.import_optional", 17),
            ("pkg.compat.optional", 18),
            ("pkg.mod.backend", 19)
        ]
    );
    assert_eq!(got.calls[1].args[0], ["numexpr"]);
    assert_eq!(
        got.calls[2].keywords,
        [("kind".to_string(), vec!["fast".to_string()])]
    );
}
