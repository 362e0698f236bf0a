"""GANs: Foster ch. 4 (the camel DCGAN), Géron ch. 17 (dense GAN, DCGAN, conditional GAN).

Goodfellow et al. 2014, "Generative Adversarial Nets"; Radford et al. 2015, "Unsupervised
Representation Learning with Deep Convolutional GANs"; Mirza & Osindero 2014, "Conditional GANs".

The discriminator outputs a logit and the losses use ``binary_cross_entropy_with_logits``: the same
objective as the books' ``Dense(1, activation="sigmoid")`` + ``binary_crossentropy`` and the same
parameter count, without the saturation of a separate sigmoid. The generator minimises the
non-saturating loss −log D(G(z)) (the books' "train the combined model with labels 1").

The Wasserstein variants (:mod:`genzoo.models.wgan`) reuse these networks and change only the losses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn import ConvDecoder, ConvEncoder, DenseDecoder, DenseEncoder, init_he_, init_keras_, init_normal_
from ..nn.minibatch import minibatch_layer
from .base import AdversarialModel, ArrayModelConfig, register_model
from .capabilities import FromLatent, Samples


@dataclass
class GANConfig(ArrayModelConfig):
    """Both networks of a GAN. ``d_*`` is the discriminator/critic, ``g_*`` the generator.

    Conv networks follow Foster's ``GAN``/``WGAN``/``WGANGP`` classes (lists of filters, kernels and
    strides per layer, ``upsample[i] == 2`` for ``UpSampling2D`` + Conv, otherwise Conv2DTranspose with
    the stride); dense networks follow Géron's ``Sequential`` stacks.
    """

    arch: str = "conv"                           # conv | dense
    z_dim: int = 100
    data_range: str = "pm1"
    init: str = "normal"                         # normal (N(0, init_std), DCGAN) | he | keras (Glorot)
    init_std: float = 0.02
    leaky_slope: float = 0.2
    # discriminator / critic
    d_filters: list[int] = field(default_factory=lambda: [64, 64, 128, 128])
    d_kernels: list[int] = field(default_factory=lambda: [5, 5, 5, 5])
    d_strides: list[int] = field(default_factory=lambda: [2, 2, 2, 1])
    d_units: list[int] = field(default_factory=lambda: [150, 100])
    d_activation: str = "relu"
    d_batch_norm: float | None = None            # Keras momentum; BN on every layer but the first (Foster)
    d_dropout: float | None = 0.4
    d_minibatch: str = "none"                    # none | std (ProGAN's minibatch stddev) | discrimination (Salimans)
    d_minibatch_kernels: int = 100               # minibatch discrimination: B kernels of C dims (Salimans et al. 2016)
    d_minibatch_dims: int = 5
    # generator
    g_initial_shape: list[int] = field(default_factory=lambda: [64, 7, 7])   # C, H, W after the dense layer
    g_dense_norm: str | None = "features"        # features (BN after Dense) | channels (BN after Reshape) | none
    g_dense_activation: str | None = "relu"
    g_filters: list[int] = field(default_factory=lambda: [128, 64, 64, 1])
    g_kernels: list[int] = field(default_factory=lambda: [5, 5, 5, 5])
    g_strides: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    g_upsample: list[int] | None = field(default_factory=lambda: [2, 2, 1, 1])
    g_units: list[int] = field(default_factory=lambda: [100, 150])
    g_units_batch_norm: float | None = None      # dense generator: BN (Keras momentum) on every hidden layer but the first
    g_activation: str = "relu"
    g_batch_norm: float | None = 0.9
    g_bn_after_activation: bool = False          # Géron's DCGAN: ConvT(activation) → BN
    output_activation: str = "tanh"
    # training tricks
    label_smoothing: float = 0.0                 # one-sided: real targets 1 - s (Salimans et al. 2016)
    replay_size: int = 0                         # experience replay buffer of past fakes (Géron ch. 17)
    replay_fraction: float = 0.5                 # share of each fake batch drawn from the buffer
    reuse_fakes: bool = True                     # one generator forward per step for both phases (see GAN.fakes)

    def check(self) -> None:
        super().check()
        if self.arch not in ("conv", "dense"):
            raise ConfigError(f"model.arch must be 'conv' or 'dense', got {self.arch!r}")
        if self.init not in ("normal", "he", "keras"):
            raise ConfigError(f"model.init must be normal, he or keras, got {self.init!r}")
        if self.z_dim < 1:
            raise ConfigError("model.z_dim must be >= 1")
        if self.g_units_batch_norm is not None and self.arch != "dense":
            raise ConfigError("model.g_units_batch_norm applies to the dense generator (arch dense); "
                              "the conv generator uses model.g_batch_norm")
        if self.g_dense_norm not in (None, "none", "features", "channels"):
            raise ConfigError(f"model.g_dense_norm must be features, channels or none, got {self.g_dense_norm!r}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError("model.label_smoothing must be in [0, 0.5)")
        if self.replay_size < 0 or not 0 < self.replay_fraction < 1:
            raise ConfigError("model.replay_size must be >= 0 and model.replay_fraction in (0, 1)")
        if self.replay_size and self.condition_dim:
            raise ConfigError("experience replay stores unlabelled fakes: use it with unconditional GANs "
                              "(set model.replay_size=0 or drop the condition)")
        if self.d_minibatch not in ("none", "std", "discrimination"):
            raise ConfigError(f"model.d_minibatch must be none, std or discrimination, got {self.d_minibatch!r}")
        if self.d_minibatch != "none" and self.arch != "conv":
            raise ConfigError("model.d_minibatch applies to the conv discriminators (arch conv)")
        if min(self.d_minibatch_kernels, self.d_minibatch_dims) < 1:
            raise ConfigError("model.d_minibatch_kernels and model.d_minibatch_dims must be >= 1")
        want = "tanh" if self.data_range == "pm1" else "sigmoid"
        if self.output_activation not in (want, "linear"):
            raise ConfigError(f"model.output_activation {self.output_activation!r} does not match data_range "
                              f"{self.data_range!r}: use {want!r}")


class ConvDiscriminator(nn.Module):
    """Foster's DCGAN discriminator/critic: conv stack → Flatten → Dense(1) logit (Listing 4.2).

    A conditional discriminator sees the condition as constant extra input channels (one-hot maps).
    """

    def __init__(self, c: GANConfig):
        super().__init__()
        channels, h, w = c.input_shape
        cond = c.condition_dim
        self.net = ConvEncoder([channels + cond, h, w], 1, c.d_filters, c.d_kernels, c.d_strides,
                               batch_norm=c.d_batch_norm is not None, bn_momentum=c.d_batch_norm or 0.99,
                               bn_from_layer=1, dropout=c.d_dropout, leaky_slope=c.leaky_slope, act=c.d_activation,
                               batch_features=lambda flat: minibatch_layer(c.d_minibatch, flat, c.d_minibatch_kernels,
                                                                           c.d_minibatch_dims))

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        if condition is not None:
            maps = condition.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat([x, maps], 1)
        return self.net(x).squeeze(1)


class DenseDiscriminator(nn.Module):
    """Géron's dense discriminator: Flatten → Dense stack → Dense(1) logit (condition concatenated)."""

    def __init__(self, c: GANConfig):
        super().__init__()
        self.net = DenseEncoder(c.input_shape, 1, c.d_units, hidden_activation=c.d_activation,
                                condition_dim=c.condition_dim)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.net(x, condition).squeeze(1)


def build_generator(c: GANConfig) -> nn.Module:
    if c.arch == "dense":
        return DenseDecoder(c.z_dim, c.input_shape, c.g_units, hidden_activation=c.g_activation,
                            output_activation=c.output_activation, condition_dim=c.condition_dim,
                            batch_norm=c.g_units_batch_norm)
    norm = None if c.g_dense_norm in (None, "none") else c.g_dense_norm
    return ConvDecoder(c.z_dim, c.g_initial_shape, c.g_filters, c.g_kernels, c.g_strides,
                       batch_norm=c.g_batch_norm is not None, bn_momentum=c.g_batch_norm or 0.99,
                       leaky_slope=c.leaky_slope, condition_dim=c.condition_dim,
                       output_activation=c.output_activation, act=c.g_activation, upsample=c.g_upsample,
                       dense_norm=norm, dense_activation=c.g_dense_activation,
                       bn_after_activation=c.g_bn_after_activation)


def build_discriminator(c: GANConfig) -> nn.Module:
    return DenseDiscriminator(c) if c.arch == "dense" else ConvDiscriminator(c)


def initialise_(module: nn.Module, c: GANConfig) -> None:
    if c.init == "normal":
        init_normal_(module, c.init_std)
    elif c.init == "he":
        init_he_(module)
    else:
        init_keras_(module)


class ReplayBuffer(nn.Module):
    """Experience replay (Géron ch. 17; Shrivastava et al. 2017): past fakes shown to the discriminator
    again, so the generator cannot win by cycling between modes the discriminator has forgotten.

    The images live in a registered buffer, so the pool is part of the checkpoint and resumes exactly.
    """

    buffer_reduce = {"images": "keep", "filled": "keep"}   # per-process pools: never averaged

    def __init__(self, size: int, shape: list[int]):
        super().__init__()
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    def mix(self, fresh: Tensor, fraction: float) -> Tensor:
        """Replace a ``fraction`` of ``fresh`` by stored fakes (once the pool holds a batch), then store
        ``fresh`` at random slots (or append while filling). Returns the batch for the discriminator."""
        n, size = fresh.shape[0], self.images.shape[0]
        filled = int(self.filled)  # one host read per discriminator step; the pool logic is host-side
        out = fresh
        k = int(round(n * fraction))
        if filled >= n and k > 0:
            idx = torch.randint(0, filled, (k,), device=fresh.device)
            out = torch.cat([fresh[k:], self.images[idx].to(fresh.dtype)], 0)
        with torch.no_grad():
            if filled < size:
                m = min(n, size - filled)
                self.images[filled:filled + m] = fresh[:m].detach().float()
                self.filled.fill_(filled + m)
            else:
                # Distinct slots: with repeated indices, which write wins is unspecified (resume would drift).
                slots = torch.randperm(size, device=fresh.device)[:n]
                self.images[slots] = fresh[:len(slots)].detach().float()
        return out


@register_model
class GAN(AdversarialModel, Samples, FromLatent):
    """A generator G(z[, c]) and a discriminator D(x[, c]) trained with binary cross-entropy."""

    family = "gan"
    config_class = GANConfig

    def __init__(self, config: GANConfig):
        super().__init__(config)
        self.generator = build_generator(config)
        self.discriminator = build_discriminator(config)
        initialise_(self.generator, config)
        initialise_(self.discriminator, config)
        with torch.no_grad():
            out = self.generator(torch.zeros(2, config.z_dim), self._zero_condition(2))
        if list(out.shape[1:]) != list(config.input_shape):
            raise ConfigError(f"the generator produces {list(out.shape[1:])} images but model.input_shape is "
                              f"{config.input_shape}: check g_initial_shape, g_upsample, g_strides and g_filters")
        self.replay = ReplayBuffer(config.replay_size, config.input_shape) if config.replay_size else None

    def _zero_condition(self, n: int) -> Tensor | None:
        return torch.zeros(n, self.config.condition_dim) if self.config.condition_dim else None

    # -- generation -------------------------------------------------------------------------------
    def generate(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """G(z[, condition]) in model space (``[-1, 1]`` for tanh generators)."""
        return self.generator(z, condition)

    def decode(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """The :class:`~genzoo.models.capabilities.FromLatent` view of the generator: G(z[, condition])."""
        return self.generate(z, condition)

    def sample(self, n: int, *, generator: torch.Generator | None = None,
               condition: Tensor | None = None) -> Tensor:
        device = self.device
        if condition is None:
            condition = self.default_condition(n, device)
        z = self.noise(n, device, generator)
        return self.to_unit(self.generate(z, None if condition is None else condition.to(device)))

    def _fake(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        condition = self.condition_of(batch)
        z = self.noise(len(batch), batch.x.device)
        return self.generate(z, condition), condition

    def fakes(self, batch: Batch) -> tuple[Tensor, Tensor | None] | None:
        """G(z) for one z per image, with gradients, for both phases of a step (``model.reuse_fakes``).

        The discriminator trains on their detached copy; the generator step then sends the *same* fakes through
        the updated discriminator, so each step runs the generator forward once instead of twice (as the PyTorch
        DCGAN example does; the books draw a second z for the generator phase: ``reuse_fakes=false``). The
        generator's gradient is then taken on samples the discriminator has just been trained on, so it meets a
        discriminator slightly harder on these samples than on fresh ones (a different estimator of the same
        objective, not an exact re-arrangement). What changes besides the cost:

        * a BatchNorm generator in train mode updates its running statistics (used only for sampling) once per
          step instead of twice, so they average over twice as many steps — Keras, whose
          ``generator.predict`` in the books' discriminator phase runs in inference mode, also updates them
          once;
        * the generator's activations stay alive through the discriminator step (more peak memory);
        * with ``n_critic`` > 1 (WGAN) only the last critic step's fakes are reused: the earlier critic steps
          each need their own fakes, which do not need gradients;
        * conditional GANs use the labels of the last critic batch in both phases, as before; with experience
          replay the discriminator sees the mixed batch and the generator all of its fresh fakes.
        """
        if not self.config.reuse_fakes:
            return None
        return self._fake(batch)

    def _discriminator_fakes(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None,
                             ) -> tuple[Tensor, Tensor | None]:
        """The fresh fakes the discriminator sees (detached; drawn without gradients unless given)."""
        if fakes is None:
            with torch.no_grad():
                return self._fake(batch)
        return fakes[0].detach(), fakes[1]

    # -- losses -----------------------------------------------------------------------------------
    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        """BCE on reals (target 1 − smoothing) and fakes (target 0), one update on both halves."""
        fake, condition = self._discriminator_fakes(batch, fakes)
        if self.replay is not None:
            fake = self.replay.mix(fake, self.config.replay_fraction)
        real_logits = self.discriminator(batch.x, condition)
        fake_logits = self.discriminator(fake, condition)
        target = 1.0 - self.config.label_smoothing
        loss_real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.full_like(real_logits.float(), target))
        loss_fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits.float()))
        loss = 0.5 * (loss_real + loss_fake)
        return {"loss": loss, "loss_real": loss_real.detach(), "loss_fake": loss_fake.detach(),
                "acc_real": (real_logits > 0).float().mean().detach(),
                "acc_fake": (fake_logits < 0).float().mean().detach()}

    def generator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        """Non-saturating: −log D(G(z)) (train the stacked model with all labels 1)."""
        fake, condition = fakes if fakes is not None else self._fake(batch)
        logits = self.discriminator(fake, condition).float()
        loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        return {"loss": loss, "fooled": (logits > 0).float().mean().detach()}

    # -- description --------------------------------------------------------------------------------
    def summary_parts(self):
        c = self.config
        cond = (torch.zeros(1, c.condition_dim),) if c.condition_dim else ()
        return [("discriminator" if self.family == "gan" else "critic", self.discriminator,
                 (torch.zeros(1, *c.input_shape), *cond)),
                ("generator", self.generator, (torch.zeros(1, c.z_dim), *cond))]
