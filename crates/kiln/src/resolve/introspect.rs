//! Build-time introspection of packages whose module-level `__getattr__` (PEP 562) imports
//! submodules by names analysis cannot follow.
//!
//! Rather than shipping every submodule of such a package, kiln asks the target interpreter:
//! an isolated child (`python -I`, bounded in time and output) imports the package, reads each
//! attribute the app's code (and its libraries) use of it, and reports which modules that
//! imported. Results are cached by the package file's size and modification time and the
//! names asked. When the child fails, the caller falls back to every submodule.

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
    try:
        module = importlib.import_module(package)
    except BaseException as e:
        out[package] = {"modules": [], "error": "%s: %s" % (type(e).__name__, e)}
        continue
    before = set(sys.modules)
    for name in names:
        try:
            getattr(module, name)
        except BaseException:
            pass
    after = set(k for k in sys.modules if isinstance(k, str))
    out[package] = {"modules": sorted(after - before), "error": None}
sys.stdout.write("\n" + json.dumps(out))
"#;

/// Asks `python` what reading `names` of each package imports. Packages answered by the cache
/// (under `cache_dir`, when given) are not asked again. Err when the child itself failed (it
/// timed out, crashed, or printed no answer).
pub fn introspect(
    python: &Path,
    cache_dir: Option<&Path>,
    requests: &BTreeMap<String, (PathBuf, BTreeSet<String>)>,
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
                "{}|{package}|{}|{stamp}|{}",
                python.display(),
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
    let request = serde_json::to_string(&ask).expect("a request serialises");
    let timeout = std::env::var("KILN_PYTHON_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(120), Duration::from_secs);
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-I", "-c", CHILD])
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
