"""One way to open a run: its config, its trained model (EMA weights by default) and its data on demand.

``genzoo sample``'s tasks, ``genzoo eval`` and ``genzoo analyze`` all open runs through :class:`RunContext`,
so a run is loaded, checked and given its data the same way everywhere (and from Python)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .config import RunConfig
from .data import Batch, ImageSet, load_images, make_batch


class RunContext:
    """An opened run. ``model`` is in eval mode on ``device``; ``data(split)`` reads a split once, as the model
    sees it (the run's size, channels, binarising or quantising)."""

    def __init__(self, run_dir: str | Path, *, use_ema: bool = True, device: str = "cpu",
                 checkpoint: Path | None = None, cfg: RunConfig | None = None, model: Any = None):
        from .runs import load_run

        self.run_dir = Path(run_dir)
        if model is None:
            cfg, model = load_run(self.run_dir, use_ema=use_ema, device=device, checkpoint=checkpoint)
        self.cfg: RunConfig = cfg
        self.model = model
        self._data: dict[str, ImageSet] = {}

    @property
    def recipe(self) -> str:
        return self.cfg.recipe

    def data(self, split: str = "test") -> ImageSet:
        if split not in self._data:
            self._data[split] = load_images(self.cfg.data, tuple(self.model.config.input_shape), split=split)
        return self._data[split]

    def batch(self, split: str, n: int) -> Batch:
        """The first ``n`` items of ``split`` (fewer if the split is smaller), ready for the model."""
        data = self.data(split)
        return make_batch(data, torch.arange(min(n, len(data))), self.cfg.data, self.model.config.data_range,
                          self.model.device)
