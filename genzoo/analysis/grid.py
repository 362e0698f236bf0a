"""Image grids as PNG files (Pillow; no torchvision needed)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor


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


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
    """Write ``images`` (``[0, 1]``) as one PNG grid; ``scale`` enlarges small images (nearest)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(make_grid(images, nrow))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    img.save(path)
    return path
