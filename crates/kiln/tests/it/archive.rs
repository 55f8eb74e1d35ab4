//! The module archive: pure-Python modules served from one indexed file keep `__file__`,
//! package data, `importlib.resources`, pkgutil discovery, reload and error messages as they
//! are from disk, in onedir and onefile form and with the archive turned off.

use crate::support::{assert_same_run, freeze_mode, run_hidden, run_plain, Mode};

fn archive_app_runs_like_plain_python(mode: Mode, args: &[&str]) -> crate::support::BuildOutput {
    let plain = run_plain("archiveapp", &["main.py"]);
    assert_eq!(plain.status.code(), Some(3), "plain archiveapp\n{plain}");
    let build = freeze_mode("archiveapp", args, mode);
    let frozen = run_hidden(&build, &[]);
    assert_same_run("archiveapp", &plain, &frozen.run);
    build
}

#[test]
fn archived_modules_behave_as_from_disk() {
    let build = archive_app_runs_like_plain_python(Mode::Onedir, &["main.py"]);
    let lib = build.bundle_dir().join("_kiln/lib/python3.11");
    let site = lib.join("site-packages");
    assert!(
        lib.join("_kiln_modules.bin").is_file(),
        "the archive is written"
    );
    for served in ["plugins/alpha.pyc", "plugins/__init__.pyc"] {
        assert!(
            !site.join(served).exists(),
            "{served} is served from the archive"
        );
    }
    assert!(
        site.join("plugins/data/greeting.txt").is_file(),
        "package data stays a file"
    );
    // What the interpreter loads before the boot script, and the entry script, stay files.
    for kept in ["os.pyc", "encodings/__init__.pyc", "encodings/utf_8.pyc"] {
        assert!(lib.join(kept).is_file(), "{kept} stays on disk");
    }
    assert!(
        site.join("main.pyc").is_file(),
        "the entry script stays on disk"
    );
}

#[test]
fn archived_modules_in_a_onefile_bundle() {
    archive_app_runs_like_plain_python(Mode::Onefile, &["main.py"]);
}

#[test]
fn without_the_archive_every_module_is_a_file() {
    let build = archive_app_runs_like_plain_python(
        Mode::Onedir,
        &["main.py", "--config", "kiln-no-archive.toml"],
    );
    let lib = build.bundle_dir().join("_kiln/lib/python3.11");
    assert!(!lib.join("_kiln_modules.bin").exists());
    assert!(lib.join("site-packages/plugins/alpha.pyc").is_file());
}
