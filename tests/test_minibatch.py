"""Minibatch layers of the GAN discriminators (Salimans et al. 2016 §3.2; Karras et al. 2018 §3)."""
from __future__ import annotations

import pytest
import torch

from genzoo.config import ConfigError
from genzoo.models.base import build_model
from genzoo.nn.minibatch import MinibatchDiscrimination, MinibatchStdDev


def test_minibatch_discrimination_measures_closeness_to_the_rest_of_the_batch():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(16, kernels=8, dims=3)
    varied = torch.randn(6, 16) * 3
    collapsed = varied[:1].expand(6, 16) + 1e-4 * torch.randn(6, 16)
    out_varied, out_collapsed = layer(varied), layer(collapsed)
    assert out_varied.shape == (6, 8)
    # a collapsed batch: every other item is (nearly) the same, so each kernel sums to about N - 1
    assert torch.allclose(out_collapsed, torch.full((6, 8), 5.0), atol=0.05)
    assert out_varied.mean() < 1.0
    # item i's features depend on the others, and on no copy of itself
    brute = torch.stack([sum(torch.exp(-((varied[i] @ layer.T).view(8, 3) - (varied[j] @ layer.T).view(8, 3)).abs()
                                       .sum(-1)) for j in range(6) if j != i) for i in range(6)])
    assert torch.allclose(out_varied, brute, atol=1e-5)


def test_minibatch_stddev_is_the_mean_feature_spread():
    h = torch.tensor([[0.0, 2.0], [2.0, 2.0]])
    assert torch.allclose(MinibatchStdDev()(h), torch.full((2, 1), 0.5), atol=1e-3)   # std 1 and 0, mean 0.5


@pytest.mark.parametrize("kind,extra", [("none", 0), ("std", 1), ("discrimination", 100)])
def test_discriminator_option_adds_the_batch_features(kind, extra):
    base = {"family": "gan", "input_shape": [1, 28, 28]}
    plain = build_model(base)
    model = build_model({**base, "d_minibatch": kind})
    head_in = model.discriminator.net.heads[0].in_features
    assert head_in == plain.discriminator.net.heads[0].in_features + extra
    x = torch.randn(8, 1, 28, 28)
    logits = model.discriminator(x)
    assert logits.shape == (8,)
    logits.sum().backward()
    if kind == "discrimination":
        assert model.discriminator.net.batch_features.T.grad.abs().sum() > 0
    if kind == "none":
        assert set(model.state_dict()) == set(plain.state_dict())      # old checkpoints keep their keys


def test_bad_minibatch_options_are_refused():
    with pytest.raises(ConfigError, match="d_minibatch must be"):
        build_model({"family": "gan", "d_minibatch": "both"})
    with pytest.raises(ConfigError, match="conv discriminators"):
        build_model({"family": "gan", "arch": "dense", "d_minibatch": "std"})
