//! Whether CPython would accept a command line, for the bundle's interpreter (`sys.executable`).
//!
//! Code written for PyInstaller starts a copy of the app through `sys.executable`, because there
//! `sys.executable` is the app: `subprocess.run([sys.executable, "--worker", "job1"])`. In a kiln
//! bundle `sys.executable` is the bundled interpreter, so `[sys.executable, "-c", ...]`, `-m` and
//! multiprocessing work as they do with `python`. Both idioms work by one rule: a command line
//! that CPython itself would refuse to start from runs the app's entry with those arguments
//! instead. CPython refuses
//! - an option it does not know (`--worker`, `-w`; its long options are `--help`,
//!   `--help-env`, `--help-xoptions`, `--help-all`, `--version` and
//!   `--check-hash-based-pycs MODE`);
//! - a script that does not exist (`job1`), where `-` (standard input) and `--` followed by
//!   nothing are not scripts.
//!
//! Everything CPython accepts (no arguments for the REPL, `-c`, `-m`, an existing script or
//! directory or zip file, options before them) keeps its CPython meaning.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Short options that take no value; `c` and `m` end the options, `W` and `X` take one.
const SHORT_FLAGS: &[u8] = b"bBdEhiIOPqRsSuvVx?";

const LONG_FLAGS: &[&str] = &[
    "--help",
    "--help-env",
    "--help-xoptions",
    "--help-all",
    "--version",
];

/// Why CPython would refuse `args` (the arguments after the program name), or `None` when it
/// would run them. `exists` says whether a script path names something.
pub fn rejected_by_cpython(args: &[&OsStr], exists: impl Fn(&Path) -> bool) -> Option<String> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let bytes = arg.as_bytes();
        if bytes == b"-" {
            return None;
        }
        if bytes == b"--" {
            return args.get(i + 1).and_then(|script| missing(script, &exists));
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            let name = std::str::from_utf8(long).unwrap_or("");
            if name == "check-hash-based-pycs" {
                i += 2;
                continue;
            }
            if LONG_FLAGS.iter().any(|flag| flag[2..] == *name) {
                return None;
            }
            return Some(format!("unknown option {}", String::from_utf8_lossy(bytes)));
        }
        if let Some(flags) = bytes.strip_prefix(b"-") {
            for (at, &flag) in flags.iter().enumerate() {
                match flag {
                    b'c' | b'm' => return None,
                    b'W' | b'X' => {
                        // The value is the rest of this argument, or the next one.
                        if at + 1 == flags.len() {
                            i += 1;
                        }
                        break;
                    }
                    flag if SHORT_FLAGS.contains(&flag) => {}
                    flag => {
                        return Some(format!("unknown option -{}", char::from(flag)));
                    }
                }
            }
            i += 1;
            continue;
        }
        return missing(arg, &exists);
    }
    None
}

fn missing(script: &OsStr, exists: &impl Fn(&Path) -> bool) -> Option<String> {
    (!exists(Path::new(script))).then(|| {
        format!(
            "no file or directory {}",
            String::from_utf8_lossy(script.as_bytes())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(line: &str) -> Option<String> {
        let args: Vec<&OsStr> = line.split_whitespace().map(OsStr::new).collect();
        rejected_by_cpython(&args, |p| {
            p == Path::new("app.py") || p == Path::new("pkgdir")
        })
    }

    #[test]
    fn what_cpython_runs_stays_python() {
        for line in [
            "",
            "-c print(1)",
            "-m json.tool",
            "-u -c pass",
            "-OO -m mod",
            "-Wignore -c pass",
            "-W ignore -c pass",
            "-X utf8 -m mod",
            "-Xdev app.py",
            "-I -S -E app.py --worker",
            "-s -B app.py",
            "app.py --worker job1",
            "pkgdir",
            "-",
            "--",
            "-- app.py",
            "--version",
            "--help-all",
            "--check-hash-based-pycs never -c pass",
            "-bb -c pass",
            "-uc pass",
        ] {
            assert_eq!(verdict(line), None, "{line:?}");
        }
    }

    #[test]
    fn what_cpython_refuses_runs_the_app() {
        for (line, why) in [
            ("--worker job1", "unknown option --worker"),
            ("--multiprocessing-fork-not", "unknown option"),
            ("-w", "unknown option -w"),
            ("-uw", "unknown option -w"),
            ("-W ignore --serve", "unknown option --serve"),
            ("job1", "no file or directory job1"),
            ("worker --port 8000", "no file or directory worker"),
            ("-u missing.py", "no file or directory missing.py"),
            ("-- missing.py", "no file or directory missing.py"),
        ] {
            let got = verdict(line).unwrap_or_else(|| panic!("{line:?} was accepted"));
            assert!(got.contains(why), "{line:?}: {got}");
        }
    }
}
