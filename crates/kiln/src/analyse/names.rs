//! The names a module binds at its top level, to check a `module:function` entry point before
//! the bundle is built rather than at its first start.

use std::collections::HashSet;

use ruff_python_ast::{Expr, Stmt};

/// Top-level bindings of `source`: functions, classes, assignment and loop targets, imports,
/// walking into `if`, `try`, `with`, `for` and `while` blocks. `None` when the module cannot be
/// read so (a star import, a syntax error, or a module-level `__getattr__`).
pub fn top_level_names(source: &str) -> Option<HashSet<String>> {
    let parsed = ruff_python_parser::parse_module(source).ok()?;
    let mut names = HashSet::new();
    bind_block(parsed.suite(), &mut names)?;
    if names.contains("__getattr__") {
        return None;
    }
    Some(names)
}

fn bind_block(body: &[Stmt], names: &mut HashSet<String>) -> Option<()> {
    for stmt in body {
        match stmt {
            Stmt::FunctionDef(f) => {
                names.insert(f.name.to_string());
            }
            Stmt::ClassDef(c) => {
                names.insert(c.name.to_string());
            }
            Stmt::Assign(a) => a.targets.iter().for_each(|t| bind_target(t, names)),
            Stmt::AnnAssign(a) if a.value.is_some() => bind_target(&a.target, names),
            Stmt::AugAssign(a) => bind_target(&a.target, names),
            Stmt::TypeAlias(t) => bind_target(&t.name, names),
            Stmt::Import(i) => {
                for alias in &i.names {
                    let bound = match &alias.asname {
                        Some(a) => a.to_string(),
                        None => alias.name.split('.').next().unwrap_or_default().to_string(),
                    };
                    names.insert(bound);
                }
            }
            Stmt::ImportFrom(i) => {
                for alias in &i.names {
                    if alias.name.as_str() == "*" {
                        return None;
                    }
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                    names.insert(bound.to_string());
                }
            }
            Stmt::If(i) => {
                bind_block(&i.body, names)?;
                for clause in &i.elif_else_clauses {
                    bind_block(&clause.body, names)?;
                }
            }
            Stmt::Try(t) => {
                bind_block(&t.body, names)?;
                for handler in &t.handlers {
                    let ruff_python_ast::ExceptHandler::ExceptHandler(h) = handler;
                    bind_block(&h.body, names)?;
                }
                bind_block(&t.orelse, names)?;
                bind_block(&t.finalbody, names)?;
            }
            Stmt::With(w) => {
                for item in &w.items {
                    if let Some(v) = &item.optional_vars {
                        bind_target(v, names);
                    }
                }
                bind_block(&w.body, names)?;
            }
            Stmt::For(f) => {
                bind_target(&f.target, names);
                bind_block(&f.body, names)?;
                bind_block(&f.orelse, names)?;
            }
            Stmt::While(w) => {
                bind_block(&w.body, names)?;
                bind_block(&w.orelse, names)?;
            }
            // `globals()[...] = ...`, `exec`: names made at run time cannot be listed.
            Stmt::Expr(e) if mentions_dynamic_binding(&e.value) => return None,
            _ => {}
        }
    }
    Some(())
}

fn bind_target(target: &Expr, names: &mut HashSet<String>) {
    match target {
        Expr::Name(n) => {
            names.insert(n.id.to_string());
        }
        Expr::Tuple(t) => t.elts.iter().for_each(|e| bind_target(e, names)),
        Expr::List(l) => l.elts.iter().for_each(|e| bind_target(e, names)),
        Expr::Starred(s) => bind_target(&s.value, names),
        _ => {}
    }
}

fn mentions_dynamic_binding(expr: &Expr) -> bool {
    match expr {
        Expr::Call(c) => match &*c.func {
            Expr::Name(n) => matches!(n.id.as_str(), "exec" | "setattr"),
            Expr::Attribute(a) => {
                a.attr.as_str() == "update"
                    && matches!(&*a.value, Expr::Call(inner)
                        if matches!(&*inner.func, Expr::Name(n) if n.id.as_str() == "globals"))
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_bindings_are_found() {
        let names = top_level_names(
            "import os.path\nfrom x import y as z\ndef main(): pass\nclass C: pass\n\
             a, (b, *c) = 1, (2, 3)\nif True:\n    d = 1\nelse:\n    def e(): pass\n\
             try:\n    import f\nexcept ImportError:\n    f = None\nfor g in []: pass\n\
             with open('x') as h: pass\n",
        )
        .unwrap();
        for n in [
            "os", "z", "main", "C", "a", "b", "c", "d", "e", "f", "g", "h",
        ] {
            assert!(names.contains(n), "{n} missing from {names:?}");
        }
        assert!(!names.contains("y"));
    }

    #[test]
    fn modules_that_bind_names_at_run_time_are_not_judged() {
        assert!(top_level_names("from x import *\n").is_none());
        assert!(top_level_names("def __getattr__(name): pass\n").is_none());
        assert!(top_level_names("globals().update(x=1)\n").is_none());
        assert!(top_level_names("def (:\n").is_none());
    }
}
