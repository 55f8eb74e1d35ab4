//! Bounded fuzzing of the onefile reader and launcher: one real onefile executable built by
//! kiln, then a few hundred mutants of it (bytes flipped in the launcher, payload, settings and
//! footer; truncations; appended bytes; payloads changed and signed again with a correct hash;
//! settings rewritten under a correct footer), each started once with a fresh private cache, an
//! empty working directory and home, and a timeout.
//!
//! Every mutant must either run the app with its exact output, or stop with one of the
//! launcher's own exit statuses and a message, and never: die by a signal, hang, write outside
//! its cache, or keep anything it unpacked when it fails. The mutants come from a small seeded
//! generator with a fixed seed; `KILN_FUZZ_SEED=N` runs (and replays) another.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kiln_bundle::cache;
use kiln_bundle::Trailer;

use crate::support::{freeze_mode, onefile_entries, run_plain, Mode};

/// The launcher's own exit statuses (see the README's "What kiln promises").
const LAUNCHER_STATUSES: [i32; 4] = [123, 125, 126, 127];
/// How long one start may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// xorshift64*: small, seedable, good enough to pick offsets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `range` (not empty).
    fn in_range(&mut self, range: std::ops::Range<usize>) -> usize {
        range.start + (self.next() % (range.end - range.start) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    /// A byte other than `b`.
    fn other_than(&mut self, b: u8) -> u8 {
        b ^ (1 + self.in_range(0..255) as u8)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Bytes of the launcher that are not loaded when it runs (section headers and the like,
    /// and the ELF header's fields that locate them). Bytes it runs are left alone: a changed
    /// instruction can do anything before the launcher gets to check itself.
    Launcher,
    Payload,
    Settings,
    Footer,
    /// Cut at an offset after the launcher.
    Truncated,
    Appended,
    /// Payload bytes changed, `payload-hash` set to their hash, footer written again.
    Resigned,
    /// A setting removed, repeated, renamed, added or changed, footer written again.
    Rewritten,
}

impl Class {
    /// What the launcher's message says (one of these).
    fn messages(self) -> &'static [&'static str] {
        match self {
            Class::Launcher => &["its launcher part does not match"],
            Class::Payload => &["the bundled files do not match their checksum"],
            Class::Settings => &["checksum does not match"],
            Class::Footer => &["checksum does not match", "truncated", "version", "corrupt"],
            Class::Truncated => &["truncated", "no kiln bundle trailer"],
            // Appended bytes that end in something shaped like a footer (the generator plants
            // the magic) read as a damaged trailer.
            Class::Appended => &["bytes follow the bundle trailer", "damaged"],
            Class::Resigned => &["the bundled files are unreadable"],
            Class::Rewritten => &["settings", "damaged", "format"],
        }
    }

    /// Whether the app may still run (with its exact output): the mutant may be equivalent.
    fn may_run(self) -> bool {
        matches!(self, Class::Resigned | Class::Rewritten)
    }
}

/// Where the parts of the executable are.
struct Layout {
    len: usize,
    /// Byte ranges of the launcher the kernel does not map and the launcher does not read.
    unmapped: Vec<std::ops::Range<usize>>,
    payload: std::ops::Range<usize>,
    settings: std::ops::Range<usize>,
    trailer: Trailer,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize
}

fn u64_at(b: &[u8], at: usize) -> usize {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize
}

fn layout(bytes: &[u8]) -> Layout {
    let trailer = Trailer::decode(bytes).expect("the build's trailer");
    let tail = trailer.encode().len();
    let settings = bytes.len() - tail..bytes.len() - kiln_bundle::FOOTER_LEN;
    let payload = settings.start - trailer.payload_len as usize..settings.start;
    // What the ELF program headers load, and the headers themselves, are off limits: a
    // changed instruction can do anything before the launcher gets to check itself.
    let (phoff, phentsize, phnum) = (
        u64_at(bytes, 0x20),
        u16_at(bytes, 0x36),
        u16_at(bytes, 0x38),
    );
    let mut used: Vec<std::ops::Range<usize>> = Vec::new();
    used.push(0..phoff + phentsize * phnum);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(bytes[ph..ph + 4].try_into().unwrap());
        let (offset, filesz) = (u64_at(bytes, ph + 8), u64_at(bytes, ph + 32));
        // Every segment with file contents; loaded ones are mapped in whole pages.
        if filesz > 0 && p_type != 0 {
            let page = if p_type == 1 { 4096 } else { 1 };
            used.push(offset / page * page..(offset + filesz).div_ceil(page) * page);
        }
    }
    // The ELF header's section header fields: neither the kernel nor the dynamic loader reads
    // them (only the launcher, to tell a truncated file from one without a trailer).
    let section_fields = [0x28..0x30, 0x3a..0x40];
    let unmapped = (0..payload.start)
        .filter(|at| {
            section_fields.iter().any(|r| r.contains(at)) || !used.iter().any(|r| r.contains(at))
        })
        .fold(Vec::<std::ops::Range<usize>>::new(), |mut ranges, at| {
            match ranges.last_mut() {
                Some(r) if r.end == at => r.end += 1,
                _ => ranges.push(at..at + 1),
            }
            ranges
        });
    Layout {
        len: bytes.len(),
        unmapped,
        payload,
        settings,
        trailer,
    }
}

/// `bytes` with its settings edited and the footer written again to match.
fn rewrite(bytes: &[u8], layout: &Layout, edit: impl FnOnce(&mut Trailer)) -> Vec<u8> {
    let mut trailer = layout.trailer.clone();
    edit(&mut trailer);
    let mut out = bytes[..layout.settings.start].to_vec();
    out.extend_from_slice(&trailer.encode());
    out
}

fn flip(bytes: &mut [u8], rng: &mut Rng, range: std::ops::Range<usize>) -> String {
    let n = 1 + rng.in_range(0..3);
    let mut at = Vec::new();
    for _ in 0..n {
        let i = rng.in_range(range.clone());
        bytes[i] = rng.other_than(bytes[i]);
        at.push(i);
    }
    format!("bytes at {at:?} changed")
}

/// One mutant of `good` of class `class`, and what was done.
fn mutate(good: &[u8], layout: &Layout, class: Class, rng: &mut Rng) -> (Vec<u8>, String) {
    let mut bytes = good.to_vec();
    let what = match class {
        Class::Launcher => {
            let range = layout.unmapped[rng.in_range(0..layout.unmapped.len())].clone();
            flip(&mut bytes, rng, range)
        }
        Class::Payload => flip(&mut bytes, rng, layout.payload.clone()),
        Class::Settings => flip(&mut bytes, rng, layout.settings.clone()),
        Class::Footer => flip(&mut bytes, rng, layout.settings.end..layout.len),
        Class::Truncated => {
            let cut = rng.in_range(layout.payload.start..layout.len);
            bytes.truncate(cut);
            format!("cut at {cut}")
        }
        Class::Appended => {
            let most = if rng.next().is_multiple_of(2) {
                40
            } else {
                20_000
            };
            let n = 1 + rng.in_range(0..most);
            let mut extra: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            if rng.next().is_multiple_of(3) {
                // Something that looks like the start of a footer.
                let at = rng.in_range(0..n);
                extra.splice(at..at, *kiln_bundle::MAGIC);
            }
            let what = format!("{} bytes appended", extra.len());
            bytes.extend_from_slice(&extra);
            what
        }
        Class::Resigned => {
            let what = flip(&mut bytes, rng, layout.payload.clone());
            let hash = kiln_bundle::sha256_hex(&bytes[layout.payload.clone()]);
            let payload = bytes[..layout.settings.start].to_vec();
            let out = rewrite(&payload, layout, |t| set(t, "payload-hash", &hash));
            return (out, format!("{what}, payload-hash set to match"));
        }
        Class::Rewritten => {
            let mut trailer = layout.trailer.clone();
            let what = rewrite_settings(&mut trailer, rng);
            let out = rewrite(good, layout, |t| *t = trailer);
            return (out, what);
        }
    };
    (bytes, what)
}

fn set(trailer: &mut Trailer, key: &str, value: &str) {
    for (k, v) in &mut trailer.settings {
        if k == key {
            *v = value.to_string();
        }
    }
}

/// One change to the settings. The component's name is left alone: the boot script, not the
/// launcher, knows which components exist.
fn rewrite_settings(trailer: &mut Trailer, rng: &mut Rng) -> String {
    let settings = &mut trailer.settings;
    let i = rng.in_range(0..settings.len());
    let key = settings[i].0.clone();
    match rng.next() % 7 {
        0 => {
            settings.remove(i);
            format!("`{key}` removed")
        }
        1 => {
            let copy = settings[i].clone();
            settings.push(copy);
            format!("`{key}` repeated")
        }
        2 => {
            let mut name = key.clone().into_bytes();
            let at = rng.in_range(0..name.len());
            name[at] = match name[at] {
                c @ b'a'..=b'z' => b'a' + (c - b'a' + 1 + rng.in_range(0..25) as u8) % 26,
                _ => b'x',
            };
            settings[i].0 = String::from_utf8_lossy(&name).into_owned();
            format!("`{key}` renamed `{}`", settings[i].0)
        }
        3 => {
            settings.push(("extra-setting".into(), "1".into()));
            "an unknown key added".into()
        }
        4 => {
            let mode = ["app", "python", "component", "onefile", ""][rng.in_range(0..5)];
            settings.iter_mut().for_each(|(k, v)| {
                if k == "mode" {
                    *v = mode.into();
                }
            });
            format!("mode set to `{mode}`")
        }
        5 => {
            settings.reverse();
            "settings in reverse order".into()
        }
        _ if key == "component" => "nothing changed".into(),
        _ => {
            let mut value = settings[i].1.clone().into_bytes();
            if value.is_empty() {
                value.push(b'x');
            } else {
                let at = rng.in_range(0..value.len());
                // Printable ASCII other than a newline, so the settings stay lines.
                value[at] =
                    b' ' + (value[at].wrapping_sub(b' ') + 1 + rng.in_range(0..93) as u8) % 95;
            }
            settings[i].1 = String::from_utf8_lossy(&value).into_owned();
            format!("`{key}` set to {:?}", settings[i].1)
        }
    }
}

/// The names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

struct Outcome {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Starts `exe` with `cache` as its onefile cache and `cwd` as working directory and home.
fn start(exe: &Path, cache: &Path, cwd: &Path) -> Option<Outcome> {
    let mut cmd = Command::new(exe);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", cwd)
        .env("LANG", "C.UTF-8")
        .env(cache::DIR_ENV, cache)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut tries = 0;
    let mut child = loop {
        match cmd.spawn() {
            Ok(child) => break child,
            // The other worker's child may still hold this file open for writing between its
            // fork and its exec.
            Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("start {}: {e}", exe.display()),
        }
    };
    let collect = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Some(Outcome {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    })
}

/// The seed of a run without `KILN_FUZZ_SEED`.
const DEFAULT_SEED: u64 = 20_261_202;

#[test]
fn mutated_onefile_executables_fail_cleanly_or_run_correctly() {
    let seed = std::env::var("KILN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        // A fixed seed keeps CI's run the same every time; set KILN_FUZZ_SEED to explore.
        .unwrap_or(DEFAULT_SEED);
    eprintln!("fuzz_onefile: seed {seed} (KILN_FUZZ_SEED={seed} replays this run)");
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let plain = run_plain("pkgapp", &["main.py"]);
    plain.assert_success("plain python");
    let good = fs::read(build.exe()).unwrap();
    let layout = layout(&good);
    assert!(
        !layout.unmapped.is_empty(),
        "the launcher has unmapped bytes"
    );

    // Cheap mutants (found before anything is unpacked) outnumber those that unpack first.
    let plan: [(Class, usize); 8] = [
        (Class::Launcher, 50),
        (Class::Payload, 30),
        (Class::Settings, 60),
        (Class::Footer, 50),
        (Class::Truncated, 50),
        (Class::Appended, 50),
        (Class::Resigned, 20),
        (Class::Rewritten, 80),
    ];
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mutants: Vec<(usize, Class, Vec<u8>, String)> = plan
        .iter()
        .flat_map(|&(class, n)| std::iter::repeat_n(class, n))
        .enumerate()
        .map(|(i, class)| {
            let (bytes, what) = mutate(&good, &layout, class, &mut rng);
            (i, class, bytes, what)
        })
        .collect();

    let root = tempfile::Builder::new()
        .prefix("kiln-it-fuzz-")
        .tempdir()
        .unwrap();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let counts = Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((i, class, bytes, what)) = mutants.get(i) else {
                    break;
                };
                let problem = check_mutant(root.path(), *i, *class, bytes, &plain.stdout);
                let outcome = match &problem {
                    Ok(outcome) => format!("{class:?}: {outcome}"),
                    Err(_) => format!("{class:?}: FAILED"),
                };
                *counts.lock().unwrap().entry(outcome).or_default() += 1;
                if let Err(problem) = problem {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("mutant {i} ({class:?}: {what}): {problem}"));
                }
            });
        }
    });
    let counts = counts.into_inner().unwrap();
    eprintln!(
        "fuzz_onefile: {} mutants in {:.1}s: {counts:#?}",
        mutants.len(),
        started.elapsed().as_secs_f64()
    );
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "seed {seed}: {} of {} mutants misbehaved:\n{}",
        failures.len(),
        mutants.len(),
        failures.join("\n")
    );
}

/// Starts one mutant in its own directories; what happened, or what went wrong.
fn check_mutant(
    root: &Path,
    i: usize,
    class: Class,
    bytes: &[u8],
    expected: &str,
) -> Result<String, String> {
    let dir = root.join(i.to_string());
    let (bin, cache_dir, cwd) = (dir.join("bin"), dir.join("cache"), dir.join("cwd"));
    for d in [&bin, &cwd] {
        fs::create_dir_all(d).unwrap();
    }
    let exe = bin.join("pkgapp");
    fs::write(&exe, bytes).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let before = fs::metadata(&exe).unwrap();

    let outcome = start(&exe, &cache_dir, &cwd).ok_or("did not exit within the timeout")?;
    let shown = format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        outcome.status, outcome.stdout, outcome.stderr
    );
    if let Some(signal) = outcome.status.signal() {
        return Err(format!("killed by signal {signal}\n{shown}"));
    }
    if !names(&cwd).is_empty() {
        return Err(format!(
            "wrote into its working directory: {:?}",
            names(&cwd)
        ));
    }
    let after = fs::metadata(&exe).unwrap();
    if names(&bin) != ["pkgapp"] || after.len() != before.len() || after.mtime() != before.mtime() {
        return Err(format!(
            "changed the directory of the executable: {:?}",
            names(&bin)
        ));
    }
    let code = outcome.status.code().unwrap();
    let ran = code == 0 && outcome.stdout == expected;
    let result = if ran && class.may_run() {
        "ran the app".to_string()
    } else if LAUNCHER_STATUSES.contains(&code) {
        if !outcome.stderr.starts_with("kiln launcher: ") || !outcome.stdout.is_empty() {
            return Err(format!(
                "status {code} without a launcher message alone\n{shown}"
            ));
        }
        if !class.messages().iter().any(|m| outcome.stderr.contains(m)) {
            return Err(format!(
                "none of {:?} in the message\n{shown}",
                class.messages()
            ));
        }
        if !onefile_entries(&cache_dir).is_empty() {
            return Err(format!("kept what it unpacked: {:?}", names(&cache_dir)));
        }
        let stray: Vec<String> = names(&cache_dir)
            .into_iter()
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        if !stray.is_empty() {
            return Err(format!("left work directories: {stray:?}"));
        }
        format!("status {code}")
    } else {
        return Err(format!(
            "neither the app's run nor a launcher status\n{shown}"
        ));
    };
    let _ = fs::remove_dir_all(&dir);
    Ok(result)
}
