"""Image grids as PNG files (Pillow; no torchvision needed), optionally labelled: a title, a header over
each column and a label beside each row, drawn into the image so the PNG explains itself.

The labelled PNG records where its image cells are in a ``genzoo-grid`` text chunk (JSON: rows, cols,
cell size, padding, scale, the pixel origin of the unlabelled grid and the labels), so tools and tests can
find the cells and read the labels without guessing the label strips' sizes.
"""
from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo
from torch import Tensor

FONT_SIZE = 12        # labels, in output pixels
TITLE_SIZE = 13
MIN_FONT_SIZE = 8     # a column header is shrunk down to this before it may overlap its neighbour
MAX_SCALE = 6         # labelled grids enlarge small images (nearest) up to this factor so headers fit
MIN_LABELLED_CELL = 56  # ... and so each image is at least this many pixels wide when labels are drawn
MARGIN = 4
INK = 30              # near-black text on the white background


def make_grid(images: Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """``N×C×H×W`` images in ``[0, 1]`` → an ``H'×W'×C`` uint8 array laid out ``nrow`` per row."""
    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = images[i]
    arr = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return arr[..., 0] if c == 1 else arr


@lru_cache(maxsize=16)
def font(size: int = FONT_SIZE) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans from matplotlib's data (Greek letters, ×, −, subscripts), else Pillow's default font."""
    spec = importlib.util.find_spec("matplotlib")  # located, not imported: grids must stay light
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _text_size(text: str, f) -> tuple[int, int]:
    """Width and height of (possibly multi-line) ``text`` drawn in font ``f``."""
    box = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox((0, 0), text, font=f, spacing=2)
    return box[2] - min(box[0], 0), box[3]


def _fitting_font(text: str, width: int):
    """The largest font from FONT_SIZE down to MIN_FONT_SIZE in which ``text`` fits ``width`` pixels."""
    for size in range(FONT_SIZE, MIN_FONT_SIZE - 1, -1):
        if _text_size(text, font(size))[0] <= width:
            return font(size)
    return font(MIN_FONT_SIZE)


def _wrap(text: str, width: int, f) -> str:
    """Break ``text`` into lines no wider than ``width`` pixels (long words stay whole)."""
    lines = []
    for paragraph in text.split("\n"):
        words = paragraph.split(" ")
        line = ""
        for word in words:
            trial = f"{line} {word}".strip()
            if line and _text_size(trial, f)[0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return "\n".join(lines)


def labelled_grid(images: Tensor, nrow: int | None = None, scale: int = 1, *,
                  row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
                  title: str | None = None, padding: int = 2) -> tuple[Image.Image, dict]:
    """The grid of ``images`` as a Pillow image with a title above it, ``col_labels`` over the columns and
    ``row_labels`` left of the rows; returns the image and its layout (see the module docstring).

    With labels, small images are enlarged (nearest) beyond ``scale`` until each column is at least
    ``MIN_LABELLED_CELL`` pixels wide and its header fits (up to ``MAX_SCALE``).
    """
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
    if col_labels is not None and len(col_labels) != nrow:
        raise ValueError(f"{len(col_labels)} column labels for {nrow} columns")
    labelled = bool(row_labels or col_labels or title)
    if labelled:
        widest = max((_text_size(t, font())[0] for t in col_labels or ()), default=0)
        need = max(MIN_LABELLED_CELL, widest + 4)
        scale = max(scale, min(MAX_SCALE, math.ceil(need / (w + padding))))
    grid = Image.fromarray(make_grid(images, nrow, padding))
    if scale > 1:
        grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    cell_w, cell_h = (w + padding) * scale, (h + padding) * scale
    left = 0
    if row_labels:
        left = max(_text_size(t, font())[0] for t in row_labels) + 2 * MARGIN
    header = 0
    col_fonts = []
    if col_labels:
        col_fonts = [_fitting_font(t, cell_w - 2) for t in col_labels]
        header = max(_text_size(t, f)[1] for t, f in zip(col_labels, col_fonts)) + 2 * MARGIN
    width = left + grid.width
    title_text, title_h = "", 0
    if title:
        tf = font(TITLE_SIZE)
        title_text = _wrap(title, max(width - 2 * MARGIN, 200), tf)
        tw, th = _text_size(title_text, tf)
        width = max(width, tw + 2 * MARGIN)
        title_h = th + 2 * MARGIN
    top = title_h + header
    canvas = Image.new(grid.mode, (width, top + grid.height), 255 if grid.mode == "L" else (255, 255, 255))
    canvas.paste(grid, (left, top))
    draw = ImageDraw.Draw(canvas)
    ink = INK if grid.mode == "L" else (INK, INK, INK)
    if title_text:
        draw.multiline_text((MARGIN, MARGIN), title_text, fill=ink, font=font(TITLE_SIZE), spacing=2)
    for j, (text, f) in enumerate(zip(col_labels or (), col_fonts)):
        tw, th = _text_size(text, f)
        x = left + padding * scale // 2 + j * cell_w + (cell_w - tw) // 2
        draw.multiline_text((x, title_h + MARGIN), text, fill=ink, font=f, spacing=2, align="center")
    for i, text in enumerate(row_labels or ()):
        tw, th = _text_size(text, font())
        y = top + padding * scale // 2 + i * cell_h + (cell_h - th) // 2
        draw.multiline_text((left - MARGIN - tw, y), text, fill=ink, font=font(), spacing=2, align="right")
    layout = {"rows": rows, "cols": nrow, "cell": [h, w], "channels": c, "padding": padding, "scale": scale,
              "origin": [left, top], "col_labels": list(col_labels or []), "row_labels": list(row_labels or [])}
    return canvas, layout


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, scale: int = 1, *,
              row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
              title: str | None = None) -> Path:
    """Write ``images`` (``[0, 1]``) as one PNG grid; ``scale`` enlarges small images (nearest). A title,
    column headers and row labels, when given, are drawn into the PNG (see :func:`labelled_grid`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img, layout = labelled_grid(images, nrow, scale, row_labels=row_labels, col_labels=col_labels, title=title)
    info = PngInfo()
    info.add_text("genzoo-grid", json.dumps(layout))
    if title:
        info.add_text("Title", title)
    img.save(path, pnginfo=info)
    return path


def grid_layout(path: str | Path) -> dict:
    """The layout :func:`save_grid` recorded in a PNG (rows, cols, cell, padding, scale, origin)."""
    with Image.open(path) as im:
        return json.loads(im.info["genzoo-grid"])


__all__ = ["font", "grid_layout", "labelled_grid", "make_grid", "save_grid"]
