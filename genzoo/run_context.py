"""One way to open a run: its config, its trained model (EMA weights by default), its data spec and its data
on demand, each read when first asked for.

``genzoo sample``'s tasks, ``genzoo eval`` and ``genzoo analyze`` all open runs through :class:`RunContext`,
so a run is loaded, checked and given its data the same way everywhere (and from Python). Asking only for
the config (``genzoo analyze RUN curves``) reads YAML and needs no checkpoint."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .config import RunConfig, read_config
from .data import Batch, load_data


class RunContext:
    """An opened run. ``model`` is in eval mode on ``device``; ``data(split)`` reads a split once, as the model
    sees it (the run's size, channels, binarising or quantising; a text run's tokeniser)."""

    def __init__(self, run_dir: str | Path, *, use_ema: bool = True, device: str = "cpu",
                 checkpoint: Path | None = None, cfg: RunConfig | None = None, model: Any = None):
        self.run_dir = Path(run_dir)
        self.use_ema, self.device, self.checkpoint = use_ema, device, checkpoint
        self._cfg: RunConfig | None = cfg
        self._model = model
        self._spec: Any = False           # False: not read yet (None: the run has no data_spec.json)
        self._data: dict[str, Any] = {}

    @property
    def cfg(self) -> RunConfig:
        if self._cfg is None:
            self._cfg = read_config(self.run_dir / "config.yaml")
        return self._cfg

    @property
    def model(self):
        if self._model is None:
            from .runs import load_run

            self._cfg, self._model = load_run(self.run_dir, use_ema=self.use_ema, device=self.device,
                                              checkpoint=self.checkpoint)
        return self._model

    @property
    def spec(self):
        """The run's saved data spec (None for runs written before specs were saved)."""
        if self._spec is False:
            from .runs import read_spec

            self._spec = read_spec(self.run_dir)
        return self._spec

    @property
    def family(self):
        """The run's model family (its class), known from the config alone."""
        from .runs import family_of

        return family_of(self.cfg)

    @property
    def recipe(self) -> str:
        return self.cfg.recipe

    def data(self, split: str = "test"):
        """The ``split`` as the run's model sees it (an ImageSet or a TokenSet), read once."""
        if split not in self._data:
            hints = self.family.data_hints(self.cfg.model)
            self._data[split] = load_data(self.cfg.data, hints, split=split, spec=self.spec)
        return self._data[split]

    def batch(self, split: str, n: int, spread: bool = False) -> Batch:
        """The first ``n`` items of ``split`` (fewer if the split is smaller), or with ``spread`` ``n`` items evenly
        spaced over it, ready for the model."""
        data = self.data(split)
        return data.gather(item_index(len(data), n, spread), self.cfg.data, self.model.data_range, self.model.device)


def item_index(size: int, n: int, spread: bool) -> torch.Tensor:
    """``min(n, size)`` item numbers: the first ones, or evenly spaced over ``size`` with ``spread``."""
    n = min(n, size)
    if not spread or n <= 1:
        return torch.arange(n)
    return torch.linspace(0, size - 1, n).round().long()
