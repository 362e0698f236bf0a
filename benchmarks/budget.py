"""Train every Fashion-MNIST recipe under one time budget, evaluate each with `genzoo eval`, and write
the comparison table (the README's "every model under one budget" table).

Each recipe runs as ``genzoo train RECIPE --epochs 1000 --set max_minutes=M --set num_threads=1``
then ``genzoo eval RUN`` (the full protocol). Workers claim recipes through ``ROOT/<recipe>.claim``
folders, so a second worker started later (``--jobs`` or another invocation) shares the queue:

    python benchmarks/budget.py --minutes 5 --root runs/budget            # one worker
    python benchmarks/budget.py --minutes 5 --root runs/budget --jobs 2   # two, one core each
    python benchmarks/budget.py --root runs/budget --report-only          # just the table
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from multiprocessing import Process
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fashion_recipes() -> list[str]:
    from genzoo.config import available_recipes, load_recipe

    def standalone(raw: dict) -> bool:   # latent diffusion needs a trained autoencoder run first
        return raw.get("model", {}).get("space") != "latent"

    return [r for r in available_recipes() if load_recipe(r).get("data", {}).get("name") == "fashion-mnist"
            and standalone(load_recipe(r))]


def genzoo(*args: str, log: Path) -> None:
    with open(log, "a") as f:
        f.write(f"$ genzoo {' '.join(args)}\n")
        f.flush()
        subprocess.run([sys.executable, "-m", "genzoo", *args], stdout=f, stderr=subprocess.STDOUT, check=True,
                       env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})


def worker(jobs: list[tuple[str, str, list[str]]], root: Path, minutes: float,
           eval_args: tuple[str, ...] = (), budget_key: str = "max_minutes") -> None:
    """Run each unclaimed job ``(name, recipe, --set overrides)``: train under the budget, then evaluate."""
    for name, recipe, overrides in jobs:
        try:
            (root / f"{name}.claim").mkdir(parents=True)
        except FileExistsError:
            continue
        run, log = root / name, root / f"{name}.log"
        t0 = time.perf_counter()
        sets = [a for o in overrides for a in ("--set", o)]
        try:
            genzoo("train", recipe, "--epochs", "1000", "--out", str(run), "--no-progress", "--set",
                   f"{budget_key}={minutes}", "--set", "num_threads=1", "--set", "sample_every_epoch=false",
                   *sets, log=log)
            genzoo("eval", str(run), *eval_args, log=log)
        except subprocess.CalledProcessError as e:
            print(f"{name}: failed ({e}); see {log}", flush=True)
            continue
        print(f"{name}: done in {time.perf_counter() - t0:.0f} s", flush=True)


def run_workers(jobs: list[tuple[str, str, list[str]]], root: Path, minutes: float, workers: int,
                eval_args: tuple[str, ...] = (), budget_key: str = "max_minutes") -> None:
    procs = [Process(target=worker, args=(jobs, root, minutes, eval_args, budget_key)) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0, help="Training budget per recipe (1 thread).")
    ap.add_argument("--root", type=Path, default=Path("runs/budget"))
    ap.add_argument("--recipes", help="Comma-separated (default: every recipe whose dataset is fashion-mnist).")
    ap.add_argument("--jobs", type=int, default=1, help="Parallel workers, one thread each.")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    recipes = args.recipes.split(",") if args.recipes else fashion_recipes()
    if not args.report_only:
        run_workers([(r, r, []) for r in recipes], args.root, args.minutes, args.jobs)
    from genzoo.metrics.compare import compare_runs

    runs = [args.root / r for r in recipes if (args.root / r / "eval.json").exists()]
    result = compare_runs(runs, args.root)   # ROOT/report.md and ROOT/report.html
    print(result["text"])
    print(result["note"])
    (args.root / "report.json").write_text(json.dumps(result["rows"], indent=2))


if __name__ == "__main__":
    main()
