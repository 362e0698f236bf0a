"""Drawing many samples with bounded memory: in chunks, into one preallocated tensor.

``model.sample(1_000_000)`` would hold every activation of a million images at once (12.5 GB for the
digits VAE); :func:`sample_in_chunks` runs the model on at most ``chunk`` images at a time, so peak memory is
the result tensor plus one chunk. A result that would not fit (more than :func:`sample_memory_limit`) is
refused before any work, with the number that would fit.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor

from .config import ConfigError

DEFAULT_CHUNK = 256
GRID_LIMIT = 256          # a PNG grid of more images is not something a person can look at


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo (None where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def sample_memory_limit() -> int:
    """The largest sample tensor one call may allocate: half the available memory, at most 8 GiB."""
    available = available_memory_bytes()
    cap = 8 << 30
    return cap if available is None else min(cap, available // 2)


def check_sample_budget(n: int, shape: tuple[int, ...], what: str = "-n") -> None:
    """Refuse ``n`` samples of ``shape`` (float32) when their tensor would exceed :func:`sample_memory_limit`."""
    per = 4 * math.prod(shape)
    limit = sample_memory_limit()
    if n * per > limit:
        raise ConfigError(f"{what} {n:,} needs {n * per / 2**30:.1f} GiB for the samples, more than the "
                          f"{limit / 2**30:.1f} GiB this machine can spare; draw at most {limit // per:,} per call "
                          f"and call again with another --seed for more")


def sample_in_chunks(model: Any, n: int, *, generator: torch.Generator | None = None,
                     condition: Tensor | None = None, chunk: int = DEFAULT_CHUNK,
                     progress: Callable[[int, int], None] | None = None, **options: Any) -> Tensor:
    """``n`` samples from ``model.sample`` drawn ``chunk`` at a time (the same draws as one call when
    ``n <= chunk``). Conditional models get their default condition (classes cycled over all ``n``), so
    chunking does not restart the cycle. ``progress(done, n)`` is called after each chunk."""
    if n < 1:
        raise ConfigError("-n must be >= 1")
    check_sample_budget(n, model.sample_item_shape)     # before any work
    if condition is None:
        condition = model.default_condition(n, torch.device("cpu"))
    out: Tensor | None = None
    with torch.inference_mode():
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            cond = None if condition is None else condition[start:start + size].to(model.device)
            part = model.sample(size, generator=generator, condition=cond, **options).cpu()
            if out is None:
                check_sample_budget(n, tuple(part.shape[1:]))
                out = torch.empty((n, *part.shape[1:]), dtype=part.dtype)
            out[start:start + size] = part
            if progress is not None:
                progress(start + size, n)
    assert out is not None
    return out
