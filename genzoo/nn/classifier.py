"""The book's chapter-2 CNN classifier (Foster, *Generative Deep Learning*, ch. 2, "Final CNN",
notebook ``02_03_deep_learning_conv_neural_network.ipynb``).

Four blocks of Conv2D(k3, same) → BatchNormalization → LeakyReLU (32/32/64/64 filters, strides
1/2/1/2), then Flatten → Dense 128 → BN → LeakyReLU → Dropout 0.5 → Dense 10. On the book's
32×32×3 CIFAR-10 input it has 592,554 parameters (591,914 trainable). genzoo trains it per dataset
and uses its 128-unit penultimate layer as the feature space of FID/KID/precision-recall and its
class probabilities for the Inception-Score analogue (:mod:`genzoo.metrics.features`).
"""
from __future__ import annotations

import math

from torch import Tensor, nn

from .layers import activation, batch_norm
from .stacks import conv_stack


class BookCNN(nn.Module):
    """``features(x)`` is the 128-d penultimate activation; ``forward(x)`` the class logits."""

    def __init__(self, input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10,
                 dense_units: int = 128, dropout: float = 0.5):
        super().__init__()
        c, h, w = input_shape
        strides = (1, 2, 1, 2)
        self.convs = conv_stack(c, (32, 32, 64, 64), (3, 3, 3, 3), strides, act="leaky_relu",
                                bn_momentum=0.99)  # Keras BatchNormalization() default momentum
        down = math.prod(strides)
        flat = 64 * math.ceil(h / down) * math.ceil(w / down)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, dense_units), batch_norm(dense_units, dims=1),
                                  activation("leaky_relu"))
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(dense_units, num_classes)
        self.input_shape, self.num_classes, self.num_features = tuple(input_shape), num_classes, dense_units

    def features(self, x: Tensor) -> Tensor:
        """Images in ``[0, 1]`` (``N×C×H×W``) → the 128-d penultimate features (before dropout)."""
        return self.head(self.convs(x))

    def logits_from_features(self, f: Tensor) -> Tensor:
        return self.classify(self.dropout(f))

    def forward(self, x: Tensor) -> Tensor:
        return self.logits_from_features(self.features(x))
