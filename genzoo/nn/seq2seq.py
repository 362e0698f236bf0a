"""Sequence-to-sequence blocks for the question generator (Foster 1st ed. ch. 6, Listings 6.6-6.8).

* :func:`run_packed` runs a fused ``nn.GRU`` over padded sequences of different lengths (so a bidirectional
  layer's backward pass starts at each sequence's last real token, as Keras' ``mask_zero`` does);
* :func:`span_states` is the book's ``K.batch_dot(answer_mask, answer_outputs)``: the rows of the document's
  states that belong to the answer span, gathered instead of multiplied by a one-hot mask;
* :class:`AdditiveAttention` is Bahdanau, Cho & Bengio (2015)'s score ``vᵀ tanh(W_q q + W_k k)`` with a softmax
  over the document's real tokens;
* :func:`copy_distribution` mixes the vocabulary softmax with the attention over the document into one
  distribution over the extended vocabulary (See, Liu & Manning 2017, eq. 9): a word of the document outside the
  vocabulary can still be written, by pointing at it.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def run_packed(rnn: nn.GRU, x: Tensor, lengths: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``rnn`` over ``x`` ``[B, T, D]`` where item ``b`` has ``lengths[b]`` real steps: the outputs ``[B, T, H]``
    (zero after each item's end) and the final state ``[layers·dirs, B, H]`` at each item's last real step."""
    packed = pack_padded_sequence(x, lengths.clamp_min(1).cpu(), batch_first=True, enforce_sorted=False)
    out, h = rnn(packed, h0)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, h


def span_states(states: Tensor, spans: Tensor) -> tuple[Tensor, Tensor]:
    """The rows ``spans[b, 0] ≤ i < spans[b, 1]`` of ``states[b]`` (``[B, L, H]``), left-aligned and zero-padded to
    the longest span ``[B, A, H]``, and the span lengths ``[B]``."""
    lengths = (spans[:, 1] - spans[:, 0]).clamp_min(1)
    width = int(lengths.max())
    offsets = torch.arange(width, device=states.device)
    index = (spans[:, :1] + offsets).clamp_max(states.shape[1] - 1)           # [B, A]
    rows = states.gather(1, index.unsqueeze(-1).expand(-1, -1, states.shape[-1]))
    keep = (offsets < lengths.unsqueeze(1)).unsqueeze(-1)
    return rows * keep, lengths


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015) attention: ``e_tj = vᵀ tanh(W_q q_t + W_k k_j)``, ``a_t = softmax_j(e_t)`` over the
    unmasked keys, context ``c_t = Σ_j a_tj k_j``."""

    def __init__(self, query_dim: int, key_dim: int, units: int):
        super().__init__()
        self.query = nn.Linear(query_dim, units, bias=False)
        self.key = nn.Linear(key_dim, units)
        self.score = nn.Linear(units, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """``W_k k`` once per document (decoding reuses it at every step)."""
        return self.key(keys)

    def forward(self, queries: Tensor, keys: Tensor, projected: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``queries`` ``[B, T, Dq]``, ``keys`` ``[B, L, Dk]`` with their projection, ``mask`` ``[B, L]`` (True on real
        tokens) → context ``[B, T, Dk]`` and weights ``[B, T, L]``."""
        e = self.score(torch.tanh(self.query(queries).unsqueeze(2) + projected.unsqueeze(1))).squeeze(-1)
        weights = e.masked_fill(~mask.unsqueeze(1), float("-inf")).softmax(-1)
        return weights @ keys, weights


def copy_distribution(vocab_logits: Tensor, weights: Tensor, p_gen: Tensor, source_ext: Tensor,
                      extended_size: int) -> Tensor:
    """See et al. (2017) eq. 9: ``P(w) = p_gen · P_vocab(w) + (1 − p_gen) · Σ_{j: x_j = w} a_j`` over the extended
    vocabulary (``extended_size`` = V + the most out-of-vocabulary words a document of the batch has).
    ``vocab_logits`` ``[B, T, V]``, ``weights`` ``[B, T, L]``, ``p_gen`` ``[B, T, 1]``, ``source_ext`` ``[B, L]``
    (the document's extended ids). Returns probabilities ``[B, T, extended_size]``."""
    b, t, v = vocab_logits.shape
    probs = vocab_logits.softmax(-1) * p_gen
    out = torch.zeros(b, t, extended_size, dtype=probs.dtype, device=probs.device)
    out[..., :v] = probs
    index = source_ext.unsqueeze(1).expand(-1, t, -1)
    return out.scatter_add(2, index, weights * (1 - p_gen))
