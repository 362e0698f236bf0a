"""One way to open a run: its config, its trained model (EMA weights by default) and its data on demand.

``genzoo sample``'s tasks, ``genzoo eval`` and ``genzoo analyze`` all open runs through :class:`RunContext`,
so a run is loaded, checked and given its data the same way everywhere (and from Python)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .config import RunConfig
from .data import Batch, load_data


class RunContext:
    """An opened run. ``model`` is in eval mode on ``device``; ``data(split)`` reads a split once, as the model
    sees it (the run's size, channels, binarising or quantising)."""

    def __init__(self, run_dir: str | Path, *, use_ema: bool = True, device: str = "cpu",
                 checkpoint: Path | None = None, cfg: RunConfig | None = None, model: Any = None):
        from .runs import load_run

        self.run_dir = Path(run_dir)
        if model is None:
            cfg, model = load_run(self.run_dir, use_ema=use_ema, device=device, checkpoint=checkpoint)
        from .runs import read_spec

        self.cfg: RunConfig = cfg
        self.model = model
        self.spec = read_spec(self.run_dir)     # None for runs written before specs were saved
        self._data: dict[str, Any] = {}

    @property
    def recipe(self) -> str:
        return self.cfg.recipe

    def data(self, split: str = "test"):
        """The ``split`` as the run's model sees it (an ImageSet or a TokenSet), read once."""
        if split not in self._data:
            from .runs import family_of

            hints = family_of(self.cfg).data_hints(self.cfg.model)
            self._data[split] = load_data(self.cfg.data, hints, split=split, spec=self.spec)
        return self._data[split]

    def batch(self, split: str, n: int) -> Batch:
        """The first ``n`` items of ``split`` (fewer if the split is smaller), ready for the model."""
        data = self.data(split)
        return data.gather(torch.arange(min(n, len(data))), self.cfg.data, self.model.data_range, self.model.device)
