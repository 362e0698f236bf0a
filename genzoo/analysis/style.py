"""The style-based generators' figures, for any model that declares
:class:`~genzoo.models.capabilities.MixesStyles` (StyleGAN, StyleGAN2).

* ``style-mixing`` — Karras et al. 2019, Fig. 3: sources A across the top, sources B down the side; each cell is
  A's styles with one group of layers copied from B — the *coarse* ones (4²–8²: pose, shape), the *middle* ones
  (16² up to below the top resolution) or the *fine* ones (the top resolution: colour scheme, micro-structure).
  All cells share one noise draw, so only the styles differ.
* ``noise-effect`` — Fig. 4: per row one fixed w, several images with re-drawn noise, and the per-pixel standard
  deviation over ``NOISE_DRAWS`` noise draws (where the noise acts: hair, texture — not identity or pose).
* ``style-interpolation`` — §4 ("perceptual path length"): rows of the same endpoints interpolated in Z
  (spherically, as the paper's PPL in Z) and in W (linearly), with fixed noise; and a pixel-space stand-in for
  the perceptual path length: ``E[d(G(t), G(t + ε)) / ε²]`` with ``d`` the mean squared pixel difference (the
  paper uses LPIPS, not available offline), lower meaning a smoother, less entangled space.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..models.capabilities import MixesStyles, why_not
from .grid import save_grid
from .run import Context, NotApplicable

NOISE_DRAWS = 100        # Fig. 4 (c): standard deviation over 100 noise realisations
NOISE_SHOWN = 5          # re-drawn-noise images shown per row
B_ROWS = 2               # B sources per group (coarse, middle, fine) in the mixing grid
FRAMES = 8               # frames per interpolation row
PPL_PAIRS = 256          # endpoint pairs of the path-length estimate
PPL_EPSILON = 1e-2


def _need_styles(ctx: Context):
    reason = why_not(ctx.model, MixesStyles)
    if reason:
        raise NotApplicable(reason)
    return ctx.model


def style_groups(resolutions: tuple[int, ...]) -> dict[str, list[int]]:
    """The style indices of the coarse (≤ 8²), middle and fine (the top resolution) layers (Fig. 3)."""
    top = max(resolutions)
    groups = {"coarse": [i for i, r in enumerate(resolutions) if r <= 8],
              "middle": [i for i, r in enumerate(resolutions) if 8 < r < top],
              "fine": [i for i, r in enumerate(resolutions) if r == top and r > 8]}
    return {k: v for k, v in groups.items() if v}


def _span(resolutions: tuple[int, ...], index: list[int]) -> str:
    lo, hi = resolutions[index[0]], resolutions[index[-1]]
    return f"{lo}²" if lo == hi else f"{lo}²–{hi}²"


def _shared_noise(model, n: int, generator: torch.Generator) -> list[Tensor]:
    """One noise draw, repeated for ``n`` images."""
    return [m.expand(n, -1, -1, -1) for m in model.noise_inputs(1, generator=generator)]


@torch.no_grad()
def style_mixing(ctx: Context, n: int) -> dict[str, Any]:
    """``n`` A sources (columns) × ``B_ROWS`` B sources per group (rows); the top row shows the A images, the
    first column the B images, each cell A with the group's styles from B."""
    model = _need_styles(ctx)
    g = ctx.generator(50)
    res = tuple(model.style_resolutions)
    groups = style_groups(res)
    wa = model.mapping(model.noise(n, model.device, g))                     # [n, D]
    wb = model.mapping(model.noise(B_ROWS * len(groups), model.device, g))
    L = model.num_styles
    noise = _shared_noise(model, 1, g)
    A = model.broadcast(wa)
    cells, row_labels, distances = [], ["source A"], {}
    blank = torch.ones(1, *model.config.input_shape)
    images_a = model.synthesize(A, noise=[m.expand(n, -1, -1, -1) for m in noise]).float().cpu()
    cells.append(torch.cat([blank, images_a]))
    for gi, (name, index) in enumerate(groups.items()):
        mask = torch.zeros(L, dtype=torch.bool, device=model.device)
        mask[index] = True
        to_a, to_b = [], []
        for j in range(B_ROWS):
            b = wb[gi * B_ROWS + j]
            B1 = model.broadcast(b[None])
            image_b = model.synthesize(B1, noise=noise).float().cpu()
            mixed = torch.where(mask[None, :, None], b[None, None].expand_as(A), A)   # A with B on the group
            images = model.synthesize(mixed, noise=[m.expand(n, -1, -1, -1) for m in noise]).float().cpu()
            cells.append(torch.cat([image_b, images]))
            row_labels.append(f"B{j + 1}: {name}\n({_span(res, index)}) from B")
            to_a.append((images - images_a).pow(2).flatten(1).mean(1))
            to_b.append((images - image_b).pow(2).flatten(1).mean(1))
        distances[name] = {"styles": index, "resolutions": _span(res, index),
                           "mse_to_A": torch.cat(to_a).mean().item(), "mse_to_B": torch.cat(to_b).mean().item()}
    grid = torch.cat(cells)
    png = save_grid(grid, ctx.path("style-mixing"), nrow=n + 1, scale=ctx.scale, row_labels=row_labels,
                    col_labels=["B \\ A"] + [f"A{i + 1}" for i in range(n)],
                    title=f"{ctx.cfg.recipe}: style mixing (Karras et al. 2019, Fig. 3): each cell is source A "
                          f"(top) with one group of styles copied from source B (left); one shared noise draw")
    return ctx.write("style-mixing", {
        "files": [png], "sources_a": n, "sources_b_per_group": B_ROWS, "num_styles": L,
        "style_resolutions": list(res), "groups": distances,
        "layout": "top row: sources A; first column: sources B; cell: A's styles with the row's group from B"})


@torch.no_grad()
def noise_effect(ctx: Context, n: int) -> dict[str, Any]:
    """``n`` rows: one w each, ``NOISE_SHOWN`` images with re-drawn noise, then the per-pixel standard deviation
    over ``NOISE_DRAWS`` noise draws (scaled to the row's maximum for display)."""
    model = _need_styles(ctx)
    g = ctx.generator(51)
    ws = model.broadcast(model.mapping(model.noise(n, model.device, g)))
    rows, stds, peaks = [], [], []
    for i in range(n):
        w = ws[i:i + 1].expand(NOISE_DRAWS, -1, -1)
        images = model.synthesize(w, noise=model.noise_inputs(NOISE_DRAWS, generator=g)).float().cpu()
        std = images.std(0).mean(0, keepdim=True)                         # [1, H, W], over draws, channel mean
        stds.append(std.mean().item())
        peaks.append(std.max().item())
        shown = (std / std.max().clamp_min(1e-8)).expand(images.shape[1], -1, -1)
        rows.append(torch.cat([images[:NOISE_SHOWN], shown[None]]))
    png = save_grid(torch.cat(rows), ctx.path("noise-effect"), nrow=NOISE_SHOWN + 1, scale=ctx.scale,
                    col_labels=[f"noise {k + 1}" for k in range(NOISE_SHOWN)] + [f"std ({NOISE_DRAWS})"],
                    row_labels=[f"w{i + 1}\nstd {s:.3f}" for i, s in enumerate(stds)],
                    title=f"{ctx.cfg.recipe}: effect of noise (Karras et al. 2019, Fig. 4): fixed w per row, "
                          f"re-drawn noise; last column the per-pixel std over {NOISE_DRAWS} draws (scaled to "
                          f"the row's maximum)")
    return ctx.write("noise-effect", {
        "files": [png], "rows": n, "noise_draws": NOISE_DRAWS, "pixel_std_mean": stds, "pixel_std_max": peaks,
        "mean_pixel_std": sum(stds) / len(stds), "pixel_range": "[0, 1]",
        "layout": f"rows: one w each; columns: {NOISE_SHOWN} noise draws, then the std map"})


def slerp_at(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation of rows ``a``, ``b`` (``[N, D]``) at per-row fractions ``t`` (``[N]``), as the
    paper's PPL in Z (Karras et al. 2019, eq. 2): ``sin((1−t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b``."""
    cos = (torch.nn.functional.normalize(a, dim=1) * torch.nn.functional.normalize(b, dim=1)).sum(1)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None]
    t = t.to(a)[:, None]
    so = torch.sin(omega)
    straight = so.abs() < 1e-6            # (anti)parallel rows: a straight line
    safe = torch.where(straight, torch.ones_like(so), so)
    wa = torch.where(straight, 1 - t, torch.sin((1 - t) * omega) / safe)
    wb = torch.where(straight, t, torch.sin(t * omega) / safe)
    return wa * a + wb * b


def _frames(model, start: Tensor, end: Tensor, t: Tensor, space: str, noise: list[Tensor]) -> Tensor:
    """Images along the path from ``start`` to ``end`` (latents ``[D]``) at the fractions ``t``."""
    if space == "z":
        z = slerp_at(start[None].expand(len(t), -1), end[None].expand(len(t), -1), t)
        ws = model.broadcast(model.mapping(z))
    else:
        w0, w1 = model.mapping(torch.stack([start, end]))
        ws = model.broadcast(torch.lerp(w0[None], w1[None], t.to(w0)[:, None]))
    return model.synthesize(ws, noise=[m.expand(len(t), -1, -1, -1) for m in noise]).float().cpu()


def pixel_path_length(model, pairs: int, generator: torch.Generator, space: str,
                      epsilon: float = PPL_EPSILON, batch: int = 64) -> float:
    """The perceptual path length of Karras et al. 2019, eq. 2 (Z, slerp) and eq. 3 (W, lerp), with the mean
    squared pixel difference in place of LPIPS: ``E[d(G(l(t)), G(l(t + ε))) / ε²]``, ``t ~ U(0, 1)``, one noise
    draw per pair shared by both images."""
    total, done = 0.0, 0
    while done < pairs:
        m = min(batch, pairs - done)
        z0, z1 = model.noise(m, model.device, generator), model.noise(m, model.device, generator)
        t = torch.rand(m, 1, generator=generator).to(model.device)
        if space == "z":
            za, zb = slerp_at(z0, z1, t[:, 0]), slerp_at(z0, z1, t[:, 0] + epsilon)
            wa, wb = model.mapping(za), model.mapping(zb)
        else:
            w0, w1 = model.mapping(z0), model.mapping(z1)
            wa, wb = torch.lerp(w0, w1, t), torch.lerp(w0, w1, t + epsilon)
        noise = [x.repeat(2, 1, 1, 1) for x in model.noise_inputs(m, generator=generator)]
        images = model.synthesize(model.broadcast(torch.cat([wa, wb])), noise=noise).float()
        d = (images[:m] - images[m:]).pow(2).flatten(1).mean(1) / epsilon ** 2
        total += d.sum().item()
        done += m
    return total / pairs


@torch.no_grad()
def style_interpolation(ctx: Context, n: int) -> dict[str, Any]:
    """``n`` endpoint pairs, each as two rows of ``FRAMES`` frames: interpolated in Z (slerp), then in W (lerp),
    the same noise along a row; plus the mean pixel step between frames and the pixel path length in Z and W."""
    model = _need_styles(ctx)
    g = ctx.generator(52)
    t = torch.linspace(0, 1, FRAMES)
    rows, labels, steps = [], [], {"z": [], "w": []}
    for i in range(n):
        z0, z1 = model.noise(2, model.device, g)
        noise = model.noise_inputs(1, generator=g)
        for space in ("z", "w"):
            frames = _frames(model, z0, z1, t, space, noise)
            step = (frames[1:] - frames[:-1]).abs().flatten(1).mean(1)
            steps[space].append(step)
            rows.append(frames)
            labels.append(f"pair {i + 1}: in {space.upper()}")
    ppl = {space: pixel_path_length(model, PPL_PAIRS, ctx.generator(53), space) for space in ("z", "w")}
    summary = {}
    for space, s in steps.items():
        s = torch.stack(s)                                   # [pairs, FRAMES - 1]
        summary[space] = {"mean_frame_step": s.mean().item(),
                          "step_cv": (s.std(1) / s.mean(1).clamp_min(1e-8)).mean().item(),
                          "pixel_path_length": ppl[space]}
    png = save_grid(torch.cat(rows), ctx.path("style-interpolation"), nrow=FRAMES, scale=ctx.scale,
                    row_labels=labels, col_labels=[f"t {v:.2f}" for v in t.tolist()],
                    title=f"{ctx.cfg.recipe}: the same endpoints interpolated in Z (slerp) and in W (lerp), fixed "
                          f"noise; pixel path length (mean squared pixel step / ε², {PPL_PAIRS} pairs): "
                          f"Z {ppl['z']:.3g}, W {ppl['w']:.3g}")
    return ctx.write("style-interpolation", {
        "files": [png], "pairs": n, "frames": FRAMES, "ppl_pairs": PPL_PAIRS, "ppl_epsilon": PPL_EPSILON,
        "distance": "mean squared difference of [0, 1] pixels (the paper: LPIPS)", **summary,
        "layout": "rows: for each pair, interpolation in Z then in W; columns: t from 0 to 1"})
