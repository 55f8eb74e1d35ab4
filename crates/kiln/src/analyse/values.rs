//! A value analysis for strings: what a name or an expression can hold, when the module itself
//! spells it out.
//!
//! Module names and entry point groups are often computed: a module-level constant, a local
//! variable, a loop over a literal list, `".".join([...])`, `%`, `.format` and f-strings over
//! such values. Each scope (the module, a function, a comprehension) is read once for its
//! bindings; a name then holds the union of what every binding of it can produce. The analysis
//! never invents: a binding it cannot evaluate (a parameter, a call, an augmented assignment)
//! makes the name unknown, and unknown parts make the whole expression unknown. Results are
//! capped at [`MAX_VALUES`] strings.
//!
//! In a method, `self.NAME` and `cls.NAME` hold what the class body binds `NAME` to
//! (`packages = ("docutils.languages.", "")`); a subclass that binds it again is not seen.

use ruff_python_ast::{
    self as ast, Comprehension, Expr, FStringPart, InterpolatedStringElement, Operator, Stmt,
};
use rustc_hash::FxHashMap as HashMap;

/// The most strings one expression may stand for; beyond it the expression is unknown.
pub const MAX_VALUES: usize = 64;

/// Nesting of name lookups followed before giving up (guards `x = x + "a"` cycles too).
const MAX_DEPTH: u32 = 8;

/// How a name gets a value in one scope.
#[derive(Debug, Clone)]
enum Binding {
    /// `name = expr` (and `name: T = expr`).
    Value(Expr),
    /// `for name in expr` or a comprehension's `for name in expr`: each item of `expr`.
    Each(Expr),
    /// A property of a class (`@property def NAME(self): ... return expr`): what its `return`
    /// statements give, read in the method's own scope (its parameters and locals unknown
    /// unless it assigns them; the module's names are not seen from there).
    Returns(Box<(Scope, Vec<Expr>)>),
    /// A small function (`def name(...): ... return expr`): its name is not a string, a call of
    /// it gives what its `return` statements give, read in its own scope (parameters unknown).
    Function(Box<(Scope, Vec<Expr>)>),
    /// A string given from outside the module (a stand-in for a parameter).
    Constant(String),
    /// Anything else: a parameter, an augmented assignment, an import, a `with ... as`, a
    /// tuple target, `global`.
    Unknown,
}

/// The bindings of one scope.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    names: HashMap<String, Vec<Binding>>,
}

impl Scope {
    /// The bindings of a module or function body: statements at this level and in nested
    /// blocks, not in nested functions or classes (their own scopes).
    pub fn of_body(body: &[Stmt]) -> Scope {
        let mut scope = Scope::default();
        scope.statements(body);
        scope
    }

    /// A function's scope: its parameters are unknown, then its body.
    pub fn of_function(def: &ast::StmtFunctionDef) -> Scope {
        let mut scope = Scope::default();
        let p = &def.parameters;
        for param in p
            .posonlyargs
            .iter()
            .chain(&p.args)
            .chain(&p.kwonlyargs)
            .map(|a| &a.parameter)
            .chain(p.vararg.as_deref())
            .chain(p.kwarg.as_deref())
        {
            scope.bind(param.name.as_str(), Binding::Unknown);
        }
        scope.statements(&def.body);
        scope
    }

    /// A scope that binds `name` to the string `value` alone: pushed over a function's scope,
    /// it stands for what a parameter holds.
    pub fn with_constant(name: &str, value: &str) -> Scope {
        let mut scope = Scope::default();
        scope.bind(name, Binding::Constant(value.to_string()));
        scope
    }

    /// A comprehension's scope: its `for` targets.
    pub fn of_comprehension(generators: &[Comprehension]) -> Scope {
        let mut scope = Scope::default();
        for g in generators {
            scope.target(&g.target, Binding::Each(g.iter.clone()));
        }
        scope
    }

    /// A class body's scope, as `self.NAME` and `cls.NAME` read it: the names its body binds,
    /// except those a method assigns through `self.NAME = ...` or `cls.NAME = ...` (whose
    /// value then depends on what ran first), which are unknown.
    pub fn of_class(def: &ast::StmtClassDef) -> Scope {
        use ruff_python_ast::visitor::{walk_stmt, Visitor};
        struct Assigned<'s>(&'s mut Scope);
        impl<'b> Visitor<'b> for Assigned<'_> {
            fn visit_stmt(&mut self, stmt: &'b Stmt) {
                let targets: Vec<&Expr> = match stmt {
                    Stmt::Assign(a) => a.targets.iter().collect(),
                    Stmt::AnnAssign(a) => vec![&a.target],
                    Stmt::AugAssign(a) => vec![&a.target],
                    _ => Vec::new(),
                };
                for target in targets {
                    if let Expr::Attribute(a) = target {
                        if matches!(&*a.value, Expr::Name(n) if matches!(n.id.as_str(), "self" | "cls"))
                        {
                            self.0.bind(a.attr.as_str(), Binding::Unknown);
                        }
                    }
                }
                walk_stmt(self, stmt);
            }
        }
        struct Returned(Vec<Expr>);
        impl<'b> Visitor<'b> for Returned {
            fn visit_stmt(&mut self, stmt: &'b Stmt) {
                match stmt {
                    Stmt::Return(r) => self.0.extend(r.value.as_deref().cloned()),
                    Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
                    _ => walk_stmt(self, stmt),
                }
            }
        }
        let mut scope = Scope::of_body(&def.body);
        for stmt in &def.body {
            if let Stmt::FunctionDef(f) = stmt {
                for inner in &f.body {
                    Assigned(&mut scope).visit_stmt(inner);
                }
                let is_property = f.decorator_list.iter().any(|d| match &d.expression {
                    Expr::Name(n) => n.id.as_str() == "property",
                    Expr::Attribute(a) => a.attr.as_str() == "cached_property",
                    _ => false,
                }) && f.decorator_list.len() == 1;
                if is_property {
                    let mut returned = Returned(Vec::new());
                    for inner in &f.body {
                        returned.visit_stmt(inner);
                    }
                    scope.names.insert(
                        f.name.to_string(),
                        vec![Binding::Returns(Box::new((
                            Scope::of_function(f),
                            returned.0,
                        )))],
                    );
                }
            }
        }
        scope
    }

    fn bind(&mut self, name: &str, binding: Binding) {
        self.names
            .entry(name.to_string())
            .or_default()
            .push(binding);
    }

    /// Binds what an assignment target names: a plain name gets `binding`, every name in a
    /// tuple or starred target is unknown.
    fn target(&mut self, target: &Expr, binding: Binding) {
        match target {
            Expr::Name(n) => self.bind(n.id.as_str(), binding),
            Expr::Tuple(t) => t.elts.iter().for_each(|e| self.target(e, Binding::Unknown)),
            Expr::List(l) => l.elts.iter().for_each(|e| self.target(e, Binding::Unknown)),
            Expr::Starred(s) => self.target(&s.value, Binding::Unknown),
            _ => {}
        }
    }

    fn statements(&mut self, body: &[Stmt]) {
        for stmt in body {
            self.statement(stmt);
        }
    }

    fn statement(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Assign(node) => {
                for t in &node.targets {
                    self.target(t, worth_keeping(&node.value));
                }
            }
            Stmt::AnnAssign(node) => {
                if let Some(v) = &node.value {
                    self.target(&node.target, worth_keeping(v));
                }
            }
            Stmt::AugAssign(node) => self.target(&node.target, Binding::Unknown),
            Stmt::For(node) => {
                self.target(&node.target, Binding::Each((*node.iter).clone()));
                self.statements(&node.body);
                self.statements(&node.orelse);
            }
            Stmt::While(node) => {
                self.statements(&node.body);
                self.statements(&node.orelse);
            }
            Stmt::If(node) => {
                self.statements(&node.body);
                for clause in &node.elif_else_clauses {
                    self.statements(&clause.body);
                }
            }
            Stmt::With(node) => {
                for item in &node.items {
                    if let Some(v) = &item.optional_vars {
                        self.target(v, Binding::Unknown);
                    }
                }
                self.statements(&node.body);
            }
            Stmt::Try(node) => {
                self.statements(&node.body);
                for handler in &node.handlers {
                    let ast::ExceptHandler::ExceptHandler(h) = handler;
                    if let Some(name) = &h.name {
                        self.bind(name.as_str(), Binding::Unknown);
                    }
                    self.statements(&h.body);
                }
                self.statements(&node.orelse);
                self.statements(&node.finalbody);
            }
            Stmt::Match(node) => {
                for case in &node.cases {
                    self.statements(&case.body);
                }
            }
            Stmt::FunctionDef(node) => self.bind(node.name.as_str(), small_function(node)),
            Stmt::ClassDef(node) => self.bind(node.name.as_str(), Binding::Unknown),
            Stmt::Import(node) => {
                for alias in &node.names {
                    let bound = alias.asname.as_ref().map_or_else(
                        || alias.name.as_str().split('.').next().unwrap_or_default(),
                        |a| a.as_str(),
                    );
                    self.bind(bound, Binding::Unknown);
                }
            }
            Stmt::ImportFrom(node) => {
                for alias in &node.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                    self.bind(bound.as_str(), Binding::Unknown);
                }
            }
            Stmt::Global(node) => {
                for name in &node.names {
                    self.bind(name.as_str(), Binding::Unknown);
                }
            }
            Stmt::Delete(_)
            | Stmt::Nonlocal(_)
            | Stmt::Return(_)
            | Stmt::TypeAlias(_)
            | Stmt::Raise(_)
            | Stmt::Assert(_)
            | Stmt::Expr(_)
            | Stmt::Pass(_)
            | Stmt::Break(_)
            | Stmt::Continue(_)
            | Stmt::IpyEscapeCommand(_) => {}
        }
    }
}

/// The most statements (nested ones counted) of a function whose returns are followed.
const SMALL_FUNCTION: usize = 16;

/// What a call of `def` gives, when the function is small and returns something that may be a
/// string: its scope and the values of its `return` statements. Unknown otherwise.
fn small_function(def: &ast::StmtFunctionDef) -> Binding {
    use ruff_python_ast::visitor::{walk_stmt, Visitor};
    struct Returns {
        statements: usize,
        values: Vec<Expr>,
        other: bool,
    }
    impl<'b> Visitor<'b> for Returns {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            self.statements += 1;
            match stmt {
                Stmt::Return(r) => match r.value.as_deref() {
                    Some(v) if matches!(worth_keeping(v), Binding::Value(_)) => {
                        self.values.push(v.clone())
                    }
                    _ => self.other = true,
                },
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
                _ if self.statements <= SMALL_FUNCTION => walk_stmt(self, stmt),
                _ => {}
            }
        }
    }
    let mut returns = Returns {
        statements: 0,
        values: Vec::new(),
        other: false,
    };
    for stmt in &def.body {
        returns.visit_stmt(stmt);
    }
    let is_plain = def.decorator_list.is_empty() && !def.is_async;
    if !is_plain
        || returns.other
        || returns.values.is_empty()
        || returns.statements > SMALL_FUNCTION
    {
        return Binding::Unknown;
    }
    Binding::Function(Box::new((Scope::of_function(def), returns.values)))
}

/// The value of an assignment, kept only when it could evaluate to strings (or a literal
/// sequence of them): a large data table is not copied.
fn worth_keeping(value: &Expr) -> Binding {
    let small = match value {
        Expr::List(l) => l.elts.len() <= 256,
        Expr::Tuple(t) => t.elts.len() <= 256,
        Expr::Set(s) => s.elts.len() <= 256,
        Expr::StringLiteral(_)
        | Expr::FString(_)
        | Expr::BinOp(_)
        | Expr::Name(_)
        | Expr::Attribute(_)
        | Expr::If(_)
        | Expr::Call(_) => true,
        _ => false,
    };
    if small {
        Binding::Value(value.clone())
    } else {
        Binding::Unknown
    }
}

/// Scopes from the module outwards in, and what the module itself is called.
pub struct Values<'s> {
    /// Innermost last: the module's scope first.
    pub scopes: &'s [Scope],
    /// The body of the class whose method (or nested function in one) this is: what
    /// `self.NAME` and `cls.NAME` read.
    pub class: Option<&'s Scope>,
    /// `__name__`, and `__package__`/`__spec__.parent` (None for `__main__`).
    pub own: Option<(&'s str, &'s str)>,
    /// A class body being evaluated, read before `scopes` (for `self.NAME`).
    pub body: Option<&'s Scope>,
}

impl<'s> Values<'s> {
    /// Every string `expr` can evaluate to, or None when that is not known.
    pub fn strings(&self, expr: &Expr) -> Option<Vec<String>> {
        self.eval(expr, 0)
    }

    /// The known leading parts of a string computed from values the module does not spell
    /// out: `"handlers." + kind`, `f"{PACKAGE}.{name}"`, through a name bound once, and
    /// `package + name` for each `package` of a loop over a literal sequence.
    pub fn prefixes(&self, expr: &Expr) -> Vec<String> {
        self.prefixes_at(expr, 0)
    }

    fn prefixes_at(&self, expr: &Expr, depth: u32) -> Vec<String> {
        if depth > MAX_DEPTH {
            return Vec::new();
        }
        match expr {
            Expr::Name(n) => match self.bindings(n.id.as_str()) {
                Some([Binding::Value(v)]) => self.prefixes_at(v, depth + 1),
                _ => Vec::new(),
            },
            Expr::BinOp(b) if b.op == Operator::Add => match self.eval(&b.left, depth + 1) {
                Some(left) => left,
                None => self.prefixes_at(&b.left, depth + 1),
            },
            // `"_pytest." + name if name in builtin else name`: the arm with a known prefix.
            Expr::If(i) => {
                let body = self.prefixes_at(&i.body, depth + 1);
                if body.is_empty() {
                    self.prefixes_at(&i.orelse, depth + 1)
                } else {
                    body
                }
            }
            // `self.NAME`: what the class body binds, or what a property returns (plotly's
            // validators import `self.module_str`, which returns `"plotly.graph_objs." + ...`).
            // A value known whole names a module, not a prefix: it is left to the import.
            Expr::Attribute(a) => {
                let Some((class, name)) = self.instance_attribute(a) else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                for binding in class.bindings(name).unwrap_or_default() {
                    match binding {
                        Binding::Value(v) if class.eval(v, depth + 1).is_none() => {
                            out.extend(class.prefixes_at(v, depth + 1))
                        }
                        Binding::Returns(returns) => {
                            out.extend(class.returned_prefixes(returns, depth))
                        }
                        _ => {}
                    }
                }
                out
            }
            // `".protocol_%s" % name`, `"{}.backends.{}".format(pkg, name)`: the text before
            // the first value that is not known.
            Expr::BinOp(b) if b.op == Operator::Mod => {
                vec![known_prefix(&self.pieces(expr, depth + 1)).0]
            }
            // A small function's returns: `import_module(plugin_name(kind))`.
            Expr::Call(call) => match self.called(call) {
                Some((values, function)) => values.returned_prefixes(function, depth),
                None if matches!(&*call.func, Expr::Attribute(a) if matches!(a.attr.as_str(), "format" | "join")) =>
                {
                    vec![known_prefix(&self.pieces(expr, depth + 1)).0]
                }
                None => Vec::new(),
            },
            Expr::FString(f) => {
                let mut out = String::new();
                'parts: for part in f.value.iter() {
                    match part {
                        FStringPart::Literal(l) => out.push_str(&l.value),
                        FStringPart::FString(fs) => {
                            for element in fs.elements.iter() {
                                match element {
                                    InterpolatedStringElement::Literal(l) => out.push_str(&l.value),
                                    InterpolatedStringElement::Interpolation(i) => {
                                        match self.eval(&i.expression, depth + 1).and_then(single) {
                                            Some(v) if i.format_spec.is_none() => out.push_str(&v),
                                            _ => break 'parts,
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                vec![out]
            }
            _ => Vec::new(),
        }
    }

    /// For a name whose first piece is unknown, the text right after it, up to the next unknown
    /// piece: `"%s.%s" % (app.name, "migrations")` gives `.migrations`,
    /// `"%s.management.commands.%s" % (app, name)` gives `.management.commands.` (Django
    /// builds module names from the apps its settings name this way). None otherwise.
    pub fn suffix(&self, expr: &Expr) -> Option<String> {
        let pieces = self.pieces(expr, 0);
        let mut pieces = pieces.iter();
        if !matches!(pieces.next(), Some(Piece::Unknown)) {
            return None;
        }
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Known(text) => out.push_str(text),
                Piece::Unknown => break,
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// `expr` as a sequence of known text and unknown values.
    fn pieces(&self, expr: &Expr, depth: u32) -> Vec<Piece> {
        if let Some(value) = self.eval(expr, depth + 1).and_then(single) {
            return vec![Piece::Known(value)];
        }
        if depth > MAX_DEPTH {
            return vec![Piece::Unknown];
        }
        match expr {
            Expr::Name(n) => match self.bindings(n.id.as_str()) {
                Some([Binding::Value(v)]) => self.pieces(v, depth + 1),
                _ => vec![Piece::Unknown],
            },
            Expr::BinOp(b) if b.op == Operator::Add => {
                let mut out = self.pieces(&b.left, depth + 1);
                out.extend(self.pieces(&b.right, depth + 1));
                out
            }
            Expr::BinOp(b) if b.op == Operator::Mod => {
                let Some(template) = self.eval(&b.left, depth + 1).and_then(single) else {
                    return vec![Piece::Unknown];
                };
                let args: Vec<Option<String>> = match &*b.right {
                    Expr::Tuple(t) => t.elts.iter().collect::<Vec<_>>(),
                    other => vec![other],
                }
                .into_iter()
                .map(|arg| self.eval(arg, depth + 1).and_then(single))
                .collect();
                percent_pieces(&template, &args).0
            }
            Expr::Call(call) if matches!(&*call.func, Expr::Attribute(a) if a.attr.as_str() == "format") =>
            {
                let Expr::Attribute(a) = &*call.func else {
                    return vec![Piece::Unknown];
                };
                let Some(template) = self.eval(&a.value, depth + 1).and_then(single) else {
                    return vec![Piece::Unknown];
                };
                let known = |e: &Expr| self.eval(e, depth + 1).and_then(single);
                let positional: Vec<Option<String>> =
                    call.arguments.args.iter().map(known).collect();
                let named: Vec<(&str, Option<String>)> = (call.arguments.keywords.iter())
                    .filter_map(|k| Some((k.arg.as_ref()?.as_str(), known(&k.value))))
                    .collect();
                brace_pieces(&template, &positional, &named)
            }
            // `".".join([_module_prefix, rdclass, rdtype])` (dnspython's rdata classes): the
            // items with the separator between them.
            Expr::Call(call) if matches!(&*call.func, Expr::Attribute(a) if a.attr.as_str() == "join") =>
            {
                let Expr::Attribute(a) = &*call.func else {
                    return vec![Piece::Unknown];
                };
                let (Some(sep), [items], true) = (
                    self.eval(&a.value, depth + 1).and_then(single),
                    &call.arguments.args[..],
                    call.arguments.keywords.is_empty(),
                ) else {
                    return vec![Piece::Unknown];
                };
                let (Expr::List(ast::ExprList { elts, .. })
                | Expr::Tuple(ast::ExprTuple { elts, .. })) = items
                else {
                    return vec![Piece::Unknown];
                };
                let mut out = Vec::new();
                for (i, item) in elts.iter().enumerate() {
                    if i > 0 {
                        out.push(Piece::Known(sep.clone()));
                    }
                    out.extend(self.pieces(item, depth + 1));
                }
                out
            }
            Expr::FString(f) => {
                let mut out = Vec::new();
                for part in f.value.iter() {
                    match part {
                        FStringPart::Literal(l) => out.push(Piece::Known(l.value.to_string())),
                        FStringPart::FString(fs) => {
                            for element in fs.elements.iter() {
                                match element {
                                    InterpolatedStringElement::Literal(l) => {
                                        out.push(Piece::Known(l.value.to_string()))
                                    }
                                    InterpolatedStringElement::Interpolation(i) => {
                                        match self.eval(&i.expression, depth + 1).and_then(single) {
                                            Some(v) if i.format_spec.is_none() => {
                                                out.push(Piece::Known(v))
                                            }
                                            _ => out.push(Piece::Unknown),
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                out
            }
            _ => vec![Piece::Unknown],
        }
    }

    fn eval(&self, expr: &Expr, depth: u32) -> Option<Vec<String>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let out = match expr {
            Expr::StringLiteral(s) => vec![s.value.to_str().to_string()],
            Expr::Name(n) => match n.id.as_str() {
                "__name__" => vec![self.own?.0.to_string()],
                "__package__" => {
                    let package = self.own?.1;
                    if package.is_empty() {
                        return None;
                    }
                    vec![package.to_string()]
                }
                name => self.lookup(name, depth)?,
            },
            Expr::Attribute(a) => match &*a.value {
                Expr::Name(n) if n.id.as_str() == "__spec__" && a.attr.as_str() == "parent" => {
                    vec![self.own?.1.to_string()]
                }
                _ => {
                    let (class, name) = self.instance_attribute(a)?;
                    class.lookup(name, depth + 1)?
                }
            },
            Expr::BinOp(b) if b.op == Operator::Add => {
                let left = self.eval(&b.left, depth + 1)?;
                let right = self.eval(&b.right, depth + 1)?;
                product(&[left, right], "")?
            }
            Expr::BinOp(b) if b.op == Operator::Mod => {
                let templates = self.eval(&b.left, depth + 1)?;
                let args: Vec<&Expr> = match &*b.right {
                    Expr::Tuple(t) => t.elts.iter().collect(),
                    other => vec![other],
                };
                let mut parts = Vec::new();
                for arg in args {
                    parts.push(self.eval(arg, depth + 1)?);
                }
                let mut out = Vec::new();
                for template in &templates {
                    for combination in combinations(&parts)? {
                        out.push(percent_format(template, &combination)?);
                        if out.len() > MAX_VALUES {
                            return None;
                        }
                    }
                }
                out
            }
            Expr::FString(f) => {
                let mut pieces: Vec<Vec<String>> = Vec::new();
                for part in f.value.iter() {
                    match part {
                        FStringPart::Literal(l) => pieces.push(vec![l.value.to_string()]),
                        FStringPart::FString(fs) => {
                            for element in fs.elements.iter() {
                                match element {
                                    InterpolatedStringElement::Literal(l) => {
                                        pieces.push(vec![l.value.to_string()])
                                    }
                                    InterpolatedStringElement::Interpolation(i) => {
                                        if i.format_spec.is_some() || i.debug_text.is_some() {
                                            return None;
                                        }
                                        pieces.push(self.eval(&i.expression, depth + 1)?);
                                    }
                                }
                            }
                        }
                    }
                }
                product(&pieces, "")?
            }
            Expr::If(i) => {
                let mut out = self.eval(&i.body, depth + 1)?;
                out.extend(self.eval(&i.orelse, depth + 1)?);
                out
            }
            Expr::Call(call) => self.call(call, depth)?,
            _ => return None,
        };
        let mut out = out;
        out.sort();
        out.dedup();
        (out.len() <= MAX_VALUES).then_some(out)
    }

    /// What a function's (or property's) `return` statements give: read in its own scope, the
    /// module's names behind it.
    fn returns(&self, returns: &(Scope, Vec<Expr>), depth: u32) -> Option<Vec<String>> {
        let (scope, values) = returns;
        let function = self.in_function(scope);
        let mut out = Vec::new();
        for v in values {
            out.extend(function.eval(v, depth + 1)?);
        }
        (!values.is_empty()).then_some(out)
    }

    /// The prefixes of what a function's returns give, but for returns known whole (a name,
    /// not a prefix).
    fn returned_prefixes(&self, returns: &(Scope, Vec<Expr>), depth: u32) -> Vec<String> {
        let (scope, values) = returns;
        let function = self.in_function(scope);
        values
            .iter()
            .filter(|v| function.eval(v, depth + 1).is_none())
            .flat_map(|v| function.prefixes_at(v, depth + 1))
            .collect()
    }

    /// Values as the body of a function with `scope` reads them.
    fn in_function<'f>(&'f self, scope: &'f Scope) -> Values<'f> {
        Values {
            scopes: self.scopes.get(..1).unwrap_or_default(),
            class: None,
            own: self.own,
            body: Some(scope),
        }
    }

    /// The function a call calls, when it is a small one this module or class defines:
    /// `name(...)`, `self.name(...)`, `cls.name(...)`.
    fn called(&self, call: &ast::ExprCall) -> Option<(Values<'s>, &'s (Scope, Vec<Expr>))> {
        let (values, name) = match &*call.func {
            Expr::Name(n) => (
                Values {
                    scopes: self.scopes,
                    class: self.class,
                    own: self.own,
                    body: self.body,
                },
                n.id.as_str(),
            ),
            Expr::Attribute(a) => self.instance_attribute(a)?,
            _ => return None,
        };
        match values.bindings(name)? {
            [Binding::Function(f)] => Some((values, f)),
            _ => None,
        }
    }

    fn call(&self, call: &ast::ExprCall, depth: u32) -> Option<Vec<String>> {
        if let Some((values, function)) = self.called(call) {
            return values.returns(function, depth);
        }
        let args = &call.arguments;
        match &*call.func {
            Expr::Name(n) if n.id.as_str() == "str" && args.args.len() == 1 => {
                self.eval(&args.args[0], depth + 1)
            }
            Expr::Attribute(a) => {
                let method = a.attr.as_str();
                match method {
                    "join" if args.args.len() == 1 && args.keywords.is_empty() => {
                        let separators = self.eval(&a.value, depth + 1)?;
                        let items = self.sequence(&args.args[0], depth + 1)?;
                        let mut out = Vec::new();
                        for sep in &separators {
                            out.extend(product(&items, sep)?);
                            if out.len() > MAX_VALUES {
                                return None;
                            }
                        }
                        Some(out)
                    }
                    "format" => {
                        let templates = self.eval(&a.value, depth + 1)?;
                        let mut positional = Vec::new();
                        for arg in args.args.iter() {
                            positional.push(self.eval(arg, depth + 1)?);
                        }
                        let mut named = Vec::new();
                        for k in args.keywords.iter() {
                            named.push((k.arg.as_ref()?.as_str(), self.eval(&k.value, depth + 1)?));
                        }
                        let mut lists: Vec<Vec<String>> = positional.clone();
                        lists.extend(named.iter().map(|(_, v)| v.clone()));
                        let mut out = Vec::new();
                        for template in &templates {
                            for combination in combinations(&lists)? {
                                let (pos, kw) = combination.split_at(positional.len());
                                let kw: Vec<(&str, &str)> = named
                                    .iter()
                                    .zip(kw)
                                    .map(|((k, _), v)| (*k, v.as_str()))
                                    .collect();
                                out.push(brace_format(template, pos, &kw)?);
                                if out.len() > MAX_VALUES {
                                    return None;
                                }
                            }
                        }
                        Some(out)
                    }
                    "lower" | "upper" | "strip" if args.args.is_empty() => {
                        let base = self.eval(&a.value, depth + 1)?;
                        Some(
                            base.into_iter()
                                .map(|s| match method {
                                    "lower" => s.to_lowercase(),
                                    "upper" => s.to_uppercase(),
                                    _ => s.trim().to_string(),
                                })
                                .collect(),
                        )
                    }
                    "replace" if args.args.len() == 2 => {
                        let base = self.eval(&a.value, depth + 1)?;
                        let from = single(self.eval(&args.args[0], depth + 1)?)?;
                        let to = single(self.eval(&args.args[1], depth + 1)?)?;
                        Some(base.into_iter().map(|s| s.replace(&from, &to)).collect())
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The items of a literal sequence, each with its possible strings: `["a", B, f"{c}.d"]`
    /// or a name bound to one.
    fn sequence(&self, expr: &Expr, depth: u32) -> Option<Vec<Vec<String>>> {
        if depth > MAX_DEPTH {
            return None;
        }
        match expr {
            Expr::List(l) => l.elts.iter().map(|e| self.eval(e, depth + 1)).collect(),
            Expr::Tuple(t) => t.elts.iter().map(|e| self.eval(e, depth + 1)).collect(),
            Expr::Name(n) => {
                let bindings = self.bindings(n.id.as_str())?;
                match bindings {
                    [Binding::Value(v)] => self.sequence(v, depth + 1),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Every item any literal sequence `expr` may be: for a loop over it.
    fn items(&self, expr: &Expr, depth: u32) -> Option<Vec<String>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let elements: Vec<&Expr> = match expr {
            Expr::List(l) => l.elts.iter().collect(),
            Expr::Tuple(t) => t.elts.iter().collect(),
            Expr::Set(s) => s.elts.iter().collect(),
            Expr::Dict(d) => d
                .items
                .iter()
                .map(|i| i.key.as_ref())
                .collect::<Option<_>>()?,
            Expr::Name(n) => {
                let mut out = Vec::new();
                for binding in self.bindings(n.id.as_str())? {
                    match binding {
                        Binding::Value(v) => out.extend(self.items(v, depth + 1)?),
                        _ => return None,
                    }
                }
                return Some(out);
            }
            Expr::Attribute(a) => {
                let (class, name) = self.instance_attribute(a)?;
                let mut out = Vec::new();
                for binding in class.bindings(name)? {
                    match binding {
                        Binding::Value(v) => out.extend(class.items(v, depth + 1)?),
                        _ => return None,
                    }
                }
                return Some(out);
            }
            _ => return None,
        };
        let mut out = Vec::new();
        for e in elements {
            out.extend(self.eval(e, depth + 1)?);
            if out.len() > MAX_VALUES {
                return None;
            }
        }
        Some(out)
    }

    /// For `self.NAME` or `cls.NAME` in a method: values that read the class body (then the
    /// module, as the class body itself does), and `NAME`.
    fn instance_attribute<'a>(&self, a: &'a ast::ExprAttribute) -> Option<(Values<'s>, &'a str)> {
        let class = self.class?;
        match &*a.value {
            Expr::Name(n) if matches!(n.id.as_str(), "self" | "cls") => Some((
                Values {
                    scopes: self.scopes.get(..1)?,
                    class: None,
                    own: self.own,
                    body: Some(class),
                },
                a.attr.as_str(),
            )),
            _ => None,
        }
    }

    /// The bindings of `name` in the innermost scope that binds it.
    fn bindings(&self, name: &str) -> Option<&'s [Binding]> {
        self.body
            .into_iter()
            .chain(self.scopes.iter().rev())
            .find_map(|s| s.names.get(name))
            .map(Vec::as_slice)
    }

    fn lookup(&self, name: &str, depth: u32) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for binding in self.bindings(name)? {
            match binding {
                Binding::Value(v) => out.extend(self.eval(v, depth + 1)?),
                Binding::Constant(s) => out.push(s.clone()),
                Binding::Each(iter) => out.extend(self.items(iter, depth + 1)?),
                Binding::Returns(returns) => out.extend(self.returns(returns, depth)?),
                Binding::Function(_) | Binding::Unknown => return None,
            }
            if out.len() > MAX_VALUES {
                return None;
            }
        }
        Some(out)
    }
}

/// Part of a string built at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Known(String),
    Unknown,
}

/// `template % args` as pieces, and how many arguments its fields used: `%s` fields whose
/// argument is unknown are unknown pieces; any other conversion, or a missing argument, ends
/// what is known.
fn percent_pieces(template: &str, args: &[Option<String>]) -> (Vec<Piece>, usize) {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut used = 0;
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => text.push('%'),
            Some('s') if used < args.len() => {
                match &args[used] {
                    Some(value) => text.push_str(value),
                    None => {
                        out.push(Piece::Known(std::mem::take(&mut text)));
                        out.push(Piece::Unknown);
                    }
                }
                used += 1;
            }
            _ => {
                out.push(Piece::Known(text));
                out.push(Piece::Unknown);
                out.retain(|p| p != &Piece::Known(String::new()));
                return (out, used);
            }
        }
    }
    out.push(Piece::Known(text));
    out.retain(|p| p != &Piece::Known(String::new()));
    (out, used)
}

/// `template.format(...)` as pieces: fields whose value is unknown are unknown pieces; a field
/// with a conversion or format spec ends what is known.
fn brace_pieces(
    template: &str,
    positional: &[Option<String>],
    named: &[(&str, Option<String>)],
) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut next_auto = 0usize;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' if chars.peek() == Some(&c) => {
                chars.next();
                text.push(c);
            }
            '{' => {
                let mut field = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    field.push(c);
                }
                if !closed || field.contains([':', '!', '.', '[']) {
                    out.push(Piece::Known(std::mem::take(&mut text)));
                    out.push(Piece::Unknown);
                    out.retain(|p| p != &Piece::Known(String::new()));
                    return out;
                }
                let value = if field.is_empty() {
                    next_auto += 1;
                    positional.get(next_auto - 1).cloned().flatten()
                } else if let Ok(i) = field.parse::<usize>() {
                    positional.get(i).cloned().flatten()
                } else {
                    named
                        .iter()
                        .find(|(k, _)| *k == field)
                        .and_then(|(_, v)| v.clone())
                };
                match value {
                    Some(value) => text.push_str(&value),
                    None => {
                        out.push(Piece::Known(std::mem::take(&mut text)));
                        out.push(Piece::Unknown);
                    }
                }
            }
            '}' => {
                out.push(Piece::Known(std::mem::take(&mut text)));
                out.push(Piece::Unknown);
                out.retain(|p| p != &Piece::Known(String::new()));
                return out;
            }
            c => text.push(c),
        }
    }
    out.push(Piece::Known(text));
    out.retain(|p| p != &Piece::Known(String::new()));
    out
}

fn single(mut values: Vec<String>) -> Option<String> {
    (values.len() == 1).then(|| values.remove(0))
}

/// Every way to pick one string from each list.
fn combinations(lists: &[Vec<String>]) -> Option<Vec<Vec<String>>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for list in lists {
        let mut next = Vec::new();
        for prefix in &out {
            for item in list {
                let mut p = prefix.clone();
                p.push(item.clone());
                next.push(p);
                if next.len() > MAX_VALUES {
                    return None;
                }
            }
        }
        out = next;
    }
    Some(out)
}

/// Every concatenation of one string from each list, joined by `sep`.
fn product(lists: &[Vec<String>], sep: &str) -> Option<Vec<String>> {
    Some(
        combinations(lists)?
            .into_iter()
            .map(|c| c.join(sep))
            .collect(),
    )
}

/// `template % args` for `%s` (and `%%`); None for any other conversion or a count mismatch.
fn percent_format(template: &str, args: &[String]) -> Option<String> {
    let args: Vec<Option<&str>> = args.iter().map(|a| Some(a.as_str())).collect();
    match percent_render(template, &args) {
        (out, Some(used)) if used == args.len() => Some(out),
        _ => None,
    }
}

/// `template.format(*positional, **named)` for `{}`, `{0}` and `{name}` fields without
/// conversions or format specs; None otherwise.
fn brace_format(template: &str, positional: &[String], named: &[(&str, &str)]) -> Option<String> {
    let positional: Vec<Option<&str>> = positional.iter().map(|a| Some(a.as_str())).collect();
    let named: Vec<(&str, Option<&str>)> = named.iter().map(|(k, v)| (*k, Some(*v))).collect();
    match brace_render(template, &positional, &named) {
        (out, true) => Some(out),
        (_, false) => None,
    }
}

/// The text of `pieces` before the first unknown one, and whether none is unknown.
fn known_prefix(pieces: &[Piece]) -> (String, bool) {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Known(text) => out.push_str(text),
            Piece::Unknown => return (out, false),
        }
    }
    (out, true)
}

/// `template % args` as far as it is known: the text before the first field whose value is
/// unknown (None in `args`) or that is not a plain `%s`, and, when the whole template was
/// rendered, how many arguments it used.
fn percent_render(template: &str, args: &[Option<&str>]) -> (String, Option<usize>) {
    let args: Vec<Option<String>> = args.iter().map(|a| a.map(str::to_string)).collect();
    let (pieces, used) = percent_pieces(template, &args);
    match known_prefix(&pieces) {
        (out, true) => (out, Some(used)),
        (out, false) => (out, None),
    }
}

/// `template.format(...)` as far as it is known: the text before the first field whose value
/// is unknown (None) or that has a conversion or format spec, and whether all was rendered.
fn brace_render(
    template: &str,
    positional: &[Option<&str>],
    named: &[(&str, Option<&str>)],
) -> (String, bool) {
    let positional: Vec<Option<String>> =
        positional.iter().map(|a| a.map(str::to_string)).collect();
    let named: Vec<(&str, Option<String>)> = named
        .iter()
        .map(|(k, v)| (*k, v.map(str::to_string)))
        .collect();
    known_prefix(&brace_pieces(template, &positional, &named))
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            super::percent_format("%s.base", &s(&["pg"])).as_deref(),
            Some("pg.base")
        );
        assert_eq!(super::percent_format("%d", &s(&["1"])), None);
        assert_eq!(super::percent_format("%s.%s", &s(&["a"])), None);
        assert_eq!(
            super::brace_format("{}.{x}.{0}", &s(&["a"]), &[("x", "b")]).as_deref(),
            Some("a.b.a")
        );
        assert_eq!(super::brace_format("{:>4}", &s(&["a"]), &[]), None);
        // Prefixes: the text before the first unknown value.
        assert_eq!(
            super::percent_render("%s.management.%s", &[Some("app"), None]),
            ("app.management.".to_string(), None)
        );
        assert_eq!(
            super::brace_render(".protocol_{}", &[None], &[]),
            (".protocol_".to_string(), false)
        );
        assert_eq!(
            super::brace_render("{pkg}.{name}", &[], &[("pkg", Some("a")), ("name", None)]),
            ("a.".to_string(), false)
        );
    }
}
