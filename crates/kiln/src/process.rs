//! Child processes with bounds: every program kiln runs (the target interpreter above all, which
//! the user names and which may be anything) gets a time limit and a cap on what it may print,
//! so a program that never exits or floods its output cannot hang kiln or exhaust memory.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a bounded run produced.
#[derive(Debug)]
pub struct Bounded {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a bounded run did not finish normally.
#[derive(Debug, thiserror::Error)]
pub enum BoundedError {
    #[error("cannot start it")]
    Spawn(#[source] std::io::Error),
    #[error("it did not finish within {} s and was stopped", .0.as_secs())]
    Timeout(Duration),
    #[error("it printed more than {} MiB and was stopped", .0 >> 20)]
    TooMuchOutput(usize),
    #[error("cannot wait for it")]
    Wait(#[source] std::io::Error),
}

/// Runs `cmd` with no standard input, collecting at most `cap` bytes of each output stream;
/// the child is killed when it runs longer than `timeout` or prints more than `cap`.
pub fn run(cmd: &mut Command, timeout: Duration, cap: usize) -> Result<Bounded, BoundedError> {
    use std::os::unix::process::CommandExt;
    // Its own process group, so that a wrapper script's children go with it.
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(BoundedError::Spawn)?;
    let overflow = Arc::new(AtomicBool::new(false));
    let pid = child.id();
    let out = reader(child.stdout.take(), cap, pid, overflow.clone());
    let err = reader(child.stderr.take(), cap, pid, overflow.clone());
    let status = wait(&mut child, timeout);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let status = status?;
    if overflow.load(Ordering::SeqCst) {
        return Err(BoundedError::TooMuchOutput(cap));
    }
    Ok(Bounded {
        status,
        stdout,
        stderr,
    })
}

/// Waits for `child`, killing it after `timeout`.
pub fn wait(child: &mut Child, timeout: Duration) -> Result<ExitStatus, BoundedError> {
    let started = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait().map_err(BoundedError::Wait)? {
            return Ok(status);
        }
        if started.elapsed() >= timeout {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            return Err(BoundedError::Timeout(timeout));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn reader(
    stream: Option<impl Read + Send + 'static>,
    cap: usize,
    pid: u32,
    overflow: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let Some(stream) = stream else {
            return buf;
        };
        // One byte more than allowed tells an overflow from output of exactly `cap` bytes.
        let mut limited = stream.take(cap as u64 + 1);
        let _ = limited.read_to_end(&mut buf);
        if buf.len() > cap {
            overflow.store(true, Ordering::SeqCst);
            buf.truncate(cap);
            kill_group(pid);
        }
        buf
    })
}

/// Kills the process group that `pid` leads (see `process_group(0)` above).
fn kill_group(pid: u32) {
    // SAFETY: kill(2) on the group of a child this process started and has not yet reaped.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_never_exits_is_stopped() {
        let started = Instant::now();
        let err = run(
            Command::new("sleep").arg("30"),
            Duration::from_millis(300),
            1024,
        )
        .unwrap_err();
        assert!(matches!(err, BoundedError::Timeout(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_wrapper_script_that_never_exits_is_stopped_with_its_children() {
        let started = Instant::now();
        let err = run(
            Command::new("sh").args(["-c", "sleep 30; echo late"]),
            Duration::from_millis(300),
            1024,
        )
        .unwrap_err();
        assert!(matches!(err, BoundedError::Timeout(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_child_that_floods_its_output_is_stopped() {
        let err = run(&mut Command::new("yes"), Duration::from_secs(30), 1 << 20).unwrap_err();
        assert!(matches!(err, BoundedError::TooMuchOutput(_)), "{err}");
    }

    #[test]
    fn output_and_status_come_back() {
        let done = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(30),
            1024,
        )
        .unwrap();
        assert_eq!(done.stdout, b"out\n");
        assert_eq!(done.stderr, b"err\n");
        assert_eq!(done.status.code(), Some(3));
    }
}
