"""Features of a whole batch for a GAN discriminator, against mode collapse: a generator that collapses onto
a few outputs makes its batches unusually alike, and these layers let the discriminator see that.

* :class:`MinibatchDiscrimination` (Salimans et al. 2016, "Improved techniques for training GANs", §3.2; named
  in Géron ch. 17): the features ``h`` are projected by a learned tensor ``T`` to ``B`` rows of ``C`` numbers
  per item; ``o(x_i)_b = Σ_{j≠i} exp(-‖M_{i,b} - M_{j,b}‖₁)`` says how close item ``i`` is to the rest of the
  batch in each of the ``B`` projections.
* :class:`MinibatchStdDev` (Karras et al. 2018, ProGAN §3): the standard deviation of every feature over the
  batch, averaged to one number and appended to every item.

Both take flattened features ``[N, F]`` and return the extra features ``[N, out_features]`` to concatenate.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class MinibatchDiscrimination(nn.Module):
    """``B`` closeness-to-the-batch features (Salimans et al. 2016 use ``B`` = 100 kernels of ``C`` = 5)."""

    def __init__(self, in_features: int, kernels: int = 100, dims: int = 5):
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.T = nn.Parameter(torch.randn(in_features, kernels * dims) * 0.05)
        self.out_features = kernels

    def forward(self, h: Tensor) -> Tensor:
        m = (h @ self.T).view(-1, self.kernels, self.dims)                 # [N, B, C]
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(-1)              # [N, N, B]
        return torch.exp(-l1).sum(1) - 1.0                                # Σ over j ≠ i (exp(0) = 1 for j = i)


class MinibatchStdDev(nn.Module):
    """One feature: the mean over features of their standard deviation over the batch (ProGAN)."""

    out_features = 1

    def forward(self, h: Tensor) -> Tensor:
        std = h.float().var(0, unbiased=False).add(1e-8).sqrt().mean()
        return std.to(h.dtype).expand(h.shape[0], 1)


def minibatch_layer(kind: str, in_features: int, kernels: int = 100, dims: int = 5) -> nn.Module | None:
    """The layer named by a discriminator's ``d_minibatch`` option (``none`` → None)."""
    if kind == "none":
        return None
    if kind == "std":
        return MinibatchStdDev()
    if kind == "discrimination":
        return MinibatchDiscrimination(in_features, kernels, dims)
    raise ValueError(f"unknown minibatch layer {kind!r}")
