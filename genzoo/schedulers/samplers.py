"""Reverse-process samplers: ancestral DDPM and DDIM, on any subsequence of the T training steps.

A sampler only needs ``denoise(x_t, t) → (x̂_0, ε̂)``; the network, its prediction type (ε, x_0, v),
classifier-free guidance and latent decoding live with the model. Every step moves from step ``t`` to
an earlier step ``s`` (s = t − 1 for the full chain, larger jumps for a shorter one):

* **DDPM** (Ho et al. 2020; HOML eq. 17-8): x_s = 1/√α · (x_t − β/√(1−ᾱ_t) · ε̂) + σ z with
  α = ᾱ_t/ᾱ_s, β = 1 − α — exactly eq. 17-8 when s = t − 1. σ² = β ("large", as in eq. 17-8) or the
  posterior variance β̃ = β (1−ᾱ_s)/(1−ᾱ_t) ("small"). With ``clip`` the mean is written as the
  posterior mean of q(x_s | x_t, x̂_0) with x̂_0 clipped to the data range — the same value when nothing
  is clipped. Fewer steps than T use the respaced chain of improved DDPM (Nichol & Dhariwal 2021).
* **DDIM** (Song et al. 2021): x_s = √ᾱ_s x̂_0 + √(1−ᾱ_s−σ²) ε̂ + σ z with
  σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_s); η = 0 is deterministic, η = 1 is DDPM with the small variance.

Also here: the "watch the noise disappear" trajectory, and inpainting by replacing the known region with
its forward-noised value at every step (with RePaint's resampling, Lugmayr et al. 2022).
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import ConfigError
from ..progress import report
from .schedules import NoiseSchedule

Denoiser = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]   # (x_t, t) → (x̂_0, ε̂)

# Set by long jobs (`genzoo eval`, `genzoo sample`) to show a bar of denoising steps on a terminal; training's
# per-epoch sample grids leave it off so they do not draw over the training bar.
SHOW_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("genzoo_sampler_progress", default=False)


@contextlib.contextmanager
def sampler_progress(on: bool = True) -> Iterator[None]:
    """Show (or hide) the bar of denoising steps inside the ``with`` block."""
    token = SHOW_PROGRESS.set(on)
    try:
        yield
    finally:
        SHOW_PROGRESS.reset(token)
SAMPLERS = ("ddpm", "ddim")


def timesteps(total: int, steps: int | None) -> list[int]:
    """``steps`` steps evenly spread over T … 1, always starting at T and ending at 1 (descending)."""
    steps = total if steps is None else steps
    if not 1 <= steps <= total:
        raise ConfigError(f"the number of sampling steps must be in [1, {total}] (the model's T), got {steps}")
    if steps == total:
        return list(range(total, 0, -1))
    grid = torch.linspace(total, 1, steps, dtype=torch.float64).round().long().tolist()
    return list(dict.fromkeys(grid))  # distinct, still descending


@dataclass
class SamplerSettings:
    sampler: str = "ddim"          # ddpm | ddim
    steps: int | None = None       # None: all T steps
    eta: float = 0.0               # DDIM only
    variance: str = "large"        # DDPM σ²: large (β, eq. 17-8) | small (β̃)
    clip: bool = True              # clip x̂_0 to [-1, 1] at every step

    def check(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if self.eta < 0:
            raise ConfigError("eta must be >= 0")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"the number of sampling steps must be >= 1, got {self.steps}")
        if self.variance not in ("large", "small"):
            raise ConfigError(f"variance must be large or small, got {self.variance!r}")


def reverse_step(settings: SamplerSettings, schedule: NoiseSchedule, x_t: Tensor, t: int, s: int,
                 x0: Tensor, eps: Tensor, noise: Tensor | None) -> Tensor:
    """One move from step ``t`` to step ``s < t`` given the network's (x̂_0, ε̂). ``noise`` ~ N(0, I)."""
    ab_t, ab_s = float(schedule.alpha_bar[t]), float(schedule.alpha_bar[s])
    om_t, om_s = float(schedule.one_minus_alpha_bar[t]), float(schedule.one_minus_alpha_bar[s])  # 1 − ᾱ, exact
    if settings.clip:
        x0 = x0.clamp(-1, 1)
        eps = (x_t - math.sqrt(ab_t) * x0) / math.sqrt(om_t)
    if settings.sampler == "ddim":
        sigma = settings.eta * math.sqrt(om_s / om_t * (1 - ab_t / ab_s))
        x_s = math.sqrt(ab_s) * x0 + math.sqrt(max(om_s - sigma ** 2, 0.0)) * eps
    else:
        alpha = ab_t / ab_s
        beta = 1 - alpha
        if settings.clip:   # posterior mean of q(x_s | x_t, x̂_0)
            x_s = (math.sqrt(ab_s) * beta / om_t) * x0 + (math.sqrt(alpha) * om_s / om_t) * x_t
        else:               # eq. 17-8
            x_s = (x_t - beta / math.sqrt(om_t) * eps) / math.sqrt(alpha)
        sigma = math.sqrt(beta if settings.variance == "large" else beta * om_s / om_t)
    if s > 0 and sigma > 0 and noise is not None:
        x_s = x_s + sigma * noise
    return x_s


@dataclass
class Inpainting:
    """Known pixels ``image`` where ``mask`` is 1 (model scale, N×C×H×W); the rest is generated."""

    image: Tensor
    mask: Tensor
    resample: int = 1              # RePaint's r: go back one step and redo it r − 1 more times


def sample_loop(denoise: Denoiser, schedule: NoiseSchedule, x_T: Tensor, settings: SamplerSettings, *,
                generator: torch.Generator | None = None, record: int = 0,
                inpaint: Inpainting | None = None) -> tuple[Tensor, list[tuple[int, Tensor, Tensor]]]:
    """Run the reverse chain from ``x_T``; returns x_0 and, if ``record`` > 0, about that many snapshots
    (t, x_t, x̂_0) along the way (the first at t = T, the last the final image)."""
    settings.check()
    ts = timesteps(schedule.steps, settings.steps)
    every = max(1, math.ceil(len(ts) / record)) if record else 0
    snaps: list[tuple[int, Tensor, Tensor]] = []
    x = x_T
    from tqdm import tqdm

    bar = tqdm(total=len(ts), desc=f"denoising {len(x_T)} images", unit="step",
               disable=None if SHOW_PROGRESS.get() else True,   # None: on a terminal only
               file=sys.stderr, mininterval=1.0, leave=False, dynamic_ncols=True)
    for i, t in enumerate(ts):
        bar.update(1)
        report(i, len(ts), "denoising steps")
        s = ts[i + 1] if i + 1 < len(ts) else 0
        x_in = x
        for r in range(inpaint.resample if inpaint is not None else 1):
            if inpaint is not None:
                known = schedule.q_sample(inpaint.image, torch.full((len(x),), t, device=x.device),
                                          _randn(x, generator))
                x = inpaint.mask * known + (1 - inpaint.mask) * x
            t_vec = torch.full((len(x),), t, device=x.device, dtype=torch.long)
            x0, eps = denoise(x, t_vec)
            noise = _randn(x, generator) if s > 0 else None
            x_prev = reverse_step(settings, schedule, x, t, s, x0, eps, noise)
            if inpaint is not None and r + 1 < inpaint.resample:   # back to step t: x_t ~ q(x_t | x_s)
                a = float(schedule.alpha_bar[t] / schedule.alpha_bar[s])
                x = math.sqrt(a) * x_prev + math.sqrt(1 - a) * _randn(x, generator)
            else:
                x = x_prev
        if every and (i % every == 0):
            snaps.append((t, x_in, x0))
    bar.close()
    if inpaint is not None:
        x = inpaint.mask * inpaint.image + (1 - inpaint.mask) * x
    if every:
        snaps.append((0, x, x))
    return x, snaps


def _randn(ref: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise shaped like ``ref``, drawn on the CPU generator so seeds reproduce everywhere."""
    return torch.randn(ref.shape, generator=generator, dtype=torch.float32).to(ref.device, ref.dtype)
