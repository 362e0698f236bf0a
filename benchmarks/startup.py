"""Start-up: wall time from a fresh interpreter to the end of a whole one-step training run (data, model,
one optimizer step, checkpoint, summary), and of the commands that need no tensors.

Each case runs ``--repeats`` times in new processes (alternating the variants, so a change in load hits
both alike) and reports the median and the range. The "dynamo imported" variant imports
``torch._dynamo`` before genzoo starts — what every run paid before ``genzoo/training/eager_optim.py``.

    python benchmarks/startup.py                       # the README table
    python benchmarks/startup.py --recipes vae-digits --repeats 3
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPES = ["vae-digits", "homl-dcgan", "pixelcnn-fashion16", "ddpm-fashion"]
PRELUDE = {"genzoo": "", "dynamo imported": "import torch._dynamo\n"}
LAUNCH = "{prelude}import sys\nfrom genzoo.cli import main\nsys.argv = ['genzoo', *sys.argv[1:]]\nmain()\n"


def wall(args: list[str], prelude: str = "") -> float:
    """Seconds one ``genzoo ARGS`` process takes, start to exit."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LAUNCH.format(prelude=prelude), *args],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"genzoo {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds


def summary(times: list[float]) -> dict:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": len(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="+", default=RECIPES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench-results/startup.json"))
    args = ap.parse_args()
    cases: dict[str, tuple[list[str], list[str]]] = {
        "genzoo --help": (["--help"], ["genzoo"]),
        "genzoo list": (["list"], ["genzoo"]),
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="genzoo-startup-") as tmp:
        for recipe in args.recipes:
            cases[f"train {recipe}, 1 step"] = (["train", recipe, "--max-steps", "1", "--no-progress",
                                                "--set", "sample_n=0", "--out", "{out}"], list(PRELUDE))
        for name, (cmd, variants) in cases.items():
            times: dict[str, list[float]] = {v: [] for v in variants}
            for i in range(args.repeats):
                for v in variants:
                    out = Path(tmp) / f"{len(results)}-{v.replace(' ', '_')}-{i}"
                    times[v].append(wall([a.replace("{out}", str(out)) for a in cmd], PRELUDE[v]))
            row = {"case": name, **{v: summary(t) for v, t in times.items()}}
            results.append(row)
            print(name, {v: round(s["median_s"], 2) for v, s in row.items() if v != "case"}, file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"| command (fresh process, {args.repeats} runs) | genzoo: median (range) | with torch._dynamo imported first |")
    print("|---|---|---|")
    for row in results:
        g, d = row["genzoo"], row.get("dynamo imported")
        before = f"{d['median_s']:.2f} s ({d['min_s']:.2f}–{d['max_s']:.2f})" if d else "—"
        print(f"| `{row['case']}` | {g['median_s']:.2f} s ({g['min_s']:.2f}–{g['max_s']:.2f}) | {before} |")


if __name__ == "__main__":
    main()
