"""Exponential moving average of weights (Polyak averaging; used for GAN generators by Karras et al.
2018 and for diffusion models). The copy is what sampling uses when it exists."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """Holds ``shadow``, a frozen copy of ``module`` updated as ``shadow ← d·shadow + (1−d)·module``.

    Buffers (BatchNorm statistics) are copied, not averaged. Updates use fused ``_foreach`` kernels:
    one call for all parameters, no Python loop over tensors in the hot path.
    """

    def __init__(self, module: nn.Module, decay: float):
        super().__init__()
        self.decay = decay
        self.shadow = copy.deepcopy(module).eval().requires_grad_(False)
        self._src = [module]  # a list, so the source is not registered as a sub-module

    def decay_at(self, step: int | None) -> float:
        """The decay after ``step`` updates: min(d, (1 + step)/(10 + step)) — the warm-up of TensorFlow's
        ExponentialMovingAverage(num_updates) and diffusers — so a short run's average is not dominated by its
        random initial weights. ``None``: always ``d``."""
        return self.decay if step is None else min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, step: int | None = None) -> None:
        src = self._src[0]
        ema_p = [p for p in self.shadow.parameters()]
        src_p = [p.detach() for p in src.parameters()]
        torch._foreach_lerp_(ema_p, src_p, 1.0 - self.decay_at(step))
        for b_ema, b in zip(self.shadow.buffers(), src.buffers()):
            b_ema.copy_(b)

    def state_dict(self, *args, **kwargs):  # type: ignore[override]
        return self.shadow.state_dict(*args, **kwargs)

    def load_state_dict(self, state, strict: bool = True):  # type: ignore[override]
        return self.shadow.load_state_dict(state, strict=strict)
