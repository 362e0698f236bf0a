"""Image-to-image translation under one CPU budget (issue 18): CycleGAN (unpaired), CycleGAN without the identity
loss (the book's λ_id = 0 ablation) and pix2pix (paired) on the same two-domain data, each scored against the true
counterparts of the held-out pairs; then training and translation images/s at batch 1 (the book's) and a larger
batch.

    python benchmarks/painting.py --budget 20 --jobs 2 --out bench-results/painting.json --markdown
    python benchmarks/painting.py --runs cyclegan pix2pix --budget 1          # quick
    python benchmarks/painting.py --runs cyclegan cyclegan-no-identity pix2pix --figure docs/figures/painting-emoji.png

Protocol:

* **Training**: ``genzoo train RECIPE --set max_cpu_minutes=BUDGET`` in its own process on one intra-op thread
  (``OMP_NUM_THREADS=1``; ``--jobs 2`` pins each run to a core of its own). The budget is process CPU time. The
  recipes' 200-epoch horizon is replaced by ``max_steps`` 10⁷, so the linear decay (which starts half-way to the
  horizon) never starts: every run trains at the constant 2e-4 of the paper's first 100 epochs.
* **Scores**: ``genzoo eval RUN --metrics translation`` on the held-out split: per direction, L1 and SSIM of every
  translation against its true counterpart, FID of the translations against the true targets on genzoo's feature
  network of the data the pair set names, each beside the untranslated images' score (the "do nothing"
  baseline) and FID's real-against-real floor; ``genzoo analyze RUN colour-shift`` for the ablation's colours.
* **Throughput**: ``benchmarks/bench.py --threads 1 --variants fp32`` per recipe at batch 1 and ``--batch``:
  training images/s through the trainer, translation images/s (batches of 64), the fraction of the fp32 matmul
  rate measured in the same process, peak RSS.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gan_zoo import ROOT, genzoo, run_pinned, throughput  # noqa: E402

sys.path.insert(0, str(ROOT))

# name → (recipe, overrides)
RUNS = {
    "cyclegan": ("cyclegan-emoji", []),
    "cyclegan-no-identity": ("cyclegan-emoji", ["model.lambda_id=0"]),
    "pix2pix": ("pix2pix-emoji", []),
    "cyclegan-fonts": ("cyclegan-fonts", []),
    "pix2pix-fonts": ("pix2pix-fonts", []),
}
DEFAULT_RUNS = ["cyclegan", "cyclegan-no-identity", "pix2pix"]


def _last_line(text: str, code: int) -> str:
    return text.strip().splitlines()[-1] if text.strip() else str(code)


def train_and_score(name: str, args, cpu: int | None) -> dict:
    recipe, overrides = RUNS[name]
    run = args.root / name
    row = {"run": name, "recipe": recipe, "overrides": overrides, "budget_cpu_minutes": args.budget}
    trained = (run / "samples" / "final.png").exists() and not args.retrain
    if not trained:
        if run.exists():
            shutil.rmtree(run)
        sets = [f"--set={o}" for o in [*overrides, f"max_cpu_minutes={args.budget}", "max_steps=10000000",
                                        "tensorboard=false", f"sample_every={args.sample_every}"]]
        t0 = time.perf_counter()
        proc = genzoo("train", recipe, "--out", str(run), "--no-progress", *sets, cpu=cpu)
        _, err = proc.communicate()
        row["train_wall_s"] = round(time.perf_counter() - t0, 1)
        if proc.returncode != 0:
            return {**row, "error": f"train failed: {_last_line(err, proc.returncode)}"}
    for command in (["eval", str(run), "--metrics", "translation"],
                    ["analyze", str(run), "colour-shift"], ["analyze", str(run), "translation-grid"],
                    ["analyze", str(run), "translation-progress"]):
        proc = genzoo(*command, cpu=cpu)
        _, err = proc.communicate()
        if proc.returncode != 0:
            return {**row, "error": f"{command[0]} failed: {_last_line(err, proc.returncode)}"}
    scores = json.loads((run / "eval.json").read_text())["metrics"]["translation"]
    shift = json.loads((run / "analysis" / "colour-shift.json").read_text())
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    row.update({"steps": steps[-1]["step"] if steps else 0, "epochs": steps[-1]["epoch"] if steps else 0,
                "scores": scores, "colour_shift": {d: shift[d] for d in ("AB", "BA") if d in shift}})
    return row


def side_by_side(root: Path, names: list[str], out: Path, n: int = 5) -> None:
    """One figure: ``n`` held-out images per direction (evenly spaced) — the original, each run's translation, and the
    true counterpart — for runs that share one dataset."""
    import torch

    from genzoo.analysis.grid import save_grid
    from genzoo.data import transforms as T
    from genzoo.metrics.translation_eval import translate_all
    from genzoo.run_context import RunContext, item_index

    contexts = [RunContext(root / name) for name in names]
    data = contexts[0].data("test")
    rows, labels = [], []
    for direction in ("AB", "BA"):
        src, dst = (data.a, data.b) if direction == "AB" else (data.b, data.a)
        index = item_index(len(src), n, spread=True)
        x = T.scale(src.images[index], "01")
        columns = [x]
        for ctx in contexts:     # a one-way model gets a blank column
            columns.append(translate_all(ctx.model, src.images[index], direction)["translated"]
                           if direction in ctx.model.directions else torch.ones_like(x))
        columns.append(T.scale(dst.images[index], "01"))
        rows.append(torch.stack(columns, 1))
        labels += [f"{direction[0]}→{direction[1]} {i}" for i in index.tolist()]
    save_grid(torch.cat(rows).flatten(0, 1), out, nrow=len(names) + 2, row_labels=labels,
              col_labels=["original", *names, "true counterpart"],
              title=f"held-out {data.source.split(':')[0]} translated by each run (blank: the model is one-way)")


def markdown(rows: list[dict], speed: dict) -> str:
    lines = ["| run | direction | L1 ↓ (untranslated) | SSIM ↑ (untranslated) | FID ↓ (untranslated; real) | "
             "cycle L1 | colour shift from target | steps (epochs) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['run']} | {r['error']} | | | | | | |")
            continue
        for d in ("AB", "BA"):
            s = r["scores"].get(d)
            if s is None:
                continue
            fid = (f"{s['fid']:.2f} ({s['untranslated_fid']:.2f}; {s['real_vs_real_fid']:.2f})" if "fid" in s else "–")
            cycle = f"{s['cycle_l1']:.4f}" if "cycle_l1" in s else "–"
            shift = r["colour_shift"][d].get("shift_from_target")
            lines.append(f"| {r['run']} | {d[0]}→{d[1]} | {s['l1']:.4f} ({s['untranslated_l1']:.4f}) | "
                         f"{s['ssim']:.3f} ({s['untranslated_ssim']:.3f}) | {fid} | {cycle} | "
                         f"{shift:.4f} | {r['steps']:,} ({r['epochs']:.2f}) |")
    lines += ["", "| recipe | batch | train img/s | translate img/s | step GFLOP | fp32 matmul fraction | peak RSS MB |",
              "|---|---|---|---|---|---|---|"]
    for key, s in speed.items():
        if "throughput_error" in s:
            lines.append(f"| {key} | {s['throughput_error']} | | | | | |")
            continue
        recipe, batch = key.rsplit("@", 1)
        lines.append(f"| {recipe} | {batch} | {s['train_images_per_s_trainer']} | {s['sample_images_per_s']} | "
                     f"{s['step_gflop']} | {s['fraction_of_fp32_matmul']} | {s['peak_rss_mb']} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="*", default=DEFAULT_RUNS, choices=list(RUNS))
    p.add_argument("--budget", type=float, default=20.0, help="CPU-minutes of training per run.")
    p.add_argument("--sample-every", type=int, default=500, help="Steps between progress galleries.")
    p.add_argument("--batch", type=int, default=8, help="The larger batch of the throughput measurement.")
    p.add_argument("--jobs", type=int, default=1, help="Runs at once, each pinned to its own core.")
    p.add_argument("--root", type=Path, default=ROOT / "runs" / "painting")
    p.add_argument("--retrain", action="store_true", help="Train again even when a run has finished.")
    p.add_argument("--no-throughput", action="store_true")
    p.add_argument("--out", type=Path)
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--figure", type=Path, help="Only draw the runs' translations side by side into this PNG.")
    args = p.parse_args()
    if args.figure:
        side_by_side(args.root, args.runs, args.figure)
        return

    rows = run_pinned(args.runs, lambda name, cpu: train_and_score(name, args, cpu), args.jobs)
    speed = {}
    if not args.no_throughput:
        for recipe in sorted({RUNS[n][0] for n in args.runs}):
            for batch in (1, args.batch):
                speed[f"{recipe}@{batch}"] = throughput(recipe, [f"batch_size={batch}"])
                print(json.dumps({"recipe": recipe, "batch": batch, **speed[f"{recipe}@{batch}"]}), flush=True)
    result = {"budget_cpu_minutes": args.budget, "rows": rows, "throughput": speed}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    if args.markdown:
        print(markdown(rows, speed))


if __name__ == "__main__":
    main()
