"""Named datasets. A reader is registered once and found by name from recipes and the CLI.

Search order for files on disk, used by every reader: ``--data-dir``/``data.data_dir``, then
``$GENZOO_DATA``, then the reader's system locations (Debian packages), then a download where a
network exists (into ``$GENZOO_CACHE`` or ``~/.cache/genzoo``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .types import DataError, ImageSet

Reader = Callable[["DataRequest"], ImageSet]


@dataclass(frozen=True)
class DataRequest:
    """What a reader is asked for: a split and where to look."""

    split: str = "train"            # train | test (readers without a split ignore it)
    data_dir: str | None = None
    image_size: int | None = None   # readers of variable-size images resize while reading
    channels: int | None = None
    attributes: tuple[str, ...] | None = None
    limit: int | None = None        # the first N images suffice (readers of large sets may stop early)
    domains: tuple[str, ...] | None = None   # two-domain readers: which two domains, A first (data.domains)


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    reader: Reader
    description: str
    shape: tuple[int, int, int] | None  # native shape, None when it varies
    modality: str = "image"             # image | points | tokens (what load_data builds from it)


_DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(name: str, description: str, shape: tuple[int, int, int] | None = None,
                     modality: str = "image"):
    def deco(fn: Reader) -> Reader:
        _DATASETS[name] = DatasetInfo(name, fn, description, shape, modality)
        return fn
    return deco


def dataset_names() -> list[str]:
    return sorted(_DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    if name not in _DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")
    return _DATASETS[name]


def search_dirs(request: DataRequest, name: str, system: list[str] = ()) -> list[Path]:
    """Folders to look in, most specific first (each also with a ``name`` sub-folder). A ``--data-dir`` is
    the only place looked in: a folder without the files is an error, not a silent fall-back to another copy."""
    if request.data_dir:
        return [Path(request.data_dir), Path(request.data_dir) / name]
    roots: list[Path] = []
    base = os.environ.get("GENZOO_DATA")
    if base:
        roots += [Path(base), Path(base) / name]
    roots += [Path(s) for s in system]
    roots.append(cache_dir() / name)
    return roots


def cache_dir() -> Path:
    return Path(os.environ.get("GENZOO_CACHE", Path.home() / ".cache" / "genzoo"))
