"""Autoencoder and VAE families: the books' parameter counts, losses against closed forms,
learning on a tiny batch, and save → load round trips."""
import math

import pytest
import torch

from genzoo.config import load_recipe
from genzoo.data.loader import Batch
from genzoo.models import build_model
from genzoo.models.autoencoder import kl_sparsity
from genzoo.models.vae import gaussian_kl
from genzoo.nn.summary import count_params


def model_of(recipe: str, **changes):
    cfg = load_recipe(recipe)["model"]
    cfg.update(changes)
    torch.manual_seed(0)
    return build_model(cfg)


def test_foster_autoencoder_parameter_counts():
    m = model_of("ae-digits")
    assert count_params(m.encoder) == (98_946, 0)    # Foster ch. 3, encoder summary
    assert count_params(m.decoder) == (102_017, 0)   # decoder summary
    text = m.summary()
    assert "Total params: 98,946" in text and "Total params: 102,017" in text


def test_foster_vae_digits_parameter_counts():
    m = model_of("vae-digits")
    assert count_params(m.encoder) == (98_946 + 6_274, 0)  # a second Dense(2) head for log σ²
    assert count_params(m.decoder) == (102_017, 0)


def test_foster_faces_vae_parameter_counts():
    m = model_of("vae-faces")
    assert count_params(m.encoder) == (1_732_496, 448)   # Fig. 3.16: 1,732,944 total
    assert count_params(m.decoder) == (916_803, 320)     # Fig. 3.17: 917,123 total


def test_homl_models_shapes():
    for recipe in ("homl-vae", "homl-denoising-ae", "homl-sparse-ae-l1", "homl-sparse-ae-kl", "cvae-fashion"):
        m = model_of(recipe).eval()
        x = torch.rand(4, 1, 28, 28)
        batch = Batch(x, torch.arange(4))
        out = m.loss(batch)
        assert out["loss"].shape == () and torch.isfinite(out["loss"])
        assert m.sample(3).shape == (3, 1, 28, 28)


def test_homl_vae_dense_parameter_count():
    m = model_of("homl-vae")
    # 784·150+150 + 150·100+100 + 2·(100·10+10) ; 10·100+100 + 100·150+150 + 150·784+784
    assert count_params(m.encoder)[0] == 117_750 + 15_100 + 2 * 1_010
    assert count_params(m.decoder)[0] == 1_100 + 15_150 + 118_384


def test_gaussian_kl_matches_closed_form():
    mu = torch.tensor([[0.5, -1.0]])
    log_var = torch.tensor([[math.log(0.25), 0.0]])
    expected = sum(0.5 * (v + m ** 2 - 1 - math.log(v)) for m, v in ((0.5, 0.25), (-1.0, 1.0)))
    assert gaussian_kl(mu, log_var).item() == pytest.approx(expected, rel=1e-6)
    assert gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0


def test_vae_loss_is_book_weighting_and_elbo_is_consistent():
    m = model_of("vae-digits").eval()
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(1)
    out = m.loss(Batch(x))
    # loss = r_loss_factor·MSE + KL; ELBO under the implied Gaussian σ² = 784/(2·1000)
    assert out["loss"].item() == pytest.approx(1000 * out["mse"].item() + out["kl"].item(), rel=1e-4)
    var = 784 / 2000
    const = 0.5 * 784 * math.log(2 * math.pi * var)
    assert out["elbo"].item() == pytest.approx(-out["loss"].item() - const, rel=1e-4)
    assert m.config.decoder_variance == pytest.approx(var)


def test_kl_sparsity_closed_form():
    q = torch.full((10, 3), 0.1)
    assert kl_sparsity(q, 0.1).item() == pytest.approx(0.0, abs=1e-6)
    z = torch.full((4, 2), 0.5)
    p = 0.1
    expected = 2 * (p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5))
    assert kl_sparsity(z, p).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("recipe", ["ae-digits", "vae-digits", "homl-sparse-ae-kl"])
def test_overfits_a_tiny_batch(recipe):
    m = model_of(recipe)
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28).round()
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    first = None
    for _ in range(150):
        out = m.loss(Batch(x))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first if first is not None else out["mse"].item()
    assert out["mse"].item() < 0.5 * first


def test_denoising_noise_only_in_training():
    m = model_of("homl-denoising-ae")
    x = torch.rand(2, 1, 28, 28)
    m.eval()
    assert torch.equal(m.encode(x), m.encode(x))
    m.train()
    assert not torch.equal(m.encode(x), m.encode(x))


def test_save_load_round_trip(tmp_path):
    from safetensors.torch import load_file, save_file

    m = model_of("vae-faces").eval()
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(tmp_path / "w.safetensors"))
    m2 = model_of("vae-faces")
    m2.load_state_dict(load_file(str(tmp_path / "w.safetensors")))
    m2.eval()
    x = torch.rand(2, 3, 128, 128)
    assert torch.equal(m.reconstruct(x), m2.reconstruct(x))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(m.sample(2, generator=g1), m2.sample(2, generator=g2))


def test_decoder_channel_mismatch_is_a_clear_error():
    from genzoo.config import ConfigError

    with pytest.raises(ConfigError, match="decoder_filters ends with 1 channels"):
        model_of("vae-digits", input_shape=[3, 28, 28])
