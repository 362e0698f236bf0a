"""Recurrent text blocks with Keras' shapes, parameter counts and initialisation (Foster 1st ed. ch. 6).

:class:`RecurrentLM` is the book's text model: ``Embedding(V, e) → [LSTM | GRU](units)… → Dropout →
Dense(V)``. It runs on PyTorch's fused ``nn.LSTM``/``nn.GRU`` kernels, one layer each so every layer can be
returned per step (``return_sequences``) as Listing 6.5 stacks them.

Keras' LSTM has one bias vector per gate; PyTorch's has two (input and recurrent) that only ever appear as a
sum. :func:`keras_lstm_bias` keeps the recurrent one as a zero buffer, so the function is the same and the
parameter count is the book's: 365,568 for LSTM(256) on 100-d embeddings (Fig. 6.3), not 366,592. Keras'
GRU (``reset_after=True``, the TF2 default) has both biases, as PyTorch's does: no change there.
Initialisation as Keras: Glorot-uniform input kernels, orthogonal recurrent kernels, zero biases with the
LSTM forget gate's at 1 (``unit_forget_bias``), embeddings uniform in ±0.05, Glorot-uniform dense weights.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


def keras_lstm_bias(rnn: nn.LSTM) -> None:
    """Replace each layer's (and direction's) recurrent bias by a zero buffer: one bias per gate, as Keras."""
    for name in [n for n in rnn._flat_weights_names if n.startswith("bias_hh")]:
        zeros = torch.zeros_like(getattr(rnn, name).detach())
        del rnn._parameters[name]
        rnn.register_buffer(name, zeros)
    rnn._init_flat_weights()


def keras_init_(rnn: nn.LSTM | nn.GRU) -> None:
    """Glorot-uniform input kernels, orthogonal recurrent kernels (per gate), zero biases; LSTM forget bias 1."""
    gates = 4 if isinstance(rnn, nn.LSTM) else 3
    h = rnn.hidden_size
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            if name.startswith("weight_ih"):
                fan_out, fan_in = gates * h, p.shape[1]
                bound = (6.0 / (fan_in + fan_out)) ** 0.5       # Keras: Glorot over the whole (in, 4h) kernel
                p.uniform_(-bound, bound)
            elif name.startswith("weight_hh"):
                for g in range(gates):
                    nn.init.orthogonal_(p[g * h:(g + 1) * h])
            elif name.startswith("bias"):
                p.zero_()
                if isinstance(rnn, nn.LSTM) and name.startswith("bias_ih"):
                    p[h:2 * h] = 1.0                            # PyTorch's gate order is i, f, g, o


class RecurrentLM(nn.Module):
    """Token ids ``[B, T]`` → next-token logits ``[B, T, V]`` (every position) or ``[B, V]`` (``last_only``)."""

    def __init__(self, vocab_size: int, embedding: int = 100, units: list[int] | tuple[int, ...] = (256,),
                 cell: str = "lstm", bidirectional: bool = False, dropout: float = 0.2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding)
        layers, width = [], embedding
        for u in units:
            rnn = CELLS[cell](width, u, batch_first=True, bidirectional=bidirectional)
            keras_init_(rnn)
            if cell == "lstm":
                keras_lstm_bias(rnn)
            layers.append(rnn)
            width = u * (2 if bidirectional else 1)
        self.rnns = nn.ModuleList(layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, vocab_size)
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            nn.init.xavier_uniform_(self.head.weight)
            self.head.bias.zero_()
        self.bidirectional = bidirectional

    def features(self, ids: Tensor) -> Tensor:
        """The last recurrent layer's output at every position, ``[B, T, units]``."""
        x = self.embedding(ids)
        for rnn in self.rnns:
            x, _ = rnn(x)
        return x

    def forward(self, ids: Tensor, last_only: bool = False) -> Tensor:
        h = self.features(ids)
        if last_only:
            if self.bidirectional:   # Keras' Bidirectional(return_sequences=False): forward's last, backward's first
                half = h.shape[-1] // 2
                h = torch.cat([h[:, -1, :half], h[:, 0, half:]], dim=-1)
            else:
                h = h[:, -1]
        return self.head(self.dropout(h))
