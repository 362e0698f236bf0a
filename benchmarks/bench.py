"""Throughput benchmark for every recipe: training and sampling images/s, peak memory, and the FLOP
rate achieved as a fraction of an fp32 matmul measured in the same process (this machine's practical
ceiling). Also the trainer's overhead over a bare step, and the channels_last / bf16 variants.

Each (recipe, threads, variant) runs in its own subprocess so peak memory is per model. Prints and
writes JSON. 1-thread figures are stable; 2-thread figures are noisy on shared machines — use
``--repeats`` and read the medians.

    python benchmarks/bench.py --out bench-results/bench.json               # everything
    python benchmarks/bench.py --recipes vae-digits homl-dcgan --threads 1  # a subset
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def matmul_gflops(dtype_name: str = "float32", n: int = 1024, seconds: float = 1.0) -> float:
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


class StepFlops:
    """Counts FLOPs of every aten op with PyTorch's FLOP formulas (``torch.utils.flop_counter``).

    ``FlopCounterMode`` itself also tracks modules with backward hooks, which ``autograd.grad(...,
    create_graph=True)`` (the WGAN-GP penalty) does not support; a plain dispatch mode has no hooks.
    """

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils.flop_counter import FlopCounterMode

        registry = FlopCounterMode(display=False).flop_registry
        outer = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                formula = registry.get(func._overloadpacket)
                if formula is not None:
                    outer.total += formula(*args, **kwargs, out_val=out)
                return out

        self.total = 0
        self._mode = _Mode()

    def __enter__(self) -> "StepFlops":
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)


def _timed(fn, min_seconds: float, min_iters: int = 3) -> tuple[float, int]:
    """Run ``fn`` for at least ``min_seconds``; returns (seconds per call, calls)."""
    fn()  # warm-up (allocator, oneDNN primitive cache)
    fn()
    n, t0 = 0, time.perf_counter()
    while n < min_iters or time.perf_counter() - t0 < min_seconds:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n, n


def _throwaway_autoencoder(run_dir: Path) -> Path:
    """A one-step ``homl-vae`` run for latent recipes: their throughput does not depend on its weights."""
    from genzoo.runs import config_from_recipe, train

    cfg = config_from_recipe("homl-vae", ["tensorboard=false", "sample_n=0", "data.limit=256"], max_steps=1)
    return train(cfg, run_dir, progress=False)[0]


def bench_one(recipe: str, threads: int, variant: str, seconds: float, batch_size: int | None,
              sets: list[str] | None = None) -> dict:
    """Measure one recipe in this process (called in a fresh subprocess); ``sets`` are ``--set`` overrides."""
    import torch
    from genzoo.data import load_data
    from genzoo.runs import config_from_recipe, prepare_model
    from genzoo.training.trainer import make_trainer

    torch.set_num_threads(threads)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    overrides = ["tensorboard=false", "sample_every_epoch=false", "checkpoint_every=1000000000",
                 "checkpoint_every_epoch=false", "sample_n=0"]
    if variant in ("bf16", "bf16+cl"):
        overrides.append("precision=bf16")
    if variant in ("channels_last", "bf16+cl"):
        overrides.append("channels_last=true")
    if batch_size:
        overrides.append(f"batch_size={batch_size}")
    overrides += list(sets or [])
    out_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"genzoo-bench-{os.getpid()}"
    cfg = config_from_recipe(recipe, overrides)
    if cfg.model.get("space") == "latent" and not cfg.model.get("autoencoder"):
        cfg.model["autoencoder"] = str(_throwaway_autoencoder(out_dir / "autoencoder"))
    cfg.data.limit = 4096 if cfg.data.limit is None else min(cfg.data.limit, 4096)
    model = prepare_model(cfg)
    data = load_data(cfg.data, type(model).data_hints(cfg.model))
    trainer = make_trainer(cfg, out_dir, model, data)
    ceiling = matmul_gflops("float32")
    from genzoo.training.loop import fast_bf16_available

    # Without native bf16 the matmul is emulated (~1 GFLOP/s): a small, short measurement says so.
    ceiling_bf16 = (matmul_gflops("bfloat16") if fast_bf16_available(torch.device("cpu"))
                    else matmul_gflops("bfloat16", n=256, seconds=0.3))

    # The loop calls the per-step hook before every step (ProGAN's phase and fade-in): so does the benchmark, and
    # a few warm-up steps move a schedule as far as the recipe's overrides make it go.
    counter_steps = iter(range(10 ** 12))

    def one_step() -> None:
        model.before_step(next(counter_steps), 10 ** 12)
        with trainer.autocast:
            trainer.train_step()

    for _ in range(8):
        one_step()
    # FLOPs of one training step (all phases), counted once.
    with StepFlops() as counter:
        one_step()
    step_flops = counter.total

    # Bare step: the same train_step with batches prepared in advance (no stream, no metrics, no checks).
    batches = [trainer.stream.next() for _ in range(8 * trainer.batches_per_step)]
    it = iter(range(10 ** 12))
    trainer._next_batch = lambda: batches[next(it) % len(batches)]  # type: ignore[method-assign]

    bare_s, _ = _timed(one_step, seconds)
    images_per_step = cfg.batch_size * trainer.batches_per_step

    # Full trainer loop (stream, metrics every log_every steps, NaN guard) on the same model.
    # Checkpoint and sample-grid writes are timed separately: they happen every `checkpoint_every`
    # steps and at epoch ends, not every step, so they would distort a few-second loop.
    trainer2 = make_trainer(cfg, out_dir, model, data)
    t0 = time.perf_counter()
    trainer2.save()
    checkpoint_s = time.perf_counter() - t0
    trainer2.save = lambda *a, **k: None  # type: ignore[method-assign]
    trainer2.write_samples = lambda *a, **k: None  # type: ignore[method-assign]
    steps = max(10, int(seconds / bare_s))
    t0 = time.perf_counter()
    trainer2.fit(max_steps=trainer2.step + steps, progress=False)
    loop_s = (time.perf_counter() - t0) / steps

    model.eval()
    n_sample = 64

    from genzoo.models.capabilities import Samples, Translates, supports

    inputs = torch.rand(n_sample, *model.config.input_shape) * 2 - 1

    def sample() -> None:
        """``n_sample`` samples, or for a translator ``n_sample`` translations (batch 64, the first direction)."""
        with torch.inference_mode():
            if supports(model, Samples):
                model.sample(n_sample, generator=torch.Generator().manual_seed(0))
            elif supports(model, Translates):
                model.translate(inputs, direction=model.directions[0])

    sample_s, _ = _timed(sample, min(seconds, 3.0), 2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gflops = step_flops / bare_s / 1e9
    return {
        "recipe": recipe, "variant": variant, "threads": threads, "batch_size": cfg.batch_size,
        "train_images_per_s_bare": round(images_per_step / bare_s, 1),
        "train_images_per_s_trainer": round(images_per_step / loop_s, 1),
        "trainer_overhead_pct": round(100 * (loop_s - bare_s) / bare_s, 1),
        "sample_images_per_s": round(n_sample / sample_s, 1),
        "checkpoint_write_s": round(checkpoint_s, 3),
        "step_gflop": round(step_flops / 1e9, 3),
        "achieved_gflops": round(gflops, 1),
        "matmul_fp32_gflops": round(ceiling, 1),
        "matmul_bf16_gflops": round(ceiling_bf16, 1),
        "fraction_of_fp32_matmul": round(gflops / ceiling, 3),
        "peak_rss_mb": round(peak / 1024, 1),
        "peak_rss_over_import_mb": round((peak - base_rss) / 1024, 1),
    }


def main() -> None:
    from genzoo.config import available_recipes

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipes", nargs="*", default=None)
    p.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    p.add_argument("--variants", nargs="*", default=["fp32", "channels_last", "bf16", "bf16+cl"])
    p.add_argument("--repeats", type=int, default=1, help="Repeat each measurement; medians are reported.")
    p.add_argument("--seconds", type=float, default=4.0, help="Minimum timed seconds per measurement.")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="Config override for every recipe (e.g. model.fade_images=1 to time ProGAN at full size).")
    p.add_argument("--out", type=Path)
    p.add_argument("--one", nargs=3, metavar=("RECIPE", "THREADS", "VARIANT"), help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.one:
        recipe, threads, variant = args.one
        print(json.dumps(bench_one(recipe, int(threads), variant, args.seconds, args.batch_size, args.sets)))
        return

    recipes = args.recipes or available_recipes()
    results = []
    for recipe in recipes:
        for threads in args.threads:
            for variant in args.variants:
                runs = []
                for _ in range(args.repeats):
                    cmd = [sys.executable, __file__, "--one", recipe, str(threads), variant,
                           "--seconds", str(args.seconds)]
                    if args.batch_size:
                        cmd += ["--batch-size", str(args.batch_size)]
                    cmd += [f"--set={s}" for s in args.sets]
                    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
                    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
                    if proc.returncode != 0:
                        print(f"{recipe} {threads} {variant}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
                        break
                    runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                if not runs:
                    continue
                row = dict(runs[0])
                for key, value in runs[0].items():
                    if isinstance(value, float):
                        row[key] = round(statistics.median(r[key] for r in runs), 3)
                row["repeats"] = len(runs)
                results.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


def machine() -> dict:
    """CPU model and SIMD level: throughput differs a lot between machines of one kind."""
    import torch

    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cores": os.cpu_count(), "torch": torch.__version__}


if __name__ == "__main__":
    main()
