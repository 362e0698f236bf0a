"""Diffusion models under one CPU budget: sample quality, the DDPM/DDIM step trade-off, the variational bound.

Phases (all by default):

* ``train``: ddpm-linear, ddpm-fashion and ddpm-conditional for ``--minutes`` of CPU time of one thread each
  (``max_cpu_minutes``); homl-vae for ``--vae-minutes`` and latent-diffusion on its codes for
  ``--latent-minutes``. Two workers (``--jobs 2``) run the two queues side by side.
* ``eval``: ``genzoo eval --metrics fid,kid,pr,is,memorization --num-samples N`` on every run (the recipe's
  default sampler, DDIM-50), and ``--metrics vlb`` on the pixel-space ones.
* ``tradeoff``: on the ddpm-linear run, for DDPM-1000, DDIM-100/50/20/10 (η = 0) and respaced DDPM-100/50: FID/KID of
  ``--tradeoff-samples`` samples against the test split, on genzoo's Fashion-MNIST feature network; and on
  the conditional run the same at guidance 0, 1, 2, 4 (DDIM-50).
* ``timing``: seconds to draw 64 images with each of those samplers, one thread, run alone.

Writes ROOT/diffusion-report.json and prints Markdown tables.

    python benchmarks/diffusion.py --minutes 25 --root runs/diffusion --jobs 2
    python benchmarks/diffusion.py --root runs/diffusion --phase report
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Process
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import yaml  # noqa: E402
from budget import genzoo  # noqa: E402

TRADEOFF = [("ddpm", 1000), ("ddim", 100), ("ddim", 50), ("ddim", 20), ("ddim", 10)]
RESPACED = [("ddpm", 100), ("ddpm", 50)]          # ancestral sampling on a respaced chain (improved DDPM)
GUIDANCE = [0.0, 1.0, 2.0, 4.0]


def train_queue(queue: list[tuple[str, str, float, list[str]]], root: Path) -> None:
    for name, recipe, minutes, overrides in queue:
        run, log = root / name, root / f"{name}.log"
        if (run / "train_summary.json").exists():
            continue
        sets = [a for o in overrides for a in ("--set", o)]
        t0 = time.perf_counter()
        genzoo("train", recipe, "--epochs", "1000", "--out", str(run), "--no-progress", "--set",
               f"max_cpu_minutes={minutes}", "--set", "num_threads=1", "--set", "sample_every_epoch=false",
               *sets, log=log)
        print(f"{name}: trained in {time.perf_counter() - t0:.0f} s", flush=True)


def eval_queue(names: list[str], root: Path, samples: int) -> None:
    for name in names:
        run, log = root / name, root / f"{name}.log"
        metrics = "fid,kid,pr,is,memorization" + ("" if name == "latent-diffusion" else ",vlb")
        genzoo("eval", str(run), "--metrics", metrics, "--num-samples", str(samples), log=log)
        print(f"{name}: evaluated", flush=True)


def tradeoff(root: Path, settings: list[tuple[str, int | None, float | None]], run_name: str, samples: int,
             out_name: str) -> None:
    """Time 64 images and score ``samples`` images for each (sampler, steps, guidance) setting."""
    import torch

    torch.set_num_threads(1)
    from genzoo.data import load_images
    from genzoo.metrics.features import get_feature_net
    from genzoo.metrics.sample_quality import fid, kid
    from genzoo.runs import load_run

    cfg, model = load_run(root / run_name)
    shape = tuple(model.config.input_shape)
    net = get_feature_net(cfg.data, shape, epochs=5, log=print)
    test = load_images(cfg.data, shape, split="test")
    real = net.dataset_features(test, cfg.data, "test")[0]
    rows = []
    for sampler, steps, guidance in settings:
        extra = {"sampler": sampler, "steps": steps, "guidance": guidance}
        g = torch.Generator().manual_seed(1)
        k = model.config.num_classes
        parts = []
        with torch.inference_mode():
            for s in range(0, samples, 250):
                n = min(250, samples - s)
                cond = torch.nn.functional.one_hot(torch.arange(s, s + n) % k, k).float() if k else None
                parts.append(model.sample(n, generator=g, condition=cond, **extra))
        fake, logits = net(torch.cat(parts).clamp(0, 1))
        km, ks = kid(real, fake, subset_size=min(1000, samples), seed=0)
        row = {"run": run_name, "sampler": sampler, "steps": steps, "guidance": guidance,
               "fid": fid(real, fake), "kid": km, "kid_std": ks, "samples": samples}
        if k:   # does the sample look like its label to the feature network's classifier?
            row["label_accuracy"] = (logits.argmax(1) == torch.arange(samples) % k).float().mean().item()
        rows.append(row)
        print(json.dumps(row), flush=True)
        (root / out_name).write_text(json.dumps(rows, indent=2))


def timing(root: Path, run_name: str, out_name: str, repeats: int = 1) -> None:
    """Seconds to draw 64 images with each sampler setting, one thread, nothing else running."""
    import torch

    torch.set_num_threads(1)
    from genzoo.runs import load_run

    _, model = load_run(root / run_name)
    rows = []
    for sampler, steps in TRADEOFF + RESPACED:
        best = float("inf")
        for _ in range(repeats):
            g = torch.Generator().manual_seed(0)
            t0 = time.perf_counter()
            with torch.inference_mode():
                model.sample(64, generator=g, sampler=sampler, steps=steps)
            best = min(best, time.perf_counter() - t0)
        rows.append({"run": run_name, "sampler": sampler, "steps": steps, "seconds_64": round(best, 2),
                     "network_evals_per_s": round(64 * steps / best, 1)})
        print(json.dumps(rows[-1]), flush=True)
    (root / out_name).write_text(json.dumps(rows, indent=2))


def tradeoffs(jobs: list[tuple]) -> None:
    for job in jobs:
        tradeoff(*job)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=25.0, help="CPU minutes per pixel-space run (1 thread).")
    ap.add_argument("--conditional-minutes", type=float, help="CPU minutes for ddpm-conditional (default --minutes).")
    ap.add_argument("--vae-minutes", type=float, default=3.0)
    ap.add_argument("--latent-minutes", type=float, default=8.0)
    ap.add_argument("--root", type=Path, default=Path("runs/diffusion"))
    ap.add_argument("--jobs", type=int, default=2, choices=(1, 2))
    ap.add_argument("--samples", type=int, default=2000, help="Generated images per `genzoo eval`.")
    ap.add_argument("--tradeoff-samples", type=int, default=500)
    ap.add_argument("--phase", default="train,eval,tradeoff,timing,report",
                    help="Comma-separated phases; tradeoff-ddpm / tradeoff-rest run one half of tradeoff.")
    args = ap.parse_args()
    root = args.root
    root.mkdir(parents=True, exist_ok=True)
    phases = set(args.phase.split(","))
    cond_minutes = args.conditional_minutes or args.minutes
    queues = [[("ddpm-linear", "ddpm-linear", args.minutes, []),
               ("ddpm-conditional", "ddpm-conditional", cond_minutes, [])],
              [("ddpm-fashion", "ddpm-fashion", args.minutes, []),
               ("homl-vae", "homl-vae", args.vae_minutes, []),
               ("latent-diffusion", "latent-diffusion", args.latent_minutes, [f"model.autoencoder={root / 'homl-vae'}"])]]
    if args.jobs == 1:
        queues = [queues[0] + queues[1]]

    def parallel(calls):
        procs = [Process(target=target, args=a) for target, a in calls]
        for p in procs:
            p.start()
        for p in procs:
            p.join()

    if "train" in phases:
        parallel([(train_queue, (q, root)) for q in queues])
    if "eval" in phases:
        names = [["ddpm-linear", "ddpm-conditional"], ["ddpm-fashion", "latent-diffusion"]]
        parallel([(eval_queue, (n, root, args.samples)) for n in (names if args.jobs == 2 else [sum(names, [])])])
    n = args.tradeoff_samples
    ddpm_job = (tradeoff, (root, [(s, k, None) for s, k in TRADEOFF if s == "ddpm"], "ddpm-linear", n,
                           "tradeoff-ddpm.json"))
    rest_job = (tradeoffs, ([(root, [(s, k, None) for s, k in TRADEOFF if s == "ddim"], "ddpm-linear", n,
                              "tradeoff-ddim.json"),
                             (root, [("ddim", 50, g) for g in GUIDANCE], "ddpm-conditional", n, "guidance.json")],))
    respaced_job = (tradeoff, (root, [(s, k, None) for s, k in RESPACED], "ddpm-linear", n,
                               "tradeoff-ddpm-respaced.json"))
    if "tradeoff" in phases:
        parallel([ddpm_job, rest_job])
        parallel([respaced_job])
    elif "tradeoff-respaced" in phases:
        parallel([respaced_job])
    elif "guidance" in phases:
        tradeoff(root, [("ddim", 50, g) for g in GUIDANCE], "ddpm-conditional", n, "guidance.json")
    elif "tradeoff-ddpm" in phases:
        parallel([ddpm_job])
    elif "tradeoff-rest" in phases:
        parallel([rest_job])
    if "timing" in phases:
        timing(root, "ddpm-linear", "timing.json")
    if "report" in phases:
        report(root)


def report(root: Path) -> None:
    out: dict = {}
    rows = []
    for name in ("ddpm-linear", "ddpm-fashion", "ddpm-conditional", "latent-diffusion", "homl-vae"):
        run = root / name
        if not (run / "train_summary.json").exists():
            continue
        s = json.loads((run / "train_summary.json").read_text())
        e = json.loads((run / "eval.json").read_text()) if (run / "eval.json").exists() else {"metrics": {}}
        m = e["metrics"]
        batch = yaml.safe_load((run / "config.yaml").read_text())["batch_size"]
        row = {"run": name, "steps": s["steps"], "epochs": s["epochs"], "cpu_s": s["cpu_s"],
               "train_img_per_cpu_s": round(s["steps"] * batch / s["cpu_s"], 1), "fid": m.get("fid", {}).get("value"),
               "kid": m.get("kid", {}).get("value"), "precision": m.get("pr", {}).get("precision"),
               "recall": m.get("pr", {}).get("recall"), "is": m.get("is", {}).get("value"),
               "memorization_ratio": m.get("memorization", {}).get("ratio"),
               "vlb_bits_per_dim": m.get("vlb", {}).get("bits_per_dim"),
               "vlb_stderr_bits": m.get("vlb", {}).get("bits_per_dim_stderr")}
        rows.append(row)
    out["runs"] = rows
    for key, file in (("tradeoff", ("tradeoff-ddpm.json", "tradeoff-ddpm-respaced.json", "tradeoff-ddim.json")),
                      ("guidance", ("guidance.json",))):
        out[key] = [r for f in file if (root / f).exists() for r in json.loads((root / f).read_text())]
    timing_rows = json.loads((root / "timing.json").read_text()) if (root / "timing.json").exists() else []
    for r in out["tradeoff"]:
        r["seconds_64"] = next((x["seconds_64"] for x in timing_rows if (x["sampler"], x["steps"]) ==
                                (r["sampler"], r["steps"])), None)
    if out["tradeoff"]:
        ref = next((r for r in out["tradeoff"] if r["sampler"] == "ddpm"), None)
        for r in out["tradeoff"]:
            r["fid_vs_ddpm"] = r["fid"] / ref["fid"] if ref else None
    (root / "diffusion-report.json").write_text(json.dumps(out, indent=2))

    def fmt(v, spec=".3g"):
        return "—" if v is None else format(v, spec)
    print("| run | steps | epochs | CPU s | train img/CPU-s | FID | KID | precision | recall | IS | memo ratio | VLB bits/dim |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['steps']} | {r['epochs']} | {r['cpu_s']:.0f} | {r['train_img_per_cpu_s']} | {fmt(r['fid'])} | "
              f"{fmt(r['kid'])} | {fmt(r['precision'])} | {fmt(r['recall'])} | {fmt(r['is'])} | "
              f"{fmt(r['memorization_ratio'])} | {fmt(r['vlb_bits_per_dim'], '.3f')} |")
    if out["tradeoff"]:
        print("\n| sampler | steps | s / 64 images | FID | FID / FID(DDPM-1000) | KID |")
        print("|---|---|---|---|---|---|")
        for r in out["tradeoff"]:
            print(f"| {r['sampler']} | {r['steps']} | {r['seconds_64']} | {r['fid']:.2f} | {fmt(r['fid_vs_ddpm'])} | "
                  f"{r['kid']:.4f} ± {r['kid_std']:.4f} |")
    if out["guidance"]:
        print("\n| guidance | FID | KID | label accuracy |")
        print("|---|---|---|---|")
        for r in out["guidance"]:
            print(f"| {r['guidance']} | {r['fid']:.2f} | {r['kid']:.4f} ± {r['kid_std']:.4f} | "
                  f"{fmt(r.get('label_accuracy'))} |")


if __name__ == "__main__":
    main()
