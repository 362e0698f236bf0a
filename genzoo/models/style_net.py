"""Feed-forward style transfer (Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer";
beyond Foster 1st ed. ch. 5, whose Gatys et al. optimisation this amortises).

One image-transformation network per style image, trained on content photos to minimise the *same* perceptual
loss that ``genzoo style-transfer`` optimises per image by L-BFGS (:class:`~genzoo.style_transfer.losses.
PerceptualLoss`: content on one layer, the book's normalised Gram matrices on block1..5_conv1, total variation
with power 1.25), with the batch itself as the content target. Afterwards a new photo is stylised in one forward
pass.

The network is the ResNet generator of :mod:`genzoo.nn.translation` (Johnson et al.'s architecture, which CycleGAN
took over): reflection-padded c7s1-f, two stride-2 downsamples, ``blocks`` residual blocks with instance norm,
two stride-2 upsamples, c7s1-3 with tanh — Johnson uses 9×9 outer convs and 5 residual blocks at f = 32, and
Ulyanov et al.'s instance norm. Images in [0, 1] go in as 2x − 1 and come out as (tanh + 1)/2. (An unbounded
residual output, photo + zero-initialised correction, was tried so training would start where L-BFGS starts: the
style loss of its out-of-range pixels blew up to 5× that of the untouched photo within 10 steps, so it was dropped.)

The frozen feature network (random VGG19 by default, ImageNet VGG19 from ``model.vgg``) is rebuilt from the config
on load — its weights are not part of the checkpoint — so a run stays small and resumes exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.translation import ResNetGenerator
from .base import ArrayModel, ArrayModelConfig, register_model
from .capabilities import Stylises


@dataclass
class StyleNetConfig(ArrayModelConfig):
    """The transformation network, the style image and the perceptual loss (``None``/empty: the feature
    network's defaults, as ``genzoo style-transfer`` uses them)."""

    input_shape: list[int] = field(default_factory=lambda: [3, 128, 128])
    style: str = "starry_night"          # an image file or an offline name
    features: str = "auto"               # as `genzoo style-transfer --features`
    vgg: str | None = None               # ImageNet VGG19 weights file (or $GENZOO_VGG19)
    features_seed: int = 0
    filters: int = 32
    blocks: int = 5
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    content_layer: str | None = None
    style_layers: list[str] = field(default_factory=list)
    style_layer_weights: list[float] | None = None
    style_norm: str = "book"

    def check(self) -> None:
        super().check()
        from ..style_transfer.losses import STYLE_NORMS

        if self.input_shape[0] != 3:
            raise ConfigError("model.input_shape must have 3 channels: style networks work on colour photos")
        if self.data_range != "01":
            raise ConfigError("model.data_range must be '01' for style-net (the perceptual loss sees [0, 1] images)")
        if self.filters < 1 or self.blocks < 0:
            raise ConfigError("model.filters must be >= 1 and model.blocks >= 0")
        if self.style_norm not in STYLE_NORMS:
            raise ConfigError(f"model.style_norm must be one of {', '.join(STYLE_NORMS)}, got {self.style_norm!r}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise ConfigError(f"model.{name} must be >= 0, got {v}")


@register_model
class StyleNet(ArrayModel, Stylises):
    """Johnson et al.'s feed-forward style network, trained with the book's perceptual loss (`style-net`)."""

    family = "style-net"
    config_class = StyleNetConfig

    def __init__(self, config: StyleNetConfig):
        super().__init__(config)
        c = config
        self.net = ResNetGenerator(3, c.filters, c.blocks)
        self._loss = None     # built on first use: the frozen feature net and the style's Gram matrices

    @classmethod
    def configure(cls, model_cfg: dict, spec) -> dict:
        """Resolve ``features: auto`` once, on the new run (ImageNet VGG19 when ``model.vgg`` or ``$GENZOO_VGG19``
        names a file, else the default network), and keep the weights file it found: a resumed or reloaded run uses
        the network it was trained with, whatever the environment says later."""
        from ..style_transfer.features import DEFAULT_WITHOUT_WEIGHTS
        from ..style_transfer.weights import weights_path

        model_cfg = super().configure(model_cfg, spec)
        if model_cfg.get("features", "auto") in ("auto", "vgg19-imagenet"):
            path = weights_path(model_cfg.get("vgg"))
            if path is not None:
                model_cfg = {**model_cfg, "features": "vgg19-imagenet", "vgg": str(path)}
            elif model_cfg.get("features", "auto") == "auto":
                model_cfg = {**model_cfg, "features": DEFAULT_WITHOUT_WEIGHTS}
        return model_cfg

    # The perceptual loss is not a sub-module: its frozen network stays out of the state dict and the optimizer.
    @property
    def perceptual(self):
        if self._loss is None:
            from ..style_transfer.command import TransferOptions, loss_for
            from ..style_transfer.features import build_features
            from ..style_transfer.images import cover, read_image, to_tensor

            c = self.config
            features = build_features(c.features, c.vgg, c.features_seed).to(self.device)
            h, w = c.input_shape[1:]
            style = to_tensor(cover(read_image(c.style)[0], w, h)).to(self.device)
            opts = TransferOptions(content="", style=c.style, out=None, content_weight=c.content_weight,
                                   style_weight=c.style_weight, tv_weight=c.tv_weight, content_layer=c.content_layer,
                                   style_layers=tuple(c.style_layers) or None,
                                   style_layer_weights=tuple(c.style_layer_weights) if c.style_layer_weights else None,
                                   style_norm=c.style_norm)
            self._loss = loss_for(features, style, opts)
        return self._loss

    @property
    def features(self):
        return self.perceptual.features

    @property
    def features_name(self) -> str:
        return self.features.name

    def forward(self, x01: Tensor) -> Tensor:
        return (self.net(x01 * 2 - 1) + 1) / 2

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        p = self.perceptual
        x = batch.x
        y = self(x)
        terms = p.terms(y, p.content_targets(x))
        return {k: v.mean() for k, v in terms.items()}

    @torch.inference_mode()
    def stylise(self, x: Tensor) -> Tensor:
        """Images in [0, 1] (any size divisible by 4) → stylised, in one pass."""
        was = self.training
        self.eval()
        h, w = x.shape[2:]
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            x = nn.functional.pad(x, (0, pw, 0, ph), mode="reflect")
        y = self(x)[:, :, :h, :w]
        self.train(was)
        return y

    def summary_parts(self):
        return [("style-net (transformation network)", self.net, (torch.zeros(1, *self.config.input_shape),))]


__all__ = ["StyleNet", "StyleNetConfig"]
