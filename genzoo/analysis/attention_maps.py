"""Where a SAGAN generator's self-attention looks (Zhang et al. 2019, Fig. 1 and Fig. 5; Foster 1st ed. §9), for
any model that declares :class:`~genzoo.models.capabilities.AttendsPixels`.

``attention-maps``: for ``n`` generated images (rows) and a few query positions (columns), the attention weights of
the query over every key position, upsampled (nearest) onto the image and drawn as a heat map over a faded copy of
it, the query marked by a green dot (colour: the weight relative to uniform attention, yellow from 4× uniform).
The JSON gives, per query, how far from the query the weight lies on average (in image pixels), the share of
weight within the query's 3×3 neighbourhood of positions (what a 3×3 conv would see) and the entropy of the
weights against that of uniform attention — numbers that say whether the layer attends locally, like a
convolution, or to distant regions. ``gamma`` is the layer's learned output scale: near 0 the attention barely
changes the features whatever the maps look like.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.capabilities import AttendsPixels, why_not
from .grid import save_grid
from .run import Context, NotApplicable

QUERIES = ((0.25, 0.25), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25), (0.75, 0.75))   # (row, col) fractions


def _heat(images: Tensor, maps: Tensor, keys: int) -> Tensor:
    """RGB overlays: the image faded to grey (35 %) under the attention map (black → red → yellow), ``[n, 3, H, W]``.
    The colour is the weight relative to uniform attention (1/keys): dark red at uniform, yellow from 4× uniform on,
    so a layer that spreads its weight evenly looks evenly dim rather than noisy."""
    grey = images.mean(1, keepdim=True)
    m = (maps * keys / 4).clamp(0, 1)
    heat = torch.cat([(2 * m).clamp(max=1), (2 * m - 1).clamp(min=0), torch.zeros_like(m)], 1)
    return 0.35 * grey + 0.65 * heat


def _mark(images: Tensor, row: int, col: int) -> Tensor:
    out = images.clone()
    r0, c0 = max(row - 1, 0), max(col - 1, 0)
    out[:, :, r0:row + 2, c0:col + 2] = torch.tensor([0.0, 1.0, 0.0])[:, None, None]
    return out


@torch.no_grad()
def attention_maps(ctx: Context, n: int) -> dict[str, Any]:
    """Rows: ``n`` samples; columns: the sample, then the attention map of each query position of :data:`QUERIES`."""
    reason = why_not(ctx.model, AttendsPixels)
    if reason:
        raise NotApplicable(reason)
    model = ctx.model
    out = model.attention_maps(n, generator=ctx.generator(50), condition=model.default_condition(n, model.device))
    images = out.images.float().cpu()
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    _, _, h, w = images.shape
    (qh, qw), (kh, kw) = out.query_shape, out.key_shape
    weights = out.weights.float().cpu().view(n, qh * qw, kh, kw)
    ky = (torch.arange(kh, dtype=torch.float32) + 0.5) * h / kh               # key centres in image pixels
    kx = (torch.arange(kw, dtype=torch.float32) + 0.5) * w / kw
    columns, stats = [images], []
    for fr, fc in QUERIES:
        qr, qc = min(int(fr * qh), qh - 1), min(int(fc * qw), qw - 1)
        beta = weights[:, qr * qw + qc]                                        # [n, kh, kw]
        up = F.interpolate(beta[:, None], size=(h, w), mode="nearest")
        py, px = int((qr + 0.5) * h / qh), int((qc + 0.5) * w / qw)
        columns.append(_mark(_heat(images, up, kh * kw), py, px))
        dist = ((ky[:, None] - py) ** 2 + (kx[None, :] - px) ** 2).sqrt()
        near = (((ky[:, None] - py).abs() <= 1.5 * h / kh) & ((kx[None, :] - px).abs() <= 1.5 * w / kw)).float()
        entropy = -(beta.clamp(min=1e-12).log() * beta).sum((1, 2))
        stats.append({"query": [qr, qc], "query_pixel": [py, px],
                      "mean_distance_px": float((beta * dist).sum((1, 2)).mean()),
                      "share_in_3x3": float((beta * near).sum((1, 2)).mean()),
                      "entropy_nats": float(entropy.mean()), "uniform_entropy_nats": math.log(kh * kw)})
    grid = torch.stack(columns, 1).flatten(0, 1)
    labels = ["sample"] + [f"query ({s['query'][0]}, {s['query'][1]})" for s in stats]
    png = save_grid(grid, ctx.path("attention-maps"), nrow=len(columns), scale=ctx.scale, col_labels=labels,
                    title=f"{ctx.cfg.recipe}: where the query (green) looks — {out.layer}, γ = {out.gamma:.3g}")
    return ctx.write("attention-maps", {"files": [png], "layer": out.layer, "gamma": out.gamma,
                                        "query_grid": list(out.query_shape), "key_grid": list(out.key_shape),
                                        "rows": n, "queries": stats,
                                        "layout": "rows: samples; columns: the sample, then one query position "
                                                  "each (attention over the keys, upsampled onto the image)"})
