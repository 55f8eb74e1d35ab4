//! Coming from PyInstaller: a `.spec` file becomes kiln configuration that builds a working
//! bundle, with what kiln finds by itself marked as not needed.

use std::process::Command;

use crate::support::{assert_same_run, run_hidden, run_plain, test_venv, Build, Mode, KILN};

#[test]
fn a_spec_file_becomes_configuration_that_builds_a_working_bundle() {
    let plain = run_plain("specapp", &["main.py"]);
    plain.assert_success("plain specapp");
    let printed = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let keep = printed.clone();
    let build = Build::new("specapp")
        .mode(Mode::Onefile)
        .prepare(move |dir| {
            let out = Command::new(KILN)
                .current_dir(dir)
                .args(["import-spec", "app.spec", "--python"])
                .arg(&test_venv().python)
                .output()
                .expect("run kiln import-spec");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::write(dir.join("kiln.toml"), &text).unwrap();
            *keep.borrow_mut() = text;
        })
        .success();
    let text = printed.borrow().clone();
    // json is imported by the entry itself; the backend only by a name read from a file.
    assert!(
        text.contains("hidden-imports = [\"storage_backend\"]"),
        "{text}"
    );
    assert!(
        text.contains("# not needed: json (app.spec:3): kiln finds it by itself"),
        "{text}"
    );
    assert!(text.contains("onefile = true"), "{text}");
    assert!(text.contains("exclude = [\"tkinter\"]"), "{text}");
    let frozen = run_hidden(&build, &[]);
    assert_same_run("specapp", &plain, &frozen.run);
}

#[test]
fn a_file_that_is_not_a_spec_is_refused_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.spec");
    for (text, says) in [
        ("a = Analysis(['main.py'],\n", "broken.spec:"),
        ("print('hello')\n", "no `Analysis(...)` call"),
    ] {
        std::fs::write(&spec, text).unwrap();
        let out = Command::new(KILN)
            .arg("import-spec")
            .arg(&spec)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}
