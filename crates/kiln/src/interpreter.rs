//! The target interpreter: asked once, with an embedded script, for everything later stages need
//! (version, search path, suffixes, builtin and frozen modules, libpython, site layout).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

const PROBE: &str = include_str!("python/interpreter.py");

/// The oldest and newest CPython 3 minor versions kiln builds for.
pub const MIN_MINOR: u32 = 9;
pub const MAX_MINOR: u32 = 14;
/// The newest minor version the test suite has run; builds for newer ones say so.
pub const TESTED_MAX_MINOR: u32 = 13;

/// Runs before the probe, in syntax that Python 2 reads too: an interpreter kiln does not
/// support says so (and what it is) instead of failing somewhere inside the probe.
const PRELUDE: &str = r#"import sys
v = sys.version_info
impl = getattr(getattr(sys, 'implementation', None), 'name', 'python')
if v[0] != 3 or v[1] < 9 or impl != 'cpython':
    sys.stdout.write('kiln-unsupported %s %d.%d.%d' % (impl, v[0], v[1], v[2]))
    sys.exit(3)
exec(compile(sys.argv[1], '<kiln interpreter probe>', 'exec'))
"#;

const UNSUPPORTED_MARK: &str = "kiln-unsupported ";

/// The probe takes well under a second; a slow disk or a cold cache may take a few. Up to 60 s
/// are allowed, or `KILN_PYTHON_TIMEOUT` seconds.
fn query_timeout() -> std::time::Duration {
    let secs = std::env::var("KILN_PYTHON_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(60.0);
    std::time::Duration::from_secs_f64(secs)
}
/// Its report is a few hundred KiB at most.
const QUERY_OUTPUT_CAP: usize = 64 << 20;

/// Errors finding or querying the target interpreter.
#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("no Python interpreter found: pass --python, set `python` in the config, or activate a venv")]
    NotFound,
    #[error("interpreter {0} does not exist")]
    Missing(PathBuf),
    #[error("cannot ask interpreter {path} to describe itself")]
    Run {
        path: PathBuf,
        #[source]
        source: crate::process::BoundedError,
    },
    #[error("{0} printed nothing when asked to describe itself: is it a Python interpreter?")]
    Silent(PathBuf),
    #[error("interpreter {path} failed while describing itself:\n{stderr}")]
    Failed { path: PathBuf, stderr: String },
    #[error("interpreter {path} gave an unreadable description: is it a CPython interpreter?")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "interpreter {path} is {found}, an unsupported version; kiln supports CPython 3.9 to 3.14"
    )]
    Unsupported { path: PathBuf, found: String },
}

/// A probe report kept by [`Interpreter::query_cached`], with the stamp it is valid for.
#[derive(Debug, serde::Serialize, Deserialize)]
struct CachedQuery {
    stamp: String,
    report: String,
}

/// Facts about the target interpreter, as it reported them.
#[derive(Debug, Clone, Deserialize)]
pub struct Interpreter {
    /// (major, minor, micro).
    pub version: Vec<u32>,
    pub implementation: String,
    pub cache_tag: String,
    /// `sys.executable` (in a venv, the venv's python).
    pub executable: PathBuf,
    /// The real interpreter binary behind a venv.
    pub base_executable: PathBuf,
    pub prefix: PathBuf,
    pub base_prefix: PathBuf,
    pub platlibdir: String,
    /// `sys.path` without the entry for the current directory or script.
    pub path: Vec<PathBuf>,
    pub stdlib: PathBuf,
    pub platstdlib: PathBuf,
    /// Where the standard library's extension modules live (`lib-dynload`).
    pub dynload: PathBuf,
    pub extension_suffixes: Vec<String>,
    pub source_suffixes: Vec<String>,
    pub bytecode_suffixes: Vec<String>,
    /// Hex of `importlib.util.MAGIC_NUMBER`.
    pub magic: String,
    pub builtin_modules: Vec<String>,
    pub frozen_modules: Vec<String>,
    pub stdlib_module_names: Vec<String>,
    pub shared_libpython: bool,
    pub ldlibrary: String,
    pub instsoname: String,
    pub libdir: PathBuf,
    pub multiarch: String,
    /// Where `site` looks for site-packages, relative to `sys.prefix`, in its order.
    pub site_packages_layout: Vec<PathBuf>,
    /// Modules an isolated interpreter imports before running any code.
    pub startup_modules: Vec<String>,
    pub platform: String,
    /// Modules registered in `sys.modules` under another module's name (`os.path` -> `posixpath`).
    #[serde(default)]
    pub module_aliases: std::collections::BTreeMap<String, String>,
    /// `(importer, imported)` pairs the standard library imports under computed names, such as
    /// `sysconfig` -> `_sysconfigdata_<abi>_<platform>_<multiarch>`.
    #[serde(default)]
    pub implicit_imports: Vec<(String, String)>,
    /// The user site-packages directory `site` would add when it exists (None when user site
    /// directories are disabled).
    #[serde(default)]
    pub user_site: Option<PathBuf>,
}

impl Interpreter {
    /// Picks the interpreter: explicit choice, then `$VIRTUAL_ENV`, then `python3` on PATH.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, InterpreterError> {
        if let Some(p) = explicit {
            return if p.exists() || p.components().count() == 1 {
                Ok(p.to_path_buf())
            } else {
                Err(InterpreterError::Missing(p.to_path_buf()))
            };
        }
        if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
            let p = Path::new(&venv).join("bin/python");
            if p.exists() {
                return Ok(p);
            }
        }
        let path = std::env::var_os("PATH").ok_or(InterpreterError::NotFound)?;
        std::env::split_paths(&path)
            .map(|d| d.join("python3"))
            .find(|p| p.is_file())
            .ok_or(InterpreterError::NotFound)
    }

    /// Runs the embedded probe with `python` and parses its report. The probe runs behind a
    /// prelude that any Python (2.7 included) can read, which refuses versions kiln does not
    /// support before the probe itself is compiled.
    pub fn query(python: &Path) -> Result<Interpreter, InterpreterError> {
        Ok(Self::probe(python)?.0)
    }

    /// Runs the probe: the interpreter and the report it was read from.
    fn probe(python: &Path) -> Result<(Interpreter, Vec<u8>), InterpreterError> {
        let output = crate::process::run(
            Command::new(python)
                .arg("-c")
                .arg(PRELUDE)
                .arg(PROBE)
                .env_remove("PYTHONSTARTUP"),
            query_timeout(),
            QUERY_OUTPUT_CAP,
        )
        .map_err(|source| InterpreterError::Run {
            path: python.to_path_buf(),
            source,
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if let Some(found) = stdout.strip_prefix(UNSUPPORTED_MARK) {
            return Err(InterpreterError::Unsupported {
                path: python.to_path_buf(),
                found: found.trim().to_string(),
            });
        }
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
            return Err(InterpreterError::Failed {
                path: python.to_path_buf(),
                stderr: if stderr.is_empty() {
                    format!("it exited with {} and printed nothing", output.status)
                } else {
                    stderr
                },
            });
        }
        if output.stdout.iter().all(u8::is_ascii_whitespace) {
            return Err(InterpreterError::Silent(python.to_path_buf()));
        }
        let interp = Self::from_report(python, &output.stdout)?;
        Ok((interp, output.stdout))
    }

    /// The interpreter a probe report describes (checked to be one kiln supports).
    fn from_report(python: &Path, report: &[u8]) -> Result<Interpreter, InterpreterError> {
        let mut interp: Interpreter =
            serde_json::from_slice(report).map_err(|source| InterpreterError::Parse {
                path: python.to_path_buf(),
                source,
            })?;
        let supported = interp.implementation == "cpython"
            && interp.version.first() == Some(&3)
            && (MIN_MINOR..=MAX_MINOR).contains(&interp.minor());
        if !supported {
            return Err(InterpreterError::Unsupported {
                path: python.to_path_buf(),
                found: format!("{} {}", interp.implementation, interp.version_string()),
            });
        }
        interp.base_executable = std::fs::canonicalize(&interp.base_executable)
            .unwrap_or_else(|_| interp.base_executable.clone());
        if interp.dynload.as_os_str().is_empty() {
            interp.dynload = interp.platstdlib.join("lib-dynload");
        }
        Ok(interp)
    }

    /// [`Interpreter::query`], answered from `cache_dir` when nothing the report depends on has
    /// changed since it was made: the interpreter's files (the path given, the executables,
    /// `pyvenv.cfg`), every directory of its search path (installing a package or a `.pth`
    /// file changes its directory), its user site directory, and the environment variables
    /// that change the search path. Asking takes tens of milliseconds; this, well under one.
    pub fn query_cached(python: &Path, cache_dir: &Path) -> Result<Interpreter, InterpreterError> {
        let env: Vec<String> = [
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONNOUSERSITE",
            "PYTHONUSERBASE",
            "PYTHONSAFEPATH",
            "PYTHONPLATLIBDIR",
            "HOME",
        ]
        .iter()
        // A bare name is looked up on PATH.
        .chain(Some(&"PATH").filter(|_| python.components().count() == 1))
        .map(|v| format!("{v}={:?}", std::env::var_os(v)))
        .collect();
        let absolute = std::path::absolute(python).unwrap_or_else(|_| python.to_path_buf());
        let key = blake3::hash(format!("{}|{}", absolute.display(), env.join("|")).as_bytes());
        let file = cache_dir.join(format!("{}.json", &key.to_hex()[..32]));
        if let Some(hit) = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<CachedQuery>(&b).ok())
        {
            if let Ok(interp) = Self::from_report(python, hit.report.as_bytes()) {
                if interp.stamp(python) == hit.stamp {
                    return Ok(interp);
                }
            }
        }
        let (interp, report) = Self::probe(python)?;
        let entry = CachedQuery {
            stamp: interp.stamp(python),
            report: String::from_utf8_lossy(&report).into_owned(),
        };
        // A cache that cannot be written only costs the next run its tens of milliseconds.
        let _ = std::fs::create_dir_all(cache_dir).and_then(|()| {
            let tmp = file.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec(&entry).unwrap_or_default())?;
            std::fs::rename(&tmp, &file)
        });
        Ok(interp)
    }

    /// Inode, size and modification time (of the link and of what it points to) of everything a
    /// probe report depends on.
    fn stamp(&self, python: &Path) -> String {
        let mut paths: Vec<PathBuf> = vec![
            python.to_path_buf(),
            self.executable.clone(),
            self.base_executable.clone(),
            self.prefix.join("pyvenv.cfg"),
        ];
        paths.extend(self.path.iter().cloned());
        paths.extend(self.user_site.iter().cloned());
        let mut out = String::new();
        for p in paths {
            use std::os::unix::fs::MetadataExt;
            let link = std::fs::symlink_metadata(&p).ok();
            let meta = std::fs::metadata(&p).ok();
            let describe = |m: Option<std::fs::Metadata>| {
                m.map_or("-".to_string(), |m| {
                    format!("{}:{}:{}.{}", m.ino(), m.len(), m.mtime(), m.mtime_nsec())
                })
            };
            out.push_str(&format!(
                "{}|{}|{}\n",
                p.display(),
                describe(link),
                describe(meta)
            ));
        }
        out
    }

    pub fn minor(&self) -> u32 {
        self.version.get(1).copied().unwrap_or(0)
    }

    /// `3.11.7`.
    pub fn version_string(&self) -> String {
        self.version
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// `python3.11`: the stdlib directory name and interpreter file name.
    pub fn python_name(&self) -> String {
        format!("python3.{}", self.minor())
    }

    /// Where the bundle keeps site-packages, relative to its prefix: the layout `site` of this
    /// interpreter expects, preferring `<platlibdir>/pythonX.Y/...` over `local/...`.
    pub fn bundle_site_packages(&self) -> PathBuf {
        let wanted = Path::new(&self.platlibdir).join(self.python_name());
        self.site_packages_layout
            .iter()
            .find(|p| p.parent() == Some(wanted.as_path()))
            .or_else(|| self.site_packages_layout.first())
            .cloned()
            .unwrap_or_else(|| wanted.join("site-packages"))
    }

    /// The bundle's standard library directory, relative to its prefix.
    pub fn bundle_stdlib(&self) -> PathBuf {
        Path::new("lib").join(self.python_name())
    }

    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin_modules
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }

    /// Whether `top` is a top-level module name of the standard library (the probe sorts them).
    pub fn is_stdlib_name(&self, top: &str) -> bool {
        self.stdlib_module_names
            .binary_search_by(|m| m.as_str().cmp(top))
            .is_ok()
    }

    pub fn is_frozen(&self, name: &str) -> bool {
        self.frozen_modules.iter().any(|m| m == name)
    }
}

#[cfg(test)]
impl Interpreter {
    /// CPython 3.11 facts on x86_64 Linux, with the given search path (for resolver tests).
    pub(crate) fn fixture(path: Vec<PathBuf>) -> Interpreter {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Interpreter {
            version: vec![3, 11, 7],
            implementation: "cpython".into(),
            cache_tag: "cpython-311".into(),
            executable: "/nonexistent/bin/python3".into(),
            base_executable: "/nonexistent/bin/python3.11".into(),
            prefix: "/nonexistent".into(),
            base_prefix: "/nonexistent".into(),
            platlibdir: "lib".into(),
            path,
            stdlib: "/nonexistent/lib/python3.11".into(),
            platstdlib: "/nonexistent/lib/python3.11".into(),
            dynload: "/nonexistent/lib/python3.11/lib-dynload".into(),
            extension_suffixes: s(&[".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"]),
            source_suffixes: s(&[".py"]),
            bytecode_suffixes: s(&[".pyc"]),
            magic: "a70d0d0a".into(),
            builtin_modules: s(&["_imp", "builtins", "sys", "time"]),
            frozen_modules: Vec::new(),
            stdlib_module_names: Vec::new(),
            shared_libpython: true,
            ldlibrary: "libpython3.11.so".into(),
            instsoname: "libpython3.11.so.1.0".into(),
            libdir: "/nonexistent/lib".into(),
            multiarch: "x86_64-linux-gnu".into(),
            site_packages_layout: vec!["lib/python3.11/site-packages".into()],
            startup_modules: Vec::new(),
            platform: "linux".into(),
            module_aliases: Default::default(),
            implicit_imports: Vec::new(),
            user_site: None,
        }
    }
}
