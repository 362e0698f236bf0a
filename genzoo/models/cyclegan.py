"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks"; Foster 1st ed. ch. 5, Listings 5.1-5.8).

Four networks: g_AB and g_BA translate between the domains, d_A and d_B judge each domain's images patch by patch.
The generators minimise, with the book's weights λ (Listing 5.5: validity 1, reconstruction 10, identity 2 for
apple2orange, 5 for Monet),

* validity — LSGAN (Mao et al. 2017): (d_B(g_AB(a)) − 1)² + (d_A(g_BA(b)) − 1)², means over the patch maps;
* cycle consistency — |g_BA(g_AB(a)) − a| + |g_AB(g_BA(b)) − b| (mean absolute error);
* identity — |g_BA(a) − a| + |g_AB(b) − b|: a generator shown an image of its own target domain should leave it
  alone, which keeps colours in place (the book's Fig. 5.9: without it the tray turns white);

and each discriminator ½[(d(real) − 1)² + d(fake)²] on fakes drawn from the 50-image history pool
(:class:`~genzoo.nn.image_pool.ImagePool`). The book's discriminator loss is the mean of d_A's and d_B's; one Adam
optimises both discriminators (the book compiles two with the same settings; Adam is per parameter, so this is
the same update).

One forward of each generator per step serves both phases: the fakes are drawn with gradients, the pool and the
discriminators see their detached copies, and the generator phase reuses them (as the reference PyTorch code
does).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.image_pool import ImagePool
from ..nn.translation import PatchDiscriminator, Pix2PixUNet, ResNetGenerator, UNetGenerator
from .base import AdversarialModel, ArrayModelConfig, register_model
from .capabilities import Translates

GENERATORS = ("unet", "resnet", "pix2pix-unet")


@dataclass
class TranslationConfig(ArrayModelConfig):
    """What the two-domain translators share: the networks. ``generator`` is Listing 5.2's ``unet`` (four
    downsamples, ``g_filters`` 32 in the book), the Monet recipe's ``resnet`` (``resnet_blocks`` residual blocks)
    or pix2pix's ``pix2pix-unet`` (down to 1×1, ``g_filters`` 64 in the paper); the PatchGAN has ``d_filters``."""

    input_shape: list[int] = field(default_factory=lambda: [3, 128, 128])
    data_range: str = "pm1"
    generator: str = "unet"
    g_filters: int = 32
    d_filters: int = 32
    resnet_blocks: int = 9
    g_dropout: float = 0.5            # pix2pix-unet: the decoder's "CD512" dropout
    init_std: float = 0.02            # N(0, 0.02) weights (Zhu et al. 2017 and Isola et al. 2017, as DCGAN)

    def check(self) -> None:
        super().check()
        if self.data_range != "pm1":
            raise ConfigError("model.data_range must be pm1: the generators end in tanh")
        if self.generator not in GENERATORS:
            raise ConfigError(f"model.generator must be one of {', '.join(GENERATORS)}, got {self.generator!r}")
        if min(self.g_filters, self.d_filters, self.resnet_blocks) < 1:
            raise ConfigError("model.g_filters, model.d_filters and model.resnet_blocks must be >= 1")
        if not 0 <= self.g_dropout < 1:
            raise ConfigError("model.g_dropout must be in [0, 1)")
        if self.init_std <= 0:
            raise ConfigError("model.init_std must be > 0")
        _, h, w = self.input_shape
        unit = {"unet": 16, "resnet": 4, "pix2pix-unet": 2 ** self.depth}[self.generator]
        if h != w or h % unit or h < 32:
            raise ConfigError(f"model.input_shape {self.input_shape}: the {self.generator} generator needs square "
                              f"images of at least 32 px whose side divides by {unit}; set data.image_size "
                              f"(e.g. 64 or 128)")

    @property
    def depth(self) -> int:
        """pix2pix-unet: downsamples to a 1×1 bottleneck (8 at 256 px, as the paper)."""
        return max(2, self.input_shape[1].bit_length() - 1)


def build_translator(c: TranslationConfig) -> nn.Module:
    """One generator of ``c.generator``'s kind, for images of ``c.input_shape``."""
    channels = c.input_shape[0]
    if c.generator == "unet":
        return UNetGenerator(channels, c.g_filters)
    if c.generator == "resnet":
        return ResNetGenerator(channels, c.g_filters, c.resnet_blocks)
    return Pix2PixUNet(channels, c.g_filters, c.depth, c.g_dropout)


def init_translation_(module: nn.Module, std: float) -> None:
    """N(0, std) convolution weights, zero biases, N(1, std) norm scales (the CycleGAN/pix2pix reference init)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def lsgan(logits: Tensor, target: float) -> Tensor:
    """Least-squares GAN loss (Mao et al. 2017): the mean of (D − target)² over a patch map (the book's ``mse``)."""
    return (logits.float() - target).pow(2).mean()


class TranslationModel(AdversarialModel, Translates):
    """The contract of the two-domain translators: A images in ``Batch.x``, B images in ``Batch.target``, both in
    [-1, 1]; ``translate`` and ``translation_views`` for tasks, metrics and analyses. No latent noise: these models
    map images to images."""

    modality: ClassVar[str] = "image-pair"
    config_class = TranslationConfig

    @staticmethod
    def pair_of(batch: Batch) -> tuple[Tensor, Tensor]:
        if batch.target is None:
            raise ConfigError("this model translates between two image domains: train it on two-domain data "
                              "(emoji-styles, two-domain-folder, ...; `genzoo list` shows them)")
        return batch.x, batch.target

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
        raise ConfigError(f"model family {self.family!r} translates images and draws no latent noise")

    def translator(self, direction: str) -> nn.Module:
        raise NotImplementedError

    def check_direction(self, direction: str) -> None:
        if direction not in self.directions:
            raise ConfigError(f"direction {direction!r}: {self.family} translates {' and '.join(self.directions)} "
                              f"(A = the dataset's first domain, B its second)")

    def translate(self, x: Tensor, *, direction: str = "AB") -> Tensor:
        """``x`` (model space, domain ``direction[0]``) translated to domain ``direction[1]`` (model space)."""
        self.check_direction(direction)
        return self.translator(direction)(x)

    def translation_views(self, x: Tensor, *, direction: str = "AB") -> dict[str, Tensor]:
        """The evaluation grid's columns after the original, in [0, 1]: here the translation only."""
        return {"translated": self.to_unit(self.translate(x, direction=direction))}

    @property
    def sample_item_shape(self) -> tuple[int, ...]:
        return tuple(self.config.input_shape)


@dataclass
class CycleGANConfig(TranslationConfig):
    """Listing 5.1's constructor: λ validation 1, reconstruction 10, identity 2 (apple2orange; the Monet recipe 5),
    and the repository's 50-image pool."""

    lambda_validation: float = 1.0
    lambda_reconstr: float = 10.0
    lambda_id: float = 2.0
    pool_size: int = 50

    def check(self) -> None:
        super().check()
        if min(self.lambda_validation, self.lambda_reconstr, self.lambda_id) < 0:
            raise ConfigError("model.lambda_validation, lambda_reconstr and lambda_id must be >= 0")
        if self.lambda_validation == 0:
            raise ConfigError("model.lambda_validation must be > 0: without it the generators learn the identity")
        if self.pool_size < 0:
            raise ConfigError("model.pool_size must be >= 0 (0: the discriminators see the latest fakes only)")


@register_model
class CycleGAN(TranslationModel):
    """g_AB, g_BA, d_A, d_B trained with validity + cycle + identity losses (Foster Fig. 5.5)."""

    family = "cyclegan"
    config_class = CycleGANConfig
    directions = ("AB", "BA")

    def __init__(self, config: CycleGANConfig):
        super().__init__(config)
        c = config
        channels = c.input_shape[0]
        self.generator = nn.ModuleDict({"g_AB": build_translator(c), "g_BA": build_translator(c)})
        self.discriminator = nn.ModuleDict({"d_A": PatchDiscriminator(channels, c.d_filters),
                                            "d_B": PatchDiscriminator(channels, c.d_filters)})
        init_translation_(self, c.init_std)
        self.pool_A = ImagePool(c.pool_size, c.input_shape)    # past g_BA(b): what d_A sees as fakes
        self.pool_B = ImagePool(c.pool_size, c.input_shape)    # past g_AB(a)

    def translator(self, direction: str) -> nn.Module:
        return self.generator["g_" + direction]

    def translation_views(self, x: Tensor, *, direction: str = "AB") -> dict[str, Tensor]:
        """Figs 5.3/5.8: translated, reconstructed (translated back) and identity (the other generator on ``x``)."""
        self.check_direction(direction)
        back = direction[::-1]
        fake = self.translate(x, direction=direction)
        return {"translated": self.to_unit(fake), "reconstructed": self.to_unit(self.translate(fake, direction=back)),
                "identity": self.to_unit(self.translate(x, direction=back))}

    # -- training -----------------------------------------------------------------------------------
    def fakes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(g_AB(a), g_BA(b)) with gradients, shared by the discriminator and generator phases."""
        a, b = self.pair_of(batch)
        return self.generator["g_AB"](a), self.generator["g_BA"](b)

    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor] | None = None) -> dict[str, Tensor]:
        """LSGAN: ½[(d(real) − 1)² + d(pool fake)²] for each of d_A and d_B; the loss is their mean (Listing 5.6)."""
        a, b = self.pair_of(batch)
        if fakes is None:
            with torch.no_grad():
                fakes = self.fakes(batch)
        fake_b, fake_a = (self.pool_B.query(fakes[0]), self.pool_A.query(fakes[1]))
        d_a, d_b = self.discriminator["d_A"], self.discriminator["d_B"]
        real_a, real_b = d_a(a), d_b(b)
        out_a, out_b = d_a(fake_a), d_b(fake_b)
        loss_a = 0.5 * (lsgan(real_a, 1.0) + lsgan(out_a, 0.0))
        loss_b = 0.5 * (lsgan(real_b, 1.0) + lsgan(out_b, 0.0))
        acc = torch.stack([(real_a > 0.5).float().mean(), (out_a < 0.5).float().mean(),
                           (real_b > 0.5).float().mean(), (out_b < 0.5).float().mean()]).mean()
        return {"loss": 0.5 * (loss_a + loss_b), "loss_A": loss_a.detach(), "loss_B": loss_b.detach(),
                "acc": acc.detach()}

    def generator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor] | None = None) -> dict[str, Tensor]:
        """λ_val·validity + λ_rec·cycle + λ_id·identity, each summed over both directions (Listing 5.5)."""
        c = self.config
        a, b = self.pair_of(batch)
        fake_b, fake_a = fakes if fakes is not None else self.fakes(batch)
        g_ab, g_ba = self.generator["g_AB"], self.generator["g_BA"]
        adv = lsgan(self.discriminator["d_A"](fake_a), 1.0) + lsgan(self.discriminator["d_B"](fake_b), 1.0)
        cycle = F.l1_loss(g_ba(fake_b).float(), a.float()) + F.l1_loss(g_ab(fake_a).float(), b.float())
        loss = c.lambda_validation * adv + c.lambda_reconstr * cycle
        out = {"adv": adv.detach(), "cycle": cycle.detach()}
        if c.lambda_id > 0:      # λ_id = 0 (the ablation) skips two generator passes
            identity = F.l1_loss(g_ba(a).float(), a.float()) + F.l1_loss(g_ab(b).float(), b.float())
            loss = loss + c.lambda_id * identity
            out["id"] = identity.detach()
        return {"loss": loss, **out}

    # -- description --------------------------------------------------------------------------------
    def summary_parts(self):
        x = torch.zeros(1, *self.config.input_shape)
        return [("g_AB", self.generator["g_AB"], (x,)), ("g_BA", self.generator["g_BA"], (x,)),
                ("d_A", self.discriminator["d_A"], (x,)), ("d_B", self.discriminator["d_B"], (x,))]
