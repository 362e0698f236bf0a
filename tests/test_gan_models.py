"""GAN family: the books' parameter counts, the WGAN-GP penalty against closed forms, weight clipping,
experience replay, conditioning, refusal of batch norm in a WGAN-GP critic, and exact resume of a GAN."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from conftest import train_args
from genzoo.cli import cli
from genzoo.config import ConfigError, load_recipe
from genzoo.data.loader import Batch
from genzoo.models import build_model
from genzoo.models.gan import ReplayBuffer
from genzoo.models.wgan import gradient_penalty, wasserstein_critic_loss
from genzoo.nn import UpsampleConv2d
from genzoo.nn.summary import count_params
from test_training import assert_same_weights


def model_of(recipe: str, **changes):
    cfg = dict(load_recipe(recipe)["model"])
    cfg.update(changes)
    torch.manual_seed(0)
    return build_model(cfg)


# (recipe, discriminator total, generator total, generator trainable) — book/HOML summaries, or the
# count the book's Keras code gives for the configuration (checked by hand in the recipe comments).
COUNTS = [
    ("gan-camel", 720_833, 844_161, 837_377),       # Foster Listings 4.2-4.3
    ("wgan-horses", 670_401, 884_163, 879_619),     # Foster notebook 04_02 configuration
    ("wgangp-faces", 4_314_753, 5_168_003, 5_150_723),
    ("homl-gan", 132_951, 136_634, 136_634),        # Géron ch. 17 dense GAN
    ("homl-dcgan", 212_865, 840_705, 840_321),      # Géron ch. 17 DCGAN
]


@pytest.mark.parametrize("recipe, d_total, g_total, g_trainable", COUNTS)
def test_parameter_counts_match_the_books(recipe, d_total, g_total, g_trainable):
    model = model_of(recipe)
    d_t, d_nt = count_params(model.discriminator)
    g_t, g_nt = count_params(model.generator)
    assert (d_t + d_nt, d_nt) == (d_total, 0)
    assert (g_t + g_nt, g_t) == (g_total, g_trainable)


def test_dense_generator_batch_norm_on_every_hidden_layer_but_the_first():
    """``model.g_units_batch_norm``: Dense → BatchNorm1d → activation from the second hidden layer on, with the
    Keras momentum (PyTorch-GAN's MLP generator 100-128-256-512-1024-784 has 1,510,032 weights); off by default,
    refused for the conv generator."""
    model = model_of("homl-gan", z_dim=100, g_units=[128, 256, 512, 1024], g_activation="leaky_relu",
                     g_units_batch_norm=0.9, output_activation="tanh", data_range="pm1")
    kinds = [type(m).__name__ for m in model.generator.hidden]
    assert kinds == ["Linear", "LeakyReLU"] + ["Linear", "BatchNorm1d", "LeakyReLU"] * 3
    assert all(m.momentum == pytest.approx(0.1) for m in model.generator.hidden if isinstance(m, nn.BatchNorm1d))
    assert sum(p.numel() for p in model.generator.parameters()) == 1_510_032
    x = model.generate(torch.randn(4, 100))
    assert x.shape == (4, 1, 28, 28) and x.abs().max() <= 1
    assert not any(isinstance(m, nn.BatchNorm1d) for m in model_of("homl-gan").generator.modules())
    with pytest.raises(ConfigError, match="g_units_batch_norm"):
        model_of("homl-dcgan", g_units_batch_norm=0.9)


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("channels_last", [False, True])
def test_upsample_conv_equals_upsample_then_conv(kernel, channels_last):
    """UpsampleConv2d (the generators' Upsample ×2 + Conv, one conv of the original map) gives the two-layer form's
    outputs and gradients (input, weight, bias) in the input's memory layout, from the same parameters."""
    torch.manual_seed(0)
    two = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4, 3, kernel, padding=kernel // 2))
    fused = UpsampleConv2d(4, 3, kernel)
    fused.load_state_dict(two[1].state_dict())
    two, fused = two.double(), fused.double()
    x = torch.randn(2, 4, 5, 6, dtype=torch.double)
    if channels_last:
        x, two, fused = (m.to(memory_format=torch.channels_last) for m in (x, two, fused))
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = two(x1), fused(x2)
    assert y2.shape == (2, 3, 10, 12) and y2.is_contiguous(memory_format=torch.channels_last) == channels_last
    torch.testing.assert_close(y2, y1)
    g = torch.randn_like(y1)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    torch.testing.assert_close(fused.weight.grad, two[1].weight.grad)
    torch.testing.assert_close(fused.bias.grad, two[1].bias.grad)


def test_upsampling_generator_keeps_the_two_layer_checkpoint_keys():
    """The camel generator's Upsample + Conv layers keep their indices: weights saved before the fused conv load."""
    keys = set(model_of("gan-camel").generator.state_dict())
    assert {"deconv.1.weight", "deconv.1.bias", "deconv.5.weight"} <= keys
    assert not any(k.startswith(("deconv.0.", "deconv.4.")) for k in keys)


def test_summary_command_prints_the_totals():
    out = CliRunner().invoke(cli, ["summary", "gan-camel"]).output
    assert "Total params: 720,833" in out and "Total params: 844,161" in out and "Trainable params: 837,377" in out


@pytest.mark.parametrize("recipe", ["gan-camel", "wgan-horses", "wgangp-faces", "homl-gan", "homl-dcgan",
                                    "cgan-fashion"])
def test_generators_produce_images_in_the_data_range(recipe):
    model = model_of(recipe).eval()
    with torch.no_grad():
        x = model.generate(torch.randn(3, model.config.z_dim), model.default_condition(3, torch.device("cpu")))
    assert list(x.shape[1:]) == model.config.input_shape
    lo = -1.0 if model.config.data_range == "pm1" else 0.0
    assert x.min() >= lo and x.max() <= 1.0
    s = model.sample(4, generator=torch.Generator().manual_seed(1))
    assert s.min() >= 0 and s.max() <= 1


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    """D(x) = w·x has ∇D = w everywhere, so the penalty is (‖w‖ − 1)² whatever the interpolates."""
    w = torch.randn(1, 2, 3, 3)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(5, 2, 3, 3), torch.randn(5, 2, 3, 3)
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)


def test_gradient_penalty_is_per_sample():
    """D(x) = ½‖x‖² has ∇D = x̂: the penalty is the mean over samples of (‖x̂ᵢ‖ − 1)², not a batch norm."""
    critic = lambda x: 0.5 * x.flatten(1).pow(2).sum(1)  # noqa: E731
    real, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    alpha = torch.rand(4, 1, 1, 1)
    x_hat = alpha * real + (1 - alpha) * fake
    want = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gradient_penalty(critic, real, fake, alpha=alpha).item() == pytest.approx(want.item(), rel=1e-5)


def test_gradient_penalty_trains_the_critic():
    """create_graph=True: the penalty has a gradient with respect to the critic's weights."""
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    gp = gradient_penalty(lambda x: critic(x).squeeze(1), torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2))
    gp.backward()
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


def test_wasserstein_loss_sign():
    assert wasserstein_critic_loss(torch.tensor([3.0, 1.0]), torch.tensor([0.0, -2.0])).item() == -3.0


def test_weight_clipping_bounds_every_critic_parameter():
    model = model_of("wgan-horses")
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.mul_(100)
    model.after_discriminator_step()
    c = model.config.clip_threshold
    assert all(p.abs().max() <= c for p in model.discriminator.parameters())
    assert any(p.abs().max() == c for p in model.discriminator.parameters())


def test_wgangp_refuses_batch_norm_in_the_critic():
    with pytest.raises(ConfigError, match="batch norm"):
        model_of("wgangp-faces", d_batch_norm=0.9)


def test_generator_output_shape_mismatch_is_a_clear_error():
    with pytest.raises(ConfigError, match="generator produces"):
        model_of("gan-camel", g_upsample=[2, 1, 1, 1])


def test_replay_buffer_fills_then_mixes():
    buf = ReplayBuffer(8, [1, 2, 2])
    first = torch.ones(4, 1, 2, 2)
    assert torch.equal(buf.mix(first, 0.5), first)            # nothing stored yet: all fresh
    assert int(buf.filled) == 4
    second = torch.full((4, 1, 2, 2), 2.0)
    out = buf.mix(second, 0.5)
    assert (out == 2).all(dim=(1, 2, 3)).sum() == 2            # half fresh ...
    assert (out == 1).all(dim=(1, 2, 3)).sum() == 2            # ... half replayed from the pool
    assert int(buf.filled) == 8
    buf.mix(torch.full((4, 1, 2, 2), 3.0), 0.5)                # full: random slots are overwritten
    assert int(buf.filled) == 8 and (buf.images == 3).any()


def test_conditional_generator_depends_on_the_label():
    model = model_of("cgan-fashion").eval()
    z = torch.randn(1, model.config.z_dim).expand(10, -1)
    with torch.no_grad():
        x = model.generate(z, torch.eye(10))
    assert (x[0] - x[1]).abs().max() > 1e-4


def test_discriminator_learns_to_separate_real_from_fake():
    """A few discriminator updates on one real batch drive its BCE down and its accuracy up."""
    torch.manual_seed(0)
    model = model_of("homl-gan")
    x = torch.rand(32, 1, 28, 28).round()  # a fixed "real" batch of binary images
    batch = Batch(x)
    opt = torch.optim.Adam(model.discriminator.parameters(), 1e-3)
    first = model.discriminator_loss(batch)["loss"].item()
    for _ in range(30):
        out = model.discriminator_loss(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert out["loss"].item() < 0.5 * first
    assert out["acc_real"].item() > 0.9 and out["acc_fake"].item() > 0.9


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("recipe, extra", [
    ("homl-dcgan", ("--set", "model.replay_size=64", "--set", "ema_decay=0.9")),
    ("wgan-horses", ("--dataset", "fashion-mnist", "--set", "data.channels=3", "--batch-size", "16",
                     "--set", "sample_every_epoch=false")),
    # the WGAN-GP family on the small DCGAN networks (the 64-px faces networks cost minutes here)
    ("homl-dcgan", ("--set", "model.family=wgan-gp", "--set", "model.d_dropout=null", "--set", "n_critic=2")),
])
def test_gan_resume_is_exact(tmp_path, recipe, extra):
    """Generator, critic, both optimizers, the replay pool and the EMA continue exactly after resume."""
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run_cli(*train_args(recipe, straight, 6, *extra)).exit_code == 0
    assert run_cli(*train_args(recipe, split, 3, *extra)).exit_code == 0
    r = run_cli("resume", str(split), "--max-steps", "6", "--no-progress")
    assert r.exit_code == 0, r.output
    assert_same_weights(straight, split)
    rows = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert {"d_loss", "g_loss"} <= set(rows[-1])


def test_conditional_gan_samples_a_chosen_class(tmp_path, trained_runs):
    run = trained_runs.get("cgan-fashion", 4)
    r = run_cli("sample", str(run), "-n", "8", "--label", "3", "--out", str(tmp_path / "c.png"))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["shape"] == [8, 1, 28, 28]


def _trainer(recipe: str, tmp_path, *overrides: str):
    from genzoo.data import load_images
    from genzoo.runs import config_from_recipe, prepare_model
    from genzoo.training.trainer import make_trainer

    from conftest import MINI_FASHION

    cfg = config_from_recipe(recipe, ["tensorboard=false", "sample_n=0", f"data.data_dir={MINI_FASHION}",
                                      *overrides])
    model = prepare_model(cfg)
    data = load_images(cfg.data, tuple(model.config.input_shape))
    return make_trainer(cfg, tmp_path / "run", model, data)


@pytest.mark.parametrize("recipe, overrides, n_critic", [
    ("homl-dcgan", (), 1),
    ("cgan-fashion", ("model.replay_size=0",), 1),
    ("homl-dcgan", ("model.family=wgan", "model.d_dropout=null", "n_critic=3"), 3),
    ("homl-dcgan", ("model.family=wgan-gp", "model.d_dropout=null", "n_critic=2"), 2),
])
def test_generator_runs_forward_once_per_critic_step(tmp_path, recipe, overrides, n_critic):
    """The generator phase reuses the last critic step's fakes: n_critic generator forwards per step (one for a
    GAN), not n_critic + 1; the generator phase sees exactly the fakes the discriminator was trained on, and
    ``model.reuse_fakes=false`` restores the separate draw."""
    for reuse, per_step in (("true", n_critic), ("false", n_critic + 1)):
        trainer = _trainer(recipe, tmp_path / reuse, *overrides, f"model.reuse_fakes={reuse}")
        gen, disc = trainer.model.generator, trainer.model.discriminator
        outputs, seen = [], []
        gen.register_forward_hook(lambda m, args, out: outputs.append(out.detach().clone()))
        disc.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
        steps = 2
        for _ in range(steps):
            trainer.train_step()
        assert len(outputs) == steps * per_step
        if reuse == "true" and "replay_size" not in " ".join(overrides):
            # per critic step: real, fake (+ the penalty's interpolates); then the generator phase: the same fake
            per_critic = 3 if "wgan-gp" in " ".join(overrides) else 2
            last_critic_fake = seen[(n_critic - 1) * per_critic + 1]
            assert torch.equal(seen[n_critic * per_critic], last_critic_fake)
            assert torch.equal(outputs[n_critic - 1], last_critic_fake)


def test_gan_with_reused_fakes_learns(tmp_path):
    """Géron's dense GAN trained by the adversarial trainer with one generator forward per step moves its samples'
    mean image towards the data's (L1 0.27 → 0.16 in 100 steps here), as well as with a second draw for the
    generator phase does: the generator learns through the reused fakes. (One thread: these small dense steps
    are dispatch-bound, and a second thread only waits on a shared machine.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def mean_image_gap(reuse: str) -> tuple[float, float]:
        trainer = _trainer("homl-gan", tmp_path / reuse, "batch_size=64", f"model.reuse_fakes={reuse}")
        real = torch.cat([trainer.stream.next().x for _ in range(8)])            # model range [-1, 1]

        def gap() -> float:
            with torch.no_grad():
                fake = trainer.model.generate(trainer.model.noise(512, torch.device("cpu")))
            return float((fake.mean(0) - real.mean(0)).abs().mean())

        torch.manual_seed(0)
        before = gap()
        for _ in range(100):
            out = trainer.train_step()
        assert torch.isfinite(out["g_loss"]) and torch.isfinite(out["d_loss"])
        return before, gap()

    try:
        before, reused = mean_image_gap("true")
        _, separate = mean_image_gap("false")
    finally:
        torch.set_num_threads(threads)
    assert reused < 0.65 * before, (before, reused)
    assert reused < 1.25 * separate, (reused, separate)
