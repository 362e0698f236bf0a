"""Neural style transfer by optimising the pixels (Gatys et al. 2015; Foster 1st ed. ch. 5, Listing 5.12).

The combination image starts as the content image; each *iteration* is one call of L-BFGS with at most 20
evaluations of the loss and its gradient (the book's ``fmin_l_bfgs_b(..., maxfun=20)``). Unlike the book, which
calls scipy afresh each iteration, one ``torch.optim.LBFGS`` is kept across iterations, so its curvature history
carries over. Pixels are free during the optimisation and clipped to ``[0, 1]`` when saved (``deprocess_image``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from .losses import PerceptualLoss


@dataclass
class TransferResult:
    image: Tensor                                   # 1×3×H×W, unclipped
    history: list[dict[str, float]] = field(default_factory=list)   # per iteration: loss, content, style, tv
    snapshots: dict[int, Tensor] = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0


def stylise_lbfgs(loss: PerceptualLoss, content: Tensor, iterations: int, *, max_eval: int = 20,
                  snapshots: tuple[int, ...] = (), init: str = "content", seed: int = 0,
                  on_iteration: Callable[[int, dict[str, float]], None] | None = None) -> TransferResult:
    """Minimise ``loss`` over the pixels of one image for ``iterations`` L-BFGS calls of ``max_eval`` evaluations.

    ``init``: ``content`` (the book) or ``noise`` (Gatys et al.'s white-noise start, drawn from ``seed``)."""
    target = loss.content_targets(content)
    if init == "noise":
        g = torch.Generator().manual_seed(seed)
        x0 = torch.rand(content.shape, generator=g).to(content)
    else:
        x0 = content.clone(memory_format=torch.contiguous_format)   # L-BFGS views the gradient flat
    x = x0.requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=max_eval, max_eval=max_eval, history_size=50,
                            line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)
    result = TransferResult(x)
    evals = [0]

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        total = loss.terms(x, target)["loss"].sum()
        total.backward()
        evals[0] += 1
        return total

    start = time.perf_counter()
    for it in range(1, iterations + 1):
        opt.step(closure)
        with torch.no_grad():
            terms = {k: float(v.sum()) for k, v in loss.terms(x, target).items()}   # one host read per iteration
        result.history.append(terms)
        if it in snapshots:
            result.snapshots[it] = x.detach().clone()
        if on_iteration is not None:
            on_iteration(it, terms)
    result.seconds = time.perf_counter() - start
    result.evaluations = evals[0]
    result.image = x.detach()
    return result


__all__ = ["TransferResult", "stylise_lbfgs"]
