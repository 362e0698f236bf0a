"""PixelRNN networks (van den Oord et al. 2016a, section 3): Row LSTM and Diagonal BiLSTM.

Both start with a mask-A k×k convolution to ``2h`` maps, stack residual LSTM layers (input ``2h`` maps,
an LSTM state of ``h`` maps, a 1×1 conv back to ``2h``, plus the input: the "halve, process, double"
residual block of the ITMO description), and end with ReLU → 1×1 → ReLU → 1×1 to the output distribution.

Each LSTM layer has an input-to-state convolution ``K_is`` (masked, so the current pixel's later
channels stay hidden) and a state-to-state convolution ``K_ss``; gates i, f, o (σ) and g (tanh) give
``c = f ⊙ c_prev + i ⊙ g`` and ``h = o ⊙ tanh(c)``.

* **Row LSTM**: ``K_is`` is 1×k along the row (mask B), ``K_ss`` a 1-D convolution of width k over the
  previous row's states; a whole row is computed at once, so the receptive field is a triangle above
  the pixel (context to the left in the same row comes only through ``K_is`` and the first layer).
* **Diagonal BiLSTM**: ``K_is`` is 1×1 (mask B); ``K_ss`` reads the states at (r−1, c) and (r, c−1)
  (a 2×1 convolution on the *skewed* map, which is how the whole diagonal is computed at once). A
  second LSTM runs right to left (states at (r−1, c) and (r, c+1)); its output is shifted down a row
  before it is added, so no future pixel leaks in. As the paper builds it, that right-to-left LSTM
  never sees the last pixel of its own row (mask A hides each pixel from its own position, and every
  other position of the row lies to its left), so pixel (r−1, W−1) is missing from the context of
  (r, c < W−4). genzoo also feeds the raw pixels of the row into the right-to-left LSTM (a 1×1 conv,
  safe because its output is shifted down a row), which makes every earlier pixel part of the
  receptive field — the "whole available context" the paper and the ITMO description claim (tested).

Both implement the :class:`~genzoo.nn.pixelcnn.AutoregressiveNet` one-pixel-at-a-time protocol.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .causal import CausalConv2d, ClassBias, shift_down
from .pixelcnn import AutoregressiveNet, State


def lstm_update(gates: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor]:
    """(h, c) from stacked gate pre-activations [i, f, o, g] along dim 1."""
    i, f, o, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def skew(x: Tensor) -> Tensor:
    """N×C×H×W → N×C×H×(W+H−1): row r shifted right by r, so each image diagonal becomes a column."""
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, h, w + h - 1)
    for r in range(h):
        out[:, :, r, r:r + w] = x[:, :, r]
    return out


def unskew(x: Tensor, width: int) -> Tensor:
    """Inverse of :func:`skew`."""
    return torch.stack([x[:, :, r, r:r + width] for r in range(x.shape[2])], dim=2)


class _RNNNet(AutoregressiveNet):
    """Shared first layer, residual LSTM stack and output head of the PixelRNNs."""

    def __init__(self, channels: int, out_channels: int, hidden: int, layers: int, first_kernel: int,
                 groups: int, condition_dim: int, make_layer):
        super().__init__()
        self.out_channels = out_channels
        self.first = CausalConv2d(channels, hidden, first_kernel, mask="A", groups=groups)
        self.layers = nn.ModuleList(make_layer() for _ in range(layers))
        self.head = CausalConv2d(hidden, hidden, 1, groups=groups)
        self.out = CausalConv2d(hidden, out_channels, 1, groups=groups)
        self.condition = ClassBias(condition_dim, hidden) if condition_dim else None

    def _embed(self, h: Tensor, condition: Tensor | None) -> Tensor:
        return self.condition(h, condition) if self.condition is not None else h

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        h = self._embed(self.first(x), condition)
        for layer in self.layers:
            h = layer(h, x)
        return self.out(F.relu(self.head(F.relu(h))))

    def image_readers(self) -> list[CausalConv2d]:
        return [self.first]

    def _init_layers(self, state: State, like: Tensor) -> None:
        n, (h, w) = like.shape[0], state["size"]
        state["layers"] = [layer.init_state(n, h, w, like) for layer in self.layers]

    def step(self, state: State, r: int, c: int) -> Tensor:
        h = self._embed(self.first.at(state["image"][0], r, c), state["condition"])
        for layer, s in zip(self.layers, state["layers"]):
            h = layer.step(s, r, c, h)
        return self.out.at_value(F.relu(self.head.at_value(F.relu(h))))

    def end_row(self, state: State, r: int) -> None:
        for layer, s in zip(self.layers, state["layers"]):
            layer.end_row(s, r, state["pixels"][:, :, r])


class RowLSTMLayer(nn.Module):
    """Residual Row LSTM layer: 2h maps in, state of h maps, 1×1 conv back to 2h, plus the input."""

    def __init__(self, maps: int, kernel: int = 3, groups: int = 1):
        super().__init__()
        state = maps // 2
        self.input_to_state = CausalConv2d(maps, 4 * state, (1, kernel // 2 + 1), (0, kernel // 2), mask="B",
                                           groups=groups, out_repeat=4)
        self.state_to_state = nn.Conv1d(state, 4 * state, kernel, padding=kernel // 2)
        self.out = CausalConv2d(state, maps, 1, groups=groups)

    def forward(self, x: Tensor, image: Tensor | None = None) -> Tensor:
        n, _, height, width = x.shape
        inputs = self.input_to_state(x)
        h = c = x.new_zeros(n, self.state_to_state.in_channels, width)
        rows = []
        for r in range(height):
            h, c = lstm_update(inputs[:, :, r] + self.state_to_state(h), c)
            rows.append(h)
        return x + self.out(torch.stack(rows, dim=2))

    def init_state(self, n: int, height: int, width: int, like: Tensor) -> dict:
        zeros = like.new_zeros(n, self.state_to_state.in_channels, width)
        return {"buffer": self.input_to_state.new_buffer(n, height, width, like),
                "above": self.state_to_state(zeros), "c_above": zeros,
                "h_row": zeros.clone(), "c_row": zeros.clone()}

    def step(self, s: dict, r: int, c: int, x: Tensor) -> Tensor:
        self.input_to_state.write(s["buffer"], r, c, x)
        gates = self.input_to_state.at(s["buffer"], r, c) + s["above"][:, :, c]
        h, cell = lstm_update(gates, s["c_above"][:, :, c])
        s["h_row"][:, :, c], s["c_row"][:, :, c] = h, cell
        return x + self.out.at_value(h)

    def end_row(self, s: dict, r: int, pixels: Tensor) -> None:
        s["above"] = self.state_to_state(s["h_row"])
        s["c_above"], s["h_row"], s["c_row"] = s["c_row"], torch.zeros_like(s["h_row"]), torch.zeros_like(s["c_row"])


class DiagonalLSTM(nn.Module):
    """One direction of the Diagonal BiLSTM: state (r, c) from (r−1, c), (r, c−1) and the input at (r, c)."""

    def __init__(self, maps: int, state: int, groups: int):
        super().__init__()
        self.input_to_state = CausalConv2d(maps, 4 * state, 1, mask="B", groups=groups, out_repeat=4)
        self.state_to_state = nn.Conv1d(state, 4 * state, 2)   # tap 0: the row above, tap 1: the previous column

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        n, _, height, width = x.shape
        inputs = self.input_to_state(x)
        if extra is not None:
            inputs = inputs + extra
        inputs = skew(inputs)                                  # N×4s×H×(W+H−1)
        cols = torch.arange(inputs.shape[-1], device=x.device)
        valid = (cols.view(1, -1) - torch.arange(height, device=x.device).view(-1, 1))
        valid = ((valid >= 0) & (valid < width)).to(x.dtype)   # H×(W+H−1): inside the image
        h = c = x.new_zeros(n, self.state_to_state.in_channels, height)
        out = []
        for t in range(inputs.shape[-1]):
            gates = inputs[:, :, :, t] + self.state_to_state(F.pad(h, (1, 0)))
            h, c = lstm_update(gates, c)
            h, c = h * valid[:, t], c * valid[:, t]            # outside the image the state is zero padding
            out.append(h)
        return unskew(torch.stack(out, dim=3), width)

    def cell(self, inputs: Tensor, h_above: Tensor, h_side: Tensor, c_side: Tensor) -> tuple[Tensor, Tensor]:
        """One state from its input-to-state term and its two neighbours' states."""
        w, b = self.state_to_state.weight, self.state_to_state.bias
        gates = inputs + F.linear(h_above, w[:, :, 0], b) + F.linear(h_side, w[:, :, 1])
        return lstm_update(gates, c_side)


class DiagonalBiLSTMLayer(nn.Module):
    """Residual Diagonal BiLSTM layer: forward LSTM + (right-to-left LSTM shifted down a row) → 1×1 → + input."""

    def __init__(self, maps: int, groups: int = 1, image_channels: int = 1):
        super().__init__()
        state = maps // 2
        self.forward_lstm = DiagonalLSTM(maps, state, groups)
        self.backward_lstm = DiagonalLSTM(maps, state, groups)
        self.backward_pixels = nn.Conv2d(image_channels, 4 * state, 1, bias=False)  # see the module docstring
        self.out = CausalConv2d(state, maps, 1, groups=groups)

    def forward(self, x: Tensor, image: Tensor) -> Tensor:
        back = self.backward_lstm(x.flip(-1), self.backward_pixels(image).flip(-1)).flip(-1)
        return x + self.out(self.forward_lstm(x) + shift_down(back))

    def init_state(self, n: int, height: int, width: int, like: Tensor) -> dict:
        s = self.forward_lstm.state_to_state.in_channels
        z = like.new_zeros(n, s, width)
        return {"inputs": like.new_zeros(n, self.forward_lstm.input_to_state.c_in, width),
                "h_above": z, "h_row": z.clone(), "c_row": z.clone(), "back_above": z}

    def step(self, s: dict, r: int, c: int, x: Tensor) -> Tensor:
        s["inputs"][:, :, c] = x
        fwd = self.forward_lstm
        zero = torch.zeros_like(s["h_row"][:, :, 0])
        h_left = s["h_row"][:, :, c - 1] if c > 0 else zero
        c_left = s["c_row"][:, :, c - 1] if c > 0 else zero
        h, cell = fwd.cell(fwd.input_to_state.at_value(x), s["h_above"][:, :, c], h_left, c_left)
        s["h_row"][:, :, c], s["c_row"][:, :, c] = h, cell
        return x + self.out.at_value(h + s["back_above"][:, :, c])

    def end_row(self, s: dict, r: int, pixels: Tensor) -> None:
        """Run the right-to-left LSTM over the completed row (``pixels``: its N×C×W values); row r+1 sees
        it (the shift down)."""
        bwd = self.backward_lstm
        inputs = F.linear(s["inputs"].transpose(1, 2), bwd.input_to_state.flat_weight(),
                          bwd.input_to_state.bias)
        inputs = (inputs + F.linear(pixels.transpose(1, 2), self.backward_pixels.weight.flatten(1))).transpose(1, 2)
        width = inputs.shape[-1]
        h_row = torch.zeros_like(s["back_above"])
        h_right = c_right = torch.zeros_like(s["back_above"][:, :, 0])
        for col in range(width - 1, -1, -1):
            h_right, c_right = bwd.cell(inputs[:, :, col], s["back_above"][:, :, col], h_right, c_right)
            h_row[:, :, col] = h_right
        s["back_above"], s["h_above"] = h_row, s["h_row"]   # cell states come from the side, not from above
        s["h_row"], s["c_row"] = torch.zeros_like(s["h_row"]), torch.zeros_like(s["c_row"])


class RowLSTMNet(_RNNNet):
    """PixelRNN with Row LSTM layers (``hidden`` = 2h maps)."""

    def __init__(self, channels: int, out_channels: int, hidden: int = 64, layers: int = 3, first_kernel: int = 7,
                 kernel: int = 3, groups: int = 1, condition_dim: int = 0):
        super().__init__(channels, out_channels, hidden, layers, first_kernel, groups, condition_dim,
                         lambda: RowLSTMLayer(hidden, kernel, groups))


class DiagonalBiLSTMNet(_RNNNet):
    """PixelRNN with Diagonal BiLSTM layers (``hidden`` = 2h maps)."""

    def __init__(self, channels: int, out_channels: int, hidden: int = 64, layers: int = 2, first_kernel: int = 7,
                 groups: int = 1, condition_dim: int = 0):
        super().__init__(channels, out_channels, hidden, layers, first_kernel, groups, condition_dim,
                         lambda: DiagonalBiLSTMLayer(hidden, groups, channels))
