"""Autoregressive image models: causality, receptive fields, exact normalisation, samplers, training."""
from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from click.testing import CliRunner

from genzoo.cli import cli
from genzoo.config import ConfigError, DataConfig
from genzoo.metrics.baselines import independent_pixel_bits
from genzoo.models import build_model
from genzoo.nn.causal import CausalConv2d
from genzoo.nn.pixel_heads import LogisticMixtureHead, inverse_cdf

from conftest import MINI_FASHION, train_args

ARCHS = ["pixelcnn", "gated", "row_lstm", "diagonal_bilstm"]
# (arch, output, channels): every network, grey and colour, with both output distributions
VARIANTS = [(a, "softmax", c) for a in ARCHS for c in (1, 3)] + [(a, "logistic_mixture", c) for a in ARCHS
                                                                 for c in (1, 3)]


def tiny(arch: str, output: str = "softmax", channels: int = 1, size: tuple[int, int] = (5, 6), levels: int = 4,
         **extra) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = {"family": "pixelcnn", "arch": arch, "output": output, "input_shape": [channels, *size], "hidden": 12,
           "layers": 2, "levels": levels, "mixture_components": 2, **extra}
    return build_model(cfg).double().eval()


def dependency(model, r: int, c: int, group_channels: list[int]) -> torch.Tensor:
    """Σ over 8 random inputs of |∂ Σ outputs(group_channels at r, c) / ∂ input|, C×H×W (several inputs,
    so a ReLU that happens to be off for one input does not hide a connection)."""
    x = torch.rand(8, *model.config.input_shape, dtype=torch.double, requires_grad=True)
    out = model.net(x)
    (g,) = torch.autograd.grad(out[:, group_channels, r, c].sum(), x)
    return g.abs().sum(0)


def all_dependencies(model, draws: int = 16) -> torch.Tensor:
    """Q×C×H×W dependency maps of every query (pixel r, c; channel group g) in one backward pass: each
    query gets its own ``draws`` batch elements (independent in the network), so ∂(its output)/∂x of
    those elements is exactly its dependency on each input value (summed over several random inputs, so
    a ReLU that happens to be off for one input does not hide a connection)."""
    c_img, h, w = model.config.input_shape
    groups, p = model.head.groups, model.head.channels
    queries = list(itertools.product(range(h), range(w), range(groups)))
    x = torch.rand(len(queries) * draws, c_img, h, w, dtype=torch.double, requires_grad=True)
    out = model.net(x).view(len(queries), draws, groups, p // groups, h, w)
    picked = torch.stack([out[q, :, g, :, r, c].sum() for q, (r, c, g) in enumerate(queries)])
    (grad,) = torch.autograd.grad(picked.sum(), x)
    return grad.abs().view(len(queries), draws, c_img, h, w).sum(1), queries


@pytest.mark.parametrize("arch,output,channels", VARIANTS)
def test_output_never_depends_on_the_current_or_later_pixels(arch, output, channels):
    model = tiny(arch, output, channels)
    _, h, w = model.config.input_shape
    groups = model.head.groups
    deps, queries = all_dependencies(model)
    for dep, (r, c, g) in zip(deps, queries):
        dep = dep.permute(1, 2, 0).reshape(h * w, channels)
        i = r * w + c
        assert dep[i + 1:].sum() == 0, f"({r},{c}) sees a later pixel"
        # the current pixel: the softmax's channel g may see channels < g; a mixture sees none of it
        assert dep[i, g if groups > 1 else 0:].sum() == 0, f"({r},{c}) group {g} sees its own/later channels"
        if c > 0:
            assert dep[i - 1].sum() > 0, "the pixel to the left must be visible"
        if r > 0:
            assert dep[i - w].sum() > 0, "the pixel above must be visible"
            if c + 1 < w:
                assert dep[i - w + 1].sum() > 0, "the pixel above-right must be visible"
        if groups > 1 and g > 0:
            assert dep[i, :g].sum() > 0, "earlier channels of the pixel must be visible"


def test_mask_receptive_fields_match_the_book():
    """Mask A 7×7 sees 24 earlier pixels (21 above, 3 left); mask B 3×3 sees 5 (3 above, 1 left, itself)."""
    for conv, expected in ((CausalConv2d(1, 1, 7, mask="A"), 24), (CausalConv2d(1, 1, 3, mask="B"), 5)):
        torch.nn.init.ones_(conv.weight)
        x = torch.zeros(1, 1, 9, 9, requires_grad=True)
        conv(x)[0, 0, 4, 4].backward()
        seen = (x.grad[0, 0] != 0)
        assert int(seen.sum()) == expected
        k = conv.kernel[0] // 2
        assert int(seen[4 - k:4].sum()) == expected - k - (1 if conv.mask_type == "B" else 0)
    assert CausalConv2d(1, 4, 7, mask="A").rows == 4   # rows below the centre are cropped, not computed


def test_gated_pixelcnn_has_no_blind_spot_and_pixelcnn_does():
    """With a 7×7 first layer and two 3×3 layers, pixel (r−1, c+4) is in the PixelCNN's blind spot
    (van den Oord et al. 2016b, Figure 1) but seen by the Gated PixelCNN's vertical stack."""
    pixelcnn = tiny("pixelcnn", size=(8, 12), layers=2, head_layers=0)
    gated = tiny("gated", size=(8, 12), layers=3)
    r, c = 5, 5
    assert dependency(pixelcnn, r, c, [0])[0, r - 1, c + 4] == 0
    assert dependency(gated, r, c, [0])[0, r - 1, c + 4] > 0
    # the gated stack sees every earlier pixel of its receptive field: all of the rows above within
    # 3 + 2 columns, and the current row to the left
    dep = dependency(gated, r, c, [0])[0]
    assert (dep[r - 3:r, c - 5:c + 6] > 0).all() and (dep[r, c - 5:c] > 0).all()


@pytest.mark.parametrize("layers", [1, 2])
def test_diagonal_bilstm_sees_every_earlier_pixel(layers):
    """The whole available context (van den Oord et al. 2016a, §3.2), including (r−1, W−1), which the
    paper's construction misses (see genzoo.nn.pixelrnn)."""
    model = tiny("diagonal_bilstm", size=(6, 10), layers=layers)
    deps, queries = all_dependencies(model)
    for dep, (r, c, _) in zip(deps, queries):
        assert (dep[0].flatten()[:r * 10 + c] > 0).all(), f"({r},{c}) misses an earlier pixel"


def test_book_pixelcnn_parameter_count():
    from genzoo.runs import config_from_recipe

    model = build_model(config_from_recipe("pixelcnn-fashion16").model)
    assert sum(p.numel() for p in model.parameters()) == 307_460


@pytest.mark.parametrize("arch,output,channels", VARIANTS)
def test_probabilities_of_all_images_sum_to_one(arch, output, channels):
    """Enumerate every image of a tiny binary size: exp(log p) must sum to exactly 1 (normalisation and
    causality together: any leak from a later value would break the sum)."""
    size = (2, 3) if channels == 1 else (1, 2)
    model = tiny(arch, output, channels, size=size, levels=2)
    dims = channels * size[0] * size[1]
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=dims)), dtype=torch.double)
    images = images.view(-1, channels, *size)
    with torch.no_grad():
        total = model.log_prob(images).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("arch,output,channels", VARIANTS)
def test_cached_steps_equal_the_full_forward_pass(arch, output, channels):
    model = tiny(arch, output, channels)
    x = torch.randint(0, 4, (2, *model.config.input_shape)).double() / 3
    with torch.no_grad():
        full = model.net(x)
        state = model.net.init_state(x)
        for r in range(x.shape[2]):
            for c in range(x.shape[3]):
                torch.testing.assert_close(model.net.step(state, r, c), full[:, :, r, c], rtol=0, atol=1e-12)
            model.net.end_row(state, r)


@pytest.mark.parametrize("arch,output,channels", VARIANTS)
def test_cached_sampler_draws_exactly_the_naive_samplers_images(arch, output, channels):
    model = tiny(arch, output, channels)
    draws = {}
    for sampler in ("naive", "cached"):
        g = torch.Generator().manual_seed(3)
        draws[sampler] = model.sample(4, generator=g, sampler=sampler, temperature=0.9)
    assert torch.equal(draws["naive"], draws["cached"])
    assert draws["cached"].shape == (4, *model.config.input_shape)
    levels = draws["cached"] * 3
    assert torch.equal(levels, levels.round()) and draws["cached"].min() >= 0 and draws["cached"].max() <= 1


@pytest.mark.parametrize("arch,output", [(a, o) for a in ARCHS for o in ("softmax", "logistic_mixture")])
def test_completion_keeps_the_given_rows_and_both_samplers_agree(arch, output):
    model = tiny(arch, output, channels=3, num_classes=2)
    given = torch.randint(0, 4, (3, 3, 5, 6)).double() / 3
    labels = torch.eye(2)[[0, 1, 1]]
    for start in (0, 2, 5):
        out = {}
        for sampler in ("naive", "cached"):
            g = torch.Generator().manual_seed(1)
            out[sampler] = model.complete(given, start, generator=g, condition=labels, sampler=sampler)
        assert torch.equal(out["naive"], out["cached"])
        assert torch.equal(out["cached"][:, :, :start], given[:, :, :start].float())
    assert torch.equal(out["cached"], given.float())   # start = H: nothing left to sample


@pytest.mark.parametrize("arch", ARCHS)
def test_samplers_agree_in_float32_with_channels_last(arch):
    """In fp32 the cached steps differ from the full pass by rounding only (~1e-7), so the samplers
    disagree only when a uniform falls within that distance of a CDF step: essentially never here."""
    torch.manual_seed(0)
    model = build_model({"family": "pixelcnn", "arch": arch, "input_shape": [1, 6, 6], "hidden": 16,
                         "layers": 2}).eval().to(memory_format=torch.channels_last)
    draws = [model.sample(8, generator=torch.Generator().manual_seed(2), sampler=s) for s in ("naive", "cached")]
    assert (draws[0] == draws[1]).float().mean() > 0.99


@pytest.mark.parametrize("arch", ARCHS)
def test_class_conditioning_changes_the_distribution_and_samplers_agree(arch):
    model = tiny(arch, num_classes=3)
    for module in model.modules():
        if hasattr(module, "linear") and module.linear.in_features == 3:
            torch.nn.init.normal_(module.linear.weight)
    x = torch.randint(0, 4, (2, 1, 5, 6)).double() / 3
    a = model.log_prob(x, torch.eye(3, dtype=torch.double)[[0, 0]])
    b = model.log_prob(x, torch.eye(3, dtype=torch.double)[[1, 1]])
    assert not torch.allclose(a, b)
    labels = torch.eye(3)[[0, 1, 2]]
    draws = [model.sample(3, generator=torch.Generator().manual_seed(5), condition=labels, sampler=s)
             for s in ("naive", "cached")]
    assert torch.equal(*draws)


def test_inverse_cdf_and_mixture_sampling_follow_their_distributions():
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4]]).expand(40_000, 4)
    counts = torch.bincount(inverse_cdf(probs, torch.rand(40_000)), minlength=4).float() / 40_000
    torch.testing.assert_close(counts, probs[0], atol=0.01, rtol=0)
    head = LogisticMixtureHead(1, levels=5, components=2)
    torch.manual_seed(0)
    out = torch.randn(1, head.channels, 1, 1).double()
    values = torch.arange(5).view(5, 1, 1, 1)
    p = head.log_prob_map(out.expand(5, -1, -1, -1), values).exp().flatten()
    assert p.sum().item() == pytest.approx(1.0, abs=1e-6)
    u = torch.rand(50_000, 2, dtype=torch.double)
    drawn = head.sample_pixel(out[:, :, 0, 0].expand(50_000, -1), [0], u, 1.0)[:, 0]
    freq = torch.bincount(drawn, minlength=5).double() / 50_000
    torch.testing.assert_close(freq, p.double(), atol=0.01, rtol=0)


def test_colour_mixture_is_normalised_on_middle_bins_and_sampled_as_its_likelihood():
    head = LogisticMixtureHead(3, levels=3, components=3)
    torch.manual_seed(1)
    out = torch.randn(1, head.channels, 1, 1).double()
    values = torch.tensor(list(itertools.product(range(3), repeat=3))).view(27, 3, 1, 1)
    p = head.log_prob_map(out.expand(27, -1, -1, -1), values).exp().flatten()
    assert p.sum().item() == pytest.approx(1.0, abs=1e-12)
    u = torch.rand(200_000, 4, dtype=torch.double)
    drawn = head.sample_pixel(out[:, :, 0, 0].expand(200_000, -1), [0, 1, 2], u, 1.0)
    freq = torch.bincount(drawn[:, 0] * 9 + drawn[:, 1] * 3 + drawn[:, 2], minlength=27).double() / 200_000
    torch.testing.assert_close(freq, p, atol=0.005, rtol=0)


def test_model_temperature_sharpens_samples():
    """T → 0 draws each pixel's most likely value given the pixels before it: every draw is the same image."""
    model = tiny("pixelcnn")
    cold = model.sample(6, generator=torch.Generator().manual_seed(0), temperature=1e-4)
    assert (cold == cold[0]).all()
    warm = model.sample(6, generator=torch.Generator().manual_seed(0), temperature=1.0)
    assert not (warm == warm[0]).all()


def test_independent_baseline_beats_uniform_on_structured_data():
    train = torch.zeros(100, 1, 2, 2, dtype=torch.long)
    train[:50, :, 0] = 1   # row 0 is a fair coin, row 1 always 0
    # the coin row costs 1 bit, the constant row (add-one smoothing: p = 101/102) ≈ 0.014 bits
    expected = (1.0 - math.log2(101 / 102)) / 2
    assert independent_pixel_bits(train, train, 2) == pytest.approx(expected, abs=1e-6)
    assert expected < 1.0   # the uniform model's log2(2)


def test_levels_must_match_the_data():
    model = build_model({"family": "pixelcnn", "levels": 4})
    model.check_data(DataConfig(quantize=4))
    with pytest.raises(ConfigError, match="data.quantize=4"):
        model.check_data(DataConfig())
    with pytest.raises(ConfigError, match="binarize"):
        build_model({"family": "pixelcnn", "levels": 2}).check_data(DataConfig(quantize=4))
    with pytest.raises(ConfigError, match="model.arch"):
        build_model({"family": "pixelcnn", "arch": "transformer"})
    with pytest.raises(ConfigError, match="multiple of 6"):
        build_model({"family": "pixelcnn", "input_shape": [3, 8, 8], "hidden": 20})


SMALL = ["--set", "model.hidden=16", "--set", "model.layers=2", "--set", "batch_size=32"]


def test_train_eval_resume_and_sample_end_to_end(tmp_path, trained_runs):
    run = trained_runs.copy(tmp_path / "pixel", "gated-pixelcnn", 12, *SMALL)   # trained here or earlier
    runner = CliRunner()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["bits_per_dim"] < rows[0]["bits_per_dim"] < 2.0 + 0.3
    result = runner.invoke(cli, ["resume", str(run), "--max-steps", "16", "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["eval", str(run), "--metrics", "nll", "--limit", "64"], catch_exceptions=False)
    nll = json.loads((run / "eval.json").read_text())["metrics"]["nll"]
    assert nll["levels"] == 4 and 0 < nll["bits_per_dim"] < 2.0
    assert nll["bits_per_dim"] == pytest.approx(-nll["log_prob_nats"] / (256 * math.log(2)))
    for extra in (["--sampler", "naive", "-n", "4"], ["--temperature", "0.7", "-n", "4"], ["--complete", "-n", "3"]):
        result = runner.invoke(cli, ["sample", str(run), *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    shape = json.loads(result.stdout)["shape"]
    assert shape == [9, 1, 16, 16]   # 3 × (original, given half, completion)


def test_sampling_options_are_refused_for_other_families(trained_runs):
    run = trained_runs.get("vae-digits", 4)
    runner = CliRunner()
    result = runner.invoke(cli, ["sample", str(run), "--temperature", "0.5"])
    assert result.exit_code == 2
    assert "--temperature does not apply to sampling with model family 'vae' (sampling takes no options)" in result.output
    result = runner.invoke(cli, ["sample", str(run), "--trajectory"])
    assert result.exit_code == 2 and "model family 'vae' has no generation trajectories (it offers sampling" in result.output


def test_levels_mismatch_is_reported_before_training(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, train_args("pixelcnn-fashion16", tmp_path / "x", 1, "--set", "data.quantize=8"))
    assert result.exit_code != 0 and "model.levels=4" in result.output
    assert MINI_FASHION.exists()
