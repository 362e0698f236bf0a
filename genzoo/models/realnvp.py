"""RealNVP (Dinh et al. 2017; Foster 2nd ed. ch. 6): an exact-likelihood normalising flow on images.

Pre-processing (RealNVP §4.1): 8-bit pixel values k are dequantised to x = (k + u)/256 with u ~ U[0, 1)
and moved to logit space y = logit(α + (1 − 2α)x), α = 0.05; the log-determinant of that map is part of
the likelihood. Multi-scale architecture (§3.6): at each scale three checkerboard couplings, a squeeze,
three channel-wise couplings, and half the channels factored out as latent variables; the last scale has
four checkerboard couplings. Each coupling is followed by ActNorm. The coupling networks are small
residual CNNs whose last layer starts at zero, so the flow starts as the identity.

``log_prob`` is the one-sample dequantisation bound on the *discrete* 8-bit likelihood,
log P(k) ≥ E_u[log p((k + u)/256)] − D·log 256 (Theis et al. 2016), so ``genzoo eval --metrics nll``
reports bits/dim on the 8-bit scale, comparable with the 256-level PixelCNNs and the diffusion bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.flows import ActNorm, AffineCoupling, Squeeze, channel_mask, checkerboard_mask, standard_normal_log_prob
from .base import ArrayModel, ArrayModelConfig, register_model
from .capabilities import ExactLikelihood, Samples


class CouplingNet(nn.Module):
    """conv 3×3 → ReLU → ``blocks`` residual (ReLU, conv 3×3) blocks → conv 3×3 to 2·C (zero-initialised)."""

    def __init__(self, channels: int, hidden: int, blocks: int):
        super().__init__()
        self.inp = nn.Conv2d(channels, hidden, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Conv2d(hidden, hidden, 3, padding=1) for _ in range(blocks))
        self.out = nn.Conv2d(hidden, 2 * channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.inp(x))
        for conv in self.blocks:
            h = h + conv(torch.relu(h))
        return self.out(torch.relu(h))


@dataclass
class RealNVPConfig(ArrayModelConfig):
    scales: int = 3                # 28 → 14 → 7
    couplings: int = 3             # per half-scale (the last scale has one more)
    hidden: int = 64
    blocks: int = 2
    alpha: float = 0.05
    temperature: float = 1.0

    def check(self) -> None:
        super().check()
        if self.data_range != "01":
            raise ConfigError("realnvp reads 8-bit images in [0, 1]: set model.data_range=01")
        _, h, w = self.input_shape
        if self.scales < 1 or h % 2 ** (self.scales - 1) or w % 2 ** (self.scales - 1):
            raise ConfigError(f"model.scales={self.scales} squeezes {self.scales - 1} times: H and W must be "
                              f"multiples of {2 ** (self.scales - 1)}")
        if not 0 < self.alpha < 0.5 or self.temperature <= 0 or self.couplings < 1 or self.hidden < 1:
            raise ConfigError("model.alpha must be in (0, 0.5); temperature, couplings and hidden > 0")
        if self.condition_dim:
            raise ConfigError("realnvp is unconditional here")


@register_model
class RealNVP(ArrayModel, Samples, ExactLikelihood):
    """RealNVP normalising flow: exact (dequantised) log-likelihood and sampling with temperature."""

    family = "realnvp"
    config_class = RealNVPConfig

    def __init__(self, config: RealNVPConfig):
        super().__init__(config)
        c, h, w = config.input_shape
        self.scales = nn.ModuleList()
        self.z_shapes: list[tuple[int, int, int]] = []
        for s in range(config.scales):
            layers: list[nn.Module] = []
            last = s == config.scales - 1
            for i in range(config.couplings + (1 if last else 0)):
                layers += [AffineCoupling(checkerboard_mask(h, w, i % 2), CouplingNet(c, config.hidden, config.blocks), c),
                           ActNorm(c)]
            if not last:
                layers.append(Squeeze())
                c, h, w = 4 * c, h // 2, w // 2
                for i in range(config.couplings):
                    mask = channel_mask(c, i % 2)[None, :, None, None]
                    layers += [AffineCoupling(mask, CouplingNet(c, config.hidden, config.blocks), c), ActNorm(c)]
                self.z_shapes.append((c // 2, h, w))       # factored out after this scale
                c //= 2
            else:
                self.z_shapes.append((c, h, w))
            self.scales.append(nn.ModuleList(layers))

    # -- the bijection --------------------------------------------------------------------------
    def preprocess(self, x01: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        """8-bit images in [0, 1] → dequantised logits, and the log-determinant of that map per image."""
        a = self.config.alpha
        x = (torch.round(x01 * 255) + noise) / 256
        p = a + (1 - 2 * a) * x
        y = torch.log(p) - torch.log1p(-p)
        logdet = (math.log(1 - 2 * a) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        return y, logdet

    def to_latent(self, y: Tensor) -> tuple[list[Tensor], Tensor]:
        """Logits → the latent parts z_1 … z_S and the flow's log-determinant."""
        zs, total = [], y.new_zeros(len(y))
        for s, layers in enumerate(self.scales):
            for layer in layers:
                y, logdet = layer(y)
                total = total + logdet
            if s < len(self.scales) - 1:
                half = y.shape[1] // 2
                zs.append(y[:, :half])
                y = y[:, half:]
        zs.append(y)
        return zs, total

    def from_latent(self, zs: list[Tensor]) -> Tensor:
        y = zs[-1]
        for s in reversed(range(len(self.scales))):
            if s < len(self.scales) - 1:
                y = torch.cat([zs[s], y], 1)
            for layer in reversed(self.scales[s]):
                y = layer.inverse(y)
        return y

    # -- likelihood -----------------------------------------------------------------------------
    @property
    def discrete_levels(self) -> int:
        return 256

    @property
    def likelihood_protocol(self) -> str:
        return ("one-sample uniform-dequantisation bound on the discrete 8-bit likelihood (RealNVP logit "
                f"pre-processing, alpha = {self.config.alpha}); bits/dim on the 8-bit scale, uniform = 8")

    def log_prob(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """log P(8-bit image) ≥ log p((k + u)/256) − D·log 256, one draw of u, in nats per image."""
        y, pre = self.preprocess(x.float(), torch.rand_like(x, dtype=torch.float32))
        zs, flow = self.to_latent(y)
        prior = sum(standard_normal_log_prob(z) for z in zs)
        dims = x[0].numel()
        return prior + flow + pre - dims * math.log(256)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        nats_per_dim = -self.log_prob(batch.x).mean() / batch.x[0].numel()
        return {"loss": nats_per_dim, "bits_per_dim": nats_per_dim / math.log(2)}

    # -- sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               temperature: float | None = None) -> Tensor:
        t = temperature or self.config.temperature
        zs = [t * torch.randn(n, *shape, generator=generator).to(self.device) for shape in self.z_shapes]
        y = self.from_latent(zs)
        a = self.config.alpha
        return ((torch.sigmoid(y) - a) / (1 - 2 * a)).clamp(0, 1)

    def summary_parts(self):
        return [(self.family, self, (torch.rand(2, *self.config.input_shape),))]

    def forward(self, x: Tensor) -> Tensor:
        return self.log_prob(x)
