"""Progressive growing (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation", §2 and Table 2; Géron ch. 17, "Progressive growing of GANs"; Foster 1st ed. §9).

The generator and discriminator are built for every resolution from 4×4 to the data's size at once; which part
runs is chosen per call by ``level`` (0: 4×4, ``k``: 4·2ᵏ) and the fade-in weight ``alpha``:

* generator: 4×4 stem, then per level ×2 nearest upsampling and two 3×3 "same" convs, each followed by LeakyReLU(0.2)
  and pixelwise feature normalisation; a 1×1 to-RGB layer per level. While level ``k`` fades in, the level-(k-1)
  to-RGB image is upsampled by nearest neighbour and blended with the new to-RGB: ``(1-α)·old + α·new`` (Fig. 2).
* discriminator: a 1×1 from-RGB layer per level, per level two 3×3 convs and 2×2 average pooling, and a 4×4 head
  with the minibatch standard deviation (§3), a 3×3 conv, a 4×4 "conv" (a dense layer on the 4×4 map) and the
  linear score. While level ``k`` fades in, the image is also average-pooled into the level-(k-1) from-RGB and the
  two paths are blended after the new block.
* :func:`fade_reals`: the real images the discriminator sees at a level, average-pooled to its size and, during a
  fade, blended the same way between their low-resolution (pooled, upsampled) and full version (§A.1).
* :class:`GrowthSchedule`: the level and α after a number of images shown to the discriminator (stable phase,
  then fade and stable phase per new level).

Every layer has the equalized learning rate (:mod:`genzoo.nn.equalized`, §4.1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDevMaps, PixelNorm


@dataclass(frozen=True)
class GrowthSchedule:
    """ProGAN's schedule counted in real images shown to the discriminator (§A.1: 800k images per phase).

    Level 0 (4×4) trains for ``stable_images``; each further level ``k = 1 … levels`` fades in over ``fade_images``
    (α rising linearly from 0 to 1) and then trains for ``stable_images`` at α = 1. After :attr:`end` the full
    resolution trains on.
    """

    levels: int
    fade_images: int
    stable_images: int

    @property
    def period(self) -> int:
        return self.fade_images + self.stable_images

    @property
    def end(self) -> int:
        """Images after which the last level is fully faded in and has trained its stable phase."""
        return self.stable_images + self.levels * self.period

    def fade_start(self, level: int) -> int:
        """Images at which ``level`` (≥ 1) starts fading in (= the end of level − 1's stable phase)."""
        return self.stable_images + (level - 1) * self.period

    def at(self, images: int) -> tuple[int, float]:
        """(level, α) of the step that starts after ``images`` real images."""
        if images < self.stable_images:
            return 0, 1.0
        k, r = divmod(images - self.stable_images, self.period)
        if k + 1 > self.levels:
            return self.levels, 1.0
        return k + 1, min(1.0, r / self.fade_images)


def resolution(level: int) -> int:
    return 4 * 2 ** level


def levels_for(size: int) -> int | None:
    """The top level of a ``size``×``size`` image (None when ``size`` is not 4·2ᵏ)."""
    k = math.log2(size / 4) if size >= 4 else -1
    return int(k) if k >= 0 and k == int(k) else None


def upsample(x: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour upsampling by an integer factor (identity for 1)."""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def fade_reals(x: Tensor, level: int, alpha: float, top: int) -> Tensor:
    """Real images of the top level ``top`` as the discriminator sees them at ``level``: average-pooled by
    2^(top − level), and during a fade (α < 1) blended ``(1-α)·up(pool(x)) + α·x`` like the generator's
    output."""
    if top > level:
        x = F.avg_pool2d(x, 2 ** (top - level))
    if alpha < 1 and level > 0:
        x = torch.lerp(upsample(F.avg_pool2d(x, 2), 2), x, alpha)
    return x


class _ConvAct(nn.Sequential):
    """Equalized 3×3 "same" conv → LeakyReLU (→ pixel norm in the generator)."""

    def __init__(self, c_in: int, c_out: int, slope: float, pixel_norm: bool, kernel: int = 3):
        layers: list[nn.Module] = [EqualizedConv2d(c_in, c_out, kernel), nn.LeakyReLU(slope)]
        if pixel_norm:
            layers.append(PixelNorm())
        super().__init__(*layers)


class GeneratorStem(nn.Module):
    """z → pixel norm → dense to C×4×4 (the paper's 4×4 conv on a 1×1 input; gain √2/4 as in the official
    code) → LeakyReLU → pixel norm → 3×3 conv → LeakyReLU → pixel norm."""

    def __init__(self, z_dim: int, channels: int, slope: float):
        super().__init__()
        self.channels = channels
        self.norm = PixelNorm()
        self.dense = EqualizedLinear(z_dim, channels * 16, gain=math.sqrt(2) / 4)
        self.act = nn.Sequential(nn.LeakyReLU(slope), PixelNorm())
        self.conv = _ConvAct(channels, channels, slope, pixel_norm=True)

    def forward(self, z: Tensor) -> Tensor:
        h = self.dense(self.norm(z)).view(-1, self.channels, 4, 4)
        return self.conv(self.act(h))


class GeneratorBlock(nn.Sequential):
    """One generator level: ×2 nearest upsampling, then two 3×3 conv → LeakyReLU → pixel norm."""

    def __init__(self, c_in: int, c_out: int, slope: float):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), _ConvAct(c_in, c_out, slope, True),
                         _ConvAct(c_out, c_out, slope, True))


class DiscriminatorBlock(nn.Sequential):
    """One discriminator level: two 3×3 conv → LeakyReLU (C_k → C_k → C_(k-1)), then 2×2 average pooling."""

    def __init__(self, c_in: int, c_out: int, slope: float):
        super().__init__(_ConvAct(c_in, c_in, slope, False), _ConvAct(c_in, c_out, slope, False), nn.AvgPool2d(2))


class DiscriminatorHead(nn.Module):
    """The 4×4 level: minibatch stddev map → 3×3 conv → LeakyReLU → dense (the 4×4 conv) → LeakyReLU →
    score."""

    def __init__(self, channels: int, slope: float, group_size: int = 4):
        super().__init__()
        self.mbstd = MinibatchStdDevMaps(group_size)
        self.conv = _ConvAct(channels + 1, channels, slope, False)
        self.dense = nn.Sequential(nn.Flatten(), EqualizedLinear(channels * 16, channels), nn.LeakyReLU(slope))
        self.score = EqualizedLinear(channels, 1, gain=1.0)

    def forward(self, h: Tensor) -> Tensor:
        return self.score(self.dense(self.conv(self.mbstd(h)))).squeeze(1)


class ProgressiveGenerator(nn.Module):
    """G(z, level, α): images at resolution 4·2^level; ``channels[k]`` feature maps at level ``k``.

    The blocks and to-RGB layers of every level exist from the start (fixed-shape optimizer state and checkpoints);
    the ones above ``level`` are simply not run.
    """

    def __init__(self, z_dim: int, channels: list[int], image_channels: int, slope: float = 0.2):
        super().__init__()
        self.top = len(channels) - 1
        self.stem = GeneratorStem(z_dim, channels[0], slope)
        self.blocks = nn.ModuleList(GeneratorBlock(channels[k - 1], channels[k], slope) for k in range(1, self.top + 1))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, image_channels, 1, gain=1.0) for c in channels)

    def forward(self, z: Tensor, level: int | None = None, alpha: float = 1.0) -> Tensor:
        level = self.top if level is None else level
        h = self.stem(z)
        for block in self.blocks[:max(level - 1, 0)]:
            h = block(h)
        if level == 0:
            return self.to_rgb[0](h)
        new = self.to_rgb[level](self.blocks[level - 1](h))
        if alpha >= 1:
            return new
        return torch.lerp(upsample(self.to_rgb[level - 1](h), 2), new, alpha)


class ProgressiveDiscriminator(nn.Module):
    """D(x, α): a score per image; the level is read from the image size (4·2^level)."""

    def __init__(self, channels: list[int], image_channels: int, slope: float = 0.2, group_size: int = 4):
        super().__init__()
        self.top = len(channels) - 1
        self.from_rgb = nn.ModuleList(nn.Sequential(EqualizedConv2d(image_channels, c, 1), nn.LeakyReLU(slope))
                                      for c in channels)
        self.blocks = nn.ModuleList(DiscriminatorBlock(channels[k], channels[k - 1], slope)
                                    for k in range(1, self.top + 1))
        self.head = DiscriminatorHead(channels[0], slope, group_size)

    def forward(self, x: Tensor, alpha: float = 1.0) -> Tensor:
        level = levels_for(x.shape[-1])
        if level is None or level > self.top:
            raise ValueError(f"the discriminator takes 4·2^k px images up to {resolution(self.top)} px, "
                             f"got {x.shape[-1]}")
        h = self.from_rgb[level](x)
        if level > 0:
            h = self.blocks[level - 1](h)
            if alpha < 1:
                h = torch.lerp(self.from_rgb[level - 1](F.avg_pool2d(x, 2)), h, alpha)
            for k in range(level - 1, 0, -1):
                h = self.blocks[k - 1](h)
        return self.head(h)


__all__ = ["DiscriminatorBlock", "DiscriminatorHead", "GeneratorBlock", "GeneratorStem", "GrowthSchedule",
           "ProgressiveDiscriminator", "ProgressiveGenerator", "fade_reals", "levels_for", "resolution", "upsample"]
