"""The trainer: exact resume (also after a hard kill), atomic checkpoints, the NaN guard, EMA,
clear errors for checkpoints of another model, and the CLI end to end."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file

from conftest import MINI_FASHION, train_args
from genzoo.cli import cli
from genzoo.config import ConfigError
from genzoo.data import load_images
from genzoo.runs import config_from_recipe, load_run, prepare_model
from genzoo.training.checkpoint import CheckpointError, latest_checkpoint
from genzoo.training.loop import NonFiniteLossError
from genzoo.training.trainer import make_trainer


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(latest_checkpoint(run) / "model.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_cli_train_writes_run_folder_and_sample(tmp_path):
    run = tmp_path / "run"
    r = run_cli(*train_args("vae-digits", run, 20))
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["steps"] == 20
    assert (run / "config.yaml").exists() and (run / "train_summary.json").exists()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [5, 10, 15, 16, 20]  # 16 = end of the first epoch (512/32)
    assert {"loss", "elbo", "kl", "mse", "images_per_s"} <= set(rows[-1])
    assert (run / "samples" / "epoch-0001.png").exists()
    r = run_cli("sample", str(run), "-n", "10", "--seed", "3", "--out", str(tmp_path / "s.png"))
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "s.png").size[0] > 28
    assert load_file(str(tmp_path / "s.safetensors"))["images"].shape == (10, 1, 28, 28)


def test_resume_continues_exactly(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run_cli(*train_args("vae-digits", straight, 40)).exit_code == 0
    assert run_cli(*train_args("vae-digits", split, 22)).exit_code == 0
    r = run_cli("resume", str(split), "--max-steps", "40", "--no-progress")
    assert r.exit_code == 0, r.output
    assert_same_weights(straight, split)
    m1 = [json.loads(x) for x in (straight / "metrics.jsonl").read_text().splitlines()]
    m2 = [json.loads(x) for x in (split / "metrics.jsonl").read_text().splitlines()]
    last1 = {r["step"]: r["loss"] for r in m1}
    last2 = {r["step"]: r["loss"] for r in m2}
    assert last1[40] == last2[40]


def test_time_budget_stops_with_a_checkpoint_and_resumes(tmp_path):
    run = tmp_path / "run"
    r = run_cli(*train_args("homl-vae", run, 100_000, "--set", "max_minutes=0.003"))
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    assert first["stopped_by"] == "max_minutes" and 0 < first["steps"] < 100_000
    # checked after every step (not only at log steps): the run overshoots its budget by at most a step or so
    assert first["wall_s"] < 0.003 * 60 + 5.0   # (loose: the machine may be busy)
    assert latest_checkpoint(run).name.endswith(f"{first['steps']:08d}")
    r = run_cli("resume", str(run), "--no-progress")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["steps"] > first["steps"]   # the budget is per invocation


def test_cpu_time_budget_stops_with_a_checkpoint(tmp_path):
    """max_cpu_minutes counts this process's CPU time, so a budget is fair on a shared machine."""
    run = tmp_path / "run"
    r = run_cli(*train_args("homl-vae", run, 100_000, "--set", "max_cpu_minutes=0.004"))
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["stopped_by"] == "max_cpu_minutes" and 0 < out["steps"] < 100_000
    assert out["cpu_s"] >= 0.24
    assert latest_checkpoint(run).name.endswith(f"{out['steps']:08d}")


def test_resume_after_hard_kill(tmp_path):
    """SIGKILL a run mid-training; resuming from its last checkpoint gives the uninterrupted result."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    extra = ("--set", "checkpoint_every=7", "--set", "sample_every_epoch=false")
    assert run_cli(*train_args("ae-digits", straight, 120, *extra)).exit_code == 0
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.Popen([sys.executable, "-m", "genzoo", *train_args("ae-digits", killed, 100_000, *extra)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            ck = latest_checkpoint(killed)
            if ck is not None and int(ck.name.split("-")[1]) >= 21:
                break
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint appeared")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    step = int(latest_checkpoint(killed).name.split("-")[1])
    assert 21 <= step < 120
    r = run_cli("resume", str(killed), "--max-steps", "120", "--no-progress")
    assert r.exit_code == 0, r.output
    assert_same_weights(straight, killed)


def _trainer(tmp_path, recipe="vae-digits", *overrides):
    cfg = config_from_recipe(recipe, ["data.data_dir=" + str(MINI_FASHION), "log_every=2", "checkpoint_every=4",
                                      "tensorboard=false", "sample_every_epoch=false", *overrides])
    model = prepare_model(cfg)
    data = load_images(cfg.data, tuple(model.config.input_shape))
    return make_trainer(cfg, tmp_path / "run", model, data)


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path):
    trainer = _trainer(tmp_path)
    real_loss = trainer.model.loss

    def poisoned(batch):
        out = real_loss(batch)
        if trainer.step >= 9:
            out["loss"] = out["loss"] * float("nan")
        return out

    trainer.model.loss = poisoned
    with pytest.raises(NonFiniteLossError, match="step-00000008"):
        trainer.fit(max_steps=30, progress=False)
    last = latest_checkpoint(tmp_path / "run")
    assert last.name == "step-00000008"
    assert all(torch.isfinite(t).all() for t in load_file(str(last / "model.safetensors")).values())


def test_cli_reports_nan_as_one_line(tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(cli, train_args("vae-digits", run, 30, "--set", "optim.model.lr=1e12"))
    assert r.exit_code == 2
    assert "became NaN or Inf" in r.output and "before any checkpoint" in r.output
    assert "--set optim.model.lr=" in r.output and "genzoo train vae-digits" in r.output


def test_ema_weights_are_saved_and_used_for_sampling(tmp_path):
    trainer = _trainer(tmp_path, "vae-digits", "ema_decay=0.9")
    trainer.fit(max_steps=8, progress=False)
    ck = latest_checkpoint(tmp_path / "run")
    ema, raw = load_file(str(ck / "ema.safetensors")), load_file(str(ck / "model.safetensors"))
    key = "decoder.dense.weight"
    assert not torch.equal(ema[key], raw[key])
    _, model = load_run(tmp_path / "run")
    assert torch.equal(model.decoder.dense.weight, ema[key])


def test_adam_state_and_lr_decay_survive_resume(tmp_path):
    trainer = _trainer(tmp_path, "vae-digits", "lr_decay=0.5")
    trainer.fit(max_steps=20, progress=False)  # 16 steps per epoch → one decay
    assert trainer.optimizers["model"].param_groups[0]["lr"] == pytest.approx(0.0005 * 0.5)
    again = _trainer(tmp_path, "vae-digits", "lr_decay=0.5")
    again.restore()
    assert again.step == 20 and again.epochs_done == 1
    assert again.optimizers["model"].param_groups[0]["lr"] == pytest.approx(0.0005 * 0.5)
    assert again.optimizers["model"].state_dict()["state"][0]["step"] == 20


def test_checkpoint_of_another_model_is_refused(tmp_path, trained_runs):
    vae_run = trained_runs.copy(tmp_path / "vae", "vae-digits", 4)
    cfg = (vae_run / "config.yaml").read_text().replace("family: vae", "family: autoencoder")
    (vae_run / "config.yaml").write_text(cfg)
    with pytest.raises(CheckpointError, match="written by model family 'vae'"):
        load_run(vae_run)
    r = CliRunner().invoke(cli, ["sample", str(vae_run)])
    assert r.exit_code == 2 and "family" in r.output


def test_corrupt_checkpoint_is_named(tmp_path, trained_runs):
    run = trained_runs.copy(tmp_path / "run", "vae-digits", 4)
    ck = latest_checkpoint(run)
    (ck / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_run(run)


def test_shape_mismatch_names_keys(tmp_path, trained_runs):
    run = trained_runs.copy(tmp_path / "run", "vae-digits", 4)
    text = (run / "config.yaml").read_text().replace("z_dim: 2", "z_dim: 3")
    (run / "config.yaml").write_text(text)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_run(run)


def test_training_into_an_existing_run_is_refused(tmp_path, trained_runs):
    run = trained_runs.copy(tmp_path / "run", "vae-digits", 4)
    r = CliRunner().invoke(cli, train_args("vae-digits", run, 2))
    assert r.exit_code == 2 and "genzoo resume" in r.output


def test_missing_data_is_one_clear_error(tmp_path):
    r = CliRunner().invoke(cli, ["train", "vae-digits", "--dataset", "mnist", "--data-dir", str(tmp_path),
                                 "--max-steps", "1", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2
    assert "no mnist train files" in r.output and str(tmp_path) in r.output


def test_wrong_optimizer_names_for_family(tmp_path):
    with pytest.raises(ConfigError, match="needs \\['model'\\]"):
        _trainer(tmp_path, "vae-digits", "optim={generator: {lr: 0.001}}")


@pytest.mark.parametrize("precision, channels_last", [("bf16", True), ("fp32", False), ("auto", True)])
def test_precisions_and_layouts_train(tmp_path, precision, channels_last):
    trainer = _trainer(tmp_path, "vae-digits", f"precision={precision}", f"channels_last={str(channels_last).lower()}")
    summary = trainer.fit(max_steps=4, progress=False)
    assert summary["steps"] == 4 and summary["last"]["loss"] == summary["last"]["loss"]
    assert trainer.precision in ("fp32", "bf16")


@pytest.mark.slow
def test_compile_option_trains_and_keeps_checkpoint_keys(tmp_path):
    """torch.compile needs a C++ toolchain and takes a minute on CPU: slow-marked."""
    trainer = _trainer(tmp_path, "vae-digits", "compile=true")
    trainer.fit(max_steps=3, progress=False)
    keys = load_file(str(latest_checkpoint(tmp_path / "run") / "model.safetensors")).keys()
    assert not any("_orig_mod" in k for k in keys)
