"""Denoising networks for diffusion: a time-conditioned U-Net and a residual MLP for vector latents.

U-Net (Ronneberger et al. 2015) as used by DDPM (Ho et al. 2020) and described in HOML 3rd ed. ch. 17:
a down-sampling path and an up-sampling path joined by skip connections; every residual block receives
the time step as a sinusoidal encoding (the Transformer's positional encoding, Vaswani et al. 2017)
passed through dense layers; multi-head self-attention runs at the chosen resolutions. A class label
(one-hot) is embedded by a bias-free dense layer and added to the time embedding, so the all-zero
vector is the "no label" input that classifier-free guidance needs (Ho & Salimans 2021).

:class:`MLPDenoiser` is the same idea for flat latent vectors (latent diffusion over a genzoo
autoencoder's codes, Rombach et al. 2022).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """[sin(t·ω_i), cos(t·ω_i)] with ω_i = max_period^(−i/(dim/2)) — the Transformer's positional encoding."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


class TimeEmbedding(nn.Module):
    """Sinusoidal encoding of t → Dense → SiLU → Dense; plus a bias-free dense embedding of the condition."""

    def __init__(self, dim: int, emb_dim: int, condition_dim: int = 0):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.condition = nn.Linear(condition_dim, emb_dim, bias=False) if condition_dim else None

    def forward(self, t: Tensor, condition: Tensor | None = None) -> Tensor:
        emb = self.mlp(sinusoidal_embedding(t, self.dim))
        if self.condition is not None and condition is not None:
            emb = emb + self.condition(condition.to(emb.dtype))
        return emb


def group_norm(channels: int, groups: int = 8) -> nn.GroupNorm:
    g = math.gcd(channels, groups)
    return nn.GroupNorm(g, channels)


class ResBlock(nn.Module):
    """GN → SiLU → Conv3×3 → + Dense(embedding) → GN → SiLU → Dropout → Conv3×3, plus the (1×1) skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = group_norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = group_norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity: stable deep stacks
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over all H·W positions (GN → QKV → attention → projection, residual)."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        if channels % heads:
            raise ValueError(f"attention: {channels} channels do not split into {heads} heads")
        self.heads = heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        # Split q/k/v and the heads in N×HW×C order: for channels_last maps (the trainer's default) these are views,
        # and so is the way back, so the 1×1 convs get channels_last tensors forward and backward (the N×C×HW
        # reshape copied the maps into the other layout, and convolution_backward copied their gradients back).
        qkv = self.qkv(self.norm(x)).permute(0, 2, 3, 1).reshape(n, h * w, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)                      # each N × heads × HW × c/heads
        out = F.scaled_dot_product_attention(q, k, v)
        if x.is_contiguous(memory_format=torch.channels_last):
            out = out.transpose(1, 2).reshape(n, h, w, c).permute(0, 3, 1, 2)
        else:
            out = out.transpose(-1, -2).reshape(n, c, h, w)
        return x + self.proj(out)


class _Level(nn.Module):
    def __init__(self, blocks: list[ResBlock], attn: list[nn.Module]):
        super().__init__()
        self.blocks, self.attn = nn.ModuleList(blocks), nn.ModuleList(attn)


class UNet(nn.Module):
    """Time-conditioned U-Net: ``channel_mults`` levels (×2 down-sampling between them), ``blocks`` residual
    blocks per level (the up path has one more, reading the skips), attention where the feature map side is
    in ``attention_resolutions``, a middle of ResBlock → attention → ResBlock. Inputs whose side is not a
    multiple of 2^(levels−1) are zero-padded and the output cropped (HOML pads 28 → 32 the same way)."""

    def __init__(self, in_channels: int, out_channels: int, size: int, base_channels: int = 32,
                 channel_mults: Sequence[int] = (1, 2, 2), blocks: int = 2,
                 attention_resolutions: Sequence[int] = (7,), heads: int = 4, dropout: float = 0.0,
                 condition_dim: int = 0, time_dim: int | None = None):
        super().__init__()
        levels = len(channel_mults)
        self.multiple = 2 ** (levels - 1)
        emb_dim = 4 * base_channels
        self.time = TimeEmbedding(time_dim or base_channels, emb_dim, condition_dim)
        self.conv_in = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        side = math.ceil(size / self.multiple) * self.multiple
        chans = [base_channels * m for m in channel_mults]
        skips = [base_channels]
        c = base_channels
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        for i, ch in enumerate(chans):
            res, att = [], []
            for _ in range(blocks):
                res.append(ResBlock(c, ch, emb_dim, dropout))
                att.append(SelfAttention2d(ch, heads) if side in attention_resolutions else nn.Identity())
                c = ch
                skips.append(c)
            self.down.append(_Level(res, att))
            if i < levels - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
                side //= 2
        self.mid1 = ResBlock(c, c, emb_dim, dropout)
        self.mid_attn = SelfAttention2d(c, heads)
        self.mid2 = ResBlock(c, c, emb_dim, dropout)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, ch in reversed(list(enumerate(chans))):
            res, att = [], []
            for _ in range(blocks + 1):
                res.append(ResBlock(c + skips.pop(), ch, emb_dim, dropout))
                att.append(SelfAttention2d(ch, heads) if side in attention_resolutions else nn.Identity())
                c = ch
            self.up.append(_Level(res, att))
            if i > 0:
                self.upsample.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                                   nn.Conv2d(c, c, 3, padding=1)))
                side *= 2
        self.norm_out = group_norm(c)
        self.conv_out = nn.Conv2d(c, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: Tensor, t: Tensor, condition: Tensor | None = None) -> Tensor:
        h0, w0 = x.shape[-2:]
        ph, pw = (-h0) % self.multiple, (-w0) % self.multiple
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        emb = self.time(t, condition)
        h = self.conv_in(x)
        hs = [h]
        for i, level in enumerate(self.down):
            for block, attn in zip(level.blocks, level.attn):
                h = attn(block(h, emb))
                hs.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for i, level in enumerate(self.up):
            for block, attn in zip(level.blocks, level.attn):
                h = attn(block(torch.cat([h, hs.pop()], 1), emb))
            if i < len(self.upsample):
                h = self.upsample[i](h)
        out = self.conv_out(F.silu(self.norm_out(h)))
        if ph or pw:
            out = out[..., ph // 2: ph // 2 + h0, pw // 2: pw // 2 + w0]
        return out


class MLPDenoiser(nn.Module):
    """Residual MLP over flat vectors: Dense in → ``layers`` × (LN → SiLU → Dense + Dense(embedding) → SiLU →
    Dense, residual) → LN → Dense out (zero-initialised). For latent diffusion over vector codes."""

    def __init__(self, dim: int, hidden: int = 256, layers: int = 4, condition_dim: int = 0, time_dim: int = 64):
        super().__init__()
        self.time = TimeEmbedding(time_dim, hidden, condition_dim)
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"norm": nn.LayerNorm(hidden), "fc1": nn.Linear(hidden, hidden),
                           "emb": nn.Linear(hidden, hidden), "fc2": nn.Linear(hidden, hidden)})
            for _ in range(layers))
        for b in self.blocks:
            nn.init.zeros_(b["fc2"].weight)
            nn.init.zeros_(b["fc2"].bias)
        self.norm_out = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor, condition: Tensor | None = None) -> Tensor:
        emb = F.silu(self.time(t, condition))
        h = self.inp(x)
        for b in self.blocks:
            r = b["fc1"](F.silu(b["norm"](h))) + b["emb"](emb)
            h = h + b["fc2"](F.silu(r))
        return self.out(F.silu(self.norm_out(h)))
