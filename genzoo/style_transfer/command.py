"""What ``genzoo style-transfer`` does: read the images, build the feature network, optimise (or apply a trained
feed-forward network), and write the image, the snapshots, a progress strip and a JSON of what was used."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..config import ConfigError
from .features import StyleFeatures, build_features
from .gatys import stylise_lbfgs
from .images import load_pair, read_image, fit_long_side, save_image, to_tensor
from .losses import STYLE_NORMS, LossWeights, PerceptualLoss

# The book's weights (Fig. 5.18) suit ImageNet VGG19. A random network's content features are weaker and its
# smooth images need less TV; these are the weights the feature experiment (docs/style-transfer.md) settled on, at
# 128×128 px. With the book's normalisation the style loss does not grow with the image while the content and TV
# sums grow with its pixels, so for these networks the default content and TV weights are scaled by 128² / (H·W):
# the balance found at 128 px holds at any size. (The book's own 1/100/20 are used as printed.)
CALIBRATED_PIXELS = 128 * 128
DEFAULT_WEIGHTS = {"vgg19-imagenet": (1.0, 100.0, 20.0), "vgg19-random": (15.0, 100.0, 0.1),
                   "vgg19-random-max": (30.0, 90.0, 0.1), "bookcnn-emoji": (5e4, 3e10, 0.1)}


@dataclass
class TransferOptions:
    content: str
    style: str
    out: Path
    features: str = "auto"
    vgg: str | None = None
    size: int = 256
    iterations: int = 10
    max_eval: int = 20
    snapshots: tuple[int, ...] = ()
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    content_layer: str | None = None
    style_layers: tuple[str, ...] | None = None
    style_layer_weights: tuple[float, ...] | None = None
    style_norm: str = "book"
    init: str = "content"
    seed: int = 0

    def check(self) -> None:
        if self.iterations < 1 or self.max_eval < 1:
            raise ConfigError("--iterations and --max-eval must be >= 1")
        if self.size < 16:
            raise ConfigError(f"--size {self.size} is too small for VGG's four poolings; use --size >= 16")
        bad = [s for s in self.snapshots if not 1 <= s <= self.iterations]
        if bad:
            raise ConfigError(f"--snapshots {bad} lie outside 1..{self.iterations} (--iterations)")
        if self.style_norm not in STYLE_NORMS:
            raise ConfigError(f"--style-norm must be one of {', '.join(STYLE_NORMS)}, got {self.style_norm!r}")
        if self.init not in ("content", "noise"):
            raise ConfigError(f"--init must be content or noise, got {self.init!r}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {v}")


def loss_for(features: StyleFeatures, style, o: TransferOptions) -> PerceptualLoss:
    """The perceptual loss of these options on this network (layers checked against the network's names)."""
    content_layer = o.content_layer or features.content_layer
    style_layers = tuple(o.style_layers) if o.style_layers else features.style_layers
    features.check_layers([content_layer], "--content-layer")
    features.check_layers(style_layers, "--style-layers")
    if o.style_layer_weights is not None and len(o.style_layer_weights) != len(style_layers):
        raise ConfigError(f"--style-layer-weights has {len(o.style_layer_weights)} values for {len(style_layers)} "
                          f"style layers ({', '.join(style_layers)})")
    cw, sw, tw = DEFAULT_WEIGHTS[features.name]
    if features.name != "vgg19-imagenet":
        scale = CALIBRATED_PIXELS / (style.shape[2] * style.shape[3])
        cw, tw = cw * scale, tw * scale
    weights = LossWeights(cw if o.content_weight is None else o.content_weight,
                          sw if o.style_weight is None else o.style_weight,
                          tw if o.tv_weight is None else o.tv_weight, o.style_layer_weights)
    return PerceptualLoss(features, style, weights, content_layer, style_layers, o.style_norm)


def _stem(source: str) -> str:
    return Path(source).stem


def run_transfer(o: TransferOptions, log=print) -> dict:
    """Gatys et al.'s optimisation of one image; writes ``o.out``, its snapshots and ``o.out`` + ``.json``."""
    o.check()
    content, style, meta = load_pair(o.content, o.style, o.size)
    features = build_features(o.features, o.vgg, o.seed)
    loss = loss_for(features, style, o)
    log(f"features: {features.description}")
    res = stylise_lbfgs(loss, content, o.iterations, max_eval=o.max_eval, snapshots=o.snapshots, init=o.init,
                        seed=o.seed, on_iteration=lambda i, h: log(
                            f"iteration {i}/{o.iterations}: loss {h['loss']:.4g} (content {h['content']:.4g}, "
                            f"style {h['style']:.4g}, tv {h['tv']:.4g})"))
    save_image(res.image, o.out)
    files = {"image": str(o.out)}
    for it, snap in res.snapshots.items():
        files[f"iteration {it}"] = str(save_image(snap, o.out.with_name(f"{o.out.stem}-iter{it}.png")))
    if res.snapshots:
        from ..analysis.grid import save_grid

        row = [content, style, *res.snapshots.values(), res.image]
        labels = ["content", "style", *(f"iteration {i}" for i in res.snapshots), f"iteration {o.iterations}"]
        files["progress"] = str(save_grid(torch.cat(row).clamp(0, 1), o.out.with_name(f"{o.out.stem}-progress.png"),
                                          nrow=len(row), col_labels=labels,
                                          title=f"style transfer with {features.name}"))
    w = loss.weights
    record = {"method": "gatys (L-BFGS on the pixels)", "features": features.name,
              "features_description": features.description, "features_info": features.info, **meta,
              "content_layer": loss.content_layer, "style_layers": list(loss.style_layers),
              "style_layer_weights": list(loss.factors), "style_norm": o.style_norm,
              "weights": {"content": w.content, "style": w.style, "tv": w.tv}, "iterations": o.iterations,
              "max_eval": o.max_eval, "evaluations": res.evaluations, "seconds": round(res.seconds, 2),
              "seconds_per_iteration": round(res.seconds / o.iterations, 3), "init": o.init, "seed": o.seed,
              "final": res.history[-1], "history": res.history, "files": files}
    json_path = o.out.with_suffix(".json")
    json_path.write_text(json.dumps(record, indent=2))
    return {"image": str(o.out), "json": str(json_path), "features": features.name,
            "features_description": features.description, "seconds": record["seconds"], "final": record["final"],
            "files": files}


def run_feedforward(run_dir: Path, content: str, out: Path, size: int, log=print) -> dict:
    """Stylise ``content`` in one pass with a trained ``style-net`` run."""
    from ..models.capabilities import Stylises, supports, why_not
    from ..run_context import RunContext

    ctx = RunContext(run_dir)
    model = ctx.model
    if not supports(model, Stylises):
        raise ConfigError(f"--model {run_dir} is a {model.family} run, which cannot stylise images "
                          f"({why_not(model, Stylises) or 'train a style-net recipe, e.g. style-net-starry-night'})")
    log(f"features the network was trained with: {model.features.description}")
    img, src = read_image(content)
    x = to_tensor(fit_long_side(img, size)).to(model.device)
    start = time.perf_counter()
    y = model.stylise(x)
    seconds = time.perf_counter() - start
    save_image(y, out)
    record = {"method": "feed-forward (Johnson et al. 2016)", "run": str(run_dir), "content": src,
              "size": list(x.shape[2:]), "features": model.features_name,
              "features_description": model.features.description, "seconds": round(seconds, 3)}
    json_path = out.with_suffix(".json")
    json_path.write_text(json.dumps(record, indent=2))
    return {"image": str(out), "json": str(json_path), **{k: record[k] for k in ("features", "seconds")}}


def options_dict(o: TransferOptions) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(o).items()}


__all__ = ["DEFAULT_WEIGHTS", "TransferOptions", "loss_for", "run_feedforward", "run_transfer"]
