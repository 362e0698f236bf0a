"""VGG19's convolutional part with Keras' layer names (Simonyan & Zisserman 2015; Foster 1st ed. ch. 5, neural
style transfer: ``vgg19.VGG19(include_top=False)``).

Sixteen 3×3 "same" convolutions, each followed by ReLU, in five blocks of 2, 2, 4, 4, 4 layers (64, 128, 256,
512, 512 filters) with a 2×2 stride-2 pooling after each block. The layers are named as Keras names them
(``block1_conv1`` … ``block5_conv4``); a layer's output is taken *after* its ReLU, as Keras' ``layer.output``
of a ``Conv2D(activation="relu")`` is. :data:`TORCHVISION_INDEX` maps each name to the index of that conv in
torchvision's ``vgg19().features`` (``features.N.weight``), so one module reads either format's weights.

Gatys et al. (2016, §2) replace max pooling by average pooling for smoother images; ``pool="avg"`` does that.
"""
from __future__ import annotations

from collections import OrderedDict

import torch.nn.functional as F
from torch import Tensor, nn

BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))   # (filters, convs)


def layer_names() -> list[str]:
    """``block1_conv1`` … ``block5_conv4``, in forward order."""
    return [f"block{b}_conv{i}" for b, (_, n) in enumerate(BLOCKS, 1) for i in range(1, n + 1)]


def _torchvision_index() -> dict[str, int]:
    """Index of each conv in torchvision's ``features`` Sequential (conv, relu, …, pool per block)."""
    index, k = {}, 0
    for b, (_, n) in enumerate(BLOCKS, 1):
        for i in range(1, n + 1):
            index[f"block{b}_conv{i}"] = k
            k += 2              # conv + relu
        k += 1                  # pool
    return index


TORCHVISION_INDEX: dict[str, int] = _torchvision_index()
LAYER_NAMES: list[str] = layer_names()


class VGG19Features(nn.Module):
    """VGG19 without its classifier (``include_top=False``); :meth:`forward` returns the named layers asked for
    and stops after the deepest one. ``width`` scales the filters (1.0 = the real VGG19)."""

    def __init__(self, pool: str = "max", width: float = 1.0, in_channels: int = 3):
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        self.pool = pool
        self.convs = nn.ModuleDict()
        c = in_channels
        for b, (filters, n) in enumerate(BLOCKS, 1):
            w = max(1, int(round(filters * width)))
            for i in range(1, n + 1):
                self.convs[f"block{b}_conv{i}"] = nn.Conv2d(c, w, 3, padding=1)
                c = w

    def channels(self, name: str) -> int:
        return self.convs[name].out_channels

    def forward(self, x: Tensor, layers: list[str] | tuple[str, ...]) -> "OrderedDict[str, Tensor]":
        wanted = set(layers)
        unknown = wanted - set(self.convs)
        if unknown:
            raise KeyError(f"unknown VGG19 layer(s) {sorted(unknown)}; known: {', '.join(self.convs)}")
        out: OrderedDict[str, Tensor] = OrderedDict()
        pool = F.max_pool2d if self.pool == "max" else F.avg_pool2d
        for name, conv in self.convs.items():
            if name.endswith("_conv1") and not name.startswith("block1"):
                x = pool(x, 2)
            x = F.relu(conv(x))
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out


__all__ = ["BLOCKS", "LAYER_NAMES", "TORCHVISION_INDEX", "VGG19Features", "layer_names"]
