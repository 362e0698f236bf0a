"""Neural style transfer on one thread (issue 18): L-BFGS time per evaluation, per iteration and per image at 256 px
(Gatys et al. / Foster ch. 5), the feed-forward network's images/s at batch 1 and 8 (Johnson et al. 2016), and the
peak memory of each — every measurement in its own process, so each peak RSS is its own.

    python benchmarks/style_transfer.py --size 256 --iterations 2 --out bench-results/style_transfer.json
    python benchmarks/style_transfer.py --part lbfgs --size 128        # one part

* ``lbfgs``: astronaut in the style of starry_night, VGG19 (random weights: the cost is the architecture's, the same
  with ImageNet weights), ``--iterations`` L-BFGS calls of 20 evaluations; seconds per image are given for the
  command's default 10 iterations and extrapolated to the book's 1000.
* ``feedforward``: the style-net recipe's network (1.67 M parameters) on 256-px images under inference mode,
  after a warm-up; untrained weights cost the same as trained ones.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_lbfgs(size: int, iterations: int) -> dict:
    from genzoo.style_transfer.command import DEFAULT_WEIGHTS
    from genzoo.style_transfer.features import build_features
    from genzoo.style_transfer.gatys import stylise_lbfgs
    from genzoo.style_transfer.images import load_pair
    from genzoo.style_transfer.losses import LossWeights, PerceptualLoss

    content, style, meta = load_pair("astronaut", "starry_night", size)
    f = build_features("vgg19-random")
    loss = PerceptualLoss(f, style, LossWeights(*DEFAULT_WEIGHTS[f.name]), f.content_layer, f.style_layers)
    res = stylise_lbfgs(loss, content, iterations)
    per_eval = res.seconds / res.evaluations
    per_it = res.seconds / iterations
    return {"part": "lbfgs", "image": meta["size"], "iterations": iterations, "evaluations": res.evaluations,
            "seconds": round(res.seconds, 2), "seconds_per_evaluation": round(per_eval, 3),
            "seconds_per_iteration": round(per_it, 2), "seconds_per_image_10_iterations": round(10 * per_it, 1),
            "seconds_per_image_1000_iterations_extrapolated": round(1000 * per_it), "peak_rss_mb": round(peak_mb())}


def bench_feedforward(size: int, batches: list[int], repeats: int = 5) -> dict:
    import torch

    from genzoo.config import load_recipe
    from genzoo.models import build_model

    model = build_model(load_recipe("style-net-starry-night")["model"]).eval()
    params = sum(p.numel() for p in model.parameters())
    out = {"part": "feedforward", "size": size, "parameters": params}
    for b in batches:
        x = torch.rand(b, 3, size, size)
        with torch.inference_mode():
            model(x)                                   # warm-up
            start = time.perf_counter()
            for _ in range(repeats):
                model(x)
            seconds = (time.perf_counter() - start) / repeats
        out[f"batch_{b}"] = {"seconds_per_batch": round(seconds, 3), "images_per_s": round(b / seconds, 2)}
    out["peak_rss_mb"] = round(peak_mb())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["all", "lbfgs", "feedforward"], default="all")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.part == "all":
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        results = []
        for part in ("lbfgs", "feedforward"):
            cmd = [sys.executable, __file__, "--part", part, "--size", str(args.size), "--iterations",
                   str(args.iterations), "--batches", args.batches]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        text = json.dumps({"threads": 1, "results": results}, indent=2)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text)
        print(text)
        return
    import torch

    torch.set_num_threads(1)
    r = (bench_lbfgs(args.size, args.iterations) if args.part == "lbfgs"
         else bench_feedforward(args.size, [int(b) for b in args.batches.split(",")]))
    print(json.dumps(r))


if __name__ == "__main__":
    main()
