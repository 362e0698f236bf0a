"""Transformer blocks shared by every transformer family (GPT decoder, BERT-style encoder).

The architecture is the pre-LayerNorm Transformer of GPT-2 (Radford et al. 2019, §2.3; Foster 2nd ed.
ch. 9 "Transformers", 1st ed. §9): token embeddings plus position embeddings (learned, as GPT, or the fixed
sinusoidal encoding of Vaswani et al. 2017, §3.5), then ``layers`` blocks of

    x = x + Dropout(Attention(LayerNorm(x)))          multi-head self-attention, causal or bidirectional
    x = x + Dropout(MLP(LayerNorm(x)))                Linear(d, 4d) → GELU → Linear(4d, d)

then a final LayerNorm and a linear output layer, optionally tied to the token embedding (Press & Wolf 2017,
as GPT-2). Initialisation as GPT-2: weights N(0, 0.02), biases 0, and the two residual output projections of
each block scaled by 1/√(2·layers) so the residual stream's variance does not grow with depth.

Attention runs through PyTorch's fused :func:`torch.nn.functional.scaled_dot_product_attention`. Only when
per-head weights are asked for (``return_weights=True``, for attention maps) does it take an explicit
``softmax(QKᵀ/√d_h)`` path that computes the same function and returns the ``[B, heads, T, S]`` weights.

Causal decoding with a key/value cache (:class:`KVCache`): the keys and values of positions already read are
kept per layer, so feeding one new token costs one position of work instead of a forward pass over the
whole context. The cache holds at most ``context`` positions (the learned position table's length); what to
do when it is full is the caller's policy (the GPT family re-reads a shorter suffix).

The small API::

    net = Transformer(vocab_size, context=64, d_model=128, heads=4, layers=4, causal=True)
    logits = net(ids)                                  # [B, T, V]
    logits, weights = net(ids, return_weights=True)    # weights: one [B, heads, T, T] per layer
    hidden = net.features(ids, pad_mask=mask)          # [B, T, d] after the final LayerNorm (a BERT head's input)
    cache = net.new_cache(batch=B)
    logits = net(prompt_ids, cache=cache)              # reads the prompt, fills the cache
    logits = net(next_ids[:, None], cache=cache)       # one position per new token
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

POSITIONS = ("learned", "sinusoidal")


def sinusoidal_encoding(context: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The Transformer's fixed position encoding ``[context, d_model]`` (Vaswani et al. 2017, §3.5):
    ``PE[p, 2i] = sin(p / base^(2i/d))`` and ``PE[p, 2i+1] = cos(p / base^(2i/d))``."""
    pos = torch.arange(context, dtype=torch.float64)[:, None]
    rate = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(context, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * rate)
    pe[:, 1::2] = torch.cos(pos * rate[: d_model // 2])
    return pe.float()


class KVCache:
    """Per-layer keys and values ``[B, heads, context, d_head]`` of the positions read so far (causal decoding).

    ``length`` is the number of positions held; a forward pass with the cache appends its positions. The
    cache is filled in place and is not a module: it belongs to one generation, not to the model.
    """

    def __init__(self, layers: int, batch: int, heads: int, context: int, d_head: int,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        shape = (batch, heads, context, d_head)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.context = context
        self.length = 0

    def room(self) -> int:
        """Positions still free."""
        return self.context - self.length

    def reset(self) -> None:
        """Forget every position (the tensors are reused)."""
        self.length = 0

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store ``k, v`` ``[B, heads, T, d_head]`` after the held positions of ``layer``; return all held keys
        and values of that layer. ``length`` advances once every layer has appended (see :meth:`advance`)."""
        end = self.length + k.shape[2]
        self.keys[layer][:, :, self.length:end] = k
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, steps: int) -> None:
        self.length += steps


class SelfAttention(nn.Module):
    """Multi-head self-attention (Vaswani et al. 2017, §3.2.2) with one fused QKV projection.

    ``causal=True`` lets position t see positions ≤ t (a decoder, GPT); ``False`` sees every position (an
    encoder, BERT). ``pad_mask`` ``[B, S]`` (True for real tokens) hides padding keys.
    """

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0, causal: bool = True, bias: bool = True):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model={d_model} must be a multiple of heads={heads}")
        self.heads, self.d_head, self.causal, self.dropout = heads, d_model // heads, causal, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)

    def _mask(self, t: int, s: int, pad_mask: Tensor | None, device: torch.device) -> Tensor | None:
        """Boolean mask ``[B or 1, 1, t, s]`` (True: may attend) for queries at the last ``t`` of ``s`` positions,
        or None when every query sees every key."""
        mask = None
        if self.causal and t > 1:
            q_pos = torch.arange(s - t, s, device=device)[:, None]
            mask = (torch.arange(s, device=device)[None, :] <= q_pos)[None, None]
        if pad_mask is not None:
            keys = pad_mask[:, None, None, :s].bool()
            mask = keys if mask is None else mask & keys
        return mask

    def forward(self, x: Tensor, *, cache: KVCache | None = None, layer: int = 0, pad_mask: Tensor | None = None,
                return_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.d_head).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if not self.causal:
                raise ValueError("a key/value cache is for causal decoding; this attention is bidirectional")
            k, v = cache.append(layer, k, v)
        s = k.shape[2]
        p = self.dropout if self.training else 0.0
        weights = None
        if return_weights:
            mask = self._mask(t, s, pad_mask, x.device)
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.d_head)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = scores.softmax(-1)
            y = F.dropout(weights, p, self.training) @ v
        elif pad_mask is None and self.causal and t == s and t > 1:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self._mask(t, s, pad_mask, x.device), dropout_p=p)
        return self.proj(y.transpose(1, 2).reshape(b, t, d)), weights


class MLP(nn.Sequential):
    """The position-wise feed-forward layer: Linear(d, ratio·d) → GELU → Linear(ratio·d, d) (GPT-2's GELU)."""

    def __init__(self, d_model: int, ratio: int = 4, bias: bool = True):
        super().__init__(nn.Linear(d_model, ratio * d_model, bias=bias), nn.GELU(approximate="tanh"),
                         nn.Linear(ratio * d_model, d_model, bias=bias))


class Block(nn.Module):
    """One pre-LayerNorm Transformer block (GPT-2, Radford et al. 2019, §2.3)."""

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0, causal: bool = True, mlp_ratio: int = 4,
                 bias: bool = True):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, heads, dropout, causal, bias)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, mlp_ratio, bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, *, cache: KVCache | None = None, layer: int = 0, pad_mask: Tensor | None = None,
                return_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        a, w = self.attn(self.ln1(x), cache=cache, layer=layer, pad_mask=pad_mask, return_weights=return_weights)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.ln2(x))), w


class Embeddings(nn.Module):
    """Token embedding plus position embedding (learned table or fixed sinusoids), then dropout."""

    def __init__(self, vocab_size: int, d_model: int, context: int, positions: str = "learned",
                 dropout: float = 0.0):
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {', '.join(POSITIONS)}, got {positions!r}")
        self.token = nn.Embedding(vocab_size, d_model)
        self.positions = positions
        if positions == "learned":
            self.position = nn.Embedding(context, d_model)
        else:
            self.register_buffer("encoding", sinusoidal_encoding(context, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.context = context

    def position_table(self) -> Tensor:
        """The ``[context, d_model]`` position embeddings (for the positional-encoding heatmap)."""
        return self.position.weight if self.positions == "learned" else self.encoding

    def forward(self, ids: Tensor, start: int = 0) -> Tensor:
        t = ids.shape[1]
        if start + t > self.context:
            raise ValueError(f"positions {start}..{start + t - 1} exceed the context of {self.context}")
        return self.drop(self.token(ids) + self.position_table()[start:start + t])


class Transformer(nn.Module):
    """Token ids ``[B, T]`` → logits ``[B, T, V]``: embeddings, ``layers`` pre-LN blocks, LayerNorm, output layer.

    ``causal`` selects a decoder (GPT) or an encoder (BERT); ``tie_weights`` makes the output layer the token
    embedding's transpose (``head`` is then None: one tensor in the state dict). The output layer has no bias,
    as GPT-2's.
    """

    def __init__(self, vocab_size: int, context: int, d_model: int = 128, heads: int = 4, layers: int = 4, *,
                 causal: bool = True, dropout: float = 0.0, positions: str = "learned", tie_weights: bool = True,
                 mlp_ratio: int = 4, bias: bool = True):
        super().__init__()
        self.context, self.causal, self.heads, self.d_model = context, causal, heads, d_model
        self.embed = Embeddings(vocab_size, d_model, context, positions, dropout)
        self.blocks = nn.ModuleList(Block(d_model, heads, dropout, causal, mlp_ratio, bias) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = None if tie_weights else nn.Linear(d_model, vocab_size, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, residual projections ×1/√(2·layers)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        scale = 0.02 / math.sqrt(2 * len(self.blocks))
        for blk in self.blocks:
            nn.init.normal_(blk.attn.proj.weight, 0.0, scale)
            nn.init.normal_(blk.mlp[2].weight, 0.0, scale)

    def output(self, h: Tensor) -> Tensor:
        """Logits of hidden states ``h`` ``[..., d_model]``: the output layer, or the tied token embedding."""
        return F.linear(h, self.embed.token.weight) if self.head is None else self.head(h)

    def new_cache(self, batch: int) -> KVCache:
        """An empty key/value cache for ``batch`` sequences, on this model's device and dtype."""
        if not self.causal:
            raise ValueError("a key/value cache is for causal decoding; this Transformer is bidirectional")
        w = self.embed.token.weight
        return KVCache(len(self.blocks), batch, self.heads, self.context, self.d_model // self.heads,
                       w.device, w.dtype)

    def features(self, ids: Tensor, *, cache: KVCache | None = None, pad_mask: Tensor | None = None,
                 return_weights: bool = False) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Hidden states ``[B, T, d_model]`` after the final LayerNorm (and per-layer attention weights if asked)."""
        start = cache.length if cache is not None else 0
        if cache is not None and ids.shape[1] > cache.room():
            raise ValueError(f"{ids.shape[1]} new positions do not fit the cache ({cache.room()} free of "
                             f"{cache.context}); reset it and re-read a shorter context")
        x = self.embed(ids, start)
        weights = []
        for i, blk in enumerate(self.blocks):
            x, w = blk(x, cache=cache, layer=i, pad_mask=pad_mask, return_weights=return_weights)
            weights.append(w)
        if cache is not None:
            cache.advance(ids.shape[1])
        x = self.ln_f(x)
        return (x, weights) if return_weights else x

    def forward(self, ids: Tensor, *, cache: KVCache | None = None, pad_mask: Tensor | None = None,
                return_weights: bool = False, last_only: bool = False) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits ``[B, T, V]`` (``[B, V]`` with ``last_only``), and per-layer ``[B, heads, T, S]`` attention
        weights with ``return_weights``."""
        out = self.features(ids, cache=cache, pad_mask=pad_mask, return_weights=return_weights)
        h, weights = out if return_weights else (out, None)
        logits = self.output(h[:, -1] if last_only else h)
        return (logits, weights) if return_weights else logits

    def matmul_flops_per_token(self, context: int | None = None) -> int:
        """Forward matmul FLOPs per token at sequence length ``context`` (default: the full context): 2 per
        weight of every linear layer (the output layer included, embeddings' lookups excluded) plus attention's
        QKᵀ and weights·V, 2·2·T·d per layer at length T, averaged over causal positions when causal. Training
        costs three times this (forward, and backward for inputs and weights)."""
        t = self.context if context is None else context
        linear = sum(m.weight.numel() for m in self.blocks.modules() if isinstance(m, nn.Linear))
        linear += self.embed.token.weight.numel()          # the output layer, tied or not
        attended = (t + 1) / 2 if self.causal else t        # mean keys per query
        return int(2 * linear + len(self.blocks) * 4 * attended * self.d_model)
