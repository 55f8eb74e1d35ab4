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

use super::{Condition, DynamicImport, FileImports, ImportRequest, LineIndex, SourceContext, Via};

pub(super) struct ImportWalker<'a> {
    lines: &'a LineIndex,
    ctx: SourceContext<'a>,
    condition: Condition,
    in_function: bool,
    /// Local names bound to the `importlib` module.
    importlib_names: Vec<String>,
    /// Local names bound to `importlib.import_module`.
    import_module_names: Vec<String>,
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
            out: FileImports::default(),
        }
    }

    pub(super) fn walk_module(&mut self, body: &[Stmt]) {
        self.walk_body(body);
    }

    pub(super) fn finish(self) -> FileImports {
        self.out
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
                for decorator in &node.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                self.visit_parameters(&node.parameters);
                let saved = self.in_function;
                self.in_function = true;
                self.walk_body(&node.body);
                self.in_function = saved;
            }
            Stmt::ClassDef(node) => {
                for decorator in &node.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                if let Some(arguments) = &node.arguments {
                    self.visit_arguments(arguments);
                }
                self.walk_body(&node.body);
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
            Stmt::Return(_)
            | Stmt::Delete(_)
            | Stmt::TypeAlias(_)
            | Stmt::Assign(_)
            | Stmt::AugAssign(_)
            | Stmt::AnnAssign(_)
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
        });
    }

    fn import(&mut self, node: &StmtImport) {
        let line = self.line_of(node);
        for alias in &node.names {
            let name = alias.name.as_str().to_string();
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
            self.walk_under(condition, body);
        }
    }

    fn try_statement(&mut self, node: &StmtTry) {
        let guarded = node.handlers.iter().any(catches_import_error);
        let body_condition = if guarded {
            Condition::Optional
        } else {
            Condition::Always
        };
        self.walk_under(body_condition, &node.body);
        for handler in &node.handlers {
            let ExceptHandler::ExceptHandler(h) = handler;
            self.walk_under(Condition::Branch, &h.body);
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
        let package = call.arguments.find_keyword("package").map(|k| &k.value);
        let relative_to_self = package.is_some_and(|p| {
            matches!(p, Expr::Name(n) if matches!(n.id.as_str(), "__name__" | "__package__"))
                || dotted(p).as_deref() == Some("__spec__.parent")
        });
        let package_literal = package.and_then(string_literal);
        match string_literal(arg) {
            Some(name) => {
                let (level, rest) = split_relative(&name);
                let (module, level) = match (level, &package_literal) {
                    (0, _) => (rest.to_string(), 0),
                    (n, Some(pkg)) => (absolute_from_package(pkg, n, rest), 0),
                    (n, None) if relative_to_self => (rest.to_string(), n),
                    _ => return,
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
            None => {
                if let Some(prefix) = constant_prefix(arg) {
                    let (level, rest) = split_relative(&prefix);
                    let (prefix, level) = match (level, &package_literal) {
                        (0, _) => (rest.to_string(), 0),
                        (n, Some(pkg)) => (absolute_from_package(pkg, n, rest), 0),
                        (n, None) => (rest.to_string(), n),
                    };
                    self.out.dynamic.push(DynamicImport {
                        prefix,
                        level,
                        line,
                        condition: self.condition,
                    });
                }
            }
        }
    }
}

impl<'a, 'b> Visitor<'b> for ImportWalker<'a> {
    fn visit_stmt(&mut self, stmt: &'b Stmt) {
        self.statement(stmt);
    }

    fn visit_expr(&mut self, expr: &'b Expr) {
        match expr {
            Expr::Call(call) => self.call(call),
            Expr::StringLiteral(s) => {
                if let Some(module) = import_target(s.value.to_str()) {
                    self.out.references.push(super::StringReference {
                        module: module.to_string(),
                        line: self.line_of(s),
                        condition: self.condition,
                    });
                }
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

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

/// `a.b.c` for a chain of names and attributes.
fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(n) => Some(n.id.as_str().to_string()),
        Expr::Attribute(a) => Some(format!("{}.{}", dotted(&a.value)?, a.attr.as_str())),
        _ => None,
    }
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::StringLiteral(s) => Some(s.value.to_str().to_string()),
        _ => None,
    }
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
