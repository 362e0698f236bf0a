"""Pure tensor functions behind the analyses of Foster, *Generative Deep Learning* (1st ed.) ch. 3-4.

Nothing here reads or writes files: each function takes tensors (or a model and tensors) and returns
tensors or numbers, so it can be tested on hand-made inputs. :mod:`genzoo.analysis.run` adds the
data loading and the PNG/JSON files.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from ..config import ConfigError, DataConfig
from ..models.capabilities import Encodes, FromLatent, supports
from ..data.loader import make_batch
from ..data.types import ImageSet

# --------------------------------------------------------------------------------------------------
# Encoding and decoding in batches


def has_encoder(model: object) -> bool:
    """True for models that declare :class:`~genzoo.models.capabilities.Encodes` (autoencoders, VAEs)."""
    return supports(model, Encodes)


def has_generator(model: object) -> bool:
    """True when data can be made from a latent vector (:class:`~genzoo.models.capabilities.FromLatent`:
    AE/VAE decoders, GAN generators)."""
    return supports(model, FromLatent)


@torch.no_grad()
def encode_codes(model, x: Tensor, condition: Tensor | None = None, mode: str = "mean",
                 generator: torch.Generator | None = None) -> Tensor:
    """Latent codes of model-space images ``x``.

    Autoencoders return their deterministic code. For VAEs ``mode="mean"`` gives μ (Foster ch. 3,
    "the encoder maps each input to a mean vector", Fig. 3-14) and ``mode="sample"`` a draw
    z = μ + σ·ε — what Foster's Keras encoder returns and plots in the histograms of Fig. 3-20.
    """
    out = model.encode(x, condition)
    if not isinstance(out, tuple):
        return out.float()
    mu, log_var = (t.float() for t in out[:2])
    if mode == "mean":
        return mu
    if mode != "sample":
        raise ValueError(f"mode must be 'mean' or 'sample', got {mode!r}")
    eps = torch.randn(mu.shape, generator=generator).to(mu.device)
    return mu + torch.exp(0.5 * log_var) * eps


@torch.no_grad()
def encode_dataset(model, data: ImageSet, data_cfg: DataConfig, index: Tensor | None = None,
                   batch_size: int = 256) -> tuple[Tensor, Tensor | None]:
    """Encode ``data`` images ``index`` (default: all) in batches, each with its own condition for
    conditional models. Returns CPU floats ``(codes, None)`` for an autoencoder and ``(μ, log σ²)``
    for a VAE; :func:`sample_codes` turns the latter into draws of z."""
    index = torch.arange(len(data)) if index is None else index
    first, second = [], []
    for i in range(0, len(index), batch_size):
        batch = make_batch(data, index[i:i + batch_size], data_cfg, model.config.data_range, model.device)
        out = model.encode(batch.x, model.condition_of(batch))
        if isinstance(out, tuple):
            first.append(out[0].float().cpu())
            second.append(out[1].float().cpu())
        else:
            first.append(out.float().cpu())
    codes = torch.cat(first) if first else torch.zeros(0, model.config.z_dim)
    return codes, (torch.cat(second) if second else None)


def sample_codes(mu: Tensor, log_var: Tensor | None, generator: torch.Generator | None = None) -> Tensor:
    """z = μ + σ·ε with ε ~ N(0, I) (the reparameterisation, Foster ch. 3); ``mu`` itself when there is
    no variance (an autoencoder's deterministic codes)."""
    if log_var is None:
        return mu
    return mu + torch.exp(0.5 * log_var) * torch.randn(mu.shape, generator=generator).to(mu)


@torch.no_grad()
def decode_codes(model, z: Tensor, condition: Tensor | None = None, batch_size: int = 256) -> Tensor:
    """Images in ``[0, 1]`` for latent vectors ``z`` (the model's ``decode``: AE/VAE decoder, GAN generator)."""
    fn = model.decode
    dev = model.device
    out = []
    for i in range(0, len(z), batch_size):
        c = None if condition is None else condition[i:i + batch_size].to(dev)
        out.append(model.to_unit(fn(z[i:i + batch_size].to(dev), c)).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, *model.config.input_shape)


# --------------------------------------------------------------------------------------------------
# Latent grids and interpolation


def normal_quantiles(n: int, lo: float = 0.05, hi: float = 0.95) -> Tensor:
    """``norm.ppf(linspace(lo, hi, n))``: equally likely steps under N(0, 1) (Foster ch. 3, the grid of
    decoded points over the VAE's latent plane). Uses :func:`torch.special.ndtri`, so no SciPy."""
    return torch.special.ndtri(torch.linspace(lo, hi, n, dtype=torch.float64)).float()


def latent_grid(xs: Tensor, ys: Tensor) -> Tensor:
    """``len(ys)·len(xs)×2`` points of a grid, row by row from the *largest* ``y`` down, so the decoded
    image grid reads like the scatter plot (z₁ to the right, z₂ up)."""
    yy, xx = torch.meshgrid(ys.flip(0), xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


def lerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """``steps`` points on the segment from ``a`` to ``b`` (both ends included): ``(1−t)·a + t·b``.
    Foster ch. 3, morphing between two faces (Fig. 3-23). ``a``, ``b`` are ``D`` or ``N×D``; the
    result has the step axis second (``N×steps×D``) or first for 1-D inputs (``steps×D``)."""
    t = torch.linspace(0, 1, steps, dtype=a.dtype, device=a.device)
    if a.dim() == 1:
        return (1 - t)[:, None] * a + t[:, None] * b
    return (1 - t)[None, :, None] * a[:, None] + t[None, :, None] * b[:, None]


def slerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016, "Sampling generative networks"): keeps the
    norm of Gaussian latent vectors typical along the path, unlike :func:`lerp` which passes through
    the low-norm centre that a GAN generator never saw. Same shapes as :func:`lerp`."""
    squeeze = a.dim() == 1
    a2, b2 = (a[None], b[None]) if squeeze else (a, b)
    t = torch.linspace(0, 1, steps, dtype=a2.dtype, device=a2.device)[None, :, None]
    cos = (torch.nn.functional.normalize(a2, dim=1) * torch.nn.functional.normalize(b2, dim=1)).sum(1)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None, None]
    so = torch.sin(omega)
    straight = so.abs() < 1e-6  # (anti)parallel: fall back to a straight line
    safe = torch.where(straight, torch.ones_like(so), so)
    wa = torch.where(straight, 1 - t, torch.sin((1 - t) * omega) / safe)
    wb = torch.where(straight, t, torch.sin(t * omega) / safe)
    out = wa * a2[:, None] + wb * b2[:, None]
    # Exact endpoints (the sine weights are 1 and 0 only up to rounding).
    out[:, 0], out[:, -1] = a2, b2
    return out[0] if squeeze else out


# --------------------------------------------------------------------------------------------------
# Latent-space arithmetic


def attribute_vector(codes: Tensor, has_attribute: Tensor, normalize: bool = False) -> Tensor:
    """Mean code of the images *with* an attribute minus the mean code of those *without* it
    (Foster ch. 3, "Latent space arithmetic", Fig. 3-22). ``normalize`` divides by its length, as the
    book's ``get_vector_from_label`` does before it adds multiples of the vector."""
    mask = has_attribute.bool().reshape(-1)
    if len(mask) != len(codes):
        raise ValueError(f"{len(codes)} codes but {len(mask)} attribute values")
    npos, nneg = int(mask.sum()), int((~mask).sum())
    if npos == 0 or nneg == 0:
        raise ConfigError(f"the attribute vector needs images with and without the attribute; got {npos} "
                          f"with and {nneg} without (use more images with -n or another --attribute)")
    v = codes[mask].float().mean(0) - codes[~mask].float().mean(0)
    if normalize:
        v = v / v.norm().clamp_min(1e-12)
    return v


def add_vector(codes: Tensor, vector: Tensor, factors: list[float] | Tensor) -> Tensor:
    """``N×len(factors)×D``: each code moved by ``factor·vector`` (the book's rows of changing faces)."""
    f = torch.as_tensor(factors, dtype=codes.dtype, device=codes.device)
    return codes[:, None, :] + f[None, :, None] * vector.to(codes)[None, None, :]


# --------------------------------------------------------------------------------------------------
# Distributions of codes


def gaussian_fit_stats(codes: Tensor) -> dict[str, list[float]]:
    """Per dimension: mean, std and KL(N(mean, std²) ‖ N(0, 1)) = ½(σ² + μ² − 1 − ln σ²) of the codes
    (Foster ch. 3, Fig. 3-20: the VAE's codes should look standard normal, an AE's need not)."""
    c = codes.double()
    mean = c.mean(0)
    std = c.std(0, unbiased=False) if len(c) > 1 else torch.zeros_like(mean)
    var = std.pow(2).clamp_min(1e-12)
    kl = 0.5 * (var + mean.pow(2) - 1 - var.log())
    return {"mean": mean.tolist(), "std": std.tolist(), "kl_to_standard_normal": kl.tolist()}


def principal_axes(codes: Tensor, k: int = 2) -> tuple[Tensor, Tensor, list[float]]:
    """The mean of ``N×D`` codes, their first ``min(k, N, D)`` principal directions (orthonormal rows, ``k×D``
    at most) and each direction's explained variance ratio; ``(codes − mean) @ axesᵀ`` projects onto them and
    ``mean + p @ axes`` maps a projected point back to a code."""
    mean = codes.double().mean(0)
    _, s, vh = torch.linalg.svd(codes.double() - mean, full_matrices=False)
    var = s.pow(2)
    k = min(k, vh.shape[0])
    return mean.float(), vh[:k].float(), (var[:k] / var.sum().clamp_min(1e-300)).tolist()


def pca_2d(codes: Tensor) -> tuple[Tensor, list[float]]:
    """Project ``N×D`` codes on their first two principal components; also the explained variance
    ratios. Used for the latent scatter when ``z_dim > 2``."""
    mean, axes, ratio = principal_axes(codes, 2)
    proj = (codes.double() - mean.double()) @ axes.double().T
    if len(axes) < 2:
        proj = torch.cat([proj, torch.zeros(len(codes), 2 - len(axes), dtype=proj.dtype)], 1)
    return proj.float(), ratio


# --------------------------------------------------------------------------------------------------
# Nearest training images (Foster ch. 4, Fig. 4-9)


def _distances(q: Tensor, r: Tensor, metric: str) -> Tensor:
    d = q.shape[1]
    if metric == "l1":
        return torch.cdist(q, r, p=1) / d            # mean absolute pixel difference (book's l1_compare)
    if metric == "l2":
        return torch.cdist(q, r, p=2) / math.sqrt(d)  # root-mean-square pixel difference
    raise ConfigError(f"unknown distance {metric!r}; use l1 or l2")


@torch.no_grad()
def nearest_neighbours(queries: Tensor, reference: Tensor | Callable[[], Iterator[Tensor]], metric: str = "l1",
                       chunk: int = 4096, query_chunk: int = 256) -> tuple[Tensor, Tensor]:
    """For each query image, the distance to and index of its nearest ``reference`` image.

    ``reference`` is an ``M×…`` tensor (any dtype, converted a chunk at a time) or a callable that yields
    float chunks in order — so 60,000 training images need only ``chunk×D`` floats at once. Distances
    are per pixel: ``l1`` the mean absolute difference (Foster's ``l1_compare``), ``l2`` the RMS one.
    """
    q = queries.reshape(len(queries), -1).float()
    best = torch.full((len(q),), float("inf"))
    where = torch.zeros(len(q), dtype=torch.long)
    chunks = reference() if callable(reference) else (reference[i:i + chunk] for i in range(0, len(reference), chunk))
    offset = 0
    for r in chunks:
        r = r.reshape(len(r), -1).float()
        if r.shape[1] != q.shape[1]:
            raise ValueError(f"queries have {q.shape[1]} values per image but the reference has {r.shape[1]}")
        for s in range(0, len(q), query_chunk):
            d = _distances(q[s:s + query_chunk], r, metric)
            val, idx = d.min(1)
            better = val < best[s:s + query_chunk]
            best[s:s + query_chunk] = torch.where(better, val, best[s:s + query_chunk])
            where[s:s + query_chunk] = torch.where(better, idx + offset, where[s:s + query_chunk])
        offset += len(r)
    if offset == 0:
        raise ValueError("the reference set is empty")
    return best, where
