"""Generic image readers: a folder of image files (``image-folder``) and a NumPy ``.npz`` archive (``npz``).

This module also holds the helpers the other file-based readers share: decoding image files with
Pillow into one preallocated uint8 ``N×C×H×W`` array (using a few threads, since Pillow releases the
GIL while decoding), and an atomically written ``.npz`` cache under :func:`~genzoo.data.registry.cache_dir`.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from . import transforms as T
from .registry import DataRequest, cache_dir, register_dataset
from .types import DataError, ImageSet

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
WHITE = (255, 255, 255)


# --------------------------------------------------------------------------------------------------
# Shared helpers: decoding and caching
# --------------------------------------------------------------------------------------------------

def open_image(source: str | Path | bytes, name: str | Path | None = None, draft: int | None = None) -> Image.Image:
    """Open and fully decode an image file (or PNG/JPEG bytes); :class:`DataError` naming it when unreadable.

    ``draft``: a JPEG may be decoded at a reduced scale (1/2, 1/4, 1/8) that still covers ``draft×draft``
    pixels — much faster when the image is about to be shrunk anyway.
    """
    label = name if name is not None else source
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if draft is not None and img.format == "JPEG":
            img.draft(img.mode, (draft, draft))
        img.load()
        return img
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
        raise DataError(f"{label}: cannot read this image ({e}); the file is corrupt or truncated — "
                        f"replace or delete it") from None


def flatten(img: Image.Image, channels: int, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """Convert to ``"L"`` (1 channel) or ``"RGB"`` (3), compositing any transparency over ``background``."""
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels}")
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, background + (255,))
        bg.alpha_composite(rgba)
        img = bg
    return img.convert("L" if channels == 1 else "RGB")


def crop_resize(img: Image.Image, size: int | None) -> Image.Image:
    """Centre-crop to a square and resize to ``size×size`` with Lanczos filtering (``None``: unchanged)."""
    if size is None or img.size == (size, size):
        return img
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img.resize((size, size), Image.LANCZOS, box=(left, top, left + s, top + s))


def pad_square(img: Image.Image, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """Centre-pad to a square with ``background`` (keeps the whole picture, unlike :func:`crop_resize`)."""
    w, h = img.size
    if w == h:
        return img
    s = max(w, h)
    fill = background[0] if img.mode == "L" else background
    out = Image.new(img.mode, (s, s), fill)
    out.paste(img, ((s - w) // 2, (s - h) // 2))
    return out


def to_array(img: Image.Image) -> np.ndarray:
    """An ``"L"`` or ``"RGB"`` Pillow image as uint8 ``C×H×W``."""
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def decode_all(items: Sequence, decode: Callable[[object], np.ndarray], shape: tuple[int, int, int],
               threads: int | None = None) -> np.ndarray:
    """Decode every item with ``decode`` (→ uint8 ``C×H×W`` of ``shape``) into one preallocated array."""
    out = np.empty((len(items), *shape), dtype=np.uint8)

    def work(i: int) -> None:
        out[i] = decode(items[i])

    threads = threads or min(8, os.cpu_count() or 1)
    if threads <= 1 or len(items) < 64:
        for i in range(len(items)):
            work(i)
    else:
        with ThreadPoolExecutor(threads) as ex:
            for _ in ex.map(work, range(len(items)), chunksize=64):
                pass
    return out


def read_image_files(paths: Sequence[Path], size: int | None, channels: int,
                     threads: int | None = None) -> np.ndarray:
    """Read image files into uint8 ``N×C×S×S``: transparency over white, centre-crop, Lanczos resize.

    With ``size=None`` every file must already have the same size (checked from the headers first).
    """
    if size is None:
        first = None
        for p in paths:
            try:
                with Image.open(p) as im:
                    wh = im.size
            except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
                raise DataError(f"{p}: cannot read this image ({e}); the file is corrupt — "
                                f"replace or delete it") from None
            if first is None:
                first = (p, wh)
            elif wh != first[1]:
                raise DataError(f"images differ in size ({first[0]} is {first[1][0]}×{first[1][1]}, {p} is "
                                f"{wh[0]}×{wh[1]}); set an image size, e.g. --set data.image_size=64")
        w, h = first[1] if first else (1, 1)
        shape = (channels, h, w)
    else:
        shape = (channels, size, size)
    return decode_all(paths, lambda p: to_array(crop_resize(flatten(open_image(p, draft=size), channels), size)),
                      shape, threads)


def path_key(*parts: object) -> str:
    """A short stable hash of ``parts`` (paths, sizes, file stats) for naming cache files."""
    return hashlib.sha1("\x00".join(str(p) for p in parts).encode()).hexdigest()[:16]


def file_stamp(path: Path) -> str:
    """Path, size and modification time: changes whenever the file is replaced."""
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def cache_path(dataset: str, name: str) -> Path:
    return cache_dir() / dataset / name


def load_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or ``None`` when it is absent or unreadable (it is then rebuilt)."""
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            z = np.load(fh, allow_pickle=False)
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, AttributeError, zipfile.BadZipFile, zlib.error) as e:
        warnings.warn(f"ignoring unreadable cache file {path} ({e}); rebuilding it")
        return None


def save_cache(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` atomically (temporary file + ``os.replace``); a failure only warns."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        warnings.warn(f"cannot write cache file {path} ({e}); the data will be decoded again next time")


def finish(images: np.ndarray | torch.Tensor, request: DataRequest) -> torch.Tensor:
    """uint8 ``N×C×H×W`` as a tensor, converted to the request's channels and size."""
    t = torch.from_numpy(images) if isinstance(images, np.ndarray) else images
    if request.channels:
        t = T.to_channels(t, request.channels)
    if request.image_size:
        t = T.resize(t, request.image_size)
    return t.contiguous()


# --------------------------------------------------------------------------------------------------
# image-folder
# --------------------------------------------------------------------------------------------------

def list_images(root: Path) -> list[Path]:
    """Image files under ``root``, recursively, sorted; hidden files and folders are skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(dirpath) / f)
    return sorted(found)


@register_dataset("image-folder", "Any folder of png/jpg/bmp/gif/webp images (--data-dir DIR); class "
                  "sub-folders give labels", None)
def image_folder(request: DataRequest) -> ImageSet:
    """Every image under ``request.data_dir`` (recursive), like torchvision's ``ImageFolder``.

    When every image sits inside a first-level sub-folder, the sorted sub-folder names are the
    classes and give the labels; otherwise there are no labels. Transparent images are composited
    over white. Images are centre-cropped and resized to ``request.image_size`` (Lanczos); without
    a size they must all have the same size. ``request.channels`` defaults to 3 (RGB). There is no
    split: the whole folder is returned whatever ``request.split`` is.
    """
    if not request.data_dir:
        raise DataError("image-folder needs a folder of images: pass --data-dir DIR (or set data.data_dir)")
    root = Path(request.data_dir)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; pass --data-dir DIR naming a folder of images")
    paths = list_images(root)
    if not paths:
        raise DataError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) found in this folder or "
                        f"below it; point --data-dir at the folder holding the images")
    rel = [p.relative_to(root) for p in paths]
    labels = class_names = None
    if all(len(r.parts) >= 2 for r in rel):
        class_names = sorted({r.parts[0] for r in rel})
        index = {c: i for i, c in enumerate(class_names)}
        labels = torch.tensor([index[r.parts[0]] for r in rel], dtype=torch.long)
    channels = request.channels or 3
    images = read_image_files(paths, request.image_size, channels)
    return ImageSet(torch.from_numpy(images), labels, class_names=class_names,
                    source=f"image-folder ({root})", meta={"files": [str(r) for r in rel]})


# --------------------------------------------------------------------------------------------------
# npz
# --------------------------------------------------------------------------------------------------

_IMAGE_KEYS = ("images", "x")
_LABEL_KEYS = ("labels", "y")


def find_npz(request: DataRequest) -> Path:
    if not request.data_dir:
        raise DataError("npz needs a .npz file: pass --data-dir FILE.npz (or a folder holding one .npz file)")
    p = Path(request.data_dir)
    if p.is_file():
        return p
    if not p.is_dir():
        raise DataError(f"{p}: no such file or folder; pass --data-dir FILE.npz")
    found = sorted(p.glob("*.npz"))
    if len(found) != 1:
        what = "no .npz file" if not found else f"{len(found)} .npz files ({', '.join(f.name for f in found)})"
        raise DataError(f"{p}: {what} in this folder; pass --data-dir FILE.npz naming the file to read")
    return found[0]


def to_uint8_nchw(arr: np.ndarray, where: str) -> np.ndarray:
    """Images in any common layout/dtype → uint8 ``N×C×H×W``.

    Layouts: ``N×H×W`` (grey), ``N×D`` with ``D`` a square (flattened grey, e.g. 784), ``N×H×W×C`` and
    ``N×C×H×W`` with ``C`` in 1/3/4 (``N×C×H×W`` wins when both read sensibly). Values: uint8 (or any
    integer/bool type) in 0..255, or floats in [0, 1] (floats that are all whole numbers in 0..255 are
    taken as 0..255).
    """
    s = arr.shape
    if arr.ndim == 2:
        side = int(round(s[1] ** 0.5))
        if side * side != s[1]:
            raise DataError(f"{where}: a 2-D image array must be N×(H·W) with H = W, got {s}; "
                            f"save images as N×H×W, N×H×W×C or N×C×H×W")
        arr = arr.reshape(s[0], 1, side, side)
    elif arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        nchw, nhwc = s[1] in (1, 3, 4), s[3] in (1, 3, 4)
        if nhwc and not nchw:
            arr = arr.transpose(0, 3, 1, 2)
        elif not nchw:
            raise DataError(f"{where}: cannot tell the channel axis of shape {s}; save images as "
                            f"N×H×W×C or N×C×H×W with C = 1, 3 or 4")
    else:
        raise DataError(f"{where}: images must be N×H×W, N×H×W×C or N×C×H×W, got shape {s}")
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.integer):
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 255:
            raise DataError(f"{where}: integer pixel values must lie in 0..255, found {lo}..{hi}")
        out = arr.astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if not np.isfinite([lo, hi]).all() or lo < 0:
            raise DataError(f"{where}: float pixel values must lie in [0, 1], found {lo:g}..{hi:g}; "
                            f"rescale (e.g. (x + 1) / 2 for [-1, 1] data) before saving")
        if hi <= 1.0:
            out = np.rint(arr * 255.0).astype(np.uint8)
        elif hi <= 255.0 and np.all(arr == np.rint(arr)):
            out = arr.astype(np.uint8)
        else:
            raise DataError(f"{where}: float pixel values must lie in [0, 1], found {lo:g}..{hi:g}")
    else:
        raise DataError(f"{where}: unsupported image dtype {arr.dtype}; use uint8 0..255 or float 0..1")
    if out.shape[1] == 4:  # RGBA: keep colour only (loader/to_channels cannot take 4 → 3 over white)
        out = out[:, :3]
    return np.ascontiguousarray(out)


@register_dataset("npz", "A NumPy .npz archive (--data-dir FILE.npz) with `images`/`x` and optional "
                  "`labels`/`y` (also Keras-style x_train/x_test)", None)
def npz(request: DataRequest) -> ImageSet:
    """Images from a ``.npz`` file: array ``images`` or ``x`` and optional ``labels`` or ``y``.

    Keras-style archives (``mnist.npz`` of ``keras.datasets``: ``x_train``, ``y_train``, ``x_test``,
    ``y_test``) are read by ``request.split``; otherwise there is no split. Any layout accepted by
    :func:`to_uint8_nchw` is converted to uint8 ``N×C×H×W``. Object arrays (pickles) are refused.
    """
    path = find_npz(request)
    try:
        with open(path, "rb") as fh:  # our handle: closed even when NumPy fails on a corrupt file
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise DataError(f"{path}: not an .npz archive (it holds a single array); save it with "
                                f"numpy.savez(path, images=..., labels=...)")
            keys = list(z.files)
            split_keys = (f"x_{request.split}", f"y_{request.split}")
            if split_keys[0] in keys:
                ik, lk = split_keys[0], split_keys[1] if split_keys[1] in keys else None
            else:
                ik = next((k for k in _IMAGE_KEYS if k in keys), None)
                lk = next((k for k in _LABEL_KEYS if k in keys), None)
            if ik is None:
                raise DataError(f"{path}: no image array; expected one named {' or '.join(_IMAGE_KEYS)} "
                                f"(or x_{request.split}), found {', '.join(keys) or 'none'}")
            images = z[ik]
            labels = z[lk] if lk else None
    except DataError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{path}: cannot read this .npz file ({e}); it is corrupt, truncated or holds "
                        f"pickled objects — re-save it with numpy.savez") from None
    images = to_uint8_nchw(images, f"{path} [{ik}]")
    y = None
    if labels is not None:
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{path} [{lk}]: labels must be N={len(images)} integers, got {labels.dtype} "
                            f"{labels.shape}")
        y = torch.from_numpy(labels.astype(np.int64))
    return ImageSet(finish(images, request), y, source=f"npz ({path})", meta={"arrays": [ik, lk]})
