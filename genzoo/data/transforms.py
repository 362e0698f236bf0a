"""Image transforms on whole uint8 tensors (done once at load time) and on float batches (per step)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def to_channels(images: Tensor, channels: int) -> Tensor:
    """Convert uint8 ``N×C×H×W`` to 1 (ITU-R 601 luma) or 3 channels."""
    c = images.shape[1]
    if c == channels:
        return images
    if channels == 3 and c == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    if channels == 1 and c in (3, 4):
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (images[:, :3].float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    if channels == 3 and c == 4:
        return images[:, :3].contiguous()
    raise ValueError(f"cannot convert {c} channels to {channels}")


def resize(images: Tensor, size: int, chunk: int = 2048) -> Tensor:
    """Resize uint8 ``N×C×H×W`` to ``size×size``: centre-crop to a square, then antialiased bilinear."""
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    images = images[..., top:top + s, left:left + s]
    out = []
    for i in range(0, len(images), chunk):  # bounded memory for large sets
        x = images[i:i + chunk].float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=s > size, align_corners=False)
        out.append(x.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out) if out else images.new_zeros((0, images.shape[1], size, size))


def scale(x: Tensor, data_range: str) -> Tensor:
    """uint8 → float in ``[0, 1]`` (``"01"``) or ``[-1, 1]`` (``"pm1"``)."""
    x = x.float().div_(255.0)
    if data_range == "pm1":
        x = x.mul_(2.0).sub_(1.0)
    elif data_range != "01":
        raise ValueError(f"unknown data range {data_range!r}; use '01' or 'pm1'")
    return x


def unscale(x: Tensor, data_range: str) -> Tensor:
    """Inverse of :func:`scale` to ``[0, 1]`` floats (for grids and comparisons)."""
    if data_range == "pm1":
        x = (x + 1.0) / 2.0
    return x.clamp(0.0, 1.0)


def binarize(x01: Tensor, threshold: float = 0.5) -> Tensor:
    return (x01 > threshold).to(x01.dtype)


def quantize(x01: Tensor, levels: int) -> Tensor:
    """Map ``[0, 1]`` floats to ``levels`` equally spaced values in ``[0, 1]``."""
    return torch.clamp((x01 * levels).floor(), max=levels - 1) / (levels - 1)
