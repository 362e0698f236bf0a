"""genzoo side by side with two reference libraries at the same architecture, on one intra-op thread:
pytorch-generative's PixelCNN (training) and Hugging Face diffusers' ``UNet2DModel`` (training) and
``DDIMScheduler`` (sampling).

    python benchmarks/side_by_side_pixel_diffusion.py --pytorch-generative REF/pytorch-generative \\
        --diffusers-python REFVENV/bin/python --rounds 5 --core 1 --out side-by-side.json

``--pytorch-generative`` is a checkout of EugenHotaj/pytorch-generative (the folder holding
``pytorch_generative/``); only ``pytorch_generative/nn`` and ``models/autoregressive/pixel_cnn.py`` (with
``models/base.py``) are imported, so its dataset helpers' dependencies (torchvision, scikit-learn) are not
needed. ``--diffusers-python`` is an interpreter with ``torch`` and ``diffusers`` installed (a separate
virtual environment: diffusers is not a genzoo dependency); it also imports genzoo from this checkout for
the "genzoo's network in diffusers' DDIM loop" row, so it needs genzoo's small dependencies (numpy, pyyaml,
safetensors, tqdm), which diffusers already pulls in.

Each side runs in its own worker process (``taskset -c CORE`` with ``--core``; ``torch.set_num_threads(1)``
and ``OMP_NUM_THREADS=1`` in all of them), set up and warmed up once; then every round times each side in
turn (the order alternates from round to round), so load changes on a shared machine hit both alike. A
round times a fixed number of steps (chosen at warm-up for about ``--seconds`` of work) or one sampling
call. Reported: the median images/s over the rounds with the min-max range, and the median of the
per-round ratios genzoo / reference.

What each row runs:

* **PixelCNN training** — genzoo: the ``pixelcnn-fashion16`` recipe (Foster 2nd ed. ch. 5: mask-A 7×7, 128
  maps, 5 residual blocks 128 → 64 → masked 3×3 → 128, 2 masked 1×1 head layers, 1×1 to a 4-way softmax,
  batch 128 of 16×16 Fashion-MNIST with 4 levels, Adam 5e-4) through ``make_trainer(...).train_step()``, the
  step ``genzoo train`` runs (channels_last, allocator tuning, foreach Adam, as the CLI sets them up).
  pytorch-generative: ``PixelCNN(in_channels=1, out_channels=4, n_residual=5, residual_channels=64,
  head_channels=128)`` — the same mask-A 7×7 → 5 residual blocks, but its head has one 1×1 128 → 128 layer,
  not two, so it has 290,948 parameters against the recipe's 307,460. The ``head_layers=1`` row sets
  genzoo's head to one layer too: 290,948 on both sides, the same layers. Both: cross-entropy over the 4
  levels, Adam(5e-4), the same batch tensors. genzoo's optimizers use PyTorch's ``foreach`` implementation,
  the references PyTorch's CPU default (a loop over the tensors), as each library ships. (pytorch-generative's blocks place the ReLUs before each conv
  and add the residual twice; the convolutions are the same.)
* **U-Net training** — genzoo: the ``ddpm-fashion`` recipe's U-Net (HOML ch. 17: widths 16/32/64/128, one
  residual block per level down and two up, 4-head attention at 8×8 and 4×4 and in the middle, GroupNorm 8,
  T = 4000 cosine schedule, batch 32) with ``model.loss=mse`` and no EMA, through the trainer's step.
  diffusers: ``UNet2DModel`` with the same widths, blocks and attention (``DownBlock2D`` ×2,
  ``AttnDownBlock2D`` ×2 and mirrored up blocks, ``layers_per_block=1``, ``norm_num_groups=8``, 16 channels
  per head, and the 128-wide attentions set to 4 heads of 32 like genzoo's) — 2,737,905 parameters on both
  sides; the one difference is that genzoo computes q, k and v with one 1×1 convolution and diffusers with
  three linear layers (the same weights and FLOPs). Its step is the one of diffusers' unconditional training
  example: ``DDPMScheduler.add_noise``, MSE on ε. Both: NAdam(1e-3), the recipe's optimizer; the same
  batches (28×28 for genzoo, which pads to 32 inside the U-Net; padded to 32×32 with the background value −1
  for diffusers).
* **DDIM sampling**, 64 images, 20 and 50 steps, η = 0, x̂₀ clipped — genzoo: ``load_run`` of a short
  ``ddpm-fashion`` run and ``sample_in_chunks(model, 64, sampler="ddim", steps=N)`` under
  ``torch.inference_mode()``, what ``genzoo sample RUN --sampler ddim --steps N`` runs. diffusers: the
  loop of ``DDIMPipeline.__call__`` (``set_timesteps``, then ``unet(x, t).sample`` and ``scheduler.step``
  per step, under ``torch.no_grad()``) with ``DDIMScheduler(4000, "squaredcos_cap_v2", clip_sample=True)``,
  once around the ``UNet2DModel`` above and once around genzoo's loaded network, so that row differs from
  genzoo's only in the sampler loop.

Results (2-core AMD EPYC KVM machine with AVX-512; every worker pinned to core 1, one thread; torch
2.13.0+cpu on both sides, diffusers 0.42.1; 5 interleaved rounds, about 4 s of training per side and round,
one 64-image sampling call per side and round; another session's test suite ran meanwhile, mostly on core
0)::

    python benchmarks/side_by_side_pixel_diffusion.py --pytorch-generative REF --diffusers-python PY --rounds 5 --core 1

| case | genzoo img/s (min-max) | reference | reference img/s (min-max) | genzoo / reference (min-max; CPU-time ratio) | parameters genzoo / reference |
|---|---|---|---|---|---|
| PixelCNN training, batch 128, 16×16×4 levels | 193 (156-200) | pytorch-generative PixelCNN | 147 (121-154) | **1.30×** (1.29-1.43; 1.30×) | 307,460 / 290,948 |
| PixelCNN training, head_layers=1 (same layers), batch 128 | 212 (202-222) | pytorch-generative PixelCNN | 146 (136-149) | **1.47×** (1.46-1.49; 1.47×) | 290,948 / 290,948 |
| U-Net training (ddpm-fashion), batch 32, MSE, NAdam | 89.8 (88.3-91.9) | diffusers UNet2DModel | 80.7 (77.9-83.3) | **1.13×** (1.06-1.14; 1.13×) | 2,737,905 / 2,737,905 |
| DDIM 20 steps, 64 images | 14.7 (14.3-15.3) | diffusers UNet2DModel + DDIMScheduler | 13.0 (12.2-13.2) | **1.14×** (1.12-1.18; 1.13×) | 2,737,905 / 2,737,905 |
| DDIM 20 steps, 64 images | 15.0 (13.9-15.6) | genzoo's U-Net + diffusers DDIMScheduler | 14.7 (13.9-15.2) | **1.01×** (0.99-1.02; 1.01×) | 2,737,905 / 2,737,905 |
| DDIM 50 steps, 64 images | 5.7 (5.6-6.1) | diffusers UNet2DModel + DDIMScheduler | 5.1 (4.9-5.4) | **1.14×** (1.03-1.18; 1.14×) | 2,737,905 / 2,737,905 |
| DDIM 50 steps, 64 images | 5.9 (5.4-6.1) | genzoo's U-Net + diffusers DDIMScheduler | 5.8 (5.5-6.2) | **0.98×** (0.93-1.08; 0.99×) | 2,737,905 / 2,737,905 |

An earlier run of the same command while 2-3 other test suites and training runs shared both cores (load
average 3.5-5.7, every side at about half its speed, single rounds ±20 %) gave, row by row, 1.43×, 1.47×,
1.04×, 1.14×, 1.02×, 1.11×, 0.88× (0.98× in CPU time): the same picture with wider spreads.

Against the goals (training ≥ 1.5× each reference, DDIM at least as fast as diffusers): DDIM is 1.14× diffusers
at 20 and 50 steps; PixelCNN training at the same layers is 1.47×, 2 % short; the recipe as published (one
more 128 → 128 layer than the reference can be configured with) 1.30×; U-Net training 1.13×, below, for the
reasons measured here:

Where the time goes (``torch.profiler``, self CPU time per step, one thread, each side profiled alone):

* PixelCNN, recipe: genzoo 660 ms a step, 84 % in ``mkldnn_convolution`` + ``convolution_backward`` (593 ms),
  ReLU forward/backward 9 %, the residual adds 2.5 %; pytorch-generative 1,023 ms, 89 % convolutions (935 ms,
  one conv layer fewer). genzoo's convolutions are cheaper because its masked kernels are cropped to the rows
  the mask keeps (7×7 mask A runs as 4×7, 3×3 mask B as 2×3) and run channels_last; the reference convolves
  the full kernels and re-masks its weights in place every forward. In-place ReLUs on the conv outputs were
  tried and measured no faster (191 vs 190 img/s, 8 interleaved rounds in one process), and so were the 1×1
  convolutions as matrix products on the channels_last view (slower: 30 vs 23 ms forward + backward for
  128 → 64 at batch 128), so neither is used. What is left besides convolutions is ReLU and the residual adds,
  memory-bound passes over 16 MB maps.
* U-Net training: genzoo 393 ms a step — convolutions 279 ms (71 %), GroupNorm 33 ms, the NAdam update about
  26 ms (measured alone: foreach NAdam over the 226 tensors; PyTorch has no fused NAdam on the CPU, fused Adam
  would take 8 ms), attention 15 ms, SiLU 13 ms; diffusers 460 ms — convolutions 305 ms plus 20 ms of q/k/v
  matmuls, GroupNorm 13 ms, its (for-loop) NAdam about 30 ms, 21 ms of copies. Even with nothing but its
  convolutions genzoo's step would be 460 / 279 = 1.65× diffusers'; 1.5× needs everything else in 28 ms, while
  GroupNorm at its NCHW speed, a fused-Adam-class update, SiLU and attention alone take about 48 ms. So the
  ceiling in eager PyTorch at this architecture is about 460 / (279 + 48) ≈ 1.4×. genzoo's gap to it: GroupNorm
  (20 ms over the NCHW kernel's time — PyTorch's channels_last GroupNorm takes a slow path for maps under
  1,024 pixels, 2-6× the NCHW kernel at 16×16 and smaller, and converting those maps to NCHW around the norm
  costs more than it saves, measured; a GroupNorm written from tensor reductions was 2-10× slower still),
  the unfused NAdam (18 ms over a fused update), and about 25 ms of adds, concatenations and copies.
  channels_last still wins overall (92 vs 86 img/s for the whole step, interleaved in one process).
* DDIM step (64 images): genzoo's step is convolutions 75 %, GroupNorm 9 %, SiLU 5 %, attention 4.5 %;
  diffusers' convolutions 69 %, SiLU 7 %, copies 6 %, GroupNorm 4 %, q/k/v matmuls 4 %. genzoo's sampler loop
  costs 0.57 ms a step besides the network (0.45 ms of it the unused noise draw at η = 0, kept so that
  multi-chunk sampling draws the same images), the same as diffusers' ``DDIMScheduler.step``: the rows with
  genzoo's network in diffusers' loop are within noise of genzoo's own path.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

PIXEL_FILE = "pytorch_generative/models/autoregressive/pixel_cnn.py"
T_STEPS = 4000   # ddpm-fashion's T
SAMPLE_N = 64

# genzoo overrides shared by every genzoo side: one thread, nothing written during the timed steps.
QUIET = ["tensorboard=false", "sample_n=0", "sample_every_epoch=false", "checkpoint_every=1000000000",
         "checkpoint_every_epoch=false", "num_threads=1"]


# --------------------------------------------------------------------------------------------------------
# The cases: which worker runs what on each side
# --------------------------------------------------------------------------------------------------------
def cases(sample_steps: list[int]) -> list[dict[str, Any]]:
    """Every row of the table: a genzoo side and one or two reference sides, with their specs."""
    pixel_ref = {"worker": "pg", "label": "pytorch-generative PixelCNN", "spec": {"kind": "train-pixelcnn"}}
    rows = [
        {"name": "pixelcnn-train", "what": "PixelCNN training, batch 128, 16×16×4 levels",
         "genzoo": {"kind": "train", "recipe": "pixelcnn-fashion16", "overrides": []},
         "refs": [pixel_ref]},
        {"name": "pixelcnn-head1-train", "what": "PixelCNN training, head_layers=1 (same layers), batch 128",
         "genzoo": {"kind": "train", "recipe": "pixelcnn-fashion16", "overrides": ["model.head_layers=1"]},
         "refs": [pixel_ref]},
        {"name": "unet-train", "what": "U-Net training (ddpm-fashion), batch 32, MSE, NAdam",
         "genzoo": {"kind": "train", "recipe": "ddpm-fashion", "overrides": ["model.loss=mse"], "no_ema": True},
         "refs": [{"worker": "diffusers", "label": "diffusers UNet2DModel", "spec": {"kind": "train-unet"}}]},
    ]
    for steps in sample_steps:
        rows.append({
            "name": f"ddim{steps}-sample", "what": f"DDIM {steps} steps, {SAMPLE_N} images",
            "genzoo": {"kind": "ddim", "steps": steps},
            "refs": [{"worker": "diffusers", "label": "diffusers UNet2DModel + DDIMScheduler",
                      "spec": {"kind": "ddim-unet", "steps": steps}},
                     {"worker": "diffusers", "label": "genzoo's U-Net + diffusers DDIMScheduler",
                      "spec": {"kind": "ddim-genzoo-net", "steps": steps}}]})
    return rows


# --------------------------------------------------------------------------------------------------------
# Workers (one process per library; each answers JSON commands on stdin)
# --------------------------------------------------------------------------------------------------------
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _timed(fn, units: int) -> dict[str, float]:
    """Wall and process CPU seconds of ``units`` calls of ``fn``."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(units):
        fn()
    return {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}


class _Cycle:
    """Stands in for the trainer's batch stream: the same prepared batches over and over (no data pipeline
    in the timed steps, on either side)."""

    def __init__(self, batches: list) -> None:
        self.batches, self.i = batches, 0

    def next(self):
        batch = self.batches[self.i % len(self.batches)]
        self.i += 1
        return batch


class GenzooWorker:
    """genzoo's own code paths: the trainer's ``train_step`` and ``genzoo sample``'s DDIM sampling."""

    def __init__(self, workdir: Path) -> None:
        sys.path.insert(0, str(ROOT))
        self.workdir = workdir
        self.cases: dict[str, Any] = {}
        self.trainers: dict[str, Any] = {}

    def setup(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return self._setup_train(name, spec) if spec["kind"] == "train" else self._setup_ddim(name, spec)

    def _setup_train(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        import torch
        from genzoo.data import load_images
        from genzoo.runs import _fresh, _setup, config_from_recipe, prepare_model
        from genzoo.training.distributed import DistInfo
        from genzoo.training.trainer import make_trainer

        overrides = QUIET + spec["overrides"] + (["ema_decay=null"] if spec.get("no_ema") else [])
        cfg = config_from_recipe(spec["recipe"], overrides)
        cfg.data.limit = 2048
        plan = _setup(cfg, DistInfo())              # what `genzoo train` does first: allocator, threads
        model = prepare_model(_fresh(cfg))
        data = load_images(cfg.data, tuple(model.config.input_shape))
        trainer = make_trainer(cfg, self.workdir / name, model, data, DistInfo(), plan)
        batches = [trainer.stream.next() for _ in range(8)]
        data_file = self.workdir / f"{name}-batches.pt"
        torch.save([b.x.contiguous().clone() for b in batches], data_file)
        trainer.stream = _Cycle(batches)            # type: ignore[assignment]

        def step() -> None:                         # the body of Trainer.fit's loop
            with trainer.autocast:
                trainer.train_step()

        self.cases[name], self.trainers[name] = (step, cfg.batch_size), trainer
        for _ in range(2):
            step()
        return {"params": sum(p.numel() for p in model.parameters()), "batch_size": cfg.batch_size,
                "data_file": str(data_file), "threads": torch.get_num_threads(),
                "config": f"{spec['recipe']} " + " ".join(f"--set {o}" for o in spec["overrides"])}

    def _trained_ddpm_run(self) -> Path:
        """A short ``ddpm-fashion`` run (its weights only have to be a real checkpoint of the recipe)."""
        run = self.workdir / "ddpm-run"
        if not (run / "config.yaml").exists():
            from genzoo.runs import config_from_recipe, train

            cfg = config_from_recipe("ddpm-fashion", QUIET + ["data.limit=256"], max_steps=8)
            train(cfg, run, progress=False)
        return run

    def _setup_ddim(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        import torch
        from genzoo.runs import load_run
        from genzoo.sampling import sample_in_chunks

        run = self._trained_ddpm_run()
        _one_thread()                               # `genzoo sample` sets the command's threads, then loads
        _, model = load_run(run)
        steps = spec["steps"]

        def sample(k: int = steps) -> None:         # `genzoo sample RUN -n 64 --sampler ddim --steps N`
            with torch.inference_mode():
                sample_in_chunks(model, SAMPLE_N, generator=torch.Generator().manual_seed(0), sampler="ddim",
                                 steps=k)

        sample(2)                                   # warm-up: every shape of the chain once
        self.cases[name] = (sample, SAMPLE_N)
        return {"params": sum(p.numel() for p in model.net.parameters()), "run_dir": str(run),
                "threads": torch.get_num_threads(), "config": f"ddpm-fashion, DDIM {steps} steps"}

    def run(self, name: str, units: int) -> dict[str, float]:
        fn, per = self.cases[name]
        return {**_timed(fn, units), "images": units * per}


def load_pytorch_generative(path: Path) -> type:
    """pytorch-generative's ``PixelCNN`` class from a checkout, without running the package ``__init__``
    files (they import every model and the dataset helpers, which need torchvision and scikit-learn)."""
    pkg_dir = path / "pytorch_generative"
    if not (path / PIXEL_FILE).is_file():
        raise SystemExit(f"--pytorch-generative {path}: no {PIXEL_FILE} there; pass the folder of a checkout "
                         f"of github.com/EugenHotaj/pytorch-generative (the one holding pytorch_generative/)")
    for name, folder in (("pytorch_generative", pkg_dir), ("pytorch_generative.models", pkg_dir / "models"),
                         ("pytorch_generative.models.autoregressive", pkg_dir / "models" / "autoregressive")):
        module = types.ModuleType(name)
        module.__path__ = [str(folder)]             # a package whose submodules import from ``folder``
        sys.modules[name] = module
    import importlib

    sys.modules["pytorch_generative"].nn = importlib.import_module("pytorch_generative.nn")  # type: ignore[attr-defined]
    importlib.import_module("pytorch_generative.models.base")
    return importlib.import_module("pytorch_generative.models.autoregressive.pixel_cnn").PixelCNN


class PytorchGenerativeWorker:
    """pytorch-generative's PixelCNN trained the way its ``reproduce()`` trains it, on genzoo's batches."""

    def __init__(self, ref: Path) -> None:
        self.PixelCNN = load_pytorch_generative(ref)
        self.cases: dict[str, Any] = {}

    def setup(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        _one_thread()
        xs = torch.load(spec["data_file"])
        levels = 4
        targets = [torch.round(x * (levels - 1)).long()[:, 0] for x in xs]   # N×H×W integer levels
        model = self.PixelCNN(in_channels=1, out_channels=levels, n_residual=5, residual_channels=64,
                              head_channels=128)
        opt = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.999), eps=1e-7)
        model.train()
        state = {"i": 0}

        def step() -> None:
            i = state["i"] % len(xs)
            state["i"] += 1
            loss = F.cross_entropy(model(xs[i]), targets[i])
            opt.zero_grad()
            loss.backward()
            opt.step()

        for _ in range(2):
            step()
        self.cases[name] = (step, len(xs[0]))
        return {"params": sum(p.numel() for p in model.parameters()), "batch_size": len(xs[0]),
                "threads": torch.get_num_threads(),
                "config": "PixelCNN(in_channels=1, out_channels=4, n_residual=5, residual_channels=64, "
                          "head_channels=128), Adam(5e-4)"}

    def run(self, name: str, units: int) -> dict[str, float]:
        fn, per = self.cases[name]
        return {**_timed(fn, units), "images": units * per}


def diffusers_unet():
    """diffusers' ``UNet2DModel`` configured as ddpm-fashion's U-Net (see the module docstring)."""
    from diffusers import UNet2DModel

    unet = UNet2DModel(sample_size=32, in_channels=1, out_channels=1, block_out_channels=(16, 32, 64, 128),
                       layers_per_block=1,
                       down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
                       norm_num_groups=8, attention_head_dim=16)
    # attention_head_dim is one number for every level: 64 maps → 4 heads (genzoo's), 128 maps → 8. genzoo uses
    # 4 heads everywhere; the attention processor reads ``heads`` at every call, so set it (and the scale).
    for module in unet.modules():
        if module.__class__.__name__ == "Attention" and module.heads != 4:
            inner = module.to_q.out_features
            module.heads, module.scale = 4, (inner // 4) ** -0.5
    return unet


class DiffusersWorker:
    """diffusers' UNet2DModel training step and DDIMScheduler sampling loop (in the reference's venv)."""

    def __init__(self) -> None:
        self.cases: dict[str, Any] = {}

    def setup(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        import diffusers
        import torch

        _one_thread()
        info = {"diffusers": diffusers.__version__, "torch": torch.__version__}
        if spec["kind"] == "train-unet":
            return {**info, **self._setup_train(name, spec)}
        return {**info, **self._setup_ddim(name, spec)}

    def _setup_train(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F
        from diffusers import DDPMScheduler

        torch.manual_seed(0)
        unet = diffusers_unet().train()
        noise_scheduler = DDPMScheduler(num_train_timesteps=T_STEPS, beta_schedule="squaredcos_cap_v2")
        opt = torch.optim.NAdam(unet.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
        xs = [F.pad(x.contiguous(), (2, 2, 2, 2), value=-1.0) for x in torch.load(spec["data_file"])]
        state = {"i": 0}

        def step() -> None:   # diffusers' examples/unconditional_image_generation/train_unconditional.py
            clean = xs[state["i"] % len(xs)]
            state["i"] += 1
            noise = torch.randn(clean.shape)
            t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (clean.shape[0],)).long()
            noisy = noise_scheduler.add_noise(clean, noise, t)
            pred = unet(noisy, t).sample
            loss = F.mse_loss(pred.float(), noise.float())
            loss.backward()
            opt.step()
            opt.zero_grad()

        for _ in range(2):
            step()
        self.cases[name] = (step, len(xs[0]))
        return {"params": sum(p.numel() for p in unet.parameters()), "batch_size": len(xs[0]),
                "threads": torch.get_num_threads(), "config": "UNet2DModel (16, 32, 64, 128), NAdam(1e-3), MSE"}

    def _setup_ddim(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        import torch
        from diffusers import DDIMScheduler

        scheduler = DDIMScheduler(num_train_timesteps=T_STEPS, beta_schedule="squaredcos_cap_v2", clip_sample=True)
        steps = spec["steps"]
        if spec["kind"] == "ddim-unet":
            torch.manual_seed(0)
            unet = diffusers_unet().eval()
            shape = (SAMPLE_N, 1, 32, 32)
            params = sum(p.numel() for p in unet.parameters())

            def denoise(x, t):
                return unet(x, t).sample
            config = "UNet2DModel + DDIMScheduler (DDIMPipeline's loop)"
        else:
            sys.path.insert(0, str(ROOT))
            from genzoo.runs import load_run

            _, model = load_run(Path(spec["run_dir"]))
            net = model.net
            shape = (SAMPLE_N, 1, 28, 28)
            params = sum(p.numel() for p in net.parameters())

            def denoise(x, t):   # diffusers counts steps 0 … T−1, genzoo 1 … T
                return net(x, (t + 1).expand(len(x)))
            config = "genzoo's loaded U-Net + DDIMScheduler (DDIMPipeline's loop)"

        @torch.no_grad()
        def sample(k: int = steps) -> None:   # diffusers.DDIMPipeline.__call__, without the PIL conversion
            x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
            scheduler.set_timesteps(k)
            for t in scheduler.timesteps:
                x = scheduler.step(denoise(x, t), t, x, eta=0.0).prev_sample

        sample(2)
        self.cases[name] = (sample, SAMPLE_N)
        return {"params": params, "threads": torch.get_num_threads(), "config": config}

    def run(self, name: str, units: int) -> dict[str, float]:
        fn, per = self.cases[name]
        return {**_timed(fn, units), "images": units * per}


def serve(kind: str, ref: Path | None, workdir: Path) -> None:
    """Worker main loop: one JSON command per stdin line, one JSON answer per stdout line."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                       # anything the libraries print goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    worker: Any
    if kind == "genzoo":
        worker = GenzooWorker(workdir)
    elif kind == "pg":
        assert ref is not None
        worker = PytorchGenerativeWorker(ref)
    else:
        worker = DiffusersWorker()
    out.write(json.dumps({"ready": kind}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "setup":
                answer = worker.setup(cmd["case"], cmd["spec"])
            elif cmd["op"] == "run":
                answer = worker.run(cmd["case"], cmd["units"])
            else:
                return
        except Exception as e:  # reported to the driver, which stops with the message
            import traceback

            traceback.print_exc()
            answer = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")


# --------------------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------------------
class Worker:
    """A worker process and its JSON line protocol."""

    def __init__(self, kind: str, python: str, core: int | None, workdir: Path, ref: Path | None = None):
        cmd = [python, str(Path(__file__).resolve()), "--worker", kind, "--workdir", str(workdir)]
        if ref is not None:
            cmd += ["--pytorch-generative", str(ref)]
        if core is not None:
            cmd = ["taskset", "-c", str(core), *cmd]
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        self.kind = kind
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                     cwd=ROOT, bufsize=1)
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.kind} worker stopped (exit code {self.proc.wait()}); its error is above")
        answer = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"the {self.kind} worker failed: {answer['error']}")
        return answer

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask(op="quit")
            except SystemExit:
                pass
            self.proc.wait(timeout=30)


def check_diffusers_python(python: str) -> str:
    """The reference interpreter's diffusers and torch versions, or a clear stop."""
    if not (shutil.which(python) or Path(python).is_file()):
        raise SystemExit(f"--diffusers-python {python}: no such interpreter; make one with `python -m venv VENV && "
                         f"VENV/bin/pip install torch==2.13.0 diffusers` and pass VENV/bin/python")
    probe = subprocess.run([python, "-c", "import diffusers, torch; print(diffusers.__version__, torch.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise SystemExit(f"--diffusers-python {python} cannot import diffusers and torch:\n{probe.stderr[-800:]}")
    return probe.stdout.strip()


def summarise(rounds: list[dict[str, float]], ref_rounds: list[dict[str, float]]) -> dict[str, Any]:
    """Median images/s of both sides with their ranges, and the median of the per-round ratios."""
    def rate(r: dict[str, float], key: str = "wall_s") -> float:
        return r["images"] / r[key]

    g, f = [rate(r) for r in rounds], [rate(r) for r in ref_rounds]
    ratios = [a / b for a, b in zip(g, f)]
    cpu_ratios = [rate(a, "cpu_s") / rate(b, "cpu_s") for a, b in zip(rounds, ref_rounds)]
    return {"genzoo_images_per_s": statistics.median(g), "genzoo_range": [min(g), max(g)],
            "ref_images_per_s": statistics.median(f), "ref_range": [min(f), max(f)],
            "ratio": statistics.median(ratios), "ratio_range": [min(ratios), max(ratios)],
            "ratio_cpu_time": statistics.median(cpu_ratios), "rounds": len(ratios)}


def _fmt(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| case | genzoo img/s (min-max) | reference | reference img/s (min-max) | genzoo / reference "
             "(min-max; CPU-time ratio) | parameters genzoo / reference |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        s = r["summary"]
        lines.append(
            f"| {r['what']} | {_fmt(s['genzoo_images_per_s'])} ({_fmt(s['genzoo_range'][0])}-"
            f"{_fmt(s['genzoo_range'][1])}) | {r['ref_label']} | {_fmt(s['ref_images_per_s'])} "
            f"({_fmt(s['ref_range'][0])}-{_fmt(s['ref_range'][1])}) | **{s['ratio']:.2f}×** "
            f"({s['ratio_range'][0]:.2f}-{s['ratio_range'][1]:.2f}; {s['ratio_cpu_time']:.2f}×) | "
            f"{r['genzoo_params']:,} / {r['ref_params']:,} |")
    return "\n".join(lines)


def drive(args: argparse.Namespace) -> None:
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # stop the workers on the way out, too
    ref = args.pytorch_generative.resolve()
    load_check = ref / PIXEL_FILE
    if not load_check.is_file():
        raise SystemExit(f"--pytorch-generative {ref}: no {PIXEL_FILE} there; pass the folder of a checkout of "
                         f"github.com/EugenHotaj/pytorch-generative (the one holding pytorch_generative/)")
    versions = check_diffusers_python(args.diffusers_python)
    workdir = Path(tempfile.mkdtemp(prefix="genzoo-side-by-side-"))
    table = [c for c in cases(args.sample_steps) if not args.cases or c["name"] in args.cases]
    workers: dict[str, Worker] = {}
    try:
        needed = {"genzoo"} | {r["worker"] for c in table for r in c["refs"]}
        for kind in sorted(needed):
            python = args.diffusers_python if kind == "diffusers" else sys.executable
            workers[kind] = Worker(kind, python, args.core, workdir, ref if kind == "pg" else None)
        plan = []   # (row, genzoo side, ref side) with units per round
        for case in table:
            g_name = case["name"]
            g_info = workers["genzoo"].ask(op="setup", case=g_name, spec=case["genzoo"])
            g_units = _units(workers["genzoo"], g_name, args.seconds, case["genzoo"]["kind"] == "train")
            for i, side in enumerate(case["refs"]):
                spec = {**side["spec"], **{k: g_info[k] for k in ("data_file", "run_dir") if k in g_info}}
                r_name = f"{g_name}-ref{i}"
                r_info = workers[side["worker"]].ask(op="setup", case=r_name, spec=spec)
                r_units = _units(workers[side["worker"]], r_name, args.seconds, case["genzoo"]["kind"] == "train")
                plan.append({"case": case, "ref": side, "g": (g_name, g_units, g_info),
                             "r": (r_name, r_units, r_info), "g_rounds": [], "r_rounds": []})
                print(f"set up {case['name']} vs {side['label']}: {g_units} / {r_units} units per round; "
                      f"parameters {g_info['params']:,} / {r_info['params']:,}", file=sys.stderr, flush=True)
        for rnd in range(args.rounds):
            for p in plan:
                sides = [("g", workers["genzoo"]), ("r", workers[p["ref"]["worker"]])]
                for key, worker in (sides if rnd % 2 == 0 else sides[::-1]):
                    name, units, _ = p[key]
                    p[f"{key}_rounds"].append(worker.ask(op="run", case=name, units=units))
                s = summarise(p["g_rounds"], p["r_rounds"])
                print(f"round {rnd + 1}/{args.rounds} {p['case']['name']} vs {p['ref']['label']}: "
                      f"{s['genzoo_images_per_s']:.1f} / {s['ref_images_per_s']:.1f} img/s", file=sys.stderr, flush=True)
    finally:
        for w in workers.values():
            w.close()
        shutil.rmtree(workdir, ignore_errors=True)

    rows = [{"name": p["case"]["name"], "what": p["case"]["what"], "ref_label": p["ref"]["label"],
             "genzoo_config": p["g"][2]["config"], "ref_config": p["r"][2]["config"],
             "genzoo_params": p["g"][2]["params"], "ref_params": p["r"][2]["params"],
             "genzoo_units_per_round": p["g"][1], "ref_units_per_round": p["r"][1],
             "genzoo_threads": p["g"][2]["threads"], "ref_threads": p["r"][2]["threads"],
             "summary": summarise(p["g_rounds"], p["r_rounds"]),
             "genzoo_rounds": p["g_rounds"], "ref_rounds": p["r_rounds"]} for p in plan]
    text = markdown(rows)
    print(text)
    if args.out:
        import torch

        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"cpu": _cpu(), "core": args.core, "rounds": args.rounds, "seconds_per_round": args.seconds,
                "torch": torch.__version__, "reference_python": versions, "python": platform.python_version()}
        args.out.write_text(json.dumps({"machine": meta, "rows": rows, "markdown": text}, indent=2))


def _units(worker: Worker, name: str, seconds: float, train: bool) -> int:
    """Steps per round for about ``seconds`` of work (training); one sampling call per round (sampling)."""
    if not train:
        return 1
    probe = worker.ask(op="run", case=name, units=2)
    return max(2, round(seconds / (probe["wall_s"] / 2)))


def _cpu() -> str:
    try:
        return next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                    platform.processor())
    except OSError:
        return platform.processor()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pytorch-generative", type=Path, help="A checkout of EugenHotaj/pytorch-generative.")
    p.add_argument("--diffusers-python", help="An interpreter with torch and diffusers installed.")
    p.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (medians and ranges are reported).")
    p.add_argument("--seconds", type=float, default=4.0, help="About this much training work per side and round.")
    p.add_argument("--sample-steps", type=int, nargs="*", default=[20, 50], help="DDIM step counts.")
    p.add_argument("--core", type=int, help="Pin every worker to this core (taskset -c).")
    p.add_argument("--cases", nargs="*", help="Only these rows (names: pixelcnn-train, pixelcnn-head1-train, "
                                              "unet-train, ddimN-sample).")
    p.add_argument("--out", type=Path, help="Write the rows, every round and the machine to this JSON file.")
    p.add_argument("--worker", choices=["genzoo", "pg", "diffusers"], help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        serve(args.worker, args.pytorch_generative, args.workdir)
        return
    if args.pytorch_generative is None or args.diffusers_python is None:
        p.error("--pytorch-generative and --diffusers-python are required (see --help)")
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    drive(args)


if __name__ == "__main__":
    main()
