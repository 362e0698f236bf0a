"""The training loop every objective shares: the data stream, budgets and stop signals, metric logging with
the NaN/Inf guard, atomic checkpoints with exact resume, sample galleries and the per-step hook.

What one step *does* is the objective's: :class:`TrainingLoop` calls :meth:`TrainingLoop.train_step` and
saves what :meth:`TrainingLoop.objective_state` returns beside its own state. Gradient training (one loss,
or a GAN's alternating losses) is :mod:`genzoo.training.gradient`; a loop without gradients (an evolution
strategy such as World Models' CMA-ES controller) subclasses :class:`TrainingLoop` directly and registers
its name with :func:`genzoo.training.trainer.register_loop`.

The hot loop does no host synchronisation: per-step metrics are summed on the device and read back
once every ``log_every`` steps (that read is also where the NaN/Inf guard looks).
"""
from __future__ import annotations

import contextlib
import json
import math
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from ..config import ConfigError, RunConfig, config_text, save_config
from ..data.loader import Batch, BatchStream
from ..models.base import GenerativeModel
from ..models.capabilities import Samples, supports
from .checkpoint import (check_compatible, latest_checkpoint, load_state, load_weights, read_meta,
                         save_checkpoint, write_text_atomic)
from .distributed import DistInfo
from .ema import EMA
from .tb_writer import LazySummaryWriter
from .threads import ThreadPlan


class TrainingInterrupted(RuntimeError):
    """SIGINT/SIGTERM stopped training; a final checkpoint was written (``checkpoint``) when one could be."""

    def __init__(self, signal_name: str, run_dir: Path, step: int, checkpoint: Path | None):
        self.signal_name, self.run_dir, self.step, self.checkpoint = signal_name, run_dir, step, checkpoint
        saved = f"checkpoint {checkpoint} written" if checkpoint else "no checkpoint could be written"
        super().__init__(f"{signal_name} at step {step}: {saved}; continue with `genzoo resume {run_dir}`")

    @property
    def exit_code(self) -> int:
        return 128 + (signal.SIGTERM if self.signal_name == "SIGTERM" else signal.SIGINT)


class _StopSignals:
    """While training: the first SIGINT/SIGTERM asks the loop to stop after the current step (it then
    writes a checkpoint); a second one stops at once (KeyboardInterrupt). Handlers are installed only in
    the main thread and restored afterwards."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            self.restore()
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopping at once")
        self.received = signal.Signals(signum).name

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                num = getattr(signal, name)
                self._previous[num] = signal.signal(num, self._handle)
        return self

    def restore(self) -> None:
        for num, handler in self._previous.items():
            signal.signal(num, handler)
        self._previous = {}

    def __exit__(self, *exc: Any) -> None:
        self.restore()


class NonFiniteLossError(RuntimeError):
    """A loss or weight became NaN/Inf; the run stopped before writing a bad checkpoint."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; use --set device=cpu")
    return dev


def fast_bf16_available(device: torch.device) -> bool:
    """True where bf16 matmuls/convs run natively (AVX-512-BF16/AMX CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and torch.backends.mkldnn.is_available()
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` autocast on GPUs with native bf16, ``fp32`` on CPUs.

    On a 2-core AVX-512-BF16 CPU, bf16 autocast measured 0.93-1.06x of fp32 for the book's
    small convolutional models (``benchmarks/bench.py``, medians of 3): the casts cost what the faster
    matmuls save, so fp32 stays the CPU default and ``--set precision=bf16`` is an explicit choice.
    """
    if name == "auto":
        return "bf16" if device.type == "cuda" and fast_bf16_available(device) else "fp32"
    return name


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuplify(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuplify(x: Any) -> Any:
    """RNG states come back from ``torch.load`` with lists where tuples were saved."""
    if isinstance(x, list):
        return tuple(_tuplify(v) for v in x)
    return x


class TrainingLoop:
    """What every objective shares. Subclasses implement :meth:`train_step` (one step of the objective:
    returns its metrics as on-device scalars) and, when the objective carries state of its own besides the
    model's weights (optimizer moments, an evolution strategy's covariance), :meth:`objective_state` and
    :meth:`load_objective_state`."""

    batches_per_step = 1

    def __init__(self, cfg: RunConfig, run_dir: Path, model: GenerativeModel, data: Any,
                 dist: DistInfo | None = None, threads: ThreadPlan | None = None):
        self.cfg, self.run_dir, self.model = cfg, Path(run_dir), model
        self.dist = dist or DistInfo()
        self.threads = threads
        self.device = resolve_device(cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        model.to(self.device)
        if cfg.channels_last:
            model.to(memory_format=torch.channels_last)
        self.dist.broadcast_module(model)
        self.ema: EMA | None = None          # a weight average to sample from (gradient training sets one)
        self.data = data
        self._gallery = None                 # fixed held-out items of a gallery task (models that do not sample)
        self.spec = data.spec
        # throughput in the data's own unit: images/s, points/s, tokens/s (a window of L tokens counts L)
        self.rate_key = f"{self.spec.unit}_per_s"
        self.units_per_batch = cfg.batch_size * self.spec.units_per_item
        self._spec_text = json.dumps(self.spec.to_dict(), indent=1)
        stream_class = getattr(data, "stream_class", None) or BatchStream   # a data type may draw its own batches
        self.stream = stream_class(data, cfg.data, model.data_range, cfg.batch_size, cfg.seed,
                                   self.device, self.dist.rank, self.dist.world_size)
        self.step = 0
        self.epochs_done = 0
        self._sums: dict[str, None] = {}   # metric names, in the order of _sum_values
        self._sum_values = torch.zeros(0)
        self._count = 0
        self._window_start = time.perf_counter()
        self._window_step = 0
        self._last_good_ckpt: Path | None = None
        self._elapsed = {"wall_s": 0.0, "cpu_s": 0.0}   # training time of earlier invocations (checkpointed)
        self._t0, self._cpu0 = time.perf_counter(), time.process_time()
        self.precision = resolve_precision(cfg.precision, self.device)
        self.autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16)
                         if self.precision == "bf16" else contextlib.nullcontext())
        self.history: list[dict[str, Any]] = []
        self._tb = None
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if not (self.run_dir / "config.yaml").exists():
                save_config(cfg, self.run_dir / "config.yaml")
            if cfg.tensorboard:  # created at the first metric line, not before the first step
                self._tb = LazySummaryWriter(self.run_dir / "tensorboard")

    # -- what an objective provides ---------------------------------------------------------------
    def train_step(self) -> dict[str, Tensor]:
        """One step of the objective; returns its metrics (0-d tensors, summed on the device)."""
        raise NotImplementedError

    def objective_state(self) -> dict[str, Any]:
        """The objective's own resumable state, saved in every checkpoint (tensors, numbers, lists, dicts)."""
        return {}

    def load_objective_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`objective_state` saved."""

    def on_epoch_end(self) -> None:
        """Called when an epoch of data is complete (and after a restore): e.g. a learning-rate decay."""

    def log_fields(self) -> dict[str, Any]:
        """Extra fields of every metrics row (e.g. the learning rates)."""
        return {}

    def nan_advice(self) -> tuple[str, str]:
        """What would make a run that went NaN/Inf likelier to survive: in words, and as flags."""
        return ("full precision", "--set precision=fp32") if self.precision != "fp32" else ("other settings", "--set ...")

    def sampling_model(self) -> GenerativeModel:
        """The model galleries are drawn from (the gradient trainer swaps in its EMA weights)."""
        return self.model

    # -- data ------------------------------------------------------------------------------------
    def _next_batch(self) -> Batch:
        batch = self.stream.next()
        if self.cfg.channels_last and batch.x.dim() == 4:
            batch.x = batch.x.contiguous(memory_format=torch.channels_last)
        return batch

    @property
    def steps_per_epoch(self) -> float:
        return self.stream.batches_per_epoch / self.batches_per_step

    def target_step(self, epochs: int | None, max_steps: int | None) -> int:
        """The step at which training stops: ``max_steps`` if given, else ``epochs`` worth of data."""
        if epochs is None and max_steps is None:
            epochs, max_steps = self.cfg.epochs, self.cfg.max_steps
        if max_steps is not None:
            return max_steps
        return int(math.ceil((epochs if epochs is not None else self.cfg.epochs) * self.steps_per_epoch))

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        rng = self.dist.gather_objects(rng_state())
        return {"step": self.step, "epochs_done": self.epochs_done, "stream": self.stream.state_dict(),
                "rng": rng, "world_size": self.dist.world_size, "elapsed": self.elapsed(),
                **self.objective_state()}

    def elapsed(self) -> dict[str, float]:
        """Wall and CPU seconds spent training this run, over every invocation up to now."""
        return {"wall_s": self._elapsed["wall_s"] + time.perf_counter() - self._t0,
                "cpu_s": self._elapsed["cpu_s"] + time.process_time() - self._cpu0}

    def save(self, milestone: str | None = None) -> Path | None:
        """Checkpoint now (after the NaN guard has seen every step so far); a ``milestone`` one is kept."""
        self._flush_metrics()
        self.dist.average_buffers(self.model)
        finite = all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if not self.dist.all_true(finite):
            raise NonFiniteLossError(self._nan_message("a weight"))
        state = self.state_dict()
        path = None
        if self.dist.is_main:
            meta = {"family": self.model.family, "recipe": self.cfg.recipe, "epoch": self.epochs_done}
            path = save_checkpoint(self.run_dir, self.step, self.model, state, meta, self.ema,
                                   self.cfg.keep_checkpoints, texts={"config.yaml": config_text(self.cfg),
                                                                     "data_spec.json": self._spec_text},
                                   milestone=milestone)
            self._last_good_ckpt = path
        self.dist.barrier()
        return path

    def restore(self, ckpt: Path | None = None) -> Path:
        """Load the newest (or the given) checkpoint of the run: weights, the objective's state, RNG, data
        position."""
        ckpt = ckpt or latest_checkpoint(self.run_dir)
        if ckpt is None:
            raise ConfigError(f"{self.run_dir} has no checkpoint to resume from; start it with `genzoo train`")
        check_compatible(read_meta(ckpt), self.model.family, ckpt)
        load_weights(self.model, ckpt / "model.safetensors")
        if self.ema is not None and (ckpt / "ema.safetensors").exists():
            load_weights(self.ema.shadow, ckpt / "ema.safetensors", "EMA")
        state = load_state(ckpt)
        self.load_objective_state(state)
        self.step, self.epochs_done = int(state["step"]), int(state["epochs_done"])
        self.stream.load_state_dict(state["stream"])
        rngs = state["rng"]
        if int(state.get("world_size", 1)) == self.dist.world_size:
            set_rng_state(rngs[self.dist.rank])
        else:  # resumed with another process count: data order is exact, noise draws are reseeded
            torch.manual_seed(self.cfg.seed * 7919 + self.step + self.dist.rank)
        self._elapsed = {k: float(v) for k, v in state.get("elapsed", {"wall_s": 0.0, "cpu_s": 0.0}).items()}
        self.on_epoch_end()
        self._last_good_ckpt = ckpt
        if self.dist.is_main:
            self._drop_metrics_after(self.step)
        return ckpt

    def _drop_metrics_after(self, step: int) -> None:
        """Rows logged after the checkpoint (by a run killed before its next one) are re-logged on resume:
        drop them so ``metrics.jsonl`` holds each step once."""
        path = self.run_dir / "metrics.jsonl"
        if not path.exists():
            return
        keep = []
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    keep.append(line)
            except (ValueError, KeyError, TypeError):
                pass   # a line cut by a kill mid-write
        write_text_atomic(path, "".join(line + "\n" for line in keep))

    # -- metrics ----------------------------------------------------------------------------------
    def _accumulate(self, out: dict[str, Tensor]) -> None:
        if self._count and list(self._sums) != list(out):
            self._flush_metrics()  # a model changed what it reports: close the window first
        values = torch.stack([v.detach().float() for v in out.values()])  # one on-device add per step
        if self._count:
            self._sum_values += values
        else:
            self._sums, self._sum_values = dict.fromkeys(out), values.clone()
        self._count += 1

    def _nan_message(self, what: str) -> str:
        ck = self._last_good_ckpt
        advice, fixes = self.nan_advice()
        if ck:
            return (f"{what} became NaN or Inf by step {self.step} of run {self.run_dir}; training stopped before "
                    f"saving anything bad, and the last good checkpoint is {ck}. Continue from it with "
                    f"{advice}: `genzoo resume {self.run_dir} {fixes}`.")
        return (f"{what} became NaN or Inf by step {self.step} of run {self.run_dir}, before any checkpoint was "
                f"written; start again with {advice}: `genzoo train {self.cfg.recipe} {fixes}` (and a new --out).")

    def _flush_metrics(self) -> dict[str, Any] | None:
        if not self._count:
            return None
        keys = list(self._sums)
        values = (self._sum_values / self._count).tolist()  # the one host sync of the hot loop
        means = dict(sorted(zip(keys, values)))
        self._sums, self._count = {}, 0
        if not self.dist.all_true(all(math.isfinite(v) for v in values)):
            raise NonFiniteLossError(self._nan_message("the loss (" + ", ".join(
                k for k, v in means.items() if not math.isfinite(v)) + ")"))
        now = time.perf_counter()
        steps = self.step - self._window_step
        units = steps * self.batches_per_step * self.units_per_batch
        row = {"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4),
               self.rate_key: round(units / max(now - self._window_start, 1e-9), 1),
               **self.log_fields(), **means}
        self._window_start, self._window_step = now, self.step
        if self.dist.is_main:
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")
            if self._tb is not None:
                for k, v in means.items():
                    self._tb.add_scalar(f"train/{k}", v, self.step)
                self._tb.add_scalar(f"train/{self.rate_key}", row[self.rate_key], self.step)
        self.history.append(row)
        return row

    # -- samples ----------------------------------------------------------------------------------
    @torch.inference_mode()
    def write_samples(self, name: str, stage: str | None = None) -> Path | None:
        """``samples/NAME.png``: ``sample_n`` samples from the same noise each time (a progress gallery), titled
        with the step and epoch (and the training ``stage`` it ends, if any). Skipped for models that cannot
        sample."""
        if not self.dist.is_main or not self.cfg.sample_n:
            return None
        from ..tasks import ImageGrid, write_artifact
        from ..tasks.generation import gallery_task

        task = None if supports(self.model, Samples) else gallery_task(self.model)
        if task is None and not supports(self.model, Samples):
            return None
        sampler = self.sampling_model()
        was_training = self.model.training
        sampler.eval()
        try:
            weights = ", EMA weights" if self.ema is not None else ""
            stage_text = f" ({stage})" if stage else ""
            when = f"after step {self.step} (epoch {self.step / self.steps_per_epoch:.4g}{weights})"
            if task is not None:     # a model that does not sample: its default task on fixed held-out items
                from ..tasks import Request

                art = task.run(self._gallery_context(sampler), Request(n=self.cfg.sample_n, seed=self.cfg.seed))
                art.title = f"{self.cfg.recipe}{stage_text}: {art.title.split(': ', 1)[-1]} {when}"
            else:
                g = torch.Generator().manual_seed(self.cfg.seed)  # the same noise every epoch: a progress gallery
                images = sampler.sample(self.cfg.sample_n, generator=g)
                title = f"{self.cfg.recipe}{stage_text}: {self.cfg.sample_n} samples {when}, seed {self.cfg.seed}"
                art = sampler.samples_artifact(images, title=title, nrow=8)
                if isinstance(art, ImageGrid):
                    art.save_tensor = False       # a gallery of pictures; `genzoo sample` writes tensors
            written = write_artifact(art, self.run_dir / "samples" / f"{name}.png")
            return Path(next(iter(written.values())))   # the main file: grid, plot or text
        finally:
            self.model.train(was_training)

    def _gallery_context(self, model: GenerativeModel):
        """Fixed held-out items for a gallery task (the test split, read once; the training data if there is none)."""
        if self._gallery is None:
            from ..data.loader import load_data
            from ..tasks.translation import HeldOutImages

            hints = type(self.model).data_hints(self.cfg.model)
            self._gallery = HeldOutImages(model, self.cfg.recipe, self.cfg.data,
                                          lambda split: load_data(self.cfg.data, hints, split=split), self.data)
        self._gallery.model = model
        return self._gallery

    # -- the loop ---------------------------------------------------------------------------------
    def fit(self, epochs: int | None = None, max_steps: int | None = None, progress: bool = True) -> dict[str, Any]:
        """Train until the target step; checkpoint every ``checkpoint_every`` steps, at each epoch end and
        at the end. Returns a summary (steps, wall time, throughput, last metrics).

        Budgets (``max_minutes``, ``max_cpu_minutes``) and stop signals are checked after every step (under
        torchrun in one small collective, so every process stops at the same step). SIGINT/SIGTERM end the
        run with a checkpoint and raise :class:`TrainingInterrupted`; a second signal stops at once.
        """
        cfg = self.cfg
        end = self.target_step(epochs, max_steps)
        self.model.train()
        start_step = self.step
        self._t0, self._cpu0 = time.perf_counter(), time.process_time()
        self._window_start, self._window_step = self._t0, self.step
        bar = tqdm(total=end, initial=self.step, disable=not (progress and self.dist.is_main),
                   dynamic_ncols=True, mininterval=1.0, desc=f"{cfg.recipe}")
        last_row: dict[str, Any] | None = None
        budgets = (cfg.max_minutes * 60 if cfg.max_minutes else None,
                   cfg.max_cpu_minutes * 60 if cfg.max_cpu_minutes else None)
        tuner = self.threads.tuner if self.threads is not None else None
        stopped_by = "target"
        signals = _StopSignals()
        try:
            with signals:
                while self.step < end:
                    started = time.perf_counter()
                    self.model.before_step(self.step, end)
                    with self.autocast:
                        out = self.train_step()
                    if tuner is not None:   # on the CPU ops are synchronous: this is the step's real time
                        tuner.observe(time.perf_counter() - started)
                    self.step += 1
                    self._accumulate(out)
                    bar.update(1)
                    completed = self.stream.epoch + (1 if self.stream.epoch_finished else 0)
                    epoch_end = completed > self.epochs_done
                    if self.step % cfg.log_every == 0:
                        last_row = self._flush_metrics() or last_row
                        if last_row:
                            bar.set_postfix({k: f"{v:.4g}" for k, v in last_row.items()
                                             if isinstance(v, float) and k not in ("epoch",)}, refresh=False)
                    reason = self._stop_reason(signals, *budgets)
                    if reason is not None:
                        end, stopped_by = self.step, reason
                    if epoch_end:
                        self.epochs_done = completed
                        self.on_epoch_end()
                        if cfg.sample_every_epoch and reason is None:
                            self.write_samples(f"epoch-{self.epochs_done:04d}")
                    if cfg.sample_every and self.step % cfg.sample_every == 0 and reason is None and self.step < end:
                        self.write_samples(f"step-{self.step:07d}")
                    milestone = self.model.milestone()
                    if ((epoch_end and cfg.checkpoint_every_epoch) or self.step % cfg.checkpoint_every == 0
                            or self.step == end or milestone):
                        self.save(milestone)
                    if milestone:
                        self.write_samples(milestone, stage=milestone)
                interrupted = stopped_by in _StopSignals.SIGNALS or stopped_by == "signal"
        finally:
            bar.close()
        last_row = self._flush_metrics() or last_row
        wall = time.perf_counter() - self._t0
        cpu = time.process_time() - self._cpu0
        total = self.elapsed()
        steps = self.step - start_step
        summary = {"steps": self.step, "epochs": round(self.step / self.steps_per_epoch, 3), "wall_s": round(wall, 2),
                   "cpu_s": round(cpu, 2), "total_wall_s": round(total["wall_s"], 2),
                   "total_cpu_s": round(total["cpu_s"], 2),
                   self.rate_key: round(steps * self.batches_per_step * self.units_per_batch / max(wall, 1e-9), 1),
                   "stopped_by": stopped_by, "last": last_row,
                   "checkpoint": str(self._last_good_ckpt) if self._last_good_ckpt else None}
        if self.threads is not None:
            summary["threads"] = self.threads.report()
        if self.dist.is_main:
            sample_path = None if interrupted else self.write_samples("final")
            summary["samples"] = str(sample_path) if sample_path else None
            write_text_atomic(self.run_dir / "train_summary.json", json.dumps(summary, indent=2))
            if self._tb is not None:
                self._tb.flush()
        if interrupted:
            raise TrainingInterrupted(stopped_by, self.run_dir, self.step, self._last_good_ckpt)
        return summary

    def _stop_reason(self, signals: _StopSignals, wall_budget: float | None, cpu_budget: float | None) -> str | None:
        """Why to stop after this step, if at all: a signal, or a spent time budget (a clock read each)."""
        flags = [signals.received is not None,
                 wall_budget is not None and time.perf_counter() - self._t0 >= wall_budget,
                 cpu_budget is not None and time.process_time() - self._cpu0 >= cpu_budget]
        if self.dist.enabled:
            flags = self.dist.any_true_each(flags)
        names = (signals.received or "signal", "max_minutes", "max_cpu_minutes")
        return next((name for flag, name in zip(flags, names) if flag), None)
