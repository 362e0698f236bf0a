"""The equalized-learning-rate layers, pixel norm and minibatch-stddev maps (genzoo.nn.equalized)."""
import math

import torch

from genzoo.nn.equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDevMaps, PixelNorm


def test_equalized_layers_scale_unit_normal_weights_by_he_constant():
    torch.manual_seed(0)
    lin = EqualizedLinear(256, 64)
    assert abs(lin.weight.std().item() - 1) < 0.05              # stored N(0, 1)
    x = torch.randn(4096, 256)
    y = lin(x)
    assert abs(y.var().item() - 2.0) < 0.2                      # He: Var = 2 for unit inputs
    slow = EqualizedLinear(64, 64, lr_multiplier=0.01)
    assert abs(slow.weight.std().item() - 100) < 10             # stored N(0, 1) / lr
    assert abs(slow(torch.randn(4096, 64)).var().item() - 2.0) < 0.3
    conv = EqualizedConv2d(16, 8, 3)
    out = conv(torch.randn(64, 16, 8, 8))
    assert out.shape == (64, 8, 8, 8)
    ref = torch.nn.functional.conv2d(torch.randn(1, 16, 8, 8), conv.weight * math.sqrt(2 / (16 * 9)), padding=1)
    assert ref.shape == (1, 8, 8, 8)


def test_pixel_norm_gives_unit_rms_per_pixel():
    x = torch.randn(3, 5, 4, 4) * 7
    y = PixelNorm()(x)
    assert torch.allclose(y.pow(2).mean(1), torch.ones(3, 4, 4), atol=1e-4)


def test_minibatch_stddev_maps_match_a_brute_force_group_std():
    torch.manual_seed(1)
    x = torch.randn(8, 6, 3, 3)
    y = MinibatchStdDevMaps(group_size=4)(x)
    assert y.shape == (8, 7, 3, 3)
    for i in range(8):
        members = x[[j for j in range(8) if j % 2 == i % 2]]    # groups of 4: images i, i+2, i+4, i+6
        want = members.var(0, unbiased=False).add(1e-8).sqrt().mean()
        assert torch.allclose(y[i, 6], want.expand(3, 3), atol=1e-5)
    odd = MinibatchStdDevMaps(group_size=4)(torch.randn(6, 6, 2, 2))   # 6 % 4 != 0: one group of the batch
    assert odd.shape == (6, 7, 2, 2) and torch.allclose(odd[0, 6], odd[5, 6])
    two = MinibatchStdDevMaps(group_size=4, channels=2)(x)
    assert two.shape == (8, 8, 3, 3)
