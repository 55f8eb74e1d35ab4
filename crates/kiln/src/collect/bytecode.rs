//! Source -> bytecode, compiled by the target interpreter itself (its own compiler and magic
//! number), several files per process and one process per core. Results are cached by content:
//! a warm build compiles nothing.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
            job.source.display(),
            job.display,
            out.display()
        ));
    }
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
    let output = child
        .wait_with_output()
        .map_err(|e| BytecodeError::Worker(e.to_string()))?;
    if replies.len() != chunk.len() {
        return Err(BytecodeError::Worker(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(replies)
}
