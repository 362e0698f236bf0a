"""``photos``: the content images a feed-forward style network trains on (Johnson et al. 2016 used 80k COCO images;
here the offline stand-in is a few dozen photos cut into random crops).

* ``train`` — the real photographs among Debian ``opencv-doc``'s example pictures (:data:`OPENCV_PHOTOS`; not the
  calibration boards, logos, text or the style image ``starry_night``), or every image under ``--data-dir`` (a
  user's photo folder), each cut into :data:`CROPS_PER_PHOTO` random square crops (side 40–100% of the short side,
  a fixed seed, so the set — and a resumed run — is the same every time), resized to ``image_size`` (default 128).
* ``test`` — held out: scikit-image's astronaut, chelsea, coffee and rocket (and scikit-learn's china and flower
  when it is installed), one centre crop each.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .folders import flatten, list_images, open_image, to_array
from .registry import DataRequest, register_dataset
from .types import DataError, ImageSet

OPENCV_PHOTOS = ("aero1", "aero3", "apple", "baboon", "basketball1", "building", "butterfly", "ela_original", "fruits",
                 "HappyFish", "home", "leuvenA", "leuvenB", "messi5", "orange", "smarties", "squirrel_cls", "stuff",
                 "aloeL", "rubberwhale1", "graf1", "board")
CROPS_PER_PHOTO = 16
DEFAULT_SIZE = 128


def random_crops(img: Image.Image, n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` square crops of 40–100% of the short side at random places, each resized to ``size`` (Lanczos)."""
    w, h = img.size
    out = []
    for _ in range(n):
        s = int(min(w, h) * rng.uniform(0.4, 1.0))
        left, top = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
        out.append(to_array(img.resize((size, size), Image.LANCZOS, box=(left, top, left + s, top + s))))
    return out


def centre_crop(img: Image.Image, size: int) -> np.ndarray:
    w, h = img.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return to_array(img.resize((size, size), Image.LANCZOS, box=box))


def train_photos(request: DataRequest) -> list[tuple[str, Image.Image]]:
    from ..style_transfer.images import opencv_dir, opencv_images

    if request.data_dir:
        paths = list_images(Path(request.data_dir))
        if not paths:
            raise DataError(f"{request.data_dir}: no image files for the photos dataset; point --data-dir at a "
                            f"folder of photos")
        return [(p.stem, flatten(open_image(p), 3)) for p in paths]
    found = opencv_images()
    names = [n for n in OPENCV_PHOTOS if n in found]
    if not names:
        raise DataError(f"photos: no opencv-doc pictures in {opencv_dir()}: `sudo apt-get install opencv-doc` (or "
                        f"`make system-packages`), or pass --data-dir with a folder of your own photos")
    return [(n, flatten(open_image(found[n]), 3)) for n in names]


def test_photos() -> list[tuple[str, Image.Image]]:
    from ..style_transfer.images import SKIMAGE_PHOTOS, SKLEARN_PHOTOS, read_image

    out = []
    for name in SKIMAGE_PHOTOS + SKLEARN_PHOTOS:
        try:
            out.append((name, read_image(name)[0]))
        except DataError:
            if name in SKIMAGE_PHOTOS:
                raise
    return out


@register_dataset("photos", "Photos for feed-forward style transfer: opencv-doc's example photos in 16 random "
                  "crops each (train) and scikit-image's astronaut/chelsea/coffee/rocket held out (test)",
                  (3, DEFAULT_SIZE, DEFAULT_SIZE))
def photos(request: DataRequest) -> ImageSet:
    """The crops as uint8 RGB ``N×3×S×S``; ``meta["photos"]`` names the photo of each image."""
    if request.split not in ("train", "test"):
        raise DataError(f"photos: unknown split {request.split!r}; use train or test")
    size = request.image_size or DEFAULT_SIZE
    if request.channels not in (None, 3):
        raise DataError("photos are colour images: use a model with 3 channels")
    names, arrays = [], []
    if request.split == "train":
        rng = np.random.default_rng(0)
        for name, img in train_photos(request):
            crops = random_crops(img, CROPS_PER_PHOTO, size, rng)
            arrays += crops
            names += [name] * len(crops)
    else:
        for name, img in test_photos():
            arrays.append(centre_crop(img, size))
            names.append(name)
    if request.limit:
        arrays, names = arrays[:request.limit], names[:request.limit]
    return ImageSet(torch.from_numpy(np.ascontiguousarray(np.stack(arrays))), source=f"photos:{request.split}", meta={"photos": names})


__all__ = ["CROPS_PER_PHOTO", "OPENCV_PHOTOS", "photos", "random_crops"]
