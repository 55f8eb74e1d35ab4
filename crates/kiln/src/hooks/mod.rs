//! Package knowledge as data: what inference cannot see about a package, one TOML file per
//! package. A hook applies when its `module` enters the module graph.
//!
//! ```toml
//! module = "pygments"                     # applies when this module is imported
//! hidden-imports = ["pygments.formatters.html"]
//! collect = ["pygments.lexers"]           # packages included whole, every submodule
//! data = ["styles/*.css"]                 # globs relative to the module's package directory
//! data-for = { "pygments.x" = ["x/**"] }  # shipped only when that module is in the graph
//! exclude-data = ["dev/**"]               # package data not shipped unless a key above names it
//! metadata = ["Pygments"]                 # distributions whose metadata must ship
//! exclude = ["pygments.testing"]          # modules never bundled
//! env = { PYGMENTS_X = "1" }              # environment set before the app starts
//! docstrings = true                       # reads its docstrings: never compiled with -OO
//! keep-source = true                      # reads its own source: ship the .py files too
//! notes = "why this hook exists"
//! ```
//!
//! kiln ships built-in hooks (`crates/kiln/hooks/*.toml`); users add their own directories with
//! `hook-dirs`, and a user hook replaces a built-in one for the same module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One hook file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hook {
    /// The module whose presence in the graph applies the hook.
    pub module: String,
    #[serde(default)]
    pub hidden_imports: Vec<String>,
    #[serde(default)]
    pub collect: Vec<String>,
    #[serde(default)]
    pub data: Vec<String>,
    /// Data a submodule needs: module -> globs relative to the hook module's package
    /// directory, shipped only when that module is in the graph (Qt's plugins for the Qt
    /// modules the app imports, not for all of them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data_for: BTreeMap<String, Vec<String>>,
    /// Package data the general rule (every non-module file of a package) would ship that the
    /// package does not read at run time: globs relative to the hook module's package
    /// directory. A file they match still ships when `data` or `data-for` names it, or when a
    /// shipped native library needs it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_data: Vec<String>,
    #[serde(default)]
    pub metadata: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The package reads its own docstrings at run time (PLY-style grammars, code that
    /// formats `__doc__`): it and its submodules are compiled at optimisation level 1 at most,
    /// unless the configuration's `optimize-packages` names a level for them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub docstrings: bool,
    /// The package reads its own source at run time (`inspect.getsource`, TorchScript): its
    /// `.py` files ship beside their bytecode, for it and its submodules.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_source: bool,
    /// Per-package bytecode settings; only the project's configuration sets them (they are
    /// not hook keys).
    #[serde(skip)]
    pub bytecode: BytecodeRules,
    #[serde(default)]
    pub notes: Option<String>,
}

/// The configuration's per-package bytecode settings, carried by the project's rules (the
/// hook applied from the start) to the collect stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BytecodeRules {
    /// `optimize-packages`: package or module -> optimisation level, for it and its
    /// submodules (the longest matching name wins).
    pub optimize: BTreeMap<String, u8>,
    /// `keep-source`: packages and modules whose `.py` files ship beside their bytecode.
    pub keep_source: Vec<String>,
}

/// Whether `name` is `package` or one of its submodules.
pub fn covers(package: &str, name: &str) -> bool {
    name.strip_prefix(package)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Where a hook came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "path", rename_all = "kebab-case")]
pub enum HookSource {
    Builtin(String),
    User(PathBuf),
    /// The `hidden-imports`, `collect` and `exclude` keys of the project's configuration.
    Config,
}

impl std::fmt::Display for HookSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookSource::Builtin(name) => write!(f, "built-in hook {name}"),
            HookSource::User(path) => write!(f, "hook {}", path.display()),
            HookSource::Config => f.write_str("project configuration"),
        }
    }
}

/// A hook with its origin.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedHook {
    pub hook: Hook,
    pub source: HookSource,
}

/// Errors loading hooks.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("cannot read hook directory {path}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

const BUILTIN: &[(&str, &str)] = &[
    ("certifi.toml", include_str!("../../hooks/certifi.toml")),
    ("cv2.toml", include_str!("../../hooks/cv2.toml")),
    ("django.toml", include_str!("../../hooks/django.toml")),
    (
        "django-admin.toml",
        include_str!("../../hooks/django-admin.toml"),
    ),
    ("faker.toml", include_str!("../../hooks/faker.toml")),
    ("holidays.toml", include_str!("../../hooks/holidays.toml")),
    ("hydra.toml", include_str!("../../hooks/hydra.toml")),
    ("jinja2.toml", include_str!("../../hooks/jinja2.toml")),
    (
        "matplotlib.toml",
        include_str!("../../hooks/matplotlib.toml"),
    ),
    ("mypy.toml", include_str!("../../hooks/mypy.toml")),
    ("numpy.toml", include_str!("../../hooks/numpy.toml")),
    ("pandas.toml", include_str!("../../hooks/pandas.toml")),
    (
        "onnxruntime.toml",
        include_str!("../../hooks/onnxruntime.toml"),
    ),
    ("passlib.toml", include_str!("../../hooks/passlib.toml")),
    ("plotly.toml", include_str!("../../hooks/plotly.toml")),
    ("pycparser.toml", include_str!("../../hooks/pycparser.toml")),
    ("pydantic.toml", include_str!("../../hooks/pydantic.toml")),
    ("pygments.toml", include_str!("../../hooks/pygments.toml")),
    ("pyqt6.toml", include_str!("../../hooks/pyqt6.toml")),
    ("pyside6.toml", include_str!("../../hooks/pyside6.toml")),
    ("scipy.toml", include_str!("../../hooks/scipy.toml")),
    (
        "sqlalchemy.toml",
        include_str!("../../hooks/sqlalchemy.toml"),
    ),
    ("torch.toml", include_str!("../../hooks/torch.toml")),
    (
        "transformers.toml",
        include_str!("../../hooks/transformers.toml"),
    ),
    ("tzdata.toml", include_str!("../../hooks/tzdata.toml")),
    ("uvicorn.toml", include_str!("../../hooks/uvicorn.toml")),
    ("zoneinfo.toml", include_str!("../../hooks/zoneinfo.toml")),
];

fn parse(text: &str, path: &str) -> Result<Hook, HookError> {
    let hook: Hook = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        HookError::Invalid {
            path: format!("{path}:{line}"),
            message: e.message().trim().to_string(),
        }
    })?;
    if hook.module.is_empty() {
        return Err(HookError::Invalid {
            path: path.to_string(),
            message: "`module` must name the module the hook applies to".into(),
        });
    }
    // The same rules as the configuration's keys: what would only fail at every start of the
    // bundle fails the build instead.
    let line_of = |needle: &str| {
        text.find(needle)
            .map(|at| text[..at].matches('\n').count() + 1)
    };
    let at = |needle: &str| match line_of(needle) {
        Some(line) => format!("{path}:{line}"),
        None => path.to_string(),
    };
    if let Some(key) = hook.env.keys().find(|k| !is_env_name(k)) {
        return Err(HookError::Invalid {
            path: at(key),
            message: format!(
                "`env` key {key:?} is not an environment variable name (letters, digits and \
                 `_`, not starting with a digit)"
            ),
        });
    }
    if let Some((key, _)) = hook.env.iter().find(|(_, v)| v.contains('\0')) {
        return Err(HookError::Invalid {
            path: at(key),
            message: format!("`env.{key}` holds a NUL character"),
        });
    }
    let names = hook
        .hidden_imports
        .iter()
        .chain(&hook.collect)
        .chain(&hook.exclude)
        .chain(hook.data_for.keys());
    if let Some(bad) = names.clone().find(|n| !is_dotted_name(n)) {
        return Err(HookError::Invalid {
            path: at(bad),
            message: format!("{bad:?} is not a dotted module name"),
        });
    }
    let globs = hook
        .data
        .iter()
        .chain(hook.data_for.values().flatten())
        .chain(&hook.exclude_data);
    for glob in globs {
        if let Err(e) = globset::Glob::new(glob) {
            return Err(HookError::Invalid {
                path: at(glob),
                message: format!("{glob:?} is not a glob: {}", e.kind()),
            });
        }
    }
    Ok(hook)
}

/// `a.b.c`: dotted Python identifiers.
pub fn is_dotted_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|p| {
            p.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// A name `os.environ` can hold and a shell can set: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Built-in hooks, then the hooks in `dirs` (which replace built-in hooks for the same module).
pub fn load(dirs: &[PathBuf]) -> Result<Vec<LoadedHook>, HookError> {
    let mut hooks: Vec<LoadedHook> = BUILTIN
        .iter()
        .map(|(name, text)| {
            Ok(LoadedHook {
                hook: parse(text, name)?,
                source: HookSource::Builtin(name.to_string()),
            })
        })
        .collect::<Result<_, HookError>>()?;
    for dir in dirs {
        let read = std::fs::read_dir(dir).map_err(|source| HookError::ReadDir {
            path: dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| HookError::ReadDir {
                path: path.clone(),
                source,
            })?;
            let hook = parse(&text, &path.display().to_string())?;
            hooks.retain(|h| h.hook.module != hook.module);
            hooks.push(LoadedHook {
                hook,
                source: HookSource::User(path),
            });
        }
    }
    Ok(hooks)
}

/// One set of the globs (invalid ones, which `parse` refuses, are skipped).
pub fn glob_set(globs: &[String]) -> Option<globset::GlobSet> {
    let mut builder = globset::GlobSetBuilder::new();
    for g in globs {
        if let Ok(glob) = globset::Glob::new(g) {
            builder.add(glob);
        }
    }
    builder.build().ok()
}

/// Files under `dir` matching any of `globs` (relative to `dir`).
pub fn data_matches(dir: &Path, globs: &[String]) -> Vec<PathBuf> {
    let Some(set) = glob_set(globs) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.path()
                .strip_prefix(dir)
                .is_ok_and(|rel| set.is_match(rel))
        })
        .map(|e| e.path().to_path_buf())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_hooks_parse_and_name_their_module() {
        let hooks = load(&[]).unwrap();
        assert_eq!(hooks.len(), BUILTIN.len());
        for h in &hooks {
            assert!(!h.hook.module.is_empty());
            assert!(
                h.hook.notes.is_some(),
                "{:?} should say why it exists",
                h.source
            );
        }
    }

    #[test]
    fn user_hooks_replace_builtin_ones_and_errors_name_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("uvicorn.toml"),
            "module = \"uvicorn\"\nhidden-imports = [\"x\"]\n",
        )
        .unwrap();
        let hooks = load(&[tmp.path().to_path_buf()]).unwrap();
        let uvicorn: Vec<&LoadedHook> = hooks
            .iter()
            .filter(|h| h.hook.module == "uvicorn")
            .collect();
        assert_eq!(uvicorn.len(), 1);
        assert_eq!(uvicorn[0].hook.hidden_imports, ["x"]);
        assert!(matches!(uvicorn[0].source, HookSource::User(_)));

        std::fs::write(
            tmp.path().join("bad.toml"),
            "module = \"m\"\nhiden-imports = []\n",
        )
        .unwrap();
        let err = load(&[tmp.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.contains("bad.toml:2"), "{err}");
        assert!(err.contains("hiden-imports"), "{err}");
    }

    #[test]
    fn docstrings_and_keep_source_are_hook_keys_but_bytecode_rules_are_not() {
        let hook = parse(
            "module = \"m\"\ndocstrings = true\nkeep-source = true\n",
            "m.toml",
        )
        .unwrap();
        assert!(hook.docstrings && hook.keep_source);
        assert_eq!(hook.bytecode, BytecodeRules::default());
        for key in ["bytecode", "optimize-packages", "optimize"] {
            let err = parse(&format!("module = \"m\"\n{key} = 1\n"), "m.toml").unwrap_err();
            assert!(err.to_string().contains("m.toml:2"), "{err}");
        }
        let builtin = load(&[]).unwrap();
        let flags = |module: &str| {
            let h = &builtin
                .iter()
                .find(|h| h.hook.module == module)
                .unwrap()
                .hook;
            (h.docstrings, h.keep_source)
        };
        assert_eq!(flags("torch"), (true, true));
        assert_eq!(flags("pycparser"), (true, false));
        // Checked by compiling them at -OO: they handle stripped docstrings.
        for module in ["numpy", "pandas", "scipy", "matplotlib"] {
            assert_eq!(flags(module), (false, false), "{module}");
        }
    }

    #[test]
    fn data_for_names_modules_and_every_data_key_holds_globs() {
        let hook = parse(
            "module = \"q\"\nexclude-data = [\"Qt/**\"]\n[data-for]\n\"q.Gui\" = [\"Qt/plugins/platforms/**\"]\n",
            "q.toml",
        )
        .unwrap();
        assert_eq!(hook.data_for["q.Gui"], ["Qt/plugins/platforms/**"]);
        assert_eq!(hook.exclude_data, ["Qt/**"]);
        let err = parse(
            "module = \"q\"\n[data-for]\n\"q.Gui-x\" = [\"a\"]\n",
            "q.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("q.toml:3"), "{err}");
        let err = parse("module = \"q\"\nexclude-data = [\"Qt/[a\"]\n", "q.toml").unwrap_err();
        assert!(err.to_string().contains("q.toml:2"), "{err}");
        assert!(err.to_string().contains("not a glob"), "{err}");
    }

    #[test]
    fn covers_a_package_and_its_submodules_only() {
        assert!(covers("a.b", "a.b"));
        assert!(covers("a.b", "a.b.c"));
        assert!(!covers("a.b", "a.bc"));
        assert!(!covers("a.b", "a"));
    }

    #[test]
    fn data_globs_are_relative_to_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        for f in ["a/x.css", "a/y.txt", "b/c/z.css"] {
            let p = tmp.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let got = data_matches(tmp.path(), &["**/*.css".into()]);
        assert_eq!(
            got,
            [tmp.path().join("a/x.css"), tmp.path().join("b/c/z.css")]
        );
    }
}
