//! What a build reports: `NAME.build-report.json` lists every shipped file once with its size
//! and why it is in, the minimum glibc and the licences; `NAME.cdx.json` is a CycloneDX SBOM;
//! `kiln report` prints the largest packages and writes an HTML page that a real browser
//! (headless Chromium) draws with nothing but the file itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{freeze_mode, run_hidden, target_dir, BuildOutput, Mode, KILN};

fn read_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn report_of(build: &BuildOutput) -> Value {
    read_json(
        &build
            .out_dir
            .join(format!("{}.build-report.json", build.name)),
    )
}

/// Every regular file under `dir`, relative to it, with its size.
fn files_under(dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel.to_string_lossy().into_owned(), meta.len());
            }
        }
    }
    out
}

/// The report's files as path -> size, asserting that no path is listed twice.
fn listed_files(report: &Value) -> BTreeMap<String, u64> {
    let mut listed = BTreeMap::new();
    for f in report["files"].as_array().expect("files is a list") {
        let path = f["path"].as_str().expect("path is a string").to_string();
        let size = f["size"].as_u64().expect("size is a number");
        assert!(
            listed.insert(path.clone(), size).is_none(),
            "{path} is listed twice"
        );
    }
    listed
}

fn assert_same_files(what: &str, listed: &BTreeMap<String, u64>, shipped: &BTreeMap<String, u64>) {
    let listed_only: Vec<&String> = listed
        .keys()
        .filter(|k| !shipped.contains_key(*k))
        .collect();
    let shipped_only: Vec<&String> = shipped
        .keys()
        .filter(|k| !listed.contains_key(*k))
        .collect();
    assert!(
        listed_only.is_empty() && shipped_only.is_empty(),
        "{what}: the report and the bundle differ\nlisted, not shipped: {listed_only:?}\n\
         shipped, not listed: {shipped_only:?}"
    );
    for (path, size) in shipped {
        assert_eq!(listed[path], *size, "{what}: size of {path}");
    }
}

fn every_file_is_listed_once_with_its_size(mode: Mode) {
    let build = freeze_mode("nativeapp", &["main.py"], mode);
    let report = report_of(&build);
    let listed = listed_files(&report);
    // What a onefile executable ships is what it unpacks; the run owns that cache entry.
    let hidden = (mode == Mode::Onefile).then(|| run_hidden(&build, &[]));
    let (root, mut shipped) = match (mode, &hidden) {
        (Mode::Onedir | Mode::Suite, _) | (Mode::Onefile, None) => {
            (build.bundle_dir(), files_under(&build.bundle_dir()))
        }
        (_, Some(run)) => {
            run.run.assert_success("the onefile nativeapp");
            let mut unpacked = files_under(&run.runtime_root);
            unpacked.remove(kiln_bundle::cache::MARKER);
            let onefile = fs::metadata(build.exe()).unwrap().len();
            assert_eq!(report["totals"]["onefile_bytes"], onefile, "onefile size");
            (run.runtime_root.clone(), unpacked)
        }
    };
    // The module archive counts its index; each module in it is listed under its own path.
    let members = crate::support::archive_members(&root);
    assert!(!members.is_empty(), "the bundle has a module archive");
    let archive = shipped
        .keys()
        .find(|k| k.ends_with("/_kiln_modules.bin"))
        .cloned()
        .expect("the archive ships");
    *shipped.get_mut(&archive).unwrap() -= members.values().sum::<u64>();
    let in_archive: BTreeMap<String, u64> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["archive"].as_str() == Some(archive.as_str()))
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        in_archive, members,
        "the report names what the archive holds"
    );
    shipped.extend(members);
    assert_same_files(&format!("{mode:?}"), &listed, &shipped);
    let sum: u64 = listed.values().sum();
    assert_eq!(
        report["totals"]["bytes"], sum,
        "the sizes add up to the total"
    );
    assert_eq!(report["totals"]["files"], listed.len());
    let expected_mode = match mode {
        Mode::Onedir | Mode::Suite => "onedir",
        Mode::Onefile => "onefile",
    };
    assert_eq!(report["mode"], expected_mode);
    assert!(
        build.out_dir.join("nativeapp.cdx.json").is_file(),
        "the SBOM is written beside the bundle"
    );
    // Beside the bundle, never inside what ships.
    assert!(!shipped.keys().any(|k| k.ends_with(".build-report.json")));
}

#[test]
fn every_file_is_listed_once_with_its_size_onedir() {
    every_file_is_listed_once_with_its_size(Mode::Onedir)
}

#[test]
fn every_file_is_listed_once_with_its_size_onefile() {
    every_file_is_listed_once_with_its_size(Mode::Onefile)
}

/// A suite writes its build report and SBOM like any build.
#[test]
fn every_file_is_listed_once_with_its_size_suite() {
    every_file_is_listed_once_with_its_size(Mode::Suite)
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|x| x[key] == value)
}

#[test]
fn the_report_says_why_each_file_is_in_and_what_the_bundle_needs() {
    let build = freeze_mode("nativeapp", &["main.py", "-v"], Mode::Onedir);
    let report = report_of(&build);
    let files = &report["files"];

    // Modules carry the import chain from the entry.
    let linalg = find(files, "module", "numpy.linalg").expect("numpy.linalg is listed");
    assert_eq!(linalg["role"], "module");
    assert_eq!(linalg["distribution"], "numpy");
    let chain: Vec<&str> = linalg["chain"]
        .as_array()
        .expect("a module has a chain")
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(chain.first(), Some(&"__main__"), "{linalg:#}");
    assert_eq!(chain.last(), Some(&"numpy.linalg"), "{linalg:#}");
    assert!(linalg["origin"]
        .as_str()
        .unwrap()
        .ends_with("numpy/linalg/__init__.py"));
    for f in files.as_array().unwrap() {
        assert!(
            matches!(
                f["role"].as_str().unwrap(),
                "module"
                    | "extension"
                    | "data"
                    | "metadata"
                    | "native-library"
                    | "interpreter"
                    | "boot"
                    | "launcher"
            ),
            "{f}"
        );
        assert!(!f["why"].as_str().unwrap().is_empty(), "{f}");
        if f["distribution"] == "numpy" && f["role"] == "module" {
            assert_eq!(f["chain"][0], "__main__", "{f}");
        }
    }
    // numpy's vendored OpenBLAS belongs to numpy, and says what needs it.
    let openblas = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .contains("numpy.libs/libscipy_openblas")
        })
        .expect("numpy's OpenBLAS is listed");
    assert_eq!(openblas["role"], "native-library");
    assert_eq!(openblas["distribution"], "numpy");
    assert!(openblas["why"].as_str().unwrap().starts_with("needed by "));

    // Distributions with their licences.
    let numpy = find(&report["distributions"], "name", "numpy").expect("numpy is listed");
    assert_eq!(numpy["version"], "2.4.6");
    assert_eq!(numpy["license"]["spdx"], true);
    assert!(
        numpy["license"]["text"]
            .as_str()
            .unwrap()
            .contains("BSD-3-Clause"),
        "{numpy:#}"
    );
    assert!(numpy["bytes"].as_u64().unwrap() > 10_000_000);

    // Portability: the newest glibc symbol version, and the file that needs it.
    let glibc = &report["portability"]["min_glibc"];
    let version = glibc["version"].as_str().expect("a glibc version");
    let (major, minor) = version.split_once('.').expect("x.y");
    assert_eq!(major, "2", "{glibc}");
    assert!(minor.parse::<u32>().is_ok_and(|m| m >= 2), "{glibc}");
    let setter = find(files, "path", glibc["file"].as_str().unwrap()).expect("the file is listed");
    assert_eq!(setter["glibc"], version);
    let parse = |v: &str| {
        let (a, b) = v.split_once('.').unwrap();
        (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())
    };
    for f in files.as_array().unwrap() {
        if let Some(v) = f["glibc"].as_str() {
            assert!(parse(v) <= parse(version), "{f} needs more than {version}");
        }
    }
    assert!(
        build
            .result
            .stdout
            .contains(&format!("glibc         {version} or newer")),
        "the summary shows the glibc version\n{}",
        build.result.stdout
    );

    // Inputs and metrics.
    let inputs = &report["inputs"];
    assert_eq!(
        inputs["python_version"]
            .as_str()
            .unwrap()
            .split('.')
            .count(),
        3
    );
    assert_eq!(inputs["settings_hash"].as_str().unwrap().len(), 64);
    assert!(inputs["kiln_version"].is_string());
    let stages: Vec<&str> = report["metrics"]["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["interpreter", "analyse", "collect", "write"]);
    assert!(report["metrics"]["peak_memory_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(
        find(&report["hooks"], "module", "numpy").is_some(),
        "{}",
        report["hooks"]
    );
    assert!(report["missing"].is_array());

    // The SBOM: the app, every distribution, the interpreter, unique references.
    let bom = read_json(&build.out_dir.join("nativeapp.cdx.json"));
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert_eq!(bom["metadata"]["component"]["name"], "nativeapp");
    let components = &bom["components"];
    let numpy = find(components, "name", "numpy").expect("numpy in the SBOM");
    assert_eq!(numpy["purl"], "pkg:pypi/numpy@2.4.6");
    assert_eq!(numpy["type"], "library");
    assert!(numpy["licenses"][0]["expression"].is_string());
    let python = find(components, "name", "cpython").expect("cpython in the SBOM");
    assert_eq!(
        python["purl"],
        format!(
            "pkg:generic/cpython@{}",
            inputs["python_version"].as_str().unwrap()
        )
    );
    for d in report["distributions"].as_array().unwrap() {
        assert!(
            find(components, "name", d["name"].as_str().unwrap()).is_some(),
            "{} is missing from the SBOM",
            d["name"]
        );
    }
    let mut refs = BTreeSet::new();
    for c in components.as_array().unwrap() {
        assert!(
            refs.insert(c["bom-ref"].as_str().unwrap().to_string()),
            "{c}"
        );
    }
}

/// `kiln ARGS` in `dir`.
fn kiln(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(KILN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run kiln");
    assert!(
        out.status.success(),
        "kiln {args:?} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Chromium from the distribution (`.ci/run` installs it), if present.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Runs headless Chromium on `page` with `args` (`--dump-dom`, `--screenshot=...`) and returns
/// its stdout.
fn headless(chromium: &Path, page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("a browser profile directory");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium {args:?} failed: {status}");
    reader.join().unwrap()
}

#[test]
fn kiln_report_prints_the_largest_packages_and_draws_the_page() {
    let build = freeze_mode("nativeapp", &["main.py"], Mode::Onedir);

    // The bundle itself, or with no argument the one report in ./dist.
    let out = kiln(
        build.root(),
        &["report", build.bundle_dir().to_str().unwrap()],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().skip(2).collect();
    assert!(
        rows[0].trim_start().starts_with("numpy "),
        "numpy is the largest\n{text}"
    );
    assert!(rows[0].contains("BSD-3-Clause"), "with its licence\n{text}");
    assert!(text.contains("stdlib"), "{text}");
    assert!(text.contains("needs glibc 2."), "{text}");
    let page = build.out_dir.join("nativeapp.report.html");
    assert!(
        text.trim_end()
            .ends_with(&format!("wrote {}", page.display())),
        "{text}"
    );
    assert!(page.is_file());

    let out = kiln(build.root(), &["report", "--json", "--top", "2"]);
    let view: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(view["top"].as_array().unwrap().len(), 2);
    assert_eq!(view["top"][0]["name"], "numpy");
    assert!(view["others"].as_u64().unwrap() >= 1);
    let custom = build.root().join("custom.html");
    kiln(
        build.root(),
        &[
            "report",
            "dist/nativeapp.build-report.json",
            "--html",
            "custom.html",
        ],
    );
    assert!(custom.is_file());

    let html = fs::read_to_string(&page).unwrap();
    for external in ["<script src", "<link", "<img", "@import"] {
        assert!(
            !html.contains(external),
            "the page loads nothing ({external})"
        );
    }

    let Some(chromium) = chromium() else {
        eprintln!(
            "note: chromium is not installed; not rendering the report page (.ci/run installs it)"
        );
        return;
    };
    let dom = headless(&chromium, &page, &["--dump-dom"]);
    assert!(
        dom.contains(r#"data-rendered="yes""#),
        "the page's script ran to the end"
    );
    // The treemap: a rectangle for each of the largest groups, numpy the largest.
    let group_rects: Vec<&str> = dom
        .match_indices(r#"data-kind="group" data-name=""#)
        .map(|(i, m)| {
            let rest = &dom[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(group_rects.first(), Some(&"numpy"), "{group_rects:?}");
    for group in ["stdlib", "runtime", "native"] {
        assert!(
            group_rects.contains(&group),
            "no {group} rectangle: {group_rects:?}"
        );
    }
    assert!(dom.contains(r#"data-kind="package" data-name="numpy.libs""#));
    assert!(
        dom.contains("libscipy_openblas"),
        "file rectangles are drawn"
    );
    // The module list, the licences and the metrics.
    assert!(
        dom.contains(r#"data-module="numpy.linalg""#),
        "module rows are drawn"
    );
    assert!(dom.contains(r#"data-module="__main__""#));
    assert!(
        dom.contains(r#"data-distribution="numpy""#),
        "licence rows are drawn"
    );
    assert!(
        dom.contains(r#"data-stage="analyse""#),
        "stage timings are drawn"
    );
    assert!(dom.contains("glibc \u{2265} 2."), "the glibc card is drawn");

    let shot = target_dir().join("kiln-it-report.png");
    let _ = fs::remove_file(&shot);
    headless(
        &chromium,
        &page,
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{}",
        shot.display()
    );
    eprintln!("report page screenshot: {}", shot.display());
}
