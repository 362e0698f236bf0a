"""The growth gallery of a progressively grown GAN (Karras et al. 2018, Fig. 1 and the growth videos; Géron ch. 17):
the same latent draws from the end of every resolution phase, one row per resolution.

The trainer keeps a *milestone* checkpoint after the last step at each resolution
(:meth:`~genzoo.models.base.GenerativeModel.milestone`); this analysis loads each (its EMA weights when the run
has them), generates at the phase's native resolution and enlarges it by nearest neighbour to the data's size for
display, so the rows line up. The run's newest checkpoint is the last row when it is not itself a milestone.
"""
from __future__ import annotations

from typing import Any

import torch

from ..models.capabilities import Grows, why_not
from ..nn.progressive import upsample
from ..run_context import RunContext
from ..training.checkpoint import latest_checkpoint, milestone_checkpoints, read_meta
from .grid import save_grid
from .run import Context, NotApplicable


@torch.no_grad()
def growth(ctx: Context, n: int) -> dict[str, Any]:
    """``n`` draws (columns) per kept phase checkpoint (rows), at each phase's resolution shown at the data's size."""
    reason = why_not(ctx.model, Grows)
    if reason:
        raise NotApplicable(reason)
    stages = milestone_checkpoints(ctx.run_dir)
    latest = latest_checkpoint(ctx.run_dir)
    if latest is not None and latest not in [p for _, p in stages]:
        stages.append(("latest", latest))
    if not stages:
        raise NotApplicable(f"{ctx.run_dir} has no checkpoint to draw from")
    z = torch.randn(n, ctx.model.config.z_dim, generator=ctx.generator(60))
    size = ctx.model.config.input_shape[-1]
    images, labels, rows = [], [], []
    for name, path in stages:
        model = ctx.model if path == latest else RunContext(ctx.run_dir, checkpoint=path).model
        level, alpha = model.trained_phase()
        native = model.generate_at(z.to(model.device), level, alpha).float().cpu()
        res = native.shape[-1]
        images.append(upsample(model.to_unit(native), size // res))
        step = int(read_meta(path)["step"])
        labels.append(f"{res}×{res}" + (f" α {alpha:.2f}" if alpha < 1 else "") + f", step {step}")
        rows.append({"stage": name, "checkpoint": path.name, "step": step, "resolution": res, "alpha": alpha,
                     "pixel_std_across_draws": native.flatten(1).std(0).mean().item()})
    png = save_grid(torch.cat(images), ctx.path("growth"), nrow=n, scale=ctx.scale, row_labels=labels,
                    title=f"{ctx.cfg.recipe}: the same {n} draws at the end of each resolution phase "
                          f"(native size, enlarged to {size}×{size})")
    return ctx.write("growth", {"files": [png], "rows": rows,
                                "layout": "rows: resolution phases, oldest first; columns: the same latent draws"})
