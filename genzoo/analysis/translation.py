"""The figures of image-to-image translation (Foster 1st ed. ch. 5 §5.3), for any model that
:class:`~genzoo.models.capabilities.Translates`.

* ``translation-grid``: the evaluation grid per direction (Figs 5.3/5.8): original → translated → reconstructed →
  identity (a CycleGAN's views), and the true counterpart when the data is paired.
* ``translation-progress``: the same held-out images translated at each gallery the trainer wrote (every epoch end
  and the end of the run), one row per stage (Fig. 5.12, Monet ↔ photo across training).
* ``colour-shift``: the book's λ_id = 0 ablation is about colour (Fig. 5.9: without the identity loss the black tray
  turns white). Per direction, the mean per-channel colour of the sources, the translations and (paired data) the
  true targets, and the mean absolute difference of each translation's mean colour from its source's and its
  target's; train one run with ``--set model.lambda_id=0`` beside one without and compare (the README does).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ..data import transforms as T
from ..models.capabilities import Translates, why_not
from ..run_context import item_index
from .grid import save_grid
from .run import Context, NotApplicable


def _need_translator(ctx: Context) -> None:
    reason = why_not(ctx.model, Translates)
    if reason:
        raise NotApplicable(reason)


@torch.no_grad()
def translation_grid(ctx: Context, n: int) -> dict[str, Any]:
    """``n`` held-out images per direction (evenly spaced over the split) through the translate task."""
    _need_translator(ctx)
    from ..tasks import Request, run_task, write_artifact

    art = run_task(ctx, "translate", Request(n=n, split=ctx.split))
    written = write_artifact(art, ctx.path("translation-grid"))
    return ctx.write("translation-grid", {"files": [written["grid"], written["tensor"]],
                                          "directions": art.info["directions"], "columns": art.info["columns"],
                                          "rows_per_direction": n})


def _galleries(run_dir: Path) -> list[tuple[str, Path]]:
    """The trainer's translation galleries with their tensors (step-NNNNNNN every ``sample_every`` steps, epoch-NNNN
    at epoch ends, final), in the order training wrote them."""
    folder = run_dir / "samples"
    found = [p for pattern in ("step-*.safetensors", "epoch-*.safetensors", "final.safetensors")
             for p in folder.glob(pattern)]
    return [(p.stem, p) for p in sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))]


def translation_progress(ctx: Context, n: int) -> dict[str, Any]:
    """Rows: the galleries of training, oldest first; columns: the first ``n`` gallery images of each direction,
    translated (the originals in the first row)."""
    _need_translator(ctx)
    galleries = _galleries(ctx.run_dir)
    if not galleries:
        raise NotApplicable("the run has no translation galleries yet (the trainer writes samples/epoch-NNNN and "
                            "samples/final with their .safetensors at each epoch end and at the end)")
    directions = list(ctx.model.directions)
    stages, labels = [], []
    originals = None
    for name, path in galleries:
        images = load_file(str(path))["images"]
        columns = _columns(ctx, images, directions)
        rows = images.view(-1, columns, *images.shape[1:])
        per_direction = len(rows) // len(directions)
        k = min(n, per_direction)
        pick = torch.cat([torch.arange(d * per_direction, d * per_direction + k) for d in range(len(directions))])
        if originals is None:
            originals = rows[pick, 0]
        stages.append(rows[pick, 1])
        labels.append(name)
    grid = torch.stack([originals, *stages]).flatten(0, 1)
    k = len(originals) // len(directions)
    col_labels = [f"{d[0]}→{d[1]} {i + 1}" for d in directions for i in range(k)]
    png = save_grid(grid, ctx.path("translation-progress"), nrow=len(originals), scale=ctx.scale,
                    row_labels=["original", *labels], col_labels=col_labels,
                    title=f"{ctx.cfg.recipe}: the same held-out images translated at each stage of training")
    return ctx.write("translation-progress", {"files": [png], "stages": labels, "images_per_direction": k})


def _columns(ctx: Context, images: torch.Tensor, directions: list[str]) -> int:
    """How many columns a gallery has: the model's views plus the original and, for paired data, the counterpart."""
    x = torch.zeros(1, *ctx.model.sample_item_shape, device=ctx.model.device)
    views = len(ctx.model.translation_views(x, direction=directions[0]))
    paired = bool(getattr(ctx.data(), "paired", False))
    columns = 1 + views + int(paired)
    if len(images) % columns:
        raise NotApplicable(f"the galleries hold {len(images)} images, not rows of {columns}; were they written "
                            f"by another version of genzoo? retrain, or delete samples/*.safetensors")
    return columns


def _mean_colour(images: torch.Tensor) -> torch.Tensor:
    return images.float().mean((2, 3))


@torch.no_grad()
def colour_shift(ctx: Context, n: int) -> dict[str, Any]:
    """Mean colours of ``n`` held-out sources, their translations and their true targets, per direction."""
    _need_translator(ctx)
    from ..metrics.translation_eval import translate_all

    model, data = ctx.model, ctx.data()
    model.eval()
    domains = {"A": data.a.images, "B": data.b.images}
    result: dict[str, Any] = {"paired": bool(data.paired)}
    for direction in model.directions:
        source = domains[direction[0]]
        index = item_index(len(source), n, spread=True)
        src = T.scale(source[index], "01")
        fake = translate_all(model, source[index], direction)["translated"]
        r = {"images": len(index), "source_rgb": _mean_colour(src).mean(0).tolist(),
             "translated_rgb": _mean_colour(fake).mean(0).tolist(),
             "shift_from_source": (_mean_colour(fake) - _mean_colour(src)).abs().mean().item()}
        if data.paired:
            tgt = T.scale(domains[direction[1]][index], "01")
            r["target_rgb"] = _mean_colour(tgt).mean(0).tolist()
            r["shift_from_target"] = (_mean_colour(fake) - _mean_colour(tgt)).abs().mean().item()
            r["source_to_target"] = (_mean_colour(src) - _mean_colour(tgt)).abs().mean().item()
        result[direction] = r
    return ctx.write("colour-shift", {"files": [], **result,
                                      "metric": "mean over images of |mean colour (per channel, [0, 1]) of the "
                                                "translation − that of the source / true target|"})
