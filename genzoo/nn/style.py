"""The blocks of the style-based generators: StyleGAN (Karras et al. 2019, "A Style-Based Generator Architecture for
GANs", §2, Fig. 1b) and StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN",
§2, Fig. 2d); Géron ch. 17 ("StyleGANs"), Foster 1st ed. §9 and 2nd ed. ch. 10.

* :class:`MappingNetwork` — z → w: pixel norm on z, then dense layers with the equalized learning rate and a
  learning-rate multiplier of 0.01 (§C of the StyleGAN paper), leaky ReLU 0.2.
* :class:`NoiseInjection` — "B": single-channel Gaussian noise added to every feature map with a learned
  per-channel scale, initialised to zero (official code).
* :class:`AdaIN` — "A" + adaptive instance normalisation: ``y_s · (x − μ(x)) / σ(x) + y_b`` per channel, with the
  style ``(y_s, y_b)`` a learned affine map of w (the scale's bias starts at 1, so each layer starts as an
  identity-scaled instance norm).
* :class:`ModulatedConv2d` — StyleGAN2's weight modulation and demodulation (§2.2, eq. 1-3):
  ``w'_ijk = s_i · w_ijk`` and ``w''_ijk = w'_ijk / sqrt(Σ_{i,k} w'_ijk² + ε)``. Computed as the paper's
  official ``fused_modconv=False`` path: scale the *activations* by ``s``, run one shared convolution, scale the
  output by the demodulation coefficients — the same numbers as per-sample weights, with one convolution for the
  whole batch.
* :func:`mix_styles`, :func:`crossover_points` — style-mixing regularisation (§3.1): per-layer styles from w₁
  before a crossover layer and from w₂ from it on, one crossover per sample, as a mask (no loop over samples).
* :func:`truncate` — the truncation trick in W (§3 / App. B): ``w' = w̄ + ψ(w − w̄)`` on the layers below a cutoff.
* :class:`DiscriminatorBlock` and :class:`DiscriminatorEpilogue` — the discriminator at one resolution: two 3×3
  convs and a 2× average-pool down (StyleGAN's ProGAN-style D), or the same with a 1×1 residual skip added and
  scaled by 1/√2 (StyleGAN2's residual D, Fig. 7); the 4×4 epilogue with minibatch stddev, conv, dense, logit.
* :class:`StepCounter` — a step count in a buffer (resumes exactly) with a host mirror, for the lazy
  regularisation of StyleGAN2 (§3.1: R1 every 16 minibatches) without a device sync per step.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDevMaps, PixelNorm

LRELU_SLOPE = 0.2


class MappingNetwork(nn.Module):
    """StyleGAN's 8-layer MLP f: Z → W (Fig. 1b): PixelNorm(z), then ``layers`` equalized dense layers with
    ``lr_multiplier`` (0.01 in the paper), each followed by LeakyReLU(0.2)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int = 8, lr_multiplier: float = 0.01):
        super().__init__()
        self.norm = PixelNorm()
        dims = [z_dim] + [w_dim] * layers
        self.layers = nn.ModuleList(EqualizedLinear(a, b, lr_multiplier=lr_multiplier) for a, b in zip(dims, dims[1:]))

    def forward(self, z: Tensor) -> Tensor:
        x = self.norm(z)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), LRELU_SLOPE)
        return x


class NoiseInjection(nn.Module):
    """``x + b · noise``: one N(0, 1) map per image broadcast over channels, scaled per channel by ``b`` (the
    "B" boxes of Fig. 1b; zero at initialisation as in the official code)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        return x + self.weight.view(1, -1, 1, 1) * noise.to(x.dtype)


class AdaIN(nn.Module):
    """Adaptive instance normalisation (Huang & Belongie 2017; StyleGAN eq. 1) with its learned affine map "A":
    ``AdaIN(x, y) = y_s · (x − μ(x)) / σ(x) + y_b``, μ and σ per image and channel over the pixels."""

    def __init__(self, channels: int, w_dim: int, eps: float = 1e-8):
        super().__init__()
        self.scale = EqualizedLinear(w_dim, channels, gain=1.0, bias_init=1.0)
        self.shift = EqualizedLinear(w_dim, channels, gain=1.0)
        self.eps = eps

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return adain(x, self.scale(w), self.shift(w), self.eps)


def adain(x: Tensor, scale: Tensor, shift: Tensor, eps: float = 1e-8) -> Tensor:
    """``scale · instance_norm(x) + shift`` with ``scale`` and ``shift`` of shape ``[N, C]``."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    x = x * torch.rsqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + eps)
    return scale[:, :, None, None] * x + shift[:, :, None, None]


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated convolution (§2.2): the style ``s = A(w)`` (bias 1) scales the input channels of the
    weight, and demodulation rescales each output channel so that unit-variance inputs give unit-variance outputs.
    Without demodulation (the to-RGB layers) the weight carries the equalized-lr constant ``1/sqrt(fan_in)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, w_dim: int, demodulate: bool = True,
                 eps: float = 1e-8):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.demodulate, self.eps, self.padding = demodulate, eps, kernel // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        s = self.affine(w)                                           # [N, I]
        weight = self.weight * self.scale
        out = F.conv2d(x * s[:, :, None, None].to(x.dtype), weight, padding=self.padding)
        if self.demodulate:
            # Σ_{i,k} (s_i w_oik)² = (s²) · (Σ_k w_oik²)ᵀ, for all samples in one matrix product
            d = torch.rsqrt(s.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t() + self.eps)   # [N, O]
            out = out * d[:, :, None, None].to(out.dtype)
        return out

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel={k}, demodulate={self.demodulate}"


def upsample2x(x: Tensor, mode: str = "bilinear") -> Tensor:
    """Double the resolution: ``bilinear`` (the papers' [1, 2, 1]-style low-pass after nearest, approximated) or
    ``nearest``."""
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2, mode="nearest")
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def crossover_points(n: int, num_styles: int, probability: float, device: torch.device | str = "cpu") -> Tensor:
    """Per sample, the first layer that takes its style from the second latent (§3.1): with ``probability`` a
    uniform crossover in ``1 … num_styles − 1``, otherwise ``num_styles`` (no mixing)."""
    cut = torch.randint(1, max(num_styles, 2), (n,), device=device)
    mixed = torch.rand(n, device=device) < probability
    return torch.where(mixed, cut, torch.full_like(cut, num_styles))


def mix_styles(w1: Tensor, w2: Tensor, crossover: Tensor, num_styles: int) -> Tensor:
    """Per-layer styles ``[N, L, D]``: ``w1`` on layers ``< crossover[n]``, ``w2`` from it on (``w``: ``[N, D]``
    or already per layer ``[N, L, D]``)."""
    if w1.dim() == 2:
        w1 = w1[:, None].expand(-1, num_styles, -1)
    if w2.dim() == 2:
        w2 = w2[:, None].expand(-1, num_styles, -1)
    layer = torch.arange(num_styles, device=w1.device)
    take_second = layer[None, :] >= crossover.to(w1.device)[:, None]            # [N, L]
    return torch.where(take_second[:, :, None], w2, w1)


def truncate(ws: Tensor, w_avg: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
    """``w̄ + ψ(w − w̄)`` on the layers below ``cutoff`` (all layers if None). ``torch.lerp`` is exact at the
    ends: ψ = 1 returns ``ws`` bit for bit, ψ = 0 returns w̄."""
    out = torch.lerp(w_avg.to(ws.dtype).expand_as(ws), ws, psi)
    if cutoff is None or cutoff >= ws.shape[1]:
        return out
    return torch.cat([out[:, :cutoff], ws[:, cutoff:]], 1)


class DiscriminatorBlock(nn.Module):
    """``in → in`` 3×3, ``in → out`` 3×3, each with LeakyReLU(0.2), then a 2× average-pool; ``residual``: plus a
    1×1 (no bias, gain 1) skip of the pooled input, the sum scaled by 1/√2 (StyleGAN2 §4.1, Fig. 7c)."""

    def __init__(self, in_channels: int, out_channels: int, residual: bool):
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=1.0) if residual else None

    def forward(self, x: Tensor) -> Tensor:
        y = F.leaky_relu(self.conv0(x), LRELU_SLOPE)
        y = F.avg_pool2d(F.leaky_relu(self.conv1(y), LRELU_SLOPE), 2)
        if self.skip is None:
            return y
        return (y + self.skip(F.avg_pool2d(x, 2))) * math.sqrt(0.5)


class DiscriminatorEpilogue(nn.Module):
    """The 4×4 end of both discriminators (ProGAN Table 2): minibatch stddev maps, 3×3 conv, dense, dense logit."""

    def __init__(self, channels: int, group_size: int = 4, stddev_channels: int = 1):
        super().__init__()
        self.mbstd = MinibatchStdDevMaps(group_size, stddev_channels)
        self.conv = EqualizedConv2d(channels + stddev_channels, channels, 3)
        self.dense = EqualizedLinear(channels * 16, channels)
        self.out = EqualizedLinear(channels, 1, gain=1.0)

    def forward(self, x: Tensor) -> Tensor:
        x = F.leaky_relu(self.conv(self.mbstd(x)), LRELU_SLOPE)
        x = F.leaky_relu(self.dense(x.flatten(1)), LRELU_SLOPE)
        return self.out(x).squeeze(1)


class StepCounter(nn.Module):
    """A count of calls kept as a long buffer (saved in checkpoints, so a resumed run regularises on the same
    steps) with a host-side mirror, so asking "is this a lazy step?" costs no device sync. The mirror is read
    from the buffer once after construction or loading."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self._host: int | None = None

    def tick(self) -> int:
        """The count before this call (0 on the first), then count + 1."""
        if self._host is None:
            self._host = int(self.count)
        n = self._host
        self._host += 1
        self.count.fill_(self._host)
        return n

    def _load_from_state_dict(self, *args, **kwargs):  # type: ignore[override]
        super()._load_from_state_dict(*args, **kwargs)
        self._host = None


__all__ = ["AdaIN", "DiscriminatorBlock", "DiscriminatorEpilogue", "MappingNetwork", "ModulatedConv2d", "NoiseInjection", "StepCounter", "adain",
           "crossover_points", "mix_styles", "truncate", "upsample2x"]
