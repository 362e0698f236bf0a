"""What a task returns: an artifact of one kind, written by that kind's writer (:mod:`genzoo.tasks.writers`).

An artifact holds everything its writer needs and nothing of the model, so tasks can be called from
Python, the CLI or a server and the results written, shown or sent as each caller likes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from torch import Tensor


@dataclass
class ImageGrid:
    """Images in [0, 1] (``N×C×H×W``) laid out ``nrow`` to a row, with the labels a reader needs. The PNG shows
    the first ``shown`` images (all when None); the tensor file holds every one."""

    images: Tensor
    nrow: int = 8
    title: str | None = None
    row_labels: Sequence[str] | None = None
    col_labels: Sequence[str] | None = None
    shown: int | None = None
    info: dict[str, Any] = field(default_factory=dict)   # extra JSON fields of the result (e.g. steps_shown)
    save_tensor: bool = True                              # also write every image as .safetensors


@dataclass
class PointCloud:
    """Points in model space and in the data's own units, with a picture of them (``draw(path) -> path``)."""

    points: Tensor
    raw: Tensor
    units: str
    draw: Callable[[Path], Path] | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Text:
    """Generated text (one or more samples), printed and written as ``.txt``."""

    samples: list[str]
    title: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(self.samples)


Artifact = ImageGrid | PointCloud | Text
