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
    counts = torch.nn.functional.one_hot(train.long(), levels).sum(0).double() + smoothing
    return (counts / counts.sum(-1, keepdim=True)).log()


def independent_pixel_bits(train: Tensor, test: Tensor, levels: int, smoothing: float = 1.0) -> float:
    """Test bits/dim of the independent per-pixel categorical model fitted on ``train``."""
    table = independent_pixel_log_probs(train, levels, smoothing)           # C×H×W×K
    picked = table.unsqueeze(0).expand(len(test), *table.shape).gather(-1, test.long().unsqueeze(-1))
    return float(-picked.mean() / math.log(2))
