"""Energy-based model (Foster 2nd ed. ch. 7; Du & Mordatch 2019): a CNN scores images, contrastive
divergence trains it, Langevin dynamics samples it, a replay buffer keeps the chains going.

The network outputs a *score* s(x) = −E(x) (high for realistic images). Book recipe (notebook 07_ebm):
pixels in [−1, 1], the 28×28 image padded with −1 to 32×32; Conv2D 16 (5×5), 32, 64, 64 (3×3), all
stride 2 with swish, Dense 64 swish, Dense 1 — 76,993 parameters. Training step:

* real images get N(0, 0.005²) noise and are clipped to [−1, 1];
* negatives: a batch from the replay buffer (each entry replaced by uniform noise with probability 0.05)
  is moved by 60 Langevin steps: x ← clip(x + ε), ε ~ N(0, 0.005²); x ← clip(x + 10·clip(∇ₓs(x), ±0.03)) (``langevin_noise``,
  ``step_size``, ``langevin_grad_clip``);
  the result goes back into the buffer (the newest 8,192 are kept);
* loss = [mean s(fake) − mean s(real)] + α·mean(s(real)² + s(fake)²), α = 0.1: the contrastive-divergence
  term pushes real scores up and fake ones down; the squared-score term keeps both near 0 so the scale
  cannot run away (the book's regularisation);
* Adam 1e-4, batch 128.

As in the book the "Langevin" step is the practical variant of Du & Mordatch (fixed small noise, clipped
gradient, large step), not the exact SGLD whose noise is √(2·step). Departure: the sampler moves only
the 28×28 image; the 2-pixel border the network sees is fixed at −1 (the book also moves the border of
its padded 32×32 canvas). Samples from scratch start at uniform noise and run ``sample_steps`` (the book's
callback uses 1,000).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.layers import activation, init_keras_
from ..nn.stacks import conv_stack
from .base import ArrayModel, ArrayModelConfig, register_model
from .capabilities import ReplayBuffer, Samples, Trajectories, Trajectory


@dataclass
class EBMConfig(ArrayModelConfig):
    data_range: str = "pm1"
    pad_to: int = 32                 # the book pads 28×28 digits to 32×32 with the background value −1
    filters: list[int] = field(default_factory=lambda: [16, 32, 64, 64])
    kernels: list[int] = field(default_factory=lambda: [5, 3, 3, 3])
    strides: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    dense: int = 64
    act: str = "swish"
    alpha: float = 0.1               # ALPHA: weight of the squared-score regulariser
    langevin_steps: int = 60         # STEPS per training batch
    step_size: float = 10.0          # STEP_SIZE
    langevin_noise: float = 0.005    # NOISE: Langevin noise std, also added to real images
    langevin_grad_clip: float = 0.03  # GRADIENT_CLIP: per-pixel clip of ∇ₓ s(x) (not the run's grad_clip)
    buffer_size: int = 8192          # BUFFER_SIZE
    new_fraction: float = 0.05       # chance a buffer draw restarts from uniform noise
    sample_steps: int = 1000         # Langevin steps when sampling from scratch

    def check(self) -> None:
        super().check()
        c, h, w = self.input_shape
        if self.data_range != "pm1":
            raise ConfigError("ebm samples in [−1, 1] as the book does: set model.data_range=pm1")
        if self.pad_to < max(h, w):
            raise ConfigError(f"model.pad_to={self.pad_to} is smaller than the {h}×{w} images")
        if not (len(self.filters) == len(self.kernels) == len(self.strides)) or not self.filters:
            raise ConfigError("model.filters, kernels and strides must be non-empty lists of the same length")
        positive = {"langevin_steps": self.langevin_steps, "step_size": self.step_size,
                    "langevin_grad_clip": self.langevin_grad_clip,
                    "buffer_size": self.buffer_size, "sample_steps": self.sample_steps, "dense": self.dense}
        bad = [k for k, v in positive.items() if v <= 0]
        if bad or self.langevin_noise < 0 or self.alpha < 0 or not 0 <= self.new_fraction <= 1:
            raise ConfigError(f"model.{', model.'.join(bad) or 'langevin_noise/alpha/new_fraction'} out of range: "
                              f"steps, step size, clip, buffer and dense > 0; noise, alpha >= 0; new_fraction in [0, 1]")
        if self.condition_dim:
            raise ConfigError("ebm is unconditional here")


class EnergyNet(nn.Module):
    """Image → score s(x) = −E(x): strided swish convolutions, a swish dense layer, one output."""

    def __init__(self, cfg: EBMConfig):
        super().__init__()
        c = cfg.input_shape[0]
        self.convs = conv_stack(c, cfg.filters, cfg.kernels, cfg.strides, act=cfg.act)
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, c, cfg.pad_to, cfg.pad_to)).numel()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, cfg.dense), activation(cfg.act), nn.Linear(cfg.dense, 1))
        init_keras_(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.convs(x)).squeeze(1)


@register_model
class EBM(ArrayModel, Samples, Trajectories, ReplayBuffer):
    """Energy-based model with contrastive divergence, Langevin sampling and a replay buffer."""

    family = "ebm"
    config_class = EBMConfig
    buffer_reduce = {"replay": "keep", "replay_filled": "keep", "replay_next": "keep"}  # per-process chains

    def __init__(self, config: EBMConfig):
        super().__init__(config)
        self.net = EnergyNet(config)
        # The replay buffer is part of the model's state, so a resumed run continues the same chains.
        self.register_buffer("replay", torch.zeros(config.buffer_size, *config.input_shape))
        self.register_buffer("replay_filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("replay_next", torch.zeros((), dtype=torch.long))

    # -- energy ---------------------------------------------------------------------------------
    def score(self, x: Tensor) -> Tensor:
        """s(x) = −E(x) per image; the image is padded with −1 to ``pad_to`` first."""
        _, h, w = self.config.input_shape
        p = self.config.pad_to
        top, left = (p - h) // 2, (p - w) // 2
        if p != h or p != w:
            x = F.pad(x, (left, p - w - left, top, p - h - top), value=-1.0)
        return self.net(x)

    def energy(self, x: Tensor) -> Tensor:
        return -self.score(x)

    # -- Langevin dynamics -------------------------------------------------------------------------
    def langevin(self, x: Tensor, steps: int, *, generator: torch.Generator | None = None,
                 record: int = 0) -> tuple[Tensor, list[Tensor]]:
        """``steps`` noisy, clipped gradient-ascent steps on s(x) (the book's sampler); with ``record`` > 0
        also about ``record`` + 1 snapshots of the chain, first and last included."""
        cfg = self.config
        keep = self.snapshot_steps(steps, record) if record else []
        snaps = [x.detach().clone()] if 0 in keep else []
        with torch.inference_mode(False), torch.enable_grad():
            x = x.detach().clone()
            for i in range(1, steps + 1):
                noise = torch.randn(x.shape, generator=generator, dtype=x.dtype,
                                    device="cpu" if generator is not None else x.device)
                x = (x + cfg.langevin_noise * noise.to(x.device)).clamp_(-1, 1).requires_grad_(True)
                (grad,) = torch.autograd.grad(self.score(x).sum(), x)
                clip = cfg.langevin_grad_clip
                x = (x.detach() + cfg.step_size * grad.clamp(-clip, clip)).clamp_(-1, 1)
                if i in keep:
                    snaps.append(x.clone())
        return x.detach(), snaps

    @staticmethod
    def snapshot_steps(steps: int, record: int) -> list[int]:
        """The distinct chain steps (0 … ``steps``) at which about ``record`` + 1 snapshots are taken."""
        return sorted(set(torch.linspace(0, steps, record + 1).round().long().tolist()))

    def _uniform(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if generator is None:   # training: drawn where the model lives, no copy
            return torch.rand(n, *self.config.input_shape, device=self.device) * 2 - 1
        return (torch.rand(n, *self.config.input_shape, generator=generator) * 2 - 1).to(self.device)

    def negative_samples(self, n: int) -> Tensor:
        """Draw ``n`` chains from the replay buffer (fresh uniform noise with probability ``new_fraction``, and
        always while the buffer is empty), run Langevin on them and write them back. No host sync."""
        cfg = self.config
        dev = self.device
        if n > cfg.buffer_size:
            raise ConfigError(f"model.buffer_size={cfg.buffer_size} is smaller than a batch of {n} chains: make the "
                              f"replay buffer at least one batch (the book keeps 8,192 for batches of 128)")
        pick = (torch.rand(n, device=dev) * self.replay_filled).long().clamp_max(cfg.buffer_size - 1)
        fresh = (torch.rand(n, device=dev) < cfg.new_fraction) | (self.replay_filled == 0)
        start = torch.where(fresh.view(-1, 1, 1, 1), self._uniform(n), self.replay[pick])
        x, _ = self.langevin(start, cfg.langevin_steps)
        slots = (self.replay_next + torch.arange(n, device=dev)) % cfg.buffer_size
        self.replay[slots] = x
        self.replay_next.copy_((self.replay_next + n) % cfg.buffer_size)
        self.replay_filled.copy_((self.replay_filled + n).clamp_max(cfg.buffer_size))
        return x

    # -- training -------------------------------------------------------------------------------
    def loss(self, batch: Batch) -> dict[str, Tensor]:
        cfg = self.config
        real = (batch.x + cfg.langevin_noise * torch.randn_like(batch.x)).clamp(-1, 1)
        fake = self.negative_samples(len(real))
        real_score, fake_score = self.score(torch.cat([real, fake])).float().chunk(2)
        cdiv = fake_score.mean() - real_score.mean()
        reg = cfg.alpha * (real_score.pow(2) + fake_score.pow(2)).mean()
        return {"loss": cdiv + reg, "cdiv": cdiv, "reg": reg, "real_score": real_score.mean(),
                "fake_score": fake_score.mean()}

    # -- sampling -------------------------------------------------------------------------------
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               steps: int | None = None) -> Tensor:
        """``n`` images in [0, 1]: Langevin chains of ``steps`` (default ``sample_steps``) from uniform noise."""
        x, _ = self.langevin(self._uniform(n, generator), steps or self.config.sample_steps, generator=generator)
        return self.to_unit(x)

    def trajectory(self, n: int, snapshots: int = 10, *, generator: torch.Generator | None = None,
                   condition: Tensor | None = None, steps: int | None = None) -> Trajectory:
        """Per image a row of its chain from uniform noise to the sample (about ``snapshots`` + 1 images; fewer
        when the chain has fewer steps)."""
        if snapshots < 1:
            raise ConfigError("a trajectory needs at least one snapshot after the start")
        steps = steps or self.config.sample_steps
        _, snaps = self.langevin(self._uniform(n, generator), steps, generator=generator, record=snapshots)
        return Trajectory(self.to_unit(torch.stack(snaps, 1).flatten(0, 1)), self.snapshot_steps(steps, snapshots),
                          [""], "Langevin chains from uniform noise; column header: Langevin step")

    def buffer_samples(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` random entries of the replay buffer (the newest ``buffer_size`` negatives of training, each chain
        continued a random number of times), in [0, 1]."""
        filled = int(self.replay_filled)
        if filled == 0:
            raise ConfigError("the replay buffer is empty: this checkpoint has not trained yet")
        if n > filled:
            raise ConfigError(f"the replay buffer holds {filled} chains; ask for -n {filled} or fewer")
        pick = torch.randperm(filled, generator=generator)[:n]
        return self.to_unit(self.replay[pick.to(self.device)])

    def summary_parts(self):
        return [(self.family, self.net, (torch.zeros(2, self.config.input_shape[0], self.config.pad_to,
                                                     self.config.pad_to),))]

    def forward(self, x: Tensor) -> Tensor:
        return self.score(x)
