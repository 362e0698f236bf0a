"""Run folders: creating, training, resuming and loading them. The CLI and Python users call these.

A run folder holds ``config.yaml`` (the resolved config), ``checkpoints/``, ``samples/``,
``metrics.jsonl``, ``tensorboard/`` and ``train_summary.json``.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import torch

from .config import ConfigError, RunConfig, read_config, save_config
from .config import config_from_recipe  # noqa: F401  (torch-free; kept importable from here)
from .data import DataSpec, load_data
from .models import ArrayModelConfig, GenerativeModel, build_model, model_families
from .training.checkpoint import latest_checkpoint, load_weights, run_checkpoint
from .training.distributed import DistInfo, init_distributed, shutdown_distributed
from .training.runlock import RunInUseError, RunLock
from .training.threads import ThreadPlan, plan_threads, requested_threads
from .training.gradient import model_for_sampling
from .training.loop import resolve_device
from .training.trainer import make_trainer
from .training.ema import EMA

DEFAULT_RUNS = Path(os.environ.get("GENZOO_RUNS", "runs"))


def new_run_dir(recipe: str, root: Path = DEFAULT_RUNS) -> Path:
    """``runs/0001_vae-digits``: the next free number, as in the book's ``run/vae/0001_digits``."""
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"(\d{4,})_", p.name))]
    return root / f"{max(numbers, default=0) + 1:04d}_{recipe}"


def prepare_model(cfg: RunConfig, data_classes: int | None = None) -> GenerativeModel:
    """Build the model of ``cfg`` with its stages (seeded, so every process starts from the same weights)."""
    torch.manual_seed(cfg.seed)
    return build_model_with_stages(cfg.model)


def build_stages(model_cfg: dict) -> dict[str, GenerativeModel]:
    """The other runs a model is built on (its family's ``stages``), frozen and in eval mode.

    A new run names each stage's run folder: the run is opened (EMA weights if it kept them) and its model
    config is copied into ``model_cfg``, so the new run stays self-contained. A saved run carries the copy:
    the stage is built from it and its weights come with this run's checkpoint."""
    family = family_of_model(model_cfg)
    stages: dict[str, GenerativeModel] = {}
    for name, (run_field, copy_field) in family.stages.items():
        if model_cfg.get(copy_field) is not None:
            stages[name] = build_model(model_cfg[copy_field])
        elif model_cfg.get(run_field):
            path = Path(model_cfg[run_field])
            if not (path / "config.yaml").exists():
                raise ConfigError(f"model.{run_field}={model_cfg[run_field]!r} is not a genzoo run folder; train one "
                                  f"first, e.g. `genzoo train homl-vae --out runs/vae` and pass --set "
                                  f"model.{run_field}=runs/vae")
            stage_cfg, stage = load_run(path)
            model_cfg[copy_field] = stage_cfg.model
            stages[name] = stage
        else:
            continue
        stages[name].eval().requires_grad_(False)
    return stages


def build_model_with_stages(model_cfg: dict) -> GenerativeModel:
    """:func:`~genzoo.models.build_model` with the family's stages built and handed in (see :func:`build_stages`)."""
    return build_model(model_cfg, build_stages(model_cfg))


def family_of(cfg: RunConfig) -> type[GenerativeModel]:
    return family_of_model(cfg.model)


def family_of_model(model_cfg: dict) -> type[GenerativeModel]:
    family = model_families().get(model_cfg.get("family"))
    if family is None:
        raise ConfigError(f"unknown model family {model_cfg.get('family')!r}; known: {', '.join(model_families())}")
    return family


SPEC_FILE = "data_spec.json"


def write_spec(run_dir: Path, spec: DataSpec) -> None:
    """``RUN/data_spec.json``: what the data taught the model (modality, shapes, vocabulary), atomically."""
    import json

    from .training.checkpoint import write_text_atomic

    write_text_atomic(Path(run_dir) / SPEC_FILE, json.dumps(spec.to_dict(), indent=1))


def read_spec(run_dir: Path) -> DataSpec | None:
    """A run's saved data spec (None for runs written before specs were saved: image and point runs need none)."""
    import json

    path = Path(run_dir) / SPEC_FILE
    if not path.exists():
        return None
    try:
        return DataSpec.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as e:
        copies = sorted(Path(run_dir).glob(f"checkpoints/step-*/{SPEC_FILE}"))
        fix = f"restore it: cp {copies[-1]} {path}" if copies else "no checkpoint holds a copy"
        raise ConfigError(f"{path} is corrupt ({e}); {fix}") from None


def _fresh(cfg: RunConfig) -> RunConfig:
    family = model_families().get(cfg.model.get("family"))
    if family is not None:
        cfg.model = family.fresh_config(dict(cfg.model))
    return cfg


def _setup(cfg: RunConfig, dist: DistInfo) -> ThreadPlan:
    """The intra-op thread plan of this process (see :mod:`genzoo.training.threads`); also keeps freed tensor
    memory in the process between steps (:func:`genzoo.runtime.tune_allocator`)."""
    from .runtime import tune_allocator

    tune_allocator()
    requested, source = requested_threads(cfg.num_threads)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", dist.world_size)) if dist.enabled else 1
    return plan_threads(requested, distributed_local_procs=local, device_type=resolve_device(cfg.device).type,
                        source=source)


def check_run_folder(run_dir: Path) -> None:
    """Refuse, before any work, a ``--out`` that cannot become a new run folder (with the reason and the fix)."""
    from .paths import check_writable_output

    run_dir = Path(run_dir)
    check_writable_output(run_dir, "run folder (--out)")
    if not run_dir.exists():
        return
    if latest_checkpoint(run_dir) is not None:
        raise ConfigError(f"{run_dir} already holds a run; continue it with `genzoo resume {run_dir}` "
                          f"or choose another --out")
    contents = [p.name for p in run_dir.iterdir()]
    if contents and not (run_dir / "config.yaml").exists():
        shown = ", ".join(sorted(contents)[:3]) + (", …" if len(contents) > 3 else "")
        raise ConfigError(f"--out {run_dir} is a folder that is not empty ({shown}) and not a genzoo run; a run "
                          f"writes config.yaml, checkpoints/ and samples/ into it — choose a new or empty folder")


def _lock(run_dir: Path, command: str, dist: DistInfo) -> RunLock | None:
    """Rank 0 locks the run folder; every process learns whether that worked."""
    lock, error = None, None
    if dist.is_main:
        try:
            lock = RunLock(run_dir).acquire(command)
        except RunInUseError as e:
            error = str(e)
    error = dist.broadcast_object(error)
    if error is not None:
        raise RunInUseError(error)
    return lock


def train(cfg: RunConfig, run_dir: Path | None = None, progress: bool = True,
          log: Callable[[str], None] | None = None) -> tuple[Path, dict[str, Any]]:
    """Train a new run; returns its folder and the training summary.

    The folder is checked before any work and locked while training; when the start fails (missing data,
    a config the data contradicts, Ctrl-C while loading) a folder this call created is removed again.
    """
    dist = init_distributed(resolve_device(cfg.device))
    created = started = False
    lock = None
    try:
        plan = _setup(cfg, dist)
        if run_dir is None:
            run_dir = dist.broadcast_object(new_run_dir(cfg.recipe) if dist.is_main else None)
        run_dir = Path(run_dir)
        if dist.is_main:
            check_run_folder(run_dir)
            created = not run_dir.exists()
            run_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock(run_dir, "train", dist)
        if log is not None and dist.is_main:
            log(f"genzoo: training {cfg.recipe} into {run_dir}; {plan.describe()}")
        # Build order: read the data, let the family configure itself from the data's spec (a vocabulary,
        # the points' standardisation), then build the model; the spec is saved with the run.
        cfg = _fresh(cfg)
        family = family_of(cfg)
        data = load_data(cfg.data, family.data_hints(cfg.model))
        cfg.model = family.configure(dict(cfg.model), data.spec)
        model = prepare_model(cfg)
        model.init_from_data(data)
        model.attach_spec(data.spec)
        _check_condition(cfg, model, data)
        if dist.is_main:
            save_config(cfg, run_dir / "config.yaml")
            write_spec(run_dir, data.spec)
        dist.barrier()
        if dist.enabled:
            torch.manual_seed(cfg.seed * 1000 + dist.rank)  # different noise in each process
        trainer = make_trainer(cfg, run_dir, model, data, dist, plan)
        started = True
        summary = trainer.fit(progress=progress)
        return run_dir, summary
    except BaseException:
        if created and not started and run_dir is not None and latest_checkpoint(run_dir) is None:
            if lock is not None:
                lock.release()
                lock = None
            shutil.rmtree(run_dir, ignore_errors=True)   # a failed start leaves no empty run folder behind
        raise
    finally:
        if lock is not None:
            lock.release()
        shutdown_distributed()


def _check_condition(cfg: RunConfig, model: GenerativeModel, data) -> None:
    mc = model.config
    model.check_data(cfg.data)
    if not isinstance(mc, ArrayModelConfig):
        return
    if mc.num_classes and data.labels is None:
        raise ConfigError(f"model.num_classes={mc.num_classes} but {data.source} has no labels")
    if mc.num_classes and data.num_classes and data.num_classes > mc.num_classes:
        raise ConfigError(f"{data.source} has {data.num_classes} classes but model.num_classes={mc.num_classes}")
    if mc.num_attributes and (data.attributes is None or data.attributes.shape[1] != mc.num_attributes):
        have = None if data.attributes is None else data.attributes.shape[1]
        raise ConfigError(f"model.num_attributes={mc.num_attributes} but the data carries {have} attributes "
                          f"(set data.attributes to the attribute names)")


# Fields that may change when a run is resumed: budgets, learning rates, stability fixes, logging. Everything
# else (the model, the data, the batch size, the seed...) defines what the checkpoint is and stays as trained.
RESUMABLE_FIELDS = ("epochs", "max_steps", "max_minutes", "max_cpu_minutes", "optim.<name>.lr", "grad_clip",
                    "precision", "log_every", "checkpoint_every", "checkpoint_every_epoch", "keep_checkpoints",
                    "sample_every_epoch", "sample_n", "tensorboard", "num_threads", "compile")


def apply_resume_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """``genzoo resume --set``: apply overrides of :data:`RESUMABLE_FIELDS` only, with the usual checks."""
    from .config import apply_overrides, build_config, parse_override

    for text in overrides:
        path, _ = parse_override(text)
        key = ".".join(path)
        lr = len(path) == 3 and path[0] == "optim" and path[2] == "lr"
        if lr and path[1] not in cfg.optim:
            raise ConfigError(f"--set {text}: this run's optimizers are {sorted(cfg.optim)}")
        if not lr and key not in RESUMABLE_FIELDS:
            raise ConfigError(f"--set {key} cannot change when a run is resumed (the checkpoint was trained with "
                              f"it); resume may change {', '.join(RESUMABLE_FIELDS)} — start a new run with "
                              f"`genzoo train {cfg.recipe} --set {text}` to change {key}")
    return build_config(apply_overrides(cfg.to_dict(), list(overrides)))


def resume(run_dir: Path, epochs: int | None = None, max_steps: int | None = None,
           progress: bool = True, overrides: list[str] | None = None,
           log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Continue a run from its newest checkpoint, exactly where it stopped.

    A run already at (or past) its target is refused without touching its record; ``overrides`` may change
    the :data:`RESUMABLE_FIELDS` (e.g. a lower learning rate after the NaN guard stopped a run).
    """
    run_dir = Path(run_dir)
    cfg = read_config(run_dir / "config.yaml")
    if overrides:
        cfg = apply_resume_overrides(cfg, list(overrides))
    if epochs is not None:
        cfg.epochs = epochs
    if max_steps is not None or epochs is not None:
        cfg.max_steps = max_steps
    dist = init_distributed(resolve_device(cfg.device))
    lock = None
    try:
        plan = _setup(cfg, dist)
        lock = _lock(run_dir, "resume", dist)
        model = prepare_model(cfg)
        data = load_data(cfg.data, family_of(cfg).data_hints(cfg.model), spec=read_spec(run_dir))
        model.attach_spec(data.spec)
        trainer = make_trainer(cfg, run_dir, model, data, dist, plan)
        trainer.restore()
        target = trainer.target_step(None, None)
        if target <= trainer.step:
            goal = f"max_steps {cfg.max_steps}" if cfg.max_steps is not None else f"{cfg.epochs} epochs"
            raise ConfigError(f"{run_dir} is already at step {trainer.step} (epoch {trainer.epochs_done}) and its "
                              f"target is step {target} ({goal}): nothing to train. Give a later target: `genzoo "
                              f"resume {run_dir} --epochs N` (N > {trainer.epochs_done}) or --max-steps N "
                              f"(N > {trainer.step})")
        if log is not None and dist.is_main:
            log(f"genzoo: resuming {run_dir} at step {trainer.step} towards step {target}; {plan.describe()}")
        if dist.is_main:
            save_config(cfg, run_dir / "config.yaml")  # the new target is part of the run's record
        return trainer.fit(progress=progress)
    finally:
        if lock is not None:
            lock.release()
        shutdown_distributed()


def load_run(run_dir: Path, use_ema: bool = True, device: str = "cpu",
             checkpoint: Path | None = None) -> tuple[RunConfig, GenerativeModel]:
    """The config and trained model of a run (EMA weights when available and ``use_ema``), in eval mode."""
    cfg, ckpt = run_checkpoint(run_dir, checkpoint)
    model = build_model_with_stages(cfg.model)
    model.attach_spec(read_spec(Path(run_dir)))
    load_weights(model, ckpt / "model.safetensors")
    if use_ema and (ckpt / "ema.safetensors").exists():
        ema = EMA(model.ema_module(), cfg.ema_decay or 0.999)
        load_weights(ema.shadow, ckpt / "ema.safetensors", "EMA")
        model = model_for_sampling(model, ema)
    model.to(resolve_device(device if device != "auto" else cfg.device)).eval()
    if cfg.channels_last:  # the trainer's layout: sampling and eval run the kernels training ran
        model.to(memory_format=torch.channels_last)
    return cfg, model
