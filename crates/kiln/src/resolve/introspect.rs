//! Build-time introspection, where reading files cannot know what an import does.
//!
//! - A package whose module-level `__getattr__` (PEP 562) imports submodules by names analysis
//!   cannot follow: rather than shipping every submodule, an isolated child interpreter
//!   (`python -I`, bounded in time and output) imports the package, reads each attribute the
//!   app's code (and its libraries) use of it, and reports which modules that imported, with
//!   the package's own submodules its import loaded (plotly.io's `__init__` reads its lazy
//!   `templates`). When the child fails, the caller falls back to every submodule.
//! - An extension module whose string constants are compressed (Cython 3.1+) in a way kiln could
//!   not read back (no block decompressed; see [`crate::analyse::compiled::scan_binary`]),
//!   so the names it imports cannot be read from the binary: a child imports it with a finder
//!   first on `sys.meta_path` that records each import made straight from compiled code while an
//!   extension module initialises (`pyarrow.lib` imports `cloudpickle` when it is installed).
//!   Imports its Python code makes are left to the parser.
//!
//! Answers are cached by the file's size and modification time (and the names asked).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What reading some attributes of one package imported.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Introspected {
    /// Modules that appeared in `sys.modules` while the attributes were read.
    pub modules: Vec<String>,
    /// Why the package could not be introspected (it failed to import), if it could not.
    pub error: Option<String>,
}

const CHILD: &str = r#"
import gc, importlib, json, sys
gc.disable()
request = json.loads(sys.argv[1])
out = {}
for package, names in request.items():
    loaded = set(sys.modules)
    try:
        module = importlib.import_module(package)
    except BaseException as e:
        out[package] = {"modules": [], "error": "%s: %s" % (type(e).__name__, e)}
        continue
    # Its own submodules its import loaded: its __init__ may read its lazy attributes too.
    own = set(k for k in sys.modules if isinstance(k, str) and k.startswith(package + "."))
    before = set(sys.modules)
    for name in names:
        try:
            getattr(module, name)
        except BaseException:
            pass
    after = set(k for k in sys.modules if isinstance(k, str))
    out[package] = {"modules": sorted((after - before) | (own - loaded)), "error": None}
sys.stdout.write("\n" + json.dumps(out))
"#;

/// Imports each requested extension module; what each one's initialisation imported from its
/// compiled code. The finder walks the importing frames: an import whose nearest frame outside
/// importlib is `_call_with_frames_removed(_imp.exec_dynamic or create_dynamic, ...)` came from
/// an extension module's C code, not from Python source (`import_`/`_gcd_import` there are the
/// parent packages of the name being imported, so the walk goes on past them).
const COMPILED_CHILD: &str = r#"
import gc, importlib, json, sys
gc.disable()
BOOT = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")
loads = {}
class Recorder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        f = sys._getframe(1)
        while f is not None and f.f_code.co_filename in BOOT:
            if f.f_code.co_name == "_call_with_frames_removed":
                call = getattr(f.f_locals.get("f"), "__name__", "")
                if call in ("exec_dynamic", "create_dynamic"):
                    args = f.f_locals.get("args") or (None,)
                    owner = getattr(args[0], "__name__", None) or getattr(args[0], "name", None)
                    if isinstance(owner, str):
                        loads.setdefault(owner, []).append(name)
                    return None
            f = f.f_back
        return None
sys.meta_path.insert(0, Recorder)
request = json.loads(sys.argv[1])
out = {}
for module in request:
    try:
        importlib.import_module(module)
        out[module] = {"modules": [], "error": None}
    except BaseException as e:
        out[module] = {"modules": [], "error": "%s: %s" % (type(e).__name__, e)}
for module in request:
    out[module]["modules"] = sorted(set(loads.get(module, [])))
sys.stdout.write("\n" + json.dumps(out))
"#;

/// Asks `python` what initialising each extension module in `modules` (name -> its file)
/// imports from compiled code. Cached like [`introspect`].
///
/// An import is seen only when it loads a module, so what another package loaded first would
/// be missed: each top-level package is asked in a child of its own (the children run at
/// once). A package whose child fails gets no answer.
pub fn introspect_compiled(
    python: &Path,
    cache_dir: Option<&Path>,
    modules: &BTreeMap<String, PathBuf>,
) -> BTreeMap<String, Introspected> {
    let mut groups: BTreeMap<&str, BTreeMap<String, (PathBuf, BTreeSet<String>)>> = BTreeMap::new();
    for (m, file) in modules {
        let top = m.split('.').next().unwrap_or(m);
        groups
            .entry(top)
            .or_default()
            .insert(m.clone(), (file.clone(), BTreeSet::new()));
    }
    std::thread::scope(|s| {
        let children: Vec<_> = groups
            .values()
            .map(|requests| {
                s.spawn(move || {
                    ask_child(
                        python,
                        cache_dir,
                        "compiled",
                        COMPILED_CHILD,
                        requests,
                        |ask| serde_json::to_string(&ask.keys().collect::<Vec<_>>()),
                    )
                })
            })
            .collect();
        children
            .into_iter()
            .filter_map(|c| c.join().ok()?.ok())
            .flatten()
            .collect()
    })
}

/// Asks `python` what reading `names` of each package imports. Packages answered by the cache
/// (under `cache_dir`, when given) are not asked again. Err when the child itself failed (it
/// timed out, crashed, or printed no answer).
pub fn introspect(
    python: &Path,
    cache_dir: Option<&Path>,
    requests: &BTreeMap<String, (PathBuf, BTreeSet<String>)>,
) -> Result<BTreeMap<String, Introspected>, String> {
    ask_child(python, cache_dir, "lazy", CHILD, requests, |ask| {
        serde_json::to_string(ask)
    })
}

/// Parses each requested file (module name -> file) with the interpreter's own parser and
/// reports its import statements, one `LINE LEVEL MODULE NAME,NAME` line each (`-` for no
/// module or no names), or an error when CPython rejects the file too.
const PARSE_CHILD: &str = r#"
import ast, json, sys
request = json.loads(sys.argv[1])
out = {}
for module, file in request.items():
    try:
        with open(file, "rb") as f:
            tree = ast.parse(f.read(), file)
    except BaseException as e:
        out[module] = {"modules": [], "error": "%s: %s" % (type(e).__name__, e)}
        continue
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                found.append("%d 0 %s -" % (node.lineno, a.name))
        elif isinstance(node, ast.ImportFrom):
            names = ",".join(a.name for a in node.names) or "-"
            found.append("%d %d %s %s" % (node.lineno, node.level, node.module or "-", names))
    out[module] = {"modules": found, "error": None}
sys.stdout.write("\n" + json.dumps(out))
"#;

/// The import statements of files kiln's parser rejected, as the target interpreter's parser
/// reads them (see [`PARSE_CHILD`] for the form). A file CPython rejects too gets an error.
pub fn parse_with_interpreter(
    python: &Path,
    cache_dir: Option<&Path>,
    files: &BTreeMap<String, PathBuf>,
) -> Result<BTreeMap<String, Introspected>, String> {
    let requests: BTreeMap<String, (PathBuf, BTreeSet<String>)> = files
        .iter()
        .map(|(m, f)| (m.clone(), (f.clone(), BTreeSet::new())))
        .collect();
    ask_child(python, cache_dir, "parse", PARSE_CHILD, &requests, |ask| {
        let files: BTreeMap<&str, &Path> = ask
            .keys()
            .filter_map(|m| Some((*m, files.get(*m)?.as_path())))
            .collect();
        serde_json::to_string(&files)
    })
}

/// Answers `requests` (name -> (file, names)) from the cache under `cache_dir`, and the rest
/// by running `child` with the JSON `request` makes of them; caches what the child answers.
/// `kind` keeps the two kinds of question apart in the cache.
fn ask_child(
    python: &Path,
    cache_dir: Option<&Path>,
    kind: &str,
    child: &str,
    requests: &BTreeMap<String, (PathBuf, BTreeSet<String>)>,
    request: impl Fn(&BTreeMap<&str, Vec<&str>>) -> serde_json::Result<String>,
) -> Result<BTreeMap<String, Introspected>, String> {
    let mut answers = BTreeMap::new();
    let mut ask: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let key_of = |package: &str, file: &Path, names: &BTreeSet<String>| {
        let stamp = std::fs::metadata(file)
            .map(|m| format!("{}-{:?}", m.len(), m.modified().ok()))
            .unwrap_or_default();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        blake3::hash(
            format!(
                "{}|{kind}|{}|{package}|{}|{stamp}|{}",
                python.display(),
                // A kiln whose child asks differently does not take an older one's answers.
                blake3::hash(child.as_bytes()).to_hex(),
                file.display(),
                names.join(",")
            )
            .as_bytes(),
        )
        .to_hex()
        .to_string()
    };
    for (package, (file, names)) in requests {
        let cached = cache_dir
            .map(|d| d.join(format!("{}.json", key_of(package, file, names))))
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<Introspected>(&b).ok());
        match cached {
            Some(hit) => {
                answers.insert(package.clone(), hit);
            }
            None => {
                ask.insert(package, names.iter().map(String::as_str).collect());
            }
        }
    }
    if ask.is_empty() {
        return Ok(answers);
    }
    let request = request(&ask).expect("a request serialises");
    let timeout = std::env::var("KILN_PYTHON_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(120), Duration::from_secs);
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-I", "-c", child])
        .arg(&request)
        .stdin(std::process::Stdio::null())
        // Packages that print on import (or start threads that do) must not confuse the answer.
        .env("PYTHONUNBUFFERED", "1")
        // numpy and scipy start a BLAS thread per core on import, which spin beside kiln's own
        // parsing threads; what a package imports does not depend on how many there are.
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("OMP_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1");
    let out = crate::process::run(&mut cmd, timeout, 16 << 20).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    // The answer is the last line; anything a package printed comes before it.
    let last = text.trim_end().rsplit('\n').next().unwrap_or_default();
    let got: BTreeMap<String, Introspected> = serde_json::from_str(last).map_err(|e| {
        format!(
            "no answer ({e}); {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        )
    })?;
    for (package, answer) in got {
        if let (Some(dir), Some((file, names))) = (cache_dir, requests.get(&package)) {
            let _ = std::fs::create_dir_all(dir);
            let path = dir.join(format!("{}.json", key_of(&package, file, names)));
            let _ = std::fs::write(path, serde_json::to_vec(&answer).unwrap_or_default());
        }
        answers.insert(package, answer);
    }
    Ok(answers)
}
