"""The question generator under one CPU budget: the book's plain model, + attention, + copy, + both.

Trains each variant of ``qgen-offline`` for ``--cpu-minutes`` of one thread (``--set num_threads=1 --set
max_cpu_minutes=N``, one run after another, never two at once), then runs ``genzoo eval RUN`` on each (BLEU and
ROUGE-L of greedy questions on the held-out split, the tagger's F1, teacher-forced question perplexity) and writes
one Markdown table with a few generated questions::

    python benchmarks/qgen.py --cpu-minutes 5 --out runs/qgen-bench [--core 1]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

VARIANTS = {"plain": [], "attention": ["model.attention=true"], "copy": ["model.copy=true"],
            "attention+copy": ["model.attention=true", "model.copy=true"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-minutes", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=Path("runs/qgen-bench"))
    ap.add_argument("--core", type=int, help="pin every process to this core (taskset -c)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--recipe", default="qgen-offline")
    args = ap.parse_args()
    genzoo = [sys.executable, "-m", "genzoo"]
    pin = ["taskset", "-c", str(args.core)] if args.core is not None else []
    rows = []
    for name in args.variants:
        run = args.out / name.replace("+", "-")
        sets = [f"num_threads=1", f"max_cpu_minutes={args.cpu_minutes}", *VARIANTS[name]]
        if not (run / "train_summary.json").exists():
            cmd = pin + genzoo + ["train", args.recipe, "--out", str(run), "--no-progress"]
            for s in sets:
                cmd += ["--set", s]
            print(" ".join(cmd), file=sys.stderr, flush=True)
            subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        subprocess.run(pin + genzoo + ["eval", str(run)], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        train = json.loads((run / "train_summary.json").read_text())
        ev = json.loads((run / "eval.json").read_text())["metrics"]["questions"]
        rows.append((name, train, ev))
    lines = ["| variant | steps (epochs) | pairs per CPU-s (per wall-s) | BLEU-4 | BLEU-1 | ROUGE-L F | question perplexity | "
             "tagger token F1 | <unk> in generated questions |", "|---|---|---|---|---|---|---|---|---|"]
    for name, train, ev in rows:
        cpu_rate = train["steps"] * json.loads((run / "config.yaml").read_text().split("batch_size: ")[1].split()[0])
        cpu_rate /= max(train["total_cpu_s"], 1e-9)
        lines.append(f"| {name} | {train['steps']:,} ({train['epochs']:.1f}) | {cpu_rate:.0f} ({train['pairs_per_s']:.0f}) | "
                     f"{ev['bleu4']:.2f} | {ev['bleu1']:.2f} | {ev['rougeL_f']:.3f} | "
                     f"{ev['question_perplexity']:.1f} | {ev['tagger']['f1']:.3f} | {100 * ev['unknown_rate']:.1f} % |")
    base = rows[0][2].get("baseline_most_frequent_question")
    if base:
        lines.append(f"| always \"{base['question']}\" (the training split's most frequent question) | | | "
                     f"{base['bleu4']:.2f} | {base['bleu1']:.2f} | {base['rougeL_f']:.3f} | | | |")
    examples = ["", "Examples (the first held-out items; reference → each variant):", ""]
    for i in range(min(6, len(rows[0][2]["examples"]))):
        ex = rows[0][2]["examples"][i]
        examples.append(f"- answer *{ex['answer']}*, reference \"{ex['reference']}\"")
        for name, _, ev in rows:
            examples.append(f"  - {name}: \"{ev['examples'][i]['generated']}\"")
    text = "\n".join(lines + examples) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
