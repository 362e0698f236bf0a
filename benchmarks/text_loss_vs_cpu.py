"""Held-out loss of text models against the CPU time they trained, one row per kept checkpoint.

    python benchmarks/text_loss_vs_cpu.py RUN [RUN ...] [--windows 20000] [--markdown]

Train with checkpoints kept along the way, e.g.
``genzoo train lstm-aesop --dataset shakespeare --set data.text.tokenizer=char --set data.text.window=64
--set num_threads=1 --set max_cpu_minutes=10 --set checkpoint_every=1000 --set keep_checkpoints=100``.
Each checkpoint is scored under ``genzoo eval``'s text protocol (:mod:`genzoo.metrics.text_eval`) on the
same ``--windows`` held-out windows, spread evenly over the held-out split, so runs on the same corpus and
window (an LSTM and a GPT, say) are scored on the same positions. The CPU minutes are the training CPU time
saved in the checkpoint (over every invocation of the run).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def checkpoints(run: Path, every: int = 1) -> list[Path]:
    """The run's kept checkpoints at steps that are multiples of ``every``, and its last one."""
    kept = sorted(p for p in (run / "checkpoints").glob("step-*") if (p / "model.safetensors").exists())
    return [p for i, p in enumerate(kept) if int(p.name.split("-")[1]) % every == 0 or i == len(kept) - 1]


def score_run(run: Path, windows: int, every: int = 1) -> list[dict]:
    from genzoo.metrics.text_eval import held_out_perplexity
    from genzoo.run_context import RunContext
    from genzoo.runs import load_run
    from genzoo.training.checkpoint import load_state

    ctx = RunContext(run)
    test, train = ctx.data("test"), ctx.data("train")
    if windows and windows < len(test):
        test = test.subset(torch.linspace(0, len(test) - 1, windows).long())
    rows = []
    for ck in checkpoints(run, every):
        cfg, model = load_run(run, checkpoint=ck)
        state = load_state(ck)
        scores = held_out_perplexity(model, test, train)
        rows.append({"run": run.name, "recipe": cfg.recipe, "step": int(state["step"]),
                     "cpu_min": round(float(state.get("elapsed", {}).get("cpu_s", float("nan"))) / 60, 2),
                     "nats_per_token": round(scores["all"]["model"]["nats_per_token"], 4),
                     "bits_per_char": round(scores["all"]["model"]["bits_per_char"], 4),
                     "positions": scores["positions"], "tokenizer": scores["tokenizer"],
                     "bigram_kn_nats": round(scores["all"]["bigram_kneser_ney"]["nats_per_token"], 4)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--windows", type=int, default=20_000, help="held-out windows scored (0 = all)")
    ap.add_argument("--every", type=int, default=1, help="only checkpoints at multiples of this step (and the last)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--markdown", action="store_true", help="finish with a Markdown table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [row for run in args.runs for row in score_run(run, args.windows, args.every)]
    if args.markdown:
        print("\n| run | step | CPU minutes | held-out nats/token | bits/char | Kneser-Ney bigram nats/token |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['run']} | {r['step']:,} | {r['cpu_min']} | {r['nats_per_token']:.3f} | "
                  f"{r['bits_per_char']:.3f} | {r['bigram_kn_nats']:.3f} |")


if __name__ == "__main__":
    main()
