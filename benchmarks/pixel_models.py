"""Autoregressive image models under one CPU budget: test bits/dim, training images/s, sampling time.

Trains each of the five pixel recipes (pixelcnn-fashion16, gated-pixelcnn, pixelcnn-pp, pixelrnn-row,
pixelrnn-diag) for ``--minutes`` of CPU time of one thread (``max_cpu_minutes``) on two data settings — Fashion-MNIST at 16×16 with
4 grey levels (the book's) and at 28×28 binarised — evaluates the exact test NLL (``genzoo eval
--metrics nll``, whole test split), fits the two self-baselines (uniform; independent per-pixel
categorical with add-one smoothing, fitted on the training split), and times the naive and cached
samplers on 64 images (the naive one in full for the runs named by ``--full-naive``, otherwise on the
last 2 rows, scaled to the image height). Writes ROOT/pixel-report.json and a Markdown table.

    python benchmarks/pixel_models.py --minutes 8 --root runs/pixel --jobs 2
    python benchmarks/pixel_models.py --root runs/pixel --report-only
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

RECIPES = ["pixelcnn-fashion16", "gated-pixelcnn", "pixelcnn-pp", "pixelrnn-row", "pixelrnn-diag"]
SETTINGS = {
    "16x16-4lv": [],
    "28x28-bin": ["model.input_shape=[1,28,28]", "model.levels=2", "data.quantize=null", "data.binarize=true"],
}


def jobs() -> list[tuple[str, str, list[str]]]:
    return [(f"{recipe}-{setting}", recipe, overrides) for setting, overrides in SETTINGS.items()
            for recipe in RECIPES]


def baselines(setting: str) -> dict[str, float]:
    """Test bits/dim of the uniform and the independent per-pixel categorical models."""
    import torch

    from genzoo.config import DataConfig
    from genzoo.data import load_images
    from genzoo.data.loader import make_batch
    from genzoo.metrics.baselines import independent_pixel_bits

    if setting == "16x16-4lv":
        cfg, shape, levels = DataConfig(name="fashion-mnist", quantize=4), (1, 16, 16), 4
    else:
        cfg, shape, levels = DataConfig(name="fashion-mnist", binarize=True), (1, 28, 28), 2

    def values(split: str):
        data = load_images(cfg, shape, split=split)
        x = make_batch(data, torch.arange(len(data)), cfg, "01", torch.device("cpu")).x
        return torch.round(x * (levels - 1)).long()

    return {"uniform": math.log2(levels), "independent": independent_pixel_bits(values("train"), values("test"), levels)}


def sampling_times(run: Path, full_naive: bool) -> dict[str, float]:
    """Seconds to sample 64 images with each sampler (1 thread).

    The naive sampler's cost is one forward pass of the 64-image batch per pixel (and channel), the same
    for every row, so when ``full_naive`` is false it runs (as a completion) on the last 2 rows only and
    its time is scaled by H/2 (a 28×28 naive run takes tens of minutes); when true both samplers run in
    full and the number of identical images (same random stream) is recorded.
    """
    import torch

    from genzoo.runs import load_run

    torch.set_num_threads(1)
    _, model = load_run(run)
    out: dict = {}
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    cached = model.sample(64, generator=g, sampler="cached")
    out["cached_s"] = time.perf_counter() - t0
    c, h, w = model.config.input_shape
    passes = h * w * len(model.head.passes)
    if full_naive:
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        naive = model.sample(64, generator=g, sampler="naive")
        out["naive_s"] = time.perf_counter() - t0
        out["identical_images"] = int((naive == cached).flatten(1).all(1).sum())
    else:
        rows = 2   # the naive sampler's cost per row is constant: time its last rows, scale to all of them
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        model.complete(cached, h - rows, generator=g, sampler="naive")
        out["naive_s"] = (time.perf_counter() - t0) * h / rows
        out["naive_estimated_from_rows"] = rows
    out["naive_passes"] = passes
    out["speedup"] = out["naive_s"] / out["cached_s"]
    return out


def tr_batch(run: Path) -> int:
    import yaml

    return int(yaml.safe_load((run / "config.yaml").read_text())["batch_size"])


def same(row: dict) -> str:
    return f"{row['identical_images']}/64" if "identical_images" in row else "(naive estimated)"


def report(root: Path, full_naive: tuple[str, ...] = ("pixelcnn-fashion16-16x16-4lv",)) -> dict:
    rows = []
    base = {s: baselines(s) for s in SETTINGS}
    for name, recipe, _ in jobs():
        run = root / name
        if not (run / "eval.json").exists():
            continue
        ev = json.loads((run / "eval.json").read_text())["metrics"]["nll"]
        tr = json.loads((run / "train_summary.json").read_text())
        times_path = run / "sampling.json"
        if not times_path.exists():
            times_path.write_text(json.dumps(sampling_times(run, full_naive=name in full_naive), indent=2))
        times = json.loads(times_path.read_text())
        from genzoo.runs import load_run

        _, model = load_run(run)
        rows.append({"run": name, "recipe": recipe, "setting": name[len(recipe) + 1:],
                     "params": sum(p.numel() for p in model.parameters()),
                     "train_min": round(tr["wall_s"] / 60, 1), "cpu_min": round(tr.get("cpu_s", 0) / 60, 1),
                     "train_images_per_cpu_s": tr["steps"] * tr_batch(run) / max(tr.get("cpu_s", 0), 1e-9), "steps": tr["steps"], "epochs": tr["epochs"],
                     "train_images_per_s": tr["images_per_s"], "test_bits_per_dim": ev["bits_per_dim"],
                     "test_nats_per_image": -ev["log_prob_nats"], **times})
    lines = ["| setting | model | params | CPU min (epochs) | train img/CPU-s | test bits/dim | "
             "sample 64: naive s | cached s | speed-up | same images |", "|" + "---|" * 10]
    for s in SETTINGS:
        lines.append(f"| {s} | uniform baseline | 0 | – | – | {base[s]['uniform']:.3f} | – | – | – | – |")
        lines.append(f"| {s} | independent per-pixel baseline | – | – | – | {base[s]['independent']:.3f} | "
                     "– | – | – | – |")
        for r in (r for r in rows if r["setting"] == s):
            lines.append(f"| {s} | {r['recipe']} | {r['params']:,} | {r['cpu_min']} ({r['epochs']:.2f}) | "
                         f"{r['train_images_per_cpu_s']:.0f} | {r['test_bits_per_dim']:.3f} | {r['naive_s']:.1f} | "
                         f"{r['cached_s']:.2f} | {r['speedup']:.0f}× | {same(r)} |")
    result = {"baselines": base, "rows": rows, "table": "\n".join(lines)}
    (root / "pixel-report.json").write_text(json.dumps(result, indent=2))
    (root / "pixel-report.md").write_text(result["table"] + "\n")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=15.0,
                    help="Training budget per run in CPU minutes of its one thread (fair when the machine is shared).")
    ap.add_argument("--root", type=Path, default=Path("runs/pixel"))
    ap.add_argument("--jobs", type=int, default=1, help="Parallel workers, one thread each.")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--full-naive", default="pixelcnn-fashion16-16x16-4lv",
                    help="Comma-separated runs whose naive sampler runs to the end (others: timed on 2 rows, scaled).")
    args = ap.parse_args()
    if not args.report_only:
        from budget import run_workers

        run_workers(jobs(), args.root, args.minutes, args.jobs, eval_args=("--metrics", "nll"),
                    budget_key="max_cpu_minutes")
    print(report(args.root, tuple(args.full_naive.split(",")))["table"])


if __name__ == "__main__":
    main()
