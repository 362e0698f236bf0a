"""Self-baselines for discrete image likelihoods (no published Fashion-MNIST figure exists for these
data settings): the uniform model, log2 K bits/dim, and an independent categorical per pixel and channel
fitted on the training split (the "naive Bayes on Planet Pixel" of Foster 1st ed. ch. 1, with its
add-one smoothing)."""
from __future__ import annotations

import math

import torch
from torch import Tensor


def independent_pixel_log_probs(train: Tensor, levels: int, smoothing: float = 1.0) -> Tensor:
    """log p(value | position) as a C×H×W×K table from integer training images N×C×H×W."""
    shape = train.shape[1:]
    dims = math.prod(shape)
    index = torch.arange(dims) * levels + train.long().reshape(len(train), dims)   # (position, value) pairs
    counts = torch.bincount(index.flatten(), minlength=dims * levels).reshape(*shape, levels).double() + smoothing
    return (counts / counts.sum(-1, keepdim=True)).log()


def independent_pixel_bits(train: Tensor, test: Tensor, levels: int, smoothing: float = 1.0) -> float:
    """Test bits/dim of the independent per-pixel categorical model fitted on ``train``."""
    table = independent_pixel_log_probs(train, levels, smoothing)           # C×H×W×K
    flat = table.reshape(-1)
    dims, levels = flat.numel() // table.shape[-1], table.shape[-1]
    picked = flat[torch.arange(dims) * levels + test.long().reshape(len(test), dims)]
    return float(-picked.mean() / math.log(2))
