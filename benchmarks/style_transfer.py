"""Neural style transfer on one thread (issue 18): L-BFGS time per evaluation, per iteration and per image at 256 px
(Gatys et al. / Foster ch. 5), the feed-forward network's images/s at batch 1 and 8 (Johnson et al. 2016), and the
peak memory of each — every measurement in its own process, so each peak RSS is its own.

    python benchmarks/style_transfer.py --size 256 --iterations 2 --out bench-results/style_transfer.json
    python benchmarks/style_transfer.py --part lbfgs --size 128        # one part
    python benchmarks/style_transfer.py --part compare --run runs/style-net --size 128 --iterations 10

* ``lbfgs``: astronaut in the style of starry_night, VGG19 (random weights: the cost is the architecture's, the same
  with ImageNet weights), ``--iterations`` L-BFGS calls of 20 evaluations; seconds per image are given for the
  command's default 10 iterations and extrapolated to the book's 1000.
* ``feedforward``: the style-net recipe's network (1.67 M parameters) on 256-px images under inference mode,
  after a warm-up; untrained weights cost the same as trained ones.
* ``compare`` (with ``--run`` of a trained style-net): on each held-out photo of the ``photos`` test split
  (scikit-image's astronaut, chelsea, coffee, rocket; centre crops at the run's input size), the feed-forward network's one pass against L-BFGS with
  ``--iterations`` × 20 evaluations: seconds per image, and the content and style losses (unweighted, the run's own
  perceptual loss — the objective both minimise — and the weighted total). The untouched photo is the baseline.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))   # bench.matmul_gflops


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
    # FLOPs of one evaluation (forward to the deepest layer used + backward to the pixels), counted by PyTorch's
    # formulas, against the fp32 matmul rate measured in the same process (benchmarks/bench.py).
    from torch.utils.flop_counter import FlopCounterMode

    from bench import matmul_gflops

    x = content.clone().requires_grad_(True)
    target = loss.content_targets(content)
    with FlopCounterMode(display=False) as counter:
        loss.terms(x, target)["loss"].backward()
    gflop = counter.get_total_flops() / 1e9
    ceiling = matmul_gflops("float32")
    return {"part": "lbfgs", "image": meta["size"], "iterations": iterations, "evaluations": res.evaluations,
            "gflop_per_evaluation": round(gflop, 1), "achieved_gflops": round(gflop / per_eval, 1),
            "matmul_fp32_gflops": round(ceiling, 1), "fraction_of_fp32_matmul": round(gflop / per_eval / ceiling, 3),
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


def bench_compare(run: Path, size: int, iterations: int, figure: Path | None = None) -> dict:
    import torch

    from genzoo.data.photos import photos
    from genzoo.data.registry import DataRequest
    from genzoo.run_context import RunContext
    from genzoo.style_transfer.gatys import stylise_lbfgs

    model = RunContext(run).model
    loss = model.perceptual          # the style's Gram matrices at the run's input size: photos of that size
    size = model.config.input_shape[1]
    held_out = photos(DataRequest(split="test", image_size=size))
    rows, shown = [], {"photo": [], "feed-forward": [], "L-BFGS": []}
    for name, img in zip(held_out.meta["photos"], held_out.images):
        x = img[None].float() / 255
        target = loss.content_targets(x)
        start = time.perf_counter()
        y = model.stylise(x)
        ff_seconds = time.perf_counter() - start
        res = stylise_lbfgs(loss, x, iterations)

        def terms(img: torch.Tensor) -> dict:
            with torch.no_grad():
                t = loss.terms(img.clamp(0, 1), target)
            return {k: float(f"{float(v):.4g}") for k, v in t.items()}
        for key, im in (("photo", x), ("feed-forward", y), ("L-BFGS", res.image)):
            shown[key].append(im.clamp(0, 1))
        rows.append({"photo": name, "size": list(x.shape[2:]), "untouched": terms(x),
                     "feedforward": {**terms(y), "seconds": round(ff_seconds, 3)},
                     "lbfgs": {**terms(res.image), "seconds": round(res.seconds, 1)}})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if figure is not None:
        from genzoo.analysis.grid import save_grid

        names = held_out.meta["photos"]
        save_grid(torch.cat([torch.cat(v) for v in shown.values()]), figure, nrow=len(names), col_labels=names,
                  row_labels=[f"held-out\nphoto", f"feed-forward\n(1 pass)", f"L-BFGS\n({iterations}×20 evals)"],
                  title=f"{run.name}: {model.config.style}, {model.features_name} features")
    return {"part": "compare", "run": str(run), "features": model.features_name, "iterations": iterations,
            "rows": rows, "peak_rss_mb": round(peak_mb())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["all", "lbfgs", "feedforward", "compare"], default="all")
    ap.add_argument("--run", type=Path, help="A trained style-net run (--part compare).")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--figure", type=Path, help="--part compare: also write this side-by-side PNG.")
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
    if args.part == "compare":
        r = bench_compare(args.run, args.size, args.iterations, args.figure)
    elif args.part == "lbfgs":
        r = bench_lbfgs(args.size, args.iterations)
    else:
        r = bench_feedforward(args.size, [int(b) for b in args.batches.split(",")])
    text = json.dumps(r)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(r, indent=2))
    print(text)


if __name__ == "__main__":
    main()
