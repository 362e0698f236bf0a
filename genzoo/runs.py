"""Run folders: creating, training, resuming and loading them. The CLI and Python users call these.

A run folder holds ``config.yaml`` (the resolved config), ``checkpoints/``, ``samples/``,
``metrics.jsonl``, ``tensorboard/`` and ``train_summary.json``.
"""
from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, RunConfig, read_config, save_config
from .config import config_from_recipe  # noqa: F401  (torch-free; kept importable from here)
from .data import load_images
from .models import GenerativeModel, build_model, model_families
from .training.checkpoint import latest_checkpoint, load_weights, run_checkpoint
from .training.distributed import DistInfo, init_distributed, shutdown_distributed
from .training.trainer import make_trainer, model_for_sampling, resolve_device
from .training.ema import EMA

DEFAULT_RUNS = Path(os.environ.get("GENZOO_RUNS", "runs"))


def new_run_dir(recipe: str, root: Path = DEFAULT_RUNS) -> Path:
    """``runs/0001_vae-digits``: the next free number, as in the book's ``run/vae/0001_digits``."""
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"(\d{4,})_", p.name))]
    return root / f"{max(numbers, default=0) + 1:04d}_{recipe}"


def prepare_model(cfg: RunConfig, data_classes: int | None = None) -> GenerativeModel:
    """Build the model of ``cfg`` (seeded, so every process starts from the same weights)."""
    torch.manual_seed(cfg.seed)
    return build_model(cfg.model)


def _fresh(cfg: RunConfig) -> RunConfig:
    family = model_families().get(cfg.model.get("family"))
    if family is not None:
        cfg.model = family.fresh_config(dict(cfg.model))
    return cfg


def _setup(cfg: RunConfig, dist: DistInfo) -> None:
    threads = cfg.num_threads
    if threads is None and dist.enabled:
        threads = max(1, (os.cpu_count() or 1) // dist.world_size)
    if threads:
        torch.set_num_threads(threads)


def train(cfg: RunConfig, run_dir: Path | None = None, progress: bool = True) -> tuple[Path, dict[str, Any]]:
    """Train a new run; returns its folder and the training summary."""
    dist = init_distributed(resolve_device(cfg.device))
    try:
        _setup(cfg, dist)
        if run_dir is None:
            run_dir = dist.broadcast_object(new_run_dir(cfg.recipe) if dist.is_main else None)
        run_dir = Path(run_dir)
        if dist.is_main:
            if latest_checkpoint(run_dir) is not None:
                raise ConfigError(f"{run_dir} already holds a run; continue it with `genzoo resume {run_dir}` "
                                  f"or choose another --out")
            run_dir.mkdir(parents=True, exist_ok=True)
        model = prepare_model(_fresh(cfg))
        cfg.model.update(model.config_updates())
        data = load_images(cfg.data, tuple(model.config.input_shape))
        if data.is_points and hasattr(model.config, "standardisation"):
            # samples go back to the data's own units without re-reading the data
            model.config.standardisation = cfg.model["standardisation"] = data.meta.get("standardisation")
        if dist.is_main:
            save_config(cfg, run_dir / "config.yaml")
        dist.barrier()
        _check_condition(cfg, model, data)
        if dist.enabled:
            torch.manual_seed(cfg.seed * 1000 + dist.rank)  # different noise in each process
        trainer = make_trainer(cfg, run_dir, model, data, dist)
        summary = trainer.fit(progress=progress)
        return run_dir, summary
    finally:
        shutdown_distributed()


def _check_condition(cfg: RunConfig, model: GenerativeModel, data) -> None:
    mc = model.config
    model.check_data(cfg.data)
    if mc.num_classes and data.labels is None:
        raise ConfigError(f"model.num_classes={mc.num_classes} but {data.source} has no labels")
    if mc.num_classes and data.num_classes and data.num_classes > mc.num_classes:
        raise ConfigError(f"{data.source} has {data.num_classes} classes but model.num_classes={mc.num_classes}")
    if mc.num_attributes and (data.attributes is None or data.attributes.shape[1] != mc.num_attributes):
        have = None if data.attributes is None else data.attributes.shape[1]
        raise ConfigError(f"model.num_attributes={mc.num_attributes} but the data carries {have} attributes "
                          f"(set data.attributes to the attribute names)")


def resume(run_dir: Path, epochs: int | None = None, max_steps: int | None = None,
           progress: bool = True) -> dict[str, Any]:
    """Continue a run from its newest checkpoint, exactly where it stopped."""
    run_dir = Path(run_dir)
    cfg = read_config(run_dir / "config.yaml")
    if epochs is not None:
        cfg.epochs = epochs
    if max_steps is not None or epochs is not None:
        cfg.max_steps = max_steps
    dist = init_distributed(resolve_device(cfg.device))
    try:
        _setup(cfg, dist)
        model = prepare_model(cfg)
        data = load_images(cfg.data, tuple(model.config.input_shape))
        trainer = make_trainer(cfg, run_dir, model, data, dist)
        trainer.restore()
        if dist.is_main:
            save_config(cfg, run_dir / "config.yaml")  # the new target is part of the run's record
        return trainer.fit(progress=progress)
    finally:
        shutdown_distributed()


def load_run(run_dir: Path, use_ema: bool = True, device: str = "cpu",
             checkpoint: Path | None = None) -> tuple[RunConfig, GenerativeModel]:
    """The config and trained model of a run (EMA weights when available and ``use_ema``), in eval mode."""
    cfg, ckpt = run_checkpoint(run_dir, checkpoint)
    model = build_model(cfg.model)
    load_weights(model, ckpt / "model.safetensors")
    if use_ema and (ckpt / "ema.safetensors").exists():
        ema = EMA(model.ema_module(), cfg.ema_decay or 0.999)
        load_weights(ema.shadow, ckpt / "ema.safetensors", "EMA")
        model = model_for_sampling(model, ema)
    model.to(resolve_device(device if device != "auto" else cfg.device)).eval()
    return cfg, model
