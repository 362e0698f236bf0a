"""Noise schedules of denoising diffusion, kept apart from the networks (as diffusers does).

Forward process (Ho et al. 2020; Géron, HOML 3rd ed. ch. 17; Foster 2nd ed. ch. 8):
q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I), and in closed form q(x_t | x_0) = N(√ᾱ_t x_0, (1−ᾱ_t) I)
with α_t = 1 − β_t and ᾱ_t = ∏_{i≤t} α_i.

Steps are numbered t = 1 … T as in the papers; every table here has T + 1 entries and index 0 is the
clean image (β_0 = 0, ᾱ_0 = 1), so ``alpha_bar[t]`` reads like the equations.

* ``linear``: β rises linearly from 1e-4 to 0.02 (DDPM, T = 1000). For another T the end points are
  scaled by 1000/T so that the total amount of noise stays comparable (as improved DDPM does).
* ``cosine``: ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s) · π/2), s = 0.008, β_t clipped at 0.999
  (Nichol & Dhariwal 2021; HOML uses T = 4000).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import ConfigError

SCHEDULES = ("linear", "cosine")


def linear_betas(steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """β_1 … β_T of DDPM's linear schedule (float64), end points scaled by 1000/T."""
    scale = 1000.0 / steps
    return torch.linspace(beta_start * scale, beta_end * scale, steps, dtype=torch.float64)


def cosine_betas(steps: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """β_1 … β_T of the improved-DDPM cosine schedule (float64): β_t = min(1 − ᾱ_t/ᾱ_{t−1}, max_beta)."""
    t = torch.arange(steps + 1, dtype=torch.float64)
    f = torch.cos(((t / steps) + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


@dataclass
class NoiseSchedule:
    """β_t, α_t, ᾱ_t for t = 0 … T (index 0: no noise), in float64; helpers return float32 on ``x``'s device."""

    betas: Tensor        # (T+1,), betas[0] = 0
    name: str = "custom"

    def __post_init__(self) -> None:
        b = self.betas
        if b.ndim != 1 or len(b) < 2 or b[0] != 0 or not bool(((b[1:] > 0) & (b[1:] < 1)).all()):
            raise ConfigError("a noise schedule needs β_0 = 0 and 0 < β_t < 1 for t = 1 … T")
        # Everything derived in float64 (1 − ᾱ_t near t = 1 loses digits in float32), cast when used.
        self.alphas = 1 - b
        self.alpha_bar = torch.cumprod(self.alphas, 0)
        self.one_minus_alpha_bar = -torch.expm1(torch.cumsum(torch.log1p(-b), 0))
        self.sqrt_alpha_bar = self.alpha_bar.sqrt()
        self.sqrt_one_minus_alpha_bar = self.one_minus_alpha_bar.sqrt()
        # q(x_{t−1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, β̃_t) for t ≥ 1 (β̃_1 = 0: x_0 is known exactly)
        prev = torch.cat([torch.ones(1, dtype=b.dtype), self.alpha_bar[:-1]])
        one_minus_prev = torch.cat([torch.zeros(1, dtype=b.dtype), self.one_minus_alpha_bar[:-1]])
        denom = torch.where(self.one_minus_alpha_bar > 0, self.one_minus_alpha_bar, torch.ones_like(b))
        self.posterior_variance = b * one_minus_prev / denom
        self.posterior_mean_coef1 = prev.sqrt() * b / denom
        self.posterior_mean_coef2 = self.alphas.sqrt() * one_minus_prev / denom
        self._cache: dict[tuple, Tensor] = {}

    @classmethod
    def make(cls, name: str, steps: int, **kwargs: float) -> "NoiseSchedule":
        if steps < 1:
            raise ConfigError(f"the number of diffusion steps must be >= 1, got {steps}")
        if name == "linear":
            betas = linear_betas(steps, **kwargs)
        elif name == "cosine":
            betas = cosine_betas(steps, **kwargs)
        else:
            raise ConfigError(f"unknown noise schedule {name!r}; use one of {', '.join(SCHEDULES)}")
        if not bool((betas < 1).all()):
            raise ConfigError(f"the {name} schedule with T={steps} has β_t >= 1; use more steps")
        return cls(torch.cat([torch.zeros(1, dtype=torch.float64), betas]), name)

    @property
    def steps(self) -> int:
        """T, the number of noising steps."""
        return len(self.betas) - 1

    def table(self, name: str, ref: Tensor) -> Tensor:
        """One of the float64 tables as float32 on ``ref``'s device (cached)."""
        key = (name, ref.device)
        if key not in self._cache:
            self._cache[key] = getattr(self, name).to(device=ref.device, dtype=torch.float32)
        return self._cache[key]

    def at(self, name: str, t: Tensor, ref: Tensor) -> Tensor:
        """Table ``name`` at integer steps ``t`` (N,), shaped N×1×…×1 to broadcast against ``ref``."""
        return self.table(name, ref)[t].reshape(-1, *([1] * (ref.ndim - 1)))

    def scales(self, t: Tensor, ref: Tensor) -> tuple[Tensor, Tensor]:
        """(√ᾱ_t, √(1−ᾱ_t)) at steps ``t``, broadcastable against ``ref``."""
        return self.at("sqrt_alpha_bar", t, ref), self.at("sqrt_one_minus_alpha_bar", t, ref)

    # -- the forward process and its posterior ---------------------------------------------------
    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε — a draw from q(x_t | x_0)."""
        a, s = self.scales(t, x0)
        return a * x0 + s * noise

    def posterior_mean(self, x0: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """Mean of q(x_{t−1} | x_t, x_0) = (√ᾱ_{t−1} β_t x_0 + √α_t (1−ᾱ_{t−1}) x_t) / (1−ᾱ_t)."""
        return self.at("posterior_mean_coef1", t, x_t) * x0 + self.at("posterior_mean_coef2", t, x_t) * x_t


# -- the three things a network can predict, and how they convert ---------------------------------
# ``a`` = √ᾱ_t and ``s`` = √(1−ᾱ_t) (from :meth:`NoiseSchedule.scales`), so a² + s² = 1.
def v_target(x0: Tensor, eps: Tensor, a: Tensor, s: Tensor) -> Tensor:
    """v = √ᾱ ε − √(1−ᾱ) x_0 (Salimans & Ho 2022, "v-prediction")."""
    return a * eps - s * x0


def split_prediction(kind: str, out: Tensor, x_t: Tensor, a: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
    """(x̂_0, ε̂) from the network output ``out`` for prediction ``kind`` (eps | x0 | v), using x_t = a x_0 + s ε."""
    if kind == "eps":
        return (x_t - s * out) / a, out
    if kind == "x0":
        return out, (x_t - a * out) / s
    if kind == "v":
        return a * x_t - s * out, s * x_t + a * out
    raise ConfigError(f"prediction must be eps, x0 or v, got {kind!r}")


def training_target(kind: str, x0: Tensor, eps: Tensor, a: Tensor, s: Tensor) -> Tensor:
    """What the network regresses for prediction ``kind``."""
    if kind == "eps":
        return eps
    if kind == "x0":
        return x0
    if kind == "v":
        return v_target(x0, eps, a, s)
    raise ConfigError(f"prediction must be eps, x0 or v, got {kind!r}")
