//! `--format deb`: a Debian package of the bundle that dpkg installs, that runs from where it
//! installed, and that dpkg removes again.

use std::path::Path;
use std::process::Command;

use crate::support::{run_in_hidden_env, Build};

fn dpkg(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(args)
        .output()
        .expect("run dpkg")
}

#[test]
fn a_suite_packaged_as_deb_installs_runs_and_is_removed() {
    if Command::new("dpkg").arg("--version").output().is_err() {
        eprintln!("note: no dpkg on this machine; skipping");
        return;
    }
    let build = Build::new("scriptsproject")
        .args(["--format", "deb"])
        .success();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    // The version comes from [project]; the summary names the package.
    let deb = build
        .out_dir
        .join(format!("scriptsproject_1.0.0_{arch}.deb"));
    assert!(deb.is_file(), "{}", build.result);
    assert!(build.result.stdout.contains("package"), "{}", build.result);

    let info = Command::new("dpkg-deb")
        .arg("--info")
        .arg(&deb)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    for field in [
        "Package: scriptsproject",
        "Version: 1.0.0",
        &format!("Architecture: {arch}"),
        "Installed-Size: ",
    ] {
        assert!(info.contains(field), "{field}\n{info}");
    }

    let root = tempfile::tempdir().unwrap();
    for dir in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    std::fs::write(root.path().join("var/lib/dpkg/status"), "").unwrap();
    let installed = dpkg(root.path(), &["-i", deb.to_str().unwrap()]);
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let opt = root.path().join("opt/scriptsproject");
    for exe in ["scriptsproject-greet", "scriptsproject-greet-window"] {
        let link = root.path().join("usr/bin").join(exe);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("/opt/scriptsproject").join(exe)
        );
        // A GUI project: each component gets a desktop entry that needs no terminal.
        let entry = std::fs::read_to_string(
            root.path()
                .join("usr/share/applications")
                .join(format!("{exe}.desktop")),
        )
        .unwrap();
        assert!(entry.contains(&format!("Exec=/usr/bin/{exe}\n")), "{entry}");
        assert!(entry.contains("Terminal=false\n"), "{entry}");
    }
    // The suite's dispatcher is linked, but it is no desktop app.
    assert!(root.path().join("usr/bin/scriptsproject").is_symlink());
    assert!(!root
        .path()
        .join("usr/share/applications/scriptsproject.desktop")
        .exists());

    // The installed copy runs, with the host's Pythons hidden.
    let run = run_in_hidden_env(
        opt.join("scriptsproject-greet").to_str().unwrap(),
        &["from-deb"],
    );
    run.assert_success("the installed greet");
    assert_eq!(run.stdout.trim(), "hello from greettool cli ['from-deb']");

    let removed = dpkg(root.path(), &["-r", "scriptsproject"]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(!opt.exists());
    assert!(!root.path().join("usr/bin/scriptsproject-greet").exists());
}

#[test]
fn a_onefile_deb_and_a_bad_package_name_are_refused_with_their_keys() {
    let out = Build::new("scriptsproject")
        .args(["--format", "deb", "--onefile"])
        .run();
    assert_eq!(out.result.status.code(), Some(1), "{}", out.result);
    assert!(out.result.stderr.contains("--format"), "{}", out.result);
    assert!(out.result.stderr.contains("onedir"), "{}", out.result);

    let out = Build::new("scriptsproject")
        .prepare(|dir| {
            let path = dir.join("pyproject.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                path,
                format!("{text}\n[tool.kiln.deb]\npackage = \"Bad_Name\"\n"),
            )
            .unwrap();
        })
        .run();
    assert_eq!(out.result.status.code(), Some(1), "{}", out.result);
    assert!(
        out.result.stderr.contains("tool.kiln.deb.package"),
        "{}",
        out.result
    );
}
