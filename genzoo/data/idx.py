"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.), gzipped or plain."""
from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .types import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an IDX file (``.gz`` or not) into a tensor of its stored shape.

    A gzipped file is decoded once (0.3–0.5 s of CPU for Fashion-MNIST's training images) and kept as ``.npy`` in
    the cache, keyed by the file's path, size and modification time; later reads take milliseconds.
    """
    path = Path(path)
    if path.suffix != ".gz":
        return _decode_idx(path)
    from .folders import cache_path, file_stamp, path_key

    cached = cache_path("decoded-idx", f"{path.stem}-{path_key(file_stamp(path))}.npy")
    try:
        return torch.from_numpy(np.load(cached, allow_pickle=False))
    except (OSError, ValueError, EOFError):  # absent (or unreadable: decoded again and rewritten)
        pass
    out = _decode_idx(path)
    if out.numel() >= 100_000:  # label files and small fixtures decode faster than a cache read
        _save_npy(cached, out.numpy())
    return out


def _save_npy(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` atomically; a failure (read-only cache, full disk) only warns."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        warnings.warn(f"cannot write cache file {path} ({e}); the data will be decoded again next time")


def _decode_idx(path: Path) -> torch.Tensor:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e}); the file is corrupt or truncated — "
                        f"reinstall it (e.g. `apt-get install --reinstall dataset-fashion-mnist`)") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(f"{path}: header says shape {shape} ({expected} bytes) but the file holds "
                        f"{len(data) - header} bytes: the file is truncated or corrupt")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(arr.astype(arr.dtype.newbyteorder("=")).copy())
