"""The probabilistic models of Foster, *Generative Deep Learning* (1st ed.) ch. 1, on categorical data:

* :class:`MultinomialModel` — one parameter per combination of feature values (4,032 − 1 = 4,031 for the
  Irm outfits); maximum likelihood θ̂_j = n_j / N, or additive (Laplace) smoothing (n_j + α)/(N + α·K),
  which gives every unseen combination the same small probability.
* :class:`NaiveBayesModel` — features assumed independent: p(x) = ∏_k p(x_k), θ̂_kl = n_kl / N; Σ_k (L_k − 1)
  parameters (23 for the Irm outfits). It can give an unseen combination a probability above a seen one.
* :func:`pixel_naive_bayes_sample` — the same independence applied to every pixel of an image ("Planet
  Pixel"): each pixel is drawn from its own categorical, so neighbouring pixels ignore each other and the
  samples are noisy averages — the book's demonstration of why independence fails on images.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import torch
from torch import Tensor

Observation = dict[str, str]


class MultinomialModel:
    """A categorical distribution over whole combinations of feature values."""

    def __init__(self, features: dict[str, list[str]], smoothing: float = 0.0):
        if smoothing < 0:
            raise ValueError("smoothing must be >= 0")
        self.features, self.smoothing = features, smoothing
        self.combinations = math.prod(len(v) for v in features.values())
        self.counts: Counter = Counter()
        self.n = 0

    @property
    def num_parameters(self) -> int:
        return self.combinations - 1

    def fit(self, observations: Sequence[Observation]) -> "MultinomialModel":
        self.counts = Counter(tuple(o[k] for k in self.features) for o in observations)
        self.n = len(observations)
        return self

    def prob(self, x: Observation) -> float:
        key = tuple(x[k] for k in self.features)
        a = self.smoothing
        return (self.counts[key] + a) / (self.n + a * self.combinations)


class NaiveBayesModel:
    """Independent categorical features: p(x) = ∏_k θ_k[x_k]."""

    def __init__(self, features: dict[str, list[str]], smoothing: float = 0.0):
        if smoothing < 0:
            raise ValueError("smoothing must be >= 0")
        self.features, self.smoothing = features, smoothing
        self.theta: dict[str, list[float]] = {}

    @property
    def num_parameters(self) -> int:
        return sum(len(v) - 1 for v in self.features.values())

    def fit(self, observations: Sequence[Observation]) -> "NaiveBayesModel":
        a, n = self.smoothing, len(observations)
        for name, values in self.features.items():
            counts = Counter(o[name] for o in observations)
            self.theta[name] = [(counts[v] + a) / (n + a * len(values)) for v in values]
        return self

    def prob(self, x: Observation) -> float:
        return math.prod(self.theta[k][self.features[k].index(x[k])] for k in self.features)

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[Observation]:
        cols = {k: torch.multinomial(torch.tensor(self.theta[k]), n, replacement=True, generator=generator)
                for k in self.features}
        return [{k: self.features[k][int(cols[k][i])] for k in self.features} for i in range(n)]


def pixel_naive_bayes_sample(train: Tensor, levels: int, n: int, smoothing: float = 1.0,
                             generator: torch.Generator | None = None) -> Tensor:
    """``n`` images whose every pixel is drawn independently from its categorical fitted on ``train``
    (integer images N×C×H×W with values 0 … levels−1; add-``smoothing`` counts, as the baseline uses)."""
    from ..metrics.baselines import independent_pixel_log_probs

    probs = independent_pixel_log_probs(train, levels, smoothing).exp()        # C×H×W×K
    flat = probs.reshape(-1, levels).float()
    draws = torch.multinomial(flat, n, replacement=True, generator=generator)  # (C·H·W) × n
    return draws.T.reshape(n, *train.shape[1:])
