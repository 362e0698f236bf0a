"""GPT measurements on one thread: training tokens/s and the achieved fraction of this machine's fp32 matmul
rate, and sampling time with and without the key/value cache.

FLOPs are counted two ways, both reported:

* **model count**: per training token 3 × (2 · linear weights + attention), the linear weights being every
  block's and the (tied) output layer's (``Transformer.matmul_flops_per_token``: "6·N plus attention", with N
  the weights that multiply activations -- embedding look-ups are not matmuls); attention's QKᵀ and weights·V at
  the causal mean of (T + 1) / 2 keys per query;
* **counted**: PyTorch's FLOP formulas over one real training step (``bench.StepFlops``): what the kernels are
  asked to do (the fused attention is counted at the full T × T, masked half included).

The ceiling is the 1024 × 1024 fp32 matmul of ``benchmarks/bench.py`` (``matmul_gflops``) measured in the same
process on the same thread, before and after the training measurement.

    python benchmarks/gpt.py --out bench-results/gpt.json            # gpt-shakespeare-char, 1 thread
    python benchmarks/gpt.py --recipe gpt-shakespeare-char-large --sample-lengths 256

Held-out loss against CPU minutes, per checkpoint, is ``benchmarks/text_loss_vs_cpu.py`` (any text model).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import StepFlops, _timed, machine, matmul_gflops  # noqa: E402


def build(recipe: str, overrides: list[str]):
    """The recipe's model on its data (tokeniser fitted, as ``genzoo train`` does), the data and the config."""
    from genzoo.config import config_from_recipe
    from genzoo.data.tokens import load_tokens
    from genzoo.models import build_model, model_families

    cfg = config_from_recipe(recipe, overrides)
    data = load_tokens(cfg.data, "train")
    family = model_families()[cfg.model["family"]]
    model = build_model(family.configure(dict(cfg.model), data.spec))
    model.attach_spec(data.spec)
    return model, data, cfg


def bench_training(model, data, cfg, seconds: float) -> dict:
    import torch

    from genzoo.training.gradient import flat_parameters, make_optimizer

    groups = model.parameter_groups()
    opt = make_optimizer(cfg.optim["model"], groups["model"])
    params = flat_parameters(groups["model"])
    g = torch.Generator().manual_seed(0)
    w = data.window

    def batch():
        idx = torch.randint(0, len(data), (cfg.batch_size,), generator=g)
        return data.gather(idx, cfg.data, "01", torch.device("cpu"))

    def step() -> None:
        out = model.loss(batch())
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip or 1e9)
        opt.step()

    model.train()
    with StepFlops() as counter:
        step()
    seconds_per_step, steps = _timed(step, seconds)
    tokens = cfg.batch_size * w
    model_flops = 3 * model.net.matmul_flops_per_token(w) * tokens
    return {"batch": cfg.batch_size, "context": w, "steps_timed": steps, "s_per_step": round(seconds_per_step, 4),
            "tokens_per_s": round(tokens / seconds_per_step, 1),
            "model_gflop_per_step": round(model_flops / 1e9, 3), "counted_gflop_per_step": round(counter.total / 1e9, 3),
            "model_gflops": round(model_flops / seconds_per_step / 1e9, 2),
            "counted_gflops": round(counter.total / seconds_per_step / 1e9, 2)}


def bench_sampling(model, lengths: list[int], n: int, repeats: int) -> list[dict]:
    import torch

    model.eval()
    rows = []
    for length in lengths:
        row = {"tokens": length, "texts": n}
        for cached in (True, False):
            times = []
            for r in range(repeats):
                t0 = time.perf_counter()
                ids = model.sample(n, generator=torch.Generator().manual_seed(r), max_tokens=length,
                                   kv_cache=cached, temperature=1.0)
                times.append(time.perf_counter() - t0)
            row["cached_s" if cached else "uncached_s"] = round(min(times), 3)
            row["generated" if cached else "generated_uncached"] = int((ids > 0).sum())
        row["speedup"] = round(row["uncached_s"] / row["cached_s"], 2)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="gpt-shakespeare-char")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--seconds", type=float, default=20.0, help="Training steps are timed for at least this long.")
    ap.add_argument("--sample-lengths", type=int, nargs="*", default=[256, 1024])
    ap.add_argument("--sample-n", type=int, default=1, help="Texts drawn at once (one batch).")
    ap.add_argument("--repeats", type=int, default=3, help="Sampling runs per setting (the fastest is reported).")
    ap.add_argument("--skip-training", action="store_true", help="Measure sampling only.")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    model, data, cfg = build(args.recipe, args.overrides)
    # sampling must not stop at the story marker: time exactly the asked-for number of tokens
    model.config.stop_id = -1
    load = os.getloadavg()
    ceiling_before = matmul_gflops("float32")
    train = None if args.skip_training else bench_training(model, data, cfg, args.seconds)
    ceiling_after = matmul_gflops("float32")
    ceiling = max(ceiling_before, ceiling_after)
    if train is not None:
        train["fraction_of_fp32_matmul_model_count"] = round(train["model_gflops"] / ceiling, 3)
        train["fraction_of_fp32_matmul_counted"] = round(train["counted_gflops"] / ceiling, 3)
    sampling = bench_sampling(model, args.sample_lengths, args.sample_n, args.repeats)
    result = {"machine": machine(), "threads": 1, "recipe": args.recipe, "overrides": args.overrides,
              "parameters": sum(p.numel() for p in model.parameters()), "vocab_size": model.config.vocab_size,
              "load_average_at_start": [round(x, 2) for x in load],
              "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
              "matmul_fp32_gflops": [round(ceiling_before, 1), round(ceiling_after, 1)],
              "training": train, "sampling": sampling}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
