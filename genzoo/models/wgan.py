"""Wasserstein GANs (Foster ch. 4): weight clipping (Arjovsky et al. 2017, "Wasserstein GAN") and the
gradient penalty (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").

The critic outputs an unbounded score. It minimises E[D(G(z))] − E[D(x)] (the book's
``-mean(y_true * y_pred)`` with labels +1 real / −1 fake); the generator minimises −E[D(G(z))].
The 1-Lipschitz constraint is enforced by clipping every critic weight to ±c after each critic update
(WGAN) or by the penalty λ·E[(‖∇ₓ̂D(x̂)‖₂ − 1)²] on random interpolates x̂ = αx + (1−α)G(z) with one
α ~ U(0, 1) per sample (WGAN-GP). The networks are those of :mod:`genzoo.models.gan`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from .base import register_model
from .gan import GAN, GANConfig


@dataclass
class WGANConfig(GANConfig):
    """Foster's ``WGAN``: linear critic, LeakyReLU, no dropout, clip threshold 0.01 (Listing 4.7)."""

    d_activation: str = "leaky_relu"
    d_dropout: float | None = None
    clip_threshold: float = 0.01

    def check(self) -> None:
        super().check()
        if self.clip_threshold <= 0:
            raise ConfigError("model.clip_threshold must be > 0")
        if self.label_smoothing:
            raise ConfigError("label smoothing belongs to the cross-entropy GAN; a critic has no labels")


@dataclass
class WGANGPConfig(WGANConfig):
    """Foster's ``WGANGP``: the WGAN critic without clipping and without batch norm, λ = 10."""

    gp_weight: float = 10.0

    def check(self) -> None:
        super().check()
        if self.d_batch_norm is not None:
            raise ConfigError("WGAN-GP's critic must not use batch norm: the gradient penalty is per sample, "
                              "and batch norm mixes the samples of a batch (Gulrajani et al. 2017, sec. 4). "
                              "Set model.d_batch_norm=null (layer norm is the paper's alternative)")
        if self.gp_weight < 0:
            raise ConfigError("model.gp_weight must be >= 0")


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[D(G(z))] − E[D(x)]: minimising it maximises the critic's estimate of the Wasserstein distance."""
    return fake_scores.float().mean() - real_scores.float().mean()


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, condition: Tensor | None = None,
                     alpha: Tensor | None = None) -> Tensor:
    """E[(‖∇ₓ̂ D(x̂)‖₂ − 1)²] over x̂ = αx + (1−α)x̃, one α ~ U(0, 1) per sample (the book's
    ``RandomWeightedAverage`` + ``gradient_penalty_loss``, Listing 4.9). The norm is taken per sample over
    all of its pixels and channels; ``create_graph`` lets the penalty train the critic."""
    if alpha is None:
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    interpolated = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(interpolated, condition) if condition is not None else critic(interpolated)
    (grads,) = torch.autograd.grad(scores.float().sum(), interpolated, create_graph=True)
    norms = grads.float().flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


@register_model
class WGAN(GAN):
    """WGAN with weight clipping and (by recipe) n_critic = 5 critic steps per generator step."""

    family = "wgan"
    config_class = WGANConfig

    def _critic_terms(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None,
                      ) -> tuple[dict[str, Tensor], Tensor, Tensor | None]:
        """The Wasserstein critic loss, plus this step's fresh (detached) fakes and condition (for the penalty)."""
        fresh, condition = self._discriminator_fakes(batch, fakes)
        fake = self.replay.mix(fresh, self.config.replay_fraction) if self.replay is not None else fresh
        real_scores = self.discriminator(batch.x, condition)
        fake_scores = self.discriminator(fake, condition)
        loss = wasserstein_critic_loss(real_scores, fake_scores)
        out = {"loss": loss, "wasserstein": -loss.detach(), "real": real_scores.float().mean().detach(),
               "fake": fake_scores.float().mean().detach()}
        return out, fresh, condition

    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        return self._critic_terms(batch, fakes)[0]

    def generator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        fake, condition = fakes if fakes is not None else self._fake(batch)
        return {"loss": -self.discriminator(fake, condition).float().mean()}

    @torch.no_grad()
    def after_discriminator_step(self) -> None:
        """Clip every critic weight and bias to ±c (Listing 4.7 clips all of ``layer.get_weights()``)."""
        c = self.config.clip_threshold
        params = list(self.discriminator.parameters())
        torch._foreach_clamp_min_(params, -c)
        torch._foreach_clamp_max_(params, c)


@register_model
class WGANGP(WGAN):
    """WGAN-GP: Wasserstein loss + λ·gradient penalty, no clipping, no batch norm in the critic."""

    family = "wgan-gp"
    config_class = WGANGPConfig

    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        out, fresh, condition = self._critic_terms(batch, fakes)
        gp = gradient_penalty(self.discriminator, batch.x, fresh, condition)
        out["loss"] = out["loss"] + self.config.gp_weight * gp
        out["gradient_penalty"] = gp.detach()
        return out

    def after_discriminator_step(self) -> None:
        """No clipping: the penalty enforces the Lipschitz constraint."""
