"""A listing of runs read from their YAML and JSON files only (no torch, no weights): ``genzoo runs``.

For each run folder under a root (``runs/`` by default): recipe, family, modality, dataset, the newest
checkpoint's step and epoch, why training last stopped, its throughput, and the headline of ``eval.json``.
A folder that is not a run is skipped; a run with an unreadable file is listed with the reason.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .training.checkpoint import latest_checkpoint

HEADLINES = (("perplexity", ("all", "model", "perplexity")), ("fid", ("value",)), ("nll", ("bits_per_dim",)),
             ("elbo", ("bits_per_dim",)), ("vlb", ("bits_per_dim",)), ("masked", ("all", "accuracy")),
             ("translation", ("AB", "l1")), ("translation", ("BA", "l1")))


@dataclass
class RunEntry:
    path: str
    recipe: str = "?"
    family: str = "?"
    modality: str = "?"
    dataset: str = "?"
    step: int | None = None
    epoch: float | None = None
    stopped_by: str | None = None    # target (finished), max_minutes, max_cpu_minutes, SIGINT, …
    throughput: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    problem: str | None = None


def _json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except (OSError, ValueError):
        return None


def _dig(d: dict, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def read_run(run_dir: Path) -> RunEntry:
    """What ``run_dir``'s files say about it."""
    entry = RunEntry(str(run_dir))
    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        entry.problem = f"config.yaml unreadable ({type(e).__name__})"
        return entry
    model, data = cfg.get("model") or {}, cfg.get("data") or {}
    entry.recipe, entry.family, entry.dataset = cfg.get("recipe", "?"), model.get("family", "?"), data.get("name", "?")
    spec = _json(run_dir / "data_spec.json")
    entry.modality = spec["modality"] if spec else "image or points (no data_spec.json)"
    ckpt = latest_checkpoint(run_dir)
    if ckpt is not None:
        meta = _json(ckpt / "meta.json") or {}
        entry.step, entry.epoch = meta.get("step"), meta.get("epoch")
    summary = _json(run_dir / "train_summary.json")
    if summary:
        entry.stopped_by = summary.get("stopped_by")
        rate = next(((k, v) for k, v in summary.items() if k.endswith("_per_s")), None)
        if rate:
            entry.throughput = f"{rate[1]:,.0f} {rate[0][:-6]}/s"
    metrics = (_json(run_dir / "eval.json") or {}).get("metrics", {})
    for name, keys in HEADLINES:
        value = _dig(metrics.get(name, {}), keys)
        if isinstance(value, (int, float)):
            label = {"bits_per_dim": f"{name} bits/dim", "accuracy": f"{name} accuracy",
                     "l1": f"{keys[0][0]}→{keys[0][1]} L1"}.get(keys[-1], name)
            entry.metrics[label] = round(float(value), 4)
    return entry


def list_runs(root: Path) -> list[RunEntry]:
    """Every run folder (one holding ``config.yaml``) directly under ``root`` or ``root`` itself, sorted by path."""
    root = Path(root)
    if (root / "config.yaml").exists():
        return [read_run(root)]
    if not root.is_dir():
        return []
    return [read_run(p) for p in sorted(root.iterdir()) if (p / "config.yaml").exists()]


def as_rows(entries: list[RunEntry]) -> list[dict[str, Any]]:
    return [asdict(e) for e in entries]
