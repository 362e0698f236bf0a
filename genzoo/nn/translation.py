"""The networks of image-to-image translation (Foster 1st ed. ch. 5, CycleGAN; §9, pix2pix; issue 18, first step).

* :class:`UNetGenerator` — Listing 5.2 (``build_generator_unet``, after Ronneberger et al. 2015): four
  downsamples (Conv k4 s2 "same" → instance norm without affine parameters → ReLU, ``f``·1, 2, 4, 8 filters), three
  upsamples (UpSampling ×2 → Conv k4 s1 "same" → instance norm → ReLU → concatenation with the encoder's map of the
  same size), a last UpSampling ×2 and Conv k4 s1 to the image's channels with tanh. The skips carry the layout
  past the bottleneck, which keeps the "what".
* :class:`ResNetGenerator` — the Monet recipe's generator (Listing 5.8; Johnson et al. 2016, Zhu et al. 2017):
  reflection-padded c7s1-``f``, two stride-2 3×3 downsamples (2f, 4f), ``blocks`` residual blocks (reflection pad →
  3×3 conv → IN → ReLU → reflection pad → 3×3 conv → IN, added to the input), two stride-2 transposed 3×3 upsamples,
  and a reflection-padded 7×7 conv to the channels with tanh.
* :class:`Pix2PixUNet` — pix2pix's generator (Isola et al. 2017, §3.2.1 and appendix 6.1.1, "U-Net-256"): ``depth``
  stride-2 k4 convolutions C64-C128-C256-C512-C512-… (LeakyReLU 0.2 before each but the first; normalised but the
  first and the innermost), mirrored by stride-2 transposed convolutions (ReLU before each; dropout 0.5 on the
  512-wide decoder layers next to the innermost, "CD512"), each decoder layer's output concatenated with the encoder
  map of its size, tanh out. ``depth`` = log2(size) takes the bottleneck to 1×1, as the paper's 8 at 256 px.
* :class:`PatchDiscriminator` — Listing 5.3 (PatchGAN, Isola et al. 2017): Conv k4 ("same") → instance norm
  (not on the first layer) → LeakyReLU 0.2 with ``f``·1, 2, 4, 8 filters and strides 2, 2, 2, 1, then Conv k4 s1 to
  one channel with no activation: one validity score per overlapping patch. With three stride-2 layers a 128-px
  input gives a 16×16 map (the book's erratum: its text says 8×8, its code ``img_rows / 2**4``).
  ``condition_channels`` > 0 makes it pix2pix's conditional discriminator (the input image concatenated).

Keras' "same" padding of an even kernel at stride 1 pads one more pixel at the bottom/right; :func:`conv4_same`
does the same, so the maps line up with the book's.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def conv4_same(c_in: int, c_out: int) -> nn.Sequential:
    """Keras' ``Conv2D(k=4, strides=1, padding="same")``: the even kernel pads 1 pixel at the top/left and 2 at the
    bottom/right (explicitly, so no padded copy of each input is made inside the convolution)."""
    return nn.Sequential(nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(c_in, c_out, 4))


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """keras-contrib's ``InstanceNormalization(axis=-1, center=False, scale=False)``: no γ/β, no running stats."""
    return nn.InstanceNorm2d(channels, affine=False, eps=1e-3)


class UNetGenerator(nn.Module):
    """Listing 5.2's U-Net: ``image_size`` must be divisible by 16."""

    def __init__(self, channels: int = 3, filters: int = 32):
        super().__init__()
        f = filters
        widths = [f, 2 * f, 4 * f, 8 * f]
        self.down = nn.ModuleList()
        c = channels
        for w in widths:
            self.down.append(nn.Sequential(nn.Conv2d(c, w, 4, 2, 1), instance_norm(w), nn.ReLU()))
            c = w
        self.up = nn.ModuleList()
        for w, skip in zip(reversed(widths[:-1]), reversed(widths[:-1])):
            self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                         conv4_same(c, w), instance_norm(w), nn.ReLU()))
            c = w + skip
        self.out = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                 conv4_same(c, channels), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        for layer, skip in zip(self.up, reversed(skips[:-1])):
            x = torch.cat([layer(x), skip], 1)
        return self.out(x)


class ResidualBlock(nn.Module):
    """Listing 5.8 with the paper's reflection padding: x + IN(conv(ReLU(IN(conv(x)))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), instance_norm(channels),
                                  nn.ReLU(), nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
                                  instance_norm(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """c7s1-f, d2f, d4f, ``blocks`` × R4f, u2f, uf, c7s1-channels (Zhu et al. 2017, appendix 7.2)."""

    def __init__(self, channels: int = 3, filters: int = 32, blocks: int = 9):
        super().__init__()
        f = filters
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, f, 7), instance_norm(f), nn.ReLU()]
        for c_in, c_out in ((f, 2 * f), (2 * f, 4 * f)):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), instance_norm(c_out), nn.ReLU()]
        layers += [ResidualBlock(4 * f) for _ in range(blocks)]
        for c_in, c_out in ((4 * f, 2 * f), (2 * f, f)):
            layers += [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1), instance_norm(c_out), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(f, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Pix2PixUNet(nn.Module):
    """pix2pix's U-Net; 54,413,955 parameters at ``depth`` 8, ``filters`` 64 (the reference code's ``unet_256`` logs
    "54.414 M").

    The paper's batch norm at batch size 1 — trained, and at test time applied "using the statistics of the test
    batch" (§3.3) — is instance norm; this uses instance norm with affine parameters (the same parameter count), so
    larger batches keep the paper's per-image normalisation. The dropout stays on at test time in the paper as its
    only noise; here it follows the module's train/eval mode (deterministic translations in eval).
    """

    def __init__(self, channels: int = 3, filters: int = 64, depth: int = 8, dropout: float = 0.5,
                 out_channels: int | None = None):
        super().__init__()
        if depth < 2:
            raise ValueError("Pix2PixUNet needs depth >= 2")
        w = [min(filters * 2 ** i, filters * 8) for i in range(depth)]
        self.down = nn.ModuleList()
        for i in range(depth):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(channels if i == 0 else w[i - 1], w[i], 4, 2, 1, bias=False))
            if 0 < i < depth - 1:
                layers.append(nn.InstanceNorm2d(w[i], affine=True))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in range(depth):
            c_in = w[i] if i == depth - 1 else 2 * w[i]
            if i == 0:
                layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, out_channels or channels, 4, 2, 1), nn.Tanh()]
            else:
                layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, w[i - 1], 4, 2, 1, bias=False),
                          nn.InstanceNorm2d(w[i - 1], affine=True)]
                if 4 <= i < depth - 1 and dropout > 0:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self.up[-1](skips[-1])
        for i in range(len(self.up) - 2, -1, -1):
            x = self.up[i](torch.cat([skips[i], x], 1))
        return x


class PatchDiscriminator(nn.Module):
    """Listing 5.3's PatchGAN; returns ``[N, 1, H/8, W/8]`` validity logits (LSGAN targets 1 real, 0 fake)."""

    def __init__(self, channels: int = 3, filters: int = 32, condition_channels: int = 0):
        super().__init__()
        f = filters
        layers: list[nn.Module] = []
        c = channels + condition_channels
        for i, (w, stride) in enumerate(zip((f, 2 * f, 4 * f, 8 * f), (2, 2, 2, 1))):
            layers.append(nn.Conv2d(c, w, 4, 2, 1) if stride == 2 else conv4_same(c, w))
            if i > 0:
                layers.append(instance_norm(w))
            layers.append(nn.LeakyReLU(0.2))
            c = w
        layers.append(conv4_same(c, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.net(x if condition is None else torch.cat([x, condition], 1))


__all__ = ["PatchDiscriminator", "Pix2PixUNet", "conv4_same", "ResNetGenerator", "ResidualBlock", "UNetGenerator", "instance_norm"]
