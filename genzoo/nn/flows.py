"""Invertible layers for normalising flows — RealNVP (Dinh et al. 2017; Foster 2nd ed. ch. 6).

Every layer maps x → (y, log|det ∂y/∂x|) per sample and has an exact ``inverse``. Affine coupling keeps
the masked part of the input and transforms the rest as y = x·exp(s(x_m)) + t(x_m); the Jacobian is
triangular, so its log-determinant is Σ s over the transformed entries. Masks are checkerboards (spatial)
or halves of the channels; ``Squeeze`` trades 2×2 space for 4× channels; ``ActNorm`` (Kingma & Dhariwal
2018) is a per-channel affine map initialised from the first batch to zero mean and unit variance.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) per sample, summed over every non-batch dimension: a flow's prior term."""
    return (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)


def checkerboard_mask(height: int, width: int, parity: int = 0) -> Tensor:
    """1×1×H×W mask with 1 where (row + col + parity) is even: the entries a coupling keeps."""
    rows = torch.arange(height)[:, None]
    cols = torch.arange(width)[None, :]
    return ((rows + cols + parity) % 2 == 0).float()[None, None]


def channel_mask(channels: int, parity: int = 0) -> Tensor:
    """1×C×1×1 (or 1×C for vectors, see ``ndim``) mask keeping the first (parity 0) or second half of channels."""
    m = torch.zeros(channels)
    half = channels // 2
    if parity == 0:
        m[:half] = 1
    else:
        m[half:] = 1
    return m


class AffineCoupling(nn.Module):
    """y = m·x + (1−m)·(x·exp(s) + t) with (s, t) = net(m·x); s = scale · tanh(raw) keeps the step bounded
    (RealNVP's tanh scale, with a learned per-channel ``scale``, or fixed at 1 as in Foster's two-moons
    notebook when ``learned_scale`` is False)."""

    def __init__(self, mask: Tensor, net: nn.Module, channels: int, learned_scale: bool = True):
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = net
        shape = (1, channels) + (1,) * (mask.ndim - 2)
        if learned_scale:
            self.scale = nn.Parameter(torch.ones(shape))
        else:
            self.register_buffer("scale", torch.ones(shape))

    def _st(self, x_masked: Tensor) -> tuple[Tensor, Tensor]:
        raw_s, t = self.net(x_masked).chunk(2, dim=1)
        keep = 1 - self.mask
        return self.scale * torch.tanh(raw_s) * keep, t * keep

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._st(x * self.mask)
        y = x * self.mask + (1 - self.mask) * (x * torch.exp(s) + t)
        return y, s.flatten(1).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        s, t = self._st(y * self.mask)
        return y * self.mask + (1 - self.mask) * ((y - t) * torch.exp(-s))


class Squeeze(nn.Module):
    """N×C×H×W → N×4C×H/2×W/2 (each 2×2 block becomes 4 channels); volume-preserving."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        y = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)
        return y, x.new_zeros(n)

    def inverse(self, y: Tensor) -> Tensor:
        n, c4, h, w = y.shape
        c = c4 // 4
        return y.reshape(n, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c, 2 * h, 2 * w)


class ActNorm(nn.Module):
    """y = (x + b)·exp(log_s) per channel; b and log_s set from the first batch so y starts standardised."""

    def __init__(self, channels: int, ndim: int = 4):
        super().__init__()
        shape = (1, channels) + (1,) * (ndim - 2)
        self.bias = nn.Parameter(torch.zeros(shape))
        self.log_scale = nn.Parameter(torch.zeros(shape))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def _init(self, x: Tensor) -> None:
        dims = [0] + list(range(2, x.ndim))
        self.bias.copy_(-x.mean(dims, keepdim=True))
        self.log_scale.copy_(-torch.log(x.std(dims, keepdim=True).clamp_min(1e-6)))
        self.initialised.fill_(True)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not bool(self.initialised) and self.training:
            self._init(x)
        y = (x + self.bias) * torch.exp(self.log_scale)
        per_position = x[0, 0].numel()
        return y, (self.log_scale.sum() * per_position).expand(len(x))

    def inverse(self, y: Tensor) -> Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


class FlowSequence(nn.Module):
    """Layers applied in order; log-determinants add."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(len(x))
        for layer in self.layers:
            x, logdet = layer(x)
            total = total + logdet
        return x, total

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y
