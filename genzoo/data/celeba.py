"""CelebA (Liu et al. 2015, https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html): aligned faces with 40
binary attributes.

Expected layout under ``--data-dir`` (or ``$GENZOO_DATA/celeba``)::

    img_align_celeba/000001.jpg ...      (Kaggle's copy nests it: img_align_celeba/img_align_celeba/)
    list_attr_celeba.txt                 (official: count line, 40 names, then "file v1 ... v40", -1/1)
      or list_attr_celeba.csv            (Kaggle / the book: "image_id,5_o_Clock_Shadow,...")
    list_eval_partition.txt              (optional, "file 0|1|2" = train|valid|test; .csv also read)

The whole split is decoded into memory as uint8: the 162,770 training faces take 2.0 GB at 64 px
(0.5 GB at 32 px), and the first read decodes every JPEG (a few minutes). The result is cached per
(size, split) under ``cache_dir()/celeba``, keyed by a hash of the folder and the file list, so later
runs load in seconds. For quick experiments set ``data.limit`` (e.g. ``--set data.limit=20000``) to
keep training memory small, or point ``--data-dir`` at a smaller copy of the folder.
"""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import torch

from . import transforms as T
from .folders import cache_path, file_stamp, load_cache, path_key, read_image_files, save_cache
from .registry import DataRequest, register_dataset, search_dirs
from .types import DataError, ImageSet

DEFAULT_SIZE = 64
SPLITS = {"train": 0, "valid": 1, "val": 1, "test": 2}
# The official partition is contiguous in file number; used when list_eval_partition is absent.
_OFFICIAL_LAST = (162770, 182637)
HINT = ("Download CelebA (img_align_celeba + list_attr_celeba.txt) and pass --data-dir DIR holding "
        "them; see https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html")


def find_root(request: DataRequest) -> Path:
    dirs = search_dirs(request, "celeba")
    for d in dirs:
        for root in (d, d / "celeba-dataset"):
            if (root / "list_attr_celeba.txt").is_file() or (root / "list_attr_celeba.csv").is_file():
                return root
    raise DataError(f"no CelebA attribute file (list_attr_celeba.txt or .csv) found in "
                    f"{', '.join(str(d) for d in dirs)}. {HINT}")


def image_dir(root: Path) -> Path:
    for d in (root / "img_align_celeba" / "img_align_celeba", root / "img_align_celeba"):
        if d.is_dir():
            return d
    raise DataError(f"{root}: no img_align_celeba/ folder next to the attribute file; unzip "
                    f"img_align_celeba.zip there")


def _values(tokens: list[str], where: str) -> list[int]:
    try:
        vals = [int(t) for t in tokens]
    except ValueError:
        raise DataError(f"{where}: attribute values must be -1 or 1, got {' '.join(tokens)[:80]!r}") from None
    if any(v not in (-1, 0, 1) for v in vals):
        raise DataError(f"{where}: attribute values must be -1 or 1, got {' '.join(tokens)[:80]!r}")
    return vals


def read_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """``(filenames, attribute names, int8 N×A of -1/1)`` from the .txt or .csv attribute file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read ({e}). {HINT}") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    files: list[str] = []
    rows: list[list[int]] = []
    if path.suffix == ".csv":
        reader = csv.reader(lines)
        header = next(reader, None)
        if not header or header[0].strip() != "image_id" or len(header) < 2:
            raise DataError(f"{path}: expected a header 'image_id,<attribute>,...'. {HINT}")
        names = [h.strip() for h in header[1:]]
        body, start = reader, 2
    else:
        if len(lines) < 2 or not lines[0].strip().isdigit():
            raise DataError(f"{path}: expected the image count on line 1 and attribute names on line 2. {HINT}")
        expected = int(lines[0])
        names = lines[1].split()
        body, start = (ln.split() for ln in lines[2:]), 3
    for i, fields in enumerate(body):
        where = f"{path} line {start + i}"
        if len(fields) != len(names) + 1:
            raise DataError(f"{where}: expected a file name and {len(names)} values, got {len(fields)} "
                            f"fields; the file is truncated or corrupt. {HINT}")
        files.append(fields[0].strip())
        rows.append(_values([f.strip() for f in fields[1:]], where))
    if path.suffix != ".csv" and len(files) != expected:
        raise DataError(f"{path}: line 1 says {expected} images but {len(files)} rows follow; the file is "
                        f"truncated or corrupt. {HINT}")
    if not files:
        raise DataError(f"{path}: no image rows. {HINT}")
    arr = np.array(rows, dtype=np.int8).reshape(len(files), len(names))
    return files, names, arr


def read_partition(root: Path) -> tuple[dict[str, int], Path] | None:
    """``filename → 0/1/2`` from list_eval_partition.txt/.csv, or ``None`` when absent."""
    for path in (root / "list_eval_partition.txt", root / "list_eval_partition.csv"):
        if not path.is_file():
            continue
        try:
            lines = [ln for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: cannot read ({e}). {HINT}") from None
        if path.suffix == ".csv":
            lines = [ln.replace(",", " ") for ln in lines[1:]]
        out = {}
        for i, ln in enumerate(lines):
            fields = ln.split()
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise DataError(f"{path} line {i + 1}: expected 'filename 0|1|2', got {ln[:80]!r}; the file is "
                                f"corrupt — delete it to use the official split by file number")
            out[fields[0]] = int(fields[1])
        return out, path
    return None


def split_mask(files: list[str], root: Path, split: str) -> np.ndarray:
    if split == "all":
        return np.ones(len(files), dtype=bool)
    if split not in SPLITS:
        raise DataError(f"celeba: unknown split {split!r}; use train, valid, test or all")
    part = read_partition(root)
    if part is not None:
        table, path = part
        missing = [f for f in files if f not in table]
        if missing:
            raise DataError(f"{path}: no partition entry for {len(missing)} image(s), e.g. {missing[0]}; "
                            f"use the list_eval_partition file that matches the attribute file")
        codes = np.array([table[f] for f in files])
    else:
        numbers = [re.fullmatch(r"(\d+)\.\w+", f) for f in files]
        if not all(numbers):
            if split == "train":
                return np.ones(len(files), dtype=bool)
            raise DataError(f"{root}: split {split!r} needs list_eval_partition.txt (file names are not "
                            f"CelebA's numbered ones); add it or use split train")
        n = np.array([int(m.group(1)) for m in numbers])
        codes = (n > _OFFICIAL_LAST[0]).astype(int) + (n > _OFFICIAL_LAST[1]).astype(int)
    return codes == SPLITS[split]


def check_files(folder: Path, files: list[str]) -> list[Path]:
    present = set(os.listdir(folder))
    missing = [f for f in files if f not in present]
    if missing:
        raise DataError(f"{folder}: {len(missing)} image(s) listed in the attribute file are missing, e.g. "
                        f"{', '.join(missing[:3])}; unzip img_align_celeba.zip completely")
    return [folder / f for f in files]


@register_dataset("celeba", "CelebA aligned faces with 40 binary attributes, 64×64 by default "
                  "(img_align_celeba + list_attr_celeba.txt/.csv under --data-dir)", (3, DEFAULT_SIZE, DEFAULT_SIZE))
def celeba(request: DataRequest) -> ImageSet:
    """CelebA faces, centre-cropped and resized (Lanczos) to ``request.image_size`` (default 64).

    Attributes are 0/1 floats (official -1 → 0); ``request.attributes`` picks columns by name,
    otherwise all 40 are returned. Splits: ``train``/``valid``/``test`` from list_eval_partition
    (or, without it, CelebA's official ranges of file numbers), and ``all``. See the module
    docstring for memory use and the cache.
    """
    root = find_root(request)
    attr_path = root / "list_attr_celeba.txt"
    if not attr_path.is_file():
        attr_path = root / "list_attr_celeba.csv"
    files, names, values = read_attributes(attr_path)
    cols = list(range(len(names)))
    if request.attributes:
        unknown = [a for a in request.attributes if a not in names]
        if unknown:
            raise DataError(f"{attr_path}: unknown attribute(s) {', '.join(unknown)}; valid names: "
                            f"{', '.join(names)}")
        cols = [names.index(a) for a in request.attributes]
    keep = split_mask(files, root, request.split)
    if request.limit is not None:  # decode only what the run will use
        keep &= np.cumsum(keep) <= request.limit
    files = [f for f, k in zip(files, keep) if k]
    if not files:
        raise DataError(f"{root}: the {request.split} split is empty")
    folder = image_dir(root)
    paths = check_files(folder, files)
    size = request.image_size or DEFAULT_SIZE

    key = path_key(folder.resolve(), file_stamp(attr_path), size, request.split, "\n".join(files), "v1")
    cfile = cache_path("celeba", f"{request.split}-{size}px-{key}.npz")
    cached = load_cache(cfile)
    if cached is not None and cached.get("images", np.empty(0)).shape == (len(files), 3, size, size):
        images = cached["images"]
    else:
        images = read_image_files(paths, size, 3)
        save_cache(cfile, images=images)
    x = torch.from_numpy(images)
    if request.channels:
        x = T.to_channels(x, request.channels)
    attrs = torch.from_numpy((values[keep][:, cols] > 0).astype(np.float32))
    return ImageSet(x.contiguous(), attributes=attrs, attribute_names=[names[c] for c in cols],
                    source=f"celeba:{request.split} ({root})", meta={"files": files})
