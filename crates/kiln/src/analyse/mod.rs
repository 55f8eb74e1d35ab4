//! Source file -> the imports it requests.
//!
//! Parses Python with ruff's parser and walks every statement, recording each import with its
//! line and the condition it runs under (always, in a branch, guarded by `except ImportError`,
//! only on another platform, or only for type checkers). Nothing here touches the file system
//! beyond what the caller hands in: resolving names to files is the next stage.

pub mod compiled;
pub mod names;
pub mod values;
mod visitor;
pub use visitor::ALL_ENTRY_POINT_GROUPS;

use std::path::Path;

use ruff_text_size::TextSize;
use serde::{Deserialize, Serialize};

/// Under which circumstances an import statement runs.
///
/// Ordered from most to least certain: when one module is requested several times, the most
/// certain request decides how a missing module is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Runs whenever the enclosing scope runs.
    Always,
    /// Inside an `if`, `match` case or `except` handler whose outcome is not known statically.
    Branch,
    /// Inside a `try` whose handlers catch `ImportError` (or broader).
    Optional,
    /// Only runs on another platform or Python version (`sys.platform`, `os.name` or
    /// `sys.version_info` tests that are false for the target).
    OtherPlatform,
    /// Only seen by type checkers (`if TYPE_CHECKING:`); never needed at run time.
    TypeChecking,
}

/// How an import was spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// `import x` or `from x import y`.
    Statement,
    /// `importlib.import_module("x")`.
    ImportModule,
    /// `__import__("x")`.
    DunderImport,
    /// Code or a module that a child interpreter runs: `[sys.executable, "-c", CODE]` or
    /// `[sys.executable, "-m", MODULE]`.
    ChildInterpreter,
}

/// One import requested by a source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImportRequest {
    /// Dotted module name as written (without leading dots); may be empty for `from . import x`.
    pub module: String,
    /// Number of leading dots of a relative import (0 = absolute).
    pub level: u32,
    /// Names of a `from` import (`*` for a star import); empty for `import x`.
    pub names: Vec<String>,
    /// 1-based line of the statement or call.
    pub line: u32,
    pub condition: Condition,
    /// Inside a function body (runs when called, not on import).
    pub in_function: bool,
    pub via: Via,
    /// For an import in an `except ImportError:` handler: the absolute modules its `try` body
    /// imports, which it stands in for when they cannot be imported (`decimal` falls back to
    /// `_pydecimal` when `_decimal` is missing).
    pub fallback_for: Vec<String>,
}

/// An import whose module name is computed at run time from a constant dotted prefix, such as
/// `importlib.import_module(f"services.{name}")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DynamicImport {
    /// The constant part before the first computed piece, e.g. `services.`.
    pub prefix: String,
    /// When the name starts with a computed piece: the constant text after it, e.g.
    /// `.migrations` in `"%s.%s" % (app.name, "migrations")`. The resolver tries it after
    /// the packages the app's strings (and the importing module's) name.
    pub suffix: Option<String>,
    /// Leading dots when the name is relative to the importing package.
    pub level: u32,
    pub line: u32,
    pub condition: Condition,
}

/// A string literal that may name a module: `"package.module:attribute"` as handed to loaders
/// (uvicorn, gunicorn, entry point tables), or a dotted path such as a logging config's
/// `"()": "app.logs.Formatter"` or a settings list. It only counts when it resolves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StringReference {
    pub module: String,
    /// `true` for `module:attr` strings; `false` for plain dotted paths, which may end in an
    /// attribute and are resolved to their longest importable prefix.
    pub explicit: bool,
    pub line: u32,
    pub condition: Condition,
}

/// Which package a discovery call walks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanTarget {
    /// The analysed module's own package (`__path__`, `__name__`, `dirname(__file__)`).
    OwnPackage,
    /// A package by absolute name.
    Named(String),
}

/// Discovery over a package's contents: `pkgutil.iter_modules(pkg.__path__)`,
/// `pkgutil.walk_packages`, `importlib.resources.files(pkg)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PackageScan {
    pub target: ScanTarget,
    pub line: u32,
    pub condition: Condition,
}

/// A path built from `__file__` with literal names, relative to the module's directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PathReference {
    /// `/`-separated, may start with `..`.
    pub path: String,
    pub line: u32,
    /// Put on `sys.path` (`sys.path.insert(0, ...)`) rather than read as data.
    pub search_path: bool,
}

/// A call that reads Python source at run time, which a module makes on its own functions or
/// classes (see [`SOURCE_READERS`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceRead {
    /// What is called, as its full dotted name (`inspect.getsource`, `torch.jit.script`).
    pub call: String,
    pub line: u32,
}

/// Functions that read the source of what they are given at run time: `inspect`'s source
/// functions, and TorchScript, which compiles a function or a class's methods from their
/// source (`torch.jit.script`, `torch.jit.interface`, and the decorators that mark methods of a
/// class meant to be scripted). Used as a decorator, called, or passed on, they count; calls
/// that need no source (`torch.jit.trace`, `torch.compile`, which works from bytecode) do not.
pub const SOURCE_READERS: &[&str] = &[
    "inspect.getsource",
    "inspect.getsourcelines",
    "inspect.findsource",
    "torch.jit.script",
    "torch.jit.interface",
    "torch.jit.script_method",
    "torch.jit.script_if_tracing",
    "torch.jit.export",
    "torch.jit.ignore",
    "torch.jit.unused",
];

/// Whether `source` can name one of [`SOURCE_READERS`] at all: a cheap test before parsing.
pub fn may_read_source(source: &str) -> bool {
    source.contains("inspect") || source.contains("jit")
}

/// The pieces of `text` between a pair of double or single quotes (`'x = ["a.b", "c"]'` gives
/// `a.b` and `c`): names written into generated source or configuration.
pub fn quoted(text: &str) -> impl Iterator<Item = &str> {
    ['"', '\''].into_iter().flat_map(move |quote| {
        // Every second piece lies between a pair of quotes.
        text.split(quote).skip(1).step_by(2)
    })
}

/// A module-level function that imports the module one of its parameters names, such as
/// pandas' `import_optional_dependency(name, ...)`, which calls `importlib.import_module(name)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportWrapper {
    pub function: String,
    /// The parameter's position (None for a keyword-only one) and name.
    pub position: Option<usize>,
    pub param: String,
    /// Text around the parameter's value in the module name (`f"pkg.{name}"`: `pkg.`).
    pub prefix: String,
    pub suffix: String,
    /// How sure the import inside the function is (under `try: ... except ImportError`).
    pub condition: Condition,
}

/// A call of a function by its absolute dotted name, with the strings its arguments can hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCall {
    pub callee: String,
    /// What each positional argument can hold (empty when unknown).
    pub args: Vec<Vec<String>>,
    pub keywords: Vec<(String, Vec<String>)>,
    pub line: u32,
    pub condition: Condition,
    pub in_function: bool,
}

/// Everything one file asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileImports {
    pub imports: Vec<ImportRequest>,
    pub dynamic: Vec<DynamicImport>,
    pub references: Vec<StringReference>,
    pub scans: Vec<PackageScan>,
    /// `importlib.metadata.entry_points(group=...)` groups, with their lines.
    pub entry_point_groups: Vec<(String, u32)>,
    pub paths: Vec<PathReference>,
    /// A literal module-level `__all__`.
    pub all: Option<Vec<String>>,
    /// Module-level functions that import the module a parameter names.
    pub import_wrappers: Vec<ImportWrapper>,
    /// Calls of imported functions (and of the module's own) with string arguments: imports
    /// when the function is an import wrapper.
    pub calls: Vec<NamedCall>,
    /// A module-level `__getattr__` (PEP 562) imports modules whose names it computes in a way
    /// analysis cannot follow: any submodule of the package may be imported.
    pub lazy_getattr: bool,
    /// A module-level `__getattr__` imports the package's submodule that the attribute read
    /// names (`import_module(f"scipy.{name}")`, `import_module("." + name, __name__)`), and
    /// nothing else analysis cannot follow: an attribute read imports the submodule it names,
    /// if there is one.
    pub getattr_submodules: bool,
    /// Uses of [`SOURCE_READERS`], in source order (not those that only run on another
    /// platform or for type checkers). The rule kiln applies: an app module that has any reads
    /// its own functions' source, so its `.py` ships beside its bytecode.
    pub source_reads: Vec<SourceRead>,
    /// Modules the file provides at run time by assigning them into `sys.modules`
    /// (`sys.modules["name"] = obj`), with their lines: imports of these are not missing.
    pub provides: Vec<(String, u32)>,
    /// Attributes read from imported modules, as absolute dotted paths (`import pydantic as p;
    /// p.EmailStr` gives `pydantic.EmailStr`; at most three parts after the module): what a
    /// package with a lazy `__getattr__` is asked for.
    pub attributes: Vec<String>,
}

/// A file that is not valid Python.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Facts about the module being analysed that change how its imports read.
#[derive(Debug, Clone, Copy)]
pub struct SourceContext<'a> {
    /// The module's dotted name (`__main__` for the entry script).
    pub module: &'a str,
    /// Whether the file is a package's `__init__`.
    pub is_package: bool,
    /// `sys.platform` of the target.
    pub platform: &'a str,
    /// `sys.version_info[:3]` of the target.
    pub version: [u32; 3],
}

/// The stack of every thread that parses Python source: deep enough for expressions nested tens
/// of thousands of levels (CPython's own compiler gives up before that).
pub const STACK_SIZE: usize = 512 << 20;

/// Parses `source` and returns its import requests in source order.
pub fn analyse_source(source: &str, ctx: SourceContext<'_>) -> Result<FileImports, SyntaxError> {
    let lines = LineIndex::new(source);
    let parsed = ruff_python_parser::parse_module(source).map_err(|e| {
        let (line, column) = lines.line_col(e.location.start());
        SyntaxError {
            line,
            column,
            message: e.error.to_string(),
        }
    })?;
    let mut walker = visitor::ImportWalker::new(&lines, ctx);
    walker.walk_module(parsed.suite());
    let mut found = walker.finish();
    // A directory put on sys.path is a search path, not data read from it.
    let search: Vec<(u32, String)> = found
        .paths
        .iter()
        .filter(|p| p.search_path)
        .map(|p| (p.line, p.path.clone()))
        .collect();
    found
        .paths
        .retain(|p| p.search_path || !search.contains(&(p.line, p.path.clone())));
    Ok(found)
}

/// Reads and analyses a file. Non-UTF-8 bytes are replaced: imports are ASCII, and a legacy
/// encoding declared with a coding cookie only ever affects string literals and comments.
pub fn analyse_file(path: &Path, ctx: SourceContext<'_>) -> Result<FileImports, AnalyseError> {
    let bytes = std::fs::read(path).map_err(|source| AnalyseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    analyse_source(&text, ctx).map_err(|error| AnalyseError::Syntax {
        path: path.to_path_buf(),
        error,
    })
}

/// Errors analysing one file.
#[derive(Debug, thiserror::Error)]
pub enum AnalyseError {
    #[error("cannot read {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{}:{}: invalid Python syntax: {}", path.display(), error.line, error.column, error.message)]
    Syntax {
        path: std::path::PathBuf,
        error: SyntaxError,
    },
}

/// Byte offset -> (line, column), both 1-based.
pub(crate) struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            memchr_newlines(text.as_bytes())
                .into_iter()
                .map(|i| i as u32 + 1),
        );
        LineIndex { starts }
    }

    pub(crate) fn line_col(&self, offset: TextSize) -> (u32, u32) {
        let offset = u32::from(offset);
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line as u32, offset - start + 1)
    }

    pub(crate) fn line(&self, offset: TextSize) -> u32 {
        self.line_col(offset).0
    }
}

fn memchr_newlines(bytes: &[u8]) -> Vec<usize> {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
