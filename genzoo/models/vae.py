"""Variational autoencoder (Kingma & Welling 2013) — Foster ch. 3 and Géron ch. 17 — and its
conditional form (Sohn et al. 2015; the CVAE tutorial of seed 004).

Training loss, in the books' own weighting::

    loss = recon_weight · mean_pixels((x − x̂)²) + kl_weight · KL(q(z|x) ‖ N(0, I))

Foster: recon_weight = r_loss_factor (1,000 digits; 10,000 faces), kl_weight = 1.
Géron: recon_weight = 1, kl_weight = 1/784.
That loss is, up to a constant, the negative ELBO of a Gaussian decoder p(x|z) = N(x̂, σ² I) with
σ² = D · kl_weight / (2 · recon_weight) (D pixels): 0.392 for Foster's digits, 0.5 for Géron's. We log
that ELBO in nats (a continuous density on the [0, 1]-scaled pixels) next to the weighted loss, so the
loss weights stop being opaque. ``likelihood="bernoulli"`` instead uses Σ BCE (for binarised data).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ConfigError
from ..data.loader import Batch
from .autoencoder import CoderConfig, build_coders
from .base import ArrayModel, register_model
from .capabilities import Encodes, EvidenceBound, FromLatent, Reconstructs, Samples


@dataclass
class VAEConfig(CoderConfig):
    recon_weight: float = 1000.0            # Foster's r_loss_factor
    kl_weight: float = 1.0
    likelihood: str = "mse"                 # mse (implied Gaussian) | bernoulli

    def check(self) -> None:
        super().check()
        if self.likelihood not in ("mse", "bernoulli"):
            raise ConfigError(f"model.likelihood must be mse or bernoulli, got {self.likelihood!r}")
        if self.recon_weight <= 0 or self.kl_weight <= 0:
            raise ConfigError("model.recon_weight and model.kl_weight must be > 0")
        if self.likelihood == "bernoulli" and self.output_activation != "sigmoid":
            raise ConfigError("a Bernoulli likelihood needs model.output_activation=sigmoid")

    @property
    def decoder_variance(self) -> float:
        """σ² of the Gaussian decoder implied by the MSE weighting."""
        return math.prod(self.input_shape) * self.kl_weight / (2.0 * self.recon_weight)


def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) summed over latent dimensions: −½ Σ (1 + log σ² − μ² − σ²)."""
    return -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp(), dim=1)


@register_model
class VAE(ArrayModel, Samples, Encodes, FromLatent, Reconstructs, EvidenceBound):
    """VAE with a diagonal-Gaussian posterior; conditional when ``num_classes``/``num_attributes`` > 0."""

    family = "vae"
    config_class = VAEConfig

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self.encoder, self.decoder = build_coders(config, heads=2)

    def encode(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """μ and log σ² of q(z | x[, c])."""
        return self.encoder(x, condition)

    def decode(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.decoder(z, condition)

    @staticmethod
    def reparameterize(mu: Tensor, log_var: Tensor) -> Tensor:
        return mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)

    def forward(self, x: Tensor) -> Tensor:
        mu, log_var = self.encode(x)
        return self.decode(self.reparameterize(mu, log_var))

    def log_likelihood(self, x: Tensor, recon: Tensor) -> Tensor:
        """log p(x | z) per image, in nats."""
        x, recon = x.float(), recon.float()
        d = x[0].numel()
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy(recon.clamp(1e-6, 1 - 1e-6), x, reduction="none").flatten(1).sum(1)
        var = self.config.decoder_variance
        sq = (x - recon).pow(2).flatten(1).sum(1)
        return -sq / (2 * var) - 0.5 * d * math.log(2 * math.pi * var)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        c = self.config
        cond = self.condition_of(batch)
        mu, log_var = self.encode(batch.x, cond)
        z = self.reparameterize(mu.float(), log_var.float())
        recon = self.decode(z.to(mu.dtype), cond)
        kl = gaussian_kl(mu.float(), log_var.float())
        mse = (recon.float() - batch.x.float()).pow(2).flatten(1).mean(1)
        log_px = self.log_likelihood(batch.x, recon)
        if c.likelihood == "bernoulli":
            loss = (-log_px + kl).mean()
        else:
            loss = (c.recon_weight * mse + c.kl_weight * kl).mean()
        return {"loss": loss, "mse": mse.mean(), "kl": kl.mean(), "elbo": (log_px - kl).mean()}

    @torch.no_grad()
    def elbo(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Single-sample ELBO per image in nats (unbiased estimate of the bound)."""
        mu, log_var = self.encode(x, condition)
        recon = self.decode(self.reparameterize(mu, log_var), condition)
        return self.log_likelihood(x, recon) - gaussian_kl(mu.float(), log_var.float())

    @torch.no_grad()
    def log_importance_weights(self, x: Tensor, condition: Tensor | None = None, k: int = 64) -> Tensor:
        """``k×N`` log weights log p(x|z_i) + log p(z_i) − log q(z_i|x), z_i ~ q(z|x) (Burda et al. 2015).

        log-mean-exp over the k rows is the importance-weighted bound IWAE-k ≤ log p(x); its k = 1 case
        is the ELBO, and it tightens monotonically (in expectation) towards log p(x) as k grows.
        """
        mu, log_var = (t.float() for t in self.encode(x, condition))
        std = torch.exp(0.5 * log_var)
        log_norm = 0.5 * math.log(2 * math.pi)
        rows = []
        for _ in range(k):
            eps = torch.randn_like(mu)
            z = mu + std * eps
            log_q = (-0.5 * eps.pow(2) - 0.5 * log_var - log_norm).sum(1)
            log_pz = (-0.5 * z.pow(2) - log_norm).sum(1)
            rows.append(self.log_likelihood(x, self.decode(z, condition)) + log_pz - log_q)
        return torch.stack(rows)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None) -> Tensor:
        dev = self.device
        z = torch.randn(n, self.config.z_dim, generator=generator).to(dev)
        if condition is None:
            condition = self.default_condition(n, dev)
        return self.to_unit(self.decode(z, condition))

    @torch.no_grad()
    def reconstruct(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        mu, _ = self.encode(x, condition)
        return self.to_unit(self.decode(mu, condition))

    def summary_parts(self):
        c = self.config
        x = torch.zeros(1, *c.input_shape)
        cond = (torch.zeros(1, c.condition_dim),) if c.condition_dim else ()
        return [("encoder", self.encoder, (x, *cond)), ("decoder", self.decoder, (torch.zeros(1, c.z_dim), *cond))]
