"""The advanced GANs side by side (issue 17): every model trained under one CPU budget on the same data, then
FID / KID / precision / recall on genzoo's feature network for the data, training images/s and the fraction of
the machine's fp32 matmul rate.

    python benchmarks/gan_zoo.py --budget 5 --jobs 2 --out bench-results/gan_zoo.json --markdown
    python benchmarks/gan_zoo.py --models dcgan stylegan2 --datasets emoji32 --budget 1 --samples 500   # quick

Protocol:

* **Training**: ``genzoo train RECIPE --set max_cpu_minutes=BUDGET`` in its own process on one intra-op thread
  (``OMP_NUM_THREADS=1``), pinned to a core of its own with ``--jobs 2`` (``taskset``). The budget is process CPU
  time, so a run on a busy machine gets the same arithmetic as one on an idle machine (memory-bandwidth contention
  aside). The recipes are each model's ``*-emoji32`` recipe; ``fashion32`` is the same recipe with
  ``data.name=fashion-mnist model.input_shape=[1,32,32]`` (Fashion-MNIST resized to 32×32 — the progressive and
  style-based generators need a power-of-two size).
* **Evaluation**: ``genzoo eval RUN --metrics fid,kid,pr`` with the EMA generator when the recipe keeps one.
  Emoji: the reference set is the *training* split (3,534 images; the held-out split has only 392, too few for a
  stable FID), so the numbers measure fit to the training distribution, memorisation included; features of
  genzoo's emoji BookCNN (trained on the emoji's 10 Unicode groups, shipped). Fashion-MNIST: the 10,000 test
  images, genzoo's Fashion-MNIST BookCNN at 28×28 is not the right shape, so the feature network for 1×32×32 is
  trained on first use (cached).
* **Throughput**: ``benchmarks/bench.py --threads 1 --variants fp32`` on the emoji recipe (ProGAN with phases of
  one image, so the step timed is the full-resolution one): training images/s
  through the trainer, the FLOPs of one step counted with PyTorch's formulas over the fp32 matmul rate measured in
  the same process, sampling images/s and peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODELS = {"dcgan": "dcgan-emoji32", "wgan-gp": "wgangp-emoji32", "progan": "progan-emoji32",
          "stylegan": "stylegan-emoji32", "stylegan2": "stylegan2-emoji32", "sagan": "sagan-emoji32",
          "biggan": "biggan-emoji32"}
DATASETS = {"emoji32": ([], "train"),
            "fashion32": (["data.name=fashion-mnist", "model.input_shape=[1,32,32]"], "test")}
# ProGAN's step costs what its current resolution costs: time it at the data's size (phases of one image).
BENCH_SETS = {"progan": ["model.fade_images=1", "model.stable_images=0"]}
# The DCGAN-style generators name their output channels in the last of their filters.
GREY = {"dcgan": ["model.g_filters=[128,64,1]"], "wgan-gp": ["model.g_filters=[128,64,1]"]}


def genzoo(*args: str, cpu: int | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "genzoo", *args]
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def train_and_eval(model: str, dataset: str, args, cpu: int | None) -> dict:
    """Train one (model, dataset) under the budget, evaluate it; returns the row (or the failure)."""
    recipe = MODELS[model]
    overrides, split = DATASETS[dataset]
    overrides = overrides + (GREY.get(model, []) if dataset == "fashion32" else [])
    run = args.runs / f"{model}-{dataset}"
    row = {"model": model, "dataset": dataset, "recipe": recipe, "run": str(run), "budget_cpu_minutes": args.budget}
    trained = (run / "samples" / "final.png").exists() and not args.retrain   # a finished run is kept
    if not trained:
        if run.exists():
            shutil.rmtree(run)
        sets = [f"--set={o}" for o in [*overrides, f"max_cpu_minutes={args.budget}", "max_steps=10000000",
                                        "tensorboard=false", "sample_every_epoch=false"]]
        t0 = time.perf_counter()
        proc = genzoo("train", recipe, "--out", str(run), *sets, cpu=cpu)
        _, err = proc.communicate()
        row["train_wall_s"] = round(time.perf_counter() - t0, 1)
        if proc.returncode != 0:
            return {**row, "error": f"train failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}"}
    if not trained or not (run / "eval.json").exists() or args.reeval:
        (run / "eval.json").unlink(missing_ok=True)
        proc = genzoo("eval", str(run), "--metrics", "fid,kid,pr", "--num-samples", str(args.samples),
                      "--split", split, cpu=cpu)
        out, err = proc.communicate()
        if proc.returncode != 0:
            return {**row, "error": f"eval failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}"}
    record = json.loads((run / "eval.json").read_text())
    m = record["metrics"]
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    last = steps[-1] if steps else {}
    row.update({"fid": m["fid"]["value"], "kid": m["kid"]["value"], "kid_std": m["kid"].get("std"),
                "precision": m["pr"]["precision"], "recall": m["pr"]["recall"], "features": m["fid"]["name"],
                "reference": f"{split} split, {record['held_out_items']} images", "samples": args.samples,
                "steps": last.get("step"), "images_seen": last.get("images_seen", last.get("items_seen"))})
    return row


def throughput(recipe: str, sets: list[str] = ()) -> dict:
    """Training/sampling images/s and the matmul fraction of ``recipe`` (benchmarks/bench.py, 1 thread)."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--one", recipe, "1", "fp32",
                           "--seconds", "6", *[f"--set={s}" for s in sets]], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    if proc.returncode != 0:
        return {"throughput_error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {k: r[k] for k in ("train_images_per_s_trainer", "sample_images_per_s", "step_gflop", "achieved_gflops",
                              "matmul_fp32_gflops", "fraction_of_fp32_matmul", "peak_rss_mb")}


def run_pinned(jobs: list, work, n_jobs: int) -> list:
    """``work(job, cpu)`` for every job, ``n_jobs`` at once, each on a core of its own (``cpu`` None for one job at
    a time); prints each result as a JSON line as it comes, returns them in the jobs' order."""
    cores = list(range(n_jobs)) if n_jobs > 1 else [None]
    free = list(cores)
    lock = threading.Lock()

    def run(job):
        with lock:
            cpu = free.pop(0)
        try:
            row = work(job, cpu)
            print(json.dumps(row), flush=True)
            return row
        finally:
            with lock:
                free.append(cpu)

    with ThreadPoolExecutor(max_workers=len(cores)) as pool:
        return list(pool.map(run, jobs))


def markdown(rows: list[dict], speed: dict[str, dict]) -> str:
    lines = ["| model | data | FID ↓ | KID ↓ | precision | recall | steps | train img/s | fp32 matmul fraction |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = speed.get(r["model"], {})
        if "error" in r:
            lines.append(f"| {r['model']} | {r['dataset']} | {r['error']} | | | | | | |")
            continue
        lines.append(f"| {r['model']} | {r['dataset']} | {r['fid']:.2f} | {r['kid']:.3f} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {r['steps']:,} | {s.get('train_images_per_s_trainer', '–')} | "
                     f"{s.get('fraction_of_fp32_matmul', '–')} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--budget", type=float, default=5.0, help="CPU-minutes of training per run.")
    p.add_argument("--samples", type=int, default=5000, help="Generated images per evaluation.")
    p.add_argument("--jobs", type=int, default=1, help="Runs at once, each pinned to its own core.")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "gan-zoo")
    p.add_argument("--retrain", action="store_true", help="Train again even when a run has finished.")
    p.add_argument("--reeval", action="store_true", help="Evaluate finished runs again.")
    p.add_argument("--no-throughput", action="store_true")
    p.add_argument("--out", type=Path)
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()

    jobs = [(m, d) for d in args.datasets for m in args.models]
    rows = run_pinned(jobs, lambda job, cpu: train_and_eval(*job, args, cpu), args.jobs)
    speed = {} if args.no_throughput else {m: throughput(MODELS[m], BENCH_SETS.get(m, [])) for m in args.models}
    for m, s in speed.items():
        print(json.dumps({"model": m, **s}), flush=True)
    result = {"budget_cpu_minutes": args.budget, "samples": args.samples, "rows": rows, "throughput": speed,
              "peak_rss_mb_of_driver": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    if args.markdown:
        print(markdown(rows, speed))


if __name__ == "__main__":
    main()
