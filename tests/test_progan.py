"""ProGAN (Karras et al. 2018): the growth schedule, the fade-in blends of G, D and the real images, the drift term,
exact resume mid-fade, sampling at the data's size from any phase, the kept phase checkpoints and the growth
gallery, and the refused configurations."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from conftest import MINI_FASHION, assert_resumes_exactly, train_args
from genzoo.cli import cli
from genzoo.config import ConfigError
from genzoo.data.loader import Batch
from genzoo.models.base import build_model
from genzoo.nn.progressive import GrowthSchedule, fade_reals
from genzoo.run_context import RunContext
from genzoo.training.checkpoint import milestone_checkpoints

# A tiny schedule for the mini fixture: batch 16, 4×4 for 32 images (2 steps), then per level a fade over 64
# images (4 steps: α 0, 1/4, 1/2, 3/4) and 32 stable images (2 steps). 10 steps end early in the fade of 16×16.
TINY = ("--batch-size", "16", "--set", "model.channels=[16,16,8,8]", "--set", "model.fade_images=64",
        "--set", "model.stable_images=32", "--set", "ema_decay=0.9", "--set", "checkpoint_every=1000")
SMALL = {"family": "progan", "input_shape": [1, 32, 32], "channels": [16, 16, 8, 8], "fade_images": 48,
         "stable_images": 32}


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("progan") / "run"
    r = run_cli(*train_args("progan-fashion", out, 10, *TINY))
    assert r.exit_code == 0, r.output
    return out


def test_schedule_values():
    s = GrowthSchedule(levels=3, fade_images=100, stable_images=50)
    assert s.at(0) == (0, 1.0) and s.at(49) == (0, 1.0)
    assert s.at(50) == (1, 0.0) and s.at(75) == (1, 0.25) and s.at(149) == (1, 0.99)
    assert s.at(150) == (1, 1.0) and s.at(199) == (1, 1.0)
    assert s.at(200) == (2, 0.0) and s.at(250) == (2, 0.5)
    assert s.end == 50 + 3 * 150 and s.at(s.end - 1) == (3, 1.0) and s.at(10 ** 9) == (3, 1.0)
    assert s.fade_start(3) == 350 and s.at(350) == (3, 0.0)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_shapes_at_every_phase(level):
    torch.manual_seed(0)
    model = build_model(SMALL)
    z = torch.randn(4, model.config.z_dim)
    for alpha in (0.0, 0.5, 1.0):
        x = model.generate_at(z, level, alpha)
        assert x.shape == (4, 1, 4 * 2 ** level, 4 * 2 ** level)
        assert model.discriminator(x, alpha).shape == (4,)
    model.phase_level.fill_(level)
    model.phase_alpha.fill_(0.5 if level else 1.0)
    assert model.sample(3).shape == (3, 1, 32, 32)           # always at the data's size


def test_generator_fade_blends_old_and_new_paths():
    torch.manual_seed(0)
    model = build_model(SMALL)
    g, z = model.generator, torch.randn(4, model.config.z_dim)
    old = F.interpolate(g(z, 1, 1.0), scale_factor=2, mode="nearest")
    new = g(z, 2, 1.0)
    assert torch.equal(g(z, 2, 0.0), old)                     # α = 0: the upsampled old to-RGB, exactly
    assert torch.allclose(g(z, 2, 0.25), 0.75 * old + 0.25 * new, atol=1e-6)
    with torch.no_grad():                                     # α = 1 ignores the old to-RGB …
        g.to_rgb[1].weight.add_(1.0)
        assert torch.equal(g(z, 2, 1.0), new)
        assert not torch.equal(g(z, 2, 0.0), old)
        g.to_rgb[2].weight.add_(1.0)                          # … and α = 0 the new one
        assert torch.equal(g(z, 2, 0.0), F.interpolate(g(z, 1, 1.0), scale_factor=2, mode="nearest"))


def test_discriminator_fade_blends_pooled_old_path_and_new_block():
    torch.manual_seed(0)
    d = build_model(SMALL).discriminator
    x = torch.randn(8, 1, 16, 16)
    assert torch.equal(d(x, 0.0), d(F.avg_pool2d(x, 2), 1.0))  # α = 0: the pooled image through the old from-RGB
    with torch.no_grad():
        before = d(x, 1.0)
        d.from_rgb[1][0].weight.add_(1.0)
        assert torch.equal(d(x, 1.0), before)                  # α = 1: the new path only
        assert not torch.equal(d(x, 0.5), before)


def test_real_images_are_pooled_and_faded():
    x = torch.rand(2, 1, 32, 32)
    assert torch.allclose(fade_reals(x, 1, 1.0, 3), F.avg_pool2d(x, 4))
    x16 = F.avg_pool2d(x, 2)
    low = F.interpolate(F.avg_pool2d(x16, 2), scale_factor=2, mode="nearest")
    assert torch.equal(fade_reals(x, 2, 0.0, 3), low)
    assert torch.allclose(fade_reals(x, 2, 0.5, 3), 0.5 * (low + x16), atol=1e-6)
    assert torch.equal(fade_reals(x, 3, 1.0, 3), x)


def test_critic_loss_is_wgan_gp_plus_drift():
    torch.manual_seed(0)
    model = build_model({**SMALL, "stable_images": 0})
    model.before_step(0, 10)                                   # level 1 at α = 0
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    out = model.discriminator_loss(Batch(x=x))
    real = model.discriminator(fade_reals(x, 1, 0.0, 3), 0.0)
    assert torch.allclose(out["drift"], real.pow(2).mean(), rtol=1e-5)
    total = -out["wasserstein"] + 10.0 * out["gradient_penalty"] + 0.001 * out["drift"]
    assert torch.allclose(out["loss"], total, rtol=1e-5, atol=1e-6)
    assert out["resolution"].item() == 8 and out["alpha"].item() == 0.0
    assert int(model.images_seen) == 8


def test_training_counts_images_and_keeps_a_checkpoint_per_resolution(tiny_run):
    rows = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor([r["d_loss"], r["g_loss"]])).all() for r in rows)
    kept = milestone_checkpoints(tiny_run)
    assert [(name, p.name) for name, p in kept] == [("growth-004px", "step-00000002"),
                                                    ("growth-008px", "step-00000008")]
    assert (tiny_run / "samples" / "growth-004px.png").exists() and (tiny_run / "samples" / "growth-008px.png").exists()
    model = RunContext(tiny_run).model                         # EMA generator, phase from the buffers
    assert int(model.images_seen) == 160
    level, alpha = model.trained_phase()
    assert level == 2 and alpha == 0.25                        # the last step: 16×16 fading in
    assert model.sample(5).shape == (5, 1, 32, 32)
    raw = RunContext(tiny_run, use_ema=False).model            # the EMA composes: averaged generator, same phase
    assert raw.trained_phase() == model.trained_phase()
    assert not torch.equal(raw.generator.blocks[1][1][0].weight, model.generator.blocks[1][1][0].weight)
    old = RunContext(tiny_run, checkpoint=kept[0][1]).model
    assert old.trained_phase() == (0, 1.0)
    x = old.sample(4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, 1, 32, 32)
    assert torch.equal(x, x[:, :, ::8, ::8].repeat_interleave(8, 2).repeat_interleave(8, 3))  # 4×4 upsampled


def test_growth_gallery(tiny_run, tmp_path):
    from genzoo.analysis.grid import grid_layout
    from genzoo.analysis.run import run_analysis

    result = run_analysis(tiny_run, "growth", out_dir=tmp_path, n=3)
    assert [r["resolution"] for r in result["rows"]] == [4, 8, 16]
    assert result["rows"][-1]["stage"] == "latest" and result["rows"][-1]["alpha"] < 1
    assert grid_layout(tmp_path / "growth.png")["rows"] == 3
    assert (tmp_path / "growth.json").exists()


def test_resume_mid_fade_is_exact(tiny_run, tmp_path):
    """Stopped after 5 steps (80 images: 8×8 at α 1/2 trained last, α 3/4 next), resumed to 10: equal to the
    uninterrupted run, EMA included."""
    args = ["--data-dir", str(MINI_FASHION), "--no-progress", "--set", "log_every=5", "--set", "tensorboard=false",
            *TINY]
    assert_resumes_exactly("progan-fashion", args, tiny_run, tmp_path, 10)


def test_summary_command_prints_both_networks():
    r = run_cli("summary", "progan-fashion")
    assert r.exit_code == 0, r.output
    assert "Model: progan (all networks)" in r.output and "489,797" in r.output


@pytest.mark.parametrize("change, message", [
    ({"input_shape": [1, 28, 28]}, r"\[1, 32, 32\]"),
    ({"input_shape": [3, 32, 16]}, "square"),
    ({"channels": [16, 16, 8]}, "one positive width per resolution"),
    ({"fade_images": 0}, "fade_images must be >= 1"),
    ({"num_classes": 10}, "unconditional"),
    ({"data_range": "01"}, "pm1"),
])
def test_bad_config_is_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        build_model({**SMALL, **change})
