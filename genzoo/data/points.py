"""Point datasets for density models on low-dimensional data: the two-moons toy set and user CSV/NPY files.

Foster 2nd ed. ch. 6 trains RealNVP on ``make_moons(30000, noise=0.05)`` standardised to zero mean and
unit variance per coordinate. ``two-moons`` draws the same distribution without scikit-learn: a point
picks a moon with probability ½, an angle θ ~ U[0, π] on it (upper moon (cos θ, sin θ), lower moon
(1 − cos θ, ½ − sin θ)) and Gaussian noise of standard deviation 0.05 is added. Angles are random rather
than evenly spaced (scikit-learn's choice) so the held-out split is an independent sample of the same
density. Train (30,000 points, seed 0) and test (10,000, seed 1) are standardised with the *train*
statistics, so a density learned on one is evaluated on the other in the same coordinates.

``points`` reads a user's own data: ``train.csv``/``test.csv`` (or ``.npy``) of N×D numbers under
``--data-dir``, standardised with the train file's statistics.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .registry import DataRequest, register_dataset
from .types import DataError, ImageSet

MOONS_NOISE = 0.05
MOONS_SIZES = {"train": 30_000, "test": 10_000}
_SEEDS = {"train": 0, "test": 1}


def two_moons(n: int, noise: float = MOONS_NOISE, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` raw (unstandardised) two-moons points ``n×2`` and their moon index (0 upper, 1 lower)."""
    g = torch.Generator().manual_seed(seed)
    moon = torch.randint(0, 2, (n,), generator=g)
    theta = torch.rand(n, generator=g, dtype=torch.float64) * math.pi
    upper = torch.stack([torch.cos(theta), torch.sin(theta)], 1)
    lower = torch.stack([1 - torch.cos(theta), 0.5 - torch.sin(theta)], 1)
    x = torch.where(moon[:, None] == 0, upper, lower)
    x = x + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return x, moon


def standardise(x: Tensor, reference: Tensor, source: str = "points") -> tuple[Tensor, dict]:
    """(x − mean) / std with the reference set's per-coordinate statistics (float32 result, stats in meta)."""
    mean, std = reference.mean(0), reference.std(0)
    flat = (std <= 1e-12 * reference.abs().amax(0).clamp_min(1.0)).nonzero().flatten().tolist()
    if flat:
        raise DataError(f"{source}: coordinate(s) {flat} are constant in the training points, so they carry no "
                        f"density to learn; drop those columns")
    return ((x - mean) / std).float(), {"mean": mean.tolist(), "std": std.tolist()}


def _check_split(request: DataRequest, name: str) -> str:
    if request.split not in _SEEDS:
        raise DataError(f"{name}: split must be train or test, got {request.split!r}")
    return request.split


@register_dataset("two-moons", modality="points", description="Two moons (Foster 2nd ed. ch. 6): 30,000 train + 10,000 test 2-D points, "
                               "noise 0.05, standardised with the train statistics; generated, no files")
def read_two_moons(request: DataRequest) -> ImageSet:
    split = _check_split(request, "two-moons")
    train, train_moon = two_moons(MOONS_SIZES["train"], seed=_SEEDS["train"])
    raw, moon = (train, train_moon) if split == "train" else two_moons(MOONS_SIZES["test"], seed=_SEEDS["test"])
    x, stats = standardise(raw, train)
    return ImageSet(images=x, labels=moon, class_names=["upper moon", "lower moon"], source="two-moons",
                    meta={"standardisation": stats, "noise": MOONS_NOISE})


def _read_array(path: Path) -> np.ndarray:
    try:
        a = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, delimiter=",", ndmin=2)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read it as an N×D array of numbers ({e}); write one point per row, "
                        f"coordinates separated by commas (or save a 2-D .npy array)") from None
    if a.ndim != 2 or a.shape[0] == 0:
        raise DataError(f"{path}: expected a non-empty N×D array of numbers, got shape {a.shape}")
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        row, col = (int(v) for v in bad[0])
        where = f"line {row + 1}" if path.suffix != ".npy" else f"row {row}"
        raise DataError(f"{path}: {len(bad)} value(s) are not finite numbers (NaN or Inf), the first at {where}, "
                        f"column {col + 1} ({a[row, col]}); fix or drop those rows")
    return a.astype(np.float64)


def _find(request: DataRequest, split: str) -> Path:
    if not request.data_dir:
        raise DataError("the points dataset reads your files: pass --data-dir DIR holding train.csv and "
                        "test.csv (or .npy), one point per row")
    found = [p for p in (Path(request.data_dir) / f"{split}.npy", Path(request.data_dir) / f"{split}.csv") if p.exists()]
    if len(found) == 2:
        raise DataError(f"{request.data_dir}: both {split}.npy and {split}.csv exist; keep one so it is clear "
                        f"which points are meant")
    if found:
        return found[0]
    raise DataError(f"{request.data_dir}: no {split}.csv or {split}.npy found (one point per row)")


@register_dataset("points", modality="points", description="Your own points: DIR/train.csv and DIR/test.csv (or .npy), N×D numbers, "
                            "standardised with the train statistics")
def read_points(request: DataRequest) -> ImageSet:
    split = _check_split(request, "points")
    train = torch.from_numpy(_read_array(_find(request, "train")))
    raw = train if split == "train" else torch.from_numpy(_read_array(_find(request, split)))
    if raw.shape[1] != train.shape[1]:
        raise DataError(f"{request.data_dir}: {split} points have {raw.shape[1]} coordinates, train has "
                        f"{train.shape[1]}")
    x, stats = standardise(raw, train, f"points:{request.data_dir}")
    return ImageSet(images=x, source=f"points:{request.data_dir}", meta={"standardisation": stats})


def two_moons_log_density(y: Tensor, stats: dict, noise: float = MOONS_NOISE, arc_points: int = 4000) -> Tensor:
    """The true log-density of the two-moons distribution at standardised points ``y`` (nats per point).

    p(x) = ½ Σ_moon (1/π) ∫₀^π N(x; c_moon(θ), σ²I) dθ, the integral by the midpoint rule on ``arc_points``
    angles (spacing π/4000 ≪ σ = 0.05), plus log|det| of the standardisation. Its mean over held-out points
    is minus the differential entropy: the best held-out log-likelihood any model can reach.
    """
    mean, std = torch.tensor(stats["mean"], dtype=torch.float64), torch.tensor(stats["std"], dtype=torch.float64)
    x = y.double().cpu() * std + mean
    theta = (torch.arange(arc_points, dtype=torch.float64) + 0.5) * math.pi / arc_points
    centres = torch.cat([torch.stack([torch.cos(theta), torch.sin(theta)], 1),
                         torch.stack([1 - torch.cos(theta), 0.5 - torch.sin(theta)], 1)])    # 2K×2
    out = []
    for chunk in x.split(2000):
        d2 = torch.cdist(chunk, centres).pow(2)
        log_n = -d2 / (2 * noise ** 2) - math.log(2 * math.pi * noise ** 2)
        out.append(torch.logsumexp(log_n, 1) - math.log(2 * arc_points))
    return torch.cat(out) + torch.log(std).sum()


def gaussian_log_density(train: Tensor, y: Tensor) -> Tensor:
    """Log-density of ``y`` under the full-covariance Gaussian fitted to ``train`` (a baseline for flows)."""
    mu = train.double().mean(0)
    cov = torch.cov(train.double().T).reshape(train.shape[1], train.shape[1])
    dist = torch.distributions.MultivariateNormal(mu, covariance_matrix=cov)
    return dist.log_prob(y.double())
