"""StyleGAN and StyleGAN2 (Karras et al. 2019, 2020): the style blocks against their formulas, mixing, truncation,
lazy regularisation, exact resume and the style analyses, on small networks and the Fashion-MNIST mini fixture."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from genzoo.config import ConfigError
from genzoo.data.loader import Batch
from genzoo.models import stylegan as sg
from genzoo.models.base import build_model
from genzoo.models.capabilities import MixesStyles, Truncates, supports
from genzoo.nn.style import AdaIN, ModulatedConv2d, NoiseInjection, adain, crossover_points, mix_styles
from genzoo.run_context import RunContext

from conftest import MINI_FASHION, assert_resumes_exactly

RECIPES = Path(__file__).parent.parent / "genzoo" / "recipes"
SMALL = ["--set", "model.g_channels=[32,32,16,16]", "--set", "model.d_channels=[32,32,16,16]",
         "--set", "model.z_dim=32", "--set", "model.w_dim=32", "--set", "batch_size=8", "--set", "sample_n=8",
         "--set", "model.r1_interval=3", "--set", "model.pl_interval=2"]
STEPS = 8


def small(family: str, **extra) -> sg._StyleBased:
    cfg = {"family": family, "input_shape": [1, 16, 16], "g_channels": [16, 16, 8], "d_channels": [16, 16, 8],
           "z_dim": 8, "w_dim": 8, "mapping_layers": 2, **extra}
    return build_model(cfg)


@pytest.fixture(scope="module")
def sg2_run(trained_runs) -> Path:
    return trained_runs.get("stylegan2-fashion", STEPS, *SMALL)


# ------------------------------------------------------------------------------------------------------------
# Blocks


def test_adain_normalises_each_channel_then_applies_the_style():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 8, 8) * 5 + 2
    scale, shift = torch.rand(3, 4) + 0.5, torch.randn(3, 4)
    y = adain(x, scale, shift)
    assert torch.allclose(y.mean(dim=(2, 3)), shift, atol=1e-5)
    assert torch.allclose(y.std(dim=(2, 3), unbiased=False), scale, atol=1e-4)
    layer = AdaIN(4, 6)                         # "A": the scale's bias starts at 1, the shift's at 0
    assert torch.allclose(layer(x, torch.zeros(3, 6)), adain(x, torch.ones(3, 4), torch.zeros(3, 4)))


def test_demodulation_gives_unit_variance_outputs_for_unit_inputs():
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 32, 3, w_dim=16)
    x, w = torch.randn(8, 64, 40, 40), torch.randn(8, 16) * 3
    out = conv(x, w)[:, :, 1:-1, 1:-1]                                      # the interior: no zero padding
    var = out.var(dim=(2, 3))                                               # per sample and output channel
    assert abs(var.mean() - 1) < 0.02 and (var - 1).abs().mean() < 0.05
    # the activation-scaling path equals the paper's per-sample modulated and demodulated weights (eq. 1-3)
    s = conv.affine(w)
    weight = conv.weight * conv.scale * s[:, None, :, None, None]          # [N, O, I, k, k]
    weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    brute = F.conv2d(x.reshape(1, -1, 40, 40), weight.reshape(-1, 64, 3, 3), padding=1, groups=8).view(8, 32, 40, 40)
    assert torch.allclose(conv(x, w), brute, atol=1e-4)
    plain = ModulatedConv2d(64, 32, 3, w_dim=16, demodulate=False)
    assert (plain(x, w)[:, :, 1:-1, 1:-1].var(dim=(2, 3)) - 1).abs().max() > 0.2   # without it, the style scales


@pytest.mark.parametrize("family", ["stylegan", "stylegan2"])
def test_noise_scales_start_at_zero(family):
    model = small(family).eval()
    layers = [m for m in model.modules() if isinstance(m, NoiseInjection)]
    assert len(layers) == len(model.generator.synthesis.noise_resolutions)
    assert all(torch.equal(m.weight, torch.zeros_like(m.weight)) for m in layers)
    ws = model.broadcast(model.mapping(torch.randn(2, 8)))
    a = model.synthesize(ws, noise=model.noise_inputs(2))
    assert torch.equal(a, model.synthesize(ws, noise=model.noise_inputs(2)))        # noise has no effect yet
    for m in layers:
        m.weight.data.fill_(0.5)
    assert not torch.equal(a, model.synthesize(ws, noise=model.noise_inputs(2)))


def test_style_mixing_takes_the_second_latent_exactly_from_the_crossover_layer():
    torch.manual_seed(0)
    w1, w2 = torch.randn(5, 3), torch.randn(5, 3)
    cut = torch.tensor([1, 2, 4, 6, 3])
    ws = mix_styles(w1, w2, cut, 6)
    for i in range(5):
        assert torch.equal(ws[i, :cut[i]], w1[i].expand(int(cut[i]), 3))
        assert torch.equal(ws[i, cut[i]:], w2[i].expand(6 - int(cut[i]), 3))
    always = crossover_points(2000, 6, 1.0)
    assert always.min() == 1 and always.max() == 5                          # a real crossover every time
    assert torch.equal(crossover_points(50, 6, 0.0), torch.full((50,), 6))   # no mixing
    share = (crossover_points(4000, 6, 0.9) < 6).float().mean()
    assert abs(share - 0.9) < 0.03


def test_training_fakes_mix_per_sample_and_track_w_avg():
    model = small("stylegan2", style_mixing=1.0).train()
    torch.manual_seed(1)
    _, ws = model._fake(6, torch.device("cpu"))
    first, last = ws[:, 0], ws[:, -1]
    assert not torch.equal(first, last)                                     # mixed: two latents per sample
    assert model.num_styles == 6 and model.style_resolutions == (4, 8, 8, 16, 16, 16)
    assert small("stylegan").style_resolutions == (4, 4, 8, 8, 16, 16)
    assert model.generator.w_avg.abs().sum() > 0
    before = model.generator.w_avg.clone()
    model.eval()
    model.sample(3)
    assert torch.equal(model.generator.w_avg, before)                       # sampling does not move w̄


@pytest.mark.parametrize("family", ["stylegan", "stylegan2"])
def test_lazy_regularisation_runs_only_every_k_steps(family, monkeypatch):
    calls = {"r1": 0, "pl": 0}
    r1, pl = sg.r1_penalty, sg.path_lengths

    def count(name, fn):
        def wrapped(*a):
            calls[name] += 1
            return fn(*a)
        return wrapped

    monkeypatch.setattr(sg, "r1_penalty", count("r1", r1))
    monkeypatch.setattr(sg, "path_lengths", count("pl", pl))
    model = small(family, r1_interval=4, pl_weight=1.0, pl_interval=3).train()
    r1_values = []
    for _ in range(10):
        batch = Batch(x=torch.randn(4, 1, 16, 16))
        fakes = model.fakes(batch)
        d = model.discriminator_loss(batch, fakes)
        model.generator_loss(batch, fakes)
        r1_values.append(d["r1"])
    assert calls == {"r1": 3, "pl": 4}                                       # steps 0, 4, 8 and 0, 3, 6, 9
    assert int(model.r1_steps.count) == 10 and int(model.pl_steps.count) == 10
    assert torch.equal(r1_values[1], r1_values[3]) and not torch.equal(r1_values[3], r1_values[4])


# ------------------------------------------------------------------------------------------------------------
# Config


def test_bad_configs_name_the_fix():
    with pytest.raises(ConfigError, match=r"powers of two.*input_shape=\[1,32,32\]"):
        build_model({"family": "stylegan2", "input_shape": [1, 28, 28]})
    with pytest.raises(ConfigError, match=r"g_channels needs one .* 4, 8, 16, 32 \(4 entries\)"):
        build_model({"family": "stylegan", "g_channels": [64, 32]})
    with pytest.raises(ConfigError, match="style_mixing is a probability"):
        build_model({"family": "stylegan", "style_mixing": 1.5})
    with pytest.raises(ConfigError, match="unconditional"):
        build_model({"family": "stylegan2", "num_classes": 10})
    with pytest.raises(ConfigError, match="truncation_cutoff"):
        build_model({"family": "stylegan2", "truncation_cutoff": 9})
    with pytest.raises(ConfigError, match="r1_interval"):
        build_model({"family": "stylegan2", "r1_interval": 0})
    with pytest.raises(ConfigError, match="finite"):
        small("stylegan").check_options({"truncation": float("nan")})


@pytest.mark.parametrize("recipe", ["stylegan-emoji32", "stylegan2-emoji32", "stylegan-fashion", "stylegan2-fashion"])
def test_recipe_headers_state_the_parameter_counts(recipe):
    import yaml

    text = (RECIPES / f"{recipe}.yaml").read_text()
    model = build_model(yaml.safe_load(text)["model"])
    g, m = model.generator, model.generator.mapping
    counts = [int(s.replace(",", "")) for s in
              re.search(r"generator ([\d,]+) \(mapping ([\d,]+), synthesis ([\d,]+)\), discriminator ([\d,]+)",
                        text).groups()]
    n = lambda mod: sum(p.numel() for p in mod.parameters())   # noqa: E731
    assert counts == [n(g), n(m), n(g) - n(m), n(model.discriminator)]
    assert m.layers[0].lr_multiplier == 0.01 and len(m.layers) == 8


# ------------------------------------------------------------------------------------------------------------
# Trained runs: capabilities, truncation, EMA + w̄, resume, analyses


def test_trained_run_truncates_around_the_tracked_w_avg(sg2_run):
    model = RunContext(sg2_run).model                       # the EMA generator copy
    raw = RunContext(sg2_run, use_ema=False).model
    assert supports(model, Truncates) and supports(model, MixesStyles)
    w_avg = model.generator.w_avg
    assert w_avg.abs().sum() > 0 and torch.equal(w_avg, raw.generator.w_avg)    # the EMA copy carries w̄
    with torch.no_grad():
        z = torch.randn(5, model.config.z_dim)
        noise = [m.expand(5, -1, -1, -1) for m in model.noise_inputs(1)]
        at_zero = model.synthesize(model.truncate(model.broadcast(model.mapping(z)), 0.0), noise=noise)
        mean_image = model.synthesize(model.broadcast(w_avg[None].expand(5, -1)), noise=noise)
        assert torch.equal(at_zero, mean_image)                                  # ψ = 0: the w̄ image for every z
        one = model.sample(6, generator=torch.Generator().manual_seed(3), truncation=1.0)
        untruncated = model.sample(6, generator=torch.Generator().manual_seed(3))
        assert torch.equal(one, untruncated)
        half = model.sample(6, generator=torch.Generator().manual_seed(3), truncation=0.5)
        assert half.flatten(1).std(0).mean() < untruncated.flatten(1).std(0).mean()


def test_trained_run_logs_finite_losses_and_regularisers(sg2_run):
    import json

    rows = [json.loads(line) for line in (sg2_run / "metrics.jsonl").read_text().splitlines()]
    last = rows[-1]
    for key in ("d_loss", "g_loss", "d_r1", "g_pl", "g_pl_mean", "d_loss_real", "d_loss_fake"):
        assert key in last and last[key] == last[key] and abs(last[key]) < 1e4
    assert last["d_r1"] > 0 and last["g_pl_mean"] > 0


def test_resume_is_exact_with_lazy_counters_and_w_avg(sg2_run, tmp_path):
    args = ["--data-dir", str(MINI_FASHION), "--no-progress", "--set", "log_every=5", "--set", "tensorboard=false",
            *SMALL]
    assert_resumes_exactly("stylegan2-fashion", args, sg2_run, tmp_path, STEPS)
    state = RunContext(sg2_run, use_ema=False).model.state_dict()
    assert int(state["r1_steps.count"]) == STEPS and int(state["pl_steps.count"]) == STEPS
    assert "generator.w_avg" in state and float(state["pl_mean"]) > 0


def test_stylegan_trains_and_resumes_exactly(trained_runs, tmp_path):
    extra = [*SMALL, "--set", "model.r1_interval=1"]
    reference = trained_runs.get("stylegan-fashion", 4, *extra)
    args = ["--data-dir", str(MINI_FASHION), "--no-progress", "--set", "log_every=5", "--set", "tensorboard=false",
            *extra]
    assert_resumes_exactly("stylegan-fashion", args, reference, tmp_path, 4)
    assert (reference / "samples" / "final.png").exists()


def test_style_analyses_write_their_figures(sg2_run, tmp_path):
    from genzoo.analysis.grid import grid_layout
    from genzoo.analysis.run import run_analysis

    out = tmp_path / "ana"
    mixing = run_analysis(sg2_run, "style-mixing", out_dir=out, n=3)
    assert set(mixing["groups"]) == {"coarse", "middle", "fine"}
    assert mixing["groups"]["coarse"]["styles"] == [0, 1, 2] and mixing["groups"]["fine"]["styles"] == [5, 6, 7]
    layout = grid_layout(out / "style-mixing.png")
    assert (layout["rows"], layout["cols"]) == (1 + 3 * 2, 4)
    noise = run_analysis(sg2_run, "noise-effect", out_dir=out, n=2)
    assert grid_layout(out / "noise-effect.png")["cols"] == 6 and noise["mean_pixel_std"] > 0
    interp = run_analysis(sg2_run, "style-interpolation", out_dir=out, n=2)
    assert grid_layout(out / "style-interpolation.png")["rows"] == 4
    assert interp["z"]["pixel_path_length"] > 0 and interp["w"]["pixel_path_length"] > 0
    trunc = run_analysis(sg2_run, "truncation", out_dir=out, n=3)
    assert trunc["values"] == [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    spread = trunc["pixel_std_across_draws"]
    assert spread[-1] < spread[0]                    # ψ = 0: every draw is w̄'s image up to its noise
    curve = run_analysis(sg2_run, "truncation-curve", out_dir=out, n=10)
    assert [p["truncation"] for p in curve["points"]] == [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    for name in ("style-mixing", "noise-effect", "style-interpolation", "truncation", "truncation-curve"):
        assert (out / f"{name}.png").exists() and (out / f"{name}.json").exists()


def test_summary_and_sample_cli(sg2_run, tmp_path):
    from click.testing import CliRunner

    from genzoo.cli import cli

    r = CliRunner().invoke(cli, ["summary", "stylegan2-emoji32"])
    assert r.exit_code == 0, r.output
    assert "Model: stylegan2 (all networks)" in r.output and "1,086,445" in r.output
    r = CliRunner().invoke(cli, ["sample", str(sg2_run), "-n", "4", "--truncation", "0.7", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output

