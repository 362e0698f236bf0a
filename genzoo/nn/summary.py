"""A Keras-style ``model.summary()``: one row per leaf layer with its output shape and parameters.

Counts follow Keras so they can be checked against the books' printed summaries: a BatchNorm layer
counts 4 numbers per feature (γ, β trainable; moving mean and variance non-trainable).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...] | None
    trainable: int
    non_trainable: int


def _counts(module: nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters(recurse=False) if not p.requires_grad)
    stats = sum(b.numel() for n, b in module.named_buffers(recurse=False)
                if n in ("running_mean", "running_var"))
    return trainable, frozen + stats


def count_params(module: nn.Module) -> tuple[int, int]:
    """``(trainable, non_trainable)`` with Keras semantics (BN moving statistics are non-trainable)."""
    t = n = 0
    for m in module.modules():
        a, b = _counts(m)
        t, n = t + a, n + b
    return t, n


def layer_rows(module: nn.Module, example: tuple | None = None) -> list[LayerRow]:
    """Rows for every module that owns parameters or has no children, with output shapes when an
    example input is given (run once under ``no_grad``)."""
    rows: dict[nn.Module, LayerRow] = {}
    order: list[nn.Module] = []
    for name, m in module.named_modules():
        if m is module and list(m.children()):
            continue
        a, b = _counts(m)
        if list(m.children()) and a + b == 0:
            continue
        rows[m] = LayerRow(name or type(m).__name__, type(m).__name__, None, a, b)
        order.append(m)
    if example is not None:
        hooks = []

        def hook(m: nn.Module, _inp: tuple, out: Tensor) -> None:
            if isinstance(out, Tensor) and rows[m].output_shape is None:
                rows[m].output_shape = tuple(out.shape[1:])

        for m in order:
            hooks.append(m.register_forward_hook(hook))
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                module(*example)
        finally:
            module.train(was_training)
            for h in hooks:
                h.remove()
    return [rows[m] for m in order]


def format_summary(title: str, rows: list[LayerRow]) -> str:
    trainable = sum(r.trainable for r in rows)
    non_trainable = sum(r.non_trainable for r in rows)
    lines = [f"Model: {title}", "-" * 78,
             f"{'Layer (type)':<44}{'Output shape':<20}{'Param #':>14}", "=" * 78]
    for r in rows:
        shape = "(None, " + ", ".join(map(str, r.output_shape)) + ")" if r.output_shape else "?"
        lines.append(f"{(r.name + ' (' + r.kind + ')')[:43]:<44}{shape:<20}{r.trainable + r.non_trainable:>14,}")
    lines += ["=" * 78,
              f"Total params: {trainable + non_trainable:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {non_trainable:,}", ""]
    return "\n".join(lines)
