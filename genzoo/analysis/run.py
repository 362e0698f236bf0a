"""``genzoo analyze``: the analyses of Foster, *Generative Deep Learning* (1st ed.) ch. 3-4 on a trained run,
written as PNGs plus a JSON file of numbers each.

Each analysis is a thin layer over the pure functions of :mod:`genzoo.analysis.latent`: load what it
needs (lazily, once per call of :func:`run_analysis`), compute, write ``OUT/<name>.png`` and
``OUT/<name>.json``, and return a JSON-able dict naming the files and the numbers.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ConfigError
from ..data.loader import make_batch
from ..data.types import ImageSet
from ..run_context import RunContext
from .curves import numeric_series, read_metrics
from .grid import save_grid
from .latent import (add_vector, attribute_vector, decode_codes, encode_dataset, gaussian_fit_stats, has_encoder,
                     has_generator, latent_grid, lerp, nearest_neighbours, normal_quantiles, pca_2d, sample_codes,
                     slerp)
from .plots import (as_pairs_rows, attention_plot, curves_plot, density_grid, flow_figure, grid_cell_area,
                    histogram_plot, position_plot, scatter_plot)

from .registry import ANALYSES, DEFAULT_N, ENTRIES, MODALITIES, POINT_ANALYSES  # noqa: F401 (re-exported)
TEMPERATURES = (0.2, 1.0)     # Foster Fig. 6.9
ARITHMETIC_FACTORS = [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]  # Foster's notebook 03_06
INTERPOLATE_ROWS = 4
VECTOR_IMAGES = 5000        # images encoded to estimate an attribute vector
MSE_IMAGES = 2000           # images whose reconstruction error is averaged
NEAREST_HELD_OUT = 200      # held-out images whose nearest training distance is the baseline


class NotApplicable(ConfigError):
    """The analysis does not apply to this model or data (``all`` skips it and says why)."""


class Context(RunContext):
    """What the analyses of one ``run_analysis`` call share: the opened run (:class:`RunContext`: config,
    model and data, each read when first needed), the output folder, the split and the seed."""

    def __init__(self, run_dir: Path, out_dir: Path, split: str, seed: int, attribute: str | None,
                 prompt: str | None = None):
        super().__init__(run_dir)
        self.out_dir, self.split = Path(out_dir), split
        self.seed, self.attribute, self.prompt = seed, attribute, prompt

    def data(self, split: str | None = None) -> ImageSet:
        """The run's dataset (``data`` section of its config) for ``split`` (default: the analysed one)."""
        return super().data(split or self.split)

    def images01(self, data: ImageSet, index: Tensor) -> Tensor:
        """Images ``index`` as the model sees them (binarised/quantised if configured), in ``[0, 1]``."""
        batch = make_batch(data, index, self.cfg.data, self.model.config.data_range, torch.device("cpu"))
        return self.model.to_unit(batch.x)

    def generator(self, salt: int = 0) -> torch.Generator:
        """A fresh generator per analysis, so each result depends on ``--seed`` and not on the order."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + salt)

    def subset(self, total: int, n: int, salt: int) -> Tensor:
        """``n`` of ``total`` indices: all of them in order when ``n >= total``, else a seeded random pick."""
        if n >= total:
            return torch.arange(total)
        return torch.randperm(total, generator=self.generator(salt))[:n].sort().values

    @property
    def scale(self) -> int:
        return 2 if self.model.config.input_shape[-1] <= 32 else 1

    def path(self, name: str, suffix: str = ".png") -> Path:
        return self.out_dir / f"{name}{suffix}"

    def write(self, name: str, result: dict[str, Any]) -> dict[str, Any]:
        """Write ``OUT/<name>.json`` (all numbers) and return ``result`` with the files it names."""
        result = {"analysis": name, **result}
        files = [str(f) for f in result.get("files", [])]
        json_path = self.path(name, ".json")
        result["files"] = files + [str(json_path)]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2, default=str))
        return result


# --------------------------------------------------------------------------------------------------
# Shared checks and conditions


def _need_encoder(ctx: Context, what: str) -> None:
    if not has_encoder(ctx.model):
        raise NotApplicable(f"{what} needs an encoder, and model family {ctx.model.family!r} has none "
                            f"(only autoencoders and VAEs map images to codes)")


def _need_generator(ctx: Context, what: str) -> None:
    if not has_generator(ctx.model) or not getattr(ctx.model.config, "z_dim", None):
        raise NotApplicable(f"{what} needs a latent space to decode (decode/generate with model.z_dim); "
                            f"model family {ctx.model.family!r} has none")


def _latent_prior(model) -> str:
    """``normal`` for VAEs and GANs (codes drawn from N(0, I)); ``box`` for plain autoencoders, whose
    codes follow no fixed distribution (Foster ch. 3, the autoencoder's "gaps" in Fig. 3-8)."""
    return model.latent_prior


def _class_of(ctx: Context) -> int:
    """The class named by ``--attribute`` (an index or a class name) for class-conditional decoding;
    default 0."""
    k = ctx.model.config.num_classes
    if ctx.attribute is None:
        return 0
    names = ctx.data().class_names or []
    if ctx.attribute.lstrip("-").isdigit():
        label = int(ctx.attribute)
    elif ctx.attribute.lower() in [c.lower() for c in names]:
        label = [c.lower() for c in names].index(ctx.attribute.lower())
    else:
        raise ConfigError(f"--attribute {ctx.attribute!r}: a class-conditional model needs a class index "
                          f"0..{k - 1}" + (f" or a class name ({', '.join(names)})" if names else ""))
    if not 0 <= label < k:
        raise ConfigError(f"--attribute {label}: the model has classes 0..{k - 1}")
    return label


def _fixed_condition(ctx: Context, count: int) -> tuple[Tensor | None, str | None]:
    """One condition for every decoded image: the ``--attribute`` class (default 0), or all-zero attributes."""
    c = ctx.model.config
    if c.num_classes:
        label = _class_of(ctx)
        return F.one_hot(torch.full((count,), label), c.num_classes).float(), f"class {label}"
    if c.num_attributes:
        return torch.zeros(count, c.num_attributes), "all attributes 0"
    return None, None


def _conditions(ctx: Context, data: ImageSet, index: Tensor) -> Tensor | None:
    batch = make_batch(data, index, ctx.cfg.data, ctx.model.config.data_range, torch.device("cpu"))
    c = ctx.model.condition_of(batch)
    return None if c is None else c.float()


# --------------------------------------------------------------------------------------------------
# The analyses


@torch.no_grad()
def reconstructions(ctx: Context, n: int) -> dict[str, Any]:
    """First ``n`` images of the split (top row) and their reconstructions (bottom row): Foster ch. 3,
    Fig. 3-7. VAEs decode μ. Also the mean per-pixel squared error on ``[0, 1]`` pixels."""
    _need_encoder(ctx, "reconstructions")
    model, data = ctx.model, ctx.data()
    shown = torch.arange(min(n, len(data)))
    originals = ctx.images01(data, shown)
    recon = _reconstruct(ctx, data, shown)
    mse_shown = (recon - originals).pow(2).mean().item()
    errors = []
    for start in range(0, min(len(data), MSE_IMAGES), 256):
        idx = torch.arange(start, min(start + 256, len(data), MSE_IMAGES))
        errors.append((_reconstruct(ctx, data, idx) - ctx.images01(data, idx)).pow(2).flatten(1).mean(1))
    per_image = torch.cat(errors)
    decoded = " (decoded from μ)" if _latent_prior(model) == "normal" else ""
    png = save_grid(as_pairs_rows(originals, recon), ctx.path("reconstructions"), nrow=len(shown), scale=ctx.scale,
                    row_labels=["original", f"reconstruction\nMSE {mse_shown:.4f}"],
                    title=f"{ctx.cfg.recipe}: {ctx.split} images and their reconstructions{decoded}; MSE per pixel "
                          f"on [0, 1]: {mse_shown:.4f} for these, {per_image.mean().item():.4f} over "
                          f"{len(per_image)} images")
    return ctx.write("reconstructions", {
        "files": [png], "split": ctx.split, "images_shown": len(shown),
        "layout": "top row: originals; bottom row: reconstructions" + decoded,
        "mse_per_pixel_shown": mse_shown, "mse_per_pixel": per_image.mean().item(),
        "mse_images": len(per_image), "pixel_range": "[0, 1]"})


def _reconstruct(ctx: Context, data: ImageSet, index: Tensor) -> Tensor:
    model = ctx.model
    batch = make_batch(data, index, ctx.cfg.data, model.config.data_range, model.device)
    return model.reconstruct(batch.x, model.condition_of(batch)).float().cpu()


@torch.no_grad()
def latent_scatter(ctx: Context, n: int) -> dict[str, Any]:
    """``n`` images of the split encoded and plotted, coloured by class (Foster ch. 3, Figs 3-8 (AE)
    and 3-14 (VAE, μ)). With ``z_dim > 2`` the plot shows the first two principal components."""
    _need_encoder(ctx, "latent-scatter")
    model, data = ctx.model, ctx.data()
    index = ctx.subset(len(data), n, salt=1)
    codes, _ = encode_dataset(model, data, ctx.cfg.data, index)
    what = "μ" if _latent_prior(model) == "normal" else "codes"
    d = codes.shape[1]
    info: dict[str, Any] = {}
    if d == 2:
        points, axes, projection = codes, ("z[0]", "z[1]"), "none (z_dim = 2)"
    elif d == 1:
        jitter = torch.rand(len(codes), 1, generator=ctx.generator(2)) - 0.5
        points, axes, projection = torch.cat([codes, jitter], 1), ("z[0]", "random jitter"), "1-D code + jitter"
    else:
        points, ratio = pca_2d(codes)
        axes = (f"PC1 ({100 * ratio[0]:.1f}% of variance)", f"PC2 ({100 * ratio[1]:.1f}% of variance)")
        projection = f"PCA of the {d}-dim {what} to 2-D"
        info["explained_variance_ratio"] = ratio
    labels = data.labels[index] if data.labels is not None else None
    title = f"{ctx.cfg.recipe}: {what} of {len(codes)} {ctx.split} images"
    title += "" if d == 2 else f"\n({projection})"
    png = scatter_plot(points, labels, ctx.path("latent-scatter"), title, data.class_names, axes)
    return ctx.write("latent-scatter", {
        "files": [png], "split": ctx.split, "points": len(codes), "z_dim": d, "encoded": what,
        "projection": projection, "coloured_by": "class label" if labels is not None else "nothing (no labels)",
        "code_mean": codes.mean(0).tolist()[:50], "code_std": codes.std(0).tolist()[:50] if len(codes) > 1 else None,
        **info})


@torch.no_grad()
def latent_grid_analysis(ctx: Context, n: int) -> dict[str, Any]:
    """Decode an ``n×n`` grid over the 2-D latent plane (Foster ch. 3: a VAE's plane at the N(0, 1)
    quantiles ``norm.ppf(linspace(0.05, 0.95, n))``; an autoencoder's over the box of its test codes,
    1st-99th percentile). Top row = largest z[1], left column = smallest z[0]."""
    _need_generator(ctx, "latent-grid")
    model = ctx.model
    z_dim = model.config.z_dim
    if z_dim != 2:
        instead = "latent-scatter (PCA), interpolate or arithmetic" if has_encoder(model) else "interpolate"
        raise NotApplicable(f"latent-grid decodes a grid over a 2-D latent plane, but this run has "
                            f"model.z_dim={z_dim}; use {instead} instead, or train with --set model.z_dim=2")
    prior = _latent_prior(model)
    if prior == "normal":
        xs = ys = normal_quantiles(n)
        span = "N(0, 1) quantiles 0.05..0.95"
    else:
        data = ctx.data()
        codes, _ = encode_dataset(model, data, ctx.cfg.data, ctx.subset(len(data), 5000, salt=3))
        lo, hi = torch.quantile(codes, 0.01, dim=0), torch.quantile(codes, 0.99, dim=0)
        xs, ys = (torch.linspace(float(lo[i]), float(hi[i]), n) for i in range(2))
        span = f"1st-99th percentile box of {len(codes)} encoded {ctx.split} images"
    z = latent_grid(xs, ys)
    cond, cond_text = _fixed_condition(ctx, len(z))
    images = decode_codes(model, z, cond)
    title = f"{ctx.cfg.recipe}: images decoded on a grid of the latent plane ({span}); column header z[0], row label z[1]"
    png = save_grid(images, ctx.path("latent-grid"), nrow=n, scale=ctx.scale, title=title + (
                    f"; {cond_text}" if cond_text else ""), col_labels=[f"{v:.2f}" for v in xs.tolist()],
                    row_labels=[f"{v:.2f}" for v in ys.flip(0).tolist()])
    return ctx.write("latent-grid", {
        "files": [png], "grid": [n, n], "z0_values": xs.tolist(), "z1_values_top_to_bottom": ys.flip(0).tolist(),
        "span": span, "condition": cond_text})


@torch.no_grad()
def interpolate(ctx: Context, n: int) -> dict[str, Any]:
    """Walk the latent space in ``n`` steps between two points, one pair per row.

    Encoder models: two images of the split encoded (μ), the codes mixed linearly and decoded; the
    originals frame each row (Foster ch. 3, morphing between faces, Fig. 3-23). Generators (GANs):
    two N(0, I) vectors joined by spherical interpolation (:func:`~genzoo.analysis.latent.slerp`).
    """
    _need_generator(ctx, "interpolate")
    model = ctx.model
    rows = INTERPOLATE_ROWS
    if has_encoder(model):
        data = ctx.data()
        if len(data) < 2:
            raise ConfigError(f"interpolate needs at least 2 {ctx.split} images")
        pick = torch.randperm(len(data), generator=ctx.generator(4))[:2 * min(rows, len(data) // 2)]
        rows = len(pick) // 2
        a_idx, b_idx = pick[:rows], pick[rows:]
        (za, _), (zb, _) = (encode_dataset(model, data, ctx.cfg.data, i) for i in (a_idx, b_idx))
        path = lerp(za, zb, n)                                    # rows × n × D
        ca, cb = _conditions(ctx, data, a_idx), _conditions(ctx, data, b_idx)
        cond = None if ca is None else lerp(ca, cb, n).reshape(rows * n, -1)
        decoded = decode_codes(model, path.reshape(rows * n, -1), cond).reshape(rows, n, *model.config.input_shape)
        grid = torch.cat([ctx.images01(data, a_idx)[:, None], decoded, ctx.images01(data, b_idx)[:, None]], 1)
        info = {"method": "linear interpolation of encoder codes (μ for a VAE)", "pairs": [[int(a), int(b)] for a, b in
                                                                             zip(a_idx, b_idx)],
                "layout": f"each row: image A, {n} decoded steps, image B"}
        ncol = n + 2
        weights = [f"{w:.2f}" for w in torch.linspace(0, 1, n).tolist()]
        labels = {"col_labels": ["A"] + weights + ["B"],
                  "row_labels": [f"#{int(a)} → #{int(b)}" for a, b in zip(a_idx, b_idx)],
                  "title": f"{ctx.cfg.recipe}: decoded linear interpolation of the codes of {ctx.split} images A and B; "
                           f"header: weight of B; row: the two images' indices"}
    else:
        g = ctx.generator(4)
        za, zb = torch.randn(rows, model.config.z_dim, generator=g), torch.randn(rows, model.config.z_dim, generator=g)
        path = slerp(za, zb, n)
        cond = model.default_condition(rows, torch.device("cpu"))
        cond = None if cond is None else cond.float().repeat_interleave(n, 0)
        grid = decode_codes(model, path.reshape(rows * n, -1), cond).reshape(rows, n, *model.config.input_shape)
        info = {"method": "spherical interpolation between N(0, I) vectors", "layout": f"each row: {n} steps"}
        ncol = n
        labels = {"col_labels": [f"{w:.2f}" for w in torch.linspace(0, 1, n).tolist()],
                  "row_labels": [f"pair {i + 1}" for i in range(rows)],
                  "title": f"{ctx.cfg.recipe}: generated along the spherical path between two z ~ N(0, I) per row; "
                           f"header: interpolation weight"}
    png = save_grid(grid.reshape(-1, *grid.shape[2:]), ctx.path("interpolate"), nrow=ncol, scale=ctx.scale, **labels)
    return ctx.write("interpolate", {"files": [png], "rows": rows, "steps": n, **info})


def attribute_mask(data: ImageSet, attribute: str | None) -> tuple[Tensor, str]:
    """Which images have the attribute: a named attribute column (CelebA-format data; default
    ``Smiling`` as in the book, else the first) or class ``k`` vs the rest for labelled data."""
    if data.attributes is not None:
        names = data.attribute_names or [str(i) for i in range(data.attributes.shape[1])]
        if attribute is None:
            attribute = "Smiling" if "Smiling" in names else names[0]
        if attribute in names:
            col = names.index(attribute)
        elif attribute.isdigit() and int(attribute) < len(names):
            col = int(attribute)
        else:
            raise ConfigError(f"--attribute {attribute!r} is not an attribute of {data.source}; "
                              f"valid names: {', '.join(names)}")
        return data.attributes[:, col] > 0.5, f"attribute {names[col]}"
    if data.labels is not None:
        k = data.num_classes or 0
        names = data.class_names or [str(i) for i in range(k)]
        if attribute is None:
            label = 0
        elif attribute.lstrip("-").isdigit():
            label = int(attribute)
        else:
            lower = [c.lower() for c in names]
            if attribute.lower() not in lower:
                raise ConfigError(f"--attribute {attribute!r}: {data.source} has class labels, so give a class "
                                  f"index 0..{k - 1} or a class name ({', '.join(names)})")
            label = lower.index(attribute.lower())
        if not 0 <= label < k:
            raise ConfigError(f"--attribute {label}: {data.source} has classes 0..{k - 1}")
        name = names[label] if label < len(names) else str(label)
        return data.labels == label, f"class {label} ({name}) vs the rest"
    raise NotApplicable(f"arithmetic needs images with and without an attribute, but {data.source} has neither "
                        f"labels nor attributes (use labelled data, or CelebA-format data with data.attributes)")


@torch.no_grad()
def arithmetic(ctx: Context, n: int) -> dict[str, Any]:
    """Latent-space arithmetic (Foster ch. 3, Fig. 3-22): the attribute vector is the mean code (μ) of
    images with the attribute minus that of images without it, scaled to unit length as in the book;
    ``n`` images without the attribute are decoded at ``code + f·vector`` for f in −4…4. Column 0 is
    the original image, then one column per factor."""
    _need_encoder(ctx, "arithmetic")
    model, data = ctx.model, ctx.data()
    mask, described = attribute_mask(data, ctx.attribute)
    pool = ctx.subset(len(data), VECTOR_IMAGES, salt=5)
    codes, _ = encode_dataset(model, data, ctx.cfg.data, pool)
    pool_mask = mask[pool]
    raw = attribute_vector(codes, pool_mask)
    vector = raw / raw.norm().clamp_min(1e-12)
    candidates = pool[~pool_mask]
    pick = candidates[torch.randperm(len(candidates), generator=ctx.generator(6))[:n]]
    targets, _ = encode_dataset(model, data, ctx.cfg.data, pick)
    moved = add_vector(targets, vector, ARITHMETIC_FACTORS)                 # n × F × D
    f = len(ARITHMETIC_FACTORS)
    cond = _conditions(ctx, data, pick)
    cond = None if cond is None else cond.repeat_interleave(f, 0)
    decoded = decode_codes(model, moved.reshape(len(pick) * f, -1), cond).reshape(len(pick), f,
                                                                                   *model.config.input_shape)
    grid = torch.cat([ctx.images01(data, pick)[:, None], decoded], 1)
    png = save_grid(grid.reshape(-1, *grid.shape[2:]), ctx.path("arithmetic"), nrow=f + 1, scale=ctx.scale,
                    col_labels=["original"] + [f"{k:+g}·v" for k in ARITHMETIC_FACTORS],
                    row_labels=[f"{ctx.split} #{int(i)}" for i in pick],
                    title=f"{ctx.cfg.recipe}: each row decodes code(image) + f·v, v = unit vector of {described} "
                          f"(images without it)")
    proj = codes @ vector
    return ctx.write("arithmetic", {
        "files": [png], "attribute": described, "images_with": int(pool_mask.sum()),
        "images_without": int((~pool_mask).sum()), "vector_norm_before_unit_scaling": raw.norm().item(),
        "vector": vector.tolist()[:200], "factors": ARITHMETIC_FACTORS, "rows": len(pick),
        "mean_projection_with": proj[pool_mask].mean().item(),
        "mean_projection_without": proj[~pool_mask].mean().item(),
        "layout": "each row: original, then decode(μ + f·unit vector) for each factor",
        "images_changed": [int(i) for i in pick]})


@torch.no_grad()
def histograms(ctx: Context, n: int) -> dict[str, Any]:
    """Per-dimension histograms of the codes of ``n`` images against the N(0, 1) density (Foster
    ch. 3, Fig. 3-20, the first 50 dimensions). For a VAE the plotted codes are draws
    z = μ + σ·ε from q(z|x) — what the book's encoder outputs — and the JSON has μ's statistics too."""
    _need_encoder(ctx, "histograms")
    model, data = ctx.model, ctx.data()
    index = ctx.subset(len(data), n, salt=7)
    mu, log_var = encode_dataset(model, data, ctx.cfg.data, index)
    z = sample_codes(mu, log_var, ctx.generator(8))
    plotted = "z sampled from q(z|x) (μ + σ·ε)" if log_var is not None else "autoencoder codes"
    d = z.shape[1]
    shown = min(50, d)
    title = (f"{ctx.cfg.recipe}: {plotted}\n{len(z)} {ctx.split} images, dims 0-{shown - 1} of {d}; "
             f"orange: N(0, 1) density")
    png = histogram_plot(z, ctx.path("histograms"), title, max_dims=shown)
    stats = {"z": _summarised(gaussian_fit_stats(z))}
    if log_var is not None:
        stats["mu"] = _summarised(gaussian_fit_stats(mu))
        stats["mean_posterior_std"] = torch.exp(0.5 * log_var).mean(0).tolist()
    return ctx.write("histograms", {"files": [png], "plotted": plotted, "images": len(z), "z_dim": d,
                                    "dims_plotted": shown, "stats": stats})


def _summarised(stats: dict[str, list[float]]) -> dict[str, Any]:
    kl = stats["kl_to_standard_normal"]
    return {**stats, "kl_mean": sum(kl) / len(kl), "kl_max": max(kl)}


@torch.no_grad()
def nearest(ctx: Context, n: int, metric: str = "l1") -> dict[str, Any]:
    """Foster ch. 4, Fig. 4-9 (his "Rule 2": the generator must not just reproduce training images):
    ``n`` samples (top row) above their nearest training images (bottom row) by mean absolute pixel
    difference. The baseline is the same distance for held-out images: samples much closer to the
    training set than held-out images are is a sign of copying."""
    from ..models.capabilities import Samples, why_not

    model = ctx.model
    reason = why_not(model, Samples)
    if reason is not None:
        raise NotApplicable(reason)
    samples = model.sample(n, generator=ctx.generator(9)).float().cpu()
    train_split = ctx.cfg.data.split
    train = ctx.data(train_split)
    reference = _reference_chunks(ctx, train)
    d_samples, where = nearest_neighbours(samples, reference, metric)
    held = ctx.data()
    held_idx = ctx.subset(len(held), NEAREST_HELD_OUT, salt=10)
    d_held, _ = nearest_neighbours(ctx.images01(held, held_idx), reference, metric)
    closest = ctx.images01(train, where)
    mean_s, mean_h = d_samples.mean().item(), d_held.mean().item()
    unit = "L1" if metric == "l1" else "RMS"
    png = save_grid(as_pairs_rows(samples, closest), ctx.path("nearest"), nrow=n, scale=ctx.scale,
                    row_labels=["sample", f"nearest\n{train_split} image"],
                    col_labels=[f"{unit} {d:.3f}" for d in d_samples.tolist()],
                    title=f"{ctx.cfg.recipe}: samples above their nearest {train_split} images ({unit} pixel distance "
                          f"in the header); mean {mean_s:.4f} for samples vs {mean_h:.4f} for {ctx.split} images")
    result = {
        "files": [png], "metric": "mean absolute pixel difference on [0, 1]" if metric == "l1"
        else "root-mean-square pixel difference on [0, 1]",
        "layout": "top row: samples; bottom row: their nearest training images",
        "training_split": train_split, "training_images": len(train), "held_out_split": ctx.split,
        "held_out_images": len(held_idx), "sample_distances": d_samples.tolist(),
        "nearest_training_index": [int(i) for i in where],
        "mean_sample_nearest": mean_s, "mean_held_out_nearest": mean_h,
        "ratio_sample_to_held_out": mean_s / mean_h if mean_h > 0 else None}
    copies = (d_held == 0).float().mean().item()
    result["held_out_exact_copies_fraction"] = copies
    if ctx.split == train_split or copies > 0.5:
        result["note"] = ("the held-out images are in the training set (the same split, or a dataset without a "
                          "separate test split), so the baseline distances are 0")
    return ctx.write("nearest", result)


def _reference_chunks(ctx: Context, data: ImageSet, chunk: int = 4096) -> Callable[[], Iterator[Tensor]]:
    """Training images in ``[0, 1]``, a chunk at a time (bounded memory for 60,000 images)."""
    def chunks() -> Iterator[Tensor]:
        for start in range(0, len(data), chunk):
            yield ctx.images01(data, torch.arange(start, min(start + chunk, len(data))))
    return chunks


def curves(ctx: Context, n: int) -> dict[str, Any]:
    """Training curves from ``metrics.jsonl`` against the step: one panel per metric, a GAN's ``d_*``
    and ``g_*`` of the same name on one axes (Foster ch. 4, Fig. 4-7). Needs no checkpoint, so it
    works on a run that is still training."""
    rows = read_metrics(ctx.run_dir / "metrics.jsonl")
    series = numeric_series(rows)
    if not series:
        raise NotApplicable(f"{ctx.run_dir / 'metrics.jsonl'} has no numeric metrics to plot")
    family = ctx.cfg.model.get("family", "?")
    last = rows[-1]
    title = f"{ctx.cfg.recipe} ({family}): step {last['step']}, epoch {last.get('epoch', '?')}"
    png = curves_plot(series, ctx.path("curves"), title)
    summary = {k: {"first": v[0], "last": v[-1], "min": min(v), "max": max(v)} for k, (_, v) in series.items()}
    return ctx.write("curves", {"files": [png], "rows": len(rows), "last_step": int(last["step"]),
                                "last_epoch": last.get("epoch"), "metrics": summary})


def flow(ctx: Context, n: int) -> dict[str, Any]:
    """A flow on 2-D points, as in Foster 2nd ed. Fig. 6-9: ``n`` held-out points X and their latents f(X),
    ``n`` draws Z ~ N(0, I) and their images g(Z), and the learned density p(x) and log p(x) on a grid."""
    model = ctx.model
    if model.modality != "points" or model.config.input_shape[0] != 2:
        raise NotApplicable("flow draws a flow model of 2-D points (family realnvp-points with input_shape [2])")
    data = ctx.data()
    x = data.images[ctx.subset(len(data), n, salt=9)].to(model.device)
    fx, _ = model.to_latent(x)
    z = torch.randn(n, 2, generator=ctx.generator(10)).to(model.device)
    gz = model.from_latent(z)
    density = density_grid(model.log_prob, device=model.device)
    png = flow_figure(x, fx, z, gz, density, ctx.path("flow"), f"{ctx.cfg.recipe}: data ↔ latent ({ctx.split} split)")
    return ctx.write("flow", {"files": [png], "points": n, "latent_mean": fx.mean(0).tolist(),
                              "latent_std": fx.std(0).tolist(),
                              "density_grid_mass": float(density.sum() * grid_cell_area())})


@torch.no_grad()
def temperatures(ctx: Context, n: int) -> dict[str, Any]:
    """Foster Fig. 6.9: ``n`` texts from the same seed prompts at temperature 0.2 and at 1.0 (0.2 stays close to
    the likeliest words and repeats itself; 1.0 samples the model's own distribution). Seeds: the first ``n``
    of Fig. 6.10's prompts whose words the vocabulary knows, else an empty prompt (a new story)."""
    from ..models.capabilities import Samples, why_not
    from ..tasks import Text, write_artifact
    from ..tasks.generation import BOOK_PROMPTS

    model = ctx.model
    reason = why_not(model, Samples)
    if reason:
        raise NotApplicable(reason)
    tok = model.need_tokenizer()
    prompts = [p for p in BOOK_PROMPTS if all(w in tok.word_index for w in p.split())][:n] or [""]
    texts, rows = [], []
    for t in TEMPERATURES:
        for i, prompt in enumerate(prompts):
            ids = model.sample(1, generator=ctx.generator(20 + i), temperature=t, prompt=prompt or None)
            text = model.samples_artifact(ids).samples[0]
            texts.append(f"[T = {t}] {text}")
            rows.append({"temperature": t, "prompt": prompt, "text": text})
    art = Text(texts, title=f"{ctx.cfg.recipe}: the same prompts at temperature {TEMPERATURES[0]} and "
                            f"{TEMPERATURES[1]} (Foster Fig. 6.9)")
    written = write_artifact(art, ctx.path("temperatures", ".txt"))
    return ctx.write("temperatures", {"samples": rows, "files": [written["text"]]})


def _need_attention(ctx: Context) -> None:
    from ..models.capabilities import Attends, why_not

    reason = why_not(ctx.model, Attends)
    if reason:
        raise NotApplicable(reason)


def _held_out_prompt(ctx: Context, n: int) -> str:
    """The first ``n`` tokens of the first held-out text (after its story marker; up to an unknown token), as
    text."""
    from ..data.text import STORY_DELIMITER

    data = ctx.data("test")
    tok = data.tokenizer
    marker = tok.encode(STORY_DELIMITER + " ")
    ids = data.tokens.tolist()
    start = next((i + len(marker) for i in range(len(ids)) if ids[i:i + len(marker)] == marker), 0)
    piece = ids[start:start + n]
    if tok.unknown_id in piece:
        piece = piece[:piece.index(tok.unknown_id)]
    return tok.decode(piece).strip()


@torch.no_grad()
def attention(ctx: Context, n: int) -> dict[str, Any]:
    """Attention weights of every layer and head among the tokens of ``--prompt`` (default: the first ``n``
    tokens of a held-out text), as heatmaps with the tokens on both axes (Foster 2nd ed. ch. 9)."""
    _need_attention(ctx)
    prompt = ctx.prompt if ctx.prompt is not None else _held_out_prompt(ctx, n)
    tokens, weights = ctx.model.attention(prompt)
    png = attention_plot(tokens, weights, ctx.path("attention"),
                         f"{ctx.cfg.recipe}: attention weights (row attends to column) for {prompt[:60]!r}")
    # where each head looks on average: how far back (in tokens) its weight lies
    t = len(tokens)
    distance = (torch.arange(t)[:, None] - torch.arange(t)[None, :]).clamp(min=0).float()
    mean_back = [[float((w[h] * distance).sum(-1).mean()) for h in range(w.shape[0])] for w in weights]
    return ctx.write("attention", {"prompt": prompt, "tokens": tokens, "files": [png],
                                   "mean_distance_back": mean_back})


@torch.no_grad()
def positions(ctx: Context, n: int) -> dict[str, Any]:
    """The position embeddings added to the tokens, position × dimension: the sinusoidal encoding's bands of
    falling frequency (Vaswani et al. 2017, §3.5; Foster 2nd ed. ch. 9), or what a learned table became."""
    _need_attention(ctx)
    table = ctx.model.position_table()
    kind = ctx.model.config.positions
    png = position_plot(table, ctx.path("positions"),
                        f"{ctx.cfg.recipe}: {kind} position embeddings ({table.shape[0]} positions × "
                        f"{table.shape[1]} dimensions)")
    files = [png]
    if kind != "sinusoidal":   # the book's figure is the fixed encoding: draw it at this model's size beside
        from ..nn.transformer import sinusoidal_encoding

        files.append(position_plot(sinusoidal_encoding(*table.shape), ctx.path("positions-sinusoidal"),
                                   f"the sinusoidal encoding of Vaswani et al. at this size ({table.shape[0]} "
                                   f"positions × {table.shape[1]} dimensions), for comparison"))

    def neighbour_cosine(t: torch.Tensor) -> float:   # how alike the codes of adjacent positions are
        norm = t / t.norm(dim=1, keepdim=True).clamp(min=1e-12)
        return float((norm[1:] * norm[:-1]).sum(1).mean()) if len(t) > 1 else 1.0

    return ctx.write("positions", {"kind": kind, "shape": list(table.shape), "files": files,
                                   "neighbour_cosine": neighbour_cosine(table),
                                   "sinusoidal_neighbour_cosine": neighbour_cosine(
                                       sinusoidal_encoding(*table.shape))})


# Foster 1st ed. §6 (Fig. 6.16): the worked example and the answers the book asks about in it.
JOE_BLOGGS = ("The winning goal was scored by 23-year-old striker Joe Bloggs during the match between Arsenal and "
              "Barcelona. Arsenal recently signed the striker for 50 million pounds. The next match is in two weeks "
              "time, on July 31st 2005.")
JOE_BLOGGS_ANSWERS = {"joe bloggs": "who scored the winning goal ?", "arsenal": "who won the match ?",
                      "barcelona": "who were arsenal playing ?", "50 million pounds": "how much did the striker cost ?",
                      "july 31st 2005": "when is the next match ?"}


@torch.no_grad()
def answers(ctx: Context, n: int) -> dict[str, Any]:
    """Foster 1st ed. Fig. 6.16 and Listing 6.9: the answer tagger's per-word probabilities over the "Joe Bloggs"
    document and ``n`` held-out documents (a line plot, the chosen spans shaded), the spans the tagger chooses and
    the question generated for each, and for Joe Bloggs also the book's five target answers with their target
    questions, greedy and with a beam of 5."""
    from ..data.qa import qa_words
    from ..models.capabilities import AsksQuestions, why_not
    from ..tasks import Text, write_artifact
    from .plots import answer_probability_plot

    model = ctx.model
    reason = why_not(model, AsksQuestions)
    if reason:
        raise NotApplicable(reason)
    data = ctx.data()
    joe = qa_words(JOE_BLOGGS)
    docs = [joe] + [d.words for d in data.documents[:n]]
    chosen = model.questions(docs)
    book = model.questions([joe], [[model.resolve_answer(joe, a) for a in JOE_BLOGGS_ANSWERS]])[0]
    beam = model.questions([joe], [[tuple(q["span"]) for q in book["questions"]]], beam=5)[0]
    lines = ["The Joe Bloggs document (Foster 1st ed. §6), the book's answers (greedy | beam 5 | the book's target):"]
    for g, b, target in zip(book["questions"], beam["questions"], JOE_BLOGGS_ANSWERS.values()):
        lines.append(f"  [{g['span'][0]}:{g['span'][1]}] {g['answer']} → {g['question']} | {b['question']} | {target}")
    panels = []
    for i, doc in enumerate(chosen):
        caption = "Joe Bloggs (Foster 1st ed. §6)" if i == 0 else f"held-out document {i} ({ctx.split} split)"
        lines.append(f"{caption}: the tagger's spans (P > {model.config.threshold}) and their questions:")
        lines += [f"  [{q['span'][0]}:{q['span'][1]}] {q['answer']} → {q['question']}" for q in doc["questions"]]
        panels.append((caption, doc["words"], doc["probabilities"], [tuple(q["span"]) for q in doc["questions"]]))
    png = answer_probability_plot(panels, ctx.path("answers"), f"{ctx.cfg.recipe}: the answer tagger's probability "
                                  f"per word (shaded: the spans it chooses)", model.config.threshold)
    written = write_artifact(Text(lines, title=f"{ctx.cfg.recipe}: answers and questions (Foster Fig. 6.16)"),
                             ctx.path("answers", ".txt"))
    return ctx.write("answers", {"files": [png, written["text"]], "documents": chosen,
                                 "joe_bloggs_book_answers": [{**g, "beam5": b["question"], "book_target": t}
                                                             for g, b, t in zip(book["questions"], beam["questions"],
                                                                                JOE_BLOGGS_ANSWERS.values())]})


def _function(name: str) -> Callable[[Context, int], dict[str, Any]]:
    """The function of analysis ``name``, from the module its registry entry names."""
    import importlib

    entry = ENTRIES[name]
    module = importlib.import_module(f"{__package__}.{entry.module}") if entry.module != "run" else None
    return getattr(module, entry.function) if module else globals()[entry.function]


def _applicable(ctx: Context, name: str) -> None:
    kinds = MODALITIES.get(name, ("image",))
    modality = ctx.family.modality
    if modality not in kinds:
        fit = [a for a in ANALYSES if modality in MODALITIES.get(a, ("image",))]
        raise NotApplicable(f"{name} analyses {' or '.join(kinds)} models; for a model of {modality} use "
                            f"{' or '.join(fit)}")


def run_analysis(run_dir: str | Path, what: str, out_dir: str | Path | None = None, split: str = "test",
                 n: int | None = None, seed: int = 0, attribute: str | None = None,
                 prompt: str | None = None) -> dict[str, Any]:
    """Run one analysis (or ``all``) on ``run_dir`` and write its files to ``out_dir`` (default
    ``RUN_DIR/analysis``). ``n`` overrides each analysis's default count (see :data:`DEFAULT_N`).

    Returns a JSON-able dict: for one analysis its numbers and ``files``; for ``all`` the results by
    name, the analyses ``skipped`` with the reason, and every file written.
    """
    run_dir = Path(run_dir)
    if what != "all" and what not in ENTRIES:
        raise ConfigError(f"unknown analysis {what!r}; choose one of {', '.join(ANALYSES)} or all")
    if n is not None and n < 1:
        raise ConfigError("-n must be >= 1")
    if attribute is not None:
        attribute = str(attribute)
    ctx = Context(run_dir, Path(out_dir) if out_dir is not None else run_dir / "analysis", split, seed, attribute,
                  prompt)
    with torch.inference_mode():
        if what != "all":
            _applicable(ctx, what)
            return {"run": str(run_dir), **_function(what)(ctx, n or DEFAULT_N[what])}
        results: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        for name in ANALYSES:
            try:
                _applicable(ctx, name)
                results[name] = _function(name)(ctx, n or DEFAULT_N[name])
            except NotApplicable as e:
                skipped[name] = str(e)
    files = [f for r in results.values() for f in r["files"]]
    return {"run": str(run_dir), "analysis": "all", "out_dir": str(ctx.out_dir), "files": files,
            "results": results, "skipped": skipped}
