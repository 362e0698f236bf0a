"""SAGAN (Zhang et al. 2019, "Self-Attention Generative Adversarial Networks"; Foster 1st ed. §9): residual
generator and discriminator with self-attention blocks, spectral normalisation on every layer of both, the hinge
loss and two time-scale learning rates.

* **Self-attention** (:class:`~genzoo.nn.self_attention.SelfAttention2d`) after the generator block that outputs
  the resolution(s) in ``g_attention`` and after the discriminator block that outputs ``d_attention`` (16×16 for
  32-px data: the paper's best FID came from attention on the larger feature maps, Table 1).
* **Spectral normalisation** (Miyato et al. 2018) of every conv, dense and embedding layer of G *and* D (SAGAN §4:
  "spectral normalization for both generator and discriminator"), with torch's parametrisation
  (:func:`genzoo.nn.resblocks.spectral_norm`; its ``u``/``v`` are buffers, so resume is exact).
* **Hinge loss** (Lim & Ye 2017; SAGAN eq. 3): D minimises E[relu(1 − D(x))] + E[relu(1 + D(G(z)))], G minimises
  −E[D(G(z))].
* **TTUR** (Heusel et al. 2017): the recipes give D a four times larger learning rate than G (4e-4 vs 1e-4, Adam
  β = (0, 0.9)) and take one D step per G step instead of WGAN's five.

The networks are BigGAN's at 32 px (Brock et al. 2019, Appendix B: ``G_arch[32]``/``D_arch[32]``, no bottleneck):
z → dense → 4×4 → residual up-blocks to the image size → BN → ReLU → 3×3 conv → tanh; residual down-blocks →
ReLU → global sum pooling → dense logit. The same networks take BigGAN's class conditioning
(:mod:`genzoo.models.biggan`): a shared class embedding and hierarchical z feed conditional batch norm in every
G block, and the discriminator adds the projection ⟨embed(y), φ(x)⟩ (Miyato & Koyama 2018).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.resblocks import DBlock, GBlock, identity, spectral_norm
from ..nn.self_attention import SelfAttention2d
from .base import AdversarialModel, ArrayModelConfig, register_model
from .capabilities import AttendsPixels, FromLatent, PixelAttention, Samples


@dataclass
class SAGANConfig(ArrayModelConfig):
    """Widths per resolution: ``g_channels[0]`` at 4×4, then one up-block per further entry (the image side is
    ``4·2^(len−1)``); ``d_channels[i]``/``d_downsample[i]`` per down-block. Attention sits after the block whose
    output has a resolution listed in ``g_attention``/``d_attention``."""

    data_range: str = "pm1"
    z_dim: int = 128
    g_channels: list[int] = field(default_factory=lambda: [256, 256, 256, 256])
    g_attention: list[int] = field(default_factory=lambda: [16])
    d_channels: list[int] = field(default_factory=lambda: [128, 128, 128, 128])
    d_downsample: list[bool] = field(default_factory=lambda: [True, True, False, False])
    d_attention: list[int] = field(default_factory=lambda: [16])
    attention_pool_keys: bool = False     # SAGAN/BigGAN code max-pools keys and values 2×2 (a quarter of the cost)
    spectral_norm: bool = True            # on every layer of G and D (SAGAN §4)
    g_bn_momentum: float = 0.1            # PyTorch momentum of the (conditional) batch norms' running statistics
    init: str = "ortho"                   # ortho (BigGAN) | normal (N(0, 0.02), DCGAN/SAGAN) | xavier (SNGAN)
    # BigGAN's ideas (genzoo.models.biggan sets them; a SAGAN leaves them off)
    shared_dim: int = 0                   # > 0: a class embedding shared by every G block's conditional BN
    hierarchical_z: bool = False          # split z: one chunk to the dense layer, one to each G block
    ortho_reg: float = 0.0                # β of BigGAN's orthogonal regularisation of G's weights
    projection: bool = False              # projection discriminator: + ⟨embed(y), φ(x)⟩
    reuse_fakes: bool = True              # one G forward per step for both phases (as genzoo.models.gan.GAN.fakes)

    @property
    def g_blocks(self) -> int:
        return len(self.g_channels) - 1

    def check(self) -> None:
        super().check()
        if self.data_range != "pm1":
            raise ConfigError("SAGAN/BigGAN generators end in tanh: set model.data_range=pm1")
        if len(self.g_channels) < 2 or min(self.g_channels) < 1:
            raise ConfigError(f"model.g_channels needs >= 2 positive widths (4×4 and one up-block), got "
                              f"{self.g_channels}")
        side = 4 * 2 ** self.g_blocks
        if list(self.input_shape[1:]) != [side, side]:
            raise ConfigError(f"model.g_channels has {len(self.g_channels)} widths, so the generator makes "
                              f"{side}×{side} images, but model.input_shape is {self.input_shape}: use "
                              f"{int(math.log2(self.input_shape[1] / 4)) + 1} widths (4×4 up to the image side)")
        if not self.d_channels or len(self.d_downsample) != len(self.d_channels) or min(self.d_channels) < 1:
            raise ConfigError(f"model.d_channels ({self.d_channels}) and model.d_downsample ({self.d_downsample}) "
                              f"need one positive width and one true/false per down-block")
        sizes_g = [4 * 2 ** (i + 1) for i in range(self.g_blocks)]
        sizes_d = self.d_resolutions()
        for name, wanted, have in (("g_attention", self.g_attention, sizes_g),
                                   ("d_attention", self.d_attention, sizes_d)):
            bad = [r for r in wanted if r not in have]
            if bad:
                raise ConfigError(f"model.{name}: no block outputs {bad} px (the blocks output {have}); choose "
                                  f"among those")
        for name, wanted, widths, have in (("g_attention", self.g_attention, self.g_channels[1:], sizes_g),
                                           ("d_attention", self.d_attention, self.d_channels, sizes_d)):
            for r in wanted:
                c = widths[have.index(r)]
                if c % 8:
                    raise ConfigError(f"model.{name}: attention at {r} px needs a width divisible by 8 (C/8 key "
                                      f"channels), got {c}")
        if self.init not in ("ortho", "normal", "xavier"):
            raise ConfigError(f"model.init must be ortho, normal or xavier, got {self.init!r}")
        if not 0 < self.g_bn_momentum <= 1:
            raise ConfigError("model.g_bn_momentum must be in (0, 1]")
        if self.ortho_reg < 0:
            raise ConfigError("model.ortho_reg must be >= 0")
        if self.z_dim < 1:
            raise ConfigError("model.z_dim must be >= 1")
        if self.hierarchical_z and self.z_dim % (self.g_blocks + 1):
            slots = self.g_blocks + 1
            raise ConfigError(f"model.hierarchical_z splits z into {slots} equal chunks (the dense layer and "
                              f"{self.g_blocks} blocks), but model.z_dim {self.z_dim} is not divisible by {slots}: "
                              f"use e.g. {(self.z_dim // slots + 1) * slots}")
        if self.num_attributes:
            raise ConfigError("SAGAN/BigGAN condition on class labels (model.num_classes), not attributes")
        if (self.shared_dim or self.projection) and not self.num_classes:
            raise ConfigError("model.shared_dim and model.projection need class labels: set model.num_classes")
        if self.num_classes and not self.shared_dim:
            raise ConfigError("a class-conditional generator needs model.shared_dim > 0 (the class embedding)")

    def d_resolutions(self) -> list[int]:
        side, out = self.input_shape[1], []
        for down in self.d_downsample:
            side = side // 2 if down else side
            out.append(side)
        return out


class Generator(nn.Module):
    """z (and a class index) → image: dense → 4×4 → :class:`GBlock` s (attention where configured) → BN → ReLU →
    3×3 conv → tanh. With ``hierarchical_z`` the dense layer sees the first chunk of z and block ``i`` chunk
    ``i + 1``; each block's conditional BN sees ``[shared(y), chunk]`` (BigGAN §3, Fig. 15 a)."""

    def __init__(self, c: SAGANConfig):
        super().__init__()
        wrap = spectral_norm if c.spectral_norm else identity
        self.blocks_n = c.g_blocks
        self.chunk = c.z_dim // (c.g_blocks + 1) if c.hierarchical_z else 0
        self.hierarchical = c.hierarchical_z
        self.shared = nn.Embedding(c.num_classes, c.shared_dim) if c.num_classes else None
        cond_dim = (c.shared_dim if c.num_classes else 0) + self.chunk
        dense_in = self.chunk if c.hierarchical_z else c.z_dim
        self.c0 = c.g_channels[0]
        self.dense = wrap(nn.Linear(dense_in, self.c0 * 16))
        self.blocks = nn.ModuleList(GBlock(a, b, cond_dim, wrap, c.g_bn_momentum)
                                    for a, b in zip(c.g_channels[:-1], c.g_channels[1:]))
        self.attention = nn.ModuleDict({str(i): SelfAttention2d(c.g_channels[i + 1], pool_keys=c.attention_pool_keys,
                                                                wrap=wrap)
                                        for i in range(c.g_blocks) if 4 * 2 ** (i + 1) in c.g_attention})
        self.out_bn = nn.BatchNorm2d(c.g_channels[-1], eps=1e-4, momentum=c.g_bn_momentum)
        self.out_conv = wrap(nn.Conv2d(c.g_channels[-1], c.input_shape[0], 3, padding=1))

    def split(self, z: Tensor) -> tuple[Tensor, list[Tensor | None]]:
        """The dense layer's input and each block's chunk of z (None without hierarchical z)."""
        if not self.hierarchical:
            return z, [None] * self.blocks_n
        chunks = list(z.split(self.chunk, dim=1))
        return chunks[0], chunks[1:]

    def block_conditions(self, z: Tensor, labels: Tensor | None) -> tuple[Tensor, list[Tensor | None]]:
        """The dense layer's input and the condition vector of every block's batch norms."""
        first, chunks = self.split(z)
        emb = self.shared(labels) if self.shared is not None and labels is not None else None
        if self.shared is not None and emb is None:
            raise ValueError("this generator is class-conditional: give it class indices")
        conds = []
        for ch in chunks:
            parts = [p for p in (emb, ch) if p is not None]
            conds.append(torch.cat(parts, 1) if parts else None)
        return first, conds

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        first, conds = self.block_conditions(z, labels)
        h = self.dense(first).view(z.shape[0], self.c0, 4, 4)
        for i, (block, cond) in enumerate(zip(self.blocks, conds)):
            h = block(h, cond)
            if str(i) in self.attention:
                h = self.attention[str(i)](h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class Discriminator(nn.Module):
    """Image (and class index) → logit: :class:`DBlock` s (attention where configured) → ReLU → sum over positions
    φ(x) → dense, plus ⟨embed(y), φ(x)⟩ for the projection discriminator (Miyato & Koyama 2018, eq. 3)."""

    def __init__(self, c: SAGANConfig):
        super().__init__()
        wrap = spectral_norm if c.spectral_norm else identity
        ins = [c.input_shape[0]] + c.d_channels[:-1]
        self.blocks = nn.ModuleList(DBlock(a, b, down, preactivation=i > 0, wrap=wrap)
                                    for i, (a, b, down) in enumerate(zip(ins, c.d_channels, c.d_downsample)))
        sizes = c.d_resolutions()
        self.attention = nn.ModuleDict({str(i): SelfAttention2d(c.d_channels[i], pool_keys=c.attention_pool_keys,
                                                                wrap=wrap)
                                        for i in range(len(c.d_channels)) if sizes[i] in c.d_attention
                                        and sizes[i] not in sizes[:i]})
        self.linear = wrap(nn.Linear(c.d_channels[-1], 1))
        self.embed = wrap(nn.Embedding(c.num_classes, c.d_channels[-1])) if c.projection else None

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if str(i) in self.attention:
                h = self.attention[str(i)](h)
        phi = F.relu(h).sum(dim=(2, 3))
        out = self.linear(phi).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(labels) * phi).sum(1)
        return out


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    """E[relu(1 − D(x))] and E[relu(1 + D(G(z)))] (SAGAN eq. 3); D minimises their sum."""
    return F.relu(1.0 - real_logits.float()).mean(), F.relu(1.0 + fake_logits.float()).mean()


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    """−E[D(G(z))] (SAGAN eq. 3)."""
    return -fake_logits.float().mean()


def orthogonal_regularisation(weights: list[Tensor]) -> Tensor:
    """BigGAN's orthogonal regularisation (Brock et al. 2019, eq. 3), without β: Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F.

    Each weight is flattened to ``[out, in·k·k]`` (one filter per row, as BigGAN's code does), so the Gram matrix
    is between filters; only the off-diagonal entries are pushed to 0, leaving the filters' norms free (which the
    plain ‖WᵀW − I‖² of Brock et al. 2017 would fix at 1). BigGAN's code adds this penalty's gradient by hand (with
    a factor 2 where the penalty's gradient is 4·(WWᵀ ⊙ (1 − I))W); we add the penalty to G's loss and let autograd
    differentiate it, so β here is half the β of BigGAN's code for the same pull.
    """
    total = weights[0].new_zeros((), dtype=torch.float32)
    for w in weights:
        m = w.flatten(1).float()
        gram = m @ m.t()
        total = total + (gram.pow(2).sum() - gram.diagonal().pow(2).sum())
    return total


def initialise_(module: nn.Module, kind: str) -> None:
    """BigGAN's orthogonal init (Saxe et al. 2014), N(0, 0.02) or Glorot of every conv/dense/embedding weight; zero
    biases. With spectral norm the weight initialised is the un-normalised ``original``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            with torch.no_grad():
                if kind == "ortho":
                    nn.init.orthogonal_(w)
                elif kind == "normal":
                    nn.init.normal_(w, 0.0, 0.02)
                else:
                    nn.init.xavier_uniform_(w)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


@register_model
class SAGAN(AdversarialModel, Samples, FromLatent, AttendsPixels):
    """Self-attention GAN with spectral norm on G and D, hinge loss; unconditional (``sagan``)."""

    family = "sagan"
    config_class = SAGANConfig

    def __init__(self, config: SAGANConfig):
        super().__init__(config)
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)
        initialise_(self.generator, config.init)
        initialise_(self.discriminator, config.init)

    # -- generation -------------------------------------------------------------------------------
    def labels_of(self, condition: Tensor | None) -> Tensor | None:
        """The class index of each one-hot condition row (the plumbing hands conditions as one-hot vectors)."""
        return None if condition is None or not self.config.num_classes else condition.argmax(1)

    def generate(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """G(z[, class of condition]) in [−1, 1]."""
        return self.generator(z, self.labels_of(condition))

    def decode(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.generate(z, condition)

    def _condition(self, n: int, condition: Tensor | None) -> Tensor | None:
        if condition is None:
            condition = self.default_condition(n, self.device)
        return None if condition is None else condition.to(self.device)

    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None) -> Tensor:
        condition = self._condition(n, condition)
        return self.to_unit(self.generate(self.noise(n, self.device, generator), condition))

    def attention_maps(self, n: int, *, generator: torch.Generator | None = None,
                       condition: Tensor | None = None) -> PixelAttention:
        """``n`` samples and the weights of the generator's first attention layer (SAGAN Fig. 1 and 5)."""
        if not self.generator.attention:
            raise ConfigError("this generator has no attention layer (model.g_attention is empty)")
        key, layer = next(iter(self.generator.attention.items()))
        condition = self._condition(n, condition)
        layer.record = True
        try:
            images = self.to_unit(self.generate(self.noise(n, self.device, generator), condition))
            weights = layer.weights
        finally:
            layer.record, layer.weights = False, None
        side = 4 * 2 ** (int(key) + 1)
        kside = side // 2 if layer.pool_keys else side
        return PixelAttention(images, weights, (side, side), (kside, kside),
                              f"generator attention after block {int(key) + 1} ({side}×{side})",
                              float(layer.gamma.detach()))

    def unavailable(self, capability) -> str | None:
        if capability is AttendsPixels and not self.config.g_attention:
            return "its generator has no self-attention layer (model.g_attention is empty)"
        return None

    # -- training ---------------------------------------------------------------------------------
    def _fake(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        condition = self.condition_of(batch)
        return self.generate(self.noise(len(batch), batch.x.device), condition), condition

    def fakes(self, batch: Batch) -> tuple[Tensor, Tensor | None] | None:
        """G(z) with gradients for both phases of a step (see :meth:`genzoo.models.gan.GAN.fakes`)."""
        return self._fake(batch) if self.config.reuse_fakes else None

    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        """Hinge loss on a real and a fake batch (the fakes detached)."""
        if fakes is None:
            with torch.no_grad():
                fakes = self._fake(batch)
        fake, condition = fakes[0].detach(), fakes[1]
        labels = self.labels_of(condition)
        real_logits = self.discriminator(batch.x, labels)
        fake_logits = self.discriminator(fake, labels)
        loss_real, loss_fake = hinge_discriminator_loss(real_logits, fake_logits)
        return {"loss": loss_real + loss_fake, "loss_real": loss_real.detach(), "loss_fake": loss_fake.detach(),
                "real": real_logits.float().mean().detach(), "fake": fake_logits.float().mean().detach()}

    def ortho_weights(self) -> list[Tensor]:
        """G's weights that orthogonal regularisation pulls (BigGAN: every ≥ 2-d weight but the shared embedding);
        with spectral norm, the un-normalised weights."""
        skip = {id(p) for p in self.generator.shared.parameters()} if self.generator.shared is not None else set()
        return [p for p in self.generator.parameters() if p.dim() >= 2 and id(p) not in skip]

    def generator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        """−E[D(G(z))], plus β·orthogonal regularisation when ``ortho_reg`` > 0 (BigGAN)."""
        fake, condition = fakes if fakes is not None else self._fake(batch)
        adv = hinge_generator_loss(self.discriminator(fake, self.labels_of(condition)))
        out = {"loss": adv, "adversarial": adv.detach()}
        if self.config.ortho_reg:
            reg = orthogonal_regularisation(self.ortho_weights())
            out["loss"] = adv + self.config.ortho_reg * reg
            out["ortho"] = reg.detach()
        return out

    # -- description --------------------------------------------------------------------------------
    def summary_parts(self):
        c = self.config
        labels = (torch.zeros(1, dtype=torch.long),) if c.num_classes else ()
        return [("discriminator", self.discriminator, (torch.zeros(1, *c.input_shape), *labels)),
                ("generator", self.generator, (torch.zeros(1, c.z_dim), *labels))]
