"""Noto Color Emoji (Google, SIL Open Font License) as a colour image set.

Source: the Debian package ``fonts-noto-color-emoji``, which installs
``/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf``. The font's ``CBDT`` table embeds one PNG
bitmap per glyph (3,926 of them, 136×128 RGBA, one strike at 109 ppem); they are read with fontTools.
It is the project's offline stand-in for CIFAR-10-like colour images (DCGAN, WGAN, ProGAN, StyleGAN).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import transforms as T
from .folders import (cache_path, decode_all, file_stamp, flatten, load_cache, open_image, pad_square,
                      path_key, save_cache, to_array)
from .emoji_groups import INSTALL_HINT as INSTALL_GROUPS_HINT
from .emoji_groups import emoji_labels
from .registry import DataRequest, register_dataset, search_dirs
from .types import DataError, ImageSet

FONT_NAME = "NotoColorEmoji.ttf"
SYSTEM_DIRS = ["/usr/share/fonts/truetype/noto"]
DEFAULT_SIZE = 64
INSTALL_HINT = ("Run `apt-get install fonts-noto-color-emoji`, or pass --data-dir DIR holding "
                f"{FONT_NAME}.")


def find_font(request: DataRequest) -> Path:
    if request.data_dir and Path(request.data_dir).is_file():
        return Path(request.data_dir)
    dirs = search_dirs(request, "emoji", SYSTEM_DIRS)
    for d in dirs:
        if (d / FONT_NAME).is_file():
            return d / FONT_NAME
    raise DataError(f"no {FONT_NAME} found in {', '.join(str(d) for d in dirs)}. {INSTALL_HINT}")


def read_glyph_pngs(font: Path) -> list[tuple[str, bytes]]:
    """``(glyph name, PNG bytes)`` of the largest CBDT strike, in glyph order."""
    from fontTools.ttLib import TTFont  # imported here: only this reader needs fontTools

    try:
        with open(font, "rb") as fh, TTFont(fh, lazy=True) as tt:  # our handle: closed even if TTFont fails
            if "CBDT" not in tt:
                raise DataError(f"{font}: this font has no CBDT colour bitmaps; use Noto Color Emoji's CBDT "
                                f"build ({INSTALL_HINT[:-1]})")
            strikes = tt["CBDT"].strikeData
            if not strikes:
                raise DataError(f"{font}: the CBDT table holds no bitmaps. {INSTALL_HINT}")
            strike = max(strikes, key=len)
            order = {name: i for i, name in enumerate(tt.getGlyphOrder())}
            out = []
            for name in sorted(strike, key=lambda n: order.get(n, len(order))):
                glyph = strike[name]
                glyph.ensureDecompiled()  # splits the small metrics header from the PNG bytes
                out.append((name, bytes(glyph.imageData)))
            return out
    except DataError:
        raise
    except Exception as e:  # fontTools raises many types (TTLibError, struct.error, AssertionError, ...)
        raise DataError(f"{font}: cannot read the font's colour bitmaps ({type(e).__name__}: {e}); the file is "
                        f"corrupt or truncated — reinstall it (`apt-get install --reinstall "
                        f"fonts-noto-color-emoji`) or point --data-dir at a good copy") from None


def decode_emoji(font: Path, size: int) -> tuple[np.ndarray, list[str]]:
    """All glyph bitmaps composited over white, centre-padded to a square and resized (Lanczos): N×3×size×size."""
    glyphs = read_glyph_pngs(font)

    def decode(item: tuple[str, bytes]) -> np.ndarray:
        name, png = item
        img = pad_square(flatten(open_image(png, f"{font} [glyph {name}]"), 3))
        if img.size != (size, size):
            img = img.resize((size, size), Image.LANCZOS)
        return to_array(img)

    return decode_all(glyphs, decode, (3, size, size)), [n for n, _ in glyphs]


def load_emoji_array(font: Path, size: int) -> tuple[np.ndarray, list[str]]:
    """The decoded N×3×size×size array, from the cache (``cache_dir()/emoji``) when it is there."""
    path = cache_path("emoji", f"noto-{size}px-{path_key(file_stamp(font), size, 'v1')}.npz")
    cached = load_cache(path)
    if cached is not None and "images" in cached and "names" in cached:
        return cached["images"], [str(n) for n in cached["names"]]
    images, names = decode_emoji(font, size)
    save_cache(path, images=images, names=np.array(names))
    return images, names


@register_dataset("emoji", "Noto Color Emoji: 3,926 colour emoji on white, 64×64 by default, labelled by their "
                  "10 Unicode groups (Debian fonts-noto-color-emoji, unicode-data)", (3, DEFAULT_SIZE, DEFAULT_SIZE))
def emoji(request: DataRequest) -> ImageSet:
    """The 3,926 Noto Color Emoji bitmaps as RGB (or grey with ``channels=1``) images on white.

    ``request.image_size`` (32, 64 or 128 are typical; default 64) sets the size; each size is
    decoded once (a couple of seconds) and cached as ``.npz`` under ``cache_dir()/emoji``.
    Splits: ``"test"`` is a deterministic held-out 10% — every 10th glyph in font order
    (indices 9, 19, 29, ...) — and ``"train"`` the other 90%. The labels are the glyphs' Unicode emoji groups
    (10 classes, :mod:`genzoo.data.emoji_groups`) when Unicode's ``emoji-test.txt`` is installed (``unicode-data``),
    otherwise there are none; the glyph names (e.g. ``u1F600``) are in ``meta["glyph_names"]``.
    """
    if request.split not in ("train", "test"):
        raise DataError(f"emoji: unknown split {request.split!r}; use train or test")
    size = request.image_size or DEFAULT_SIZE
    if size < 1:
        raise DataError(f"emoji: image size must be positive, got {size}")
    font = find_font(request)
    images, names = load_emoji_array(font, size)
    index = np.arange(len(images))
    keep = index % 10 == 9 if request.split == "test" else index % 10 != 9
    x = torch.from_numpy(np.ascontiguousarray(images[keep]))
    if request.channels:
        x = T.to_channels(x, request.channels)
    meta = {"glyph_names": [n for n, k in zip(names, keep) if k]}
    groups = emoji_labels(font, names, request)
    if groups is None:
        meta["labels_hint"] = INSTALL_GROUPS_HINT
        return ImageSet(x, source=f"emoji:{request.split} ({font})", meta=meta)
    labels, group_names = groups
    return ImageSet(x, labels=torch.from_numpy(labels[keep]), class_names=group_names,
                    source=f"emoji:{request.split} ({font})", meta=meta)
