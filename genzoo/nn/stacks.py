"""Configurable conv and dense stacks: the book's encoder/decoder/generator/critic patterns.

Foster's Keras classes (``models/AE.py``, ``VAE.py``, ``GAN.py``, ``WGANGP.py``) build every network
from lists of filters, kernels and strides; these blocks do the same so each recipe is data.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .layers import UpsampleConv2d, Upsampled, activation, batch_norm, conv_same, conv_transpose_same


def conv_stack(c_in: int, filters: Sequence[int], kernels: Sequence[int], strides: Sequence[int], *,
               act: str = "leaky_relu", leaky_slope: float = 0.3, bn_momentum: float | None = None,
               dropout: float | None = None, bn_from_layer: int = 0,
               transpose: bool = False, upsample: Sequence[int] | None = None,
               last_activation: str | None = "same", bn_after_activation: bool = False) -> nn.Sequential:
    """Conv → [BN] → activation → [Dropout] per layer (Foster's "BAD" order, ch. 2).

    ``bn_after_activation`` gives Géron's DCGAN order instead (Conv with activation → BN, HOML ch. 17).

    ``upsample[i] == 2`` puts ``Upsample(×2) + Conv`` in layer i (GDL ``GAN`` generator); otherwise
    ``transpose`` chooses Conv2DTranspose. ``last_activation`` replaces the whole post-conv block of
    the final layer ("same" keeps it; e.g. "sigmoid" for a decoder output, "tanh" for a generator).
    """
    if not (len(filters) == len(kernels) == len(strides)):
        raise ValueError(f"filters {list(filters)}, kernels {list(kernels)} and strides {list(strides)} "
                         "must have the same length")
    layers: list[nn.Module] = []
    c = c_in
    n = len(filters)
    for i, (f, k, s) in enumerate(zip(filters, kernels, strides)):
        if upsample is not None and upsample[i] == 2:
            # Upsample(×2) + Conv computed in one conv of the original map (the same function, fewer
            # multiply-adds); the marker keeps the layer indices, hence the checkpoint keys, of the two-layer form.
            layers += [Upsampled(), UpsampleConv2d(c, f, k)]
        elif transpose:
            layers.append(conv_transpose_same(c, f, k, s))
        else:
            layers.append(conv_same(c, f, k, s))
        last = i == n - 1
        if last and last_activation != "same":
            layers.append(activation(last_activation))
        else:
            bn = [batch_norm(f, bn_momentum)] if bn_momentum is not None and i >= bn_from_layer else []
            act_layer = [activation(act, leaky_slope)]
            layers += act_layer + bn if bn_after_activation else bn + act_layer
            if dropout:
                layers.append(nn.Dropout(dropout))
        c = f
    return nn.Sequential(*layers)


def dense_stack(d_in: int, units: Sequence[int], *, act: str = "relu", last_activation: str | None = "same",
                dropout: float | None = None, bn_momentum: float | None = None,
                bn_from_layer: int = 0) -> nn.Sequential:
    """Dense layers with one activation (Géron's ``Sequential([Dense(...), ...])`` pattern).

    ``bn_momentum`` (Keras momentum) puts Dense → BatchNorm1d → activation in every layer from
    ``bn_from_layer`` on that keeps the hidden activation (the MLP generators of the PyTorch GAN examples).
    """
    layers: list[nn.Module] = []
    d = d_in
    for i, u in enumerate(units):
        layers.append(nn.Linear(d, u))
        last = i == len(units) - 1
        hidden = not last or last_activation == "same"
        if bn_momentum is not None and hidden and i >= bn_from_layer:
            layers.append(batch_norm(u, bn_momentum, dims=1))
        layers.append(activation(act if hidden else last_activation))
        if dropout and not last:
            layers.append(nn.Dropout(dropout))
        d = u
    return nn.Sequential(*layers)
