"""The layers the style-based and progressive GANs share (Karras et al. 2018, "Progressive Growing of GANs", §4;
Karras et al. 2019, "A Style-Based Generator Architecture for GANs", §2; Géron ch. 17, "Progressive growing").

* :class:`EqualizedLinear` and :class:`EqualizedConv2d` — the *equalized learning rate* (ProGAN §4.1): weights are
  stored as ``N(0, 1) / lr_multiplier`` and multiplied at run time by He's constant ``sqrt(2 / fan_in)`` (times
  ``gain / sqrt(2)``) and by ``lr_multiplier``, so Adam's step, which is invariant to the scale of a parameter,
  moves every layer at the same relative speed. StyleGAN's mapping network uses ``lr_multiplier = 0.01`` (§C).
* :class:`PixelNorm` — pixelwise feature vector normalisation in the generator (ProGAN §4.2):
  ``b = a / sqrt(mean_c a² + ε)`` at every pixel; StyleGAN applies it to z before the mapping network.
* :class:`MinibatchStdDevMaps` — ProGAN's minibatch standard deviation (§3) on feature maps: per group of ``G``
  images, the standard deviation of every feature at every pixel, averaged to one number per group (per
  ``channels`` slice, StyleGAN2's ``num_channels``) and appended as constant feature map(s).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class EqualizedLinear(nn.Module):
    """A dense layer with the equalized learning rate: ``y = x (w·c)ᵀ + b·lr_multiplier``, ``c = gain·lr/√fan_in``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = math.sqrt(2),
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier)) if bias else None
        self.scale = gain / math.sqrt(in_features) * lr_multiplier
        self.lr_multiplier = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_multiplier
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        o, i = self.weight.shape
        return f"{i}, {o}, lr_multiplier={self.lr_multiplier:g}"


class EqualizedConv2d(nn.Module):
    """A "same"-padded stride-1 convolution with the equalized learning rate (ProGAN's 3×3 and 1×1 to/from-RGB)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True,
                 gain: float = math.sqrt(2), lr_multiplier: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel * kernel) * lr_multiplier
        self.lr_multiplier, self.padding = lr_multiplier, kernel // 2

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_multiplier
        return F.conv2d(x, self.weight * self.scale, bias, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel={k}"


class PixelNorm(nn.Module):
    """``a / sqrt(mean over channels of a² + ε)`` at every position (ProGAN §4.2, ε = 1e-8); works on ``[N, C]``
    vectors and ``[N, C, H, W]`` maps alike."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps)


class MinibatchStdDevMaps(nn.Module):
    """Append ``channels`` feature maps holding the group's mean standard deviation (ProGAN §3, group size 4).

    The batch is split into groups of ``group_size`` (the whole batch when it is not divisible, so any batch
    works); within a group the standard deviation of each feature at each pixel is averaged over features and
    pixels, per slice of ``C / channels`` features, and broadcast to every image of the group.
    """

    def __init__(self, group_size: int = 4, channels: int = 1):
        super().__init__()
        self.group_size, self.channels = group_size, channels

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = self.group_size if n % self.group_size == 0 else n
        f = self.channels
        y = x.float().reshape(g, -1, f, c // f, h, w)             # [G, M, F, C/F, H, W]
        y = (y.var(0, unbiased=False) + 1e-8).sqrt()               # [M, F, C/F, H, W]
        y = y.mean(dim=(2, 3, 4))                                  # [M, F]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w).to(x.dtype)  # [N, F, H, W]: image i is in group i % M
        return torch.cat([x, y], 1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, channels={self.channels}"


__all__ = ["EqualizedConv2d", "EqualizedLinear", "MinibatchStdDevMaps", "PixelNorm"]
