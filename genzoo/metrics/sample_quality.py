"""Sample-quality metrics on features: FID, KID, improved precision/recall, and an Inception-Score analogue.

FID (Heusel et al. 2017), KID (Bińkowski et al. 2018) and IS (Salimans et al. 2016) are computed by
torchmetrics, the maintained reference implementations, fed with features from a pluggable network
(:mod:`genzoo.metrics.features`) through :class:`Precomputed`, so real-data features can be cached
and any feature network used. Precision and recall follow Kynkäänniemi et al. 2019 ("Improved
Precision and Recall Metric for Assessing Generative Models"), which torchmetrics does not provide.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn


# torchmetrics warns that KID/IS keep every feature in memory; here that is the intent (≤ 10,000 × 128).
warnings.filterwarnings("ignore", message=r"Metric `(Kernel Inception Distance|InceptionScore)` will save")


class Precomputed(nn.Module):
    """An identity "feature extractor": torchmetrics metrics receive features already extracted."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def _check(real: Tensor, fake: Tensor, what: str) -> None:
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"{what} needs two N×D feature matrices of the same D, got {tuple(real.shape)} and "
                         f"{tuple(fake.shape)}")
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"{what} needs at least 2 samples per set")


def fid(real: Tensor, fake: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (torchmetrics, float64)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    _check(real, fake, "FID")
    metric = FrechetInceptionDistance(feature=Precomputed(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kid(real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD² with the cubic polynomial kernel, mean and std over
    ``subsets`` random subsets of ``subset_size`` (torchmetrics). Unbiased: ≈ 0 (can be < 0) for two
    samples of one distribution."""
    from torchmetrics.image.kid import KernelInceptionDistance

    _check(real, fake, "KID")
    size = min(subset_size, len(real), len(fake))
    metric = KernelInceptionDistance(feature=Precomputed(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def inception_score(logits: Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) ‖ p(y))) over ``splits`` splits (torchmetrics), from classifier logits."""
    from torchmetrics.image.inception import InceptionScore

    metric = InceptionScore(feature=Precomputed(logits.shape[1]), splits=splits)
    metric.update(logits.double())
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def _kth_neighbour_radius(x: Tensor, k: int, chunk: int = 2048) -> Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    radii = []
    for s in range(0, len(x), chunk):
        d = torch.cdist(x[s:s + chunk], x)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # +1: the row itself is at distance 0
    return torch.cat(radii)


def _covered(queries: Tensor, reference: Tensor, radii: Tensor, chunk: int = 2048) -> Tensor:
    """For each query, whether it lies inside some reference point's k-NN ball."""
    out = []
    for s in range(0, len(queries), chunk):
        d = torch.cdist(queries[s:s + chunk], reference)
        out.append((d <= radii.unsqueeze(0)).any(1))
    return torch.cat(out)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision (fraction of samples inside the real manifold) and recall (fraction of real
    images inside the sample manifold), manifolds being unions of k-NN balls (Kynkäänniemi et al. 2019,
    k = 3)."""
    _check(real, fake, "precision/recall")
    if k >= min(len(real), len(fake)):
        raise ValueError(f"k={k} needs more than {k} samples per set")
    real, fake = real.float(), fake.float()
    precision = _covered(fake, real, _kth_neighbour_radius(real, k)).double().mean().item()
    recall = _covered(real, fake, _kth_neighbour_radius(fake, k)).double().mean().item()
    return precision, recall
