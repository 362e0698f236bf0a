"""Where one training step (or one sampling step) of a recipe spends its time: ``torch.profiler`` on the
bare ``train_step`` (batches prepared in advance, no metrics or checkpoints), the ops ranked by self CPU
time, their share of the total, the FLOPs of the step and the median step time.

    python benchmarks/profile_step.py pixelcnn-fashion16 --threads 1
    python benchmarks/profile_step.py ddpm-fashion --threads 1 --sample ddim   # one DDIM step of 64 images

Self CPU time is the time inside an op minus its children, so the shares add up to the whole step:
``aten::mkldnn_convolution`` / ``aten::addmm`` / ``aten::bmm`` are arithmetic, ``aten::copy_`` /
``aten::cat`` / ``aten::constant_pad_nd`` / ``aten::contiguous`` are data movement.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ARITHMETIC = ("conv", "addmm", "mm", "bmm", "matmul", "linear", "attention", "baddbmm")


def build(recipe: str, overrides: list[str], limit: int = 1024):
    """A trainer on ``limit`` training images with nothing but the step running."""
    from genzoo.data import load_images
    from genzoo.runs import config_from_recipe, prepare_model
    from genzoo.training.trainer import make_trainer
    import tempfile

    cfg = config_from_recipe(recipe, ["tensorboard=false", "sample_n=0", "checkpoint_every=1000000000",
                                      "checkpoint_every_epoch=false", "sample_every_epoch=false", *overrides])
    cfg.data.limit = limit if cfg.data.limit is None else min(cfg.data.limit, limit)
    model = prepare_model(cfg)
    data = load_images(cfg.data, tuple(model.config.input_shape))
    trainer = make_trainer(cfg, Path(tempfile.mkdtemp(prefix="genzoo-profile-")), model, data)
    batches = [trainer.stream.next() for _ in range(4 * trainer.batches_per_step)]
    for b in batches:
        if cfg.channels_last and b.x.dim() == 4:
            b.x = b.x.contiguous(memory_format=__import__("torch").channels_last)
    it = iter(range(10 ** 12))
    trainer._next_batch = lambda: batches[next(it) % len(batches)]  # type: ignore[method-assign]
    return cfg, trainer


def step_fn(trainer, sample: str | None, n_sample: int):
    """The function to profile: one bare training step, or one reverse step of a diffusion sampler."""
    import torch

    if not sample:
        def train() -> None:
            with trainer.autocast:
                trainer.train_step()
        return train
    model = trainer.model
    model.eval()
    settings = model.settings(sample, steps=50)
    denoise = model.denoiser(model._condition(n_sample, None), model.config.guidance)
    from genzoo.schedulers.samplers import reverse_step, timesteps

    ts = timesteps(model.config.timesteps, 50)
    x = torch.randn(model.noise_shape(n_sample))
    if trainer.cfg.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def one_step() -> None:
        t, s = ts[10], ts[11]
        x0, eps = denoise(x, torch.full((n_sample,), t, dtype=torch.long))
        reverse_step(settings, model.schedule, x, t, s, x0, eps, None)
    return one_step


def profile(fn, steps: int, top: int) -> dict:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    for _ in range(3):
        fn()
    times = []
    for _ in range(max(steps, 5)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    with tprofile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            fn()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: -e.self_cpu_time_total)
    rows = [{"op": e.key, "calls_per_step": e.count / steps,
             "self_ms_per_step": round(e.self_cpu_time_total / steps / 1000, 3),
             "share": round(e.self_cpu_time_total / total, 4)} for e in events[:top]]
    arithmetic = sum(e.self_cpu_time_total for e in events if any(a in e.key.lower() for a in ARITHMETIC))
    return {"step_ms_median": round(1000 * statistics.median(times), 2), "ops_per_step": round(
        sum(e.count for e in events) / steps, 1), "arithmetic_share": round(arithmetic / total, 4), "top": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=5, help="Profiled steps (after 3 warm-up steps).")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--sample", choices=["ddpm", "ddim"], help="Profile one reverse step of this sampler instead.")
    p.add_argument("--sample-n", type=int, default=64)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import torch
    from bench import StepFlops

    torch.set_num_threads(args.threads)
    cfg, trainer = build(args.recipe, args.overrides)
    fn = step_fn(trainer, args.sample, args.sample_n)
    with StepFlops() as counter:
        fn()
    result = {"recipe": args.recipe, "what": f"{args.sample} step of {args.sample_n}" if args.sample else
              f"train step, batch {cfg.batch_size}", "threads": args.threads, "gflop_per_step":
              round(counter.total / 1e9, 3), **profile(fn, args.steps, args.top)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['recipe']}: {result['what']}, {args.threads} thread(s): {result['step_ms_median']} ms/step "
          f"(median), {result['gflop_per_step']} GFLOP/step, {result['ops_per_step']} ops/step, "
          f"arithmetic ops {100 * result['arithmetic_share']:.1f} % of self CPU time")
    print(f"{'op':<44} {'calls/step':>10} {'self ms/step':>12} {'share':>7}")
    for r in result["top"]:
        print(f"{r['op'][:44]:<44} {r['calls_per_step']:>10.1f} {r['self_ms_per_step']:>12.3f} {100 * r['share']:>6.1f}%")


if __name__ == "__main__":
    main()
