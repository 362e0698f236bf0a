"""Normalising flows and the energy-based model: the two-moons RealNVP in full, RealNVP and the EBM on
Fashion-MNIST under a CPU budget, and their held-out measurements.

Phases (all by default):

* ``train``: ``realnvp-moons`` for the book's 300 epochs, as the book trains (no L2) and with the declared
  L2 0.01 applied, and a deeper variant (6 couplings, Adam 1e-3, 100 epochs); ``realnvp-fashion`` for ``--realnvp-minutes`` and ``ebm-fashion`` for ``--ebm-minutes`` of
  CPU time of one thread each (``max_cpu_minutes``). Two workers (``--jobs 2``) run two queues side by side.
* ``eval``: moons — ``genzoo eval --metrics nll`` (held-out log-likelihood in nats/point next to a Gaussian fit
  and the true density); realnvp-fashion — the 8-bit NLL bound on all 10,000 test images and FID/KID/PR/IS on
  ``--samples`` samples; ebm-fashion — FID/KID/PR/IS/memorisation on ``--samples`` samples (1,000 Langevin
  steps from uniform noise each). FID etc. use genzoo's Fashion-MNIST classifier features, not Inception.
* ``report``: Markdown tables from the runs' ``train_summary.json`` and ``eval.json``.

    python benchmarks/flows_ebm.py --root runs/flows --jobs 2
    python benchmarks/flows_ebm.py --root runs/flows --phase report
"""
from __future__ import annotations

import argparse
import json
import sys
from multiprocessing import Process
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from budget import genzoo  # noqa: E402

MOONS = [("realnvp-moons", []), ("realnvp-moons-l2", ["model.l2=0.01"]),
         ("realnvp-moons-6", ["model.couplings=6", "optim.model.lr=0.001", "epochs=100"])]   # beyond the book


def _train(root: Path, name: str, args: list[str]) -> None:
    """Train ROOT/NAME unless it has finished; an interrupted run is resumed from its last checkpoint."""
    run = root / name
    if (run / "train_summary.json").exists():
        return
    if (run / "checkpoints").exists():
        genzoo("resume", str(run), "--no-progress", log=root / f"{name}.log")
    else:
        genzoo("train", *args, "--out", str(run), "--no-progress", log=root / f"{name}.log")


def train_moons(root: Path) -> None:
    for name, overrides in MOONS:
        _train(root, name, ["realnvp-moons", "--set", "num_threads=1", *[a for o in overrides for a in ("--set", o)]])


def train_budget(root: Path, name: str, minutes: float) -> None:
    _train(root, name, [name, "--epochs", "1000", "--set", f"max_cpu_minutes={minutes}", "--set", "num_threads=1",
                        "--set", "sample_every_epoch=false"])


def evaluate(root: Path, samples: int) -> None:
    for name, _ in MOONS:
        genzoo("eval", str(root / name), "--metrics", "nll", "--num-samples", "10000", log=root / f"{name}.log")
    genzoo("eval", str(root / "realnvp-fashion"), "--metrics", "nll,fid,kid,pr,is", "--num-samples", str(samples),
           log=root / "realnvp-fashion.log")
    genzoo("eval", str(root / "ebm-fashion"), "--metrics", "fid,kid,pr,is,memorization", "--num-samples",
           str(samples), log=root / "ebm-fashion.log")


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def report(root: Path) -> str:
    lines = ["| run | steps | epochs | CPU s | test log-lik (nats/point) | Gaussian fit | true density | "
             "samples under the true density |", "|---|---|---|---|---|---|---|---|"]
    for name, overrides in MOONS:
        t, m = _read(root / name / "train_summary.json"), _read(root / name / "eval.json").get("metrics", {})
        n = m.get("nll", {})
        if t and n:
            lines.append(f"| `{name}`{' (' + ', '.join(overrides) + ')' if overrides else ''} | {t['steps']:,} | "
                         f"{t['epochs']:.0f} | {t['cpu_s']:.0f} | {n['log_prob_nats']:.3f} ± {n['log_prob_stderr']:.3f} "
                         f"| {n['gaussian_log_prob_nats']:.3f} | {n['true_log_prob_nats']:.3f} | "
                         f"{n['samples_true_log_prob_nats']:.2f} |")
    lines += ["", "| run | steps | epochs | train img/CPU-s | test bits/dim | FID↓ | KID↓ | precision↑ | recall↑ | "
              "IS-analogue↑ |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("realnvp-fashion", "ebm-fashion"):
        t, m = _read(root / name / "train_summary.json"), _read(root / name / "eval.json").get("metrics", {})
        if not t:
            continue
        batch = 64 if name == "realnvp-fashion" else 128
        bpd = f"{m['nll']['bits_per_dim']:.3f}" if "nll" in m else "—"

        def v(key: str, field: str = "value") -> str:
            return f"{m[key][field]:.3g}" if key in m else "—"
        lines.append(f"| `{name}` | {t['steps']:,} | {t['epochs']:.2f} | {t['steps'] * batch / t['cpu_s']:.1f} | {bpd} | "
                     f"{v('fid')} | {v('kid')} | {v('pr', 'precision')} | {v('pr', 'recall')} | {v('is')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("runs/flows"))
    ap.add_argument("--realnvp-minutes", type=float, default=45.0)
    ap.add_argument("--ebm-minutes", type=float, default=50.0)
    ap.add_argument("--samples", type=int, default=1000, help="Generated images per `genzoo eval`.")
    ap.add_argument("--jobs", type=int, default=2, choices=(1, 2))
    ap.add_argument("--phase", default="train,eval,report")
    args = ap.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    phases = args.phase.split(",")
    if "train" in phases:
        queues = [[(train_budget, (args.root, "ebm-fashion", args.ebm_minutes))],
                  [(train_moons, (args.root,)), (train_budget, (args.root, "realnvp-fashion", args.realnvp_minutes))]]
        if args.jobs == 1:
            queues = [queues[0] + queues[1]]
        procs = [Process(target=lambda q=q: [f(*a) for f, a in q]) for q in queues]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        if any(p.exitcode for p in procs):
            raise SystemExit(f"a training queue failed (see the .log files in {args.root}); rerun to resume it")
    if "eval" in phases:
        evaluate(args.root, args.samples)
    if "report" in phases:
        text = report(args.root)
        (args.root / "flows-report.md").write_text(text + "\n")
        print(text)


if __name__ == "__main__":
    main()
