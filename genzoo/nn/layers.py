"""Small layers and layer factories shared by every model family.

Padding helpers reproduce Keras ``padding="same"`` output sizes, so the book's Keras architectures
(Foster ch. 2-4, Géron ch. 17) keep their shapes and parameter counts in PyTorch.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

# Keras defaults differ from PyTorch's: BatchNormalization(momentum=0.99, epsilon=1e-3) means a
# PyTorch momentum of 1 - 0.99, and LeakyReLU() has alpha 0.3.
KERAS_BN_MOMENTUM = 0.99
KERAS_BN_EPS = 1e-3
KERAS_LEAKY_SLOPE = 0.3


class Reshape(nn.Module):
    """Reshape the non-batch dimensions (Keras ``Reshape``)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def conv_same(c_in: int, c_out: int, kernel: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    """Conv2d whose output is ``ceil(input / stride)`` like Keras ``padding="same"`` (odd kernels)."""
    if stride == 1:
        return nn.Conv2d(c_in, c_out, kernel, 1, padding="same", bias=bias)
    return nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2, bias=bias)


def conv_transpose_same(c_in: int, c_out: int, kernel: int, stride: int = 1, bias: bool = True) -> nn.ConvTranspose2d:
    """ConvTranspose2d whose output is ``input × stride`` like Keras ``Conv2DTranspose(padding="same")``."""
    pad = math.ceil((kernel - stride) / 2)
    out_pad = 2 * pad - (kernel - stride)
    return nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding=pad, output_padding=out_pad, bias=bias)


def batch_norm(features: int, keras_momentum: float = KERAS_BN_MOMENTUM, dims: int = 2) -> nn.Module:
    """BatchNorm with Keras semantics: ``keras_momentum`` is the decay of the moving averages."""
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(features, eps=KERAS_BN_EPS, momentum=1.0 - keras_momentum)


def activation(name: str, leaky_slope: float = KERAS_LEAKY_SLOPE) -> nn.Module:
    """An activation by Keras name: relu, leaky_relu, tanh, sigmoid, selu, swish (= SiLU), linear."""
    table = {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(leaky_slope),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "selu": nn.SELU,
        "swish": nn.SiLU,
        "linear": nn.Identity,
        None: nn.Identity,
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; use one of relu, leaky_relu, tanh, sigmoid, selu, swish, linear")
    return table[name]()


_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Conv3d, nn.ConvTranspose3d)


def _init_kernels_(module: nn.Module, init: Callable[[Tensor], object]) -> nn.Module:
    """Apply ``init`` to every conv/dense kernel and zero every bias."""
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            init(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def init_normal_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """Keras ``RandomNormal(0, std)`` kernels and zero biases (DCGAN init; Foster's GAN classes)."""
    return _init_kernels_(module, lambda w: nn.init.normal_(w, 0.0, std))


def init_keras_(module: nn.Module) -> nn.Module:
    """Keras defaults (Glorot-uniform kernels, zero biases) so book recipes start where Keras starts."""
    return _init_kernels_(module, nn.init.xavier_uniform_)


def init_he_(module: nn.Module) -> nn.Module:
    """He-normal kernels (Géron's ``kernel_initializer="he_normal"``) and zero biases."""
    return _init_kernels_(module, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))


def one_hot_maps(labels: Tensor, num_classes: int, height: int, width: int, dtype: torch.dtype) -> Tensor:
    """One-hot labels broadcast to ``N×K×H×W`` feature maps, to concatenate with images (conditional nets)."""
    onehot = torch.nn.functional.one_hot(labels, num_classes).to(dtype)
    return onehot[:, :, None, None].expand(-1, -1, height, width)
