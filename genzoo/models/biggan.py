"""BigGAN's ideas at small scale (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis"; Foster 1st ed. §9, "BigGAN") on SAGAN's networks (:mod:`genzoo.models.sagan`), which BigGAN builds on:

* **Class-conditional batch norm with a shared embedding** (§3, Appendix B): one class embedding (``shared_dim``)
  serves every generator block; each block's batch norms take their gains and biases as linear projections of
  ``[embedding, that block's chunk of z]`` (:class:`~genzoo.nn.conditional_norm.ConditionalBatchNorm2d`).
* **Hierarchical z** (§3, Fig. 15 a): z is split into ``blocks + 1`` equal chunks, one to the initial dense layer and
  one to each residual block, so the noise reaches every resolution directly.
* **Orthogonal regularisation** (§3.1, eq. 3): β‖WWᵀ ⊙ (1 − I)‖²_F on G's weights, β = 1e-4, which makes G
  "amenable to truncation" (:func:`~genzoo.models.sagan.orthogonal_regularisation`).
* **Projection discriminator** (Miyato & Koyama 2018): D's logit adds ⟨embed(y), φ(x)⟩.
* **The truncation trick** (§3.1): z drawn from N(0, I) truncated to |z_i| < threshold, values outside resampled;
  ``sample(n, truncation=t)`` (``genzoo sample --truncation t``), ``None`` is the untruncated prior. The analyses
  ``truncation`` and ``truncation-curve`` use the book's thresholds 2, 1, 0.5, 0.04.
* **EMA of G** (Appendix B, decay 0.9999 there): the recipes set ``ema_decay``; samples are drawn in ``eval()``,
  i.e. with the batch norms' *running* statistics (copied from the trained G into the EMA copy), not BigGAN's
  "standing statistics" (re-estimated for the EMA weights by many forward passes before sampling): at our few
  thousand steps the EMA weights stay close to the trained ones, and running statistics keep a sample independent
  of the other samples of its batch.

The model takes the class *index*: the one-hot condition the data plumbing hands over
(:meth:`~genzoo.models.base.ArrayModel.condition_of`) is turned back into an index (argmax).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..config import ConfigError
from .base import register_model
from .capabilities import Truncates
from .sagan import SAGAN, SAGANConfig


@dataclass
class BigGANConfig(SAGANConfig):
    """SAGAN's config with BigGAN's ideas on: class-conditional (``num_classes`` is required), shared embedding,
    hierarchical z, orthogonal regularisation, projection discriminator (BigGAN: z 120 in 6 chunks of 20 at
    128 px, shared embedding 128, β = 1e-4)."""

    z_dim: int = 120
    shared_dim: int = 128
    hierarchical_z: bool = True
    ortho_reg: float = 1e-4
    projection: bool = True

    def check(self) -> None:
        if not self.num_classes:
            raise ConfigError("BigGAN is class-conditional: set model.num_classes (the data's classes, e.g. 10 for "
                              "Fashion-MNIST), or use the unconditional family sagan")
        super().check()


def truncated_normal(shape: tuple[int, ...], threshold: float, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> Tensor:
    """N(0, 1) values restricted to (−threshold, threshold): a normal draw whose values outside are resampled
    (BigGAN §3.1), so the values already inside are those of the untruncated draw from the same generator state
    (rows of the truncation figure stay the same draws where they can).

    The resampling is vectorised rejection: each round draws enough candidates for the values still outside at the
    acceptance rate erf(t/√2) (×1.5 + 16) and puts the accepted ones in their places in order, so even t = 0.04
    (3 % accepted) takes a couple of rounds; the result is distributed exactly as N(0, 1) given |z| < t.
    """
    if threshold <= 0:
        raise ConfigError(f"the truncation threshold must be > 0, got {threshold}")
    gdev = generator.device if generator is not None else device
    z = torch.randn(math.prod(shape), generator=generator, device=gdev)
    outside = (z.abs() >= threshold).nonzero().squeeze(1)
    rate = math.erf(threshold / math.sqrt(2))
    fresh, filled = [], 0
    while filled < outside.numel():
        need = outside.numel() - filled
        cand = torch.randn(int(need / rate * 1.5) + 16, generator=generator, device=gdev)
        kept = cand[cand.abs() < threshold][:need]
        fresh.append(kept)
        filled += kept.numel()
    if fresh:
        z[outside] = torch.cat(fresh)
    return z.view(shape).to(device)


@register_model
class BigGAN(SAGAN, Truncates):
    """SAGAN + BigGAN's class-conditional BN with shared embedding, hierarchical z, orthogonal regularisation,
    projection discriminator and truncated-normal sampling (``biggan``)."""

    family = "biggan"
    config_class = BigGANConfig
    truncation_kind = "threshold"
    truncation_values = (2.0, 1.0, 0.5, 0.04)    # the book's thresholds (Foster 1st ed. §9); untruncated: None

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None,
              truncation: float | None = None) -> Tensor:
        """z ~ N(0, I), or truncated to |z_i| < ``truncation``."""
        if truncation is None:
            return super().noise(n, device, generator)
        return truncated_normal((n, self.config.z_dim), truncation, generator, device)

    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               truncation: float | None = None) -> Tensor:
        """``n`` samples in [0, 1] of the given (default: cycling) classes, z truncated at ``truncation``."""
        condition = self._condition(n, condition)
        return self.to_unit(self.generate(self.noise(n, self.device, generator, truncation), condition))

    def check_options(self, options: dict[str, Any]) -> None:
        t = options.get("truncation")
        if t is not None and not t > 0:
            raise ConfigError(f"--truncation is BigGAN's threshold on |z| and must be > 0, got {t} (omit it to "
                              f"sample untruncated)")
