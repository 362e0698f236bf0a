"""A TensorBoard writer created on first use, so a run's first step does not wait for the import.

Importing ``torch.utils.tensorboard`` costs ~0.3–0.5 s (and more on a busy machine) and the first
metric line comes only after ``log_every`` steps; until then nothing needs it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


class LazySummaryWriter:
    """``add_scalar``/``flush`` of a ``SummaryWriter`` made at the first call; a no-op without the
    optional ``tensorboard`` package."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self._writer: Any = None
        self._available = True

    def _get(self) -> Any:
        if self._writer is None and self._available:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is an optional extra
                self._available = False
                return None
            self._writer = SummaryWriter(str(self.log_dir))
        return self._writer

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        writer = self._get()
        if writer is not None:
            writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        if self._writer is not None:  # nothing logged yet: nothing to write
            self._writer.flush()
