"""The losses of neural style transfer (Gatys, Ecker & Bethge 2015; Foster 1st ed. ch. 5, Listings 5.9–5.11).

* content (Listing 5.9): Σ (F_gen − F_content)² on one layer (``block5_conv2``), unnormalised as the book;
* Gram matrix (Listing 5.10): G = F Fᵀ with F the ``C × HW`` feature matrix of one image;
* style (Listing 5.10): per layer Σ (G_style − G_gen)² / (4 · N² · M²), summed over the layers with weight
  ``style_weight / len(layers)`` each (times an optional per-layer factor). The book's *code* (the Keras example)
  uses N = 3 and M = the image's pixel count for every layer, while its *text* (and the paper) uses the layer's own
  channels N_l and positions M_l — the inconsistency the spec records. ``norm="book"`` is the code (the default:
  the book's weights 1/100/20 were tuned with it), ``norm="gatys"`` the formula;
* total variation (Listing 5.11): Σ ((x_{i,j} − x_{i+1,j})² + (x_{i,j} − x_{i,j+1})²)^1.25 on the image in the
  0–255 scale of the book's preprocessed input (the mean subtraction does not change differences).

Every function takes a batch (``N × C × H × W``) and returns one value per image, so the feed-forward network
(Johnson et al. 2016) trains on the same losses as the L-BFGS optimisation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

STYLE_NORMS = ("book", "gatys")


def gram_matrix(features: Tensor) -> Tensor:
    """``N × C × H × W`` → ``N × C × C``: the book's ``K.dot(features, K.transpose(features))`` per image."""
    f = features.flatten(2)
    return f @ f.transpose(1, 2)


def content_loss(generated: Tensor, content: Tensor) -> Tensor:
    """Σ (F_gen − F_content)² per image (Listing 5.9, before ``content_weight``)."""
    return (generated - content).pow(2).flatten(1).sum(1)


def style_norm(features: Tensor, norm: str, image_pixels: int) -> float:
    """The denominator 4 · N² · M² of one layer: N = 3, M = the image's pixels (``book``), or the layer's
    channels and positions (``gatys``)."""
    if norm == "book":
        n, m = 3, image_pixels
    elif norm == "gatys":
        n, m = features.shape[1], features.shape[2] * features.shape[3]
    else:
        raise ValueError(f"style norm must be one of {STYLE_NORMS}, got {norm!r}")
    return 4.0 * n * n * float(m) * float(m)


def style_layer_loss(generated: Tensor, style_gram: Tensor, norm: str, image_pixels: int) -> Tensor:
    """Σ (G_style − G_gen)² / (4 N² M²) per image for one layer (Listing 5.10's ``style_loss``)."""
    g = gram_matrix(generated)
    return (g - style_gram).pow(2).flatten(1).sum(1) / style_norm(generated, norm, image_pixels)


def total_variation_loss(x01: Tensor, power: float = 1.25) -> Tensor:
    """Listing 5.11 on images in ``[0, 1]``, measured in the 0–255 scale: Σ (a + b)^1.25 per image."""
    x = x01 * 255.0
    core = x[:, :, :-1, :-1]
    a = (core - x[:, :, 1:, :-1]).pow(2)
    b = (core - x[:, :, :-1, 1:]).pow(2)
    return (a + b).pow(power).flatten(1).sum(1)


@dataclass
class LossWeights:
    """The three weights (Fig. 5.18: content 1, style 100, TV 20) and the per-layer style factors."""

    content: float = 1.0
    style: float = 100.0
    tv: float = 20.0
    layer_factors: tuple[float, ...] | None = None   # one per style layer; None = all 1


class PerceptualLoss:
    """The weighted sum of the three losses against fixed targets: the content features of ``content`` (or of the
    batch itself, for the feed-forward network) and the Gram matrices of one ``style`` image."""

    def __init__(self, features, style: Tensor, weights: LossWeights, content_layer: str,
                 style_layers: tuple[str, ...], norm: str = "book"):
        if norm not in STYLE_NORMS:
            raise ValueError(f"style norm must be one of {STYLE_NORMS}, got {norm!r}")
        self.features, self.weights, self.norm = features, weights, norm
        self.content_layer, self.style_layers = content_layer, tuple(style_layers)
        factors = weights.layer_factors or (1.0,) * len(self.style_layers)
        if len(factors) != len(self.style_layers):
            raise ValueError(f"{len(factors)} style-layer weights for {len(self.style_layers)} style layers")
        self.factors = tuple(float(f) for f in factors)
        with torch.no_grad():
            maps = features(style, self.style_layers)
            self.style_grams = {k: gram_matrix(v) for k, v in maps.items()}
        self.style_pixels = style.shape[2] * style.shape[3]

    def content_targets(self, content: Tensor) -> Tensor:
        with torch.no_grad():
            return self.features(content, [self.content_layer])[self.content_layer]

    def terms(self, x01: Tensor, content_target: Tensor) -> dict[str, Tensor]:
        """Unweighted per-image ``content``, ``style`` (the layer mean with the factors, before ``style_weight``)
        and ``tv``, and the weighted ``loss``."""
        layers = list(dict.fromkeys([*self.style_layers, self.content_layer]))
        maps = self.features(x01, layers)
        pixels = x01.shape[2] * x01.shape[3]
        content = content_loss(maps[self.content_layer], content_target)
        style = sum(f * style_layer_loss(maps[k], self.style_grams[k], self.norm, pixels)
                    for k, f in zip(self.style_layers, self.factors)) / len(self.style_layers)
        tv = total_variation_loss(x01)
        w = self.weights
        return {"loss": w.content * content + w.style * style + w.tv * tv, "content": content, "style": style,
                "tv": tv}


__all__ = ["LossWeights", "PerceptualLoss", "STYLE_NORMS", "content_loss", "gram_matrix", "style_layer_loss",
           "style_norm", "total_variation_loss"]
