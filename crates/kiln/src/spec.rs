//! `kiln import-spec`: a PyInstaller `.spec` file read as kiln configuration.
//!
//! A spec is Python that PyInstaller executes; kiln does not run it. It reads the file with the
//! Python parser and follows what specs are made of: module-level names bound to literal lists
//! and tuples, `+` and `+=` on them, and PyInstaller's helpers `collect_submodules(PKG)`,
//! `collect_data_files(PKG)`, `collect_dynamic_libs(PKG)` and `collect_all(PKG)` (with the
//! `tmp_ret = collect_all(PKG); datas += tmp_ret[0]` form PyInstaller writes itself). From
//! `Analysis(...)` come the entry script, `hiddenimports`, `datas`, `binaries` and `excludes`;
//! from `EXE(..., name=...)` the name; a `COLLECT(...)` means onedir, its absence onefile.
//! Anything else is listed, with its line, as not converted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ruff_python_ast::{Expr, Operator, Stmt};
use ruff_text_size::Ranged;

use crate::analyse::LineIndex;

/// What a spec asks for, in kiln's terms.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpecImport {
    /// `Analysis`'s scripts, relative to the spec's directory as written.
    pub scripts: Vec<String>,
    pub name: Option<String>,
    pub onefile: bool,
    /// Hidden imports, each with the spec line that names it.
    pub hidden_imports: Vec<(String, usize)>,
    /// Packages whose every submodule the spec collects.
    pub collect: Vec<String>,
    /// Packages whose data files the spec collects (kiln ships package data by default).
    pub package_data: Vec<String>,
    /// `(src, dest)` for kiln's `data`: PyInstaller's destination directory turned into the
    /// path the file or directory becomes.
    pub data: Vec<(String, String)>,
    pub excludes: Vec<String>,
    /// What was not converted, as `spec:line: what`.
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}: no `Analysis(...)` call: is this a PyInstaller spec file?")]
    NoAnalysis(PathBuf),
}

/// A value of the spec as far as kiln follows it.
#[derive(Debug, Clone)]
enum Value {
    /// A string and the line it is written on.
    Str(String, usize),
    Bool(bool),
    Seq(Vec<Value>),
    /// What `collect_*` returns for a package: `kind` is `submodules`, `data`, `libs` or
    /// `all`; `part` picks one item of `collect_all`'s (datas, binaries, hiddenimports).
    Collected {
        package: String,
        kind: &'static str,
        part: Option<usize>,
    },
    /// Not followed: the source text and its line.
    Unknown(String, usize),
}

struct Reader<'a> {
    source: &'a str,
    lines: LineIndex,
    names: HashMap<String, Value>,
    file: String,
}

impl Reader<'_> {
    fn line(&self, node: &impl Ranged) -> usize {
        self.lines.line_col(node.range().start()).0 as usize
    }

    fn unknown(&self, expr: &Expr) -> Value {
        let text = &self.source[expr.range()];
        let text: String = text.chars().take(80).collect();
        Value::Unknown(text, self.line(expr))
    }

    fn eval(&self, expr: &Expr) -> Value {
        match expr {
            Expr::StringLiteral(s) => Value::Str(s.value.to_str().to_string(), self.line(s)),
            Expr::BooleanLiteral(b) => Value::Bool(b.value),
            Expr::List(l) => Value::Seq(l.elts.iter().map(|e| self.eval(e)).collect()),
            Expr::Tuple(t) => Value::Seq(t.elts.iter().map(|e| self.eval(e)).collect()),
            Expr::Name(n) => self
                .names
                .get(n.id.as_str())
                .cloned()
                .unwrap_or_else(|| self.unknown(expr)),
            Expr::BinOp(b) if b.op == Operator::Add => {
                concat(self.eval(&b.left), self.eval(&b.right))
            }
            Expr::Subscript(s) => match (self.eval(&s.value), &*s.slice) {
                (
                    Value::Collected {
                        package,
                        kind: "all",
                        part: None,
                    },
                    Expr::NumberLiteral(n),
                ) => match n.value.as_int().and_then(|i| i.as_usize()) {
                    Some(part) if part < 3 => Value::Collected {
                        package,
                        kind: "all",
                        part: Some(part),
                    },
                    _ => self.unknown(expr),
                },
                _ => self.unknown(expr),
            },
            Expr::Call(call) => {
                let func = match &*call.func {
                    Expr::Name(n) => n.id.as_str(),
                    Expr::Attribute(a) => a.attr.as_str(),
                    _ => "",
                };
                let kind = match func {
                    "collect_submodules" => "submodules",
                    "collect_data_files" => "data",
                    "collect_dynamic_libs" => "libs",
                    "collect_all" => "all",
                    _ => return self.unknown(expr),
                };
                match call.arguments.args.first().map(|a| self.eval(a)) {
                    Some(Value::Str(package, _)) => Value::Collected {
                        package,
                        kind,
                        part: None,
                    },
                    _ => self.unknown(expr),
                }
            }
            _ => self.unknown(expr),
        }
    }

    /// Binds module-level names: `x = ...`, `a, b, c = collect_all(...)`, `x += ...`.
    fn bind(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Assign(assign) => {
                let value = self.eval(&assign.value);
                for target in &assign.targets {
                    match target {
                        Expr::Name(n) => {
                            self.names.insert(n.id.to_string(), value.clone());
                        }
                        Expr::Tuple(t) => {
                            for (i, elt) in t.elts.iter().enumerate() {
                                let Expr::Name(n) = elt else { continue };
                                let part = match &value {
                                    Value::Collected {
                                        package,
                                        kind: "all",
                                        part: None,
                                    } => Value::Collected {
                                        package: package.clone(),
                                        kind: "all",
                                        part: Some(i),
                                    },
                                    Value::Seq(items) if items.len() == t.elts.len() => {
                                        items[i].clone()
                                    }
                                    _ => self.unknown(&assign.value),
                                };
                                self.names.insert(n.id.to_string(), part);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Stmt::AugAssign(aug) if aug.op == Operator::Add => {
                if let Expr::Name(n) = &*aug.target {
                    let left = self
                        .names
                        .get(n.id.as_str())
                        .cloned()
                        .unwrap_or(Value::Seq(Vec::new()));
                    let value = concat(left, self.eval(&aug.value));
                    self.names.insert(n.id.to_string(), value);
                }
            }
            _ => {}
        }
    }
}

fn concat(left: Value, right: Value) -> Value {
    let items = |v: Value| match v {
        Value::Seq(items) => items,
        other => vec![other],
    };
    let mut all = items(left);
    all.extend(items(right));
    Value::Seq(all)
}

/// Every call in `stmt` (at any depth of its expressions) to a function named `name`.
fn calls<'a>(stmt: &'a Stmt, name: &str) -> Vec<&'a ruff_python_ast::ExprCall> {
    use ruff_python_ast::visitor::{walk_expr, Visitor};
    struct Finder<'a, 'n> {
        name: &'n str,
        found: Vec<&'a ruff_python_ast::ExprCall>,
    }
    impl<'a> Visitor<'a> for Finder<'a, '_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            if let Expr::Call(call) = expr {
                if matches!(&*call.func, Expr::Name(n) if n.id.as_str() == self.name) {
                    self.found.push(call);
                }
            }
            walk_expr(self, expr);
        }
    }
    let mut finder = Finder {
        name,
        found: Vec::new(),
    };
    finder.visit_stmt(stmt);
    finder.found
}

/// Reads a spec file.
pub fn read(path: &Path) -> Result<SpecImport, SpecError> {
    let source = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let spec_dir = path.parent().unwrap_or(Path::new("."));
    let lines = LineIndex::new(&source);
    let parsed = ruff_python_parser::parse_module(&source).map_err(|e| {
        let (line, column) = lines.line_col(e.location.start());
        SpecError::Syntax {
            path: path.to_path_buf(),
            line: line as usize,
            column: column as usize,
            message: e.error.to_string(),
        }
    })?;
    let mut reader = Reader {
        source: &source,
        lines,
        names: HashMap::new(),
        file: path.display().to_string(),
    };
    let mut out = SpecImport::default();
    let mut analysed = false;
    let mut collected = false;
    for stmt in parsed.suite() {
        for call in calls(stmt, "Analysis") {
            analysed = true;
            reader.analysis(call, spec_dir, &mut out);
        }
        for call in calls(stmt, "EXE") {
            if let Some(Value::Str(name, _)) = call
                .arguments
                .find_keyword("name")
                .map(|k| reader.eval(&k.value))
            {
                out.name = Some(name);
            }
        }
        collected |= !calls(stmt, "COLLECT").is_empty();
        reader.bind(stmt);
    }
    if !analysed {
        return Err(SpecError::NoAnalysis(path.to_path_buf()));
    }
    out.onefile = !collected;
    Ok(out)
}

impl Reader<'_> {
    fn note(&self, out: &mut SpecImport, line: usize, what: String) {
        out.notes.push(format!("{}:{line}: {what}", self.file));
    }

    /// The keywords of `Analysis(...)`.
    fn analysis(&self, call: &ruff_python_ast::ExprCall, spec_dir: &Path, out: &mut SpecImport) {
        let arg = |name: &str, position: usize| call.arguments.find_argument_value(name, position);
        if let Some(scripts) = arg("scripts", 0) {
            for script in self.flatten(&self.eval(scripts), out, "scripts") {
                out.scripts.push(script.display());
            }
        }
        if let Some(hidden) = arg("hiddenimports", usize::MAX) {
            for item in self.flatten(&self.eval(hidden), out, "hiddenimports") {
                match item {
                    Item::Str(name, line) => out.hidden_imports.push((name, line)),
                    // `flatten` put collected packages into `collect`.
                    Item::Collected(_) | Item::Pair(..) => {}
                }
            }
        }
        for key in ["datas", "binaries"] {
            let Some(value) = arg(key, usize::MAX) else {
                continue;
            };
            let line = self.line(value);
            for item in self.flatten(&self.eval(value), out, key) {
                match item {
                    Item::Pair(src, dest) => {
                        for (src, dest) in data_entries(spec_dir, &src, &dest) {
                            out.data.push((src, dest));
                        }
                    }
                    Item::Collected(package) => {
                        if !out.package_data.contains(&package) {
                            out.package_data.push(package);
                        }
                    }
                    Item::Str(s, _) => self.note(
                        out,
                        line,
                        format!("`{key}` item {s:?} is not a (source, destination) pair"),
                    ),
                }
            }
        }
        if let Some(excludes) = arg("excludes", usize::MAX) {
            for item in self.flatten(&self.eval(excludes), out, "excludes") {
                if let Item::Str(name, _) = item {
                    out.excludes.push(name);
                }
            }
        }
        for keyword in &call.arguments.keywords {
            let Some(name) = keyword.arg.as_ref().map(|a| a.as_str()) else {
                continue;
            };
            let empty = matches!(self.eval(&keyword.value), Value::Seq(ref v) if v.is_empty())
                || matches!(self.eval(&keyword.value), Value::Bool(false));
            let converted = [
                "scripts",
                "hiddenimports",
                "datas",
                "binaries",
                "excludes",
                // Settings that kiln's behaviour already covers.
                "pathex",
                "noarchive",
                "optimize",
                "hooksconfig",
                "cipher",
                "win_no_prefer_redirects",
                "win_private_assemblies",
                "module_collection_mode",
            ];
            if !converted.contains(&name) && !empty {
                let line = self.line(&keyword.value);
                let what = match name {
                    "hookspath" => "PyInstaller hooks (Python) are not converted; kiln's hooks \
                                    are TOML files in `hook-dirs`"
                        .to_string(),
                    "runtime_hooks" => "runtime hooks are not converted: import the code \
                                        from the entry instead"
                        .to_string(),
                    other => format!("`{other}` is not converted"),
                };
                self.note(out, line, what);
            }
        }
    }

    /// The items of a list value: strings, `(src, dest)` pairs, collected packages; what cannot
    /// be followed becomes a note.
    fn flatten(&self, value: &Value, out: &mut SpecImport, key: &str) -> Vec<Item> {
        let mut items = Vec::new();
        let mut stack = vec![value.clone()];
        while let Some(value) = stack.pop() {
            match value {
                Value::Str(s, line) => items.push(Item::Str(s, line)),
                Value::Seq(v) => match v.as_slice() {
                    [Value::Str(src, _), Value::Str(dest, _)]
                        if key != "hiddenimports" && key != "excludes" && key != "scripts" =>
                    {
                        items.push(Item::Pair(src.clone(), dest.clone()))
                    }
                    _ => stack.extend(v.into_iter().rev()),
                },
                Value::Collected {
                    package,
                    kind,
                    part,
                } => {
                    // collect_all's parts: 0 datas, 1 binaries, 2 hiddenimports.
                    let kind = match (kind, part) {
                        ("all", Some(2)) => "submodules",
                        ("all", Some(1)) => "libs",
                        ("all", Some(_)) => "data",
                        (kind, _) => kind,
                    };
                    if (kind == "all" || kind == "submodules") && !out.collect.contains(&package) {
                        out.collect.push(package.clone());
                    }
                    items.push(Item::Collected(package));
                }
                Value::Bool(_) => {}
                Value::Unknown(text, line) => {
                    self.note(
                        out,
                        line,
                        format!("`{key}`: cannot read `{text}` without running the spec"),
                    );
                }
            }
        }
        items
    }
}

enum Item {
    Str(String, usize),
    Pair(String, String),
    Collected(String),
}

impl Item {
    fn display(self) -> String {
        match self {
            Item::Str(s, _) => s,
            Item::Pair(a, b) => format!("{a} -> {b}"),
            Item::Collected(p) => p,
        }
    }
}

/// PyInstaller's `(src, dest_dir)` as kiln's `(src, dest)`: a file lands in `dest_dir` under its
/// own name, a directory's contents in `dest_dir`; a glob becomes one entry per match.
fn data_entries(spec_dir: &Path, src: &str, dest_dir: &str) -> Vec<(String, String)> {
    let dest_dir = dest_dir.trim_end_matches('/');
    let join = |name: &str| match dest_dir {
        "" | "." => name.to_string(),
        dir => format!("{dir}/{name}"),
    };
    let is_glob = src.contains(['*', '?', '[']);
    if !is_glob {
        let path = spec_dir.join(src);
        if path.is_dir() {
            let dest = match dest_dir {
                "" => ".".to_string(),
                d => d.to_string(),
            };
            return vec![(src.to_string(), dest)];
        }
        let name = Path::new(src)
            .file_name()
            .map_or(src.to_string(), |n| n.to_string_lossy().into_owned());
        return vec![(src.to_string(), join(&name))];
    }
    let Ok(glob) = globset::Glob::new(src) else {
        return vec![(src.to_string(), dest_dir.to_string())];
    };
    let matcher = glob.compile_matcher();
    // The directory part before the first wildcard is where the walk starts.
    let fixed: PathBuf = Path::new(src)
        .components()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
        .collect();
    let mut found: Vec<(String, String)> = walkdir::WalkDir::new(spec_dir.join(&fixed))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e
                .path()
                .strip_prefix(spec_dir)
                .ok()?
                .to_string_lossy()
                .into_owned();
            matcher.is_match(&rel).then(|| {
                let name = e.file_name().to_string_lossy().into_owned();
                (rel, join(&name))
            })
        })
        .collect();
    found.sort();
    found
}

/// A TOML string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The spec as a `kiln.toml`; hidden imports in `found` (kiln reaches them by itself) are
/// kept as comments saying so.
pub fn render(spec: &SpecImport, spec_name: &str, found: Option<&dyn Fn(&str) -> bool>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "# kiln configuration read from {spec_name}");
    if let Some(script) = spec.scripts.first() {
        let _ = writeln!(out, "entry = {}", quote(script));
    }
    for extra in spec.scripts.iter().skip(1) {
        let _ = writeln!(
            out,
            "# {spec_name} also names the script {extra}: kiln runs one entry per executable \
             (make it a component of a suite to ship it)"
        );
    }
    if let Some(name) = &spec.name {
        let _ = writeln!(out, "name = {}", quote(name));
    }
    if spec.onefile {
        let _ = writeln!(out, "onefile = true");
    }
    let mut needed = Vec::new();
    let mut found_by_kiln = Vec::new();
    for (module, line) in &spec.hidden_imports {
        match found {
            Some(found) if found(module) => found_by_kiln.push((module, line)),
            _ => needed.push(module),
        }
    }
    if !needed.is_empty() {
        let list: Vec<String> = needed.iter().map(|m| quote(m)).collect();
        let _ = writeln!(out, "hidden-imports = [{}]", list.join(", "));
    }
    for (module, line) in found_by_kiln {
        let _ = writeln!(
            out,
            "# not needed: {module} ({spec_name}:{line}): kiln finds it by itself (`kiln why {module}`)"
        );
    }
    if !spec.collect.is_empty() {
        let list: Vec<String> = spec.collect.iter().map(|m| quote(m)).collect();
        let _ = writeln!(out, "collect = [{}]", list.join(", "));
    }
    if !spec.excludes.is_empty() {
        let list: Vec<String> = spec.excludes.iter().map(|m| quote(m)).collect();
        let _ = writeln!(out, "exclude = [{}]", list.join(", "));
    }
    if !spec.data.is_empty() {
        let _ = writeln!(out, "data = [");
        for (src, dest) in &spec.data {
            let _ = writeln!(
                out,
                "    {{ src = {}, dest = {} }},",
                quote(src),
                quote(dest)
            );
        }
        let _ = writeln!(out, "]");
    }
    for package in &spec.package_data {
        let _ = writeln!(
            out,
            "# not needed: the data files of {package}: kiln ships a package's data with it \
             (`package-data` adds what its defaults leave out)"
        );
    }
    for note in &spec.notes {
        let _ = writeln!(out, "# not converted: {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> SpecImport {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("assets/icons")).unwrap();
        std::fs::write(tmp.path().join("assets/icons/a.png"), "").unwrap();
        std::fs::write(tmp.path().join("assets/icons/b.png"), "").unwrap();
        std::fs::write(tmp.path().join("config.yaml"), "").unwrap();
        std::fs::create_dir(tmp.path().join("templates")).unwrap();
        let path = tmp.path().join("app.spec");
        std::fs::write(&path, text).unwrap();
        read(&path).unwrap()
    }

    const SPEC: &str = r#"# -*- mode: python ; coding: utf-8 -*-
from PyInstaller.utils.hooks import collect_all, collect_submodules

datas = [('config.yaml', '.'), ('templates', 'templates')]
binaries = []
hiddenimports = ['services.reports', 'uvicorn.logging']
hiddenimports += collect_submodules('connectors')
tmp_ret = collect_all('transformers')
datas += tmp_ret[0]; binaries += tmp_ret[1]; hiddenimports += tmp_ret[2]

a = Analysis(
    ['main.py'],
    pathex=[],
    binaries=binaries,
    datas=datas + [('assets/icons/*.png', 'icons')],
    hiddenimports=hiddenimports,
    hookspath=['hooks'],
    runtime_hooks=[],
    excludes=['tkinter'],
    noarchive=False,
)
pyz = PYZ(a.pure)
exe = EXE(pyz, a.scripts, [], exclude_binaries=True, name='backend', console=True)
coll = COLLECT(exe, a.binaries, a.datas, strip=False, upx=True, name='backend')
"#;

    #[test]
    fn a_generated_spec_becomes_configuration() {
        let spec = read_text(SPEC);
        assert_eq!(spec.scripts, ["main.py"]);
        assert_eq!(spec.name.as_deref(), Some("backend"));
        assert!(!spec.onefile);
        let hidden: Vec<&str> = spec
            .hidden_imports
            .iter()
            .map(|(m, _)| m.as_str())
            .collect();
        assert_eq!(hidden, ["services.reports", "uvicorn.logging"]);
        assert_eq!(spec.hidden_imports[0].1, 6);
        assert_eq!(spec.collect, ["connectors", "transformers"]);
        assert_eq!(
            spec.data,
            [
                ("config.yaml".to_string(), "config.yaml".to_string()),
                ("templates".to_string(), "templates".to_string()),
                ("assets/icons/a.png".to_string(), "icons/a.png".to_string()),
                ("assets/icons/b.png".to_string(), "icons/b.png".to_string()),
            ]
        );
        assert_eq!(spec.excludes, ["tkinter"]);
        assert_eq!(spec.notes.len(), 1, "{:?}", spec.notes);
        assert!(
            spec.notes[0].contains(":17: PyInstaller hooks"),
            "{:?}",
            spec.notes
        );

        let toml_text = render(&spec, "app.spec", Some(&|m: &str| m == "uvicorn.logging"));
        let parsed: crate::config::RawConfig = toml::from_str(&toml_text).unwrap();
        assert_eq!(parsed.entry.as_deref(), Some("main.py"));
        assert_eq!(parsed.hidden_imports.unwrap(), ["services.reports"]);
        assert_eq!(parsed.collect.unwrap(), ["connectors", "transformers"]);
        assert_eq!(parsed.data.unwrap().len(), 4);
        assert!(toml_text.contains("# not needed: uvicorn.logging (app.spec:6)"));
    }

    #[test]
    fn a_onefile_spec_and_what_cannot_be_read() {
        let spec = read_text(
            "import os\nextra = [os.environ['X']]\n\
             a = Analysis(['cli.py'], hiddenimports=extra + ['json'], datas=[('x', 'y', 'z')])\n\
             exe = EXE(PYZ(a.pure), a.scripts, a.binaries, a.datas, name='cli')\n",
        );
        assert!(spec.onefile);
        assert_eq!(spec.name.as_deref(), Some("cli"));
        assert_eq!(spec.hidden_imports, [("json".to_string(), 3)]);
        assert!(
            spec.notes
                .iter()
                .any(|n| n.contains(":2: `hiddenimports`: cannot read")),
            "{:?}",
            spec.notes
        );
    }

    #[test]
    fn not_a_spec() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.spec");
        std::fs::write(&path, "print(1)\n").unwrap();
        assert!(matches!(read(&path), Err(SpecError::NoAnalysis(_))));
        std::fs::write(&path, "a = Analysis([\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("x.spec:"), "{err}");
    }
}
