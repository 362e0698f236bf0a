"""Quick, Draw! (Google Creative Lab, CC-BY 4.0, https://github.com/googlecreativelab/quickdraw-dataset):
28×28 grey sketches from the "numpy bitmap" release.

Each category is one ``<category>.npy`` (or ``full_numpy_bitmap_<category>.npy``, as downloaded from
``gs://quickdraw_dataset/full/numpy_bitmap/``) holding an N×784 uint8 array (N×28×28 is accepted too).
The book's GAN example uses ``camel.npy``. All ``.npy`` files found in the data folder are read; with
several, the labels index the categories in sorted order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .folders import finish
from .registry import DataRequest, register_dataset, search_dirs
from .types import DataError, ImageSet

PREFIX = "full_numpy_bitmap_"
MAX_PER_CATEGORY = 80_000
HINT = ("Download <category>.npy files from https://console.cloud.google.com/storage/browser/quickdraw_dataset/"
        "full/numpy_bitmap (e.g. camel.npy) and pass --data-dir DIR holding them.")


def category_of(path: Path) -> str:
    stem = path.stem
    return stem[len(PREFIX):] if stem.startswith(PREFIX) else stem


def find_files(request: DataRequest) -> list[Path]:
    if request.data_dir and Path(request.data_dir).is_file():
        return [Path(request.data_dir)]
    dirs = search_dirs(request, "quickdraw")
    for d in dirs:
        files = sorted(p for p in d.glob("*.npy") if p.is_file()) if d.is_dir() else []
        if files:
            return files
    raise DataError(f"no Quick, Draw! .npy files found in {', '.join(str(d) for d in dirs)}. {HINT}")


def read_bitmaps(path: Path, limit: int | None) -> np.ndarray:
    """The first ``limit`` drawings of one category file as uint8 N×1×28×28 (memory-mapped read)."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read this .npy file ({e}); it is corrupt or truncated. {HINT}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or not (
            (arr.ndim == 2 and arr.shape[1] == 784) or (arr.ndim == 3 and arr.shape[1:] == (28, 28))):
        raise DataError(f"{path}: expected an N×784 uint8 Quick, Draw! bitmap array, got "
                        f"{getattr(arr, 'dtype', type(arr).__name__)} {getattr(arr, 'shape', '')}. {HINT}")
    return np.array(arr[:limit]).reshape(-1, 1, 28, 28)


def load_quickdraw(files: list[Path], split: str, max_per_category: int | None = MAX_PER_CATEGORY) -> ImageSet:
    """Read category files; ``test`` is the last 10% (rounded down) of each category's kept drawings."""
    if split not in ("train", "test", "all"):
        raise DataError(f"quickdraw: unknown split {split!r}; use train, test or all")
    cats = [category_of(p) for p in files]
    dupes = sorted({c for c in cats if cats.count(c) > 1})
    if dupes:
        raise DataError(f"{files[0].parent}: category {dupes[0]!r} appears in more than one file; keep one of "
                        f"{', '.join(p.name for p in files if category_of(p) == dupes[0])}")
    order = sorted(range(len(files)), key=lambda i: cats[i])
    images, labels = [], []
    for label, i in enumerate(order):
        x = read_bitmaps(files[i], max_per_category)
        n_test = len(x) // 10
        if split == "train":
            x = x[:len(x) - n_test]
        elif split == "test":
            x = x[len(x) - n_test:]
        images.append(x)
        labels.append(np.full(len(x), label, dtype=np.int64))
    return ImageSet(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)),
                    class_names=[cats[i] for i in order],
                    source=f"quickdraw:{split} ({files[0].parent})")


@register_dataset("quickdraw", "Quick, Draw! 28×28 grey sketches from <category>.npy files under --data-dir "
                  "(the book's camel.npy)", (1, 28, 28))
def quickdraw(request: DataRequest) -> ImageSet:
    """Quick, Draw! bitmaps, at most 80,000 drawings per category (the first ones in the file).

    The cap follows the book's loader, which keeps 80,000 drawings (it shuffles and splits 80,000
    across its files; here each category keeps its first 80,000, deterministically). Call
    :func:`load_quickdraw` with ``max_per_category=None`` for every drawing. Splits: ``test`` is the
    last 10% of each category, ``train`` the rest, ``all`` everything.
    """
    data = load_quickdraw(find_files(request), request.split)
    data.images = finish(data.images, request)
    return data
