//! The torch family, for real: the default PyPI wheels of torch (its CUDA libraries included),
//! transformers and peft, frozen with no configuration and run with the host's Pythons hidden.

use crate::support::{assert_same_run, run_plain_with, torch_venv, Build, FileLock, Hidden, Mode};

/// One torch test at a time on the machine: each bundle is gigabytes (3.4 GiB onedir; a onefile
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
/// the request, then SIGTERM and a clean exit. The same answers as under plain python.
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
        .args(["main.py"])
        .python(&venv.python)
        .success();
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
