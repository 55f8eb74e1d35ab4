//! The torch family, for real: the default PyPI wheels of torch (its CUDA libraries included),
//! transformers, peft and sentence-transformers, frozen with no configuration and run with the
//! host's Pythons hidden.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::support::{
    app_dir, assert_same_run, base_env, copy_tree, run_checked, run_plain_prepared, run_plain_with,
    temp_dir, torch_venv, Build, FileLock, Hidden, Mode, Venv,
};

/// One torch test at a time on the machine: each bundle is gigabytes (4.3 GiB onedir; a onefile
/// and its unpacked cache together more), and a CI machine's disk holds one of them at once
/// beside the torch venv, not three. A lock file in the temporary directory, where the bundles
/// are made, so that test processes wait for each other too (two checkouts' test runs, say).
fn one_at_a_time() -> FileLock {
    FileLock::acquire(&std::env::temp_dir().join("kiln-it-torch-disk.lock"))
}

/// One LoRA training step with peft on a tiny GPT-2 built from a config, saved with
/// `save_pretrained`, reloaded, and compared: the same numbers as under plain python.
fn lora_step(mode: Mode) {
    let _disk = one_at_a_time();
    let venv = torch_venv();
    let plain = run_plain_with(venv, "torch_lora", &["main.py"]);
    plain.assert_success("plain torch_lora");
    let build = Build::new("torch_lora")
        .args(["main.py"])
        .python(&venv.python)
        .mode(mode)
        .success();
    let frozen = Hidden::new(&build).hard_linked().hiding(&venv.dir).output();
    assert_same_run("torch_lora", &plain, &frozen.run);
    assert!(
        frozen.run.stdout.contains("same logits True"),
        "{}",
        frozen.run.describe()
    );
    if mode == Mode::Onefile {
        // Unpacking gigabytes takes seconds: the first start says so rather than hang silently.
        let said = &frozen.run.stderr;
        assert!(
            said.contains("kiln launcher: unpacking ")
                && said.contains("kiln launcher: unpacked in "),
            "{said}"
        );
    }
    // By default the GPU libraries ship whole, for the user's NVIDIA machine: cuDNN's engines,
    // which libcudnn loads from its own directory and nothing links, among them.
    let report = build_report(&build);
    let gpu = report["totals"]["gpu_bytes"].as_u64().unwrap();
    assert!(gpu > 2500 << 20, "gpu {gpu}");
    let shipped = shipped_paths(&report);
    for wanted in [
        "nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9",
        "site-packages/triton/",
    ] {
        assert!(
            shipped.iter().any(|p| p.contains(wanted)),
            "{wanted} should ship by default"
        );
    }
}

/// The build report of `build`.
fn build_report(build: &crate::support::BuildOutput) -> serde_json::Value {
    let path = build
        .out_dir
        .join(format!("{}.build-report.json", build.name));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn shipped_paths(report: &serde_json::Value) -> Vec<String> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lora_training_step_onedir() {
    lora_step(Mode::Onedir);
}

#[test]
fn lora_training_step_onefile() {
    lora_step(Mode::Onefile);
}

/// The Electron shell's backend: FastAPI polled on `/api/health`, a service that imports torch
/// (and compiles a TorchScript function, which reads its source) loaded by a name computed from
/// the request, then SIGTERM and a clean exit. The same answers as under plain python. Built
/// `--cpu-only`, for machines without an NVIDIA GPU: no triton, no CUDA library that nothing
/// links, and torch still imports and computes.
#[test]
fn backend_loads_a_torch_service_lazily_and_stops_on_sigterm() {
    let _disk = one_at_a_time();
    let venv = torch_venv();
    let predict = |server: &mut crate::support::Running, port: u16, what: &str| {
        crate::wait_healthy(server, port, what)?;
        match crate::support::http_get(port, "/api/predict?service=scorer") {
            Ok((200, body)) => Ok(body),
            other => Err(format!("{what}: /api/predict answered {other:?}")),
        }
    };
    let port = crate::support::free_port();
    let (mut plain, _) =
        crate::support::spawn_plain_with(venv, "torch_backend", &["main.py", &port.to_string()]);
    let expected = match predict(&mut plain, port, "the backend under plain python") {
        Ok(body) => body,
        Err(message) => panic!("{message}\n{}", plain.kill()),
    };
    crate::check_server(plain, port, "the backend under plain python");
    assert!(expected.contains("16.0"), "{expected}");

    let build = Build::new("torch_backend")
        .args(["main.py", "--cpu-only"])
        .python(&venv.python)
        .success();
    let report = build_report(&build);
    let shipped = shipped_paths(&report);
    for gone in [
        "nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9",
        "site-packages/triton/",
    ] {
        assert!(
            !shipped.iter().any(|p| p.contains(gone)),
            "{gone} ships in a --cpu-only bundle"
        );
    }
    // What libtorch links stays: torch cannot load without it.
    assert!(shipped.iter().any(|p| p.ends_with("libcudart.so.13")));
    let gpu = report["totals"]["gpu_bytes"].as_u64().unwrap();
    let all = report["totals"]["bytes"].as_u64().unwrap();
    // Against 2.9 GiB by default (the pinned torch 2.15 wheels).
    assert!(gpu > 0 && gpu < 1750 << 20, "gpu {gpu} of {all}");
    let port = crate::support::free_port();
    let (mut frozen, _) = Hidden::new(&build)
        .hard_linked()
        .hiding(&venv.dir)
        .args([port.to_string()])
        .spawn();
    let got = match predict(&mut frozen, port, "the frozen backend") {
        Ok(body) => body,
        Err(message) => panic!("{message}\n{}", frozen.kill()),
    };
    crate::check_server(frozen, port, "the frozen backend");
    assert_eq!(expected, got);
}

/// Every run of the embeddings app has the hub off: nothing may be downloaded, the model ships
/// in the app's package.
const OFFLINE: [(&str, &str); 2] = [("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1")];

/// The embeddings fixture's model, made by its `make_model.py` (a tiny seeded BERT with a
/// WordPiece tokenizer, saved as a SentenceTransformer): `model/` in the returned directory.
/// Made for each test, not kept in the repository.
fn embed_model(venv: &Venv) -> TempDir {
    let dir = temp_dir("kiln-it-embed-model-");
    let mut cmd = Command::new(&venv.python);
    cmd.arg(app_dir("torch_embed").join("make_model.py"))
        .arg(dir.path().join("model"))
        .current_dir(dir.path());
    base_env(&mut cmd, dir.path(), &[]);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1").envs(OFFLINE);
    run_checked(&mut cmd, "make the embeddings model");
    dir
}

/// Puts the model into an app copy's package, where `embedder` looks for it.
fn put_model(model: &Path) -> impl FnOnce(&Path) + 'static {
    let model = model.join("model");
    move |app| copy_tree(&model, &app.join("embedder/model"))
}

/// Sentence embeddings with sentence-transformers, the model loaded from the app's package
/// through `__file__` (safetensors weights, a fast tokenizer, the module list naming
/// sentence-transformers' classes): kiln ships the model as the package's data with no
/// configuration, and the frozen app prints the same embeddings and similarities.
fn sentence_embeddings(mode: Mode) {
    let _disk = one_at_a_time();
    let venv = torch_venv();
    let model = embed_model(venv);
    let plain = run_plain_prepared(
        venv,
        "torch_embed",
        &["main.py"],
        &OFFLINE,
        put_model(model.path()),
    );
    plain.assert_success("plain torch_embed");
    let build = Build::new("torch_embed")
        .args(["main.py"])
        .python(&venv.python)
        .mode(mode)
        .prepare(put_model(model.path()))
        .success();

    let report = build.out_dir.join("torch_embed.build-report.json");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the build report")).unwrap();
    let weights = report["files"]
        .as_array()
        .expect("the report's files")
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("site-packages/embedder/model/model.safetensors"))
        });
    assert!(
        weights.is_some_and(|f| f["role"] == "data"),
        "the model's weights are not shipped as data of the package: {weights:?}"
    );

    let mut hidden = Hidden::new(&build).hard_linked().hiding(&venv.dir);
    for (key, value) in OFFLINE {
        hidden = hidden.env(key, value);
    }
    let frozen = hidden.output();
    assert_same_run("torch_embed", &plain, &frozen.run);
    assert!(
        frozen.run.stdout.contains("closest pair"),
        "{}",
        frozen.run.describe()
    );
}

#[test]
fn sentence_embeddings_onedir() {
    sentence_embeddings(Mode::Onedir);
}

#[test]
fn sentence_embeddings_onefile() {
    sentence_embeddings(Mode::Onefile);
}
