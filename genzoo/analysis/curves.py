"""Reading a run's ``metrics.jsonl`` and grouping its series for the loss-curve plot (Foster ch. 4, Fig. 4-7:
discriminator and generator losses of a GAN on the same axes)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..config import ConfigError

# Bookkeeping columns of the trainer's metric lines that are not losses.
NOT_PLOTTED = {"step", "epoch", "images_per_s", "points_per_s", "tokens_per_s", "lr"}


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl`` sorted by step; when a resumed run logged a step twice (the lines
    written after the last checkpoint of a killed run and again after ``resume``) the later row wins."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found: the run has logged no metrics yet (it logs every "
                          f"`log_every` steps; train longer or lower --set log_every)")
    by_step: dict[int, dict[str, Any]] = {}
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if n == len(lines):
                continue  # a line cut short by a killed process
            raise ConfigError(f"{path}:{n}: not a JSON object; the metrics file is damaged") from None
        if isinstance(row, dict) and "step" in row:
            by_step[int(row["step"])] = row
    if not by_step:
        raise ConfigError(f"{path} holds no metric rows yet; train longer or lower --set log_every")
    return [by_step[s] for s in sorted(by_step)]


def numeric_series(rows: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """``name → (steps, values)`` for every finite numeric column; ``lr.<optimizer>`` when the
    learning rate changes during the run (``lr_decay``)."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for row in rows:
        step = int(row["step"])
        for k, v in row.items():
            if k in NOT_PLOTTED or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if math.isfinite(v):
                s = series.setdefault(k, ([], []))
                s[0].append(step)
                s[1].append(float(v))
        for k, v in (row.get("lr") or {}).items():
            s = series.setdefault(f"lr.{k}", ([], []))
            s[0].append(step)
            s[1].append(float(v))
    for k in [k for k in series if k.startswith("lr.")]:
        if len(set(series[k][1])) <= 1:
            del series[k]
    return series


def metric_groups(names: list[str]) -> dict[str, list[str]]:
    """One group per plot panel. A GAN's ``d_X``, ``d_X_real``, ``d_X_fake`` and ``g_X`` share the panel
    ``X`` — Foster's ch. 4 notebook draws the discriminator's mean, real and fake losses and the
    generator's loss on one axes (Fig. 4-7). Every other metric has its own panel; ``loss`` comes first."""
    groups: dict[str, list[str]] = {}
    for name in names:
        key = name[2:] if name[:2] in ("d_", "g_") else name
        for suffix in ("_real", "_fake"):
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[:-len(suffix)]
        if key.startswith("lr."):
            key = "learning rate"
        groups.setdefault(key, []).append(name)
    order = sorted(groups, key=lambda k: (k != "loss", k == "learning rate", k))
    return {k: sorted(groups[k]) for k in order}


def wants_log_scale(values: list[float], ratio: float = 20.0) -> bool:
    """Log y-axis when every value is positive and they span more than ``ratio``×."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > ratio
