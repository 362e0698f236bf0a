"""Which feature network gives recognisable style transfer without ImageNet weights? (issue 18)

Runs the same content/style pair through each candidate with the same L-BFGS budget, writes a side-by-side figure
(docs/figures/style-transfer-features.png) and a JSON of the losses measured on one common yardstick: a random
VGG19 (average pooling) of a seed no candidate used (12345). On it, for each result:

* ``style_ratio`` = style loss(result, style) / style loss(content image, style): 1 = no closer to the style than
  the untouched photo, 0 = the style's Gram matrices exactly (block1..5_conv1, the book's normalisation);
* ``content_ratio`` = content loss(result, content) / content loss(style image, content) on block4_conv2: 0 = the
  photo's features exactly, 1 = as far from them as the painting itself.

Usage: python scripts/style_feature_experiment.py [--size 128] [--iterations 8] [--out docs/figures]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from genzoo.analysis.grid import save_grid
from genzoo.style_transfer.command import DEFAULT_WEIGHTS
from genzoo.style_transfer.features import BOOK_STYLE_LAYERS, build_features
from genzoo.style_transfer.gatys import stylise_lbfgs
from genzoo.style_transfer.images import load_pair
from genzoo.style_transfer.losses import LossWeights, PerceptualLoss

CANDIDATES = [  # (label, feature net, content layer or None for its default)
    ("random VGG19\navg pool", "vgg19-random", None),
    ("random VGG19\nmax pool", "vgg19-random-max", None),
    ("random VGG19 avg\ncontent b4c2", "vgg19-random", "block4_conv2"),
    ("emoji BookCNN\n(trained here)", "bookcnn-emoji", None),
]
YARDSTICK_SEED = 12345


def yardstick(content: torch.Tensor, style: torch.Tensor):
    f = build_features("vgg19-random", seed=YARDSTICK_SEED)
    loss = PerceptualLoss(f, style, LossWeights(1, 1, 0), "block4_conv2", BOOK_STYLE_LAYERS)
    target = loss.content_targets(content)

    def measure(x: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            t = loss.terms(x.clamp(0, 1), target)
        return {"content": float(t["content"]), "style": float(t["style"])}
    base_style = measure(content)["style"]
    base_content = measure(style)["content"]

    def ratios(x: torch.Tensor) -> dict[str, float]:
        m = measure(x)
        return {"style_ratio": m["style"] / base_style, "content_ratio": m["content"] / base_content}
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--content", default="astronaut")
    ap.add_argument("--style", default="starry_night")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    content, style, _ = load_pair(args.content, args.style, args.size)
    ratios = yardstick(content, style)
    images, labels, rows = [content, style], ["content", "style"], []
    for label, name, layer in CANDIDATES:
        f = build_features(name, seed=0)
        cw, sw, tw = DEFAULT_WEIGHTS[name]
        loss = PerceptualLoss(f, style, LossWeights(cw, sw, tw), layer or f.content_layer, f.style_layers)
        start = time.perf_counter()
        res = stylise_lbfgs(loss, content, args.iterations)
        seconds = time.perf_counter() - start
        row = {"candidate": label.replace("\n", " "), "features": name, "content_layer": loss.content_layer,
               "weights": [cw, sw, tw], "seconds": round(seconds, 1), **ratios(res.image)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        images.append(res.image.clamp(0, 1))
        labels.append(label)
    rows.append({"candidate": "untouched content image", **ratios(content)})
    args.out.mkdir(parents=True, exist_ok=True)
    fig = save_grid(torch.cat(images), args.out / "style-transfer-features.png", nrow=len(images), col_labels=labels,
                    title=f"{args.content} in the style of {args.style}, {args.size} px, {args.iterations}×20 "
                          f"L-BFGS evaluations, no ImageNet weights")
    summary = {"content": args.content, "style": args.style, "size": args.size, "iterations": args.iterations,
               "yardstick": f"random VGG19, avg pool, seed {YARDSTICK_SEED}: style block1..5_conv1 (book norm), "
                            f"content block4_conv2", "results": rows, "figure": str(fig)}
    (args.out / "style-transfer-features.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
