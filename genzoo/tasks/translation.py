"""The translate task (Foster 1st ed. ch. 5, Figs 5.3/5.8: the evaluation grid; pix2pix, Isola et al. 2017): images of
one domain through a model that :class:`~genzoo.models.capabilities.Translates`, one row per image, with the columns
original → translated → (reconstructed → identity, for a cycle-consistent model) → the true counterpart when the data
is paired. ``genzoo sample`` does this for a model that translates and does not sample, ``genzoo translate`` for the
user's own files, and the trainer's progress galleries call it on fixed held-out images.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from ..config import ConfigError
from ..data.types import DataError
from ..models.capabilities import Translates
from ..run_context import item_index
from .artifacts import Artifact, ImageGrid
from .generation import TASKS, Request, Task

DOMAINS = {"A": 0, "B": 1}


def directions_of(model: Any, req: Request) -> list[str]:
    """``--direction``'s direction, or every direction the model learned."""
    direction = req.options.get("direction")
    if direction is None:
        return list(model.directions)
    if direction not in model.directions:
        raise ConfigError(f"--direction {direction}: {model.family} translates {' and '.join(model.directions)} "
                          f"(A = the dataset's first domain, B its second)")
    return [direction]


def translation_rows(model: Any, x: Tensor, direction: str, target: Tensor | None) -> tuple[Tensor, list[str]]:
    """``[n, columns, C, H, W]`` in [0, 1] (original, the model's views, the true counterpart if given) and the
    column labels."""
    views = model.translation_views(x, direction=direction)
    columns = [model.to_unit(x).float().cpu()] + [v.float().cpu().clamp(0, 1) for v in views.values()]
    labels = ["original"] + list(views)
    if target is not None:
        columns.append(model.to_unit(target).float().cpu())
        labels.append("true counterpart")
    return torch.stack(columns, 1), labels


class TranslateTask(Task):
    """``-n`` held-out images of each direction's source domain (or the caller's ``req.images``) translated."""

    kind, needs, method, what, flag = "translate", Translates, "translation_views", "translation", "the default"
    fields = ("split",)
    gallery = True          # the trainer draws its progress galleries with it

    def check(self, model: Any, req: Request) -> None:
        super().check(model, req)
        if req.images is not None and len(directions_of(model, req)) > 1:
            raise ConfigError(f"your images are of one domain: say which with --direction "
                              f"({' or '.join(model.directions)})")

    def run(self, ctx: Any, req: Request) -> Artifact:
        model = ctx.model
        directions = directions_of(model, req)
        if req.images is not None:
            pair, paired = (req.images.to(model.device),) * 2, False
            names = req.image_names or [f"image {i + 1}" for i in range(len(req.images))]
        else:   # one batch of held-out pairs serves every direction
            batch = ctx.batch(req.split, req.n, spread=True)
            data = ctx.data(req.split)
            pair, paired = (batch.x, batch.target), bool(getattr(data, "paired", False))
            names = [f"{req.split} {i}" for i in item_index(len(data), req.n, True).tolist()]
        rows, row_labels, labels = [], [], []
        for direction in directions:
            target = pair[DOMAINS[direction[1]]] if paired else None
            grid, labels = translation_rows(model, pair[DOMAINS[direction[0]]], direction, target)
            rows.append(grid)
            row_labels += [f"{direction[0]}→{direction[1]}: {n}" for n in names]
        images = torch.cat(rows).flatten(0, 1)
        source = "your images" if req.images is not None else f"{req.n} {req.split} images spread over the split"
        return ImageGrid(images, nrow=len(labels), col_labels=labels, row_labels=row_labels,
                         title=f"{ctx.recipe}: {source} translated ({', '.join(directions)})",
                         info={"directions": directions, "columns": labels})


class HeldOutImages:
    """The context a task needs (``model``, ``recipe``, ``batch``, ``data``) over a training loop's run: the held-out
    split when the dataset has one, else the training data (the progress galleries' fixed images)."""

    def __init__(self, model: Any, recipe: str, data_cfg: Any, load_split: Callable[[str], Any], fallback: Any):
        self.model, self.recipe, self._cfg = model, recipe, data_cfg
        self._load, self._fallback, self._data = load_split, fallback, {}

    def data(self, split: str) -> Any:
        if split not in self._data:
            try:
                self._data[split] = self._load(split)
            except (DataError, ConfigError):
                self._data[split] = self._fallback
        return self._data[split]

    def batch(self, split: str, n: int, spread: bool = False):
        data = self.data(split)
        return data.gather(item_index(len(data), n, spread), self._cfg, self.model.data_range, self.model.device)


TASKS[TranslateTask.kind] = TranslateTask()

__all__ = ["HeldOutImages", "TranslateTask", "directions_of", "translation_rows"]
