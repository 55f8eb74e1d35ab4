//! Property tests: generated sources with imports in arbitrary nesting, with aliases and
//! relative levels, are each found exactly once with their line; analysis is deterministic.

use proptest::prelude::*;

use super::*;

/// One import statement to generate.
#[derive(Debug, Clone)]
struct Import {
    module: Vec<String>,
    level: u32,
    names: Vec<String>,
    alias: bool,
    from: bool,
}

/// A block that can enclose statements.
#[derive(Debug, Clone, Copy)]
enum Wrapper {
    If,
    Else,
    Try,
    Except,
    Def,
    Class,
    With,
    For,
    While,
}

fn ident() -> impl Strategy<Value = String> {
    // Avoid keywords by construction: a letter prefix plus letters and digits.
    "m[a-z0-9_]{0,6}".prop_map(String::from)
}

fn import() -> impl Strategy<Value = Import> {
    (
        prop::collection::vec(ident(), 1..4),
        0u32..4,
        prop::collection::vec(ident(), 1..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(module, level, names, alias, from)| Import {
            // A relative import is always a `from` import.
            from: from || level > 0,
            module,
            level,
            names,
            alias,
        })
}

fn wrapper() -> impl Strategy<Value = Wrapper> {
    prop_oneof![
        Just(Wrapper::If),
        Just(Wrapper::Else),
        Just(Wrapper::Try),
        Just(Wrapper::Except),
        Just(Wrapper::Def),
        Just(Wrapper::Class),
        Just(Wrapper::With),
        Just(Wrapper::For),
        Just(Wrapper::While),
    ]
}

/// Renders statements, each inside its own nest of wrappers, and returns the source with the
/// line of every import.
fn render(items: &[(Vec<Wrapper>, Import)]) -> (String, Vec<u32>) {
    let mut out = String::new();
    let mut lines = Vec::new();
    let mut line = 1u32;
    let push = |out: &mut String, indent: usize, text: &str, line: &mut u32| {
        out.push_str(&"    ".repeat(indent));
        out.push_str(text);
        out.push('\n');
        *line += 1;
    };
    for (wrappers, import) in items {
        let mut indent = 0;
        for w in wrappers {
            let head = match w {
                Wrapper::If => "if flag:",
                Wrapper::Else => {
                    push(&mut out, indent, "if flag:", &mut line);
                    push(&mut out, indent + 1, "pass", &mut line);
                    "else:"
                }
                Wrapper::Try => "try:",
                Wrapper::Except => {
                    push(&mut out, indent, "try:", &mut line);
                    push(&mut out, indent + 1, "pass", &mut line);
                    "except ImportError:"
                }
                Wrapper::Def => "def f():",
                Wrapper::Class => "class C:",
                Wrapper::With => "with ctx():",
                Wrapper::For => "for _ in range(1):",
                Wrapper::While => "while flag:",
            };
            push(&mut out, indent, head, &mut line);
            indent += 1;
        }
        let module = import.module.join(".");
        let text = if import.from {
            let names: Vec<String> = import
                .names
                .iter()
                .map(|n| {
                    if import.alias {
                        format!("{n} as a_{n}")
                    } else {
                        n.clone()
                    }
                })
                .collect();
            format!(
                "from {}{} import {}",
                ".".repeat(import.level as usize),
                module,
                names.join(", ")
            )
        } else if import.alias {
            format!("import {module} as alias_name")
        } else {
            format!("import {module}")
        };
        lines.push(line);
        push(&mut out, indent, &text, &mut line);
        // Close a `try:` so the source stays valid.
        for w in wrappers.iter().rev() {
            indent -= 1;
            if matches!(w, Wrapper::Try) {
                push(&mut out, indent, "except ImportError:", &mut line);
                push(&mut out, indent + 1, "pass", &mut line);
            }
        }
    }
    (out, lines)
}

fn ctx() -> SourceContext<'static> {
    SourceContext {
        module: "pkg.sub.mod",
        is_package: false,
        platform: "linux",
        version: [3, 11, 7],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_import_is_found_once_with_its_line(
        items in prop::collection::vec((prop::collection::vec(wrapper(), 0..4), import()), 1..12)
    ) {
        let (source, lines) = render(&items);
        let found = analyse_source(&source, ctx()).expect("generated source parses");
        let statements: Vec<&ImportRequest> =
            found.imports.iter().filter(|r| r.via == Via::Statement).collect();
        prop_assert_eq!(statements.len(), items.len(), "source:\n{}", source);
        for ((wrappers, import), (request, line)) in items.iter().zip(statements.iter().zip(&lines)) {
            prop_assert_eq!(request.line, *line);
            prop_assert_eq!(&request.module, &import.module.join("."));
            prop_assert_eq!(request.level, import.level);
            if import.from {
                prop_assert_eq!(&request.names, &import.names);
            } else {
                prop_assert!(request.names.is_empty());
            }
            let in_function = wrappers.iter().any(|w| matches!(w, Wrapper::Def));
            prop_assert_eq!(request.in_function, in_function);
            // The strictest enclosing condition wins: a branch, then a guarded `try`.
            let expected = wrappers
                .iter()
                .map(|w| match w {
                    Wrapper::If | Wrapper::Else | Wrapper::Except => Condition::Branch,
                    Wrapper::Try => Condition::Optional,
                    _ => Condition::Always,
                })
                .max()
                .unwrap_or(Condition::Always);
            prop_assert_eq!(request.condition, expected, "source:\n{}", source);
        }
    }

    #[test]
    fn analysis_is_deterministic(
        items in prop::collection::vec((prop::collection::vec(wrapper(), 0..3), import()), 1..8)
    ) {
        let (source, _) = render(&items);
        let a = analyse_source(&source, ctx()).unwrap();
        let b = analyse_source(&source, ctx()).unwrap();
        prop_assert_eq!(a, b);
    }
}

/// One way to compute a module name, with the names it must yield.
#[derive(Debug, Clone)]
enum Computed {
    Constant,
    Concat,
    FString,
    Join,
    Percent,
    Format,
    Loop,
    Local,
    /// A function parameter: unknown, nothing may be found.
    Parameter,
    /// A name bound once to a literal and once to a call: unknown, nothing may be found.
    Rebound,
    /// `self.NAME` in a method, `NAME` bound in the class body.
    ClassAttribute,
    /// `self.NAME` that a method also assigns: unknown, nothing may be found.
    InstanceAssigned,
    /// `self.NAME` in a function outside any class: unknown, nothing may be found.
    SelfOutsideClass,
}

fn computed() -> impl Strategy<Value = (Computed, Vec<String>, String)> {
    (
        prop_oneof![
            Just(Computed::Constant),
            Just(Computed::Concat),
            Just(Computed::FString),
            Just(Computed::Join),
            Just(Computed::Percent),
            Just(Computed::Format),
            Just(Computed::Loop),
            Just(Computed::Local),
            Just(Computed::Parameter),
            Just(Computed::Rebound),
            Just(Computed::ClassAttribute),
            Just(Computed::InstanceAssigned),
            Just(Computed::SelfOutsideClass),
        ],
        prop::collection::vec(ident(), 2..4),
        ident(),
    )
}

/// Renders form `i` computing `parts` (and, for a loop, `parts` with `other` as last part too);
/// returns its source and the names it must yield.
fn render_computed(
    i: usize,
    form: &Computed,
    parts: &[String],
    other: &str,
) -> (String, Vec<String>) {
    let name = parts.join(".");
    let (head, last) = parts.split_at(parts.len() - 1);
    let head = head.join(".");
    let last = &last[0];
    let v = format!("V{i}");
    match form {
        Computed::Constant => (
            format!("{v} = \"{name}\"\nimport_module({v})\n"),
            vec![name],
        ),
        Computed::Concat => (
            format!("{v} = \"{head}\"\nimport_module({v} + \".{last}\")\n"),
            vec![name],
        ),
        Computed::FString => (
            format!("{v} = \"{head}\"\nW{i} = \"{last}\"\nimport_module(f\"{{{v}}}.{{W{i}}}\")\n"),
            vec![name],
        ),
        Computed::Join => {
            let items: Vec<String> = parts.iter().map(|p| format!("\"{p}\"")).collect();
            (
                format!(
                    "{v} = [{}]\nimport_module(\".\".join({v}))\n",
                    items.join(", ")
                ),
                vec![name],
            )
        }
        Computed::Percent => (
            format!("{v} = \"{head}\"\nimport_module(\"%s.{last}\" % {v})\n"),
            vec![name],
        ),
        Computed::Format => (
            format!("{v} = \"{head}\"\nimport_module(\"{{}}.{last}\".format({v}))\n"),
            vec![name],
        ),
        Computed::Loop => {
            let mut names = vec![name.clone(), format!("{head}.{other}")];
            names.sort();
            names.dedup();
            (
                format!(
                    "for {v} in (\"{last}\", \"{other}\"):\n    import_module(\"{head}.\" + {v})\n"
                ),
                names,
            )
        }
        Computed::Local => (
            format!("def f{i}():\n    {v} = \"{name}\"\n    return import_module({v})\n"),
            vec![name],
        ),
        Computed::Parameter => (
            format!("{v} = \"{name}\"\ndef f{i}({v}):\n    return import_module({v})\n"),
            Vec::new(),
        ),
        Computed::Rebound => (
            format!("{v} = \"{name}\"\n{v} = compute()\nimport_module({v})\n"),
            Vec::new(),
        ),
        Computed::ClassAttribute => (
            format!(
                "class C{i}:\n    {v} = \"{head}.\"\n    def load(self):\n        \
                 return import_module(self.{v} + \"{last}\")\n"
            ),
            vec![name],
        ),
        Computed::InstanceAssigned => (
            format!(
                "class C{i}:\n    {v} = \"{name}\"\n    def __init__(self):\n        \
                 self.{v} = compute()\n    def load(self):\n        \
                 return import_module(self.{v})\n"
            ),
            Vec::new(),
        ),
        Computed::SelfOutsideClass => (
            format!("{v} = \"{name}\"\ndef f{i}(self):\n    return import_module(self.{v})\n"),
            Vec::new(),
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The value analysis recovers exactly the names a program computes through constants,
    /// locals, loops over literals, `+`, f-strings, `join`, `%`, `.format` and class attributes
    /// read through `self`, and invents none where a name is a parameter, is rebound to an
    /// unknown value, is assigned through `self` too, or is read through a `self` outside a class.
    #[test]
    fn computed_module_names_are_recovered_exactly(
        forms in prop::collection::vec(computed(), 1..8)
    ) {
        let mut source = String::from("from importlib import import_module\n");
        let mut expected: Vec<String> = Vec::new();
        for (i, (form, parts, other)) in forms.iter().enumerate() {
            let (text, names) = render_computed(i, form, parts, other);
            source.push_str(&text);
            expected.extend(names);
        }
        let found = analyse_source(&source, ctx()).expect("generated source parses");
        let mut got: Vec<String> = found
            .imports
            .iter()
            .filter(|r| r.via == Via::ImportModule)
            .map(|r| r.module.clone())
            .collect();
        got.sort();
        expected.sort();
        prop_assert_eq!(got, expected, "source:\n{}", source);
    }
}
