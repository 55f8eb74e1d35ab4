//! Source -> bytecode, compiled by the target interpreter itself (its own compiler and magic
//! number), several files per process and one process per core. Results are cached by content:
//! a warm build compiles nothing. [`Policy`] decides each module's optimisation level and
//! whether its source ships too.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::analyse;
use crate::resolve::ModuleGraph;

const WORKER: &str = include_str!("../python/compile.py");

/// One file to compile.
#[derive(Debug, Clone)]
pub struct CompileJob {
    pub source: PathBuf,
    /// The file name recorded in the code object (shown in tracebacks).
    pub display: String,
    pub optimize: u8,
}

/// Errors of the compile step as a whole (a file that fails to compile is a per-job result).
#[derive(Debug, thiserror::Error)]
pub enum BytecodeError {
    #[error("cannot start the bytecode compiler {python}")]
    Spawn {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the bytecode compiler stopped early (exit status {0})")]
    Worker(String),
    #[error("cannot use the bytecode cache at {path}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Compiles `jobs`, returning for each the path of its cached `.pyc` or the compiler's message.
pub fn compile_all(
    python: &Path,
    magic: &str,
    jobs: &[CompileJob],
    cache_dir: &Path,
    workers: usize,
) -> Result<Vec<Result<PathBuf, String>>, BytecodeError> {
    let dir = cache_dir.join("bytecode").join(magic);
    std::fs::create_dir_all(&dir).map_err(|source| BytecodeError::Cache {
        path: dir.clone(),
        source,
    })?;
    use rayon::prelude::*;
    let outputs: Vec<Result<PathBuf, String>> = jobs
        .par_iter()
        .map(|job| {
            let bytes =
                std::fs::read(&job.source).map_err(|e| format!("{}: {e}", job.source.display()))?;
            let mut h = blake3::Hasher::new();
            h.update(magic.as_bytes());
            h.update(&[job.optimize]);
            h.update(job.display.as_bytes());
            h.update(&[0]);
            h.update(&bytes);
            Ok(dir.join(format!("{}.pyc", h.finalize().to_hex())))
        })
        .collect();
    let todo: Vec<usize> = (0..jobs.len())
        .filter(|&i| matches!(&outputs[i], Ok(p) if !p.is_file()))
        .collect();
    let mut results = outputs;
    if todo.is_empty() {
        return Ok(results);
    }
    let workers = workers.clamp(1, todo.len().div_ceil(16).max(1));
    let chunks: Vec<Vec<usize>> = (0..workers)
        .map(|w| todo.iter().copied().skip(w).step_by(workers).collect())
        .collect();
    let replies: Vec<Result<WorkerReplies, BytecodeError>> = chunks
        .into_par_iter()
        .map(|chunk| run_worker(python, jobs, &results, chunk))
        .collect();
    for reply in replies {
        for (i, error) in reply? {
            if let Some(message) = error {
                results[i] = Err(message);
            }
        }
    }
    Ok(results)
}

/// Per job index: the compiler's error message, or None when it compiled.
type WorkerReplies = Vec<(usize, Option<String>)>;

fn run_worker(
    python: &Path,
    jobs: &[CompileJob],
    outputs: &[Result<PathBuf, String>],
    chunk: Vec<usize>,
) -> Result<WorkerReplies, BytecodeError> {
    let mut child = Command::new(python)
        .args(["-I", "-S", "-c", WORKER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BytecodeError::Spawn {
            python: python.to_path_buf(),
            source,
        })?;
    let mut input = String::new();
    for &i in &chunk {
        let job = &jobs[i];
        let out = outputs[i]
            .as_ref()
            .expect("only readable sources are compiled");
        input.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            job.optimize,
            hex(job.source.as_os_str().as_bytes()),
            hex(job.display.as_bytes()),
            hex(out.as_os_str().as_bytes())
        ));
    }
    // A worker that stops answering (an interpreter that hangs) is killed, which ends its
    // output and so the loop below.
    let pid = child.id();
    let deadline = WORKER_TIMEOUT + WORKER_TIMEOUT_PER_FILE * chunk.len() as u32;
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let timed_out = matches!(
            finished.recv_timeout(deadline),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        if timed_out {
            // SAFETY: kill(2) on a child that has not been reaped (the caller waits after
            // this thread is joined).
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        timed_out
    });
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut replies = Vec::with_capacity(chunk.len());
    for (line, &i) in stdout.lines().zip(&chunk) {
        let line = line.map_err(|e| BytecodeError::Worker(e.to_string()))?;
        let error = line.strip_prefix("error\t").map(str::to_string);
        replies.push((i, error));
    }
    let _ = writer.join();
    let _ = done.send(());
    if watchdog.join().unwrap_or(false) {
        let _ = child.wait();
        return Err(BytecodeError::Worker(format!(
            "{} stopped answering and was killed after {} s",
            python.display(),
            deadline.as_secs()
        )));
    }
    let mut stderr = Vec::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = (&mut err).take(1 << 20).read_to_end(&mut stderr);
    }
    let status = crate::process::wait(&mut child, WORKER_EXIT_TIMEOUT)
        .map_err(|e| BytecodeError::Worker(format!("{}: {e}", python.display())))?;
    if replies.len() != chunk.len() {
        return Err(BytecodeError::Worker(format!(
            "{}: {}",
            status,
            String::from_utf8_lossy(&stderr).trim()
        )));
    }
    Ok(replies)
}

/// How long a compile worker may take for its jobs: a fixed allowance plus some per file.
const WORKER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
const WORKER_TIMEOUT_PER_FILE: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a compile worker may take to exit once it has answered every job.
const WORKER_EXIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// How each module's bytecode is made: its optimisation level (`optimize`, the configuration's
/// `optimize-packages`, hooks' `docstrings`) and whether its `.py` ships beside it (the
/// configuration's or a hook's `keep-source`).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    global: u8,
    /// `optimize-packages`: package -> level.
    levels: BTreeMap<String, u8>,
    /// `keep-source` of the configuration.
    keep: Vec<String>,
    /// Packages whose hooks say they read their docstrings: (package, the hook).
    docstrings: Vec<(String, String)>,
    /// Packages whose hooks say they read their own source: (package, the hook).
    keep_hooks: Vec<(String, String)>,
}

impl Policy {
    /// The policy of a build whose global level is `optimize`, from the hooks that applied
    /// (the project's configuration among them).
    pub fn new(graph: &ModuleGraph, optimize: u8) -> Policy {
        let mut policy = Policy {
            global: optimize,
            ..Default::default()
        };
        for applied in &graph.applied_hooks {
            let hook = &applied.hook;
            policy.levels.extend(hook.bytecode.optimize.clone());
            policy
                .keep
                .extend(hook.bytecode.keep_source.iter().cloned());
            let source = applied.source.to_string();
            if hook.docstrings {
                policy
                    .docstrings
                    .push((hook.module.clone(), source.clone()));
            }
            if hook.keep_source {
                policy.keep_hooks.push((hook.module.clone(), source));
            }
        }
        policy
    }

    /// The optimisation level of module `name`, with the reason when it is not the global one.
    pub fn optimize(&self, name: &str) -> (u8, Option<String>) {
        if let Some((package, &level)) = most_specific(&self.levels, name) {
            let reason = (level != self.global)
                .then(|| format!("`optimize-packages` sets {package} = {level}"));
            return (level, reason);
        }
        if self.global == 2 {
            if let Some((package, hook)) = most_specific_pair(&self.docstrings, name) {
                return (
                    1,
                    Some(format!("the {hook} says {package} reads its docstrings")),
                );
            }
        }
        (self.global, None)
    }

    /// Why module `name`'s `.py` ships beside its bytecode, if the configuration or a hook
    /// says it does.
    pub fn keep_source(&self, name: &str) -> Option<String> {
        if let Some(package) = self
            .keep
            .iter()
            .filter(|p| covers(p, name))
            .max_by_key(|p| p.len())
        {
            return Some(format!(
                "{package} is named in `keep-source` of the configuration"
            ));
        }
        most_specific_pair(&self.keep_hooks, name)
            .map(|(package, hook)| format!("the {hook} says {package} reads its own source"))
    }

    /// What a build should hear about the policy, given the bundled modules' names: names in
    /// the configuration that match nothing, and explicit levels of 2 for packages a hook says
    /// read their docstrings.
    pub fn warnings<'a>(&self, names: impl Iterator<Item = &'a str>) -> Vec<String> {
        let names: Vec<&str> = names.collect();
        let mut out = BTreeSet::new();
        for (key, package) in self
            .levels
            .keys()
            .map(|p| ("optimize-packages", p))
            .chain(self.keep.iter().map(|p| ("keep-source", p)))
        {
            if !names.iter().any(|n| covers(package, n)) {
                out.insert(format!(
                    "`{key}` names {package}, which is not in the bundle"
                ));
            }
        }
        for name in &names {
            let (Some((package, 2)), Some((reader, hook))) = (
                most_specific(&self.levels, name).map(|(p, l)| (p, *l)),
                most_specific_pair(&self.docstrings, name),
            ) else {
                continue;
            };
            out.insert(format!(
                "`optimize-packages` sets {package} = 2, but the {hook} says {reader} reads \
                 its docstrings at run time; compiled at 2 as configured"
            ));
        }
        out.into_iter().collect()
    }
}

fn covers(package: &str, name: &str) -> bool {
    crate::hooks::covers(package, name)
}

/// The entry of `map` with the longest key that is `name` or a package of it.
fn most_specific<'m, T>(map: &'m BTreeMap<String, T>, name: &str) -> Option<(&'m str, &'m T)> {
    map.iter()
        .filter(|(p, _)| covers(p, name))
        .max_by_key(|(p, _)| p.len())
        .map(|(p, v)| (p.as_str(), v))
}

fn most_specific_pair<'m>(list: &'m [(String, String)], name: &str) -> Option<(&'m str, &'m str)> {
    list.iter()
        .filter(|(p, _)| covers(p, name))
        .max_by_key(|(p, _)| p.len())
        .map(|(p, v)| (p.as_str(), v.as_str()))
}

/// The first call in `path` that reads its own functions' source ([`analyse::SOURCE_READERS`]),
/// if any. Files that cannot mention one are not parsed.
pub fn own_source_read(
    path: &Path,
    ctx: analyse::SourceContext<'_>,
) -> Option<analyse::SourceRead> {
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    if !analyse::may_read_source(&text) {
        return None;
    }
    analyse::analyse_source(&text, ctx)
        .ok()?
        .source_reads
        .into_iter()
        .next()
}

/// Where CPython's source loader looks for the bytecode of `source` (`pkg/mod.py` ->
/// `pkg/__pycache__/mod.TAG.pyc`), for an interpreter started without `-O`.
pub fn cached_path(source: &Path, cache_tag: &str) -> PathBuf {
    let stem = source.file_stem().unwrap_or_default().to_string_lossy();
    source
        .parent()
        .unwrap_or(Path::new(""))
        .join("__pycache__")
        .join(format!("{stem}.{cache_tag}.pyc"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::{BytecodeRules, Hook, HookSource};
    use crate::resolve::AppliedHook;

    fn applied(hook: Hook, source: HookSource) -> AppliedHook {
        AppliedHook {
            module: hook.module.clone(),
            source,
            added: Vec::new(),
            not_found: Vec::new(),
            hook,
        }
    }

    fn policy(optimize: u8) -> Policy {
        let config = Hook {
            module: "__main__".into(),
            bytecode: BytecodeRules {
                optimize: [("app", 0), ("app.fast", 2), ("reader.strict", 2)]
                    .map(|(p, l)| (p.to_string(), l))
                    .into(),
                keep_source: vec!["app.models".into(), "nothing_here".into()],
            },
            ..Default::default()
        };
        let reader = Hook {
            module: "reader".into(),
            docstrings: true,
            keep_source: true,
            ..Default::default()
        };
        let graph = ModuleGraph {
            applied_hooks: vec![
                applied(config, HookSource::Config),
                applied(reader, HookSource::Builtin("reader.toml".into())),
            ],
            ..Default::default()
        };
        Policy::new(&graph, optimize)
    }

    #[test]
    fn the_longest_configured_name_wins_then_hooks_then_the_global_level() {
        let p = policy(2);
        assert_eq!(
            p.optimize("app.views"),
            (0, Some("`optimize-packages` sets app = 0".into()))
        );
        assert_eq!(
            p.optimize("app.fast.x"),
            (2, None),
            "same as the global level"
        );
        assert_eq!(
            p.optimize("application"),
            (2, None),
            "not a submodule of app"
        );
        assert_eq!(
            p.optimize("reader.sub"),
            (
                1,
                Some("the built-in hook reader.toml says reader reads its docstrings".into())
            )
        );
        assert_eq!(
            p.optimize("reader.strict"),
            (2, None),
            "configured explicitly"
        );
        // Below 2 a docstrings hook changes nothing.
        assert_eq!(policy(1).optimize("reader"), (1, None));
        assert_eq!(policy(0).optimize("other"), (0, None));
    }

    #[test]
    fn sources_are_kept_by_configuration_or_hook() {
        let p = policy(0);
        assert_eq!(
            p.keep_source("app.models.user").as_deref(),
            Some("app.models is named in `keep-source` of the configuration")
        );
        assert_eq!(
            p.keep_source("reader").as_deref(),
            Some("the built-in hook reader.toml says reader reads its own source")
        );
        assert_eq!(p.keep_source("app.views"), None);
    }

    #[test]
    fn warnings_name_unmatched_names_and_overridden_docstring_hooks() {
        let p = policy(2);
        let warnings = p.warnings(["app", "app.fast", "reader", "reader.strict"].into_iter());
        assert_eq!(
            warnings,
            [
                "`keep-source` names app.models, which is not in the bundle",
                "`keep-source` names nothing_here, which is not in the bundle",
                "`optimize-packages` sets reader.strict = 2, but the built-in hook reader.toml \
                 says reader reads its docstrings at run time; compiled at 2 as configured",
            ]
        );
    }

    #[test]
    fn cached_bytecode_sits_in_pycache_beside_the_source() {
        assert_eq!(
            cached_path(Path::new("site/pkg/__init__.py"), "cpython-311"),
            Path::new("site/pkg/__pycache__/__init__.cpython-311.pyc")
        );
        assert_eq!(
            cached_path(Path::new("reader.py"), "cpython-311"),
            Path::new("__pycache__/reader.cpython-311.pyc")
        );
    }
}
