"""PixelCNN networks: the 2nd edition book's residual PixelCNN and the Gated PixelCNN.

Every network here implements the :class:`AutoregressiveNet` protocol: ``forward`` maps a whole image
(N×C×H×W in [0, 1]) to the output distribution parameters of every pixel, and ``init_state`` /
``step`` / ``end_row`` compute the same outputs one pixel at a time from cached activations (Ramachandran
et al. 2017, "Fast Generation for Convolutional Autoregressive Models"): each new pixel costs a few
matrix-vector products per layer instead of a forward pass over the image.
"""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from .causal import CausalConv2d, ClassBias, gate, shift_down

State = dict[str, Any]


class AutoregressiveNet(nn.Module):
    """Protocol of the pixel networks (see the module docstring)."""

    out_channels: int

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def image_readers(self) -> list[CausalConv2d]:
        """The convolutions that read the image itself (their buffers hold the pixels being generated)."""
        raise NotImplementedError

    def init_state(self, image: Tensor, condition: Tensor | None = None) -> State:
        """Buffers for one-pixel-at-a-time evaluation, seeded with ``image`` (N×C×H×W)."""
        n, _, h, w = image.shape
        state: State = {"size": (h, w), "condition": condition, "pixels": image.clone(),
                        "image": [conv.new_buffer(n, h, w, image) for conv in self.image_readers()]}
        for conv, buf in zip(self.image_readers(), state["image"]):
            left, _, top, _ = conv.pads
            buf[:, :, top:top + h, left:left + w] = image
        self._init_layers(state, image)
        return state

    def _init_layers(self, state: State, like: Tensor) -> None:
        raise NotImplementedError

    def write_pixel(self, state: State, r: int, c: int, channels: list[int], values: Tensor) -> None:
        """Store generated pixel values (N×len(channels), in [0, 1]) in every image buffer."""
        state["pixels"][:, channels, r, c] = values.to(state["pixels"].dtype)
        for conv, buf in zip(self.image_readers(), state["image"]):
            buf[:, channels, r + conv.pads[2], c + conv.pads[0]] = values.to(buf.dtype)

    def step(self, state: State, r: int, c: int) -> Tensor:
        """The outputs (N×out_channels) at ``(r, c)``; all pixels before ``(r, c)`` must be in ``state``."""
        raise NotImplementedError

    def end_row(self, state: State, r: int) -> None:
        """Called once row ``r`` is complete (row-level caches: vertical stacks, right-to-left LSTMs)."""


class ResidualBlock(nn.Module):
    """1×1 conv halving the maps → masked 3×3 conv (B) → 1×1 conv doubling them → + input; ReLU after
    each conv (Foster 2nd ed. ch. 5, Example 5.13; van den Oord et al. 2016a, Figure 5)."""

    def __init__(self, channels: int, kernel: int = 3, groups: int = 1):
        super().__init__()
        half = channels // 2
        self.reduce = CausalConv2d(channels, half, 1, groups=groups)
        self.masked = CausalConv2d(half, half, kernel, mask="B", groups=groups)
        self.expand = CausalConv2d(half, channels, 1, groups=groups)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.reduce(x))
        h = F.relu(self.masked(h))
        return x + F.relu(self.expand(h))

    def step(self, buffer: Tensor, r: int, c: int, x: Tensor) -> Tensor:
        h = F.relu(self.reduce.at_value(x))
        self.masked.write(buffer, r, c, h)
        h = F.relu(self.masked.at(buffer, r, c))
        return x + F.relu(self.expand.at_value(h))


class PixelCNNNet(AutoregressiveNet):
    """The book's PixelCNN (Foster 2nd ed. ch. 5, Example 5.14): masked conv A k×k (ReLU) → residual blocks →
    ``head_layers`` masked 1×1 convs B (ReLU) → 1×1 conv to the output distribution.

    With the book's numbers (1 channel, 128 maps, 7×7, 5 blocks, 2 head layers, 4 levels) it has
    307,460 parameters, counting the masked-out kernel weights as Keras does.
    """

    def __init__(self, channels: int, out_channels: int, hidden: int = 128, blocks: int = 5, first_kernel: int = 7,
                 kernel: int = 3, head_layers: int = 2, groups: int = 1, condition_dim: int = 0):
        super().__init__()
        self.out_channels = out_channels
        self.first = CausalConv2d(channels, hidden, first_kernel, mask="A", groups=groups)
        self.blocks = nn.ModuleList(ResidualBlock(hidden, kernel, groups) for _ in range(blocks))
        self.head = nn.ModuleList(CausalConv2d(hidden, hidden, 1, groups=groups) for _ in range(head_layers))
        self.out = CausalConv2d(hidden, out_channels, 1, groups=groups)
        self.condition = ClassBias(condition_dim, hidden) if condition_dim else None

    def _first(self, h: Tensor, condition: Tensor | None) -> Tensor:
        return F.relu(self.condition(h, condition) if self.condition is not None else h)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        h = self._first(self.first(x), condition)
        for block in self.blocks:
            h = block(h)
        for layer in self.head:
            h = F.relu(layer(h))
        return self.out(h)

    def image_readers(self) -> list[CausalConv2d]:
        return [self.first]

    def _init_layers(self, state: State, like: Tensor) -> None:
        n, (h, w) = like.shape[0], state["size"]
        state["blocks"] = [b.masked.new_buffer(n, h, w, like) for b in self.blocks]

    def step(self, state: State, r: int, c: int) -> Tensor:
        h = self._first(self.first.at(state["image"][0], r, c), state["condition"])
        for block, buffer in zip(self.blocks, state["blocks"]):
            h = block.step(buffer, r, c, h)
        for layer in self.head:
            h = F.relu(layer.at_value(h))
        return self.out.at_value(h)


class GatedLayer(nn.Module):
    """One layer of the Gated PixelCNN (van den Oord et al. 2016b, Figure 2).

    The vertical stack sees the rows at and above the current one through a (k//2+1)×k kernel; its
    pre-activations reach the horizontal stack through a 1×1 conv *shifted down one row*, so the
    horizontal stack gets everything above without ever seeing the current row's future pixels. The
    horizontal stack sees the current row left of the pixel through a 1×(k//2+1) kernel (mask A in the
    first layer, B after). Both use tanh(a)⊙σ(b) gates and an optional class-conditional bias; the
    horizontal stack has a 1×1 output conv and (after the first layer) a residual connection. Together
    the stacks cover every earlier pixel in the receptive field: no blind spot.
    """

    def __init__(self, c_in: int, maps: int, kernel: int, first: bool, groups: int = 1, condition_dim: int = 0):
        super().__init__()
        self.first = first
        self.vertical = CausalConv2d(c_in, 2 * maps, (kernel // 2 + 1, kernel), (kernel // 2, kernel // 2), mask=None)
        self.v_to_h = nn.Conv2d(2 * maps, 2 * maps, 1)
        self.horizontal = CausalConv2d(c_in, 2 * maps, (1, kernel // 2 + 1), (0, kernel // 2),
                                       mask="A" if first else "B", groups=groups, out_repeat=2)
        self.h_out = CausalConv2d(maps, maps, 1, groups=groups)
        self.v_condition = ClassBias(condition_dim, 2 * maps) if condition_dim else None
        self.h_condition = ClassBias(condition_dim, 2 * maps) if condition_dim else None

    @staticmethod
    def _bias(layer: ClassBias | None, h: Tensor, condition: Tensor | None) -> Tensor:
        return layer(h, condition) if layer is not None else h

    def forward(self, v: Tensor, h: Tensor, condition: Tensor | None) -> tuple[Tensor, Tensor]:
        v_pre = self._bias(self.v_condition, self.vertical(v), condition)
        h_pre = self._bias(self.h_condition, self.horizontal(h) + shift_down(self.v_to_h(v_pre)), condition)
        h_new = self.h_out(gate(h_pre))
        return gate(v_pre), h_new if self.first else h + h_new

    def v_row(self, buffer: Tensor, r: int, condition: Tensor | None) -> tuple[Tensor, Tensor]:
        """Vertical stack of a completed row r: (gated output N×maps×W, v→h term for row r+1)."""
        v_pre = self._bias(self.v_condition, self.vertical.row(buffer, r), condition)
        to_h = F.conv2d(v_pre.unsqueeze(2), self.v_to_h.weight, self.v_to_h.bias)[:, :, 0]
        return gate(v_pre), to_h

    def h_step(self, buffer: Tensor, r: int, c: int, h: Tensor | None, from_above: Tensor,
               condition: Tensor | None) -> Tensor:
        h_pre = self._bias(self.h_condition, self.horizontal.at(buffer, r, c) + from_above, condition)
        h_new = self.h_out.at_value(gate(h_pre))
        return h_new if self.first else h + h_new


class GatedPixelCNNNet(AutoregressiveNet):
    """Gated PixelCNN (van den Oord et al. 2016b): a first gated layer with a k×k receptive field on the
    image, ``layers − 1`` gated layers with ``kernel``, then ReLU → 1×1 → ReLU → 1×1 to the output."""

    def __init__(self, channels: int, out_channels: int, hidden: int = 64, layers: int = 8, first_kernel: int = 7,
                 kernel: int = 3, head_hidden: int | None = None, groups: int = 1, condition_dim: int = 0):
        super().__init__()
        self.out_channels = out_channels
        self.layers = nn.ModuleList(
            GatedLayer(channels if i == 0 else hidden, hidden, first_kernel if i == 0 else kernel, i == 0, groups,
                       condition_dim) for i in range(layers))
        head_hidden = head_hidden or hidden
        self.head = CausalConv2d(hidden, head_hidden, 1, groups=groups)
        self.out = CausalConv2d(head_hidden, out_channels, 1, groups=groups)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h, condition)
        return self.out(F.relu(self.head(F.relu(h))))

    def image_readers(self) -> list[CausalConv2d]:
        return [self.layers[0].vertical, self.layers[0].horizontal]

    def _init_layers(self, state: State, like: Tensor) -> None:
        n, (h, w) = like.shape[0], state["size"]
        rest = self.layers[1:]
        state["v"] = [layer.vertical.new_buffer(n, h, w, like) for layer in rest]
        state["h"] = [layer.horizontal.new_buffer(n, h, w, like) for layer in rest]
        maps2 = self.layers[0].v_to_h.out_channels
        state["from_above"] = [like.new_zeros(n, maps2, w) for _ in self.layers]   # row 0 sees nothing above

    def step(self, state: State, r: int, c: int) -> Tensor:
        cond = state["condition"]
        first = self.layers[0]
        h = first.h_step(state["image"][1], r, c, None, state["from_above"][0][:, :, c], cond)
        for i, layer in enumerate(self.layers[1:]):
            layer.horizontal.write(state["h"][i], r, c, h)
            h = layer.h_step(state["h"][i], r, c, h, state["from_above"][i + 1][:, :, c], cond)
        return self.out.at_value(F.relu(self.head.at_value(F.relu(h))))

    def end_row(self, state: State, r: int) -> None:
        cond = state["condition"]
        v, state["from_above"][0] = self.layers[0].v_row(state["image"][0], r, cond)
        for i, layer in enumerate(self.layers[1:]):
            layer.vertical.write_row(state["v"][i], r, v)
            v, state["from_above"][i + 1] = layer.v_row(state["v"][i], r, cond)
