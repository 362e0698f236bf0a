"""Models for the studio: a bounded LRU cache of opened runs, and the thread pool that runs tasks off the event loop.

Design: one :class:`~genzoo.run_context.RunContext` per cached run (keyed by the run and its newest checkpoint, so
a run that trains on is reopened with its new weights), each with its own lock. A task holds the lock of its run
while it runs, so two requests never drive one model at once (models keep state between calls: KV caches,
samplers' schedules, ``torch.Generator``\\ s passed by the task), while requests to *different* runs run in parallel
on the pool's threads. Per-request copies of a model would let identical runs sample in parallel but cost a model's
memory per request; on a 2-core machine the pool is the bottleneck anyway, so the lock costs nothing and keeps
memory bounded by ``cache_size`` models (plus any evicted one a request still holds until it finishes).

Every request has a deadline from the moment it is admitted: it waits for its run's lock only until then (a run
busy with a long job answers others "busy" instead of tying up pool threads), and once running it is stopped at
the next step its sampler reports (:mod:`genzoo.progress`: diffusion steps, pixel rows, text tokens) with the
reason. Work that reports no steps (a decoder pass) finishes and then releases its lock. Before starting, a request
whose estimated time (from the seconds per item this run, task and option set took before) exceeds its budget is
refused with the estimate. At most ``max_pending`` requests wait at once; more are refused as busy.

Jobs (:class:`Jobs`): the page starts a task as a job and polls it, so a slow sampler shows its steps as they go
and can be cancelled; finished jobs are kept (the newest :data:`KEEP_JOBS`), each under an unguessable id.
"""
from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..progress import listening
from ..run_context import RunContext
from ..training.checkpoint import latest_checkpoint

KEEP_JOBS = 200


@dataclass
class Cached:
    ctx: RunContext
    lock: threading.Lock = field(default_factory=threading.Lock)
    seconds_per_item: dict[str, float] = field(default_factory=dict)   # task + options → measured s per item
    latent_map: Any = None                                              # the explorer's map, made on first use
    description: Any = None                                             # the page's tasks and panels, made once

    @contextlib.contextmanager
    def holding(self, deadline: float) -> Iterator[None]:
        """This run's lock for the ``with`` block, waited for at most until ``deadline`` (time.monotonic)."""
        if not self.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise Busy(f"run {self.ctx.run_dir.name!r} is busy with another request (this one waited for it until "
                       f"the studio's limit); try again when it has finished")
        try:
            yield
        finally:
            self.lock.release()


class Busy(RuntimeError):
    """The studio refuses a request it cannot serve in time (the message says why and what to ask instead)."""


class Stopped(Busy):
    """A request stopped at a sampler step: over its time budget, or cancelled."""


class ModelCache:
    """At most ``size`` opened runs, least recently used dropped first (a request still holding one finishes)."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple[Path, str], Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_dir: Path) -> Cached:
        ckpt = latest_checkpoint(run_dir)
        key = (run_dir, ckpt.name if ckpt is not None else "")
        with self._lock:
            for old in [k for k in self._items if k[0] == run_dir and k != key]:
                del self._items[old]                 # the run has a newer checkpoint: open that one
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = Cached(RunContext(run_dir))
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return item

    def __len__(self) -> int:
        return len(self._items)


def rate_key(kind: str, options: dict[str, Any] | None = None) -> str:
    """What a measured rate is kept under: the task and its options (DDIM-10 is not DDPM-1000)."""
    return kind + json.dumps(options or {}, sort_keys=True, default=str)


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

    def check_estimate(self, item: Cached, key: str, n: int, budget_s: float | None = None) -> None:
        """Refuse before any work a request that earlier ones of this run, task and options say would exceed the
        budget."""
        budget = self.budget_s if budget_s is None else budget_s
        rate = item.seconds_per_item.get(key)
        if rate is not None and rate * n > budget:
            fits = max(1, int(budget / rate))
            kind = key.split("{", 1)[0]
            raise Busy(f"{kind} of {n} items would take about {rate * n:.0f} s on this machine (measured "
                       f"{rate:.2f} s per item with these options), more than the studio's limit of {budget:.0f} s "
                       f"per request; ask for at most {fits}, or fewer sampler steps")

    def locked_call(self, item: Cached, key: str, n: int, fn: Callable[[], Any], job: "Job | None" = None,
                    budget_s: float | None = None) -> Callable[[], Any]:
        """``fn`` wrapped to run under the run's lock (waited for until the deadline), record its seconds per item,
        and stop at a sampler step once past the deadline or when ``job`` is cancelled; ``job`` also sees the
        steps. The deadline is ``budget_s`` (default: the pool's) from this call, i.e. from admission."""
        budget = self.budget_s if budget_s is None else budget_s
        deadline = time.monotonic() + budget

        def step(done: int, total: int, what: str) -> None:
            if job is not None:
                job.step = (done, total, what)
                if job.cancelled:
                    raise Stopped("cancelled")
            if time.monotonic() > deadline:
                raise Stopped(f"stopped after {budget:.0f} s, the studio's limit per request; ask for fewer "
                              f"images or sampler steps")

        def call() -> Any:
            if job is not None and job.cancelled:
                raise Stopped("cancelled")
            with item.holding(deadline):
                if job is not None:
                    job.state = "running"
                item.ctx.model                     # load (once) outside the timing
                t0 = time.perf_counter()
                try:
                    with listening(step):
                        result = fn()
                except Stopped:                    # a lower bound of its rate: never estimate below it again
                    item.seconds_per_item[key] = max(item.seconds_per_item.get(key, 0.0),
                                                     (time.perf_counter() - t0) / max(n, 1))
                    raise
                item.seconds_per_item[key] = (time.perf_counter() - t0) / max(n, 1)
                return result
        return call

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Job:
    """A task started by the page: its state (queued → running → done | error | cancelled), the last step its
    sampler reported and the items finished, then its result or its error message and HTTP status."""

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

    @property
    def over(self) -> bool:
        return self.state in ("done", "error", "cancelled")

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
    """The studio's jobs by id: every unfinished one, and the newest :data:`KEEP_JOBS` finished ones."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, run: str, kind: str, n: int) -> Job:
        job = Job(secrets.token_urlsafe(12), run, kind, n)
        with self._lock:
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.over]
            for k in finished[:max(0, len(finished) - KEEP_JOBS)]:
                del self._jobs[k]
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
