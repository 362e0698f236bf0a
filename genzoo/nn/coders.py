"""Encoders and decoders shared by the autoencoder and VAE families (and later the World-Models V).

Two architectures, as in the books:
- ``conv``: Foster ch. 3 (Listings 3.2, 3.3, 3.7): a conv stack, Flatten, Dense heads; the decoder is
  Dense → Reshape → Conv2DTranspose stack ending in sigmoid.
- ``dense``: Géron ch. 17: Flatten → Dense layers → coding layer; decoder Dense layers → Dense(H·W·C).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .layers import Reshape, activation
from .layers import batch_norm as bn_layer
from .stacks import conv_stack, dense_stack


class ConvEncoder(nn.Module):
    """Conv stack → Flatten → ``heads`` Dense(z_dim) outputs (1 for an AE, 2 — μ, log σ² — for a VAE).

    A condition vector (one-hot class or attributes) is concatenated to the flattened features.
    """

    def __init__(self, input_shape: Sequence[int], z_dim: int, filters: Sequence[int], kernels: Sequence[int],
                 strides: Sequence[int], *, heads: int = 1, batch_norm: bool = False, dropout: float | None = None,
                 leaky_slope: float = 0.3, condition_dim: int = 0, code_activation: str = "linear",
                 input_layer: nn.Module | None = None, act: str = "leaky_relu", bn_momentum: float = 0.99,
                 bn_from_layer: int = 0, batch_features: Callable[[int], nn.Module | None] | None = None):
        super().__init__()
        self.input_layer = input_layer or nn.Identity()  # e.g. the noise of a denoising AE
        self.conv = conv_stack(input_shape[0], filters, kernels, strides, act=act, leaky_slope=leaky_slope,
                               bn_momentum=bn_momentum if batch_norm else None, dropout=dropout,
                               bn_from_layer=bn_from_layer)
        with torch.no_grad():
            self.shape_before_flattening = tuple(self.conv(torch.zeros(1, *input_shape)).shape[1:])
        flat = math.prod(self.shape_before_flattening)
        self.flatten = nn.Flatten()
        # features of the whole batch appended to each item's (a GAN discriminator's minibatch layer)
        self.batch_features = batch_features(flat) if batch_features is not None else None
        extra = self.batch_features.out_features if self.batch_features is not None else 0
        self.heads = nn.ModuleList(nn.Linear(flat + extra + condition_dim, z_dim) for _ in range(heads))
        self.code_activation = activation(code_activation)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor | tuple[Tensor, ...]:
        h = self.flatten(self.conv(self.input_layer(x)))
        if self.batch_features is not None:
            h = torch.cat([h, self.batch_features(h)], 1)
        if condition is not None:
            h = torch.cat([h, condition], 1)
        outs = tuple(self.code_activation(head(h)) if len(self.heads) == 1 else head(h) for head in self.heads)
        return outs[0] if len(outs) == 1 else outs


class ConvDecoder(nn.Module):
    """Dense → [BN, activation] → Reshape → [BN] → conv stack; the last layer uses ``output_activation``.

    The VAE decoder (Foster ch. 3) is Dense → Reshape → Conv2DTranspose stack. The GAN generators add a
    normalised dense layer: Foster ch. 4 uses Dense → BN(features) → activation → Reshape, then
    ``UpSampling2D`` + Conv where ``upsample[i] == 2``; Géron's DCGAN uses Dense → Reshape → BN(channels)
    (``dense_norm="channels"``) and Conv2DTranspose → activation → BN (``bn_after_activation``).
    """

    def __init__(self, z_dim: int, shape_before_flattening: Sequence[int], filters: Sequence[int],
                 kernels: Sequence[int], strides: Sequence[int], *, batch_norm: bool = False,
                 dropout: float | None = None, leaky_slope: float = 0.3, condition_dim: int = 0,
                 output_activation: str = "sigmoid", act: str = "leaky_relu", bn_momentum: float = 0.99,
                 upsample: Sequence[int] | None = None, dense_norm: str | None = None,
                 dense_activation: str | None = None, bn_after_activation: bool = False):
        super().__init__()
        flat = math.prod(shape_before_flattening)
        self.dense = nn.Linear(z_dim + condition_dim, flat)
        post: list[nn.Module] = []
        if dense_norm == "features":
            post.append(bn_layer(flat, bn_momentum, dims=1))
        if dense_activation:
            post.append(activation(dense_activation, leaky_slope))
        post.append(Reshape(*shape_before_flattening))
        if dense_norm == "channels":
            post.append(bn_layer(shape_before_flattening[0], bn_momentum))
        self.reshape = nn.Sequential(*post) if len(post) > 1 else post[0]
        self.deconv = conv_stack(shape_before_flattening[0], filters, kernels, strides, transpose=True,
                                 act=act, leaky_slope=leaky_slope, upsample=upsample,
                                 bn_momentum=bn_momentum if batch_norm else None, dropout=dropout,
                                 last_activation=output_activation, bn_after_activation=bn_after_activation)

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        if condition is not None:
            z = torch.cat([z, condition], 1)
        return self.deconv(self.reshape(self.dense(z)))


class DenseEncoder(nn.Module):
    """Flatten → [input noise] → Dense stack → ``heads`` Dense(z_dim) (Géron ch. 17)."""

    def __init__(self, input_shape: Sequence[int], z_dim: int, units: Sequence[int], *, heads: int = 1,
                 hidden_activation: str = "relu", code_activation: str = "linear", condition_dim: int = 0,
                 input_layer: nn.Module | None = None):
        super().__init__()
        d_in = math.prod(input_shape)
        self.flatten = nn.Flatten()
        self.input_layer = input_layer or nn.Identity()
        self.hidden = dense_stack(d_in + condition_dim, units, act=hidden_activation)
        last = units[-1] if units else d_in + condition_dim
        self.heads = nn.ModuleList(nn.Linear(last, z_dim) for _ in range(heads))
        self.code_activation = activation(code_activation)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor | tuple[Tensor, ...]:
        h = self.input_layer(self.flatten(x))
        if condition is not None:
            h = torch.cat([h, condition], 1)
        h = self.hidden(h)
        outs = tuple(self.code_activation(head(h)) if len(self.heads) == 1 else head(h) for head in self.heads)
        return outs[0] if len(outs) == 1 else outs


class DenseDecoder(nn.Module):
    """Dense stack → Dense(C·H·W) → output activation → Reshape (Géron ch. 17).

    ``batch_norm`` (Keras momentum) normalises every hidden layer but the first, before its activation.
    """

    def __init__(self, z_dim: int, output_shape: Sequence[int], units: Sequence[int], *,
                 hidden_activation: str = "relu", output_activation: str = "linear", condition_dim: int = 0,
                 batch_norm: float | None = None):
        super().__init__()
        self.hidden = dense_stack(z_dim + condition_dim, units, act=hidden_activation, bn_momentum=batch_norm,
                                  bn_from_layer=1)
        last = units[-1] if units else z_dim + condition_dim
        self.out = nn.Linear(last, math.prod(output_shape))
        self.out_activation = activation(output_activation)
        self.reshape = Reshape(*output_shape)

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        if condition is not None:
            z = torch.cat([z, condition], 1)
        return self.reshape(self.out_activation(self.out(self.hidden(z))))
