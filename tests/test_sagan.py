"""SAGAN and BigGAN's ideas (Zhang et al. 2019; Brock et al. 2019; Foster 1st ed. §9): self-attention weights and
its identity start, spectral norm's σ ≈ 1, the hinge loss and orthogonal regularisation against closed forms and
brute force, truncated z, hierarchical z reaching every block, exact resume, the attention-maps and truncation
analyses, and the errors for bad configs."""
from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner

from conftest import MINI_FASHION, assert_resumes_exactly, train_args
from genzoo.cli import cli
from genzoo.config import ConfigError, load_recipe
from genzoo.models import build_model
from genzoo.models.biggan import truncated_normal
from genzoo.models.capabilities import AttendsPixels, Truncates, supports
from genzoo.models.sagan import hinge_discriminator_loss, hinge_generator_loss, orthogonal_regularisation
from genzoo.nn.resblocks import spectral_norm
from genzoo.nn.self_attention import SelfAttention2d

# CPU-tiny widths for the trained runs (the recipes' widths take ~1 s a step here)
TINY = ("--set", "model.g_channels=[32,32,16,16]", "--set", "model.d_channels=[16,16,16,16]",
        "--set", "batch_size=16", "--set", "sample_n=8")
TINY_BIGGAN = (*TINY, "--set", "model.z_dim=24", "--set", "model.shared_dim=8")


def model_of(recipe: str, **changes):
    cfg = {**load_recipe(recipe)["model"], **changes}
    torch.manual_seed(0)
    return build_model(cfg)


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_attention_weights_sum_to_one_and_gamma_zero_is_the_identity():
    torch.manual_seed(0)
    for pool in (False, True):
        layer = SelfAttention2d(16, pool_keys=pool)
        x = torch.randn(3, 16, 8, 8)
        beta, values = layer.attention(x)
        keys = 16 if pool else 64
        assert beta.shape == (3, 64, keys) and values.shape == (3, keys, 8)
        assert torch.allclose(beta.sum(-1), torch.ones(3, 64), atol=1e-6) and (beta >= 0).all()
        assert torch.equal(layer(x), x)                          # γ = 0 at initialisation
        with torch.no_grad():
            layer.gamma.fill_(0.5)
        # brute force: o_j = v(Σ_i β_ji h(x_i)) for one query position j
        y = layer(x)
        h = layer.h(x)
        h = torch.nn.functional.max_pool2d(h, 2) if pool else h
        o = (beta[0, 10][:, None] * h[0].flatten(1).t()).sum(0)
        want = x[0, :, 1, 2] + 0.5 * (layer.v.weight[:, :, 0, 0] @ o)
        assert torch.allclose(y[0, :, 1, 2], want, atol=1e-5)


def test_spectral_norm_brings_the_largest_singular_value_to_one():
    torch.manual_seed(0)
    conv = spectral_norm(torch.nn.Conv2d(8, 16, 3))
    with torch.no_grad():
        conv.parametrizations.weight.original.mul_(7.0)
        for _ in range(30):                                      # one power iteration per training forward
            conv(torch.randn(1, 8, 5, 5))
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=1e-3)
    assert {"_u", "_v"} <= {k.split(".")[-1] for k in conv.state_dict()}   # checkpointed buffers
    model = model_of("sagan-fashion")
    normalised = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding))]
    assert normalised and all(hasattr(m, "parametrizations") for m in normalised)   # every G and D layer


def test_hinge_losses_on_known_logits():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 1.0])
    loss_real, loss_fake = hinge_discriminator_loss(real, fake)
    assert loss_real.item() == pytest.approx((0 + 0.5 + 2.0) / 3)          # relu(1 − D(x))
    assert loss_fake.item() == pytest.approx((0 + 1.0 + 2.0) / 3)          # relu(1 + D(G(z)))
    assert hinge_generator_loss(fake).item() == pytest.approx(2.0 / 3)     # −E[D(G(z))]


def test_orthogonal_regularisation_equals_brute_force():
    torch.manual_seed(0)
    ws = [torch.randn(4, 3, 3, 3), torch.randn(5, 7)]
    brute = 0.0
    for w in ws:
        m = w.flatten(1)
        for i in range(m.shape[0]):
            for j in range(m.shape[0]):
                if i != j:
                    brute += float(m[i] @ m[j]) ** 2
    assert orthogonal_regularisation(ws).item() == pytest.approx(brute, rel=1e-5)
    q = torch.linalg.qr(torch.randn(6, 6))[0] * 3.0                       # orthogonal rows of any norm: 0
    assert orthogonal_regularisation([q]).item() == pytest.approx(0.0, abs=1e-3)
    model = model_of("biggan-fashion")
    pulled = {id(p) for p in model.ortho_weights()}
    assert id(model.generator.shared.weight) not in pulled
    assert id(model.generator.blocks[0].conv1.parametrizations.weight.original) in pulled


@pytest.mark.parametrize("threshold", [2.0, 0.5, 0.04])
def test_truncated_z_is_a_normal_restricted_to_the_threshold(threshold):
    z = truncated_normal((4000, 25), threshold, torch.Generator().manual_seed(0))
    assert z.shape == (4000, 25) and z.abs().max() < threshold
    phi = math.exp(-threshold ** 2 / 2) / math.sqrt(2 * math.pi)
    var = 1 - 2 * threshold * phi / math.erf(threshold / math.sqrt(2))    # variance of N(0, 1) on (−t, t)
    assert abs(z.mean().item()) < 0.01 * threshold
    assert z.var().item() == pytest.approx(var, rel=0.03)
    again = truncated_normal((4000, 25), threshold, torch.Generator().manual_seed(0))
    assert torch.equal(z, again)
    plain = torch.randn(4000, 25, generator=torch.Generator().manual_seed(0))
    inside = plain.abs() < threshold                                        # values inside are kept, not redrawn
    assert torch.equal(z[inside], plain[inside])
    with pytest.raises(ConfigError, match="> 0"):
        truncated_normal((2,), 0.0)


def test_hierarchical_z_reaches_every_block_with_the_class_embedding():
    model = model_of("biggan-fashion").eval()
    g = model.generator
    seen = {}
    g.dense.register_forward_pre_hook(lambda m, args: seen.__setitem__("dense", args[0]))
    for i, block in enumerate(g.blocks):
        block.bn1.register_forward_pre_hook(lambda m, args, i=i: seen.__setitem__(i, args[1]))
    z = torch.randn(5, 120)
    labels = torch.tensor([0, 3, 3, 9, 1])
    with torch.no_grad():
        x = g(z, labels)
    assert x.shape == (5, 1, 32, 32)
    chunks = z.split(30, 1)
    assert torch.equal(seen["dense"], chunks[0])
    for i in range(3):
        assert torch.equal(seen[i][:, 32:], chunks[i + 1])                  # block i gets chunk i + 1 ...
        assert torch.equal(seen[i][:, :32], g.shared(labels))               # ... after the shared embedding
    # each chunk changes the image, and so does the class
    for i in range(4):
        z2 = z.clone()
        z2[:, 30 * i:30 * (i + 1)] += 1.0
        with torch.no_grad():
            assert (g(z2, labels) - x).abs().max() > 1e-4
    with torch.no_grad():
        assert (g(z, labels.flip(0)) - x).abs().max() > 1e-4
    # the plumbing's one-hot condition becomes the index
    onehot = torch.nn.functional.one_hot(labels, 10).float()
    assert torch.equal(model.labels_of(onehot), labels)


def test_capabilities_and_options():
    sagan, biggan = model_of("sagan-fashion"), model_of("biggan-fashion")
    assert supports(sagan, AttendsPixels) and supports(biggan, AttendsPixels)
    assert supports(biggan, Truncates) and not supports(sagan, Truncates)
    assert biggan.truncation_kind == "threshold" and biggan.truncation_values == (2.0, 1.0, 0.5, 0.04)
    assert not supports(model_of("sagan-fashion", g_attention=[]), AttendsPixels)
    g = torch.Generator()
    tight = biggan.eval().sample(4, generator=g.manual_seed(1), truncation=0.04)
    loose = biggan.sample(4, generator=g.manual_seed(1))
    assert tight.shape == loose.shape == (4, 1, 32, 32) and 0 <= tight.min() and tight.max() <= 1
    with pytest.raises(ConfigError, match="must be > 0"):
        biggan.check_options({"truncation": -1.0})


@pytest.mark.parametrize("recipe, changes, match", [
    ("sagan-fashion", {"g_channels": [64, 32, 16]}, "makes 16×16 images"),
    ("sagan-fashion", {"g_attention": [4]}, "no block outputs"),
    ("sagan-fashion", {"d_attention": [32]}, "no block outputs"),
    ("sagan-fashion", {"d_channels": [30, 64, 64, 64]}, "divisible by 8"),
    ("sagan-fashion", {"d_downsample": [True]}, "one true/false per down-block"),
    ("sagan-fashion", {"data_range": "01"}, "data_range=pm1"),
    ("sagan-fashion", {"num_classes": 10}, "shared_dim"),
    ("sagan-fashion", {"init": "he"}, "model.init"),
    ("biggan-fashion", {"num_classes": 0}, "class-conditional"),
    ("biggan-fashion", {"z_dim": 121}, "not divisible by 4"),
    ("biggan-fashion", {"ortho_reg": -1.0}, "ortho_reg"),
])
def test_bad_configs_name_the_cause(recipe, changes, match):
    with pytest.raises(ConfigError, match=match):
        model_of(recipe, **changes)


def test_recipes_parameter_counts():
    from genzoo.nn.summary import count_params

    for recipe, d, g in (("sagan-fashion", 216_226, 731_202), ("biggan-fashion", 216_866, 597_186),
                         ("sagan-emoji32", 216_866, 731_780), ("biggan-emoji32", 217_506, 597_764)):
        model = model_of(recipe)
        assert count_params(model.discriminator)[0] == d and count_params(model.generator)[0] == g


def test_sagan_trains_and_draws_its_attention_maps(tmp_path, trained_runs):
    run = trained_runs.get("sagan-fashion", 6, *TINY)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(rows[-1][k]) for k in ("d_loss", "g_loss", "d_loss_real", "d_loss_fake"))
    r = run_cli("analyze", str(run), "attention-maps", "-n", "2", "--out", str(tmp_path / "a"))
    assert r.exit_code == 0, r.output
    out = json.loads((tmp_path / "a" / "attention-maps.json").read_text())
    assert (tmp_path / "a" / "attention-maps.png").stat().st_size > 0
    assert out["query_grid"] == [16, 16] and len(out["queries"]) == 5
    assert all(0 < q["share_in_3x3"] <= 1 and q["entropy_nats"] <= q["uniform_entropy_nats"] + 1e-4
               for q in out["queries"])
    r = run_cli("analyze", str(run), "truncation", "--out", str(tmp_path / "t"))
    assert r.exit_code != 0 and "truncation trick" in r.output


def test_biggan_resumes_exactly(tmp_path):
    """Both networks, spectral norm's u/v, the batch-norm statistics, both Adam states and the EMA continue exactly."""
    args = ["--data-dir", str(MINI_FASHION), "--no-progress", "--set", "log_every=2", "--set", "tensorboard=false",
            *TINY_BIGGAN]
    ref = tmp_path / "ref"
    assert run_cli("train", "biggan-fashion", "--max-steps", "4", "--out", str(ref), *args).exit_code == 0
    assert_resumes_exactly("biggan-fashion", args, ref, tmp_path, 4)


def test_biggan_truncation_analyses_and_sampling(tmp_path, trained_runs):
    run = trained_runs.get("biggan-fashion", 6, *TINY_BIGGAN)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["g_ortho"] > 0 and math.isfinite(rows[-1]["g_loss"])
    r = run_cli("analyze", str(run), "truncation", "-n", "3", "--out", str(tmp_path / "t"))
    assert r.exit_code == 0, r.output
    grid = json.loads((tmp_path / "t" / "truncation.json").read_text())
    assert grid["kind"] == "threshold" and grid["values"] == [2.0, 1.0, 0.5, 0.04]
    assert grid["pixel_std_across_draws"][-1] < grid["pixel_std_across_draws"][0]   # tighter z, less spread
    r = run_cli("analyze", str(run), "truncation-curve", "-n", "10", "--out", str(tmp_path / "c"))
    assert r.exit_code == 0, r.output
    curve = json.loads((tmp_path / "c" / "truncation-curve.json").read_text())
    assert [p["truncation"] for p in curve["points"]] == [2.0, 1.0, 0.5, 0.04]
    assert all(math.isfinite(p["fid"]) for p in curve["points"])
    r = run_cli("sample", str(run), "-n", "4", "--label", "2", "--truncation", "0.5", "--out", str(tmp_path / "s.png"))
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["sample", str(run), "-n", "4", "--truncation", "0", "--out", str(tmp_path / "b.png")])
    assert r.exit_code != 0 and "must be > 0" in r.output
    r = run_cli("analyze", str(run), "attention-maps", "-n", "2", "--out", str(tmp_path / "a"))
    assert r.exit_code == 0, r.output
