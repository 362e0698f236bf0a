"""genzoo's GAN training step side by side with PyTorch-GAN's DCGAN and WGAN-GP scripts, at their architecture.

    python benchmarks/side_by_side_gan.py --ref-dir PATH/PyTorch-GAN --rounds 5 [--out side_by_side_gan.json]

``--ref-dir`` is a checkout of eriklindernoren/PyTorch-GAN. Its ``implementations/dcgan/dcgan.py`` and
``implementations/wgan_gp/wgan_gp.py`` are scripts that parse arguments and train at import, so nothing is imported
from them: each file is parsed with ``ast``; the argparse defaults become the ``opt`` namespace; the script's own
statements run as written (imports, model classes, weight init, loss, Adam optimizers, gradient-penalty helper)
except the torchvision imports, ``os.makedirs``/``print(opt)`` and the MNIST ``DataLoader``; and the script's
training ``for epoch`` loop is executed as written over a list of prepared batches (one epoch), with ``print`` and
``save_image`` replaced by no-ops. So the reference step is exactly the script's: DCGAN runs the generator phase and
then the discriminator phase on the same (detached) fakes, BCE on a sigmoid; WGAN-GP runs one critic update per
batch (its fakes are not detached, so the critic loss also back-propagates through the generator) and every
``n_critic``-th batch one generator update with a second generator forward, λ = 10.

genzoo's side is the recipe ``homl-dcgan`` / ``wgangp-faces`` with ``--set`` overrides that give the reference's
networks (printed as a ``genzoo train`` command), built and trained through ``genzoo.runs``' set-up (one fixed
thread, the allocator tuning) and ``Trainer.fit`` (the loop ``genzoo train`` runs, with its reuse of the generator
fakes), checkpoints and sample grids switched off. Both sides see the same tensors: Fashion-MNIST in [-1, 1]
(resized to 32×32 for the DCGAN, as the reference's ``Resize(img_size)``) or ``--data random``.

Each side runs in its own process on one intra-op thread, pinned to ``--cpu`` (or the parent's affinity, e.g.
``taskset -c 0``); the rounds alternate reference, genzoo, reference, genzoo ... on the same amount of work after a
warm-up; medians and the min–max spread are reported, by wall time and by process CPU time. Images/s counts real
images consumed (a WGAN-GP step of n_critic = 5 critic batches of 64 is 320 images, as in the reference's loop).

What is the same and what is not (parameter counts are printed and must match):

* DCGAN: the same layers and sizes (G: Linear 100→128·8·8, BN, 2× [Upsample ×2, Conv 3×3, BN, LeakyReLU 0.2],
  Conv 3×3 → 1, tanh; D: 4× Conv 3×3 stride 2 (16-32-64-128) with LeakyReLU 0.2, dropout 0.25 and BN on all but
  the first, Linear 512→1). Differences that cost the same: the last generator layer is a stride-1
  ConvTranspose2d (genzoo builds Foster's ``Conv2DTranspose`` where there is no upsampling; same weights count and
  FLOPs), genzoo's discriminator orders Conv → BN → LeakyReLU → element dropout where the reference has Conv →
  LeakyReLU → channel dropout (``Dropout2d``) → BN, BatchNorm eps 1e-3 where the reference has 1e-5 / 0.8, the
  sigmoid is folded into BCE-with-logits, and genzoo trains the discriminator phase first (then the generator on
  the same fakes) where the reference trains the generator first.
* WGAN-GP: the same MLPs (G: 100→128→256→512→1024→784 with BN on the last three hidden layers, LeakyReLU, tanh;
  critic 784→512→256→1, LeakyReLU), Adam 2e-4 (0.5, 0.999), λ = 10, n_critic = 5, a per-sample α. Differences that
  cost the same: LeakyReLU slope 0.3 in genzoo's dense stacks (0.2 in the reference), BN eps 1e-3 (0.8), Adam eps
  1e-8 is set to match. Differences in work: genzoo draws the first four critic batches' fakes without gradients and
  reuses the last critic batch's fakes for the generator update; the reference back-propagates every critic loss
  into the generator (gradients it then discards) and runs the generator forward a second time for its update.

| model | params G / D (reference) | params G / D (genzoo) | GFLOP/image ref / genzoo | reference img/s | genzoo img/s | ratio (per round) | ratio, CPU time |
|---|---|---|---|---|---|---|---|
| dcgan | 1,049,985 / 98,113 | 1,049,985 / 98,113 | 0.7027 / 0.3762 | 38 (35–41) | 67 (62–76) | 1.77× (1.49–2.13) | 1.81× (1.75–1.84) |
| wgan-gp | 1,510,032 / 533,505 | 1,510,032 / 533,505 | 0.0234 / 0.0158 | 1,103 (919–1,432) | 1,974 (1,643–2,252) | 1.63× (1.52–2.15) | 1.70× (1.46–1.73) |

Measured with ``taskset -c 0 ... --rounds 7`` (batch 64, Fashion-MNIST, rounds of ~4 s per side, medians and
min–max; the ratio column is per round, genzoo's round over the reference round just before it) on a 2-core VM
whose load average was 5-6: two test suites unpinned on both cores and another side-by-side benchmark on the other
core, so the absolute rates are about half of an idle core's (an idle probe gave the reference DCGAN 88 img/s and
WGAN-GP 2,370 img/s) and the spread is wide; the ratios are what the interleaving protects. GFLOP/image is counted
by PyTorch's FLOP formulas over one n_critic cycle: genzoo's DCGAN does half the reference's arithmetic because its
generator computes Upsample ×2 + Conv 3×3 as one conv of the original map (``genzoo.nn.UpsampleConv2d``, the same
function and weights, 4/9 of the multiply-adds); its WGAN-GP does two thirds because it neither back-propagates the
critic loss into the generator nor runs the generator twice. Both sides use Adam with the script's settings; the
reference gets torch's CPU default (one tensor at a time), genzoo its fused Adam. Before the fused conv and the fused
Adam, a one-round probe on a quieter machine gave genzoo 1.42× (DCGAN at the same 0.70 GFLOP/image, with genzoo's
optimizers then left at the recipe's RMSprop by mistake) and 1.43× (WGAN-GP).
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

REFERENCE_FILES = {"dcgan": "implementations/dcgan/dcgan.py", "wgan-gp": "implementations/wgan_gp/wgan_gp.py"}
IMAGE_SIZE = {"dcgan": 32, "wgan-gp": 28}   # the scripts' --img_size defaults
N_CRITIC = {"dcgan": 1, "wgan-gp": 5}


def genzoo_overrides(model: str, batch_size: int) -> tuple[str, list[str]]:
    """The recipe and ``--set`` overrides that give PyTorch-GAN's networks and optimizer settings."""
    adam = ["optim.discriminator.name=adam", "optim.generator.name=adam", "optim.discriminator.lr=0.0002", "optim.discriminator.betas=[0.5,0.999]", "optim.discriminator.eps=1e-8",
            "optim.generator.lr=0.0002", "optim.generator.betas=[0.5,0.999]", "optim.generator.eps=1e-8"]
    common = ["data.name=fashion-mnist", f"batch_size={batch_size}", "num_threads=1"]
    if model == "dcgan":
        return "homl-dcgan", common + adam + [
            "data.image_size=32", "model.input_shape=[1,32,32]", "model.init=normal", "model.leaky_slope=0.2",
            "model.d_filters=[16,32,64,128]", "model.d_kernels=[3,3,3,3]", "model.d_strides=[2,2,2,2]",
            "model.d_activation=leaky_relu", "model.d_dropout=0.25", "model.d_batch_norm=0.9",
            "model.g_initial_shape=[128,8,8]", "model.g_dense_norm=channels", "model.g_dense_activation=null",
            "model.g_upsample=[2,2,1]", "model.g_filters=[128,64,1]", "model.g_kernels=[3,3,3]",
            "model.g_strides=[1,1,1]", "model.g_activation=leaky_relu", "model.g_batch_norm=0.9",
            "model.g_bn_after_activation=false", "model.output_activation=tanh", "n_critic=1"]
    if model == "wgan-gp":
        return "wgangp-faces", common + adam + [
            "model.arch=dense", "model.input_shape=[1,28,28]", "model.z_dim=100", "model.init=he",
            "model.d_units=[512,256]", "model.d_activation=leaky_relu",
            "model.g_units=[128,256,512,1024]", "model.g_activation=leaky_relu", "model.g_units_batch_norm=0.9",
            "model.output_activation=tanh", "model.gp_weight=10.0", "n_critic=5"]
    raise ValueError(model)


# -- data ---------------------------------------------------------------------------------------------------
def make_images(model: str, batch_size: int, count: int, source: str, seed: int = 0) -> list[Any]:
    """``count`` batches of real images in [-1, 1], N×1×S×S contiguous, the same in every process."""
    import torch

    size = IMAGE_SIZE[model]
    g = torch.Generator().manual_seed(seed)
    if source == "random":
        return [torch.rand(batch_size, 1, size, size, generator=g) * 2 - 1 for _ in range(count)]
    from genzoo.config import DataConfig
    from genzoo.data import load_images
    from genzoo.data.loader import make_batch

    cfg = DataConfig(name="fashion-mnist", image_size=size if size != 28 else None, limit=batch_size * count)
    data = load_images(cfg, (1, size, size))
    order = torch.randperm(len(data), generator=g)
    return [make_batch(data, order[i * batch_size:(i + 1) * batch_size], cfg, "pm1", torch.device("cpu")).x
            .contiguous() for i in range(count)]


# -- the reference script -------------------------------------------------------------------------------------
@dataclass
class ReferenceScript:
    """A PyTorch-GAN training script split into its set-up (run once) and its training loop (run per round)."""

    path: Path
    defaults: dict[str, Any]
    setup: Any          # code object
    loop: Any           # code object of the ``for epoch in range(opt.n_epochs)`` loop
    skipped: list[str] = field(default_factory=list)


def _call_name(node: ast.AST) -> str:
    """``os.makedirs`` for a call of ``os.makedirs(...)`` (dotted name of the callee), else ''."""
    if not isinstance(node, ast.Call):
        return ""
    parts, f = [], node.func
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name):
        parts.append(f.id)
    return ".".join(reversed(parts))


def parse_reference(path: Path) -> ReferenceScript:
    """Split the script: argparse defaults, the statements to run once, the training loop."""
    text = path.read_text()
    tree = ast.parse(text, filename=str(path))
    defaults: dict[str, Any] = {}
    keep: list[ast.stmt] = []
    loop: ast.For | None = None
    skipped: list[str] = []
    for node in tree.body:
        src = (ast.get_source_segment(text, node) or "").splitlines()[0]
        value = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
        call = _call_name(value) if value is not None else ""
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else []
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] == "torchvision" for m in modules):
                skipped.append(src)   # the data pipeline and save_image only
                continue
            keep.append(node)
        elif call == "parser.add_argument":
            name = value.args[0].value.lstrip("-")  # type: ignore[union-attr]
            kw = {k.arg: k.value for k in value.keywords}  # type: ignore[union-attr]
            defaults[name] = ast.literal_eval(kw["default"]) if "default" in kw else None
        elif call in ("argparse.ArgumentParser", "parser.parse_args", "os.makedirs", "print") or \
                "dataloader" in targets:
            skipped.append(src)
        elif isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == "epoch":
            loop = node
        else:
            keep.append(node)
    if loop is None or not defaults:
        raise SystemExit(f"{path}: no argparse defaults or no `for epoch in ...` training loop found; is this "
                         f"PyTorch-GAN's script?")
    setup = compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec")
    loop_code = compile(ast.Module(body=[loop], type_ignores=[]), str(path), "exec")
    return ReferenceScript(path, defaults, setup, loop_code, skipped)


def reference_path(ref_dir: Path, model: str) -> Path:
    path = Path(ref_dir) / REFERENCE_FILES[model]
    if not path.is_file():
        raise SystemExit(f"--ref-dir {ref_dir}: {REFERENCE_FILES[model]} not found; pass the folder of a checkout of "
                         f"https://github.com/eriklindernoren/PyTorch-GAN (the one holding implementations/)")
    return path


class ReferenceSide:
    """The reference script's models and optimizers, and its training loop over given batches."""

    def __init__(self, model: str, ref_dir: Path, batch_size: int, seed: int):
        import numpy as np
        import torch

        self.script = parse_reference(reference_path(ref_dir, model))
        opt = argparse.Namespace(**self.script.defaults)
        opt.batch_size, opt.n_epochs = batch_size, 1
        if opt.img_size != IMAGE_SIZE[model] or opt.channels != 1:
            raise SystemExit(f"{self.script.path}: expected img_size {IMAGE_SIZE[model]} and 1 channel by default")
        torch.manual_seed(seed)
        np.random.seed(seed)
        self.ns: dict[str, Any] = {"__name__": "pytorch_gan_reference", "opt": opt,
                                   "print": lambda *a, **k: None, "save_image": lambda *a, **k: None}
        exec(self.script.setup, self.ns)
        self.n_critic = int(getattr(opt, "n_critic", 1))

    def networks(self) -> dict[str, Any]:
        return {"generator": self.ns["generator"], "discriminator": self.ns["discriminator"]}

    def run(self, batches: list[Any]) -> None:
        """The script's ``for epoch`` loop, one epoch over ``batches`` (as ``(images, labels)`` pairs)."""
        self.ns["dataloader"] = [(x, None) for x in batches]
        exec(self.script.loop, self.ns)


class GenzooSide:
    """genzoo's model and trainer as ``genzoo train RECIPE --set ...`` builds them, fed the given batches."""

    def __init__(self, model: str, batch_size: int, seed: int):
        from genzoo.config import config_from_recipe
        from genzoo.data import load_images
        from genzoo.runs import _setup, prepare_model
        from genzoo.training.distributed import DistInfo
        from genzoo.training.trainer import make_trainer

        recipe, sets = genzoo_overrides(model, batch_size)
        self.command = f"genzoo train {recipe} " + " ".join(f"--set {s}" for s in sets)
        sets = sets + [f"seed={seed}", "tensorboard=false", "sample_n=0", "sample_every_epoch=false",
                       "checkpoint_every=1000000000", "checkpoint_every_epoch=false",
                       f"data.limit={max(batch_size * 4, 256)}"]
        cfg = config_from_recipe(recipe, sets)
        plan = _setup(cfg, DistInfo())          # one fixed thread and the allocator tuning, as `genzoo train`
        self.model = prepare_model(cfg)
        data = load_images(cfg.data, tuple(self.model.config.input_shape))
        self.trainer = make_trainer(cfg, Path(tempfile.mkdtemp(prefix="genzoo-sbs-")), self.model, data, threads=plan)
        self.trainer.save = lambda *a, **k: None              # type: ignore[method-assign]
        self.trainer.write_samples = lambda *a, **k: None     # type: ignore[method-assign]
        self.n_critic = cfg.n_critic
        self._queue: list[Any] = []
        self.trainer._next_batch = self._next_batch           # type: ignore[method-assign]

    def _next_batch(self):
        return self._queue.pop()

    def networks(self) -> dict[str, Any]:
        return {"generator": self.model.generator, "discriminator": self.model.discriminator}

    def run(self, batches: list[Any]) -> None:
        """``Trainer.fit`` for ``len(batches) / n_critic`` steps over ``batches`` (the same layout as its stream)."""
        import torch
        from genzoo.data.loader import Batch

        cl = self.trainer.cfg.channels_last
        self._queue = [Batch(x.contiguous(memory_format=torch.channels_last) if cl else x, None)
                       for x in reversed(batches)]
        steps = len(batches) // self.n_critic
        self.trainer.fit(max_steps=self.trainer.step + steps, progress=False)


# -- worker ---------------------------------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> None:
    """One side in its own process: prints a header, then answers ``run K`` / ``flops`` / ``quit`` lines."""
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    import torch

    torch.set_num_threads(1)
    side = (ReferenceSide(args.model, args.ref_dir, args.batch_size, args.seed) if args.worker == "reference"
            else GenzooSide(args.model, args.batch_size, args.seed))
    torch.set_num_threads(1)
    pool = make_images(args.model, args.batch_size, args.pool, args.data)
    counts = {name: sum(p.numel() for p in net.parameters()) for name, net in side.networks().items()}
    header = {"side": args.worker, "params": counts, "threads": torch.get_num_threads(),
              "command": getattr(side, "command", None),
              "skipped": getattr(getattr(side, "script", None), "skipped", None)}
    print(json.dumps(header), flush=True)
    cursor = 0
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "flops":   # FLOPs of one n_critic cycle, counted by PyTorch's formulas
            from bench import StepFlops

            with StepFlops() as counter:
                side.run(pool[:side.n_critic])
            print(json.dumps({"gflop_per_image": counter.total / 1e9 / (side.n_critic * args.batch_size)}),
                  flush=True)
            continue
        k = int(cmd[1])
        batches = [pool[(cursor + i) % len(pool)] for i in range(k)]
        cursor = (cursor + k) % len(pool)
        t0, c0 = time.perf_counter(), time.process_time()
        side.run(batches)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        images = k * args.batch_size
        print(json.dumps({"images": images, "wall_s": wall, "cpu_s": cpu,
                          "images_per_s": images / wall, "images_per_cpu_s": images / cpu}), flush=True)


class Worker:
    """A worker subprocess and its line protocol."""

    def __init__(self, side: str, args: argparse.Namespace, model: str):
        cmd = [sys.executable, __file__, "--worker", side, "--model", model, "--batch-size", str(args.batch_size),
               "--data", args.data, "--pool", str(args.pool), "--seed", str(args.seed)]
        if args.ref_dir is not None:
            cmd += ["--ref-dir", str(args.ref_dir)]
        if args.cpu is not None:
            cmd += ["--cpu", str(args.cpu)]
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                     cwd=ROOT)
        self.header = self._read()

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise SystemExit(f"worker {self.proc.args[3]} failed (exit {self.proc.wait()}); see its error above")
        return json.loads(line)

    def ask(self, text: str) -> dict[str, Any]:
        self.proc.stdin.write(text + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()             # type: ignore[union-attr]
        return self._read()

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")  # type: ignore[union-attr]
            self.proc.stdin.close()          # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass
        self.proc.wait(timeout=60)


def compare(model: str, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up both sides, size a round to ``--seconds`` of the reference, then alternate rounds."""
    ref, gz = Worker("reference", args, model), Worker("genzoo", args, model)
    try:
        unit = N_CRITIC[model]
        flops = {"reference": ref.ask("flops")["gflop_per_image"], "genzoo": gz.ask("flops")["gflop_per_image"]}
        for w in (ref, gz):            # warm-up: allocator, oneDNN primitive caches, optimizer state
            w.ask(f"run {4 * unit}")
        probe = ref.ask(f"run {4 * unit}")
        per_batch = probe["wall_s"] / (4 * unit)
        k = max(unit, int(round(args.seconds / per_batch / unit)) * unit)
        gz.ask(f"run {k}")
        rounds: dict[str, list[dict[str, Any]]] = {"reference": [], "genzoo": []}
        for _ in range(args.rounds):
            rounds["reference"].append(ref.ask(f"run {k}"))
            rounds["genzoo"].append(gz.ask(f"run {k}"))
    finally:
        ref.close()
        gz.close()

    def stats(side: str, key: str) -> dict[str, float]:
        values = [r[key] for r in rounds[side]]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    out = {"model": model, "batch_size": args.batch_size, "batches_per_round": k, "rounds": args.rounds,
           "params": {"reference": ref.header["params"], "genzoo": gz.header["params"]},
           "gflop_per_image": flops, "genzoo_command": gz.header["command"],
           "reference_skipped_statements": ref.header["skipped"], "per_round": rounds}
    for key in ("images_per_s", "images_per_cpu_s"):
        out[key] = {side: stats(side, key) for side in rounds}
        ratios = [g[key] / r[key] for r, g in zip(rounds["reference"], rounds["genzoo"])]
        out[key]["ratio"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
        out[key]["ratio_of_medians"] = out[key]["genzoo"]["median"] / out[key]["reference"]["median"]
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| model | params G / D (reference) | params G / D (genzoo) | GFLOP/image ref / genzoo | "
             "reference img/s | genzoo img/s | ratio (per round) | ratio, CPU time |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        p = r["params"]
        w, c = r["images_per_s"], r["images_per_cpu_s"]

        def cell(s: dict[str, float]) -> str:
            return f"{s['median']:,.0f} ({s['min']:,.0f}–{s['max']:,.0f})"

        def ratio(s: dict[str, float]) -> str:
            return f"{s['median']:.2f}× ({s['min']:.2f}–{s['max']:.2f})"

        lines.append(f"| {r['model']} | {p['reference']['generator']:,} / {p['reference']['discriminator']:,} | "
                     f"{p['genzoo']['generator']:,} / {p['genzoo']['discriminator']:,} | "
                     f"{r['gflop_per_image']['reference']:.4f} / {r['gflop_per_image']['genzoo']:.4f} | "
                     f"{cell(w['reference'])} | {cell(w['genzoo'])} | {ratio(w['ratio'])} | {ratio(c['ratio'])} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref-dir", type=Path, help="A checkout of eriklindernoren/PyTorch-GAN.")
    p.add_argument("--models", nargs="*", default=["dcgan", "wgan-gp"], choices=sorted(REFERENCE_FILES))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=4.0, help="Length of a round of the reference (each side).")
    p.add_argument("--batch-size", type=int, default=64, help="The scripts' default is 64.")
    p.add_argument("--data", choices=["fashion-mnist", "random"], default="fashion-mnist")
    p.add_argument("--pool", type=int, default=40, help="Distinct batches cycled through.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", type=int, help="Pin both sides to this core (default: the inherited affinity).")
    p.add_argument("--out", type=Path, default=Path("side_by_side_gan.json"))
    p.add_argument("--worker", choices=["reference", "genzoo"], help=argparse.SUPPRESS)
    p.add_argument("--model", choices=sorted(REFERENCE_FILES), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.ref_dir is None:
        p.error("--ref-dir PATH/PyTorch-GAN is required (a checkout of eriklindernoren/PyTorch-GAN)")
    if args.worker:
        worker(args)
        return
    for model in args.models:
        parse_reference(reference_path(args.ref_dir, model))   # a bad --ref-dir fails before any work
    results = []
    for model in args.models:
        r = compare(model, args)
        results.append(r)
        print(f"{model}: {r['genzoo_command']}", file=sys.stderr)
    text = table(results)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"affinity": sorted(os.sched_getaffinity(0)), "cpu": args.cpu,
                                    "results": results, "table": text}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
