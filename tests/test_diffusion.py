"""Diffusion models: schedules against hand-computed values, samplers against closed forms and oracle
denoisers, the U-Net, classifier-free guidance, the variational bound, latent diffusion and the CLI."""
from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from click.testing import CliRunner

from genzoo.cli import cli
from genzoo.config import ConfigError
from genzoo.models import build_model
from genzoo.models.diffusion import discretized_gaussian_log_likelihood
from genzoo.nn.unet import MLPDenoiser, UNet, sinusoidal_embedding
from genzoo.schedulers import (Inpainting, NoiseSchedule, SamplerSettings, reverse_step, sample_loop,
                               split_prediction, timesteps, training_target)
from genzoo.training.ema import EMA

from conftest import train_args


# -- schedules ----------------------------------------------------------------------------------------
def test_linear_schedule_matches_ddpm():
    s = NoiseSchedule.make("linear", 1000)
    assert s.steps == 1000 and s.betas[0] == 0 and s.alpha_bar[0] == 1
    assert float(s.betas[1]) == pytest.approx(1e-4) and float(s.betas[1000]) == pytest.approx(0.02)
    assert float(s.betas[501] - s.betas[500]) == pytest.approx((0.02 - 1e-4) / 999)
    # ᾱ_t = ∏ (1 − β_i), by hand for t = 3
    b = [1e-4 + i * (0.02 - 1e-4) / 999 for i in range(3)]
    assert float(s.alpha_bar[3]) == pytest.approx((1 - b[0]) * (1 - b[1]) * (1 - b[2]), rel=1e-12)
    # another T: end points scaled by 1000/T (improved DDPM), so T = 500 spans 2e-4 … 0.04
    s500 = NoiseSchedule.make("linear", 500)
    assert float(s500.betas[1]) == pytest.approx(2e-4) and float(s500.betas[500]) == pytest.approx(0.04)


def test_cosine_schedule_matches_hand_computed_values():
    T, s = 4000, 0.008
    sch = NoiseSchedule.make("cosine", T)

    def f(t):
        return math.cos(((t / T) + s) / (1 + s) * math.pi / 2) ** 2

    for t in (1, 10, 1000, 2000, 3000):
        assert float(sch.alpha_bar[t]) == pytest.approx(f(t) / f(0), rel=1e-9)
    assert float(sch.betas[1]) == pytest.approx(1 - f(1) / f(0), rel=1e-9)
    assert float(sch.betas[T]) == pytest.approx(0.999)          # clipped: f(T) = 0
    assert float(sch.betas.max()) <= 0.999
    assert float(sch.alpha_bar[T]) < 1e-6
    assert bool((sch.alpha_bar[1:] < sch.alpha_bar[:-1]).all())   # strictly noisier every step


def test_q_sample_is_the_closed_form_and_has_its_moments():
    sch = NoiseSchedule.make("cosine", 100)
    x0 = torch.full((20000, 1, 1, 1), 0.6)
    t = torch.full((20000,), 40)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    xt = sch.q_sample(x0, t, eps)
    ab = float(sch.alpha_bar[40])
    assert torch.allclose(xt, math.sqrt(ab) * 0.6 + math.sqrt(1 - ab) * eps, atol=1e-6)
    assert xt.mean().item() == pytest.approx(math.sqrt(ab) * 0.6, abs=0.02)
    assert xt.var().item() == pytest.approx(1 - ab, rel=0.05)


def test_schedule_errors():
    with pytest.raises(ConfigError, match="unknown noise schedule"):
        NoiseSchedule.make("sigmoid", 10)
    with pytest.raises(ConfigError, match="β_t >= 1"):
        NoiseSchedule.make("linear", 10)   # 0.02 · 1000/10 = 2


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
def test_predictions_convert_exactly(kind):
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    ab = torch.tensor([0.9, 0.5, 0.1, 0.01])[:, None]
    a, s = ab.sqrt(), (1 - ab).sqrt()
    xt = a * x0 + s * eps
    x0_hat, eps_hat = split_prediction(kind, training_target(kind, x0, eps, a, s), xt, a, s)
    assert torch.allclose(x0_hat, x0, atol=1e-5) and torch.allclose(eps_hat, eps, atol=1e-5)


# -- samplers -----------------------------------------------------------------------------------------
def test_timesteps():
    assert timesteps(10, None) == list(range(10, 0, -1))
    ts = timesteps(1000, 50)
    assert len(ts) == 50 and ts[0] == 1000 and ts[-1] == 1 and ts == sorted(set(ts), reverse=True)
    assert timesteps(1000, 1) == [1000]
    with pytest.raises(ConfigError, match=r"\[1, 1000\]"):
        timesteps(1000, 1001)


def test_ddpm_step_is_equation_17_8():
    """x_{t−1} = 1/√α_t (x_t − β_t/√(1−ᾱ_t) ε) + √β_t z, with or without the (inactive) x̂_0 clip."""
    sch = NoiseSchedule.make("linear", 1000)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 1, 4, 4, generator=g) * 1.6 - 0.8
    eps, z = torch.randn(x0.shape, generator=g), torch.randn(x0.shape, generator=g)
    t = 300
    ab = sch.alpha_bar[t].item()
    xt = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps
    alpha, beta = sch.alphas[t].item(), sch.betas[t].item()
    expected = (xt - beta / math.sqrt(1 - ab) * eps) / math.sqrt(alpha) + math.sqrt(beta) * z
    for clip in (False, True):
        got = reverse_step(SamplerSettings("ddpm", clip=clip), sch, xt, t, t - 1, x0, eps, z)
        assert torch.allclose(got, expected, atol=1e-5)


def test_ddim_sigma_at_eta_1_is_the_posterior_std():
    sch = NoiseSchedule.make("cosine", 200)
    x0, eps, z = torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1)
    t, s = 120, 80
    ab_t, ab_s = sch.alpha_bar[t].item(), sch.alpha_bar[s].item()
    ddim = reverse_step(SamplerSettings("ddim", eta=1.0, clip=False), sch, torch.zeros(1, 1), t, s, x0, eps, z)
    small = reverse_step(SamplerSettings("ddpm", variance="small", clip=False), sch, torch.zeros(1, 1), t, s, x0, eps, z)
    beta = 1 - ab_t / ab_s
    assert ddim.item() == pytest.approx(math.sqrt(beta * (1 - ab_s) / (1 - ab_t)), rel=1e-6)
    assert small.item() == pytest.approx(ddim.item(), rel=1e-6)


def _gaussian_oracle(sch: NoiseSchedule, mu: float, std: float):
    """The exact E[x_0 | x_t] for data x_0 ~ N(mu, std²): the best possible denoiser."""
    def denoise(xt, t):
        ab = sch.at("alpha_bar", t, xt)
        gain = ab.sqrt() * std ** 2 / (ab * std ** 2 + 1 - ab)
        x0 = mu + gain * (xt - ab.sqrt() * mu)
        return x0, (xt - ab.sqrt() * x0) / (1 - ab).sqrt()
    return denoise


def _oracle_std(settings: SamplerSettings, steps_T: int = 200) -> float:
    sch = NoiseSchedule.make("linear", steps_T)
    g = torch.Generator().manual_seed(0)
    x, _ = sample_loop(_gaussian_oracle(sch, 0.3, 0.2), sch, torch.randn(20000, 1, generator=g), settings, generator=g)
    assert x.mean().item() == pytest.approx(0.3, abs=0.01)
    return x.std().item()


@pytest.mark.parametrize("settings", [SamplerSettings("ddpm", clip=False), SamplerSettings("ddim", clip=False)],
                         ids=["ddpm", "ddim"])
def test_full_chains_recover_the_data_distribution_with_an_oracle_denoiser(settings):
    """Data x_0 ~ N(0.3, 0.2²) and the exact E[x_0|x_t]: all T steps reproduce the data's mean and spread."""
    assert _oracle_std(settings) == pytest.approx(0.2, rel=0.05)


def test_ddim_with_eta_1_is_ddpm_with_the_posterior_variance():
    sch = NoiseSchedule.make("cosine", 60)
    oracle = _gaussian_oracle(sch, 0.1, 0.4)
    x_T = torch.randn(500, 1, generator=torch.Generator().manual_seed(3))
    runs = [sample_loop(oracle, sch, x_T, st, generator=torch.Generator().manual_seed(4))[0]
            for st in (SamplerSettings("ddim", steps=15, eta=1.0, clip=False),
                       SamplerSettings("ddpm", steps=15, variance="small", clip=False))]
    assert torch.allclose(runs[0], runs[1], atol=1e-4)


def test_shorter_chains_err_the_expected_way():
    """DDIM's first-order steps lose spread as the steps get fewer (and converge as they grow); a respaced
    DDPM chain brackets the truth between its two variance choices (β too wide, β̃ too narrow)."""
    ddim = [_oracle_std(SamplerSettings("ddim", steps=n, clip=False)) for n in (10, 50, None)]
    assert ddim[0] < ddim[1] < ddim[2] and ddim[2] == pytest.approx(0.2, rel=0.05)
    small = _oracle_std(SamplerSettings("ddpm", steps=50, variance="small", clip=False))
    large = _oracle_std(SamplerSettings("ddpm", steps=50, variance="large", clip=False))
    assert small < 0.2 < large


def _noisy_oracle(sch: NoiseSchedule, kind: str, mu: float, std: float, error: float):
    """The exact denoiser's output in ``kind`` form plus a small random error, as a trained network would have."""
    exact = _gaussian_oracle(sch, mu, std)
    g = torch.Generator().manual_seed(5)

    def denoise(xt, t):
        x0, eps = exact(xt, t)
        a, s = sch.scales(t, xt)
        out = {"eps": eps, "x0": x0, "v": a * eps - s * x0}[kind] + error * torch.randn(xt.shape, generator=g)
        return split_prediction(kind, out, xt, a, s)
    return denoise


def test_cosine_schedule_needs_v_prediction_or_clipping_when_the_network_errs():
    """ᾱ_T of the clipped cosine schedule is ~1e-9, so DDIM's first jump multiplies an ε-error by ~√(ᾱ_s/ᾱ_T):
    unclipped ε-prediction explodes, v-prediction does not, and clipping x̂_0 (pixel space) rescues ε."""
    sch = NoiseSchedule.make("cosine", 1000)
    x_T = torch.randn(4000, 1, generator=torch.Generator().manual_seed(0))

    def spread(kind, clip):
        x, _ = sample_loop(_noisy_oracle(sch, kind, 0.3, 0.3, 0.01), sch, x_T, SamplerSettings("ddim", steps=50, clip=clip))
        return x.std().item()

    assert spread("eps", False) > 1.0
    assert spread("v", False) == pytest.approx(0.3, rel=0.1)
    assert spread("eps", True) == pytest.approx(0.3, rel=0.1)


def test_ddim_eta0_is_deterministic_and_records_a_trajectory():
    sch = NoiseSchedule.make("cosine", 100)
    x_T = torch.randn(5, 2)
    oracle = _gaussian_oracle(sch, 0.0, 0.5)
    a, snaps = sample_loop(oracle, sch, x_T, SamplerSettings("ddim", steps=10),
                           generator=torch.Generator().manual_seed(1), record=5)
    b, _ = sample_loop(oracle, sch, x_T, SamplerSettings("ddim", steps=10), generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert [t for t, _, _ in snaps] == [100, 78, 56, 34, 12, 0] and torch.equal(snaps[0][1], x_T)
    assert torch.equal(snaps[-1][1], a)


def test_inpainting_keeps_known_pixels_and_fills_the_rest_consistently():
    """Data = one fixed image; the oracle denoiser knows it, so the hole must be filled with it."""
    sch = NoiseSchedule.make("linear", 100)
    target = torch.linspace(-0.9, 0.9, 16).reshape(1, 1, 4, 4)

    def oracle(xt, t):
        ab = sch.at("alpha_bar", t, xt)
        x0 = target.expand_as(xt)
        return x0, (xt - ab.sqrt() * x0) / (1 - ab).sqrt()

    mask = torch.ones(2, 1, 4, 4)
    mask[:, :, 2:] = 0
    given = target.expand(2, -1, -1, -1).clone()
    given[:, :, 2:] = 5.0      # garbage in the hole must not leak
    for resample in (1, 3):
        x, _ = sample_loop(oracle, sch, torch.randn(2, 1, 4, 4), SamplerSettings("ddpm", steps=25),
                           generator=torch.Generator().manual_seed(0), inpaint=Inpainting(given, mask, resample))
        assert torch.equal(x[:, :, :2], given[:, :, :2])
        assert torch.allclose(x[:, :, 2:], target.expand(2, -1, -1, -1)[:, :, 2:], atol=1e-4)


def test_inpainting_noises_the_known_region_to_the_current_step():
    """At every call the known pixels of x_t must be a draw of q(x_t | x_known): (x_t − √ᾱ_t x)/√(1−ᾱ_t) ~ N(0, 1)."""
    sch = NoiseSchedule.make("linear", 60)
    known = torch.full((1, 1, 32, 32), 0.7)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :16] = 1
    seen = []

    def denoiser(xt, t):
        a, s = sch.scales(t, xt)
        z = ((xt - a * known) / s)[..., :16]
        seen.append((z.mean().item(), z.std().item()))
        return torch.zeros_like(xt), xt / s
    for resample in (1, 2):
        seen.clear()
        sample_loop(denoiser, sch, torch.randn(1, 1, 32, 32), SamplerSettings("ddpm", steps=12, clip=False),
                    generator=torch.Generator().manual_seed(0), inpaint=Inpainting(known, mask, resample))
        assert len(seen) == 12 * resample
        assert all(abs(m) < 0.25 and 0.8 < sd < 1.2 for m, sd in seen)


# -- networks -----------------------------------------------------------------------------------------
def test_sinusoidal_embedding():
    e = sinusoidal_embedding(torch.tensor([0, 5]), 8)
    assert e.shape == (2, 8)
    assert torch.allclose(e[0], torch.tensor([0, 0, 0, 0, 1, 1, 1, 1.0]))
    assert e[1, 0].item() == pytest.approx(math.sin(5)) and e[1, 4].item() == pytest.approx(math.cos(5))


@pytest.mark.parametrize("shape,mults,attn", [((1, 28, 28), (1, 2, 4, 8), (8, 4)), ((1, 28, 28), (1, 2, 4), (7,)),
                                                 ((3, 16, 16), (1, 2), (8,))])
def test_unet_keeps_the_shape_and_reads_time_and_label(shape, mults, attn):
    torch.manual_seed(0)
    net = UNet(shape[0], shape[0], shape[1], 8, mults, 1, attn, heads=2, condition_dim=3)
    for p in net.parameters():            # zero-initialised output layers would hide the dependence
        torch.nn.init.normal_(p, std=0.05)
    x = torch.randn(2, *shape)
    out = net(x, torch.tensor([3, 3]))
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, torch.tensor([300, 300])))
    onehot = torch.eye(3)[:2]
    assert not torch.allclose(net(x, torch.tensor([3, 3]), onehot), out)
    assert torch.allclose(net(x, torch.tensor([3, 3]), torch.zeros(2, 3)), out, atol=1e-6)   # zero = no label
    assert sum(isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2) for m in net.modules()) == len(mults) - 1


def test_mlp_denoiser_shape():
    net = MLPDenoiser(10, 32, 2, condition_dim=0)
    assert net(torch.randn(4, 10), torch.tensor([1, 2, 3, 4])).shape == (4, 10)


def test_recipe_parameter_counts():
    """Regression guard on the recipes' networks (the books print no count for these)."""
    from genzoo.runs import config_from_recipe

    counts = {r: sum(p.numel() for p in build_model(config_from_recipe(r).model).parameters())
              for r in ("ddpm-linear", "ddpm-fashion", "ddpm-conditional")}
    assert counts == {"ddpm-linear": 686_769, "ddpm-fashion": 2_737_905, "ddpm-conditional": 687_409}


# -- the model ----------------------------------------------------------------------------------------
def _tiny(**kw):
    cfg = {"family": "diffusion", "input_shape": [1, 8, 8], "schedule": "linear", "timesteps": 50,
           "base_channels": 8, "channel_mults": [1, 2], "attention_resolutions": [4], "heads": 2,
           "sample_steps": 5, **kw}
    torch.manual_seed(0)
    return build_model(cfg)


@pytest.mark.parametrize("prediction,loss", [("eps", "mse"), ("x0", "mae"), ("v", "huber"), ("eps", "mae")])
def test_a_tiny_batch_can_be_overfit(prediction, loss):
    """One image: x_0 (and so ε) is learnable at every t, so each prediction × loss must drive the loss down."""
    from genzoo.data.loader import Batch

    model = _tiny(prediction=prediction, loss=loss)
    x = (torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1).expand(16, -1, -1, -1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    torch.manual_seed(1)
    first = sum(model.loss(Batch(x, None))["loss"].item() for _ in range(8))
    for _ in range(60):
        out = model.loss(Batch(x, None))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    last = sum(model.loss(Batch(x, None))["loss"].item() for _ in range(8))
    assert math.isfinite(last) and last < 0.5 * first


def test_classifier_free_guidance_mixes_conditional_and_unconditional_outputs():
    model = _tiny(num_classes=3).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([10, 40])
    c = torch.eye(3)[:2]
    with torch.no_grad():
        out_c = model.net(x, t, c)
        out_u = model.net(x, t, torch.zeros_like(c))
        for g, expected in ((1.0, out_c), (0.0, out_u), (3.0, out_u + 3 * (out_c - out_u))):
            _, eps = model.denoiser(c, g)(x, t)
            assert torch.allclose(eps, expected, atol=1e-5)


def test_label_dropout_during_training():
    from genzoo.data.loader import Batch

    model = _tiny(num_classes=3, p_uncond=0.5)
    seen = []
    model.net.forward = lambda x, t, c: (seen.append(c), x)[1]
    model.loss(Batch(torch.zeros(4000, 1, 8, 8), torch.zeros(4000, dtype=torch.long)))
    dropped = (seen[0].sum(1) == 0).float().mean().item()
    assert dropped == pytest.approx(0.5, abs=0.03)


def test_sample_inpaint_interpolate_and_trajectory_shapes():
    model = _tiny().eval()
    g = torch.Generator().manual_seed(0)
    assert model.sample(3, generator=g, steps=5).shape == (3, 1, 8, 8)
    traj = model.trajectory(2, 4, generator=g, steps=8)
    assert traj.images.shape == (2 * 2 * 5, 1, 8, 8) and traj.steps == [50, 36, 22, 8, 0]
    assert traj.row_labels == ["x_t", "predicted x₀"]
    inter = model.interpolate(2, 5, generator=g, steps=4)
    assert inter.shape == (10, 1, 8, 8) and float(inter.min()) >= 0 and float(inter.max()) <= 1
    images = torch.rand(2, 1, 8, 8) * 2 - 1
    done = model.complete(images, 3, generator=g, steps=5)
    assert torch.allclose(done[:, :, :3], (images[:, :, :3] + 1) / 2, atol=1e-6)
    with pytest.raises(ConfigError, match="--mask"):
        model.mask(2, "diagonal")


def test_discretised_gaussian_is_normalised():
    grid = torch.linspace(-1, 1, 256)
    for mean, log_std in ((0.0, math.log(0.01)), (0.9, math.log(0.3)), (-1.2, math.log(0.002)), (0.5, math.log(1e-4))):
        logp = discretized_gaussian_log_likelihood(grid, torch.full_like(grid, mean), log_std)
        assert logp.exp().sum().item() == pytest.approx(1.0, abs=1e-4)


def test_variational_bound_terms():
    model = _tiny(timesteps=12, schedule="cosine").eval()
    x = (torch.randint(0, 256, (3, 1, 8, 8), generator=torch.Generator().manual_seed(0)).float() / 255) * 2 - 1
    exact = model.variational_bound(x, t_samples=None, generator=torch.Generator().manual_seed(0))
    assert exact["total"].shape == (3,) and bool((exact["total"] > 0).all())
    assert torch.allclose(exact["total"], exact["prior"] + exact["decoder"] + exact["diffusion"])
    # the prior term is KL(N(√ᾱ_T x, 1−ᾱ_T) ‖ N(0, 1)) by hand
    ab = float(model.schedule.alpha_bar[12])
    by_hand = 0.5 * ((1 - ab) + ab * x.pow(2) - 1 - math.log(1 - ab)).flatten(1).sum(1)
    assert torch.allclose(exact["prior"], by_hand, rtol=1e-4)
    # the Monte-Carlo sum over t is unbiased: with a per-step term f(t) = t², its average over many draws of
    # t meets Σ_{t=2}^{T} t² (the network's terms are swapped out so only the estimator is tested)
    model._kl_term = lambda x0, x_t, t, mean: t.float() ** 2
    model.net.forward = lambda x_t, t, c: torch.zeros_like(x_t)
    assert model.variational_bound(x, t_samples=None)["diffusion"][0].item() == sum(t * t for t in range(2, 13))
    many = x[:1].expand(3000, -1, -1, -1)
    mc = model.variational_bound(many, t_samples=4, generator=torch.Generator().manual_seed(0))["diffusion"].mean()
    assert mc.item() == pytest.approx(sum(t * t for t in range(2, 13)), rel=0.03)


def test_kl_and_decoder_terms_against_independent_formulas():
    from torch.distributions import Normal, kl_divergence

    model = _tiny(timesteps=30, schedule="cosine", variance="large").eval()
    sch = model.schedule
    g = torch.Generator().manual_seed(0)
    x0, x_t, mean_model = (torch.rand(2, 1, 8, 8, generator=g) * 2 - 1 for _ in range(3))
    t = torch.tensor([5, 17])
    got = model._kl_term(x0, x_t, t, mean_model)
    for i, ti in enumerate(t.tolist()):
        ab_t, ab_s, beta = (float(sch.alpha_bar[ti]), float(sch.alpha_bar[ti - 1]), float(sch.betas[ti]))
        post_mean = (math.sqrt(ab_s) * beta * x0[i] + math.sqrt(1 - beta) * (1 - ab_s) * x_t[i]) / (1 - ab_t)
        post_std = math.sqrt(beta * (1 - ab_s) / (1 - ab_t))
        ref = kl_divergence(Normal(post_mean.double(), post_std), Normal(mean_model[i].double(), math.sqrt(beta))).sum()
        assert got[i].item() == pytest.approx(ref.item(), rel=1e-4)
    # the discretised decoder far in the tails: compare with a float64 reference of log(Φ(b) − Φ(a))
    x = torch.tensor([0.2, -0.5, 0.9, 0.0])
    mean = torch.tensor([0.25, -0.2, 0.5, 0.0])
    sigma = 0.0031
    got = discretized_gaussian_log_likelihood(x, mean, math.log(sigma))
    n = Normal(mean.double(), sigma)
    half = 1 / 255
    lo, hi = n.cdf(x.double() - half), n.cdf(x.double() + half)
    for i in range(4):
        if (hi[i] - lo[i]).item() > 1e-300:   # float64 can still resolve it: must agree
            assert got[i].item() == pytest.approx(math.log((hi[i] - lo[i]).item()), rel=1e-4)
    z = ((x[2] - 0.5 - half) / sigma).item()   # 128σ away: log Φ(−z) ≈ −z²/2 − log(z√(2π))
    assert got[2].item() == pytest.approx(-z * z / 2 - math.log(z * math.sqrt(2 * math.pi)), rel=1e-3)
    assert got[2].item() < -7000


def test_ema_warm_up():
    ema = EMA(torch.nn.Linear(2, 2), 0.999)
    assert ema.decay_at(0) == pytest.approx(0.1) and ema.decay_at(90) == pytest.approx(91 / 100)
    assert ema.decay_at(10**6) == 0.999 and ema.decay_at(None) == 0.999


def test_config_errors():
    with pytest.raises(ConfigError, match="model.prediction"):
        _tiny(prediction="score")
    with pytest.raises(ConfigError, match="data_range=pm1"):
        _tiny(data_range="01")
    with pytest.raises(ConfigError, match="model.autoencoder=runs/vae"):
        _tiny(space="latent")
    with pytest.raises(ConfigError, match="model.space=latent"):
        _tiny(autoencoder="runs/x")
    with pytest.raises(ConfigError, match="sample_steps"):
        _tiny(sample_steps=51)
    with pytest.raises(ConfigError, match="heads"):
        _tiny(heads=3)


# -- end to end ---------------------------------------------------------------------------------------
SMALL = ["--set", "model.base_channels=8", "--set", "model.timesteps=40", "--set", "model.sample_steps=5",
         "--set", "batch_size=16", "--set", "sample_n=4"]


def test_train_resume_sample_and_eval_end_to_end(tmp_path, trained_runs):
    run = trained_runs.copy(tmp_path / "ddpm", "ddpm-linear", 6, *SMALL)   # trained here, or earlier in the session
    runner = CliRunner()
    assert json.loads((run / "train_summary.json").read_text())["steps"] == 6
    result = runner.invoke(cli, ["resume", str(run), "--max-steps", "8", "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["steps"] == 8
    for extra, shape in ((["--sampler", "ddpm", "--steps", "40", "-n", "3"], [3, 1, 28, 28]),
                         (["--sampler", "ddim", "--steps", "4", "--eta", "0.5", "-n", "2"], [2, 1, 28, 28]),
                         (["--trajectory", "-n", "2", "--steps", "10"], [44, 1, 28, 28]),
                         (["--interpolate", "-n", "20", "--steps", "3"], [20, 1, 28, 28]),
                         (["--mask", "center", "-n", "2", "--steps", "3", "--resample", "2"], [6, 1, 28, 28]),
                         (["--complete", "-n", "2", "--steps", "3"], [6, 1, 28, 28])):
        result = runner.invoke(cli, ["sample", str(run), *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["shape"] == shape
    from genzoo.analysis.grid import grid_layout

    layout = grid_layout(run / "samples" / "trajectory-0.png")       # the grids say what they show
    assert layout["col_labels"][0] == "t=40" and layout["col_labels"][-1] == "t=0"
    assert layout["row_labels"] == ["x_t", "predicted x₀"] * 2
    assert grid_layout(run / "samples" / "complete-0.png")["col_labels"] == ["original", "given", "completion"]
    result = runner.invoke(cli, ["analyze", str(run), "all"], catch_exceptions=False)
    assert result.exit_code == 0, result.output          # nothing applies, and it says so instead of crashing
    result = runner.invoke(cli, ["eval", str(run), "--metrics", "vlb", "--vlb-images", "8", "--vlb-t", "0"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    vlb = json.loads((run / "eval.json").read_text())["metrics"]["vlb"]
    assert vlb["t_samples"] == "all" and vlb["images"] == 8 and vlb["bits_per_dim"] > 0
    assert vlb["bits_per_dim"] == pytest.approx(vlb["bound_nats"] / (784 * math.log(2)))


@pytest.mark.parametrize("args,message", [
    (["--guidance", "2"], "class-conditional"),
    (["--trajectory", "--interpolate"], "choose one of"),
    (["--resample", "3"], "--resample applies to completion/inpainting (--complete/--mask)"),
    (["--mask", "left", "--start-row", "3"], "--start-row"),
    (["--interpolate", "--eta", "0.5"], "--eta does not apply to interpolation"),
    (["--sampler", "ddpm", "--eta", "0.5"], "ddim sampler"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--steps", "41"], "[1, 40]"),
    (["--sampler", "cached"], "ddpm or ddim"),
    (["--temperature", "0.5"], "--temperature does not apply to sampling with model family 'diffusion'"),
])
def test_sampling_errors_name_the_fix(trained_runs, args, message):
    run = trained_runs.get("ddpm-linear", 6, *SMALL)      # one trained run shared by every case
    runner = CliRunner()
    result = runner.invoke(cli, ["sample", str(run), "-n", "2", *args])
    assert result.exit_code == 2 and message in result.output


def test_conditional_guided_sampling(tmp_path):
    run = tmp_path / "cond"
    runner = CliRunner()
    assert runner.invoke(cli, train_args("ddpm-conditional", run, 2, *SMALL), catch_exceptions=False).exit_code == 0
    result = runner.invoke(cli, ["sample", str(run), "-n", "3", "--label", "4", "--guidance", "3"],
                           catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["shape"] == [3, 1, 28, 28]


def test_latent_diffusion_is_self_contained(tmp_path):
    vae, run = tmp_path / "vae", tmp_path / "latent"
    runner = CliRunner()
    assert runner.invoke(cli, train_args("homl-vae", vae, 4), catch_exceptions=False).exit_code == 0
    result = runner.invoke(cli, train_args("latent-diffusion", run, 1, "--set", f"model.autoencoder={tmp_path / 'nope'}"))
    assert result.exit_code == 2 and "not a genzoo run folder" in result.output
    small = ["--set", f"model.autoencoder={vae}", "--set", "model.denoiser_hidden=32", "--set", "sample_n=4",
             "--set", "batch_size=32"]
    result = runner.invoke(cli, train_args("latent-diffusion", run, 6, *small), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    saved = (run / "config.yaml").read_text()
    assert "autoencoder_model:" in saved and "z_dim: 10" in saved
    from genzoo.runs import load_run

    _, first = load_run(run)
    stats_before = (first.latent_mean.clone(), first.latent_std.clone())
    shutil.rmtree(vae)                                  # the run must not need the autoencoder's folder any more
    result = runner.invoke(cli, ["resume", str(run), "--max-steps", "8", "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["sample", str(run), "-n", "5", "--sampler", "ddpm", "--steps", "10"],
                           catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["shape"] == [5, 1, 28, 28]
    _, model = load_run(run)
    assert bool(model.latent_ready) and float(model.latent_std.min()) > 0
    assert torch.equal(model.latent_mean, stats_before[0]) and torch.equal(model.latent_std, stats_before[1])
    from safetensors.torch import load_file

    from genzoo.training.checkpoint import latest_checkpoint

    ema = load_file(str(latest_checkpoint(run) / "ema.safetensors"))
    assert torch.equal(model.net.inp.weight, ema["inp.weight"])        # sampling uses the EMA denoiser
    # a new run from the saved config must not start from an autoencoder without weights
    result = runner.invoke(cli, ["train", str(run / "config.yaml"), "--max-steps", "1", "--out", str(tmp_path / "again"),
                                 "--no-progress"])
    assert result.exit_code == 2 and "model.autoencoder" in result.output
    result = runner.invoke(cli, ["eval", str(run), "--metrics", "vlb"])
    assert result.exit_code == 2 and "pixel-space" in result.output
    result = runner.invoke(cli, ["sample", str(run), "--complete", "-n", "2"])
    assert result.exit_code == 2 and "pixel-space" in result.output


def test_latent_diffusion_refuses_a_non_autoencoder_run(tmp_path, trained_runs):
    ddpm, run = trained_runs.get("ddpm-linear", 6, *SMALL), tmp_path / "latent"
    runner = CliRunner()
    result = runner.invoke(cli, train_args("latent-diffusion", run, 1, "--set", f"model.autoencoder={ddpm}"))
    assert result.exit_code == 2 and "autoencoder or vae run" in result.output
