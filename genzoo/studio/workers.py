"""Models for the studio: a bounded LRU cache of opened runs, and the thread pool that runs tasks off the event loop.

Design: one :class:`~genzoo.run_context.RunContext` per cached run, each with its own lock. A task holds the lock
of its run while it runs, so two requests never drive one model at once (models keep state between calls:
KV caches, samplers' schedules, ``torch.Generator``\\ s passed by the task), while requests to *different* runs run
in parallel on the pool's threads. Per-request copies of a model would let identical runs sample in parallel but
cost a model's memory per request; on a 2-core machine the pool is the bottleneck anyway, so the lock costs
nothing and keeps memory bounded by ``cache_size`` models.

Slow requests: before starting, a request whose estimated time (from the seconds per image this run and task
took before) exceeds the budget is refused with the estimate; a request that runs over the budget anyway is
answered with the reason (the work finishes in the background and its lock is then released). At most
``max_pending`` requests wait at once; more are refused as busy.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..run_context import RunContext


@dataclass
class Cached:
    ctx: RunContext
    lock: threading.Lock = field(default_factory=threading.Lock)
    seconds_per_item: dict[str, float] = field(default_factory=dict)   # task kind → measured s per image


class Busy(RuntimeError):
    """The studio refuses a request it cannot serve in time (the message says why and what to ask instead)."""


class ModelCache:
    """At most ``size`` opened runs, least recently used dropped first (a request still holding one finishes)."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[Path, Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_dir: Path) -> Cached:
        with self._lock:
            item = self._items.get(run_dir)
            if item is None:
                item = self._items[run_dir] = Cached(RunContext(run_dir))
            self._items.move_to_end(run_dir)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return item

    def __len__(self) -> int:
        return len(self._items)


class Workers:
    """A thread pool with admission control: ``max_pending`` requests at once, ``budget_s`` per request."""

    def __init__(self, threads: int = 2, max_pending: int = 32, budget_s: float = 60.0):
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="genzoo-studio")
        self.max_pending, self.budget_s = max_pending, budget_s
        self._pending = 0
        self._lock = threading.Lock()

    def admit(self) -> None:
        with self._lock:
            if self._pending >= self.max_pending:
                raise Busy(f"the studio is busy ({self._pending} requests waiting, at most {self.max_pending}); "
                           f"try again in a moment")
            self._pending += 1

    def done(self) -> None:
        with self._lock:
            self._pending -= 1

    def check_estimate(self, item: Cached, kind: str, n: int) -> None:
        """Refuse before any work a request that earlier ones of this run and task say would exceed the budget."""
        rate = item.seconds_per_item.get(kind)
        if rate is not None and rate * n > self.budget_s:
            fits = max(1, int(self.budget_s / rate))
            raise Busy(f"{kind} of {n} items would take about {rate * n:.0f} s on this machine (measured "
                       f"{rate:.2f} s per item), more than the studio's limit of {self.budget_s:.0f} s per request; "
                       f"ask for at most {fits}")

    def locked_call(self, item: Cached, kind: str, n: int, fn: Callable[[], Any]) -> Callable[[], Any]:
        """``fn`` wrapped to run under the run's lock and record its seconds per item."""
        def call() -> Any:
            with item.lock:
                item.ctx.model                     # load (once) outside the timing
                t0 = time.perf_counter()
                result = fn()
                item.seconds_per_item[kind] = (time.perf_counter() - t0) / max(n, 1)
                return result
        return call

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
