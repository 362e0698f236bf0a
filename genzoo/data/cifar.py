"""CIFAR-10 (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html), "python version".

Read from the extracted folder ``cifar-10-batches-py/`` (``data_batch_1`` … ``data_batch_5``,
``test_batch``, ``batches.meta``) or straight from the ``cifar-10-python.tar.gz`` archive, whose
members are streamed with :mod:`tarfile` without extracting anything.

The batches are Python pickles (dicts with ``b'data'``, an N×3072 uint8 array, and ``b'labels'``).
Unpickling can run arbitrary code, so these files are only read from places the user pointed at
(``--data-dir``, ``$GENZOO_DATA``, the cache) and with a restricted unpickler that accepts nothing
but NumPy arrays and plain Python containers: ``pickle.load(f, encoding='bytes')`` semantics, minus
arbitrary globals.
"""
from __future__ import annotations

import importlib
import io
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from .folders import finish
from .registry import DataRequest, register_dataset, search_dirs
from .types import DataError, ImageSet

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
HINT = f"Download {URL} and pass --data-dir DIR holding {ARCHIVE} or the extracted {FOLDER}/ folder."

# Globals a NumPy array pickle needs (module names as NumPy 1.x wrote them; 2.x moved core → _core).
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
            ("numpy.core.numeric", "_frombuffer"), ("numpy", "ndarray"), ("numpy", "dtype"),
            ("_codecs", "encode")}  # Python 3 protocol-2 pickles rebuild bytes with it


class _Refused(pickle.UnpicklingError):
    pass


try:  # NumPy 2 renamed numpy.core to numpy._core (the old name is a deprecated shim)
    importlib.import_module("numpy._core.multiarray")
    _NP_CORE = "numpy._core"
except ImportError:  # pragma: no cover - NumPy 1.x
    _NP_CORE = "numpy.core"


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds NumPy arrays, dtypes and builtin containers."""

    def find_class(self, module: str, name: str):
        canonical = module.replace("numpy._core", "numpy.core")
        if (canonical, name) not in _ALLOWED:
            raise _Refused(f"{module}.{name}")
        return super().find_class(canonical.replace("numpy.core", _NP_CORE), name)


def unpickle(data: bytes, where: str) -> dict:
    """Unpickle one CIFAR batch (``encoding='bytes'``: Python 2 strings become bytes)."""
    try:
        obj = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except _Refused as e:
        raise DataError(f"{where}: refusing to unpickle this file: it references {e}, which a CIFAR-10 batch "
                        f"never does (only NumPy arrays are allowed). {HINT}") from None
    except Exception as e:  # truncated or foreign pickles raise many types
        raise DataError(f"{where}: cannot unpickle this CIFAR-10 batch ({type(e).__name__}: {e}); the file is "
                        f"corrupt or truncated. {HINT}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a pickled dict, got {type(obj).__name__}. {HINT}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def find_source(request: DataRequest) -> Path:
    """The folder holding the batch files, or the ``.tar.gz`` archive."""
    if request.data_dir and Path(request.data_dir).is_file():
        return Path(request.data_dir)
    dirs = search_dirs(request, "cifar10")
    for d in dirs:
        if (d / "data_batch_1").exists() or (d / "test_batch").exists():
            return d
        if (d / FOLDER).is_dir():
            return d / FOLDER
        if (d / ARCHIVE).is_file():
            return d / ARCHIVE
    raise DataError(f"no CIFAR-10 files ({FOLDER}/ or {ARCHIVE}) found in "
                    f"{', '.join(str(d) for d in dirs)}. {HINT}")


def read_members(source: Path, names: list[str]) -> dict[str, tuple[bytes, str]]:
    """``name → (bytes, where)`` for the wanted batch files that exist (one pass over an archive)."""
    found: dict[str, tuple[bytes, str]] = {}
    if source.is_dir():
        for n in names:
            p = source / n
            if p.is_file():
                try:
                    found[n] = (p.read_bytes(), str(p))
                except OSError as e:
                    raise DataError(f"{p}: cannot read ({e})") from None
        return found
    try:
        with tarfile.open(source, mode="r|*") as tf:
            for member in tf:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in names and base not in found:
                    f = tf.extractfile(member)
                    found[base] = (f.read() if f else b"", f"{source} [{member.name}]")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DataError(f"{source}: cannot read this archive ({type(e).__name__}: {e}); it is corrupt or "
                        f"truncated — download it again ({URL})") from None
    return found


def batch_arrays(d: dict, where: str) -> tuple[np.ndarray, np.ndarray]:
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise DataError(f"{where}: not a CIFAR-10 batch (needs b'data' and b'labels'; found "
                        f"{sorted(map(str, d))}). {HINT}")
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise DataError(f"{where}: expected N×3072 uint8 data with N labels, got {data.dtype} "
                        f"{data.shape} and {labels.shape} labels. {HINT}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where}: labels must be 0..9, found {labels.min()}..{labels.max()}. {HINT}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


@register_dataset("cifar10", "CIFAR-10: 50,000 + 10,000 32×32 colour images in 10 classes (python "
                  "pickles or cifar-10-python.tar.gz under --data-dir)", (3, 32, 32))
def cifar10(request: DataRequest) -> ImageSet:
    """CIFAR-10 ``train`` (five ``data_batch_*``, 50,000 images) or ``test`` (``test_batch``, 10,000).

    Class names come from ``batches.meta`` (``label_names``), falling back to the standard ten.
    """
    if request.split not in BATCHES:
        raise DataError(f"cifar10: unknown split {request.split!r}; use train or test")
    source = find_source(request)
    wanted = BATCHES[request.split]
    members = read_members(source, wanted + ["batches.meta"])
    missing = [n for n in wanted if n not in members]
    if missing:
        raise DataError(f"{source}: missing CIFAR-10 batch file(s) {', '.join(missing)}. {HINT}")
    images, labels = [], []
    for n in wanted:
        data, where = members[n]
        x, y = batch_arrays(unpickle(data, where), where)
        images.append(x)
        labels.append(y)
    class_names = list(CIFAR10_CLASSES)
    if "batches.meta" in members:
        data, where = members["batches.meta"]
        names = unpickle(data, where).get("label_names")
        if not isinstance(names, list) or len(names) != 10:
            raise DataError(f"{where}: expected 10 label_names, got {names!r:.80}. {HINT}")
        class_names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return ImageSet(finish(np.concatenate(images), request), torch.from_numpy(np.concatenate(labels)),
                    class_names=class_names, source=f"cifar10:{request.split} ({source})")
