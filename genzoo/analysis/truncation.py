"""The truncation trick's figures, for any model that declares :class:`~genzoo.models.capabilities.Truncates`.

* ``truncation``: the same draws (rows) at each truncation value (columns) — StyleGAN's ψ from 1 towards 0, where
  every row converges to the image of the mean latent w̄ (Karras et al. 2019, Fig. 8), or BigGAN's thresholds
  (Brock et al. 2019, Fig. 2; Foster 1st ed. ch. 9: 2, 1, 0.5, 0.04).
* ``truncation-curve``: the fidelity/diversity trade-off as the truncation tightens: FID, precision and recall
  (Kynkäänniemi et al. 2019) of ``-n`` samples per value against the held-out split, on genzoo's feature network
  for the dataset (Brock et al. 2019, Fig. 4 plots FID against IS instead; recall is our measure of diversity).
"""
from __future__ import annotations

from typing import Any

import torch

from ..models.capabilities import Truncates, why_not
from .grid import save_grid
from .run import Context, NotApplicable


def _need_truncation(ctx: Context) -> tuple[float, ...]:
    reason = why_not(ctx.model, Truncates)
    if reason:
        raise NotApplicable(reason)
    return tuple(ctx.model.truncation_values)


def _symbol(model) -> str:
    return "ψ" if model.truncation_kind == "psi" else "threshold"


@torch.no_grad()
def truncation_grid(ctx: Context, n: int) -> dict[str, Any]:
    """``n`` rows of the same latent draws, one column per truncation value (the model's ``truncation_values``)."""
    values = _need_truncation(ctx)
    model = ctx.model
    condition = model.default_condition(n, model.device)
    columns = [model.sample(n, generator=ctx.generator(40), condition=condition, truncation=v).float().cpu()
               for v in values]
    images = torch.stack(columns, 1).flatten(0, 1)           # row-major: draw i at every value
    symbol = _symbol(model)
    png = save_grid(images, ctx.path("truncation"), nrow=len(values), scale=ctx.scale,
                    col_labels=[f"{symbol} {v:g}" for v in values],
                    title=f"{ctx.cfg.recipe}: the same {n} draws at each truncation {symbol}")
    spread = [c.flatten(1).std(0).mean().item() for c in columns]
    return ctx.write("truncation", {"files": [png], "kind": model.truncation_kind, "values": list(values),
                                    "rows": n, "pixel_std_across_draws": spread,
                                    "layout": f"rows: draws; columns: {symbol} = {', '.join(f'{v:g}' for v in values)}"})


def truncation_curve(ctx: Context, n: int) -> dict[str, Any]:
    """FID, precision and recall of ``n`` samples at each truncation value, drawn as curves against the value."""
    values = _need_truncation(ctx)
    from ..metrics.evaluate import EvalContext
    from ..metrics.sample_quality import fid, precision_recall
    from .plots import truncation_plot

    if n < 10:
        raise NotApplicable("truncation-curve needs -n of at least 10 samples per value")
    rows = []
    with torch.inference_mode(False):   # the feature net may have to be trained first
        ev = EvalContext(ctx.run_dir, ctx.split, n, ctx.seed, None, "genzoo", 5, lambda m: None, progress=False)
        if ev.data.labels is None:
            raise NotApplicable(f"dataset {ctx.cfg.data.name!r} has no labels to train genzoo's feature network "
                                f"on, so the curve has no FID")
        real = ev.real_features()[0]
        for v in values:
            ev.set_sample_options({"truncation": v})
            fake = ev.fake_features()[0]
            p, r = precision_recall(real, fake, k=3)
            rows.append({"truncation": v, "fid": fid(real, fake), "precision": p, "recall": r})
        label = ev.net.meta["label"]
    symbol = _symbol(ctx.model)
    png = truncation_plot(rows, ctx.path("truncation-curve"), symbol,
                          f"{ctx.cfg.recipe}: fidelity against diversity as the truncation tightens ({n} samples per "
                          f"value, {label})")
    return ctx.write("truncation-curve", {"files": [png], "kind": ctx.model.truncation_kind, "samples_per_value": n,
                                          "features": label, "split": ctx.split, "points": rows})
