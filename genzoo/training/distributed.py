"""Data-parallel training under ``torchrun`` (gloo on CPU, NCCL on GPU).

Why not ``DistributedDataParallel``: the adversarial trainer runs several backward passes per step
(critic, generator) and WGAN-GP differentiates through a gradient (double backward), which DDP's
reducer does not support well. Averaging the gradients explicitly — all gradients of one optimizer
flattened into one buffer, one ``all_reduce`` per optimizer step — works for every model family and
costs one collective per step. BatchNorm statistics are averaged across processes before each
checkpoint so every process saves the same model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def average_gradients(self, params: list[nn.Parameter]) -> None:
        if not self.enabled:
            return
        for p in params:  # every process must reduce the same tensors, even unused ones
            if p.grad is None and p.requires_grad:
                p.grad = torch.zeros_like(p)
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat.div_(self.world_size)
        for g, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
            g.copy_(synced)

    def average_buffers(self, module: nn.Module) -> None:
        """Average float buffers (BatchNorm statistics); a module's ``buffer_reduce`` dict may ask for
        ``"min"``/``"max"`` instead for named buffers (e.g. the autoencoder's code bounds), or ``"keep"``
        for per-process state that must not be mixed (a GAN's experience-replay pool)."""
        if not self.enabled:
            return
        special = {f"{prefix}.{name}" if prefix else name: how
                   for prefix, sub in module.named_modules()
                   for name, how in getattr(sub, "buffer_reduce", {}).items()}
        named = dict(module.named_buffers())
        for name, how in special.items():
            if how in ("min", "max"):
                dist.all_reduce(named[name], op=dist.ReduceOp.MIN if how == "min" else dist.ReduceOp.MAX)
        bufs = [b for n, b in named.items() if b.is_floating_point() and n not in special]
        if bufs:
            flat = _flatten_dense_tensors(bufs)
            dist.all_reduce(flat)
            flat.div_(self.world_size)
            for b, synced in zip(bufs, _unflatten_dense_tensors(flat, bufs)):
                b.copy_(synced)

    def broadcast_module(self, module: nn.Module) -> None:
        """Make every process start from rank 0's weights."""
        if not self.enabled:
            return
        tensors = [t for t in list(module.parameters()) + list(module.buffers())]
        if tensors:
            flat = _flatten_dense_tensors([t.detach() for t in tensors])
            dist.broadcast(flat, 0)
            for t, synced in zip(tensors, _unflatten_dense_tensors(flat, tensors)):
                t.data.copy_(synced)

    def broadcast_object(self, obj: Any) -> Any:
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather_objects(self, obj: Any) -> list[Any]:
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def all_true(self, flag: bool) -> bool:
        if not self.enabled:
            return flag
        t = torch.tensor([0 if flag else 1])
        dist.all_reduce(t)
        return int(t) == 0

    def any_true_each(self, flags: list[bool]) -> list[bool]:
        """For each flag, whether any process has it set (one small all_reduce for all of them)."""
        if not self.enabled:
            return list(flags)
        t = torch.tensor([1 if f else 0 for f in flags])
        dist.all_reduce(t)
        return [bool(v) for v in t.tolist()]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1); otherwise no-op."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return info


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
