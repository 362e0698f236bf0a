"""Declared capabilities, the task layer and its artifacts: what each family can do is read from its
declarations and its methods' signatures, tasks run from Python without click, and nothing in the sampling
path names a model family."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch

from genzoo import cli as cli_module
from genzoo.config import ConfigError
from genzoo.models import model_families
from genzoo.models.capabilities import (AsksQuestions, Attends, AttendsPixels, Grows, MixesStyles, Truncates, Completes, Encodes, EvidenceBound, ExactLikelihood, FillsMask, FromLatent, Inpaints,
                                        Interpolates, NextToken, Reconstructs, ReplayBuffer, Samples, Trajectories,
                                        Stylises, Translates, VariationalBound, accepted_options, declared)
from genzoo.run_context import RunContext
from genzoo.tasks import ImageGrid, Request, available_tasks, run_task, write_artifact
from genzoo.tasks import generation

DDPM_SMALL = ("--set", "model.base_channels=8", "--set", "model.timesteps=40", "--set", "model.sample_steps=5",
              "--set", "batch_size=16", "--set", "sample_n=4")

EXPECTED = {
    "autoencoder": {Samples, Encodes, FromLatent, Reconstructs},
    "vae": {Samples, Encodes, FromLatent, Reconstructs, EvidenceBound},
    "pixelcnn": {Samples, ExactLikelihood, Completes},
    "diffusion": {Samples, Completes, Inpaints, Trajectories, Interpolates, VariationalBound},
    "ebm": {Samples, Trajectories, ReplayBuffer},
    "gan": {Samples, FromLatent}, "wgan": {Samples, FromLatent}, "wgan-gp": {Samples, FromLatent},
    "realnvp": {Samples, ExactLikelihood}, "realnvp-points": {Samples, ExactLikelihood},
    "lstm": {Samples, NextToken}, "gpt": {Samples, NextToken, Attends}, "bert": {FillsMask},
    "qgen": {AsksQuestions},
    "progan": {Samples, FromLatent, Grows},
    "stylegan": {Samples, FromLatent, Truncates, MixesStyles}, "stylegan2": {Samples, FromLatent, Truncates, MixesStyles},
    "sagan": {Samples, FromLatent, AttendsPixels}, "biggan": {Samples, FromLatent, AttendsPixels, Truncates},
    "cyclegan": {Translates}, "pix2pix": {Translates}, "style-net": {Stylises},
}


def test_every_family_declares_its_capabilities():
    families = model_families()
    assert set(families) == set(EXPECTED)
    for name, cls in families.items():
        assert set(declared(cls.__new__(cls))) == EXPECTED[name], name


def test_options_are_read_from_the_method_signatures():
    fams = model_families()
    assert accepted_options(fams["diffusion"].sample) == ["sampler", "steps", "eta", "guidance"]
    assert accepted_options(fams["diffusion"].interpolate) == ["steps", "guidance"]
    assert accepted_options(fams["diffusion"].complete)[-1] == "resample"
    assert accepted_options(fams["pixelcnn"].sample) == ["sampler", "temperature"]
    assert accepted_options(fams["ebm"].sample) == ["steps"]
    assert accepted_options(fams["vae"].sample) == []
    assert accepted_options(fams["gpt"].sample) == ["temperature", "top_k", "top_p", "prompt", "max_tokens", "kv_cache"]


def test_the_sampling_path_names_no_family():
    sources = [inspect.getsource(cli_module.sample.callback), inspect.getsource(generation)]
    for src in sources:
        assert not re.search(r"family\s*(==|in)\s*[\"'(]", src)
        for family in EXPECTED:
            assert f'"{family}"' not in src and f"'{family}'" not in src


def test_tasks_run_from_python_and_return_artifacts(trained_runs, tmp_path):
    run = trained_runs.get("ddpm-linear", 6, *DDPM_SMALL)
    ctx = RunContext(run)
    assert available_tasks(ctx.model) == ["sample", "complete", "trajectory", "interpolate"]
    traj = run_task(ctx, "trajectory", Request(n=2, seed=1, options={"steps": 4}))
    assert isinstance(traj, ImageGrid)
    assert traj.row_labels == ["x_t", "predicted x₀"] * 2 and traj.col_labels[-1] == "t=0"
    assert traj.nrow == len(traj.info["steps_shown"]) and traj.images.shape[0] == 2 * 2 * traj.nrow
    again = run_task(ctx, "trajectory", Request(n=2, seed=1, options={"steps": 4}))
    assert torch.equal(traj.images, again.images)            # seeded, and nothing kept on the model
    result = write_artifact(traj, tmp_path / "t.png")
    assert result["steps_shown"] == traj.info["steps_shown"] and (tmp_path / "t.safetensors").exists()
    inpaint = run_task(ctx, "complete", Request(n=3, mask="center", options={"steps": 3}))
    assert inpaint.images.shape[0] == 9 and inpaint.col_labels == ["original", "given", "completion"]


def test_task_requests_are_checked_before_any_work(trained_runs):
    ctx = RunContext(trained_runs.get("ddpm-linear", 6, *DDPM_SMALL))
    with pytest.raises(ConfigError, match="draws one picture, of at most 256 images"):
        run_task(ctx, "trajectory", Request(n=1000))
    with pytest.raises(ConfigError, match="has no replay buffer"):
        run_task(ctx, "buffer", Request(n=4))
    with pytest.raises(ConfigError, match="--mask must be one of"):
        run_task(ctx, "complete", Request(n=2, mask="diagonal"))
    with pytest.raises(ConfigError, match="unknown task"):
        run_task(ctx, "dream", Request())


def test_the_trainer_calls_the_per_step_hook(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from conftest import train_args
    from genzoo.cli import cli
    from genzoo.models.base import GenerativeModel

    calls = []
    monkeypatch.setattr(GenerativeModel, "before_step", lambda self, step, total: calls.append((step, total)))
    r = CliRunner().invoke(cli, train_args("vae-digits", tmp_path / "run", 3, "--set", "sample_n=0"))
    assert r.exit_code == 0, r.output
    assert calls == [(0, 3), (1, 3), (2, 3)]


def test_the_run_index_reads_files_only(trained_runs, tmp_path):
    import json
    import subprocess
    import sys

    run = trained_runs.get("vae-digits", 4)
    code = ("import json, sys; from genzoo.run_index import list_runs, as_rows; "
            f"rows = as_rows(list_runs({str(run.parent)!r})); print(json.dumps(rows)); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    rows = {r["path"]: r for r in json.loads(out[0])}
    assert out[1] == "False"
    entry = rows[str(run)]
    assert entry["recipe"] == "vae-digits" and entry["family"] == "vae" and entry["step"] == 4
    assert entry["stopped_by"] == "target" and entry["throughput"].endswith("images/s")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.yaml").write_text("model: [unclosed")
    from genzoo.run_index import list_runs

    assert "unreadable" in list_runs(tmp_path)[0].problem


def test_no_model_module_imports_the_run_machinery():
    """Stages are built by genzoo.runs and handed in: models never open runs themselves."""
    models = Path(generation.__file__).parents[1] / "models"
    for path in models.glob("*.py"):
        src = path.read_text()
        assert not re.search(r"from \.\.runs import|import genzoo\.runs|from genzoo\.runs", src), path.name


def test_a_staged_family_needs_its_stage_handed_in():
    from genzoo.models import build_model

    cfg = {"family": "diffusion", "space": "latent", "autoencoder": "runs/vae", "input_shape": [1, 28, 28]}
    with pytest.raises(ConfigError, match="built on its autoencoder stage"):
        build_model(cfg)
    assert model_families()["diffusion"].stages == {"autoencoder": ("autoencoder", "autoencoder_model")}
