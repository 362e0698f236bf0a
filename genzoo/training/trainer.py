"""Which training loop a model gets: each family names its objective (``GenerativeModel.training_loop``)
and this registry maps the name to the loop that trains it. Gradient training is registered here; a
family with another kind of optimisation (an evolution strategy, say) registers its own loop with
:func:`register_loop` from the module that defines it. The shared machinery is
:mod:`genzoo.training.loop`, the gradient loops :mod:`genzoo.training.gradient`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import ConfigError, RunConfig
from ..models.base import GenerativeModel
from .distributed import DistInfo
from .gradient import AdversarialTrainer, SingleObjectiveTrainer
from .loop import TrainingLoop
from .threads import ThreadPlan

__all__ = ["LOOPS", "make_trainer", "register_loop"]

LOOPS: dict[str, type[TrainingLoop]] = {"gradient": SingleObjectiveTrainer, "adversarial": AdversarialTrainer}


def register_loop(name: str, loop: type[TrainingLoop]) -> None:
    """Make ``loop`` the training loop of every family whose ``training_loop`` is ``name``."""
    if not (isinstance(loop, type) and issubclass(loop, TrainingLoop)):
        raise TypeError(f"{loop!r} is not a TrainingLoop subclass")
    if LOOPS.get(name, loop) is not loop:
        raise ValueError(f"training loop {name!r} is already registered as {LOOPS[name].__name__}")
    LOOPS[name] = loop


def make_trainer(cfg: RunConfig, run_dir: Path, model: GenerativeModel, data: Any,
                 dist: DistInfo | None = None, threads: ThreadPlan | None = None) -> TrainingLoop:
    """The loop the model's family declares, ready to :meth:`~TrainingLoop.fit` or to restore."""
    loop = LOOPS.get(model.training_loop)
    if loop is None:
        raise ConfigError(f"model family {model.family!r} trains with the loop {model.training_loop!r}, which "
                          f"nothing registered (known: {', '.join(sorted(LOOPS))}); import the module that "
                          f"defines it before training")
    return loop(cfg, run_dir, model, data, dist, threads)
