"""Which feature network gives recognisable style transfer without ImageNet weights? (issue 18)

Runs the same content/style pair through each candidate with the same L-BFGS budget, writes a side-by-side figure
(docs/figures/style-transfer-features.png) and a JSON of the losses measured on one common yardstick: a random
VGG19 (average pooling) of a seed no candidate used (12345). On it, for each result:

* ``style_ratio`` = style loss(result, style) / style loss(content image, style): 1 = no closer to the style than
  the untouched photo, 0 = the style's Gram matrices exactly (block1..5_conv1, the book's normalisation);
* ``content_ratio`` = content loss(result, content) / content loss(style image, content) on block4_conv2: 0 = the
  photo's features exactly, 1 = as far from them as the painting itself.

Loss weights: the book's Fig. 5.18 values suit ImageNet VGG19, whose feature scale none of these nets shares. Each
candidate gets the weights that give it the same balance as the full-width random VGG19 at 100/100/0.1 (the
command's default): w_style = 100 · S_ref / S and w_content = 100 · C_ref / C, with S the style loss of the content
image and C the content loss of the style image on that candidate — so no candidate wins by its scale alone.

Candidates: random VGG19 (three draws, avg pooling; max pooling; content on block4_conv2), genzoo's shipped emoji
BookCNN (4 convs, trained here), and a quarter-width VGG19 trained here for ``--train-minutes`` CPU-minutes on the
emoji's 10 Unicode groups at 32 px next to the same quarter-width VGG19 with random weights (training vs width).

Usage: python scripts/style_feature_experiment.py [--size 128] [--iterations 8] [--train-minutes 3] [--out docs/figures]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from torch import nn

from genzoo.analysis.grid import save_grid
from genzoo.style_transfer.features import BOOK_STYLE_LAYERS, StyleFeatures, build_features, random_vgg19
from genzoo.style_transfer.gatys import stylise_lbfgs
from genzoo.style_transfer.images import load_pair
from genzoo.style_transfer.losses import LossWeights, PerceptualLoss

YARDSTICK_SEED = 12345


def quarter_vgg(net: nn.Module, name: str, description: str) -> StyleFeatures:
    from genzoo.nn.vgg import LAYER_NAMES
    from genzoo.style_transfer.features import BOOK_CONTENT_LAYER
    from genzoo.style_transfer.weights import preprocess_caffe

    return StyleFeatures(name, description, net, preprocess_caffe, LAYER_NAMES, BOOK_CONTENT_LAYER, BOOK_STYLE_LAYERS)


def train_quarter_vgg(minutes: float, seed: int = 0) -> tuple[StyleFeatures, dict]:
    """VGG19 at 1/4 width (16–128 filters, max pooling) + global average pool + a linear layer, trained with Adam on
    the emoji's 10 Unicode groups at 32 px (Caffe-style input) for ``minutes`` of CPU time."""
    from genzoo.config import DataConfig
    from genzoo.data import load_images
    from genzoo.style_transfer.weights import preprocess_caffe

    train = load_images(DataConfig(name="emoji"), (3, 32, 32), split="train")
    test = load_images(DataConfig(name="emoji"), (3, 32, 32), split="test")
    net = random_vgg19(seed, "max", 0.25).requires_grad_(True).train()
    head = nn.Linear(net.channels("block5_conv4"), int(train.labels.max()) + 1)
    opt = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=3e-4)
    g = torch.Generator().manual_seed(seed)

    def logits(x01: torch.Tensor) -> torch.Tensor:
        return head(net(preprocess_caffe(x01), ["block5_conv4"])["block5_conv4"].mean((2, 3)))

    start, steps = time.process_time(), 0
    while time.process_time() - start < 60 * minutes:
        idx = torch.randint(0, len(train), (64,), generator=g)
        loss = nn.functional.cross_entropy(logits(train.images[idx].float() / 255), train.labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    with torch.no_grad():
        pred = torch.cat([logits(test.images[i:i + 256].float() / 255).argmax(1) for i in range(0, len(test), 256)])
    acc = float((pred == test.labels).float().mean())
    majority = float((test.labels == test.labels.mode().values).float().mean())
    info = {"steps": steps, "batch": 64, "cpu_minutes": minutes, "test_accuracy": round(acc, 3),
            "majority_class_accuracy": round(majority, 3)}
    net.requires_grad_(False).eval()
    return quarter_vgg(net, "vgg19-quarter-emoji", f"1/4-width VGG19 trained on emoji groups ({info})"), info


def balance(f: StyleFeatures, content: torch.Tensor, style: torch.Tensor, layer: str) -> tuple[float, float]:
    """(content, style) losses of the other image on ``f``: how big each term is on this network."""
    loss = PerceptualLoss(f, style, LossWeights(1, 1, 0), layer, f.style_layers)
    with torch.no_grad():
        s = float(loss.terms(content, loss.content_targets(content))["style"])
        c = float(loss.terms(style, loss.content_targets(content))["content"])
    return c, s


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
    ap.add_argument("--train-minutes", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    content, style, _ = load_pair(args.content, args.style, args.size)
    ratios = yardstick(content, style)
    trained, train_info = train_quarter_vgg(args.train_minutes)
    print(json.dumps({"trained quarter-width VGG19": train_info}), flush=True)
    candidates = [  # (label, features, content layer)
        ("random VGG19\navg, seed 0", build_features("vgg19-random", seed=0), "block5_conv2"),
        ("random VGG19\navg, seed 1", build_features("vgg19-random", seed=1), "block5_conv2"),
        ("random VGG19\navg, seed 2", build_features("vgg19-random", seed=2), "block5_conv2"),
        ("random VGG19\nmax pool", build_features("vgg19-random-max", seed=0), "block5_conv2"),
        ("random VGG19 avg\ncontent b4c2", build_features("vgg19-random", seed=0), "block4_conv2"),
        ("emoji BookCNN\n(shipped, trained)", build_features("bookcnn-emoji"), "conv4"),
        ("1/4 VGG19\nrandom", quarter_vgg(random_vgg19(0, "max", 0.25), "vgg19-quarter-random", "random"),
         "block5_conv2"),
        ("1/4 VGG19\ntrained on emoji", trained, "block5_conv2"),
    ]
    ref_c, ref_s = balance(candidates[0][1], content, style, "block5_conv2")
    images, labels, rows = [content, style], ["content", "style"], []
    for label, f, layer in candidates:
        c, s_ = balance(f, content, style, layer)
        cw, sw, tw = 100 * ref_c / c, 100 * ref_s / s_, 0.1
        loss = PerceptualLoss(f, style, LossWeights(cw, sw, tw), layer, f.style_layers)
        start = time.perf_counter()
        res = stylise_lbfgs(loss, content, args.iterations)
        seconds = time.perf_counter() - start
        row = {"candidate": label.replace("\n", " "), "features": f.name, "content_layer": layer,
               "weights": [float(f"{cw:.4g}"), float(f"{sw:.4g}"), tw], "seconds": round(seconds, 1),
               **ratios(res.image)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        images.append(res.image.clamp(0, 1))
        labels.append(label)
    rows.append({"candidate": "untouched content image", **ratios(content)})
    args.out.mkdir(parents=True, exist_ok=True)
    fig = save_grid(torch.cat(images), args.out / "style-transfer-features.png", nrow=len(images), col_labels=labels,
                    title=f"{args.content} in the style of {args.style}, {args.size} px, {args.iterations}×20 "
                          f"L-BFGS evaluations, no ImageNet weights")
    if fig.stat().st_size > 290_000:        # a small PNG for the docs: 256-colour palette, metadata kept
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo

        with Image.open(fig) as im:
            info = PngInfo()
            for k, v in im.info.items():
                if isinstance(v, str):
                    info.add_text(k, v)
            im.convert("RGB").quantize(256).save(fig, pnginfo=info, optimize=True)
    summary = {"content": args.content, "style": args.style, "size": args.size, "iterations": args.iterations,
               "yardstick": f"random VGG19, avg pool, seed {YARDSTICK_SEED}: style block1..5_conv1 (book norm), "
                            f"content block4_conv2", "trained_quarter_vgg19": train_info, "results": rows,
               "figure": str(fig)}
    (args.out / "style-transfer-features.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
