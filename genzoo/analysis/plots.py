"""Matplotlib figures of the analyses, drawn with the Agg canvas directly (no pyplot, so no global
backend state and no display needed)."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from .curves import metric_groups, wants_log_scale


def _save(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi)
    return path


def class_colours(k: int) -> list | None:
    """Distinct colours for ``k`` classes: matplotlib's qualitative tab10 (k ≤ 10) or tab20 (k ≤ 20);
    None beyond that (a continuous colour map is then the only option)."""
    from matplotlib import colormaps

    if k <= 10:
        return [colormaps["tab10"](i) for i in range(k)]
    if k <= 20:
        return [colormaps["tab20"](i) for i in range(k)]
    return None


def scatter_plot(points: Tensor, labels: Tensor | None, path: str | Path, title: str,
                 class_names: list[str] | None = None, axis_names: tuple[str, str] = ("z[0]", "z[1]")) -> Path:
    """Write :func:`scatter_figure` as a PNG."""
    return _save(scatter_figure(points, labels, title, class_names, axis_names), path)


def scatter_figure(points: Tensor, labels: Tensor | None, title: str, class_names: list[str] | None = None,
                   axis_names: tuple[str, str] = ("z[0]", "z[1]")) -> Figure:
    """Codes as points coloured by class (Foster ch. 3, Figs 3-8 and 3-14, ``s=2``). The book's ``rainbow``
    colour map makes neighbouring classes look alike, so up to 20 classes get qualitative colours (tab10 /
    tab20) and a legend naming each class; more classes fall back to ``rainbow`` with a colour bar."""
    xy = points.detach().float().cpu().numpy()
    fig = Figure(figsize=(9, 7))
    ax = fig.add_subplot()
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.6, color="tab:blue")
    else:
        lab = labels.cpu().numpy()
        k = int(lab.max()) + 1 if len(lab) else 1
        if class_names is not None:
            k = max(k, len(class_names))
        colours = class_colours(k)
        if colours is not None:
            for i in range(k):
                mine = lab == i
                name = f"{i}: {class_names[i]}" if class_names is not None and i < len(class_names) else str(i)
                ax.scatter(xy[mine, 0], xy[mine, 1], s=3, alpha=0.8, color=colours[i], label=name)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=5, fontsize=9, frameon=False,
                      title="class")
        else:
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=lab, cmap="rainbow", s=2, alpha=0.8, vmin=-0.5, vmax=k - 0.5)
            fig.colorbar(sc, ax=ax, label="class")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title)
    fig.tight_layout()
    return fig


def histogram_plot(codes: Tensor, path: str | Path, title: str, max_dims: int = 50, bins: int = 50) -> Path:
    """One histogram per latent dimension (the first ``max_dims``) with the N(0, 1) density over it
    (Foster ch. 3, Fig. 3-20: the first 50 dimensions of z for the faces VAE)."""
    c = codes.detach().float().cpu().numpy()
    d = min(max_dims, c.shape[1])
    cols = min(10, d)
    rows = math.ceil(d / cols)
    panel = 1.8 if d > 4 else 3.0
    fig = Figure(figsize=(max(7.0, panel * cols), panel * 0.85 * rows + 0.8))
    lo = min(-4.0, float(np.quantile(c[:, :d], 0.001)) if len(c) else -4.0)
    hi = max(4.0, float(np.quantile(c[:, :d], 0.999)) if len(c) else 4.0)
    grid = np.linspace(lo, hi, 200)
    density = np.exp(-grid ** 2 / 2) / math.sqrt(2 * math.pi)
    for i in range(d):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.hist(c[:, i], bins=bins, range=(lo, hi), density=True, color="tab:blue", alpha=0.7)
        ax.plot(grid, density, color="tab:orange", linewidth=1)
        ax.set_title(f"z[{i}]", fontsize=7)
        ax.tick_params(labelsize=5)
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def curves_plot(series: dict[str, tuple[list[int], list[float]]], path: str | Path, title: str) -> Path:
    """Training curves against the step: one panel per metric group, a GAN's ``d_*``/``g_*`` pair on
    one axes (Foster ch. 4, Fig. 4-7), log scale where the values span more than 20×."""
    groups = metric_groups(list(series))
    n = max(1, len(groups))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(5 * cols, 3.4 * rows + 0.5))
    for i, (name, members) in enumerate(groups.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        values: list[float] = []
        for m in members:
            steps, vals = series[m]
            ax.plot(steps, vals, label=m, linewidth=1.2, marker="." if len(vals) < 30 else None)
            values += vals
        if wants_log_scale(values):
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(members) > 1 or members[0] != name:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def as_pairs_rows(top: Tensor, bottom: Tensor) -> Tensor:
    """Stack two equally long image batches as two grid rows (``2N`` images, use ``nrow=N``)."""
    return torch.cat([top.float().cpu(), bottom.float().cpu()])


POINT_EXTENT = 2.5        # standardised coordinates: the two moons lie within ±2
DENSITY_RESOLUTION = 200  # grid points per axis


def grid_cell_area(extent: float = POINT_EXTENT, resolution: int = DENSITY_RESOLUTION) -> float:
    """Area of one cell of :func:`density_grid` (density × area summed ≈ the mass on the square)."""
    return (2 * extent / (resolution - 1)) ** 2


@torch.no_grad()
def density_grid(log_prob, extent: float = POINT_EXTENT, resolution: int = DENSITY_RESOLUTION,
                 device=None) -> np.ndarray:
    """exp(log p) of a 2-D density on a ``resolution²`` grid over ``[−extent, extent]²`` (rows = y)."""
    axis = torch.linspace(-extent, extent, resolution)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([xx.flatten(), yy.flatten()], 1)
    if device is not None:
        grid = grid.to(device)
    values = torch.cat([log_prob(chunk).float().cpu() for chunk in grid.split(10_000)])
    return values.exp().reshape(resolution, resolution).numpy()


def _density_panel(ax, density: np.ndarray, extent: float, title: str) -> None:
    ax.imshow(density, origin="lower", extent=(-extent, extent, -extent, extent), cmap="viridis", aspect="equal")
    ax.set_title(title, fontsize=9)


def _points_panel(ax, xy: np.ndarray, extent: float, title: str, color: str, names=("x_1", "x_2")) -> None:
    ax.scatter(xy[:, 0], xy[:, 1], s=1, color=color, alpha=0.5)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title, fontsize=9)


def density_plot(model, samples: Tensor, path: str | Path, title: str, extent: float = POINT_EXTENT) -> Path:
    """A point model's density p(x) as a heat map beside its samples (the first two coordinates)."""
    xy = samples.detach().float().cpu().numpy()
    fig = Figure(figsize=(9, 4.4))
    if model.config.input_shape[0] == 2:
        _density_panel(fig.add_subplot(1, 2, 1), density_grid(model.log_prob, extent, device=model.device), extent,
                       "model density p(x)")
    _points_panel(fig.add_subplot(1, 2, 2), xy, extent, "samples x = g(z)", "tab:green")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def flow_figure(data: Tensor, latent: Tensor, z: Tensor, samples: Tensor, density: np.ndarray,
                path: str | Path, title: str, extent: float = POINT_EXTENT) -> Path:
    """Foster 2nd ed. Fig. 6-9 layout: data X and f(X) (red), latent draws Z and g(Z) (green), plus the
    learned density and its log."""
    cols = 3
    fig = Figure(figsize=(4.2 * cols, 8))
    arr = [t.detach().float().cpu().numpy() for t in (data, latent, z, samples)]
    _points_panel(fig.add_subplot(2, cols, 1), arr[0], extent, "data space X", "tab:red")
    _points_panel(fig.add_subplot(2, cols, 2), arr[1], extent, "f(X)", "tab:red", ("z_1", "z_2"))
    _points_panel(fig.add_subplot(2, cols, cols + 1), arr[2], extent, "latent space Z", "tab:green", ("z_1", "z_2"))
    _points_panel(fig.add_subplot(2, cols, cols + 2), arr[3], extent, "g(Z)", "tab:green")
    _density_panel(fig.add_subplot(2, cols, 3), density, extent, "learned density p(x)")
    ax = fig.add_subplot(2, cols, 6)
    ax.imshow(np.log(np.maximum(density, 1e-12)), origin="lower", extent=(-extent, extent, -extent, extent),
              cmap="magma", aspect="equal", vmin=np.log(max(density.max(), 1e-12)) - 12)
    ax.set_title("log p(x)", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def attention_plot(tokens: list[str], weights: list[Tensor], path: str | Path, title: str) -> Path:
    """One heatmap per layer (rows) and head (columns) of attention weights ``[heads, T, T]`` per layer: row t
    is what position t attends to; the tokens label both axes (a space shown as ``␣``)."""
    layers, heads = len(weights), weights[0].shape[0]
    labels = [t.replace(" ", "␣") or "␣" for t in tokens]
    t = len(tokens)
    cell = max(2.2, 0.16 * t)
    fig = Figure(figsize=(cell * heads + 1.0, cell * layers + 0.8))
    font = max(4, min(9, int(220 / max(t, 1))))
    for i, w in enumerate(weights):
        for h in range(heads):
            ax = fig.add_subplot(layers, heads, i * heads + h + 1)
            ax.imshow(w[h].numpy(), cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks(range(t))
            ax.set_yticks(range(t))
            ax.set_xticklabels(labels, rotation=90, fontsize=font)
            ax.set_yticklabels(labels, fontsize=font)
            ax.set_title(f"layer {i + 1}, head {h + 1}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _save(fig, path)


def position_plot(table: Tensor, path: str | Path, title: str) -> Path:
    """The position embeddings ``[positions, d]`` as a heatmap, position down, dimension across (Foster 2nd ed.
    ch. 9's figure of the sinusoidal encoding)."""
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot(1, 1, 1)
    lim = float(table.abs().max()) or 1.0
    im = ax.imshow(table.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    ax.set_xlabel("embedding dimension")
    ax.set_ylabel("position")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return _save(fig, path)


def answer_probability_plot(panels: list[tuple[str, list[str], list[float], list[tuple[int, int]]]],
                            path: str | Path, title: str, threshold: float = 0.5) -> Path:
    """Foster 1st ed. Fig. 6.16: per document (a panel titled by its caption), the answer tagger's probability
    that each word is part of an answer, the words along the x axis and the chosen spans shaded."""
    width = max(8.0, min(24.0, 0.28 * max(len(w) for _, w, _, _ in panels)))
    fig = Figure(figsize=(width, 2.6 * len(panels) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (caption, words, probs, spans) in zip(axes, panels):
        x = np.arange(len(words))
        for a, b in spans:
            ax.axvspan(a - 0.5, b - 0.5, color="tab:orange", alpha=0.25, lw=0)
        ax.plot(x, probs, marker="o", ms=3, color="tab:blue")
        ax.axhline(threshold, color="grey", ls="--", lw=0.8)
        ax.set_ylim(0, 1)
        ax.set_xlim(-0.5, len(words) - 0.5)
        ax.set_xticks(x, words, rotation=90, fontsize=7)
        ax.set_ylabel("P(answer)")
        ax.set_title(caption, fontsize=9, loc="left")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def truncation_plot(rows: list[dict], path: str | Path, symbol: str, title: str) -> Path:
    """FID (left axis) and precision/recall (right axis) against the truncation value (analysis truncation-curve)."""
    fig = Figure(figsize=(7, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    t = [r["truncation"] for r in rows]
    ax.plot(t, [r["fid"] for r in rows], "o-", color="tab:red", label="FID (lower is better)")
    ax.set_xlabel(f"truncation {symbol} (right: less truncated)")
    ax.set_ylabel("FID", color="tab:red")
    right = ax.twinx()
    right.plot(t, [r["precision"] for r in rows], "s--", color="tab:blue", label="precision (fidelity)")
    right.plot(t, [r["recall"] for r in rows], "^--", color="tab:green", label="recall (diversity)")
    right.set_ylim(0, 1)
    right.set_ylabel("precision / recall")
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], fontsize=8, loc="upper center")
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=9)
    fig.tight_layout()
    ax.grid(alpha=0.3)
    return _save(fig, path)
