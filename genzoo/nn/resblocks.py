"""The residual up- and down-sampling blocks of SAGAN's and BigGAN's networks (Zhang et al. 2019, §5; Brock et al.
2019, Appendix B, Fig. 15; Miyato et al. 2018, "Spectral Normalization for GANs", Appendix B.4), and spectral
normalisation applied to every layer.

* :class:`GBlock` — BN → ReLU → nearest ×2 upsample → 3×3 conv → BN → ReLU → 3×3 conv, plus a 1×1-conv shortcut of
  the upsampled input. The batch norms are :class:`~genzoo.nn.conditional_norm.ConditionalBatchNorm2d`, conditional
  when the block is given a condition size (BigGAN's class embedding + z chunk), plain otherwise.
* :class:`DBlock` — (ReLU →) 3×3 conv → ReLU → 3×3 conv → 2×2 average pool, plus a 1×1-conv shortcut; the first
  block of a discriminator skips the leading ReLU and pools its shortcut *before* the 1×1 conv (BigGAN's
  ``preactivation=False`` block: the ReLU would throw away half of the image's values).
* :func:`spectral_norm` — ``torch.nn.utils.parametrizations.spectral_norm`` (Miyato et al. 2018): ``W / σ(W)`` with
  σ estimated by one power iteration per training forward. We use the library's parametrisation, not a copy of
  it: it is maintained and tested upstream, keeps ``u``/``v`` as registered buffers (so checkpoints resume the
  power iteration exactly), runs no iteration in ``eval()`` and works inside :class:`~genzoo.nn.UpsampleConv2d`
  because that layer reads ``self.weight``.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrizations

from .conditional_norm import ConditionalBatchNorm2d
from .layers import UpsampleConv2d


def spectral_norm(module: nn.Module) -> nn.Module:
    """``module`` with its ``weight`` divided by its largest singular value (one power iteration per step)."""
    return parametrizations.spectral_norm(module)


def identity(module: nn.Module) -> nn.Module:
    return module


class GBlock(nn.Module):
    """BigGAN's generator block (Fig. 15 b, without the bottleneck of BigGAN-deep): doubles the resolution."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int = 0, wrap=identity, bn_momentum: float = 0.1):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(c_in, cond_dim, bn_momentum, wrap=wrap)
        # Upsample(×2) + 3×3 conv computed as one conv of the small map (same function, 4/9 of the multiply-adds)
        self.conv1 = wrap(UpsampleConv2d(c_in, c_out, 3))
        self.bn2 = ConditionalBatchNorm2d(c_out, cond_dim, bn_momentum, wrap=wrap)
        self.conv2 = wrap(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.shortcut = wrap(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = self.conv1(F.relu(self.bn1(x, cond)))
        h = self.conv2(F.relu(self.bn2(h, cond)))
        # a 1×1 conv commutes with nearest upsampling: convolve the small map, then upsample
        return h + F.interpolate(self.shortcut(x), scale_factor=2, mode="nearest")


class DBlock(nn.Module):
    """BigGAN's discriminator block (Fig. 15 c): halves the resolution when ``downsample``."""

    def __init__(self, c_in: int, c_out: int, downsample: bool = True, preactivation: bool = True, wrap=identity):
        super().__init__()
        self.conv1 = wrap(nn.Conv2d(c_in, c_out, 3, padding=1))
        self.conv2 = wrap(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.learnable_shortcut = c_in != c_out or downsample
        self.shortcut = wrap(nn.Conv2d(c_in, c_out, 1)) if self.learnable_shortcut else None
        self.downsample, self.preactivation = downsample, preactivation

    def _pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self._pool(self.conv2(F.relu(self.conv1(h))))
        if self.shortcut is None:
            return h + x
        sc = self._pool(self.shortcut(x)) if self.preactivation else self.shortcut(self._pool(x))
        return h + sc


__all__ = ["DBlock", "GBlock", "identity", "spectral_norm"]
