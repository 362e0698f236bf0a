"""Small layers and layer factories shared by every model family.

Padding helpers reproduce Keras ``padding="same"`` output sizes, so the book's Keras architectures
(Foster ch. 2-4, Géron ch. 17) keep their shapes and parameter counts in PyTorch.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

# Keras defaults differ from PyTorch's: BatchNormalization(momentum=0.99, epsilon=1e-3) means a
# PyTorch momentum of 1 - 0.99, and LeakyReLU() has alpha 0.3.
KERAS_BN_MOMENTUM = 0.99
KERAS_BN_EPS = 1e-3
KERAS_LEAKY_SLOPE = 0.3


class Reshape(nn.Module):
    """Reshape the non-batch dimensions (Keras ``Reshape``)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def conv_same(c_in: int, c_out: int, kernel: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    """Conv2d whose output is ``ceil(input / stride)`` like Keras ``padding="same"`` (odd kernels)."""
    if stride == 1:
        return nn.Conv2d(c_in, c_out, kernel, 1, padding="same", bias=bias)
    return nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2, bias=bias)


def conv_transpose_same(c_in: int, c_out: int, kernel: int, stride: int = 1, bias: bool = True) -> nn.ConvTranspose2d:
    """ConvTranspose2d whose output is ``input × stride`` like Keras ``Conv2DTranspose(padding="same")``."""
    pad = math.ceil((kernel - stride) / 2)
    out_pad = 2 * pad - (kernel - stride)
    return nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding=pad, output_padding=out_pad, bias=bias)


def batch_norm(features: int, keras_momentum: float = KERAS_BN_MOMENTUM, dims: int = 2) -> nn.Module:
    """BatchNorm with Keras semantics: ``keras_momentum`` is the decay of the moving averages."""
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(features, eps=KERAS_BN_EPS, momentum=1.0 - keras_momentum)


def activation(name: str, leaky_slope: float = KERAS_LEAKY_SLOPE) -> nn.Module:
    """An activation by Keras name: relu, leaky_relu, tanh, sigmoid, selu, swish (= SiLU), linear."""
    table = {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(leaky_slope),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "selu": nn.SELU,
        "swish": nn.SiLU,
        "linear": nn.Identity,
        None: nn.Identity,
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; use one of relu, leaky_relu, tanh, sigmoid, selu, swish, linear")
    return table[name]()


_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Conv3d, nn.ConvTranspose3d)


def _init_kernels_(module: nn.Module, init: Callable[[Tensor], object]) -> nn.Module:
    """Apply ``init`` to every conv/dense kernel and zero every bias."""
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            init(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def init_normal_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """Keras ``RandomNormal(0, std)`` kernels and zero biases (DCGAN init; Foster's GAN classes)."""
    return _init_kernels_(module, lambda w: nn.init.normal_(w, 0.0, std))


def init_keras_(module: nn.Module) -> nn.Module:
    """Keras defaults (Glorot-uniform kernels, zero biases) so book recipes start where Keras starts."""
    return _init_kernels_(module, nn.init.xavier_uniform_)


def init_he_(module: nn.Module) -> nn.Module:
    """He-normal kernels (Géron's ``kernel_initializer="he_normal"``) and zero biases."""
    return _init_kernels_(module, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))


def one_hot_maps(labels: Tensor, num_classes: int, height: int, width: int, dtype: torch.dtype) -> Tensor:
    """One-hot labels broadcast to ``N×K×H×W`` feature maps, to concatenate with images (conditional nets)."""
    onehot = torch.nn.functional.one_hot(labels, num_classes).to(dtype)
    return onehot[:, :, None, None].expand(-1, -1, height, width)


def _phase_taps(kernel: int) -> tuple[Tensor, int, tuple[int, int]]:
    """How a ``kernel``-tap "same" conv over a nearest ×2 upsampled signal reads the original signal.

    Output position ``2i + a`` (phase ``a`` ∈ {0, 1}) sees upsampled positions ``2i + a + d``, d = −p…p
    (p = (kernel − 1) / 2), i.e. original positions ``i + ⌊(a + d) / 2⌋``: p + 1 distinct ones per phase. Returns
    ``M`` (2 × (p + 1) × kernel, M[a, t, d + p] = 1 where tap d lands on the phase's t-th original position), the
    padding P of the original signal and the offset of each phase's window in the padded conv's output.
    """
    p = (kernel - 1) // 2
    lows = [(a - p) // 2 for a in (0, 1)]
    pad = -min(lows)
    taps = torch.zeros(2, p + 1, kernel)
    for a in (0, 1):
        for d in range(-p, p + 1):
            taps[a, (a + d) // 2 - lows[a], d + p] = 1.0
    return taps, pad, (lows[0] + pad, lows[1] + pad)


class UpsampleConv2d(nn.Conv2d):
    """``Upsample(scale_factor=2, mode="nearest")`` followed by this stride-1 "same" conv (odd kernel k), computed
    without building the upsampled map.

    The conv over a nearest-upsampled map repeats each input pixel 4 times, so each of the 4 output phases (row and
    column parity) is a conv of the *original* map with (p + 1)² taps, p = (k − 1) / 2, whose weights are sums of the
    k² weights (:func:`_phase_taps`). One conv with 4·C_out output channels computes all phases; they are then
    interleaved. The same function and the same parameters (``weight``/``bias`` keep the Conv2d's shapes, so
    checkpoints are unchanged) for (p + 1)²/k² of the multiply-adds: 4/9 at k = 3, 9/25 at k = 5. Results equal the
    two-layer form up to float rounding (the taps are summed before multiplying). Used with :class:`Upsampled`
    in the slot of the ``Upsample`` layer it replaces.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool = True):
        if kernel % 2 != 1:
            raise ValueError(f"UpsampleConv2d needs an odd kernel, got {kernel}")
        super().__init__(c_in, c_out, kernel, 1, padding=(kernel - 1) // 2, bias=bias)
        taps, self.phase_pad, self.phase_offsets = _phase_taps(kernel)
        self.register_buffer("taps", taps, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        c = self.out_channels
        m = self.taps.to(self.weight.dtype)
        # (a, b, c_out, c_in, t, s): phase (a, b)'s kernel; phases major so each is a block of output channels.
        kernel = torch.einsum("atk,oikl,bsl->aboits", m, self.weight, m).reshape(4 * c, self.in_channels,
                                                                               m.shape[1], m.shape[1])
        bias = self.bias.repeat(4) if self.bias is not None else None
        y = torch.nn.functional.conv2d(x, kernel.contiguous(memory_format=torch.channels_last)
                                       if x.is_contiguous(memory_format=torch.channels_last) else kernel,
                                       bias, padding=self.phase_pad)
        # out[n, c, 2i + a, 2j + b] = y[n, (2a + b)·C + c, i + off_a, j + off_b], written in the input's layout.
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        if channels_last:
            out = y.new_empty(n, h, 2, w, 2, c)
            view = out.permute(0, 5, 1, 2, 3, 4)          # (n, c, h, a, w, b) over NHWC memory
        else:
            out = y.new_empty(n, c, h, 2, w, 2)
            view = out
        off = self.phase_offsets
        for a in (0, 1):
            for b in (0, 1):
                k = 2 * a + b
                view[:, :, :, a, :, b] = y[:, k * c:(k + 1) * c, off[a]:off[a] + h, off[b]:off[b] + w]
        if channels_last:
            return out.view(n, 2 * h, 2 * w, c).permute(0, 3, 1, 2)
        return out.view(n, c, 2 * h, 2 * w)


class Upsampled(nn.Identity):
    """Marks where an ``Upsample(×2)`` stood: the :class:`UpsampleConv2d` after it upsamples (same layer indices,
    so the same checkpoint keys, as Upsample + Conv2d)."""
