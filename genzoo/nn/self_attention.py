"""Self-attention over the positions of a feature map (Zhang et al. 2019, "Self-Attention Generative Adversarial
Networks", §3, Fig. 2; Foster 1st ed. §9, "SAGAN").

A convolution sees a 3×3 neighbourhood; a self-attention layer lets every position ``j`` of the map (the *query*)
take a weighted average over *all* positions ``i`` (the *keys*), so a generator can make a dog's legs agree with
its head however far apart they are. With SAGAN's names, for the ``C``-channel input ``x`` at ``N = H·W`` positions:

    s_ij = f(x_i)ᵀ g(x_j),   β_{j,i} = exp(s_ij) / Σ_i exp(s_ij),   o_j = v(Σ_i β_{j,i} h(x_i)),   y_j = x_j + γ·o_j

``f`` (keys) and ``g`` (queries) are 1×1 convolutions to ``C/8`` channels (SAGAN: C̄ = C/8 in every experiment),
``h`` (values) a 1×1 convolution to ``C/2`` channels and ``v`` the 1×1 convolution back to ``C`` channels, as in
SAGAN's and BigGAN's released code, whose ``h`` and ``f`` are also max-pooled 2×2 (``pool_keys``: four times fewer
keys, a quarter of the attention's cost; the weights then cover the ``(H/2)·(W/2)`` pooled positions). ``γ`` is
learned and starts at 0, so the block starts as the identity and the network "first relies on the cues in the
local neighbourhood and then gradually learns to assign more weight to the non-local evidence" (§4).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SelfAttention2d(nn.Module):
    """SAGAN's self-attention block: ``y = x + γ·v(softmax(g(x)ᵀ f(x)) h(x))`` (see the module docstring).

    ``wrap`` is applied to each 1×1 convolution (spectral normalisation in SAGAN, whose every layer has it). With
    ``record = True`` the last forward keeps its attention weights in ``weights``: ``[B, N_query, N_key]``, rows
    summing to 1 (the attention-maps figure reads them); off, nothing is kept.
    """

    def __init__(self, channels: int, key_divisor: int = 8, value_divisor: int = 2, pool_keys: bool = False,
                 wrap: Callable[[nn.Module], nn.Module] = lambda m: m):
        super().__init__()
        if channels % key_divisor or channels % value_divisor:
            raise ValueError(f"self-attention: {channels} channels are not divisible by {key_divisor} and "
                             f"{value_divisor}")
        ck, cv = channels // key_divisor, channels // value_divisor
        self.f = wrap(nn.Conv2d(channels, ck, 1, bias=False))    # keys
        self.g = wrap(nn.Conv2d(channels, ck, 1, bias=False))    # queries
        self.h = wrap(nn.Conv2d(channels, cv, 1, bias=False))    # values
        self.v = wrap(nn.Conv2d(cv, channels, 1, bias=False))    # back to C channels
        self.gamma = nn.Parameter(torch.zeros(()))
        self.pool_keys = pool_keys
        self.record = False
        self.weights: Tensor | None = None

    def attention(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The weights ``β`` ``[B, N_query, N_key]`` (softmax over keys) and the values ``[B, N_key, C/2]``."""
        keys, values = self.f(x), self.h(x)
        if self.pool_keys:
            keys, values = F.max_pool2d(keys, 2), F.max_pool2d(values, 2)
        q = self.g(x).flatten(2)                                  # [B, C/8, N]
        k = keys.flatten(2)                                       # [B, C/8, N_key]
        beta = torch.softmax(torch.bmm(q.transpose(1, 2), k).float(), dim=-1).to(x.dtype)
        return beta, values.flatten(2).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        b, c, hgt, wid = x.shape
        beta, values = self.attention(x)
        if self.record:
            self.weights = beta.detach()
        o = torch.bmm(beta, values).transpose(1, 2).reshape(b, -1, hgt, wid)
        return x + self.gamma * self.v(o)

    def extra_repr(self) -> str:
        return f"pool_keys={self.pool_keys}"


__all__ = ["SelfAttention2d"]
