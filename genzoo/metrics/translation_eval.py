"""Scores of image-to-image translation against the true counterparts (``genzoo eval``'s ``translation`` metric).

For each direction the model learned, every held-out image of the source domain is translated (the model in eval
mode) and compared with the other domain:

* paired data (emoji-styles, font pairs, a pix2pix folder): per-image L1 (mean absolute difference of [0, 1]
  pixels) and SSIM (11×11 Gaussian window, σ 1.5) of each translation against its true counterpart, averaged;
* FID of the translations against the true target images, on the features of genzoo's classifier of the data the
  pair set names (``meta["feature_data"]``: the emoji group classifier for emoji-styles), or of Inception with
  ``--features inception``;
* beside each score the same score of the *untranslated* source images (the "do nothing" baseline: how far apart
  the domains are to begin with), and for FID the floor of real against real (as many training targets, evenly
  spaced over the training split, against the held-out ones: what a perfect translator would get at this size);
* a cycle-consistent model also reports the L1 of its reconstructions (translated there and back).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..config import DataConfig
from ..data import transforms as T
from ..run_context import item_index


def _chunks(n: int, size: int = 64):
    for s in range(0, n, size):
        yield torch.arange(s, min(s + size, n))


def _unit(images: Tensor) -> Tensor:
    return T.scale(images, "01")


def _l1(x: Tensor, y: Tensor) -> Tensor:
    return (x - y).abs().flatten(1).mean(1)


def _ssim(x: Tensor, y: Tensor) -> Tensor:
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    return torch.cat([ssim(x[i], y[i], data_range=1.0, reduction="none") for i in _chunks(len(x), 256)])


@torch.no_grad()
def translate_all(model: Any, images: Tensor, direction: str) -> dict[str, Tensor]:
    """Every image of ``images`` (uint8) through ``model.translation_views``: the views in [0, 1], on the CPU."""
    out: dict[str, list[Tensor]] = {}
    for index in _chunks(len(images)):
        x = T.scale(images[index], model.data_range).to(model.device)
        for name, view in model.translation_views(x, direction=direction).items():
            out.setdefault(name, []).append(view.float().cpu().clamp(0, 1))
    return {k: torch.cat(v) for k, v in out.items()}


def feature_net(ctx: Any, data: Any):
    """The network FID is computed on, or None (with the reason) when there is none for this data."""
    if ctx.features_kind == "inception":
        from .inception import InceptionFeatures

        return InceptionFeatures(), None
    named = (data.meta or {}).get("feature_data")
    if not named:
        return None, (f"dataset {ctx.cfg.data.name!r} names no labelled dataset to train genzoo's feature network on; "
                      f"FID needs --features inception with the weights file")
    from .features import get_feature_net

    cfg = DataConfig(**{k: v for k, v in named.items() if k in DataConfig.__dataclass_fields__})
    return get_feature_net(cfg, ctx.shape, epochs=ctx.feature_epochs, log=ctx.log), None


def translation_scores(ctx: Any) -> dict[str, Any]:
    from .sample_quality import fid

    model, data = ctx.model, ctx.data
    model.eval()
    net, no_fid = feature_net(ctx, data)
    train = ctx.run.data(ctx.cfg.data.split) if net is not None else None
    domains = {"A": data.a.images, "B": data.b.images}
    results: dict[str, Any] = {"paired": bool(data.paired), "held_out_pairs" if data.paired else "held_out_items":
                               {k: len(v) for k, v in domains.items()}}
    if net is not None:
        results["features"] = {"name": net.meta["label"] if hasattr(net, "meta") else "Inception-v3 pool3",
                               "num_features": net.num_features}
    elif no_fid:
        results["fid_skipped"] = no_fid
    for direction in model.directions:
        source, target = _unit(domains[direction[0]]), _unit(domains[direction[1]])
        views = translate_all(model, domains[direction[0]], direction)
        fake = views["translated"]
        r: dict[str, Any] = {"images": len(fake)}
        if data.paired:
            r["l1"] = _l1(fake, target).mean().item()
            r["ssim"] = _ssim(fake, target).mean().item()
            r["untranslated_l1"] = _l1(source, target).mean().item()
            r["untranslated_ssim"] = _ssim(source, target).mean().item()
        if "reconstructed" in views:
            r["cycle_l1"] = _l1(views["reconstructed"], source).mean().item()
        if "identity" in views:   # the other generator applied to its own domain: how much it leaves alone
            r["identity_l1"] = _l1(views["identity"], source).mean().item()
        if net is not None:
            real = net(target)[0]
            r["fid"] = fid(real, net(fake)[0])
            r["untranslated_fid"] = fid(real, net(source)[0])
            train_target = train.b if direction[1] == "B" else train.a
            floor = _unit(train_target.images[item_index(len(train_target), len(target), spread=True)])
            r["real_vs_real_fid"] = fid(real, net(floor)[0])
        results[direction] = r
    return results


def headline(r: dict[str, Any]) -> str:
    parts = []
    for d in ("AB", "BA"):
        if d not in r:
            continue
        x = r[d]
        bits = []
        if "l1" in x:
            bits.append(f"L1 {x['l1']:.4f} (untranslated {x['untranslated_l1']:.4f}), SSIM {x['ssim']:.3f} "
                        f"({x['untranslated_ssim']:.3f})")
        if "fid" in x:
            bits.append(f"FID {x['fid']:.2f} (untranslated {x['untranslated_fid']:.2f}, real {x['real_vs_real_fid']:.2f})")
        parts.append(f"{d[0]}→{d[1]}: " + ", ".join(bits or ["translated"]))
    return "; ".join(parts)
