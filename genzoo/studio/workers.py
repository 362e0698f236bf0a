"""Models for the studio: a bounded LRU cache of opened runs, and the thread pool that runs tasks off the event loop.

Design: one :class:`~genzoo.run_context.RunContext` per cached run, each with its own lock. A task holds the lock
of its run while it runs, so two requests never drive one model at once (models keep state between calls:
KV caches, samplers' schedules, ``torch.Generator``\\ s passed by the task), while requests to *different* runs run
in parallel on the pool's threads. Per-request copies of a model would let identical runs sample in parallel but
cost a model's memory per request; on a 2-core machine the pool is the bottleneck anyway, so the lock costs
nothing and keeps memory bounded by ``cache_size`` models.

Slow requests: before starting, a request whose estimated time (from the seconds per image this run and task
took before) exceeds the budget is refused with the estimate. A request that runs over the budget anyway is
stopped at the next step its sampler reports (:mod:`genzoo.progress`: diffusion steps, pixel rows, text tokens)
and answered with the reason; work without steps finishes in the background and then releases its lock. At most
``max_pending`` requests wait at once; more are refused as busy.

Jobs (:class:`Jobs`): the page starts a task as a job and polls it, so a slow sampler shows its steps as they go
and can be cancelled; the last :data:`KEEP_JOBS` jobs are kept, each under an unguessable id.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..progress import listening
from ..run_context import RunContext

KEEP_JOBS = 200


@dataclass
class Cached:
    ctx: RunContext
    lock: threading.Lock = field(default_factory=threading.Lock)
    seconds_per_item: dict[str, float] = field(default_factory=dict)   # task kind → measured s per image
    latent_map: Any = None                                              # the explorer's map, made on first use


class Busy(RuntimeError):
    """The studio refuses a request it cannot serve in time (the message says why and what to ask instead)."""


class Stopped(Busy):
    """A request stopped at a sampler step: over its time budget, or cancelled."""


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

    def check_estimate(self, item: Cached, kind: str, n: int, budget_s: float | None = None) -> None:
        """Refuse before any work a request that earlier ones of this run and task say would exceed the budget."""
        budget = self.budget_s if budget_s is None else budget_s
        rate = item.seconds_per_item.get(kind)
        if rate is not None and rate * n > budget:
            fits = max(1, int(budget / rate))
            raise Busy(f"{kind} of {n} items would take about {rate * n:.0f} s on this machine (measured "
                       f"{rate:.2f} s per item), more than the studio's limit of {budget:.0f} s per request; "
                       f"ask for at most {fits}")

    def locked_call(self, item: Cached, kind: str, n: int, fn: Callable[[], Any], job: "Job | None" = None,
                    budget_s: float | None = None) -> Callable[[], Any]:
        """``fn`` wrapped to run under the run's lock, record its seconds per item, and stop at a sampler step once
        past ``budget_s`` (default: the pool's) or when ``job`` is cancelled; ``job`` also sees the steps."""
        budget = self.budget_s if budget_s is None else budget_s

        def call() -> Any:
            with item.lock:
                item.ctx.model                     # load (once) outside the timing
                t0 = time.perf_counter()
                deadline = time.monotonic() + budget

                def step(done: int, total: int, what: str) -> None:
                    if job is not None:
                        job.step = (done, total, what)
                        if job.cancelled:
                            raise Stopped("cancelled")
                    if time.monotonic() > deadline:
                        raise Stopped(f"stopped after {budget:.0f} s, the studio's limit per request; ask for "
                                      f"fewer images or sampler steps")

                if job is not None:
                    job.state = "running"
                with listening(step):
                    result = fn()
                item.seconds_per_item[kind] = (time.perf_counter() - t0) / max(n, 1)
                return result
        return call

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Job:
    """A task started by the page: its state (queued → running → done | error), the last step its sampler
    reported and the items finished, then its result or its error message and HTTP status."""

    id: str
    run: str
    kind: str
    n: int
    state: str = "queued"
    step: tuple[int, int, str] | None = None
    items_done: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    status: int = 200
    cancelled: bool = False
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def progress(self, done: int, total: int) -> None:
        self.items_done = done

    def view(self) -> dict[str, Any]:
        end = self.finished if self.finished is not None else time.monotonic()
        out: dict[str, Any] = {"job": self.id, "run": self.run, "task": self.kind, "state": self.state,
                               "items": [self.items_done, self.n], "seconds": round(end - self.started, 2)}
        if self.step is not None:
            done, total, what = self.step
            out["step"] = {"done": done, "total": total, "what": what}
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"], out["status"] = self.error, self.status
        return out


class Jobs:
    """The studio's jobs by id (the newest :data:`KEEP_JOBS`)."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, run: str, kind: str, n: int) -> Job:
        job = Job(secrets.token_urlsafe(12), run, kind, n)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                self._jobs.popitem(last=False)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
