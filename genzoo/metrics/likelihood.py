"""Likelihood bounds on held-out data, in nats per image and bits per dimension.

Protocol for the VAE family (Foster ch. 3, Géron ch. 17 — both train with an MSE reconstruction term):
pixels are scaled to [0, 1]; the decoder is read as the Gaussian N(x̂, σ² I) that the loss weights
imply (σ² = D·kl_weight / (2·recon_weight), see :mod:`genzoo.models.vae`), so the ELBO is a bound on
a *continuous* density over [0, 1]^D. ``bits_per_dim`` converts it to the 8-bit scale with the usual
change of variables (+ D·ln 256 nats) — that is a valid discrete bound only for uniformly dequantised
inputs, so it is reported for comparison, not as a claim about discrete likelihood. Evaluation runs
in fp32 (no autocast). The importance-weighted bound (IWAE-k, Burda et al. 2015) uses the same decoder
density and tightens the ELBO towards log p(x) as k grows.

Models with an exact likelihood (autoregressive models, flows) expose ``log_prob(x, condition)`` in
nats per image under their own documented discretisation; :func:`dataset_log_prob` reports it on the
same scale.
"""
from __future__ import annotations

import math
import sys

import torch
from torch import Tensor

from ..data.loader import make_batch
from ..data.types import ImageSet


def bits_per_dim(nll_nats_per_image: float, dims: int, scale_bits: int = 8) -> float:
    """NLL (nats/image) of data in [0, 1] → bits/dim on the [0, 2^bits) integer scale."""
    return (nll_nats_per_image + dims * scale_bits * math.log(2)) / (dims * math.log(2))


@torch.no_grad()
def dataset_elbo(model, data: ImageSet, data_cfg, batch_size: int = 500, samples: int = 1,
                 seed: int = 0, progress: bool = False) -> dict[str, float]:
    """Mean ELBO over ``data`` (``samples`` reparameterised draws per image), with its standard error."""
    torch.manual_seed(seed)
    model.eval()
    values: list[Tensor] = []
    for x, cond in _batches(model, data, data_cfg, batch_size, progress and "elbo"):
        draws = torch.stack([model.elbo(x, cond) for _ in range(samples)]).mean(0)
        values.append(draws.float().cpu())
    v = torch.cat(values)
    dims = int(math.prod(model.config.input_shape))
    mean = v.mean().item()
    return {"elbo_nats": mean, "elbo_stderr": (v.std() / math.sqrt(len(v))).item(), "images": len(v),
            "nats_per_dim": -mean / dims, "bits_per_dim_8bit": bits_per_dim(-mean, dims),
            "decoder": model.config.likelihood,
            "decoder_variance": getattr(model.config, "decoder_variance", None)}


def _batches(model, data: ImageSet, data_cfg, batch_size: int, progress: str | bool | None = None):
    """(x, condition) batches of ``data``; with ``progress``, a bar of that name on stderr counts the images."""
    from tqdm import tqdm

    bar = tqdm(total=len(data), desc=progress or None, unit="img", disable=None if progress else True,
               file=sys.stderr, mininterval=1.0, leave=False, dynamic_ncols=True)  # None: on a terminal only
    for start in range(0, len(data), batch_size):
        index = torch.arange(start, min(start + batch_size, len(data)))
        batch = make_batch(data, index, data_cfg, model.config.data_range, model.device)
        yield batch.x, model.condition_of(batch)
        bar.update(len(index))
    bar.close()


def _summary(values: Tensor, dims: int, prefix: str) -> dict[str, float]:
    mean = values.mean().item()
    return {f"{prefix}_nats": mean, f"{prefix}_stderr": (values.std() / math.sqrt(len(values))).item(),
            "images": len(values), "nats_per_dim": -mean / dims, "bits_per_dim_8bit": bits_per_dim(-mean, dims)}


@torch.no_grad()
def dataset_iwae(model, data: ImageSet, data_cfg, k: int = 64, batch_size: int = 500, seed: int = 0,
                 progress: bool = False) -> dict[str, float]:
    """Mean IWAE-k bound on log p(x) over ``data`` (nats/image), with its standard error; needs a VAE."""
    if k < 1:
        raise ValueError("the IWAE bound needs k >= 1 importance samples")
    torch.manual_seed(seed)
    model.eval()
    bounds, elbos = [], []
    for x, c in _batches(model, data, data_cfg, batch_size, progress and f"iwae-{k}"):
        log_w = model.log_importance_weights(x, c, k)
        bounds.append(torch.logsumexp(log_w, 0).cpu() - math.log(k))
        elbos.append(log_w.mean(0).cpu())  # the ELBO of the same draws: the bound's gain is visible
    dims = int(math.prod(model.config.input_shape))
    return {**_summary(torch.cat(bounds), dims, "iwae"), "k": k, "elbo_same_images_nats": torch.cat(elbos).mean().item(),
            "decoder": model.config.likelihood, "decoder_variance": getattr(model.config, "decoder_variance", None)}


@torch.no_grad()
def dataset_log_prob(model, data: ImageSet, data_cfg, batch_size: int = 500, progress: bool = False) -> dict[str, float]:
    """Mean exact log-likelihood over ``data`` for models that define ``log_prob`` (nats/image)."""
    model.eval()
    values = [model.log_prob(x, c).float().cpu() for x, c in _batches(model, data, data_cfg, batch_size,
                                                                      progress and "nll")]
    dims = int(math.prod(model.config.input_shape))
    out = {**_summary(torch.cat(values), dims, "log_prob"),
           "protocol": model.likelihood_protocol}
    levels = model.discrete_levels
    if data.is_points:  # continuous points: nats per point only, no 8-bit scale
        del out["bits_per_dim_8bit"]
        out["points"] = out.pop("images")
    elif levels:  # a discrete model: bits/dim on its own K-level scale, no change of variables
        out["bits_per_dim"] = -out["log_prob_nats"] / (dims * math.log(2))
        out["levels"] = levels
        out["uniform_bits_per_dim"] = math.log2(levels)
        del out["bits_per_dim_8bit"]
    return out


@torch.no_grad()
def dataset_variational_bound(model, data: ImageSet, data_cfg, t_samples: int | None = 50, batch_size: int = 250,
                              seed: int = 0, progress: bool = False) -> dict[str, float]:
    """Mean DDPM variational bound on −log p(x) over ``data`` (nats/image and bits/dim on the 8-bit scale).

    The bound is on the *discrete* likelihood of 8-bit images (its last term is a discretised Gaussian), so
    bits/dim needs no change of variables. With ``t_samples`` the sum over t is a Monte-Carlo estimate; the
    standard error then covers both the images and the draws of t.
    """
    from ..config import ConfigError

    if data_cfg.binarize or data_cfg.quantize:
        raise ConfigError("the diffusion bound is defined for 8-bit data (no data.binarize / data.quantize)")
    model.eval()
    g = torch.Generator().manual_seed(seed)
    parts: dict[str, list[Tensor]] = {}
    for x, c in _batches(model, data, data_cfg, batch_size, progress and "vlb"):
        for k, v in model.variational_bound(x, c, t_samples=t_samples, generator=g).items():
            if k != "dims":
                parts.setdefault(k, []).append(v.float().cpu())
    terms = {k: torch.cat(v) for k, v in parts.items()}
    total = terms["total"]
    dims = int(math.prod(model.config.input_shape))
    per_dim = math.log(2) * dims
    return {"bound_nats": total.mean().item(), "bound_stderr": (total.std() / math.sqrt(len(total))).item(),
            "bits_per_dim": total.mean().item() / per_dim,
            "bits_per_dim_stderr": (total.std() / math.sqrt(len(total))).item() / per_dim,
            "prior_nats": terms["prior"].mean().item(), "decoder_nats": terms["decoder"].mean().item(),
            "diffusion_nats": terms["diffusion"].mean().item(), "images": len(total),
            "t_samples": t_samples if t_samples and t_samples < model.config.timesteps - 1 else "all",
            "timesteps": model.config.timesteps, "uniform_bits_per_dim": 8.0,
            "conditional": bool(model.config.num_classes),
            "protocol": "DDPM variational bound (Ho et al. 2020, eq. 5) on 8-bit pixels, discretised Gaussian decoder; "
                        "an upper bound on the test NLL" + (" given each image's label, −log p(x|y)"
                                                            if model.config.num_classes else "")}


@torch.no_grad()
def point_baselines(model, data: ImageSet, data_cfg, num_samples: int, seed: int = 0) -> dict[str, float]:
    """References for a density model of points, in nats per point on the same held-out ``data``: a
    full-covariance Gaussian fitted to the training split, and for two moons the true density (the best any
    model can reach) and the true log-density of the model's samples beside that of held-out points."""
    from ..data import load_images
    from ..data.points import gaussian_log_density, two_moons_log_density

    train = load_images(data_cfg, tuple(model.config.input_shape), split="train")
    out: dict[str, float] = {"gaussian_log_prob_nats": gaussian_log_density(train.images, data.images).mean().item()}
    if data_cfg.name == "two-moons" and data_cfg.classes is not None:
        out["note"] = "no true-density reference: data.classes keeps only some moons"
    elif data_cfg.name == "two-moons":
        stats = data.meta["standardisation"]
        out["true_log_prob_nats"] = two_moons_log_density(data.images, stats).mean().item()
        samples = model.sample(num_samples, generator=torch.Generator().manual_seed(seed)).float().cpu()
        out["samples_true_log_prob_nats"] = two_moons_log_density(samples, stats).mean().item()
        out["samples"] = num_samples
    return out
