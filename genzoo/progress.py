"""Step progress of slow samplers, for whoever is listening (the studio's job view; nothing by default).

A sampler's inner loop (diffusion's reverse chain, the pixel models' rows, a text model's tokens) calls
:func:`report` once per step with ``(done, total, what)``. :func:`listening` installs a callback for the current
thread's context only, so concurrent jobs on a thread pool each see their own steps. Reporting is a Python call per
step and never touches tensors, so it adds no host–device sync.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator

StepCallback = Callable[[int, int, str], None]
_LISTENER: contextvars.ContextVar[StepCallback | None] = contextvars.ContextVar("genzoo_step_progress", default=None)


def report(done: int, total: int, what: str) -> None:
    """Tell the listener (if any) that ``done`` of ``total`` steps of ``what`` are finished."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(done, total, what)


@contextlib.contextmanager
def listening(callback: StepCallback) -> Iterator[None]:
    """Send the steps reported inside the ``with`` block (in this context) to ``callback``."""
    token = _LISTENER.set(callback)
    try:
        yield
    finally:
        _LISTENER.reset(token)
