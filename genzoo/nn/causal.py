"""Causal (masked) convolutions for autoregressive image models, usable both on whole images and one
pixel at a time.

Pixels are ordered in raster order (rows top to bottom, columns left to right) and, within a pixel,
by channel group (R → G → B), as in PixelRNN/PixelCNN (van den Oord et al. 2016a, section 3.4).

:class:`CausalConv2d` is a convolution whose output at ``(r, c)`` reads the input rows
``r − top … r − top + kh − 1`` and columns ``c − left … c − left + kw − 1``, multiplied by a 0/1 mask:

* ``mask="A"`` / ``"B"`` — the raster-causal masks of the 2nd edition of Foster's book (ch. 5): every
  kernel position before the anchor ``(top, left)`` is kept, every position after it is zeroed, and
  the anchor itself is zeroed (A, the first layer: a pixel never sees itself) or kept (B). With
  channel groups the anchor connects output group g to input groups < g (A) or ≤ g (B).
* ``mask=None`` — no mask: used by the vertical stack of the Gated PixelCNN, whose kernel only covers
  rows at or above the anchor and whose output is shifted down a row before the horizontal stack sees it.

Kernel rows that the mask zeroes completely are cropped before the convolution (a 7×7 mask-A kernel
runs as 4×7), so training does not pay for weights that are always zero; the full kernel is still the
parameter, which keeps parameter counts equal to the book's Keras summaries.

For fast generation (Ramachandran et al. 2017) a layer's input is kept in a zero-padded *buffer*:
:meth:`write` stores the input at one position and :meth:`at` computes the output at one position
from the buffer (a single matrix-vector product per layer, instead of a convolution over the image).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def channel_groups(channels: int, groups: int, repeat: int = 1) -> Tensor:
    """Group id (0 … groups−1) of each of ``channels`` feature maps.

    The maps are split into ``repeat`` equal chunks (e.g. the 4 LSTM gates, or a gate's tanh and
    sigmoid halves) and each chunk is split into ``groups`` contiguous blocks, so an elementwise
    operation between chunks pairs maps of the same group.
    """
    if groups == 1:
        return torch.zeros(channels, dtype=torch.long)
    if channels % repeat or (channels // repeat) % groups:
        raise ValueError(f"{channels} feature maps cannot be split into {repeat}×{groups} channel groups; "
                         f"use a multiple of {repeat * groups}")
    per = channels // repeat
    return (torch.arange(channels) % per) * groups // per


def causal_mask(c_out: int, c_in: int, kernel: tuple[int, int], anchor: tuple[int, int], mask: str | None,
                out_groups: Tensor, in_groups: Tensor) -> Tensor:
    """The 0/1 mask ``c_out×c_in×kh×kw`` described in the module docstring."""
    kh, kw = kernel
    top, left = anchor
    m = torch.ones(c_out, c_in, kh, kw)
    if mask is None:
        return m
    if mask not in ("A", "B"):
        raise ValueError(f"mask must be 'A', 'B' or None, got {mask!r}")
    for i in range(kh):
        for j in range(kw):
            if (i, j) > (top, left):  # later in raster order than the anchor
                m[:, :, i, j] = 0
    go, gi = out_groups.view(-1, 1), in_groups.view(1, -1)
    m[:, :, top, left] = (go > gi) if mask == "A" else (go >= gi)
    return m


class CausalConv2d(nn.Module):
    """A convolution anchored at ``anchor`` with a raster-causal mask (see the module docstring)."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int], anchor: tuple[int, int] | None = None,
                 mask: str | None = "B", groups: int = 1, in_repeat: int = 1, out_repeat: int = 1, bias: bool = True):
        super().__init__()
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        top, left = anchor if anchor is not None else (kh // 2, kw // 2)
        if not (0 <= top < kh and 0 <= left < kw):
            raise ValueError(f"anchor {(top, left)} lies outside the {kh}×{kw} kernel")
        self.c_in, self.c_out, self.kernel, self.anchor, self.mask_type = c_in, c_out, (kh, kw), (top, left), mask
        self.weight = nn.Parameter(torch.empty(c_out, c_in, kh, kw))
        self.bias = nn.Parameter(torch.empty(c_out)) if bias else None
        m = causal_mask(c_out, c_in, (kh, kw), (top, left), mask,
                        channel_groups(c_out, groups, out_repeat), channel_groups(c_in, groups, in_repeat))
        rows = int(m.flatten(0, 1).amax(dim=(0, 2)).nonzero().max()) + 1 if m.any() else 1
        rows = max(rows, top + 1)                          # keep the anchor row: output size = input size
        self.rows = rows                                   # kernel rows actually used
        self.register_buffer("mask", m[:, :, :rows].contiguous(), persistent=False)
        self.pads = (left, kw - 1 - left, top, max(rows - 1 - top, 0))  # F.pad order: left, right, top, bottom
        # 1×1 layers need no padding (F.pad with zero pads still copies the input, and its backward the
        # gradient), and a mask of all ones (mask B on 1×1 without channel groups) no multiplication.
        self._padded = any(self.pads)
        self._all_ones = bool(m.all()) and rows == kh
        self._cached: tuple[tuple[int, int, bool], Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's Conv2d initialisation (fan-in of the full kernel)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.c_in * self.kernel[0] * self.kernel[1])
            nn.init.uniform_(self.bias, -bound, bound)

    def masked_weight(self) -> Tensor:
        """The cropped kernel times its mask (C_out×C_in×rows×kw)."""
        return self._kernel(flat=False)

    def flat_weight(self) -> Tensor:
        """The masked kernel as a C_out×(C_in·rows·kw) matrix, for one-position products."""
        return self._kernel(flat=True)

    def _kernel(self, flat: bool) -> Tensor:
        # Without gradients (sampling asks once per pixel and layer) the masked — and, for the matrix form of a
        # channels_last weight, copied — kernel is kept until the weight changes: in-place updates (optimizer
        # steps, EMA, load_state_dict) move its version counter, and .to()/_apply clears the cache.
        if torch.is_grad_enabled():
            w = self.weight if self._all_ones else self.weight[:, :, :self.rows] * self.mask
            return w.reshape(self.c_out, -1) if flat else w
        key = (self.weight.data_ptr(), self.weight._version, flat)
        if self._cached is None or self._cached[0] != key:
            w = self.weight if self._all_ones else self.weight[:, :, :self.rows] * self.mask
            self._cached = (key, w.reshape(self.c_out, -1).contiguous() if flat else w)
        return self._cached[1]

    def _apply(self, fn, *args, **kwargs):  # type: ignore[override]
        self._cached = None
        return super()._apply(fn, *args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, self.pads) if self._padded else x, self.masked_weight(), self.bias)

    # -- one position at a time (fast sampling) -------------------------------------------------
    def new_buffer(self, n: int, height: int, width: int, like: Tensor) -> Tensor:
        left, right, top, bottom = self.pads
        return like.new_zeros(n, self.c_in, height + top + bottom, width + left + right)

    def write(self, buffer: Tensor, r: int, c: int, value: Tensor) -> None:
        """Store the input ``value`` (N×C_in) of position ``(r, c)``."""
        buffer[:, :, r + self.pads[2], c + self.pads[0]] = value

    def write_row(self, buffer: Tensor, r: int, row: Tensor) -> None:
        """Store the inputs ``row`` (N×C_in×W) of row ``r``."""
        left = self.pads[0]
        buffer[:, :, r + self.pads[2], left:left + row.shape[-1]] = row

    def at(self, buffer: Tensor, r: int, c: int) -> Tensor:
        """The output (N×C_out) at ``(r, c)``, reading only the causal neighbourhood from ``buffer``."""
        kw = self.kernel[1]
        patch = buffer[:, :, r:r + self.rows, c:c + kw].reshape(buffer.shape[0], -1)
        return F.linear(patch, self.flat_weight(), self.bias)

    def at_value(self, value: Tensor) -> Tensor:
        """The output at one position of a 1×1 convolution, from that position's input (N×C_in)."""
        if self.kernel != (1, 1):
            raise ValueError("at_value is only for 1×1 convolutions; use write() and at()")
        return F.linear(value, self.flat_weight(), self.bias)

    def row(self, buffer: Tensor, r: int) -> Tensor:
        """The outputs (N×C_out×W) of the whole row ``r`` (all of whose inputs are in ``buffer``)."""
        return F.conv2d(buffer[:, :, r:r + self.rows], self.masked_weight(), self.bias)[:, :, 0]

    def extra_repr(self) -> str:
        return (f"{self.c_in}, {self.c_out}, kernel={self.kernel}, anchor={self.anchor}, mask={self.mask_type}, "
                f"rows_used={self.rows}")


def shift_down(x: Tensor) -> Tensor:
    """Move every row one down (row 0 becomes zeros): row r then only carries rows < r."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def gate(x: Tensor) -> Tensor:
    """The gated activation tanh(a) ⊙ σ(b) of van den Oord et al. 2016b (a, b = the two channel halves)."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class ClassBias(nn.Module):
    """A learned bias per class added to feature maps (the h-conditioning of van den Oord et al. 2016b):
    ``h + V·y`` for a one-hot (or any) condition vector y; works on N×C×H×W maps and on N×C pixel vectors."""

    def __init__(self, condition_dim: int, maps: int):
        super().__init__()
        self.linear = nn.Linear(condition_dim, maps, bias=False)

    def forward(self, h: Tensor, condition: Tensor | None) -> Tensor:
        if condition is None:
            return h
        bias = self.linear(condition)
        return h + (bias.view(*bias.shape, *([1] * (h.dim() - 2))))
