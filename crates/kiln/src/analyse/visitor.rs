//! The statement walker behind [`super::analyse_source`].
//!
//! Every statement kind is matched explicitly, so a new kind of statement in the parser is a
//! compile error here rather than a silently skipped import.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{
    CmpOp, ElifElseClause, ExceptHandler, Expr, FStringPart, InterpolatedStringElement, Operator,
    Stmt, StmtIf, StmtImport, StmtImportFrom, StmtTry,
};
use ruff_text_size::Ranged;
use rustc_hash::FxHashMap as HashMap;

use super::values;
use super::{
    Condition, DynamicImport, FileImports, ImportRequest, LineIndex, PackageScan, PathReference,
    ScanTarget, SourceContext, SourceRead, StringReference, Via, SOURCE_READERS,
};

/// A path computed from `__file__`.
#[derive(Debug, Clone, PartialEq)]
enum PathValue {
    /// The module file itself.
    File,
    /// A directory or file relative to the module's directory (components, may be `..`).
    Relative(Vec<String>),
}

impl PathValue {
    fn parent(self) -> Option<PathValue> {
        Some(match self {
            PathValue::File => PathValue::Relative(Vec::new()),
            PathValue::Relative(mut parts) => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else {
                    parts.push("..".into());
                }
                PathValue::Relative(parts)
            }
        })
    }

    fn join(self, part: &str) -> Option<PathValue> {
        let PathValue::Relative(mut parts) = self else {
            return None;
        };
        for piece in part.split('/').filter(|p| !p.is_empty() && *p != ".") {
            if piece == ".." && parts.last().is_some_and(|p| p != "..") {
                parts.pop();
            } else {
                parts.push(piece.to_string());
            }
        }
        Some(PathValue::Relative(parts))
    }
}

/// A function's parameters: position (None for keyword-only) and name.
type Parameters = Vec<(Option<usize>, String)>;

pub(super) struct ImportWalker<'a> {
    lines: &'a LineIndex,
    ctx: SourceContext<'a>,
    condition: Condition,
    in_function: bool,
    /// Local names bound to the `importlib` module.
    importlib_names: Vec<String>,
    /// Local names bound to `importlib.import_module`.
    import_module_names: Vec<String>,
    /// Local names bound to modules by import statements (`import a.b as c` binds c -> a.b).
    module_names: HashMap<String, String>,
    /// Names assigned a path computed from `__file__`.
    path_names: HashMap<String, PathValue>,
    /// Inside a path expression that was already recorded.
    in_recorded_path: bool,
    /// Inside a module-level `def __getattr__` (PEP 562).
    in_module_getattr: bool,
    /// The name of that `__getattr__`'s parameter (the attribute read).
    getattr_param: Option<String>,
    /// The module-level function being walked (not inside a nested one): its name and
    /// parameters (position, or None for keyword-only).
    current_function: Option<(String, Parameters)>,
    /// Names `from M import N` bound (relative ones made absolute): name -> `M.N`.
    imported_names: HashMap<String, String>,
    /// Functions the module defines at its top level.
    module_functions: rustc_hash::FxHashSet<String>,
    /// Nesting of class bodies (module-level facts such as `__all__` are only read outside).
    class_depth: u32,
    /// Bindings of the scopes around the current statement, the module's first: what the
    /// value analysis ([`super::values`]) reads names from.
    scopes: Vec<values::Scope>,
    /// The bodies of the classes around the current statement, innermost last.
    classes: Vec<values::Scope>,
    /// Module-level functions that return a path under the module's directory joined with
    /// their arguments (`def resource_path(*parts): return os.path.join(base, *parts)`, the
    /// PyInstaller idiom): name -> (base, which arguments are joined).
    path_helpers: HashMap<String, (PathValue, Vec<HelperArg>)>,
    out: FileImports,
}

impl<'a> ImportWalker<'a> {
    pub(super) fn new(lines: &'a LineIndex, ctx: SourceContext<'a>) -> Self {
        ImportWalker {
            lines,
            ctx,
            condition: Condition::Always,
            in_function: false,
            importlib_names: vec!["importlib".into()],
            import_module_names: Vec::new(),
            module_names: HashMap::default(),
            path_names: HashMap::default(),
            in_recorded_path: false,
            in_module_getattr: false,
            getattr_param: None,
            current_function: None,
            imported_names: HashMap::default(),
            module_functions: Default::default(),
            class_depth: 0,
            scopes: Vec::new(),
            classes: Vec::new(),
            path_helpers: HashMap::default(),
            out: FileImports::default(),
        }
    }

    pub(super) fn walk_module(&mut self, body: &[Stmt]) {
        self.module_functions = body
            .iter()
            .filter_map(|s| match s {
                Stmt::FunctionDef(f) => Some(f.name.to_string()),
                _ => None,
            })
            .collect();
        self.scopes.push(values::Scope::of_body(body));
        self.walk_body(body);
    }

    /// The value analysis over the scopes around the current statement.
    fn values(&self) -> values::Values<'_> {
        let package = if self.ctx.is_package {
            self.ctx.module
        } else {
            self.ctx.module.rsplit_once('.').map_or("", |(p, _)| p)
        };
        let own = (self.ctx.module != "__main__").then_some((self.ctx.module, package));
        values::Values {
            scopes: &self.scopes,
            class: self.classes.last(),
            own,
            body: None,
        }
    }

    /// Every string `expr` can hold with the name `param` holding `value` alone (a parameter
    /// standing for a marker).
    fn strings_with(&self, param: &str, value: &str, expr: &Expr) -> Option<Vec<String>> {
        let mut scopes = self.scopes.clone();
        scopes.push(values::Scope::with_constant(param, value));
        values::Values {
            scopes: &scopes,
            ..self.values()
        }
        .strings(expr)
    }

    /// Every string `expr` can hold, as far as this module spells it out.
    fn strings(&self, expr: &Expr) -> Option<Vec<String>> {
        self.values().strings(expr)
    }

    pub(super) fn finish(mut self) -> FileImports {
        self.out.attributes.sort();
        self.out.attributes.dedup();
        self.out
    }

    /// `module.attr` read through a name an import bound.
    fn attribute_use(&mut self, expr: &Expr) {
        if self.condition >= Condition::OtherPlatform {
            return;
        }
        let Some(name) = dotted(expr) else { return };
        let Some((head, rest)) = name.split_once('.') else {
            return;
        };
        let Some(module) = self.module_names.get(head) else {
            return;
        };
        let rest: Vec<&str> = rest.split('.').take(3).collect();
        self.out
            .attributes
            .push(format!("{module}.{}", rest.join(".")));
    }

    fn walk_body(&mut self, body: &[Stmt]) {
        for stmt in body {
            self.statement(stmt);
        }
    }

    /// Walks `body` under an extra condition (the stricter of the current and the new one).
    fn walk_under(&mut self, condition: Condition, body: &[Stmt]) {
        let saved = self.condition;
        self.condition = saved.max(condition);
        self.walk_body(body);
        self.condition = saved;
    }

    fn statement(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Import(node) => self.import(node),
            Stmt::ImportFrom(node) => self.import_from(node),
            Stmt::FunctionDef(node) => {
                let getattr = self.at_module_level() && node.name.as_str() == "__getattr__";
                for decorator in &node.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                self.visit_parameters(&node.parameters);
                let saved = (self.in_function, self.in_module_getattr);
                self.in_function = true;
                self.in_module_getattr |= getattr;
                if getattr {
                    let p = &node.parameters;
                    self.getattr_param = p
                        .posonlyargs
                        .iter()
                        .chain(&p.args)
                        .next()
                        .map(|a| a.parameter.name.to_string());
                }
                let function = self.current_function.take();
                if !saved.0 && self.class_depth == 0 {
                    let p = &node.parameters;
                    let positional = p.posonlyargs.iter().chain(&p.args).enumerate();
                    let params = positional
                        .map(|(i, a)| (Some(i), a.parameter.name.to_string()))
                        .chain(
                            p.kwonlyargs
                                .iter()
                                .map(|a| (None, a.parameter.name.to_string())),
                        )
                        .collect();
                    self.current_function = Some((node.name.to_string(), params));
                }
                self.scopes.push(values::Scope::of_function(node));
                self.walk_body(&node.body);
                self.scopes.pop();
                self.current_function = function;
                (self.in_function, self.in_module_getattr) = saved;
                if !saved.0 && self.class_depth == 0 {
                    if let Some(helper) = self.path_helper(node) {
                        self.path_helpers.insert(node.name.to_string(), helper);
                    }
                }
            }
            Stmt::ClassDef(node) => {
                for decorator in &node.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                if let Some(arguments) = &node.arguments {
                    self.visit_arguments(arguments);
                }
                self.class_depth += 1;
                self.classes.push(values::Scope::of_class(node));
                self.walk_body(&node.body);
                self.classes.pop();
                self.class_depth -= 1;
            }
            Stmt::If(node) => self.if_statement(node),
            Stmt::Try(node) => self.try_statement(node),
            Stmt::For(node) => {
                self.visit_expr(&node.iter);
                self.walk_body(&node.body);
                self.walk_under(Condition::Branch, &node.orelse);
            }
            Stmt::While(node) => {
                self.visit_expr(&node.test);
                self.walk_body(&node.body);
                self.walk_under(Condition::Branch, &node.orelse);
            }
            Stmt::With(node) => {
                for item in &node.items {
                    self.visit_expr(&item.context_expr);
                }
                self.walk_body(&node.body);
            }
            Stmt::Match(node) => {
                self.visit_expr(&node.subject);
                for case in &node.cases {
                    self.walk_under(Condition::Branch, &case.body);
                }
            }
            Stmt::Assign(node) => {
                if let [Expr::Name(target)] = node.targets.as_slice() {
                    self.assign(target.id.as_str(), &node.value, false);
                }
                // `AVAILABLE_ENTRY_POINTS = importlib_metadata.entry_points()` (catalogue): every
                // group is kept, and read later by names built at run time.
                if let Expr::Call(call) = &*node.value {
                    let last = match &*call.func {
                        Expr::Attribute(a) => a.attr.as_str(),
                        Expr::Name(n) => n.id.as_str(),
                        _ => "",
                    };
                    if last == "entry_points"
                        && call.arguments.args.is_empty()
                        && call.arguments.keywords.is_empty()
                    {
                        let line = self.line_of(call);
                        self.out
                            .entry_point_groups
                            .push((ALL_ENTRY_POINT_GROUPS.to_string(), line));
                    }
                }
                for target in &node.targets {
                    if let Expr::Subscript(sub) = target {
                        self.provides(&sub.value, &sub.slice);
                    }
                    // `__getattr__, __dir__, __all__ = lazy.attach(...)` (lazy_loader and its
                    // copies), or `sys.modules[__name__] = _LazyModule(...)` (transformers):
                    // attributes import submodules by names the package computes.
                    if self.at_module_level() && binds_lazy_getattr(target) {
                        self.out.lazy_getattr = true;
                    }
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::AugAssign(node) => {
                if let Expr::Name(target) = &*node.target {
                    self.assign(target.id.as_str(), &node.value, true);
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::AnnAssign(node) => {
                if let (Expr::Name(target), Some(value)) = (&*node.target, &node.value) {
                    self.assign(target.id.as_str(), value, false);
                }
                visitor::walk_stmt(self, stmt);
            }
            // A bare string statement is a docstring: prose, not references.
            Stmt::Expr(node) if matches!(&*node.value, Expr::StringLiteral(_)) => {}
            Stmt::Return(_)
            | Stmt::Delete(_)
            | Stmt::TypeAlias(_)
            | Stmt::Raise(_)
            | Stmt::Assert(_)
            | Stmt::Expr(_) => visitor::walk_stmt(self, stmt),
            Stmt::Global(_)
            | Stmt::Nonlocal(_)
            | Stmt::Pass(_)
            | Stmt::Break(_)
            | Stmt::Continue(_)
            | Stmt::IpyEscapeCommand(_) => {}
        }
    }

    /// `sys.modules[KEY] = ...` (or `sys.modules.setdefault(KEY, ...)`): the module named
    /// KEY is provided at run time.
    fn provides(&mut self, container: &Expr, key: &Expr) {
        if self.condition >= Condition::OtherPlatform {
            return;
        }
        let is_sys_modules = dotted(container).is_some_and(|d| {
            d == "sys.modules"
                || d.strip_suffix(".modules")
                    .and_then(|head| self.module_names.get(head))
                    .is_some_and(|m| m == "sys")
        });
        if !is_sys_modules {
            return;
        }
        let line = self.line_of(key);
        for name in self.strings(key).unwrap_or_default() {
            if is_module_name(&name) {
                self.out.provides.push((name, line));
            }
        }
    }

    fn line_of(&self, node: &impl Ranged) -> u32 {
        self.lines.line(node.start())
    }

    fn request(&mut self, module: String, level: u32, names: Vec<String>, line: u32, via: Via) {
        self.out.imports.push(ImportRequest {
            module,
            level,
            names,
            line,
            condition: self.condition,
            in_function: self.in_function,
            via,
            fallback_for: Vec::new(),
        });
    }

    fn import(&mut self, node: &StmtImport) {
        let line = self.line_of(node);
        for alias in &node.names {
            let name = alias.name.as_str().to_string();
            match &alias.asname {
                Some(bound) => self
                    .module_names
                    .insert(bound.as_str().to_string(), name.clone()),
                None => {
                    let top = name.split('.').next().unwrap_or_default().to_string();
                    self.module_names.insert(top.clone(), top)
                }
            };
            if name == "importlib" {
                let bound = alias.asname.as_ref().map_or("importlib", |a| a.as_str());
                self.importlib_names.push(bound.to_string());
            }
            self.request(name, 0, Vec::new(), line, Via::Statement);
        }
    }

    fn import_from(&mut self, node: &StmtImportFrom) {
        let line = self.line_of(node);
        let module = node.module.as_ref().map_or("", |m| m.as_str()).to_string();
        let names: Vec<String> = node
            .names
            .iter()
            .map(|a| a.name.as_str().to_string())
            .collect();
        if node.level == 0 && !module.is_empty() {
            for alias in &node.names {
                let bound = alias
                    .asname
                    .as_ref()
                    .unwrap_or(&alias.name)
                    .as_str()
                    .to_string();
                self.module_names
                    .insert(bound, format!("{module}.{}", alias.name.as_str()));
            }
        }
        let absolute = if node.level == 0 {
            Some(module.clone())
        } else {
            let package = if self.ctx.is_package {
                self.ctx.module
            } else {
                self.ctx.module.rsplit_once('.').map_or("", |(p, _)| p)
            };
            let mut base = package;
            for _ in 1..node.level {
                base = base.rsplit_once('.').map_or("", |(p, _)| p);
            }
            (!base.is_empty()).then(|| match module.as_str() {
                "" => base.to_string(),
                m => format!("{base}.{m}"),
            })
        };
        if let Some(absolute) = absolute.filter(|a| !a.is_empty()) {
            for alias in &node.names {
                let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                self.imported_names.insert(
                    bound.to_string(),
                    format!("{absolute}.{}", alias.name.as_str()),
                );
            }
        }
        if node.level == 0 && module == "importlib" {
            for alias in &node.names {
                if alias.name.as_str() == "import_module" {
                    let bound = alias
                        .asname
                        .as_ref()
                        .map_or("import_module", |a| a.as_str());
                    self.import_module_names.push(bound.to_string());
                }
            }
        }
        self.request(module, node.level, names, line, Via::Statement);
    }

    /// A use of a function that reads source ([`SOURCE_READERS`]), through the names imports
    /// bound: `inspect.getsource`, `ins.getsource` after `import inspect as ins`, `getsource`
    /// after `from inspect import getsource`, `jit.script` after `from torch import jit`.
    fn source_read(&mut self, expr: &Expr) {
        if self.condition >= Condition::OtherPlatform {
            return;
        }
        // Most expressions start from no imported module: look that up before building names.
        let Some(module) = dotted_head(expr).and_then(|head| self.module_names.get(head)) else {
            return;
        };
        let Some(name) = dotted(expr) else { return };
        let rest = name.split_once('.').map(|(_, rest)| rest);
        let call = match rest {
            Some(rest) => format!("{module}.{rest}"),
            None => module.clone(),
        };
        if SOURCE_READERS.contains(&call.as_str()) {
            let line = self.line_of(expr);
            self.out.source_reads.push(SourceRead { call, line });
        }
    }

    fn at_module_level(&self) -> bool {
        !self.in_function && self.class_depth == 0
    }

    /// Records what an assignment tells: `__all__`, and names bound to `__file__` paths.
    fn assign(&mut self, name: &str, value: &Expr, augmented: bool) {
        if name == "__all__" && self.at_module_level() {
            let items = match value {
                Expr::List(l) => Some(&l.elts),
                Expr::Tuple(t) => Some(&t.elts),
                _ => None,
            };
            if let Some(items) = items {
                let names: Vec<String> = items.iter().filter_map(string_literal).collect();
                match (&mut self.out.all, augmented) {
                    (Some(all), true) => all.extend(names),
                    (all, _) => *all = Some(names),
                }
            }
            return;
        }
        if let Some(path) = self.path_value(value) {
            self.path_names.insert(name.to_string(), path);
        }
    }

    /// Evaluates expressions that compute a path from `__file__` with literal names.
    fn path_value(&self, expr: &Expr) -> Option<PathValue> {
        match expr {
            // `sys._MEIPASS if getattr(sys, "frozen", False) else os.path.dirname(__file__)`:
            // code written for PyInstaller; kiln's `_MEIPASS` is the entry's directory too.
            Expr::If(i) => self
                .path_value(&i.body)
                .or_else(|| self.path_value(&i.orelse)),
            Expr::Attribute(a)
                if a.attr.as_str() == "_MEIPASS"
                    && matches!(&*a.value, Expr::Name(n) if n.id.as_str() == "sys")
                    && self.ctx.module == "__main__" =>
            {
                Some(PathValue::Relative(Vec::new()))
            }
            Expr::Name(n) if n.id.as_str() == "__file__" => Some(PathValue::File),
            Expr::Name(n) => self.path_names.get(n.id.as_str()).cloned(),
            Expr::Attribute(a) if a.attr.as_str() == "parent" => {
                self.path_value(&a.value)?.parent()
            }
            Expr::Subscript(sub) => {
                // Path(__file__).parents[n]
                let Expr::Attribute(a) = &*sub.value else {
                    return None;
                };
                if a.attr.as_str() != "parents" {
                    return None;
                }
                let Expr::NumberLiteral(n) = &*sub.slice else {
                    return None;
                };
                let n = n.value.as_int()?.as_u64()?;
                let mut v = self.path_value(&a.value)?.parent()?;
                for _ in 0..n {
                    v = v.parent()?;
                }
                Some(v)
            }
            Expr::BinOp(b) if b.op == Operator::Div => self
                .path_value(&b.left)?
                .join(&self.one_component(&b.right)?),
            Expr::Call(call) => {
                let args = &call.arguments.args;
                let func = match &*call.func {
                    Expr::Attribute(a)
                        if matches!(a.attr.as_str(), "resolve" | "absolute" | "expanduser") =>
                    {
                        return self.path_value(&a.value);
                    }
                    Expr::Attribute(a) if a.attr.as_str() == "joinpath" => {
                        let mut v = self.path_value(&a.value)?;
                        for arg in args.iter() {
                            v = v.join(&self.one_component(arg)?)?;
                        }
                        return Some(v);
                    }
                    other => dotted(other)?,
                };
                let last = func.rsplit('.').next().unwrap_or_default();
                match last {
                    "dirname" => self.path_value(args.first()?)?.parent(),
                    "abspath" | "realpath" | "normpath" | "str" | "fspath" => {
                        self.path_value(args.first()?)
                    }
                    "join" | "Path" | "PurePath" | "PosixPath" => {
                        let mut v = self.path_value(args.first()?)?;
                        for arg in args.iter().skip(1) {
                            v = v.join(&self.one_component(arg)?)?;
                        }
                        Some(v)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Records a `__file__`-based path that names something (`HERE / "templates"`).
    fn path_reference(&mut self, expr: &Expr) {
        let is_path_building = match expr {
            Expr::BinOp(b) => b.op == Operator::Div,
            Expr::Call(c) => match &*c.func {
                Expr::Attribute(a) if a.attr.as_str() == "joinpath" => true,
                Expr::Name(n) if self.path_helpers.contains_key(n.id.as_str()) => true,
                other => dotted(other)
                    .is_some_and(|d| d == "os.path.join" || d == "path.join" || d == "join"),
            },
            _ => false,
        };
        if !is_path_building || self.condition >= Condition::OtherPlatform {
            return;
        }
        for value in self.path_values(expr) {
            if let PathValue::Relative(parts) = value {
                if parts.last().is_some_and(|p| p != "..") {
                    self.out.paths.push(PathReference {
                        path: parts.join("/"),
                        line: self.line_of(expr),
                        search_path: false,
                    });
                    self.in_recorded_path = true;
                }
            }
        }
    }

    /// A function whose last statement returns its own directory (or a path under it) joined
    /// with its parameters.
    fn path_helper(
        &self,
        def: &ruff_python_ast::StmtFunctionDef,
    ) -> Option<(PathValue, Vec<HelperArg>)> {
        let Some(Stmt::Return(ret)) = def.body.last() else {
            return None;
        };
        let value = ret.value.as_deref()?;
        let positional: Vec<&str> = def
            .parameters
            .posonlyargs
            .iter()
            .chain(&def.parameters.args)
            .map(|p| p.parameter.name.as_str())
            .collect();
        let vararg = def.parameters.vararg.as_ref().map(|v| v.name.as_str());
        let arg_of = |e: &Expr| -> Option<HelperArg> {
            match e {
                Expr::Name(n) => positional
                    .iter()
                    .position(|p| *p == n.id.as_str())
                    .map(HelperArg::Param),
                Expr::Starred(s) => match &*s.value {
                    Expr::Name(n) if Some(n.id.as_str()) == vararg => {
                        Some(HelperArg::Rest(positional.len()))
                    }
                    _ => None,
                },
                other => string_literal(other).map(HelperArg::Literal),
            }
        };
        let (base, rest): (&Expr, Vec<&Expr>) = match value {
            Expr::Call(call)
                if dotted(&call.func).is_some_and(|d| d == "os.path.join" || d == "join") =>
            {
                let (first, rest) = call.arguments.args.split_first()?;
                (first, rest.iter().collect())
            }
            Expr::BinOp(b) if b.op == Operator::Div => (&b.left, vec![&*b.right]),
            _ => return None,
        };
        let base = self.path_value(base)?;
        let args: Vec<HelperArg> = rest.into_iter().map(arg_of).collect::<Option<_>>()?;
        (!args.is_empty()).then_some((base, args))
    }

    /// `resource_path("data", "config.json")` for a [`path_helper`](Self::path_helper): the
    /// path it returns, when the arguments are strings the module spells out.
    fn helper_path(&self, call: &ruff_python_ast::ExprCall) -> Option<PathValue> {
        let Expr::Name(n) = &*call.func else {
            return None;
        };
        let (base, args) = self.path_helpers.get(n.id.as_str())?;
        let given = &call.arguments.args;
        let mut v = base.clone();
        for arg in args {
            match arg {
                HelperArg::Literal(s) => v = v.join(s)?,
                &HelperArg::Param(i) => v = v.join(&self.one_component(given.get(i)?)?)?,
                &HelperArg::Rest(from) => {
                    for a in given.iter().skip(from) {
                        v = v.join(&self.one_component(a)?)?;
                    }
                }
            }
        }
        Some(v)
    }

    /// A path component the module spells out as one string (a literal, or a value the value
    /// analysis finds exactly one of).
    fn one_component(&self, expr: &Expr) -> Option<String> {
        string_literal(expr).or_else(|| {
            let mut values = self.strings(expr)?;
            (values.len() == 1).then(|| values.remove(0))
        })
    }

    /// Every path a join of a `__file__` path with components can give, when a component may
    /// hold several strings (`f"libfoo{ext}"` with `ext` one of `.so` or `.dylib`): the
    /// resolver keeps the ones that exist.
    fn path_values(&self, expr: &Expr) -> Vec<PathValue> {
        if let Some(v) = self.path_value(expr) {
            return vec![v];
        }
        if let Expr::Call(call) = expr {
            if let Some(v) = self.helper_path(call) {
                return vec![v];
            }
        }
        let (base, components): (&Expr, Vec<&Expr>) = match expr {
            Expr::BinOp(b) if b.op == Operator::Div => (&b.left, vec![&*b.right]),
            Expr::Call(call) => match &*call.func {
                Expr::Attribute(a) if a.attr.as_str() == "joinpath" => {
                    (&a.value, call.arguments.args.iter().collect())
                }
                other if dotted(other).is_some_and(|d| d.ends_with("join")) => {
                    let Some((first, rest)) = call.arguments.args.split_first() else {
                        return Vec::new();
                    };
                    (first, rest.iter().collect())
                }
                _ => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        let Some(base) = self.path_value(base) else {
            return Vec::new();
        };
        let mut out = vec![base];
        for component in components {
            let Some(values) = string_literal(component)
                .map(|s| vec![s])
                .or_else(|| self.strings(component))
            else {
                return Vec::new();
            };
            out = out
                .iter()
                .flat_map(|v| values.iter().filter_map(|c| v.clone().join(c)))
                .collect();
            if out.len() > 16 {
                return Vec::new();
            }
        }
        out
    }

    /// The package an expression names, for discovery calls.
    fn scan_target(&self, expr: &Expr) -> Option<ScanTarget> {
        match expr {
            Expr::Name(n) if matches!(n.id.as_str(), "__path__" | "__name__" | "__package__") => {
                Some(ScanTarget::OwnPackage)
            }
            Expr::Attribute(a) if a.attr.as_str() == "__path__" => {
                let name = dotted(&a.value)?;
                let (head, rest) = name
                    .split_once('.')
                    .map_or((name.as_str(), None), |(h, r)| (h, Some(r)));
                let module = self
                    .module_names
                    .get(head)
                    .cloned()
                    .unwrap_or_else(|| head.to_string());
                Some(ScanTarget::Named(match rest {
                    Some(rest) => format!("{module}.{rest}"),
                    None => module,
                }))
            }
            Expr::Attribute(a) if dotted(expr).as_deref() == Some("__spec__.parent") => {
                let _ = a;
                Some(ScanTarget::OwnPackage)
            }
            Expr::StringLiteral(s) => Some(ScanTarget::Named(s.value.to_str().to_string())),
            Expr::Name(n) => self
                .module_names
                .get(n.id.as_str())
                .cloned()
                .map(ScanTarget::Named),
            Expr::List(l) if l.elts.len() == 1 => match self.path_value(&l.elts[0])? {
                PathValue::Relative(parts) if parts.is_empty() => Some(ScanTarget::OwnPackage),
                _ => None,
            },
            _ => None,
        }
    }

    /// Discovery calls, entry point groups and `sys.path` additions.
    fn discovery(&mut self, call: &ruff_python_ast::ExprCall) {
        let line = self.line_of(call);
        let func = dotted(&call.func).unwrap_or_default();
        let last = match &*call.func {
            Expr::Attribute(a) => a.attr.as_str(),
            Expr::Name(n) => n.id.as_str(),
            _ => "",
        };
        let first_arg = call.arguments.args.first();
        match last {
            "iter_modules" | "walk_packages" | "files" | "contents" => {
                let arg = call.arguments.find_argument_value("path", 0).or(first_arg);
                let scanning = match last {
                    "iter_modules" | "walk_packages" => func.starts_with("pkgutil") || func == last,
                    _ => {
                        func.contains("resources")
                            || self
                                .module_names
                                .get(last)
                                .is_some_and(|m| m.contains("resources"))
                    }
                };
                if let (true, Some(arg)) = (scanning, arg) {
                    if let Some(target) = self.scan_target(arg) {
                        self.out.scans.push(PackageScan {
                            target,
                            line,
                            condition: self.condition,
                        });
                    }
                }
            }
            // `iter_entry_points(GROUP)` (pkg_resources), and a plugin manager's method named
            // for what it does: `load_setuptools_entrypoints("pytest11")` (pluggy).
            "entry_points" | "select" | "iter_entry_points" | "load_entry_points" => {
                self.entry_point_groups(call, last != "entry_points" && last != "select", line)
            }
            name if name.ends_with("_entrypoints") || name.ends_with("_entry_points") => {
                self.entry_point_groups(call, true, line)
            }
            // `lazy.attach_stub(__name__, __file__)` (lazy_loader): the package reads its own
            // `.pyi` stub at run time to learn which submodules its attributes import.
            "attach_stub"
                if matches!(
                    call.arguments.find_argument_value("filename", 1),
                    Some(Expr::Name(n)) if n.id.as_str() == "__file__"
                ) =>
            {
                let stem = if self.ctx.is_package {
                    "__init__"
                } else {
                    self.ctx.module.rsplit('.').next().unwrap_or_default()
                };
                self.out.paths.push(PathReference {
                    path: format!("{stem}.pyi"),
                    line,
                    search_path: false,
                });
            }
            "insert" | "append" | "addsitedir" => {
                let target = dotted(&call.func).unwrap_or_default();
                let value = match last {
                    "insert" if target == "sys.path.insert" => call.arguments.args.get(1),
                    "append" if target == "sys.path.append" => first_arg,
                    "addsitedir" => first_arg,
                    _ => None,
                };
                let runs = self.condition < Condition::OtherPlatform;
                if let Some(PathValue::Relative(parts)) =
                    value.filter(|_| runs).and_then(|v| self.path_value(v))
                {
                    self.out.paths.push(PathReference {
                        path: parts.join("/"),
                        line,
                        search_path: true,
                    });
                }
            }
            _ => {}
        }
        // entry_points()["group"] and entry_points().get("group") are handled in visit_expr.
    }

    fn if_statement(&mut self, node: &StmtIf) {
        self.visit_expr(&node.test);
        // Outcome of each clause on the target: Some(true) runs, Some(false) never runs.
        let mut any_true = false;
        let mut all_false = true;
        let mut clauses: Vec<(Option<&Expr>, &[Stmt])> = vec![(Some(&node.test), &node.body)];
        clauses.extend(
            node.elif_else_clauses
                .iter()
                .map(|c: &ElifElseClause| (c.test.as_ref(), c.body.as_slice())),
        );
        for (test, body) in clauses {
            if let Some(test) = test {
                if !std::ptr::eq(test, &*node.test) {
                    self.visit_expr(test);
                }
            }
            let condition = match test {
                _ if any_true => Condition::OtherPlatform,
                None if all_false => Condition::Always,
                None => Condition::Branch,
                Some(test) if is_type_checking(test) => {
                    all_false = false;
                    Condition::TypeChecking
                }
                Some(test) => match self.static_truth(test) {
                    Some(true) => {
                        any_true = true;
                        Condition::Always
                    }
                    Some(false) => Condition::OtherPlatform,
                    None => {
                        all_false = false;
                        Condition::Branch
                    }
                },
            };
            // `if TYPE_CHECKING: ... else: import x` runs x at run time.
            let condition =
                if test.is_none() && condition == Condition::Branch && type_checking_only(node) {
                    Condition::Always
                } else {
                    condition
                };
            // A library's `if __name__ == "__main__":` block runs only when it is itself
            // started as a program, like a function that is called: its imports (a self-test's
            // doctest) are not the library's.
            let saved = self.in_function;
            if test.is_some_and(is_main_test) && self.ctx.module != "__main__" {
                self.in_function = true;
            }
            self.walk_under(condition, body);
            self.in_function = saved;
        }
    }

    fn try_statement(&mut self, node: &StmtTry) {
        let guarded = node.handlers.iter().any(catches_import_error);
        let body_condition = if guarded {
            Condition::Optional
        } else {
            Condition::Always
        };
        let first = self.out.imports.len();
        self.walk_under(body_condition, &node.body);
        let tried: Vec<String> = if guarded {
            self.out.imports[first..]
                .iter()
                .filter(|r| r.level == 0 && r.via == Via::Statement)
                .map(|r| r.module.clone())
                .collect()
        } else {
            Vec::new()
        };
        for handler in &node.handlers {
            let ExceptHandler::ExceptHandler(h) = handler;
            let first = self.out.imports.len();
            self.walk_under(Condition::Branch, &h.body);
            if catches_import_error(handler) && !tried.is_empty() {
                for r in &mut self.out.imports[first..] {
                    if r.fallback_for.is_empty() {
                        r.fallback_for = tried.clone();
                    }
                }
            }
        }
        self.walk_under(body_condition, &node.orelse);
        self.walk_body(&node.finalbody);
    }

    /// Evaluates tests whose value is known for the target: platform checks and the entry
    /// script's `if __name__ == "__main__":`.
    fn static_truth(&self, test: &Expr) -> Option<bool> {
        match test {
            Expr::UnaryOp(u) if matches!(u.op, ruff_python_ast::UnaryOp::Not) => {
                self.static_truth(&u.operand).map(|b| !b)
            }
            Expr::BoolOp(b) => {
                let values: Vec<Option<bool>> =
                    b.values.iter().map(|v| self.static_truth(v)).collect();
                match b.op {
                    ruff_python_ast::BoolOp::And => {
                        if values.contains(&Some(false)) {
                            Some(false)
                        } else if values.iter().all(|v| *v == Some(true)) {
                            Some(true)
                        } else {
                            None
                        }
                    }
                    ruff_python_ast::BoolOp::Or => {
                        if values.contains(&Some(true)) {
                            Some(true)
                        } else if values.iter().all(|v| *v == Some(false)) {
                            Some(false)
                        } else {
                            None
                        }
                    }
                }
            }
            Expr::Compare(c) if c.ops.len() == 1 => {
                if let Some(truth) = self.version_test(c) {
                    return Some(truth);
                }
                let fact = self.known_value(&c.left)?;
                let right = &c.comparators[0];
                match c.ops[0] {
                    CmpOp::Eq => Some(fact == string_literal(right)?),
                    CmpOp::NotEq => Some(fact != string_literal(right)?),
                    CmpOp::In | CmpOp::NotIn => {
                        let items = match right {
                            Expr::Tuple(t) => &t.elts,
                            Expr::List(l) => &l.elts,
                            Expr::Set(s) => &s.elts,
                            _ => return None,
                        };
                        let strings: Option<Vec<String>> =
                            items.iter().map(string_literal).collect();
                        let found = strings?.contains(&fact);
                        Some(if c.ops[0] == CmpOp::In { found } else { !found })
                    }
                    _ => None,
                }
            }
            Expr::Call(call) => {
                // sys.platform.startswith("win")
                let Expr::Attribute(attr) = &*call.func else {
                    return None;
                };
                if attr.attr.as_str() != "startswith" || call.arguments.args.len() != 1 {
                    return None;
                }
                let fact = self.known_value(&attr.value)?;
                let arg = &call.arguments.args[0];
                let prefixes: Vec<String> = match arg {
                    Expr::Tuple(t) => t.elts.iter().map(string_literal).collect::<Option<_>>()?,
                    other => vec![string_literal(other)?],
                };
                Some(prefixes.iter().any(|p| fact.starts_with(p.as_str())))
            }
            _ => None,
        }
    }

    /// `sys.version_info` compared with a literal: `sys.version_info >= (3, 12)`,
    /// `sys.version_info[:2] < (3, 11)`, `sys.version_info.minor == 11`, `sys.version_info[0] > 2`.
    /// Comparisons decided by the unknown release level (a literal longer than three
    /// items) stay undecided.
    fn version_test(&self, c: &ruff_python_ast::ExprCompare) -> Option<bool> {
        use std::cmp::Ordering;
        let version = &self.ctx.version;
        // The target's side of the comparison, and whether the real tuple continues past it.
        let (ours, continues): (Vec<u64>, bool) = match &*c.left {
            Expr::Subscript(s) if dotted(&s.value).as_deref() == Some("sys.version_info") => {
                match &*s.slice {
                    Expr::Slice(sl) if sl.lower.is_none() && sl.step.is_none() => {
                        let upper = usize::try_from(int_literal(sl.upper.as_deref()?)?).ok()?;
                        if upper > 3 {
                            return None;
                        }
                        (
                            version[..upper].iter().map(|&v| u64::from(v)).collect(),
                            false,
                        )
                    }
                    index => {
                        let i = usize::try_from(int_literal(index)?).ok()?;
                        (vec![u64::from(*version.get(i)?)], false)
                    }
                }
            }
            Expr::Attribute(a) if dotted(&a.value).as_deref() == Some("sys.version_info") => {
                let i = match a.attr.as_str() {
                    "major" => 0,
                    "minor" => 1,
                    "micro" => 2,
                    _ => return None,
                };
                (vec![u64::from(version[i])], false)
            }
            other if dotted(other).as_deref() == Some("sys.version_info") => {
                (version.iter().map(|&v| u64::from(v)).collect(), true)
            }
            _ => return None,
        };
        let right = &c.comparators[0];
        let theirs: Vec<u64> = match right {
            Expr::Tuple(t) => t.elts.iter().map(int_literal).collect::<Option<_>>()?,
            single if ours.len() == 1 && !continues => vec![int_literal(single)?],
            _ => return None,
        };
        let order = if continues {
            // (3, 11, 7, 'final', 0) against at most three numbers: an equal prefix leaves
            // the real tuple greater, since it is longer.
            if theirs.len() > ours.len() {
                return None;
            }
            ours[..theirs.len()]
                .cmp(&theirs[..])
                .then(Ordering::Greater)
        } else {
            ours.cmp(&theirs)
        };
        Some(match c.ops[0] {
            CmpOp::Lt => order == Ordering::Less,
            CmpOp::LtE => order != Ordering::Greater,
            CmpOp::Gt => order == Ordering::Greater,
            CmpOp::GtE => order != Ordering::Less,
            CmpOp::Eq => order == Ordering::Equal,
            CmpOp::NotEq => order != Ordering::Equal,
            _ => return None,
        })
    }

    /// Values known at build time: `sys.platform`, `os.name`, `platform.system()`, `__name__`.
    fn known_value(&self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::Attribute(a) => match (dotted(&a.value)?.as_str(), a.attr.as_str()) {
                ("sys", "platform") => Some(self.ctx.platform.to_string()),
                ("os", "name") => Some(
                    if self.ctx.platform == "win32" {
                        "nt"
                    } else {
                        "posix"
                    }
                    .into(),
                ),
                _ => None,
            },
            Expr::Call(c) if c.arguments.args.is_empty() => match dotted(&c.func)?.as_str() {
                "platform.system" => Some(
                    match self.ctx.platform {
                        "linux" => "Linux",
                        "darwin" => "Darwin",
                        "win32" => "Windows",
                        other => other,
                    }
                    .to_string(),
                ),
                _ => None,
            },
            // Only the entry script knows its `__name__`; any other module may also be run as one.
            Expr::Name(n) if n.id.as_str() == "__name__" && self.ctx.module == "__main__" => {
                Some("__main__".to_string())
            }
            _ => None,
        }
    }

    /// `[sys.executable, ..., "-c", CODE]` or `[..., "-m", MODULE]` handed to any call
    /// (subprocess, os.exec*, multiprocessing helpers): the child interpreter's imports.
    fn child_interpreter(&mut self, call: &ruff_python_ast::ExprCall) {
        for arg in call.arguments.args.iter() {
            let elts = match arg {
                Expr::List(l) => &l.elts,
                Expr::Tuple(t) => &t.elts,
                _ => continue,
            };
            if elts.first().and_then(dotted).as_deref() != Some("sys.executable") {
                continue;
            }
            let line = self.line_of(call);
            let mut items = elts.iter().skip(1);
            while let Some(item) = items.next() {
                match string_literal(item).as_deref() {
                    Some("-c") => {
                        let Some(code) = items.next().and_then(string_literal) else {
                            break;
                        };
                        let ctx = SourceContext {
                            module: "__main__",
                            ..self.ctx
                        };
                        if let Ok(found) = super::analyse_source(&code, ctx) {
                            for r in found.imports {
                                let names = r.names.clone();
                                self.request(r.module, r.level, names, line, Via::ChildInterpreter);
                            }
                        }
                        break;
                    }
                    Some("-m") => {
                        if let Some(module) = items.next().and_then(string_literal) {
                            self.request(module, 0, Vec::new(), line, Via::ChildInterpreter);
                            self.request(
                                "runpy".into(),
                                0,
                                Vec::new(),
                                line,
                                Via::ChildInterpreter,
                            );
                        }
                        break;
                    }
                    // Options that take a value: skip the value too.
                    Some("-X" | "-W") => {
                        items.next();
                    }
                    Some(flag) if flag.starts_with('-') => continue,
                    _ => break,
                }
            }
        }
    }

    /// `__name__`, `__package__` or `__spec__.parent` of the analysed module, as a name.
    fn own_name(&self, expr: &Expr) -> Option<String> {
        if self.ctx.module == "__main__" {
            return None;
        }
        let package = if self.ctx.is_package {
            self.ctx.module
        } else {
            self.ctx.module.rsplit_once('.').map_or("", |(p, _)| p)
        };
        match dotted(expr)?.as_str() {
            "__name__" => Some(self.ctx.module.to_string()),
            "__package__" | "__spec__.parent" if !package.is_empty() => Some(package.to_string()),
            _ => None,
        }
    }

    /// Module names built from the module's own name: `__package__ + ".fft"`,
    /// `f"{__name__}.backends.{kind}"`. Returns the absolute name and whether it is complete
    /// (false when a computed part follows).
    fn own_relative_name(&self, expr: &Expr) -> Option<(String, bool)> {
        match expr {
            Expr::BinOp(b) if b.op == Operator::Add => {
                let (base, complete) = match self.own_relative_name(&b.left) {
                    Some(found) => found,
                    None => (self.own_name(&b.left)?, true),
                };
                if !complete {
                    return Some((base, false));
                }
                Some(match string_literal(&b.right) {
                    Some(rest) => (base + &rest, true),
                    None => (base, false),
                })
            }
            Expr::FString(f) => {
                let mut elements = f.value.elements();
                let InterpolatedStringElement::Interpolation(first) = elements.next()? else {
                    return None;
                };
                let mut name = self.own_name(&first.expression)?;
                for element in elements {
                    match element {
                        InterpolatedStringElement::Literal(l) => name.push_str(&l.value),
                        InterpolatedStringElement::Interpolation(_) => return Some((name, false)),
                    }
                }
                Some((name, true))
            }
            _ => None,
        }
    }

    /// A module-level function that imports what one of its parameters names: the value
    /// analysis reads the name with each parameter in turn standing for a marker.
    fn import_wrapper(&mut self, arg: &Expr) {
        const MARKER: &str = "\0Parameter";
        let Some((function, params)) = &self.current_function else {
            return;
        };
        if self.condition >= Condition::OtherPlatform {
            return;
        }
        for (position, param) in params {
            let Some(names) = self.strings_with(param, MARKER, arg) else {
                continue;
            };
            let Some((prefix, suffix)) = names.first().and_then(|n| n.split_once(MARKER)) else {
                continue;
            };
            if names.len() == 1 && !suffix.contains(MARKER) {
                self.out
                    .import_wrappers
                    .push(crate::analyse::ImportWrapper {
                        function: function.clone(),
                        position: *position,
                        param: param.clone(),
                        prefix: prefix.to_string(),
                        suffix: suffix.to_string(),
                        condition: self.condition,
                    });
                return;
            }
        }
    }

    /// A call of an imported function, or of one the module defines, with a literal argument
    /// that could be a module name: an import when the function is an import wrapper (which
    /// only the resolver knows, from the callee's module).
    fn named_call(&mut self, call: &ruff_python_ast::ExprCall) {
        if self.condition >= Condition::OtherPlatform {
            return;
        }
        let literal = |e: &Expr| -> Vec<String> {
            string_literal(e)
                .filter(|s| is_module_name(s))
                .into_iter()
                .collect()
        };
        let args: Vec<Vec<String>> = call.arguments.args.iter().take(4).map(literal).collect();
        let keywords: Vec<(String, Vec<String>)> = call
            .arguments
            .keywords
            .iter()
            .filter_map(|k| Some((k.arg.as_ref()?.to_string(), literal(&k.value))))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if args.iter().all(Vec::is_empty) && keywords.is_empty() {
            return;
        }
        let callee = match &*call.func {
            Expr::Name(n) => match self.imported_names.get(n.id.as_str()) {
                Some(full) => full.clone(),
                None if self.module_functions.contains(n.id.as_str()) => {
                    format!("{}.{}", self.ctx.module, n.id.as_str())
                }
                None => return,
            },
            other => {
                let Some(module) = dotted_head(other).and_then(|head| {
                    self.module_names
                        .get(head)
                        .or_else(|| self.imported_names.get(head))
                }) else {
                    return;
                };
                let Some(rest) = dotted(other).and_then(|d| Some(d.split_once('.')?.1.to_string()))
                else {
                    return;
                };
                format!("{module}.{rest}")
            }
        };
        let line = self.line_of(call);
        self.out.calls.push(crate::analyse::NamedCall {
            callee,
            args,
            keywords,
            line,
            condition: self.condition,
            in_function: self.in_function,
        });
    }

    /// The entry point groups a call reads: its `group=` keyword, or (`positional`) its first
    /// argument.
    fn entry_point_groups(
        &mut self,
        call: &ruff_python_ast::ExprCall,
        positional: bool,
        line: u32,
    ) {
        let groups = call
            .arguments
            .find_keyword("group")
            .map(|k| &k.value)
            .or(if positional {
                call.arguments.args.first()
            } else {
                None
            })
            .and_then(|g| self.strings(g))
            .unwrap_or_default();
        for group in groups {
            self.out.entry_point_groups.push((group, line));
        }
    }

    /// Whether `arg`, imported in the module-level `__getattr__` of this package, is always the
    /// package's submodule that the attribute read names: `f"{__name__}.{name}"`,
    /// `"scipy." + name`, or `"." + name` relative to this package (`relative_to_self`). The
    /// value analysis reads it with the parameter standing for a marker.
    fn names_attribute_submodule(&self, arg: &Expr, relative_to_self: bool) -> bool {
        // Mixed case: `name.lower()` or `name.upper()` is another name.
        const MARKER: &str = "\0Attribute";
        let Some(param) = &self.getattr_param else {
            return false;
        };
        if !self.ctx.is_package {
            return false;
        }
        let absolute = format!("{}.{MARKER}", self.ctx.module);
        let relative = format!(".{MARKER}");
        self.strings_with(param, MARKER, arg).is_some_and(|names| {
            !names.is_empty()
                && names
                    .iter()
                    .all(|n| *n == absolute || (relative_to_self && *n == relative))
        })
    }

    /// `importlib.import_module(...)` and `__import__(...)` calls.
    fn call(&mut self, call: &ruff_python_ast::ExprCall) {
        self.child_interpreter(call);
        let via = match &*call.func {
            Expr::Name(n) if n.id.as_str() == "__import__" => Via::DunderImport,
            Expr::Name(n) if self.import_module_names.iter().any(|m| m == n.id.as_str()) => {
                Via::ImportModule
            }
            Expr::Attribute(a)
                if a.attr.as_str() == "import_module"
                    && matches!(&*a.value, Expr::Name(n) if self.importlib_names.iter().any(|m| m == n.id.as_str())) =>
            {
                Via::ImportModule
            }
            _ => return,
        };
        let Some(arg) = call.arguments.find_argument_value("name", 0) else {
            return;
        };
        let line = self.line_of(call);
        // `__import__("region_%s" % code, globals(), locals(), [...], 1)`: a name relative to
        // the importer's package, as `from . import region_US` (phonenumbers' metadata).
        let dunder_level = (via == Via::DunderImport)
            .then(|| call.arguments.find_argument_value("level", 4))
            .flatten()
            .and_then(int_literal)
            .filter(|&l| (1..=16).contains(&l))
            .map(|l| ".".repeat(l as usize));
        let relative = |name: String| match &dunder_level {
            Some(dots) if !name.starts_with('.') => format!("{dots}{name}"),
            _ => name,
        };
        // `import_module(name, package)`: the package may be passed by position too.
        let package = match via {
            Via::ImportModule => call.arguments.find_argument_value("package", 1),
            _ => call.arguments.find_keyword("package").map(|k| &k.value),
        };
        let relative_to_self = dunder_level.is_some()
            || package.is_some_and(|p| {
                matches!(p, Expr::Name(n) if matches!(n.id.as_str(), "__name__" | "__package__"))
                    || dotted(p).as_deref() == Some("__spec__.parent")
            });
        let package_literal = package
            .and_then(|p| self.strings(p))
            .and_then(|mut v| (v.len() == 1).then(|| v.remove(0)));
        if self.in_module_getattr && self.names_attribute_submodule(arg, relative_to_self) {
            self.out.getattr_submodules = true;
            return;
        }
        if package.is_none() && dunder_level.is_none() {
            self.import_wrapper(arg);
        }
        if let Some((name, complete)) = self.own_relative_name(arg) {
            if complete {
                self.request(name, 0, Vec::new(), line, via);
            } else if self.in_module_getattr {
                self.out.lazy_getattr = true;
            } else if let Some(cut) = name.rfind('.') {
                self.out.dynamic.push(DynamicImport {
                    prefix: name[..=cut].to_string(),
                    suffix: None,
                    level: 0,
                    line,
                    condition: self.condition,
                });
            }
            return;
        }
        // A literal, or every string the value analysis says the argument can hold.
        let computed = match string_literal(arg) {
            Some(name) => Some(vec![name]),
            None => self
                .strings(arg)
                .map(|v| {
                    v.into_iter()
                        .filter(|n| is_module_name(n))
                        .collect::<Vec<_>>()
                })
                .filter(|v| !v.is_empty()),
        };
        match computed {
            Some(candidates) => {
                // One of several values runs; which one the analysis cannot tell.
                let saved = self.condition;
                if candidates.len() > 1 {
                    self.condition = self.condition.max(Condition::Branch);
                }
                for name in candidates {
                    let name = relative(name);
                    let (level, rest) = split_relative(&name);
                    let (module, level) = match (level, &package_literal) {
                        (0, _) => (rest.to_string(), 0),
                        (n, Some(pkg)) => (absolute_from_package(pkg, n, rest), 0),
                        (n, None) if relative_to_self => (rest.to_string(), n),
                        _ => continue,
                    };
                    let names = if via == Via::DunderImport {
                        call.arguments
                            .find_argument_value("fromlist", 3)
                            .map(string_items)
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    self.request(module, level, names, line, via);
                }
                self.condition = saved;
            }
            None => {
                // A PEP 562 `__getattr__` importing a name it computes: which submodules depends
                // on the attributes read, which the resolver asks the interpreter about.
                if self.in_module_getattr {
                    self.out.lazy_getattr = true;
                    return;
                }
                let prefixes = match constant_prefix(arg) {
                    Some(p) => vec![p],
                    None => self.values().prefixes(arg),
                };
                let prefixes: Vec<String> = prefixes.into_iter().map(relative).collect();
                // The package part of each prefix: `"plugins.plugin_" + x` and `f".unicode{v}"`
                // load submodules of `plugins` and of the package itself.
                let mut prefixes: Vec<String> = prefixes
                    .iter()
                    .filter_map(|p| p.rfind('.').map(|i| p[..=i].to_string()))
                    .collect();
                prefixes.sort();
                prefixes.dedup();
                if prefixes.is_empty() {
                    self.suffixed_name(arg, line);
                }
                for prefix in prefixes {
                    let (level, rest) = split_relative(&prefix);
                    let (prefix, level) = match (level, &package_literal) {
                        (0, _) => (rest.to_string(), 0),
                        (n, Some(pkg)) => (absolute_from_package(pkg, n, rest), 0),
                        (n, None) => (rest.to_string(), n),
                    };
                    self.out.dynamic.push(DynamicImport {
                        prefix,
                        suffix: None,
                        level,
                        line,
                        condition: self.condition,
                    });
                }
            }
        }
    }
}

impl ImportWalker<'_> {
    /// A module name that starts with a computed piece and ends with known text, recorded as a
    /// dynamic import with that suffix (see [`DynamicImport::suffix`]).
    fn suffixed_name(&mut self, expr: &Expr, line: u32) {
        let suffix = self.values().suffix(expr).filter(|s| {
            s.starts_with('.')
                && s.chars().any(|c| c.is_alphanumeric())
                && s.chars()
                    .all(|c| c == '.' || c == '_' || c.is_alphanumeric())
        });
        let seen = |d: &DynamicImport| d.line == line && d.suffix == suffix;
        if suffix.is_some() && !self.out.dynamic.iter().any(seen) {
            self.out.dynamic.push(DynamicImport {
                prefix: String::new(),
                suffix,
                level: 0,
                line,
                condition: self.condition,
            });
        }
    }

    /// `"%s.migrations" % app` or `"{}.base".format(engine)` outside an import call: a library
    /// builds the module name in one place (a method that returns it) and imports it in
    /// another (Django's migration loader). Only templates that start with the computed
    /// package and a dot count.
    fn module_name_template(&mut self, expr: &Expr) {
        let template = match expr {
            Expr::BinOp(b) if b.op == Operator::Mod => string_literal(&b.left),
            Expr::Call(c) => match &*c.func {
                Expr::Attribute(a) if a.attr.as_str() == "format" => string_literal(&a.value),
                _ => None,
            },
            _ => None,
        };
        // `f"{app.name}.templatetags"`: a value, then a literal that starts with a dot.
        let fstring = match expr {
            Expr::FString(f) => {
                let mut elements = f.value.elements();
                matches!(
                    elements.next(),
                    Some(InterpolatedStringElement::Interpolation(_))
                ) && matches!(elements.next(), Some(InterpolatedStringElement::Literal(l)) if l.value.starts_with('.'))
            }
            _ => false,
        };
        if fstring || template.is_some_and(|t| t.starts_with("%s.") || t.starts_with("{}.")) {
            let line = self.line_of(expr);
            self.suffixed_name(expr, line);
        }
    }
}

impl<'a, 'b> Visitor<'b> for ImportWalker<'a> {
    fn visit_stmt(&mut self, stmt: &'b Stmt) {
        self.statement(stmt);
    }

    fn visit_expr(&mut self, expr: &'b Expr) {
        self.module_name_template(expr);
        let outer = self.in_recorded_path;
        if !outer {
            self.path_reference(expr);
        }
        let comprehension = match expr {
            Expr::ListComp(c) => Some(&c.generators),
            Expr::SetComp(c) => Some(&c.generators),
            Expr::DictComp(c) => Some(&c.generators),
            Expr::Generator(c) => Some(&c.generators),
            _ => None,
        };
        if let Some(generators) = comprehension {
            self.scopes
                .push(values::Scope::of_comprehension(generators));
            visitor::walk_expr(self, expr);
            self.scopes.pop();
            self.in_recorded_path = outer;
            return;
        }
        match expr {
            Expr::Call(call) => {
                self.call(call);
                self.discovery(call);
                self.named_call(call);
                // sys.modules.setdefault("name", module)
                if let Expr::Attribute(a) = &*call.func {
                    if a.attr.as_str() == "setdefault" {
                        if let Some(key) = call.arguments.args.first() {
                            self.provides(&a.value, key);
                        }
                    }
                }
                // entry_points().get("group")
                if let Expr::Attribute(a) = &*call.func {
                    if a.attr.as_str() == "get" && is_entry_points_call(&a.value) {
                        if let Some(group) = call.arguments.args.first().and_then(string_literal) {
                            let line = self.line_of(call);
                            self.out.entry_point_groups.push((group, line));
                        }
                    }
                }
            }
            // entry_points()["group"]
            Expr::Subscript(sub) if is_entry_points_call(&sub.value) => {
                if let Some(group) = string_literal(&sub.slice) {
                    let line = self.line_of(sub);
                    self.out.entry_point_groups.push((group, line));
                }
            }
            Expr::Attribute(a) if a.ctx == ruff_python_ast::ExprContext::Load => {
                self.source_read(expr);
                self.attribute_use(expr);
            }
            Expr::Name(n) if n.ctx == ruff_python_ast::ExprContext::Load => self.source_read(expr),
            Expr::StringLiteral(s) => {
                let text = s.value.to_str();
                // `exec("from reportlab.rl_settings import *", ...)`: code held in a string
                // that only imports. What it imports counts as a string's reference.
                for module in imports_in_code(text) {
                    let line = self.line_of(s);
                    self.out.references.push(StringReference {
                        module,
                        explicit: true,
                        line,
                        condition: self.condition,
                    });
                }
                let reference = match import_target(text) {
                    Some(module) => Some((module, true)),
                    None => dotted_path(text).map(|m| (m, false)),
                };
                let line = self.line_of(s);
                if let Some((module, explicit)) = reference {
                    self.out.references.push(StringReference {
                        module: module.to_string(),
                        explicit,
                        line,
                        condition: self.condition,
                    });
                } else if text.len() < 4096 {
                    // Source or configuration the code writes out: `extensions =
                    // ["sphinx.ext.napoleon"]` inside a conf.py it generates. Quoted dotted
                    // names count when they resolve, under the same rules as plain strings.
                    for module in quoted_dotted_names(text) {
                        self.out.references.push(StringReference {
                            module: module.to_string(),
                            explicit: false,
                            line,
                            condition: self.condition,
                        });
                    }
                }
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
        self.in_recorded_path = outer;
    }
}

/// The absolute modules a string of Python code imports, when the string is nothing but
/// import statements (`"from pkg.settings import *"`); the names a `from` import takes count
/// too, since they may be submodules.
fn imports_in_code(text: &str) -> Vec<String> {
    let trimmed = text.trim_start();
    if text.len() > 4096 || !(trimmed.starts_with("from ") || trimmed.starts_with("import ")) {
        return Vec::new();
    }
    let Ok(parsed) = ruff_python_parser::parse_module(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stmt in parsed.suite() {
        match stmt {
            Stmt::Import(i) => out.extend(i.names.iter().map(|a| a.name.to_string())),
            Stmt::ImportFrom(f) if f.level == 0 => {
                let Some(module) = &f.module else {
                    return Vec::new();
                };
                out.push(module.to_string());
                out.extend(
                    f.names
                        .iter()
                        .filter(|a| a.name.as_str() != "*")
                        .map(|a| format!("{module}.{}", a.name)),
                );
            }
            _ => return Vec::new(),
        }
    }
    out
}

/// The group recorded for code that keeps every entry point (`entry_points()` bound to a name):
/// the resolver takes the groups named after a package the bundle imports.
pub const ALL_ENTRY_POINT_GROUPS: &str = "*";

fn is_type_checking(test: &Expr) -> bool {
    matches!(
        dotted(test).as_deref(),
        Some("TYPE_CHECKING" | "typing.TYPE_CHECKING" | "t.TYPE_CHECKING")
    )
}

fn type_checking_only(node: &StmtIf) -> bool {
    is_type_checking(&node.test) && node.elif_else_clauses.len() == 1
}

fn catches_import_error(handler: &ExceptHandler) -> bool {
    let ExceptHandler::ExceptHandler(h) = handler;
    let Some(kind) = &h.type_ else {
        return true;
    };
    let names: Vec<&Expr> = match &**kind {
        Expr::Tuple(t) => t.elts.iter().collect(),
        other => vec![other],
    };
    names.into_iter().any(|n| {
        let name = dotted(n).unwrap_or_default();
        let last = name.rsplit('.').next().unwrap_or_default();
        matches!(
            last,
            "ImportError" | "ModuleNotFoundError" | "Exception" | "BaseException"
        )
    })
}

/// What a path helper joins onto its base.
#[derive(Debug, Clone)]
enum HelperArg {
    /// A literal component of its own (`"assets"`).
    Literal(String),
    /// The positional argument at this index.
    Param(usize),
    /// Every positional argument from this index on (`*parts`).
    Rest(usize),
}

/// An assignment target that makes a module lazy: `__getattr__` (alone or in a tuple), or
/// `sys.modules[__name__]`.
fn binds_lazy_getattr(target: &Expr) -> bool {
    match target {
        Expr::Name(n) => n.id.as_str() == "__getattr__",
        Expr::Tuple(t) => t.elts.iter().any(binds_lazy_getattr),
        Expr::Subscript(s) => {
            dotted(&s.value).as_deref() == Some("sys.modules")
                && matches!(&*s.slice, Expr::Name(n) if n.id.as_str() == "__name__")
        }
        _ => false,
    }
}

/// `a.b.c` for a chain of names and attributes.
fn dotted(expr: &Expr) -> Option<String> {
    // Collected outermost first, then joined once: `a.b.c.d` is one allocation, not four.
    let mut parts = Vec::new();
    let mut at = expr;
    loop {
        match at {
            Expr::Attribute(a) => {
                parts.push(a.attr.as_str());
                at = &a.value;
            }
            Expr::Name(n) => {
                parts.push(n.id.as_str());
                break;
            }
            _ => return None,
        }
    }
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, part) in parts.iter().rev().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(part);
    }
    Some(out)
}

/// The name a dotted expression starts from (`a` of `a.b.c`), without building the rest.
fn dotted_head(expr: &Expr) -> Option<&str> {
    let mut at = expr;
    loop {
        match at {
            Expr::Attribute(a) => at = &a.value,
            Expr::Name(n) => return Some(n.id.as_str()),
            _ => return None,
        }
    }
}

/// `__name__ == "__main__"`.
fn is_main_test(expr: &Expr) -> bool {
    let Expr::Compare(c) = expr else { return false };
    c.ops.len() == 1
        && c.ops[0] == CmpOp::Eq
        && matches!(&*c.left, Expr::Name(n) if n.id.as_str() == "__name__")
        && string_literal(&c.comparators[0]).as_deref() == Some("__main__")
}

fn int_literal(expr: &Expr) -> Option<u64> {
    match expr {
        Expr::NumberLiteral(n) => match &n.value {
            ruff_python_ast::Number::Int(i) => i.as_u64(),
            _ => None,
        },
        _ => None,
    }
}

/// A name `importlib.import_module` may be handed: dotted parts (leading dots for a relative
/// name), none empty or holding a path separator or whitespace. Parts need not be identifiers:
/// the path-based finder finds `unicode17-0-0.py` as well.
fn is_module_name(name: &str) -> bool {
    let rest = name.trim_start_matches('.');
    !rest.is_empty()
        && rest.len() <= 200
        && rest.split('.').all(|part| {
            !part.is_empty()
                && !part
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | ':'))
        })
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::StringLiteral(s) => Some(s.value.to_str().to_string()),
        _ => None,
    }
}

fn is_entry_points_call(expr: &Expr) -> bool {
    matches!(expr, Expr::Call(c) if dotted(&c.func).is_some_and(|d| d.rsplit('.').next() == Some("entry_points")))
}

/// A string that is a dotted path of at least two identifiers (`"app.logs.Formatter"`).
fn dotted_path(s: &str) -> Option<&str> {
    let ident = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    // File names are not module paths.
    const FILE_SUFFIXES: &[&str] = &[
        "json", "txt", "css", "html", "htm", "js", "yaml", "yml", "toml", "cfg", "ini", "csv",
        "png", "jpg", "jpeg", "gif", "svg", "ico", "md", "rst", "xml", "pem", "crt", "key", "so",
        "py", "pyc", "db", "sqlite", "log", "zip", "gz", "tar", "whl", "exe", "dll", "bin", "dat",
    ];
    // `name.ext` is a file; `sphinx.builders.xml` and longer names are modules when they
    // resolve (the resolver checks).
    let last = s.rsplit('.').next().unwrap_or_default();
    let is_file =
        s.matches('.').count() == 1 && FILE_SUFFIXES.contains(&last.to_ascii_lowercase().as_str());
    (s.contains('.') && s.len() < 200 && !is_file && s.split('.').all(ident)).then_some(s)
}

/// Dotted names quoted inside a longer string (`'x = ["a.b", "c.d"]'`).
fn quoted_dotted_names(text: &str) -> Vec<&str> {
    super::quoted(text).filter_map(dotted_path).collect()
}

/// The module of a `"package.module:attribute"` string, if the string has that shape.
fn import_target(s: &str) -> Option<&str> {
    let (module, attr) = s.split_once(':')?;
    let ident = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    (module.split('.').all(ident) && attr.split('.').all(ident)).then_some(module)
}

fn string_items(expr: &Expr) -> Vec<String> {
    let items = match expr {
        Expr::List(l) => &l.elts,
        Expr::Tuple(t) => &t.elts,
        _ => return Vec::new(),
    };
    items.iter().filter_map(string_literal).collect()
}

/// The constant leading part of a computed module name, when it ends at a dot boundary:
/// `f"services.{name}"`, `"plugins." + name`, `"pkg.%s" % x`, `"pkg.{}".format(x)`.
fn constant_prefix(expr: &Expr) -> Option<String> {
    let prefix = match expr {
        Expr::FString(f) => {
            let mut out = String::new();
            'parts: for part in f.value.iter() {
                match part {
                    FStringPart::Literal(l) => out.push_str(&l.value),
                    FStringPart::FString(fs) => {
                        for element in fs.elements.iter() {
                            match element {
                                InterpolatedStringElement::Literal(l) => out.push_str(&l.value),
                                InterpolatedStringElement::Interpolation(_) => break 'parts,
                            }
                        }
                    }
                }
            }
            out
        }
        Expr::BinOp(b) if b.op == Operator::Add => match string_literal(&b.left) {
            Some(s) => s,
            None => constant_prefix(&b.left)?,
        },
        Expr::BinOp(b) if b.op == Operator::Mod => {
            let s = string_literal(&b.left)?;
            s.split('%').next()?.to_string()
        }
        Expr::Call(c) => {
            let Expr::Attribute(a) = &*c.func else {
                return None;
            };
            if a.attr.as_str() != "format" {
                return None;
            }
            let s = string_literal(&a.value)?;
            s.split('{').next()?.to_string()
        }
        _ => return None,
    };
    // Only a complete package path is usable: "services." or ".plugins.".
    let cut = prefix.rfind('.')?;
    let prefix = &prefix[..=cut];
    let valid = prefix
        .trim_start_matches('.')
        .trim_end_matches('.')
        .split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        || prefix.chars().all(|c| c == '.');
    valid.then(|| prefix.to_string())
}

fn split_relative(name: &str) -> (u32, &str) {
    let rest = name.trim_start_matches('.');
    ((name.len() - rest.len()) as u32, rest)
}

/// `importlib.import_module("..x", package="a.b.c")` -> `a.b.x` (the package itself is level 1).
fn absolute_from_package(package: &str, level: u32, rest: &str) -> String {
    let mut parts: Vec<&str> = package.split('.').collect();
    for _ in 1..level {
        parts.pop();
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts.join(".")
}
