//! The torch family, for real: the default PyPI wheels of torch (its CUDA libraries included),
//! transformers and peft, frozen with no configuration and run with the host's Pythons hidden.

use crate::support::{assert_same_run, run_hidden, run_plain_with, torch_venv, Build, Mode};

/// One LoRA training step with peft on a tiny GPT-2 built from a config, saved with
/// `save_pretrained`, reloaded, and compared: the same numbers as under plain python.
fn lora_step(mode: Mode) {
    let venv = torch_venv();
    let plain = run_plain_with(venv, "torch_lora", &["main.py"]);
    plain.assert_success("plain torch_lora");
    let build = Build::new("torch_lora")
        .args(["main.py"])
        .python(&venv.python)
        .mode(mode)
        .success();
    let frozen = run_hidden(&build, &[]);
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
