"""Analyses of trained runs (Foster, *Generative Deep Learning* 1st ed., ch. 3-4) and image grids.

``run_analysis`` is imported lazily: the trainer imports :mod:`genzoo.analysis.grid` for its sample
grids and should not pay for matplotlib, and the command line reads the analyses' names from
:mod:`genzoo.analysis.registry` without importing torch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def run_analysis(run_dir: str | Path, what: str, out_dir: str | Path | None = None, split: str = "test",
                 n: int | None = None, seed: int = 0, attribute: str | None = None,
                 prompt: str | None = None) -> dict[str, Any]:
    """Run one of the analyses (or ``all``) on a run folder; see :func:`genzoo.analysis.run.run_analysis`."""
    from .run import run_analysis as _run_analysis

    return _run_analysis(run_dir, what, out_dir=out_dir, split=split, n=n, seed=seed, attribute=attribute,
                         prompt=prompt)


def __getattr__(name: str) -> Any:
    """``make_grid`` and ``save_grid`` on first use, so that reading :mod:`genzoo.analysis.registry` (the command
    line's list of analyses) imports no torch."""
    if name in ("make_grid", "save_grid"):
        from . import grid

        return getattr(grid, name)
    raise AttributeError(name)


__all__ = ["make_grid", "run_analysis", "save_grid"]
