"""Style-based GANs: StyleGAN (Karras et al. 2019, "A Style-Based Generator Architecture for GANs") and StyleGAN2
(Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"); Géron ch. 17 ("StyleGANs"),
Foster 1st ed. §9 and 2nd ed. ch. 10 (StyleGAN, StyleGAN2).

Both generators map z to w with the 8-layer mapping network, start from a learned constant 4×4 input and feed
w to every layer as a style, with per-layer noise ("B"). The blocks are in :mod:`genzoo.nn.style`.

* ``stylegan`` — Fig. 1b: each layer is [upsample →] 3×3 conv → noise → bias → LeakyReLU → AdaIN(style); one
  1×1 to-RGB at the end; the ProGAN-style discriminator (two 3×3 convs and a 2× pool per resolution, minibatch
  stddev at 4×4). The paper grows G and D progressively from 4×4; **here StyleGAN trains at full resolution
  from the start**, as StyleGAN2 does (the other generator and loss choices are the paper's). Upsampling is
  bilinear (the paper: nearest + a [1, 2, 1] low-pass, which bilinear approximates).
* ``stylegan2`` — Fig. 2d: AdaIN replaced by weight modulation/demodulation (§2.2), noise and bias outside the
  style block, the *skip* generator (to-RGB at every resolution, summed with the upsampled previous RGB,
  §4.1) and the *residual* discriminator (Fig. 7), no progressive growing.

Shared training choices (the papers' FFHQ configuration, §C of StyleGAN and §3 of StyleGAN2): the
non-saturating logistic loss, softplus(D(G(z))) + softplus(−D(x)) for D and softplus(−D(G(z))) for G, with the
R1 penalty γ/2·E‖∇ₓD(x)‖² on reals (γ = 10). StyleGAN2's R1 is *lazy*: computed every ``r1_interval`` = 16
discriminator minibatches and weighted by the interval (§3.1; we add it to that minibatch's loss rather than
taking a separate optimizer step as the official code does). Path-length regularisation (§3.2) is optional:
every ``pl_interval`` = 4 generator steps, on a batch ``pl_batch_shrink`` times smaller,
``(‖J_wᵀ y‖₂ − a)²`` with ``y`` pixel noise scaled by 1/√(HW) and ``a`` the tracked mean length (a buffer,
decay 0.01). Style mixing (§3.1, probability 0.9, one crossover per sample) and the tracked w̄ (an EMA of w,
decay 0.995, in a buffer of the generator, so the EMA generator copy used for sampling carries it) apply to both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.equalized import EqualizedConv2d
from ..nn.style import (LRELU_SLOPE, AdaIN, DiscriminatorBlock, DiscriminatorEpilogue, MappingNetwork,
                        ModulatedConv2d, NoiseInjection, StepCounter, crossover_points, mix_styles, truncate,
                        upsample2x)
from .base import AdversarialModel, ArrayModelConfig, register_model, standard_normal
from .capabilities import FromLatent, MixesStyles, Samples, Truncates


@dataclass
class StyleGANConfig(ArrayModelConfig):
    """StyleGAN's generator and discriminator. Channel lists run over the resolutions 4, 8, …, the image size
    (``log2(size) − 1`` entries). The paper: z and w of 512, 8 mapping layers, 512 channels up to 32×32."""

    input_shape: list[int] = field(default_factory=lambda: [3, 32, 32])
    data_range: str = "pm1"
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 8
    mapping_lr: float = 0.01                     # learning-rate multiplier of the mapping network (§C)
    g_channels: list[int] = field(default_factory=lambda: [128, 128, 64, 32])
    d_channels: list[int] = field(default_factory=lambda: [128, 128, 64, 32])
    upsample: str = "bilinear"                   # bilinear | nearest
    style_mixing: float = 0.9                    # probability of mixing two latents in a training sample
    w_avg_decay: float = 0.995                   # w̄ ← lerp(mean w, w̄, decay) every training batch
    truncation_cutoff: int | None = None         # truncate styles below this layer only (None: all layers)
    r1_gamma: float = 10.0                       # R1 weight γ (FFHQ); 0 turns it off
    r1_interval: int = 1                         # lazy regularisation: R1 every k discriminator minibatches
    pl_weight: float = 0.0                       # path-length regularisation weight (StyleGAN2: 2)
    pl_interval: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    mbstd_group: int = 4
    mbstd_channels: int = 1

    @property
    def resolutions(self) -> list[int]:
        return [2 ** k for k in range(2, int(math.log2(self.input_shape[-1])) + 1)]

    @property
    def num_styles(self) -> int:
        return 2 * len(self.resolutions)

    def check(self) -> None:
        super().check()
        if self.condition_dim:
            raise ConfigError("the style-based GANs here are unconditional: set model.num_classes=0 and "
                              "model.num_attributes=0 (use cgan-fashion for a class-conditional GAN)")
        _, h, w = self.input_shape
        if h != w or h < 8 or h & (h - 1):
            near = 2 ** max(3, round(math.log2(max(h, w, 8))))
            raise ConfigError(f"model.input_shape {self.input_shape}: the synthesis network doubles a 4×4 constant "
                              f"up to the image size, so H and W must be equal powers of two >= 8; set "
                              f"model.input_shape=[{self.input_shape[0]},{near},{near}] (the data is resized to it)")
        k = len(self.resolutions)
        for name in ("g_channels", "d_channels"):
            ch = getattr(self, name)
            if len(ch) != k or min(ch) < 1:
                raise ConfigError(f"model.{name} needs one positive channel count per resolution "
                                  f"{', '.join(map(str, self.resolutions))} ({k} entries) for {h}×{w} images, "
                                  f"got {ch}")
        if min(self.z_dim, self.w_dim, self.mapping_layers) < 1:
            raise ConfigError("model.z_dim, model.w_dim and model.mapping_layers must be >= 1")
        if self.mapping_lr <= 0:
            raise ConfigError("model.mapping_lr must be > 0 (the paper uses 0.01)")
        if self.upsample not in ("bilinear", "nearest"):
            raise ConfigError(f"model.upsample must be bilinear or nearest, got {self.upsample!r}")
        if not 0 <= self.style_mixing <= 1:
            raise ConfigError("model.style_mixing is a probability: use a value in [0, 1] (the paper: 0.9)")
        if not 0 <= self.w_avg_decay < 1:
            raise ConfigError("model.w_avg_decay must be in [0, 1) (the paper: 0.995)")
        if self.truncation_cutoff is not None and not 1 <= self.truncation_cutoff <= self.num_styles:
            raise ConfigError(f"model.truncation_cutoff must be null or a layer in 1..{self.num_styles} "
                              f"(this generator has {self.num_styles} styles)")
        if self.r1_gamma < 0 or self.pl_weight < 0:
            raise ConfigError("model.r1_gamma and model.pl_weight must be >= 0")
        if min(self.r1_interval, self.pl_interval, self.pl_batch_shrink) < 1:
            raise ConfigError("model.r1_interval, model.pl_interval and model.pl_batch_shrink must be >= 1 "
                              "(1: regularise every step)")
        if not 0 < self.pl_decay <= 1:
            raise ConfigError("model.pl_decay must be in (0, 1] (the paper: 0.01)")
        if self.mbstd_group < 1 or self.mbstd_channels < 1 or self.d_channels[0] % self.mbstd_channels:
            raise ConfigError("model.mbstd_group and model.mbstd_channels must be >= 1, and mbstd_channels must "
                              "divide model.d_channels[0]")


@dataclass
class StyleGAN2Config(StyleGANConfig):
    """StyleGAN2 config F: lazy R1 every 16 minibatches, path-length regularisation weight 2 every 4 steps."""

    r1_interval: int = 16
    pl_weight: float = 2.0


# ------------------------------------------------------------------------------------------------------------
# Synthesis networks


class AdaINLayer(nn.Module):
    """One StyleGAN layer (Fig. 1b): [upsample →] [3×3 conv →] noise → bias → LeakyReLU → AdaIN(style)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv: bool, up: bool, mode: str):
        super().__init__()
        self.up, self.mode = up, mode
        self.conv = EqualizedConv2d(in_channels, out_channels, 3, bias=False) if conv else None
        self.noise = NoiseInjection(out_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.adain = AdaIN(out_channels, w_dim)

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        if self.up:
            x = upsample2x(x, self.mode)
        if self.conv is not None:
            x = self.conv(x)
        x = self.noise(x, noise) + self.bias.view(1, -1, 1, 1)
        return self.adain(F.leaky_relu(x, LRELU_SLOPE), w)


class AdaINSynthesis(nn.Module):
    """StyleGAN's synthesis network: constant 4×4 (ones) → two AdaIN layers per resolution → 1×1 to-RGB."""

    def __init__(self, c: StyleGANConfig):
        super().__init__()
        ch, res = c.g_channels, c.resolutions
        self.const = nn.Parameter(torch.ones(1, ch[0], 4, 4))
        layers = [AdaINLayer(ch[0], ch[0], c.w_dim, conv=False, up=False, mode=c.upsample),
                  AdaINLayer(ch[0], ch[0], c.w_dim, conv=True, up=False, mode=c.upsample)]
        for i in range(1, len(res)):
            layers += [AdaINLayer(ch[i - 1], ch[i], c.w_dim, conv=True, up=True, mode=c.upsample),
                       AdaINLayer(ch[i], ch[i], c.w_dim, conv=True, up=False, mode=c.upsample)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = EqualizedConv2d(ch[-1], c.input_shape[0], 1, gain=1.0)
        self.style_resolutions = tuple(r for r in res for _ in range(2))
        self.noise_resolutions = self.style_resolutions

    def forward(self, ws: Tensor, noise: list[Tensor] | None = None) -> Tensor:
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noise is None else noise[i])
        return self.to_rgb(x)


class ModulatedLayer(nn.Module):
    """One StyleGAN2 layer (Fig. 2d): [upsample →] modulated/demodulated 3×3 conv(style) → noise → bias →
    LeakyReLU × √2 (the official gain that keeps unit variance through the activation)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, up: bool, mode: str):
        super().__init__()
        self.up, self.mode = up, mode
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim)
        self.noise = NoiseInjection(out_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        if self.up:
            x = upsample2x(x, self.mode)
        x = self.noise(self.conv(x, w), noise) + self.bias.view(1, -1, 1, 1)
        return F.leaky_relu(x, LRELU_SLOPE) * math.sqrt(2)


class ToRGB(nn.Module):
    """StyleGAN2's to-RGB: a modulated 1×1 conv without demodulation, plus a bias."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)


class SkipSynthesis(nn.Module):
    """StyleGAN2's skip generator (Fig. 7b): at every resolution two modulated layers (one at 4×4) and a to-RGB
    whose output is added to the upsampled RGB image so far. As in the official code a to-RGB shares its style
    with the next resolution's first layer: ``2·log2(size) − 2`` styles in all."""

    def __init__(self, c: StyleGANConfig):
        super().__init__()
        ch, res = c.g_channels, c.resolutions
        self.mode = c.upsample
        self.const = nn.Parameter(torch.randn(1, ch[0], 4, 4))
        layers = [ModulatedLayer(ch[0], ch[0], c.w_dim, up=False, mode=c.upsample)]
        rgbs = [ToRGB(ch[0], c.input_shape[0], c.w_dim)]
        for i in range(1, len(res)):
            layers += [ModulatedLayer(ch[i - 1], ch[i], c.w_dim, up=True, mode=c.upsample),
                       ModulatedLayer(ch[i], ch[i], c.w_dim, up=False, mode=c.upsample)]
            rgbs.append(ToRGB(ch[i], c.input_shape[0], c.w_dim))
        self.layers, self.to_rgbs = nn.ModuleList(layers), nn.ModuleList(rgbs)
        self.style_resolutions = (4,) + tuple(r for r in res[1:] for _ in range(2)) + (res[-1],)
        self.noise_resolutions = self.style_resolutions[:-1]

    def forward(self, ws: Tensor, noise: list[Tensor] | None = None) -> Tensor:
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], None if noise is None else noise[0])
        img = self.to_rgbs[0](x, ws[:, 1])
        for r in range(1, len(self.to_rgbs)):
            i = 2 * r - 1                     # style (and noise) index of this resolution's first layer
            x = self.layers[i](x, ws[:, i], None if noise is None else noise[i])
            x = self.layers[i + 1](x, ws[:, i + 1], None if noise is None else noise[i + 1])
            img = upsample2x(img, self.mode) + self.to_rgbs[r](x, ws[:, i + 2])
        return img


class StyleGenerator(nn.Module):
    """Mapping network + synthesis network + the tracked mean style w̄ (a buffer, so checkpoints and the EMA copy
    of the generator carry it). ``forward(z)`` is G(z) with fresh noise (the summary uses it)."""

    def __init__(self, c: StyleGANConfig, synthesis: nn.Module):
        super().__init__()
        self.mapping = MappingNetwork(c.z_dim, c.w_dim, c.mapping_layers, c.mapping_lr)
        self.synthesis = synthesis
        self.num_styles = len(synthesis.style_resolutions)
        self.w_avg_decay = c.w_avg_decay
        self.register_buffer("w_avg", torch.zeros(c.w_dim))

    @torch.no_grad()
    def track(self, w: Tensor) -> None:
        """w̄ ← lerp(mean of this batch's w, w̄, decay) (the official ``dlatent_avg`` update)."""
        self.w_avg.copy_(torch.lerp(w.detach().float().mean(0), self.w_avg, self.w_avg_decay))

    def forward(self, z: Tensor) -> Tensor:
        w = self.mapping(z)
        return self.synthesis(w[:, None].expand(-1, self.num_styles, -1))


class StyleDiscriminator(nn.Module):
    """From-RGB 1×1 at full size → one :class:`DiscriminatorBlock` per halving down to 4×4 → the epilogue."""

    def __init__(self, c: StyleGANConfig, residual: bool):
        super().__init__()
        ch = c.d_channels
        self.from_rgb = EqualizedConv2d(c.input_shape[0], ch[-1], 1)
        self.blocks = nn.Sequential(*(DiscriminatorBlock(ch[i], ch[i - 1], residual)
                                      for i in range(len(ch) - 1, 0, -1)))
        self.epilogue = DiscriminatorEpilogue(ch[0], c.mbstd_group, c.mbstd_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.epilogue(self.blocks(F.leaky_relu(self.from_rgb(x), LRELU_SLOPE)))


# ------------------------------------------------------------------------------------------------------------
# Losses


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """E‖∇ₓ D(x)‖² over real images (Mescheder et al. 2018), with ``create_graph`` so it trains D."""
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real, create_graph=True)
    return grad.float().square().sum(dim=(1, 2, 3)).mean()


def path_lengths(images: Tensor, ws: Tensor) -> Tensor:
    """‖J_wᵀ y‖₂ per sample (StyleGAN2 eq. 4), ``y`` ~ N(0, I)/√(HW), the squared norms summed over the style
    dimension and averaged over the layers (the official ``pl_lengths``)."""
    y = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
    return grad.float().square().sum(2).mean(1).sqrt()


# ------------------------------------------------------------------------------------------------------------
# The families


class _StyleBased(AdversarialModel, Samples, FromLatent, Truncates, MixesStyles):
    """What StyleGAN and StyleGAN2 share: mapping, styles, mixing, w̄ and truncation, the regularised logistic
    loss. Subclasses choose the synthesis network and whether the discriminator is residual."""

    config_class: ClassVar[type] = StyleGANConfig
    synthesis_class: ClassVar[type[nn.Module]] = AdaINSynthesis
    residual_discriminator: ClassVar[bool] = False
    truncation_kind = "psi"
    truncation_values = (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)

    def __init__(self, config: StyleGANConfig):
        super().__init__(config)
        self.generator = StyleGenerator(config, self.synthesis_class(config))
        self.discriminator = StyleDiscriminator(config, self.residual_discriminator)
        self.r1_steps, self.pl_steps = StepCounter(), StepCounter()
        self.register_buffer("pl_mean", torch.zeros(()))
        self.register_buffer("last_r1", torch.zeros(()))
        self.register_buffer("last_pl", torch.zeros(()))

    # -- the MixesStyles capability -------------------------------------------------------------------------
    @property
    def num_styles(self) -> int:  # type: ignore[override]
        return self.generator.num_styles

    @property
    def style_resolutions(self) -> tuple[int, ...]:  # type: ignore[override]
        return tuple(self.generator.synthesis.style_resolutions)

    def mapping(self, z: Tensor) -> Tensor:
        """w = f(z), ``[N, w_dim]``."""
        return self.generator.mapping(z)

    def broadcast(self, w: Tensor) -> Tensor:
        """The same w for every layer: ``[N, num_styles, w_dim]``."""
        return w[:, None].expand(-1, self.num_styles, -1)

    def truncate(self, ws: Tensor, psi: float) -> Tensor:
        """w̄ + ψ(w − w̄) on the layers below ``model.truncation_cutoff``, around the tracked w̄."""
        return truncate(ws, self.generator.w_avg, psi, self.config.truncation_cutoff)

    def noise_inputs(self, n: int, *, generator: torch.Generator | None = None) -> list[Tensor]:
        """One N(0, 1) map ``[n, 1, r, r]`` per noise layer of the synthesis network."""
        return [standard_normal((n, 1, r, r), self.device, generator) for r in self.generator.synthesis.noise_resolutions]

    def synthesize(self, ws: Tensor, *, noise: list[Tensor] | None = None) -> Tensor:
        """Images in [0, 1] from per-layer styles ``ws`` and noise maps (None: fresh noise)."""
        return self.to_unit(self.generator.synthesis(ws, noise))

    # -- sampling ---------------------------------------------------------------------------------------------
    def generate(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """G(z) in model space with fresh noise, no truncation."""
        return self.generator(z)

    def decode(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """The :class:`FromLatent` view: G(z) (fresh noise maps)."""
        return self.generate(z)

    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               truncation: float | None = None) -> Tensor:
        """``n`` images in [0, 1]; ``truncation`` ψ pulls w towards w̄ (1: untruncated, 0: the mean image)."""
        z = self.noise(n, self.device, generator)
        noise = self.noise_inputs(n, generator=generator)
        ws = self.broadcast(self.mapping(z))
        if truncation is not None:
            ws = self.truncate(ws, float(truncation))
        return self.synthesize(ws, noise=noise)

    def check_options(self, options: dict[str, Any]) -> None:
        psi = options.get("truncation")
        if psi is not None and not math.isfinite(float(psi)):
            raise ConfigError(f"--truncation must be a finite ψ (1 untruncated, 0 the mean image), got {psi}")

    # -- training ---------------------------------------------------------------------------------------------
    def _fake(self, n: int, device: torch.device, track: bool = True) -> tuple[Tensor, Tensor]:
        """G of two latents mixed at a random crossover per sample (probability ``style_mixing``); returns the
        images and their per-layer styles. Training batches update w̄ with the first latent's w."""
        c = self.config
        w = self.mapping(torch.randn(2 * n, c.z_dim, device=device))
        w1, w2 = w[:n], w[n:]
        if track and self.training:
            self.generator.track(w1)
        ws = mix_styles(w1, w2, crossover_points(n, self.num_styles, c.style_mixing, device), self.num_styles)
        return self.generator.synthesis(ws), ws

    def fakes(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        """One generator forward per step for both phases (see :meth:`genzoo.models.gan.GAN.fakes`)."""
        return self._fake(len(batch), batch.x.device)[0], None

    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        """softplus(D(G(z))) + softplus(−D(x)), plus γ/2·R1·interval on every ``r1_interval``-th minibatch."""
        c = self.config
        if fakes is None:
            with torch.no_grad():
                fake = self._fake(len(batch), batch.x.device)[0]
        else:
            fake = fakes[0].detach()
        lazy = c.r1_gamma > 0 and self.r1_steps.tick() % c.r1_interval == 0
        real = batch.x.detach().requires_grad_(lazy)
        real_logits, fake_logits = self.discriminator(real).float(), self.discriminator(fake).float()
        loss_real, loss_fake = F.softplus(-real_logits).mean(), F.softplus(fake_logits).mean()
        loss = loss_real + loss_fake
        if lazy:
            r1 = r1_penalty(real_logits, real)
            loss = loss + (c.r1_gamma / 2) * r1 * c.r1_interval
            self.last_r1.copy_(r1.detach())
        return {"loss": loss, "loss_real": loss_real.detach(), "loss_fake": loss_fake.detach(),
                "real": real_logits.mean().detach(), "fake": fake_logits.mean().detach(), "r1": self.last_r1.clone()}

    def generator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        """softplus(−D(G(z))) (non-saturating), plus the lazy path-length penalty when ``pl_weight`` > 0."""
        c = self.config
        fake = fakes[0] if fakes is not None else self._fake(len(batch), batch.x.device)[0]
        loss = F.softplus(-self.discriminator(fake).float()).mean()
        out = {"loss_adv": loss.detach()}
        if c.pl_weight > 0:
            if self.pl_steps.tick() % c.pl_interval == 0:
                images, ws = self._fake(max(1, len(batch) // c.pl_batch_shrink), batch.x.device, track=False)
                lengths = path_lengths(images, ws)
                self.pl_mean.copy_(torch.lerp(self.pl_mean, lengths.mean().detach(), c.pl_decay))
                penalty = (lengths - self.pl_mean).square().mean()
                loss = loss + penalty * c.pl_weight * c.pl_interval
                self.last_pl.copy_(penalty.detach())
            out.update(pl=self.last_pl.clone(), pl_mean=self.pl_mean.clone())
        return {"loss": loss, **out}

    # -- description ------------------------------------------------------------------------------------------
    def summary_parts(self):
        c = self.config
        return [("generator", self.generator, (torch.zeros(2, c.z_dim),)),
                ("discriminator", self.discriminator, (torch.zeros(2, *c.input_shape),))]


@register_model
class StyleGAN(_StyleBased):
    """StyleGAN (Karras et al. 2019): AdaIN synthesis, ProGAN-style discriminator, R1 every step."""

    family = "stylegan"
    config_class = StyleGANConfig


@register_model
class StyleGAN2(_StyleBased):
    """StyleGAN2 (Karras et al. 2020): modulated skip synthesis, residual discriminator, lazy R1, path length."""

    family = "stylegan2"
    config_class = StyleGAN2Config
    synthesis_class = SkipSynthesis
    residual_discriminator = True
