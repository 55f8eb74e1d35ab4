//! The glibc a bundle needs: the launcher adds nothing (it is linked for glibc 2.17), and
//! `--min-glibc` refuses, before anything is written, a bundle that needs more.

use std::fs;

use crate::support::Build;

#[test]
fn min_glibc_refuses_a_bundle_that_needs_more_and_keeps_the_previous_one() {
    let good = Build::new("stdlibapp").args(["main.py"]).success();
    let exe = good.exe();
    let before = fs::metadata(&exe).unwrap().modified().unwrap();
    let summary = &good.result.stdout;
    // The summary names the floor and the file that sets it; pyenv's libpython needs far more
    // than 2.17, and it must be named, not the launcher.
    assert!(summary.contains("glibc"), "{summary}");
    assert!(!summary.contains("set by stdlibapp"), "{summary}");

    let refused = Build::new("stdlibapp")
        .args(["main.py", "--min-glibc", "2.17"])
        .out(&good.out_dir)
        .run();
    assert_eq!(refused.result.status.code(), Some(1), "{}", refused.result);
    let stderr = &refused.result.stderr;
    assert!(stderr.contains("newer glibc than 2.17"), "{stderr}");
    assert!(stderr.contains("`--min-glibc`"), "{stderr}");
    assert!(
        stderr.contains("libpython3") && stderr.contains("GLIBC_2."),
        "{stderr}"
    );
    assert!(
        !stderr.contains("the launcher"),
        "the launcher needs 2.17 at most: {stderr}"
    );
    assert_eq!(
        fs::metadata(&exe).unwrap().modified().unwrap(),
        before,
        "a refused build leaves the previous bundle as it was"
    );

    let roomy = Build::new("stdlibapp")
        .args(["main.py", "--min-glibc", "2.99"])
        .run();
    roomy.assert_success();
}

/// libstdc++ is the system's too: a C++ extension module that needs a newer `GLIBCXX_` than
/// the systems of the floor carry is named (scipy's wheels need GLIBCXX_3.4.22; glibc 2.17's
/// systems have 3.4.19 at most).
#[test]
fn min_glibc_names_cxx_extensions_that_need_a_newer_libstdcxx() {
    let refused = Build::new("pkg_scipy")
        .args(["main.py", "--min-glibc", "2.17"])
        .run();
    assert_eq!(refused.result.status.code(), Some(1), "{}", refused.result);
    let stderr = &refused.result.stderr;
    assert!(
        stderr.contains("scipy/")
            && stderr.contains(": GLIBCXX_3.4.2")
            && stderr.contains("(systems with glibc 2.17 have GLIBCXX_3.4.19 at most)"),
        "{stderr}"
    );
}

/// Same inputs, same bytes: two builds of the same app from copies in different directories,
/// a second apart, under umask 022 and 077, ship identical files with identical modes, onedir,
/// onefile and as a suite (`scripts/compare-builds`, which the note on reproducibility cites).
#[test]
fn builds_are_reproducible_across_directories_times_and_umasks() {
    let out =
        std::process::Command::new(crate::support::workspace_root().join("scripts/compare-builds"))
            .arg(crate::support::KILN)
            .args(["--", "pkgapp", "suiteapp"])
            .env("PYTHON", &crate::support::test_venv().python)
            .output()
            .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("identical").count(), 4, "{text}");
}
