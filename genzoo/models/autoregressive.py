"""Autoregressive image models: PixelCNN (Foster 2nd ed. ch. 5; van den Oord et al. 2016a), Gated PixelCNN
(van den Oord et al. 2016b), PixelCNN++'s discretised logistic mixture output (Salimans et al. 2017) and
PixelRNN's Row LSTM and Diagonal BiLSTM (van den Oord et al. 2016a) — one family, ``pixelcnn``, whose
``arch`` picks the network and ``output`` the per-pixel distribution.

p(x) = ∏_i p(x_i | x_<i) over pixels in raster order (channels R → G → B within a pixel). Pixels take
``levels`` integer values: the data are quantised to that many levels (``data.quantize``), binarised
(``levels: 2`` with ``data.binarize``) or kept at 256 levels. The network reads the image scaled to
[0, 1] (value k/(levels − 1); the book feeds k/levels, a difference of scale only) and is trained by
maximum likelihood; the log-likelihood is exact, so ``genzoo eval --metrics nll`` reports it in nats per
image and bits per dimension on the model's own K-level scale (log2 K bits/dim is a uniform guess).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from typing import Any, Literal

import torch
from torch import Tensor

from ..config import ConfigError, DataConfig
from ..data.loader import Batch
from ..nn.pixel_heads import CategoricalHead, LogisticMixtureHead
from ..nn.pixelcnn import AutoregressiveNet, GatedPixelCNNNet, PixelCNNNet
from ..nn.pixelrnn import DiagonalBiLSTMNet, RowLSTMNet
from .base import ArrayModel, ArrayModelConfig, register_model
from .capabilities import Completes, ExactLikelihood, Samples
from .pixel_sampling import autoregressive_sample

PixelSampler = Literal["cached", "naive"]   # cached: Ramachandran et al. 2017; naive: a full pass per pixel

ARCHS = ("pixelcnn", "gated", "row_lstm", "diagonal_bilstm")


@dataclass
class PixelConfig(ArrayModelConfig):
    input_shape: list[int] = field(default_factory=lambda: [1, 16, 16])
    arch: str = "pixelcnn"              # pixelcnn | gated | row_lstm | diagonal_bilstm
    levels: int = 4                     # values per channel (book: 4; original paper: 256)
    output: str = "softmax"             # softmax | logistic_mixture (PixelCNN++)
    mixture_components: int = 5
    hidden: int = 128                   # feature maps (PixelCNN filters; Gated maps p; PixelRNN 2h)
    layers: int = 5                     # residual blocks | gated layers | LSTM layers
    first_kernel: int = 7               # the mask-A first layer's kernel
    kernel: int = 3                     # later masked kernels (PixelCNN blocks, gated layers, Row LSTM K_is/K_ss)
    head_layers: int = 2                # PixelCNN only: masked 1×1 ReLU layers before the output conv
    sampler: str = "cached"             # cached (fast, Ramachandran et al. 2017) | naive (a full pass per pixel)
    temperature: float = 1.0

    def check(self) -> None:
        super().check()
        if self.data_range != "01":
            raise ConfigError("pixel models read images in [0, 1]: set model.data_range to '01'")
        if self.arch not in ARCHS:
            raise ConfigError(f"model.arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.output not in ("softmax", "logistic_mixture"):
            raise ConfigError(f"model.output must be softmax or logistic_mixture, got {self.output!r}")
        if not 2 <= self.levels <= 256:
            raise ConfigError(f"model.levels must be in [2, 256], got {self.levels}")
        if self.sampler not in ("cached", "naive"):
            raise ConfigError(f"model.sampler must be cached or naive, got {self.sampler!r}")
        if self.temperature <= 0:
            raise ConfigError("model.temperature must be > 0")
        if self.first_kernel % 2 == 0 or self.kernel % 2 == 0:
            raise ConfigError("model.first_kernel and model.kernel must be odd")
        if self.hidden < 2 or self.hidden % 2:
            raise ConfigError("model.hidden must be an even number (blocks halve it)")
        if self.layers < 1 or self.mixture_components < 1:
            raise ConfigError("model.layers and model.mixture_components must be >= 1")
        groups = self.input_shape[0] if self.output == "softmax" else 1
        if self.hidden % (2 * groups):
            raise ConfigError(f"model.hidden must be a multiple of {2 * groups} for {self.input_shape[0]} channels "
                              f"(feature maps are split into R/G/B groups)")
        if self.num_attributes:
            raise ConfigError("pixel models condition on class labels (model.num_classes), not attributes")


def build_net(c: PixelConfig, out_channels: int, groups: int) -> AutoregressiveNet:
    channels = c.input_shape[0]
    if c.arch == "pixelcnn":
        return PixelCNNNet(channels, out_channels, c.hidden, c.layers, c.first_kernel, c.kernel, c.head_layers,
                           groups, c.num_classes)
    if c.arch == "gated":
        return GatedPixelCNNNet(channels, out_channels, c.hidden, c.layers, c.first_kernel, c.kernel, None, groups,
                                c.num_classes)
    if c.arch == "row_lstm":
        return RowLSTMNet(channels, out_channels, c.hidden, c.layers, c.first_kernel, c.kernel, groups, c.num_classes)
    return DiagonalBiLSTMNet(channels, out_channels, c.hidden, c.layers, c.first_kernel, groups, c.num_classes)


@register_model
class PixelModel(ArrayModel, Samples, ExactLikelihood, Completes):
    """An autoregressive image model: a causal network and a per-pixel output distribution."""

    family = "pixelcnn"
    config_class = PixelConfig

    def __init__(self, config: PixelConfig):
        super().__init__(config)
        channels = config.input_shape[0]
        if config.output == "softmax":
            self.head = CategoricalHead(channels, config.levels)
        else:
            self.head = LogisticMixtureHead(channels, config.levels, config.mixture_components)
        self.net = build_net(config, self.head.channels, self.head.groups)

    @property
    def likelihood_protocol(self) -> str:
        c = self.config
        return (f"exact discrete log-likelihood of {c.levels}-level pixels "
                f"({'binarised' if c.levels == 2 else 'quantised'} {c.input_shape[1]}x{c.input_shape[2]} data); "
                f"bits/dim on that scale, uniform = log2({c.levels}) = {math.log2(c.levels):.3f}")

    @property
    def discrete_levels(self) -> int:
        return self.config.levels

    def check_data(self, data_cfg: DataConfig) -> None:
        """The data must take exactly ``levels`` values per channel."""
        levels = self.config.levels
        have = 2 if data_cfg.binarize else (data_cfg.quantize or 256)
        if data_cfg.binarize and data_cfg.quantize:
            raise ConfigError("set data.binarize or data.quantize, not both")
        if have != levels:
            fix = ("--set data.binarize=true" if levels == 2 else
                   f"--set data.quantize={levels}" if levels < 256 else "--set data.quantize=null")
            raise ConfigError(f"model.levels={levels} but the data have {have} levels per channel; {fix} "
                              f"(or set model.levels={have})")

    # -- likelihood -----------------------------------------------------------------------------
    def to_levels(self, x: Tensor) -> Tensor:
        """[0, 1] images → integer pixel values 0 … levels−1."""
        return torch.round(x.float() * (self.config.levels - 1)).long().clamp(0, self.config.levels - 1)

    def log_prob_map(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """log p of every (pixel, channel) term, in nats (N×C×H×W for softmax, N×1×H×W for mixtures)."""
        return self.head.log_prob_map(self.net(x, condition), self.to_levels(x))

    def log_prob(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Exact log p(x) per image, in nats."""
        return self.log_prob_map(x, condition).flatten(1).sum(1)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        nats_per_dim = -self.log_prob_map(batch.x, self.condition_of(batch)).sum() / batch.x.numel()
        return {"loss": nats_per_dim, "bits_per_dim": nats_per_dim / math.log(2)}

    # -- sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               sampler: PixelSampler | None = None, temperature: float | None = None) -> Tensor:
        if condition is None:
            condition = self.default_condition(n, self.device)
        return autoregressive_sample(self, n, generator=generator, condition=condition,
                                     cached=(sampler or self.config.sampler) == "cached",
                                     temperature=temperature or self.config.temperature)

    @torch.no_grad()
    def complete(self, images: Tensor, start_row: int | None = None, *, generator: torch.Generator | None = None,
                 condition: Tensor | None = None, sampler: PixelSampler | None = None,
                 temperature: float | None = None) -> Tensor:
        """Keep rows above ``start_row`` (default: the top half) of ``images`` and sample the rest."""
        h = self.config.input_shape[1]
        start_row = h // 2 if start_row is None else start_row
        if not 0 <= start_row <= h:
            raise ConfigError(f"start_row must be in [0, {h}]")
        if condition is None:
            condition = self.default_condition(len(images), self.device)
        return autoregressive_sample(self, len(images), generator=generator, condition=condition,
                                     cached=(sampler or self.config.sampler) == "cached",
                                     temperature=temperature or self.config.temperature,
                                     given=images, start_row=start_row)

    def check_options(self, options: dict[str, Any]) -> None:
        sampler = options.get("sampler")
        if sampler is not None and sampler not in ("cached", "naive"):
            raise ConfigError(f"--sampler for autoregressive models is cached or naive, got {sampler!r}")

    def summary_parts(self):
        c = self.config
        cond = (torch.zeros(1, c.num_classes),) if c.num_classes else ()
        return [(f"{self.family} ({c.arch}, {c.output})", self.net, (torch.zeros(1, *c.input_shape), *cond))]
