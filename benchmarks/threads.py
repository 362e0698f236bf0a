"""Thread settings under load: training throughput of three recipes of different shapes, on an idle machine
and with one and two background CPU-bound processes, for genzoo's default (adaptive) and for 1 and 2 threads.

Each cell is one ``genzoo train RECIPE`` of ``--seconds`` wall time (``max_minutes``) on Fashion-MNIST in its
own process, with the busy processes (``while True: pass`` in Python, one per requested load) started before
it and stopped after. The number is the run's own images/s over its whole training loop, start-up probes
included, so the adaptive default pays for its probing here. Prints a Markdown table and writes JSON.

    python benchmarks/threads.py --seconds 30 --out bench-results/threads.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {"homl-vae": "dense VAE", "homl-dcgan": "conv GAN", "ddpm-fashion": "U-Net (diffusion)"}
SETTINGS = {"default": None, "1 thread": 1, "2 threads": 2}
BUSY = "while True: pass"


def train_once(recipe: str, threads: int | None, seconds: float, work: Path) -> dict:
    out = work / f"{recipe}-{threads or 'auto'}-{time.time_ns()}"
    cmd = [sys.executable, "-m", "genzoo", "train", recipe, "--epochs", "1000", "--out", str(out), "--no-progress",
           "--set", f"max_minutes={seconds / 60}", "--set", "sample_every_epoch=false", "--set", "sample_n=0",
           "--set", "checkpoint_every=1000000", "--set", "checkpoint_every_epoch=false", "--set", "tensorboard=false"]
    if threads is not None:
        cmd += ["--set", f"num_threads={threads}"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("GENZOO_NUM_THREADS", None)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return {"images_per_s": summary["images_per_s"], "steps": summary["steps"], "threads": summary.get("threads")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES))
    ap.add_argument("--loads", nargs="+", type=int, default=[0, 1, 2], help="background busy processes")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=Path("bench-results/threads.json"))
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so `finally` stops the busy processes
    results = []
    with tempfile.TemporaryDirectory(prefix="genzoo-threads-") as tmp:
        for load in args.loads:
            busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(load)]
            try:
                time.sleep(0.5 if load else 0)
                for recipe in args.recipes:
                    row = {"recipe": recipe, "shape": RECIPES.get(recipe, ""), "load": load}
                    for name, threads in SETTINGS.items():
                        row[name] = train_once(recipe, threads, args.seconds, Path(tmp))
                        print(f"load {load} {recipe:<14} {name:<10} {row[name]['images_per_s']:>9.1f} img/s",
                              file=sys.stderr, flush=True)
                    results.append(row)
            finally:
                for p in busy:
                    p.kill()
                    p.wait()
    print("| recipe | background busy processes | default (adaptive) img/s | 1 thread | 2 threads | default / best fixed count "
          "| default's time at 1 / 2 threads |")
    print("|---|---|---|---|---|---|---|")
    for row in results:
        speeds = {k: row[k]["images_per_s"] for k in SETTINGS}
        best = max(speeds["1 thread"], speeds["2 threads"])
        share = (row["default"]["threads"] or {}).get("time_share", {})
        print(f"| {row['recipe']} ({row['shape']}) | {row['load']} | {speeds['default']:,.0f} | {speeds['1 thread']:,.0f} "
              f"| {speeds['2 threads']:,.0f} | {speeds['default'] / best:.2f} "
              f"| {share.get('1', 0):.2f} / {share.get('2', 0):.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                                    "seconds": args.seconds, "results": results}, indent=2))


if __name__ == "__main__":
    main()
