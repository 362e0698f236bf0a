"""The feature networks that neural style transfer can measure content and style with.

* ``vgg19-imagenet`` — the book's (Foster 1st ed. ch. 5): VGG19 with ImageNet weights read from a user's file
  (:mod:`genzoo.style_transfer.weights`), each format with its own preprocessing.
* ``vgg19-random`` — the same architecture with random weights (He-normal, zero bias, a fixed seed) and average
  pooling; content on ``block4_conv2`` by default (``block5_conv2`` of a random net keeps less of the photo). Random convolutional networks already carry texture statistics (Ustyuzhaninov et al. 2017, "What does
  it take to generate natural textures?"; He, Wang & Hopcroft 2016, "A powerful generative model using random
  weights for the deep image representation"); He-normal keeps the activations' scale through the 16 layers.
  Input: Caffe's preprocessing, so activations have the book's magnitudes and its weights apply.
* ``vgg19-random-max`` — the same with VGG's max pooling (the comparison of pooling in the experiment).
* ``bookcnn-emoji`` — genzoo's shipped ch. 2 CNN trained on the emoji's groups (4 convs, 32–64 filters): the
  "network trained here" candidate. Its layers are ``conv1`` … ``conv4``.

Which one is the default without a weights file was decided by the experiment of ``docs/style-transfer.md``
(:data:`DEFAULT_WITHOUT_WEIGHTS`); every result names the network it used.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from ..config import ConfigError
from ..nn.vgg import LAYER_NAMES, VGG19Features
from .weights import load_vgg19, preprocess_caffe, preprocess_torchvision, weights_path

BOOK_CONTENT_LAYER = "block5_conv2"
BOOK_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
RANDOM_CONTENT_LAYER = "block4_conv2"     # vgg19-random's default content layer (docs/style-transfer.md)
FEATURE_NETS = ("vgg19-imagenet", "vgg19-random", "vgg19-random-max", "bookcnn-emoji")
DEFAULT_WITHOUT_WEIGHTS = "vgg19-random"


@dataclass
class StyleFeatures:
    """A frozen network, how images in ``[0, 1]`` are prepared for it, and its named layers."""

    name: str
    description: str
    net: nn.Module
    preprocess: Callable[[Tensor], Tensor]
    layers: list[str]
    content_layer: str
    style_layers: tuple[str, ...]
    info: dict = field(default_factory=dict)

    def __call__(self, x01: Tensor, layers: list[str] | tuple[str, ...]) -> "OrderedDict[str, Tensor]":
        return self.net(self.preprocess(x01), list(layers))

    def check_layers(self, layers: list[str] | tuple[str, ...], what: str) -> None:
        bad = [name for name in layers if name not in self.layers]
        if bad:
            raise ConfigError(f"{what} {', '.join(bad)} is not a layer of {self.name}; its layers are "
                              f"{', '.join(self.layers)}")

    def to(self, device: torch.device | str) -> "StyleFeatures":
        self.net.to(device)
        return self


def random_vgg19(seed: int = 0, pool: str = "avg", width: float = 1.0) -> VGG19Features:
    """VGG19 (``width`` × its filters) with He-normal weights (fan-in, ReLU gain) and zero biases, drawn from
    ``seed``."""
    net = VGG19Features(pool=pool, width=width)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for conv in net.convs.values():
            fan_in = conv.in_channels * 9
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            conv.bias.zero_()
    return net.requires_grad_(False).eval()


class BookCNNLayers(nn.Module):
    """The conv part of genzoo's ch. 2 feature CNN, returning the activation after each of its four blocks."""

    def __init__(self, convs: nn.Sequential):
        super().__init__()
        self.convs = convs
        acts = [i for i, m in enumerate(convs) if isinstance(m, (nn.LeakyReLU, nn.ReLU))]
        self.names = {i: f"conv{k}" for k, i in enumerate(acts, 1)}

    def forward(self, x: Tensor, layers: list[str]) -> "OrderedDict[str, Tensor]":
        out: OrderedDict[str, Tensor] = OrderedDict()
        for i, m in enumerate(self.convs):
            x = m(x)
            if self.names.get(i) in layers:
                out[self.names[i]] = x
                if len(out) == len(layers):
                    break
        return out


def bookcnn_emoji() -> StyleFeatures:
    from ..config import DataConfig
    from ..metrics.features import shipped_feature_net, spec_for

    found = shipped_feature_net(spec_for(DataConfig(name="emoji"), (3, 32, 32)))
    if found is None:
        raise ConfigError("genzoo's shipped emoji feature network is missing (genzoo/assets/feature-nets); "
                          "reinstall genzoo or choose --features vgg19-random")
    net = BookCNNLayers(found.net.convs).requires_grad_(False).eval()
    names = list(net.names.values())
    return StyleFeatures("bookcnn-emoji", "genzoo's shipped ch. 2 CNN trained on the emoji's groups "
                         f"(test accuracy {found.meta.get('test_accuracy', float('nan')):.2f}); no ImageNet weights",
                         net, lambda x: x, names, names[-1], tuple(names), {"source": found.meta.get("key")})


def build_features(name: str = "auto", vgg: str | Path | None = None, seed: int = 0,
                   pool: str | None = None) -> StyleFeatures:
    """The feature network ``name`` (``auto``: ImageNet VGG19 when a weights file is given by ``vgg`` or
    ``$GENZOO_VGG19``, else :data:`DEFAULT_WITHOUT_WEIGHTS`)."""
    if name not in ("auto", *FEATURE_NETS):
        raise ConfigError(f"unknown feature network {name!r}; choose auto or one of {', '.join(FEATURE_NETS)}")
    path = weights_path(vgg) if name in ("auto", "vgg19-imagenet") else None
    if name == "auto":
        name = "vgg19-imagenet" if path is not None else DEFAULT_WITHOUT_WEIGHTS
    book = (LAYER_NAMES, BOOK_CONTENT_LAYER, BOOK_STYLE_LAYERS)
    if name == "vgg19-imagenet":
        if path is None:
            raise ConfigError("--features vgg19-imagenet needs the weights file: --vgg FILE or $GENZOO_VGG19 "
                              "(torchvision's vgg19-dcbb9e9d.pth, a .safetensors of it, or Keras' "
                              "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)")
        net, prep = load_vgg19(path, pool or "max")
        fn = preprocess_caffe if prep == "caffe" else preprocess_torchvision
        return StyleFeatures(name, f"VGG19 with ImageNet weights from {path.name} ({prep} preprocessing)", net, fn,
                             *book, {"weights": str(path), "preprocessing": prep, "pool": net.pool})
    if name == "bookcnn-emoji":
        return bookcnn_emoji()
    pool = pool or ("max" if name == "vgg19-random-max" else "avg")
    net = random_vgg19(seed, pool)
    # The experiment's best balance on the random average-pooling net takes the content one block lower.
    content = RANDOM_CONTENT_LAYER if name == "vgg19-random" else BOOK_CONTENT_LAYER
    return StyleFeatures(name, f"VGG19 with random He-normal weights (seed {seed}, {pool} pooling); no ImageNet "
                         f"weights were used", net, preprocess_caffe, LAYER_NAMES, content, BOOK_STYLE_LAYERS,
                         {"seed": seed, "pool": pool, "preprocessing": "caffe"})


__all__ = ["BOOK_CONTENT_LAYER", "BOOK_STYLE_LAYERS", "DEFAULT_WITHOUT_WEIGHTS", "FEATURE_NETS", "StyleFeatures",
           "build_features", "random_vgg19"]
