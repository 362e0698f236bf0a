"""Autoencoders: Foster ch. 3 (conv AE, z=2) and Géron ch. 17 (denoising and sparse dense AEs).

- Plain AE (Foster Listings 3.1-3.5): MSE over pixels, Adam.
- Denoising AE (Vincent et al. 2008; Géron): Gaussian noise or Dropout(0.5) on the encoder input,
  active in training only.
- Sparse AE (Géron; Ng's sparse-autoencoder notes): an L1 activity penalty on a 300-unit sigmoid coding
  layer, or the KL divergence between a target activation p and the batch-mean activation q of each
  unit. Keras divides activity-regulariser losses by the batch size; we keep that, so the book's
  weights (1e-4, 5e-3) mean what they meant there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.coders import ConvDecoder, ConvEncoder, DenseDecoder, DenseEncoder
from ..nn.layers import init_keras_
from .base import ArrayModel, ArrayModelConfig, register_model
from .capabilities import Encodes, FromLatent, Reconstructs, Samples


@dataclass
class CoderConfig(ArrayModelConfig):
    """Architecture of an encoder/decoder pair; ``arch`` picks Foster's conv or Géron's dense nets."""

    arch: str = "conv"                      # conv | dense
    z_dim: int = 2
    # conv (Foster ch. 3)
    encoder_filters: list[int] = field(default_factory=lambda: [32, 64, 64, 64])
    encoder_kernels: list[int] = field(default_factory=lambda: [3, 3, 3, 3])
    encoder_strides: list[int] = field(default_factory=lambda: [1, 2, 2, 1])
    decoder_filters: list[int] = field(default_factory=lambda: [64, 64, 32, 1])
    decoder_kernels: list[int] = field(default_factory=lambda: [3, 3, 3, 3])
    decoder_strides: list[int] = field(default_factory=lambda: [1, 2, 2, 1])
    use_batch_norm: bool = False
    dropout: float | None = None            # Foster's use_dropout=True means 0.25
    leaky_slope: float = 0.3                # Keras LeakyReLU() default
    # dense (Géron ch. 17)
    encoder_units: list[int] = field(default_factory=lambda: [100])
    decoder_units: list[int] = field(default_factory=lambda: [100])
    hidden_activation: str = "relu"
    code_activation: str = "linear"
    output_activation: str = "sigmoid"      # sigmoid | linear | tanh

    def check(self) -> None:
        super().check()
        if self.arch not in ("conv", "dense"):
            raise ConfigError(f"model.arch must be conv or dense, got {self.arch!r}")
        if self.z_dim < 1:
            raise ConfigError("model.z_dim must be >= 1")
        if self.arch == "conv" and self.decoder_filters[-1] != self.input_shape[0]:
            raise ConfigError(f"model.decoder_filters ends with {self.decoder_filters[-1]} channels but the "
                              f"images have {self.input_shape[0]}; set the last decoder filter to match")


def build_coders(c: CoderConfig, heads: int, input_layer: nn.Module | None = None) -> tuple[nn.Module, nn.Module]:
    """The encoder (with ``heads`` outputs) and decoder described by ``c``."""
    cond = c.condition_dim
    if c.arch == "conv":
        enc = ConvEncoder(c.input_shape, c.z_dim, c.encoder_filters, c.encoder_kernels, c.encoder_strides,
                          heads=heads, batch_norm=c.use_batch_norm, dropout=c.dropout, leaky_slope=c.leaky_slope,
                          condition_dim=cond, code_activation=c.code_activation, input_layer=input_layer)
        dec = ConvDecoder(c.z_dim, enc.shape_before_flattening, c.decoder_filters, c.decoder_kernels,
                          c.decoder_strides, batch_norm=c.use_batch_norm, dropout=c.dropout,
                          leaky_slope=c.leaky_slope, condition_dim=cond, output_activation=c.output_activation)
        with torch.no_grad():
            out = dec(torch.zeros(1, c.z_dim), torch.zeros(1, cond) if cond else None)
        if list(out.shape[1:]) != list(c.input_shape):
            raise ConfigError(f"the decoder produces {list(out.shape[1:])} but the input is {c.input_shape}: "
                              "check the decoder strides and filters")
    else:
        enc = DenseEncoder(c.input_shape, c.z_dim, c.encoder_units, heads=heads,
                           hidden_activation=c.hidden_activation, code_activation=c.code_activation,
                           condition_dim=cond, input_layer=input_layer)
        dec = DenseDecoder(c.z_dim, c.input_shape, c.decoder_units, hidden_activation=c.hidden_activation,
                           output_activation=c.output_activation, condition_dim=cond)
    return init_keras_(enc), init_keras_(dec)  # Glorot-uniform, as the books' Keras layers start


class GaussianNoise(nn.Module):
    """Additive N(0, std²) noise in training only (Keras ``GaussianNoise``)."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training else x


@dataclass
class AutoencoderConfig(CoderConfig):
    input_noise: str = "none"               # none | gaussian | dropout  (denoising AE)
    noise_level: float = 0.2                # Gaussian std, or dropout rate (Géron: 0.5)
    sparsity: str = "none"                  # none | l1 | kl  (sparse AE)
    sparsity_weight: float = 0.0            # Géron: l1 1e-4; kl 5e-3
    sparsity_target: float = 0.1            # Géron: p = 0.1

    def check(self) -> None:
        super().check()
        if self.input_noise not in ("none", "gaussian", "dropout"):
            raise ConfigError(f"model.input_noise must be none, gaussian or dropout, got {self.input_noise!r}")
        if self.sparsity not in ("none", "l1", "kl"):
            raise ConfigError(f"model.sparsity must be none, l1 or kl, got {self.sparsity!r}")
        if self.sparsity == "kl" and self.code_activation != "sigmoid":
            raise ConfigError("KL sparsity needs activations in (0, 1): set model.code_activation=sigmoid")
        if not 0 < self.sparsity_target < 1:
            raise ConfigError("model.sparsity_target must be in (0, 1)")


def kl_sparsity(codings: Tensor, target: float) -> Tensor:
    """Σ_units KL(p ‖ q) for Bernoulli p = target and q = mean activation of each unit over the batch."""
    q = codings.mean(0).clamp(1e-7, 1 - 1e-7)
    p = torch.tensor(target, dtype=q.dtype, device=q.device)
    return (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))).sum()


@register_model
class Autoencoder(ArrayModel, Samples, Encodes, FromLatent, Reconstructs):
    """Deterministic autoencoder; ``sample`` decodes points drawn uniformly from the box spanned by
    the codes seen in training (the book's "new exhibition", Fig. 3.3)."""

    family = "autoencoder"
    config_class = AutoencoderConfig
    latent_prior = "box"   # its codes follow no fixed distribution (Foster ch. 3, the "gaps" of Fig. 3-8)
    buffer_reduce = {"code_min": "min", "code_max": "max"}  # how data-parallel processes combine them

    def __init__(self, config: AutoencoderConfig):
        super().__init__(config)
        noise = {"none": None, "gaussian": GaussianNoise(config.noise_level),
                 "dropout": nn.Dropout(config.noise_level)}[config.input_noise]
        self.encoder, self.decoder = build_coders(config, heads=1, input_layer=noise)
        # Running bounds of the codes, so sampling needs no pass over the data.
        self.register_buffer("code_min", torch.full((config.z_dim,), float("inf")))
        self.register_buffer("code_max", torch.full((config.z_dim,), float("-inf")))

    def encode(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.encoder(x, condition) if self.config.condition_dim else self.encoder(x)

    def decode(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.decoder(z, condition)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        c = self.config
        cond = self.condition_of(batch)
        z = self.encode(batch.x, cond)
        recon = self.decode(z, cond)
        mse = F.mse_loss(recon.float(), batch.x.float(), reduction="none").flatten(1).mean(1).mean()
        out = {"mse": mse}
        loss = mse
        if c.sparsity == "l1":
            penalty = c.sparsity_weight * z.abs().sum() / len(z)
            out["sparsity_penalty"] = penalty
            loss = loss + penalty
        elif c.sparsity == "kl":
            penalty = c.sparsity_weight * kl_sparsity(z.float(), c.sparsity_target) / len(z)
            out["sparsity_penalty"] = penalty
            loss = loss + penalty
        if c.code_activation == "sigmoid":
            out["mean_activation"] = z.detach().float().mean()
        with torch.no_grad():
            zd = z.detach().float()
            lo, hi = zd.min(0).values, zd.max(0).values
            self.code_min.copy_(torch.minimum(self.code_min, lo))
            self.code_max.copy_(torch.maximum(self.code_max, hi))
        out["loss"] = loss
        return out

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None) -> Tensor:
        dev = self.device
        u = torch.rand(n, self.config.z_dim, generator=generator).to(dev)
        seen = torch.isfinite(self.code_min) & torch.isfinite(self.code_max)
        lo = torch.where(seen, self.code_min, -torch.ones_like(self.code_min))
        hi = torch.where(seen, self.code_max, torch.ones_like(self.code_max))
        z = lo + u * (hi - lo)
        if condition is None:
            condition = self.default_condition(n, dev)
        return self.to_unit(self.decode(z, condition))

    @torch.no_grad()
    def reconstruct(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.to_unit(self.decode(self.encode(x, condition), condition))

    def summary_parts(self):
        c = self.config
        x = torch.zeros(1, *c.input_shape)
        cond = (torch.zeros(1, c.condition_dim),) if c.condition_dim else ()
        return [("encoder", self.encoder, (x, *cond)), ("decoder", self.decoder, (torch.zeros(1, c.z_dim), *cond))]
