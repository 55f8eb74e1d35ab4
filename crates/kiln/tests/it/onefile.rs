//! Onefile executables: they unpack once into the per-user cache and start from it afterwards,
//! unpack safely when started concurrently or killed, refuse damaged files and cache entries
//! another user could have written, and `kiln cache` lists and removes what they unpacked.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kiln_bundle::cache::{self, EntryState};
use tempfile::TempDir;

use crate::support::{
    assert_same_run, freeze_mode, onefile_entries, run_plain, BuildOutput, Hidden, HiddenOutput,
    Mode, RunOutput, KILN,
};

fn temp(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory")
}

/// A hidden run of `build` with the launcher's debug lines, using the onefile cache `cache`.
fn run_with_cache(build: &BuildOutput, cache: &Path) -> HiddenOutput {
    Hidden::new(build)
        .cache(cache)
        .env("KILN_LAUNCHER_DEBUG", "1")
        .output()
}

/// Every name in `dir` other than entries and lock files: work directories left behind.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|read| {
            read.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !cache::is_entry_name(n) && !n.ends_with(".lock"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Inode and modification time of every file and directory in an entry except the entry
/// directory itself and its marker (which each start touches, and rewrites when it checked a
/// new copy of the executable): what unpacking again would change.
fn identity(entry: &Path) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    walkdir::WalkDir::new(entry)
        .min_depth(1)
        .into_iter()
        .map(|e| e.expect("walk the cache entry"))
        .filter(|e| e.file_name() != cache::MARKER)
        .map(|e| {
            let m = e.metadata().expect("metadata");
            (e.path().to_path_buf(), (m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Runs `exe` directly (the host's Pythons are not hidden: for starts that must fail before
/// any interpreter runs), with `cache` as the onefile cache.
fn run_direct(exe: &Path, cache: &Path) -> RunOutput {
    run_direct_with(exe, cache, &[])
}

/// [`run_direct`] with more environment variables (`KILN_LAUNCHER_DEBUG`, `KILN_VERIFY`): for
/// starts of one particular file (a hidden run starts a fresh copy of the build).
fn run_direct_with(exe: &Path, cache: &Path, envs: &[(&str, &str)]) -> RunOutput {
    let run = || {
        Command::new(exe)
            .env(cache::DIR_ENV, cache)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .output()
    };
    // The test just wrote the file; a child another test thread forked at that moment holds
    // the write descriptor until it execs, and the kernel refuses to run a file open for
    // writing (ETXTBSY) meanwhile.
    let mut out = run();
    for _ in 0..100 {
        match &out {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                out = run();
            }
            _ => break,
        }
    }
    let out = out.unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    RunOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_clean_failure(run: &RunOutput, code: i32, needles: &[&str], what: &str) {
    assert_eq!(run.status.code(), Some(code), "{what}: exit status\n{run}");
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{what}: stderr lacks {needle:?}\n{run}"
        );
    }
    assert!(
        !run.stderr.contains("panicked"),
        "{what}: the launcher panicked\n{run}"
    );
    assert_eq!(run.stdout, "", "{what}: the app ran\n{run}");
}

#[test]
fn second_start_runs_from_the_cache_without_unpacking() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let plain = run_plain("pkgapp", &["main.py"]);
    let cache_dir = temp("kiln-it-cache-");

    let first = run_with_cache(&build, cache_dir.path());
    assert_same_run("first start", &plain, &first.run);
    assert!(
        first.run.stderr.contains("onefile unpacked into"),
        "the first start unpacks\n{}",
        first.run
    );
    let entries = onefile_entries(cache_dir.path());
    assert_eq!(entries.len(), 1, "one cache entry: {entries:?}");
    let entry = &entries[0];
    let meta = fs::metadata(entry).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o700,
        "the entry is private"
    );
    let before = identity(entry);

    // Another copy of the same file (a new path): same payload, same entry.
    let second = run_with_cache(&build, cache_dir.path());
    assert_same_run("second start", &plain, &second.run);
    assert!(
        second
            .run
            .stderr
            .contains(&format!("onefile already unpacked in {}", entry.display())),
        "the second start uses the entry as it is\n{}",
        second.run
    );
    assert_eq!(
        identity(entry),
        before,
        "nothing in the entry was written again"
    );
    assert_eq!(onefile_entries(cache_dir.path()), entries);
    assert_eq!(leftovers(cache_dir.path()), Vec::<String>::new());
}

#[test]
fn concurrent_first_starts_all_succeed_and_unpack_once() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let plain = run_plain("pkgapp", &["main.py"]);
    let cache_dir = temp("kiln-it-cache-");
    let running: Vec<_> = (0..4)
        .map(|_| {
            Hidden::new(&build)
                .cache(cache_dir.path())
                .env("KILN_LAUNCHER_DEBUG", "1")
                .spawn()
                .0
        })
        .collect();
    let runs: Vec<RunOutput> = running
        .into_iter()
        .map(|r| r.output(Duration::from_secs(120)))
        .collect();
    for run in &runs {
        assert_same_run("a concurrent first start", &plain, run);
    }
    let unpacked = runs
        .iter()
        .filter(|r| r.stderr.contains("onefile unpacked into"))
        .count();
    assert_eq!(
        unpacked, 1,
        "exactly one start unpacks; the others wait for it"
    );
    assert_eq!(onefile_entries(cache_dir.path()).len(), 1);
    assert_eq!(leftovers(cache_dir.path()), Vec::<String>::new());
}

#[test]
fn truncated_executable_fails_with_a_clear_message() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let bytes = fs::read(build.exe()).unwrap();
    let dir = temp("kiln-it-truncated-");
    let cache_dir = temp("kiln-it-cache-");
    for cut in [bytes.len() / 2, bytes.len() - 1, bytes.len() - 40] {
        let exe = dir.path().join("pkgapp");
        fs::write(&exe, &bytes[..cut]).unwrap();
        set_mode(&exe, 0o755);
        let run = run_direct(&exe, cache_dir.path());
        assert_clean_failure(&run, 125, &["truncated"], &format!("cut at {cut}"));
    }
    assert!(onefile_entries(cache_dir.path()).is_empty());
}

#[test]
fn modified_payload_fails_verification_and_leaves_nothing() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let (trailer, payload_start) = kiln_bundle::Trailer::read_from_path(&build.exe()).unwrap();
    let dir = temp("kiln-it-tampered-");
    let cache_dir = temp("kiln-it-cache-");
    let bytes = fs::read(build.exe()).unwrap();
    for at in [0, trailer.payload_len / 2, trailer.payload_len - 1] {
        let mut damaged = bytes.clone();
        damaged[(payload_start + at) as usize] ^= 0x01;
        let exe = dir.path().join("pkgapp");
        fs::write(&exe, &damaged).unwrap();
        set_mode(&exe, 0o755);
        let run = run_direct(&exe, cache_dir.path());
        assert_clean_failure(
            &run,
            125,
            &["damaged", "modified"],
            &format!("payload byte {at} changed"),
        );
        assert!(onefile_entries(cache_dir.path()).is_empty());
        assert_eq!(leftovers(cache_dir.path()), Vec::<String>::new());
    }
}

#[test]
fn cache_entries_another_user_could_write_are_never_run() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let plain = run_plain("pkgapp", &["main.py"]);
    let cache_dir = temp("kiln-it-cache-");
    run_with_cache(&build, cache_dir.path())
        .run
        .assert_success("the first start");
    let entry = onefile_entries(cache_dir.path()).pop().unwrap();

    set_mode(&entry, 0o777);
    let run = run_with_cache(&build, cache_dir.path()).run;
    assert_clean_failure(
        &run,
        123,
        &["refusing", "writable by group or others"],
        "0777 entry",
    );
    set_mode(&entry, 0o700);

    set_mode(cache_dir.path(), 0o757);
    let run = run_with_cache(&build, cache_dir.path()).run;
    assert_clean_failure(
        &run,
        123,
        &["writable by group or others"],
        "0757 cache dir",
    );
    set_mode(cache_dir.path(), 0o700);

    // The tests run as root, which can hand the entry to another user.
    let chown = |uid: u32| {
        let status = Command::new("chown")
            .arg(uid.to_string())
            .arg(&entry)
            .status()
            .unwrap();
        assert!(status.success(), "chown {uid}");
    };
    chown(65534);
    let run = run_with_cache(&build, cache_dir.path()).run;
    assert_clean_failure(
        &run,
        123,
        &["owned by user id 65534"],
        "entry of another user",
    );
    chown(cache::effective_uid());

    let run = run_with_cache(&build, cache_dir.path()).run;
    assert_same_run("the entry made private again", &plain, &run);
}

#[test]
fn interrupted_unpacks_are_never_trusted() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let plain = run_plain("pkgapp", &["main.py"]);
    let cache_dir = temp("kiln-it-cache-");
    run_with_cache(&build, cache_dir.path())
        .run
        .assert_success("the first start");
    let entry = onefile_entries(cache_dir.path()).pop().unwrap();
    let name = entry.file_name().unwrap().to_str().unwrap().to_string();

    // An entry without its marker, holding something that is not the app, and the work
    // directory of an unpack whose process is gone.
    fs::remove_file(entry.join(cache::MARKER)).unwrap();
    fs::write(entry.join("planted"), "not from the payload").unwrap();
    let work = cache_dir
        .path()
        .join(cache::work_name(&name, cache::Work::Unpack, u32::MAX - 1));
    fs::create_dir_all(work.join("_kiln/bin")).unwrap();

    let run = run_with_cache(&build, cache_dir.path());
    assert_same_run("after an interrupted unpack", &plain, &run.run);
    assert!(
        run.run.stderr.contains("onefile unpacked into"),
        "{}",
        run.run
    );
    assert!(entry.join(cache::MARKER).is_file());
    assert!(
        !entry.join("planted").exists(),
        "the incomplete entry was replaced"
    );
    assert_eq!(leftovers(cache_dir.path()), Vec::<String>::new());

    // Kill first starts at various points of unpacking: whatever is left is either a complete
    // entry or nothing, and the next start works.
    for delay_ms in [0, 5, 15, 30, 60] {
        fs::remove_dir_all(&entry).unwrap();
        let mut child = Command::new(build.exe())
            .env(cache::DIR_ENV, cache_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let state = cache::entry_state(&entry).unwrap();
        assert!(
            matches!(state, EntryState::Missing | EntryState::Trusted),
            "killed after {delay_ms} ms: {state:?}"
        );
        let run = run_with_cache(&build, cache_dir.path());
        assert_same_run("after a killed first start", &plain, &run.run);
        assert_eq!(leftovers(cache_dir.path()), Vec::<String>::new());
    }
}

fn kiln_cache(cache_dir: &Path, args: &[&str]) -> RunOutput {
    let out = Command::new(KILN)
        .arg("cache")
        .args(args)
        .env(cache::DIR_ENV, cache_dir)
        .output()
        .expect("run kiln cache");
    let run = RunOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    run.assert_success(&format!("kiln cache {args:?}"));
    run
}

#[test]
fn kiln_cache_lists_and_cleans_entries() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let cache_dir = temp("kiln-it-cache-");
    run_with_cache(&build, cache_dir.path())
        .run
        .assert_success("the first start");
    let entry = onefile_entries(cache_dir.path()).pop().unwrap();
    let hash = entry.file_name().unwrap().to_str().unwrap();

    let list = kiln_cache(cache_dir.path(), &["list"]);
    assert!(
        list.stdout.contains(hash) && list.stdout.contains("pkgapp"),
        "{list}"
    );
    assert!(list.stdout.contains("just now"), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&kiln_cache(cache_dir.path(), &["list", "--json"]).stdout).unwrap();
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{json:#}");
    assert_eq!(entries[0]["hash"], hash);
    assert_eq!(entries[0]["app"], "pkgapp");
    assert_eq!(entries[0]["state"], "ok");
    assert!(
        entries[0]["bytes"].as_u64().unwrap() > 1_000_000,
        "{json:#}"
    );

    let kept = kiln_cache(cache_dir.path(), &["clean", "--older-than", "1"]);
    assert!(kept.stdout.contains("removed 0 of 1"), "{kept}");
    assert!(entry.is_dir());

    let cleaned = kiln_cache(cache_dir.path(), &["clean"]);
    assert!(cleaned.stdout.contains("removed 1 of 1"), "{cleaned}");
    assert!(onefile_entries(cache_dir.path()).is_empty());
    let list = kiln_cache(cache_dir.path(), &["list"]);
    assert!(list.stdout.contains("no unpacked apps"), "{list}");
    let names: Vec<_> = fs::read_dir(cache_dir.path()).unwrap().collect();
    assert!(names.is_empty(), "clean leaves nothing behind: {names:?}");
}

/// A copy of the build's onefile executable in `dir`, to start as it is (a hidden run starts a
/// fresh copy each time).
fn copy_exe(build: &BuildOutput, dir: &Path) -> PathBuf {
    let exe = dir.join(&build.name);
    fs::copy(build.exe(), &exe).unwrap();
    set_mode(&exe, 0o755);
    exe
}

fn debug_run(exe: &Path, cache: &Path) -> RunOutput {
    run_direct_with(exe, cache, &[("KILN_LAUNCHER_DEBUG", "1")])
}

/// `bytes` (a whole onefile executable) with its settings edited and the footer written again
/// to match: what a damaged or hand-made file whose trailer is intact looks like.
fn rewrite_settings(bytes: &[u8], edit: impl FnOnce(&mut Vec<(String, String)>)) -> Vec<u8> {
    let trailer = kiln_bundle::Trailer::decode(bytes).expect("the build's trailer");
    let old_len = trailer.encode().len();
    let mut edited = trailer.clone();
    edit(&mut edited.settings);
    let mut out = bytes[..bytes.len() - old_len].to_vec();
    out.extend_from_slice(&edited.encode());
    out
}

fn set_setting(settings: &mut [(String, String)], key: &str, value: &str) {
    let slot = settings
        .iter_mut()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no setting {key}"));
    slot.1 = value.to_string();
}

#[test]
fn damaged_cache_entries_are_unpacked_again() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let plain = run_plain("pkgapp", &["main.py"]);
    let dir = temp("kiln-it-exe-");
    let exe = copy_exe(&build, dir.path());
    let cache_dir = temp("kiln-it-cache-");
    assert_same_run("first start", &plain, &debug_run(&exe, cache_dir.path()));
    let entry = onefile_entries(cache_dir.path()).pop().unwrap();
    let site = entry.join("_kiln/lib/python3.11/site-packages");
    let greeting = site.join("myapp/data/greeting.txt");

    let repaired = |what: &str, needle: &str, envs: &[(&str, &str)]| {
        let mut envs = envs.to_vec();
        envs.push(("KILN_LAUNCHER_DEBUG", "1"));
        let run = run_direct_with(&exe, cache_dir.path(), &envs);
        assert_same_run(what, &plain, &run);
        assert!(
            run.stderr.contains("it replaced a damaged copy") && run.stderr.contains(needle),
            "{what}: the entry is unpacked again, saying why ({needle:?})\n{run}"
        );
        assert_eq!(
            onefile_entries(cache_dir.path()),
            std::slice::from_ref(&entry),
            "{what}"
        );
        assert_eq!(leftovers(cache_dir.path()), Vec::<String>::new(), "{what}");
        let again = debug_run(&exe, cache_dir.path());
        assert_same_run(what, &plain, &again);
        assert!(
            again.stderr.contains("onefile already unpacked"),
            "{what}: the repaired entry is used as it is\n{again}"
        );
    };

    // The interpreter is gone: this used to fail with status 127 on every start.
    fs::remove_file(entry.join("_kiln/bin/python3.11")).unwrap();
    repaired("interpreter removed", "_kiln/bin was changed", &[]);
    fs::remove_file(site.join("main.pyc")).unwrap();
    repaired("entry script removed", "site-packages was changed", &[]);
    // Replaced by another file renamed over it.
    let other = site.join("myapp/data/other");
    fs::write(&other, "not the greeting").unwrap();
    fs::rename(&other, &greeting).unwrap();
    repaired("data file replaced", "myapp/data was changed", &[]);
    // Subdirectories that another user may write or owns: never run.
    set_mode(&site.join("myapp"), 0o777);
    repaired(
        "subdirectory writable by others",
        "writable by group or others",
        &[],
    );
    let status = Command::new("chown")
        .arg("65534")
        .arg(site.join("myapp/data"))
        .status()
        .unwrap();
    assert!(status.success());
    repaired(
        "subdirectory of another user",
        "owned by user id 65534",
        &[],
    );
    // Written in place: only the full check (every file) sees it.
    let len = fs::metadata(&greeting).unwrap().len() as usize;
    fs::write(&greeting, "x".repeat(len)).unwrap();
    repaired(
        "data file rewritten in place, KILN_VERIFY=1",
        "greeting.txt was changed",
        &[("KILN_VERIFY", "1")],
    );
    // A full check of an intact entry finds nothing.
    let run = run_direct_with(
        &exe,
        cache_dir.path(),
        &[("KILN_LAUNCHER_DEBUG", "1"), ("KILN_VERIFY", "1")],
    );
    assert_same_run("KILN_VERIFY=1 on an intact entry", &plain, &run);
    assert!(
        run.stderr.contains("checked every file") && run.stderr.contains("already unpacked"),
        "{run}"
    );
}

#[test]
fn a_modified_executable_fails_even_with_a_warm_cache() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let plain = run_plain("pkgapp", &["main.py"]);
    let dir = temp("kiln-it-exe-");
    let exe = copy_exe(&build, dir.path());
    let cache_dir = temp("kiln-it-cache-");
    let checked = format!("checked {} in full", exe.display());

    assert_same_run("first start", &plain, &debug_run(&exe, cache_dir.path()));
    // The same file again: the entry knows it, nothing is hashed.
    let warm = debug_run(&exe, cache_dir.path());
    assert_same_run("warm start", &plain, &warm);
    assert!(!warm.stderr.contains("in full"), "{warm}");
    // A copy elsewhere is checked in full once, then known too.
    let elsewhere = temp("kiln-it-exe-");
    let copy = copy_exe(&build, elsewhere.path());
    let first = debug_run(&copy, cache_dir.path());
    assert_same_run("a new copy", &plain, &first);
    assert!(
        first
            .stderr
            .contains(&format!("checked {} in full", copy.display())),
        "{first}"
    );
    let again = debug_run(&copy, cache_dir.path());
    assert!(!again.stderr.contains("in full"), "{again}");
    // KILN_VERIFY=1: hashed on every start.
    let verified = run_direct_with(
        &copy,
        cache_dir.path(),
        &[("KILN_LAUNCHER_DEBUG", "1"), ("KILN_VERIFY", "1")],
    );
    assert_same_run("KILN_VERIFY=1", &plain, &verified);
    assert!(verified.stderr.contains("in full"), "{verified}");

    let good = fs::read(&exe).unwrap();
    let (trailer, payload_start) = kiln_bundle::Trailer::read_from_path(&exe).unwrap();
    let payload = payload_start as usize..(payload_start + trailer.payload_len) as usize;
    let mut flipped = good.clone();
    flipped[payload.start + payload.len() / 2] ^= 0x01;
    let mut zeroed = good.clone();
    zeroed[payload.clone()].fill(0);
    let mut launcher = good.clone();
    // The ELF header's e_shoff: nothing reads it when the launcher runs, the check does.
    launcher[0x28] ^= 0x01;
    for (what, bytes, needle) in [
        (
            "a payload byte changed",
            &flipped,
            "its bundled files do not match",
        ),
        (
            "the payload zeroed",
            &zeroed,
            "its bundled files do not match",
        ),
        (
            "a launcher byte changed",
            &launcher,
            "its launcher part does not match",
        ),
    ] {
        fs::write(&exe, bytes).unwrap();
        let run = debug_run(&exe, cache_dir.path());
        assert_clean_failure(&run, 125, &["damaged", needle, "modified"], what);
    }
    // Put back as it was: checked again, and it runs.
    fs::write(&exe, &good).unwrap();
    let run = debug_run(&exe, cache_dir.path());
    assert_same_run("restored", &plain, &run);
    assert!(run.stderr.contains(&checked), "{run}");
    assert_eq!(onefile_entries(cache_dir.path()).len(), 1);
}

#[test]
fn invalid_settings_are_refused_before_anything_is_unpacked() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let good = fs::read(build.exe()).unwrap();
    let dir = temp("kiln-it-settings-");
    let cache_dir = temp("kiln-it-cache-");
    type Edit = fn(&mut Vec<(String, String)>);
    let cases: [(&str, Edit, &[&str]); 7] = [
        (
            "a corrupt key",
            |s| {
                s.iter_mut()
                    .for_each(|(k, _)| *k = k.replace("runtime", "runtimf"))
            },
            &["unknown key `runtimf`"],
        ),
        (
            "an unknown key",
            |s| s.push(("colour".into(), "blue".into())),
            &["unknown key `colour`"],
        ),
        (
            "a key missing",
            |s| s.retain(|(k, _)| k != "payload-format"),
            &["`payload-format` is missing"],
        ),
        (
            "a malformed hash",
            |s| set_setting(s, "payload-hash", "xyz"),
            &["`payload-hash` is not a SHA-256"],
        ),
        (
            "an absolute boot script",
            |s| set_setting(s, "boot", "/tmp/boot.pyc"),
            &["`boot` is not a relative path"],
        ),
        (
            "another mode with a payload",
            |s| {
                set_setting(s, "mode", "app");
                s.retain(|(k, _)| !k.starts_with("payload-") && k != "app-name");
                s.retain(|(k, _)| k != "launcher-hash");
            },
            &["mode `app` carries no payload"],
        ),
        (
            "an interpreter the payload lacks",
            |s| set_setting(s, "interpreter", "bin/python3.99"),
            &["_kiln/bin/python3.99", "do not contain"],
        ),
    ];
    for (what, edit, needles) in cases {
        let exe = dir.path().join("pkgapp");
        fs::write(&exe, rewrite_settings(&good, edit)).unwrap();
        set_mode(&exe, 0o755);
        let run = run_direct(&exe, cache_dir.path());
        assert_clean_failure(&run, 125, needles, what);
        assert!(run.stderr.contains("settings"), "{what}: {run}");
        assert!(
            onefile_entries(cache_dir.path()).is_empty(),
            "{what}: nothing unpacked is kept"
        );
        assert_eq!(leftovers(cache_dir.path()), Vec::<String>::new(), "{what}");
    }
}

#[test]
fn a_damaged_mode_never_runs_files_beside_the_executable() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let good = fs::read(build.exe()).unwrap();
    let dir = temp("kiln-it-planted-");
    let cache_dir = temp("kiln-it-cache-");
    // What a onedir launcher beside it would run.
    for file in ["_kiln/bin/python3.11", "_kiln/bin/python"] {
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "#!/bin/sh\necho PLANTED\n").unwrap();
        set_mode(&path, 0o755);
    }
    let key = good
        .windows(14)
        .rposition(|w| w == b"\npayload-hash=")
        .expect("the payload-hash setting");
    let mut flipped = good.clone();
    flipped[key + 12] ^= 0x01; // payload-hash -> payload-hasi
    let renamed = rewrite_settings(&good, |s| {
        s.iter_mut()
            .filter(|(k, _)| k == "payload-hash")
            .for_each(|(k, _)| *k = "payload-hasi".into())
    });
    for (what, bytes, needle) in [
        ("flipped key", &flipped, "checksum does not match"),
        (
            "renamed key, footer rewritten",
            &renamed,
            "unknown key `payload-hasi`",
        ),
    ] {
        let exe = dir.path().join("pkgapp");
        fs::write(&exe, bytes).unwrap();
        set_mode(&exe, 0o755);
        let run = run_direct(&exe, cache_dir.path());
        assert!(
            !run.stdout.contains("PLANTED"),
            "{what}: ran the planted file\n{run}"
        );
        assert_clean_failure(&run, 125, &[needle], what);
    }
}

#[test]
fn a_cache_on_a_noexec_file_system_is_named_as_the_problem() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let dir = temp("kiln-it-exe-");
    let exe = copy_exe(&build, dir.path());
    let in_namespace = |script: &str, dir: &Path| {
        let out = Command::new("unshare")
            .args(["-m", "sh", "-c", script, "sh"])
            .arg(dir)
            .arg(&exe)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        RunOutput {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let needles = ["mounted noexec", cache::DIR_ENV];
    // A first start: refused before unpacking.
    let mnt = temp("kiln-it-noexec-");
    let run = in_namespace(
        r#"mount -t tmpfs -o noexec kiln-noexec "$1" && KILN_ONEFILE_DIR="$1/cache" exec "$2""#,
        mnt.path(),
    );
    assert_clean_failure(&run, 126, &needles, "first start in a noexec cache");
    // A warm start from an entry whose file system was remounted noexec.
    let cache_dir = temp("kiln-it-cache-");
    run_direct(&exe, cache_dir.path()).assert_success("the first start");
    let run = in_namespace(
        r#"mount --bind "$1" "$1" && mount -o remount,bind,noexec "$1" && KILN_ONEFILE_DIR="$1" exec "$2""#,
        cache_dir.path(),
    );
    assert_clean_failure(&run, 126, &needles, "warm start in a noexec cache");
}

#[test]
fn bytes_appended_after_the_trailer_are_named_as_such() {
    let build = freeze_mode("pkgapp", &["main.py"], Mode::Onefile);
    let good = fs::read(build.exe()).unwrap();
    let dir = temp("kiln-it-appended-");
    let cache_dir = temp("kiln-it-cache-");
    for extra in [&b"\n"[..], &[0u8; 5000][..], b"KILNBNDL and more"] {
        let exe = dir.path().join("pkgapp");
        let mut bytes = good.clone();
        bytes.extend_from_slice(extra);
        fs::write(&exe, bytes).unwrap();
        set_mode(&exe, 0o755);
        let run = run_direct(&exe, cache_dir.path());
        let needle = format!("{} bytes follow the bundle trailer", extra.len());
        assert_clean_failure(&run, 125, &[&needle, "appended"], &needle);
        assert!(!run.stderr.contains("truncated"), "{run}");
    }
    assert!(onefile_entries(cache_dir.path()).is_empty());
}
