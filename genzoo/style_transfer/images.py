"""Content and style images for neural style transfer: a user's file, or a photo that ships offline by name.

Offline names (``genzoo style-transfer astronaut starry_night``): scikit-image's ``skimage.data`` photos
(astronaut, chelsea, coffee, rocket), scikit-learn's ``load_sample_images()`` (china, flower) when scikit-learn
is installed, and every picture of Debian's ``opencv-doc`` examples (``starry_night`` — Van Gogh, the style
image — ``fruits``, ``baboon``, ``building``, …), looked up in ``$GENZOO_OPENCV_DATA`` or the package's folder.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..data.folders import IMAGE_EXTENSIONS, flatten, open_image
from ..data.types import DataError

SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
SKLEARN_PHOTOS = ("china", "flower")
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def opencv_dir() -> Path:
    return Path(os.environ.get("GENZOO_OPENCV_DATA", OPENCV_DATA))


def opencv_images() -> dict[str, Path]:
    """``stem → path`` of the colour pictures in opencv-doc's example data (empty when it is not installed)."""
    root = opencv_dir()
    if not root.is_dir():
        return {}
    return {p.stem: p for p in sorted(root.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}


def offline_names() -> list[str]:
    """Every name :func:`load_image` accepts besides a path."""
    return sorted({*SKIMAGE_PHOTOS, *SKLEARN_PHOTOS, *opencv_images()})


def _named(name: str) -> Image.Image | None:
    if name in SKIMAGE_PHOTOS:
        try:
            import skimage.data
        except ImportError:
            raise DataError(f"{name!r} is a scikit-image photo and scikit-image is not installed: "
                            f"`pip install scikit-image`, or pass an image file") from None
        return Image.fromarray(getattr(skimage.data, name)())
    if name in SKLEARN_PHOTOS:
        try:
            from sklearn.datasets import load_sample_image
        except ImportError:
            raise DataError(f"{name!r} is a scikit-learn sample image and scikit-learn is not installed: "
                            f"`pip install scikit-learn`, or pass an image file") from None
        return Image.fromarray(load_sample_image(f"{name}.jpg"))
    path = opencv_images().get(name)
    return None if path is None else open_image(path, name)


def read_image(source: str | Path) -> tuple[Image.Image, str]:
    """An RGB Pillow image from a file path or an offline name, and where it came from."""
    path = Path(source)
    if path.is_file():
        return flatten(open_image(path), 3), str(path)
    img = None if path.suffix.lower() in IMAGE_EXTENSIONS or os.sep in str(source) else _named(str(source))
    if img is None:
        hint = "" if opencv_images() else " (install Debian's opencv-doc for starry_night and the other OpenCV pictures)"
        raise DataError(f"no image file {str(source)!r} and no offline image of that name; pass an image file or "
                        f"one of: {', '.join(offline_names())}{hint}")
    return flatten(img, 3), f"offline:{source}"


def fit_long_side(img: Image.Image, size: int) -> Image.Image:
    """Resize (Lanczos) so the longer side is ``size`` pixels, keeping the aspect ratio."""
    w, h = img.size
    s = size / max(w, h)
    return img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)


def cover(img: Image.Image, width: int, height: int) -> Image.Image:
    """Centre-crop to the aspect of ``width×height`` and resize to it (the Keras example stretches the style image
    to the content's size; cropping keeps the brush strokes' proportions, and a Gram matrix ignores layout)."""
    w, h = img.size
    scale = min(w / width, h / height)
    cw, ch = width * scale, height * scale
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    return img.resize((width, height), Image.LANCZOS, box=box)


def to_tensor(img: Image.Image) -> Tensor:
    """RGB Pillow image → float ``1×3×H×W`` in ``[0, 1]``."""
    a = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a.transpose(2, 0, 1).copy())[None]


def save_image(x: Tensor, path: str | Path) -> Path:
    """``1×3×H×W`` (or ``3×H×W``) in ``[0, 1]`` → PNG (clipped, as the book's ``deprocess_image``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    a = (x.detach().reshape(-1, *x.shape[-2:]).clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu()
    Image.fromarray(a.numpy()).save(path)
    return path


def load_pair(content: str | Path, style: str | Path, size: int) -> tuple[Tensor, Tensor, dict]:
    """The content image with its long side ``size`` and the style image covering the same ``H×W``."""
    if size < 16:
        raise DataError(f"image size {size} is too small for VGG's four poolings; use --size >= 16")
    c_img, c_src = read_image(content)
    s_img, s_src = read_image(style)
    c_img = fit_long_side(c_img, size)
    s_img = cover(s_img, *c_img.size)
    return to_tensor(c_img), to_tensor(s_img), {"content": c_src, "style": s_src, "size": list(c_img.size[::-1])}


__all__ = ["cover", "fit_long_side", "load_pair", "offline_names", "read_image", "save_image", "to_tensor"]
