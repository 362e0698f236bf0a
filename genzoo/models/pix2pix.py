"""pix2pix (Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial Networks";
Foster 1st ed. §5.1 and §9): paired translation A → B.

A U-Net generator G (the paper's ``pix2pix-unet`` down to 1×1, or Listing 5.2's ``unet``) and a PatchGAN D that
sees the input beside the image it judges (a conditional GAN: D(a, b) real, D(a, G(a)) fake; 70×70 patches at
``d_filters`` 64). The objective (eq. 4): the GAN loss plus λ·|b − G(a)|₁ with λ = 100. The GAN loss is the paper's
cross-entropy (``gan_loss: bce``; −log D(a, G(a)) for G, the non-saturating form) or least squares (``lsgan``, as
CycleGAN); the discriminator's loss is halved "to slow down the rate at which D learns relative to G" (§3.3).
No noise input: "the generator simply learned to ignore the noise" (§3.1); the dropout is the only randomness.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.translation import PatchDiscriminator
from .base import register_model
from .cyclegan import TranslationConfig, TranslationModel, build_translator, init_translation_, lsgan


@dataclass
class Pix2PixConfig(TranslationConfig):
    input_shape: list[int] = field(default_factory=lambda: [3, 256, 256])
    generator: str = "pix2pix-unet"
    g_filters: int = 64
    d_filters: int = 64
    lambda_l1: float = 100.0
    gan_loss: str = "bce"             # bce (the paper) | lsgan

    def check(self) -> None:
        super().check()
        if self.lambda_l1 < 0:
            raise ConfigError("model.lambda_l1 must be >= 0")
        if self.gan_loss not in ("bce", "lsgan"):
            raise ConfigError(f"model.gan_loss must be bce or lsgan, got {self.gan_loss!r}")


def gan_term(logits: Tensor, real: bool, kind: str) -> Tensor:
    """The GAN loss of a patch map against all-real or all-fake targets."""
    if kind == "lsgan":
        return lsgan(logits, 1.0 if real else 0.0)
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))


@register_model
class Pix2Pix(TranslationModel):
    """G(a) ≈ b from paired examples (Isola et al. 2017, eq. 4)."""

    family = "pix2pix"
    config_class = Pix2PixConfig
    directions = ("AB",)

    def __init__(self, config: Pix2PixConfig):
        super().__init__(config)
        channels = config.input_shape[0]
        self.generator = build_translator(config)
        self.discriminator = PatchDiscriminator(channels, config.d_filters, condition_channels=channels)
        init_translation_(self, config.init_std)

    @classmethod
    def configure(cls, model_cfg: dict, spec) -> dict:
        model_cfg = super().configure(model_cfg, spec)
        if not spec.extra.get("paired", False):
            raise ConfigError("pix2pix learns from pairs, but this dataset's two domains are unpaired (or served "
                              "unpaired: data.pairing is 'unpaired'); use paired data (the same file names in trainA "
                              "and trainB, a side-by-side folder, emoji-styles) with data.pairing auto, or train a "
                              "cyclegan recipe")
        return model_cfg

    def translator(self, direction: str):
        return self.generator

    # -- training -----------------------------------------------------------------------------------
    def fakes(self, batch: Batch) -> tuple[Tensor, None]:
        """G(a) with gradients, shared by both phases."""
        return self.generator(self.pair_of(batch)[0]), None

    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, Any] | None = None) -> dict[str, Tensor]:
        a, b = self.pair_of(batch)
        if fakes is None:
            with torch.no_grad():
                fakes = self.fakes(batch)
        real = self.discriminator(b, a)
        fake = self.discriminator(fakes[0].detach(), a)
        kind = self.config.gan_loss
        threshold = 0.0 if kind == "bce" else 0.5
        loss = 0.5 * (gan_term(real, True, kind) + gan_term(fake, False, kind))
        acc = 0.5 * ((real > threshold).float().mean() + (fake < threshold).float().mean())
        return {"loss": loss, "acc": acc.detach()}

    def generator_loss(self, batch: Batch, fakes: tuple[Tensor, Any] | None = None) -> dict[str, Tensor]:
        a, b = self.pair_of(batch)
        fake = fakes[0] if fakes is not None else self.fakes(batch)[0]
        adv = gan_term(self.discriminator(fake, a), True, self.config.gan_loss)
        l1 = F.l1_loss(fake.float(), b.float())
        return {"loss": adv + self.config.lambda_l1 * l1, "adv": adv.detach(), "l1": l1.detach()}

    # -- description --------------------------------------------------------------------------------
    def summary_parts(self):
        x = torch.zeros(1, *self.config.input_shape)
        return [("generator", self.generator, (x,)), ("discriminator", self.discriminator, (x, x))]
