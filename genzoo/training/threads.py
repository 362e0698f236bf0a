"""How many intra-op threads a run uses, chosen so that a busy machine does not make it collapse.

Why this exists. PyTorch's CPU build runs its ops on an OpenMP team (GNU libgomp here) that splits each op
statically into one slice per thread and waits for the slowest slice. On an idle 2-core machine two threads
are ~1.4-1.6x faster than one. As soon as another CPU-bound process shares a core, the slice on that core
runs only when the scheduler gives it a time slice, every op waits for it, and the spinning partner burns
the other core: 2 threads then run 2-16x *slower* than 1 (measured: ``benchmarks/threads.py``). A passive
wait policy (``OMP_WAIT_POLICY=PASSIVE``) only softens this and costs ~20 % when idle, and a thread count
fixed at start-up cannot know whether the machine will be busy an hour later.

So by default (``num_threads`` unset) training measures instead of guessing: :class:`ThreadTuner` times
each optimizer step (on the CPU ops run synchronously, so a wall-clock read costs ~100 ns and needs no
device sync), tries each candidate count for a short probe, keeps the fastest, and probes again
periodically and whenever the step time drifts (load arrived or left). Probes cost a few per cent of the
time at most. ``--set num_threads=N`` fixes the count; under ``torchrun`` each process gets
``cores // processes on this node``, fixed (ranks wait for each other every step, so one rank's timing says
little about its own thread count).
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, e.g. under ``taskset`` or a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def runnable_others(samples: int = 5, interval: float = 0.01) -> float:
    """How many other runnable threads the machine has right now (``procs_running`` in /proc/stat, which
    counts this thread too), averaged over a few reads. Returns 0 where /proc is not available."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/stat") as f:
                for line in f:
                    if line.startswith("procs_running"):
                        counts.append(int(line.split()[1]) - 1)
                        break
        except OSError:
            return 0.0
        if i + 1 < samples:
            time.sleep(interval)
    return statistics.mean(counts) if counts else 0.0


def threads_for_current_load(cores: int | None = None) -> int:
    """A one-shot choice for short commands (sampling, evaluation): one thread per core that is idle now."""
    cores = cores or available_cores()
    busy = runnable_others()
    return max(1, min(cores, int(round(cores - busy))))


def requested_threads(configured: int | None = None) -> tuple[int | None, str]:
    """The fixed count asked for, if any, and who asked: ``--set num_threads`` first, then
    ``GENZOO_NUM_THREADS`` (a whole number, or ``auto``); ``(None, "adaptive")`` when neither fixes it."""
    from ..config import ConfigError

    source = "--set num_threads"
    if configured is None:
        env = os.environ.get("GENZOO_NUM_THREADS", "auto")
        if env == "auto":
            return None, "adaptive"
        try:
            configured, source = int(env), "GENZOO_NUM_THREADS"
        except ValueError:
            raise ConfigError(f"GENZOO_NUM_THREADS must be a whole number or 'auto', got {env!r}") from None
    if configured < 1:
        raise ConfigError(f"num_threads must be >= 1, got {configured}")
    return configured, source


def set_threads_for_command() -> int:
    """Sampling, evaluation and analysis: ``GENZOO_NUM_THREADS`` when set, else one thread per core idle now
    (a 50 ms look at the run queue; these commands are short next to training, which adapts as it goes)."""
    import torch

    n = requested_threads()[0] or threads_for_current_load()
    torch.set_num_threads(n)
    return n


def candidate_counts(cores: int) -> list[int]:
    """Thread counts worth trying: all cores, half of them, one (largest first)."""
    return sorted({cores, max(1, cores // 2), 1}, reverse=True)


@dataclass
class ThreadTuner:
    """Chooses the intra-op thread count from measured step times while a loop runs.

    Call :meth:`observe` with the duration of each step. Probing phase: the count in use first, then each
    other candidate, runs one warm-up step (a new count can rebuild oneDNN primitives) and then
    ``probe_steps`` measured steps (more for very short steps, so a probe lasts at least ``min_probe_s``);
    the fastest median wins. A candidate whose step (warm-up included) takes ``abandon`` times the best
    median so far is dropped after that one step, so probing 2 threads on a loaded machine, where they
    collapse, costs a single slow step. Running phase:
    the winner runs until ``period_s`` has passed (at least ``overhead_factor`` times the last probe's cost,
    so probing stays a few per cent of the time) or until the median of the last steps drifts by more than
    ``drift`` from what the probe measured; then it probes again.
    """

    candidates: list[int]
    set_threads: Callable[[int], None]
    probe_steps: int = 3
    min_probe_s: float = 0.3
    max_probe_steps: int = 50
    period_s: float = 30.0
    overhead_factor: float = 30.0
    drift: float = 0.3
    abandon: float = 2.0          # a probed count whose step takes this many times the best so far is dropped at once
    window: int = 8
    clock: Callable[[], float] = time.perf_counter
    current: int = 0
    choices: list[tuple[float, int]] = field(default_factory=list)  # (time, count) each time a count is chosen
    seconds_at: dict[int, float] = field(default_factory=dict)      # time spent at each count
    probes: int = 0

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError("ThreadTuner needs at least one candidate count")
        self._queue: list[int] = []
        self._skip = 0
        self._probe_times: dict[int, list[float]] = {}
        self._probe_cost = 0.0
        self._reference = 0.0
        self._recent: list[float] = []
        self._next_probe = 0.0
        self._drift_probe = False
        self._drift_backoff = 1.0
        self._drift_quiet_until = 0.0
        self._begin_probe()

    @property
    def probing(self) -> bool:
        return bool(self._queue)

    def _use(self, n: int) -> None:
        if n != self.current:
            self.set_threads(n)
            self.current = n

    def _begin_probe(self) -> None:
        self.probes += 1
        # start with the count in use: no switch needed, and it is measured while the load is the same
        order = sorted(self.candidates, key=lambda n: n != self.current)
        self._queue = order
        self._probe_times = {n: [] for n in order}
        self._probe_cost = 0.0
        self._use(order[0])
        self._skip = 1

    def observe(self, seconds: float) -> None:
        """Record one step that took ``seconds`` (at the count in use) and maybe change the count."""
        self.seconds_at[self.current] = self.seconds_at.get(self.current, 0.0) + seconds
        if self._queue:
            self._probe_cost += seconds
            done = [statistics.median(t) for n, t in self._probe_times.items() if n not in self._queue and t]
            hopeless = bool(done) and seconds > self.abandon * min(done)
            if self._skip and not hopeless:
                self._skip -= 1
                return
            times = self._probe_times[self.current]
            times.append(seconds)
            enough = hopeless or (len(times) >= self.probe_steps and (sum(times) >= self.min_probe_s
                                                                     or len(times) >= self.max_probe_steps))
            if not enough:
                return
            self._queue.pop(0)
            if self._queue:
                self._use(self._queue[0])
                self._skip = 1
                return
            medians = {n: statistics.median(t) for n, t in self._probe_times.items()}
            best = min(medians, key=medians.get)
            if self._drift_probe:   # a drift-triggered probe: back off when it changed nothing
                unchanged = bool(self.choices) and self.choices[-1][1] == best
                self._drift_backoff = min(self._drift_backoff * 2, 16.0) if unchanged else 1.0
                self._drift_quiet_until = self.clock() + self._drift_backoff * self.min_probe_s * 20
                self._drift_probe = False
            self._use(best)
            self.choices.append((self.clock(), best))
            self._reference = medians[best]
            self._recent = []
            self._next_probe = self.clock() + max(self.period_s, self.overhead_factor * self._probe_cost)
            return
        self._recent.append(seconds)
        if len(self._recent) > self.window:
            self._recent.pop(0)
        if self.clock() >= self._next_probe or self._drifted():
            self._begin_probe()

    def _drifted(self) -> bool:
        """Whether the recent steps moved far enough from the probe's figure that another count may now win:
        slower steps (load arrived) matter unless we already run the fewest threads, faster ones (load left)
        unless we already run the most. A drift that a probe then does not confirm doubles the bar's wait."""
        if len(self._recent) < self.window or self.clock() < self._drift_quiet_until:
            return False
        ratio = statistics.median(self._recent) / self._reference
        slower = ratio > 1 + self.drift and self.current > min(self.candidates)
        faster = ratio < 1 - self.drift and self.current < max(self.candidates)
        if slower or faster:
            self._drift_probe = True
        return slower or faster

    def report(self) -> dict:
        """What was used: the final count, the share of step time at each count, how often it probed."""
        total = sum(self.seconds_at.values()) or 1.0
        return {"mode": "adaptive", "candidates": self.candidates, "final": self.current,
                "time_share": {str(n): round(s / total, 3) for n, s in sorted(self.seconds_at.items())},
                "probes": self.probes, "switches": sum(1 for a, b in zip(self.choices, self.choices[1:]) if a[1] != b[1])}


@dataclass
class ThreadPlan:
    """The thread setting of one process: fixed (a count) or adaptive (a tuner)."""

    mode: str                    # "fixed" | "adaptive"
    count: int
    reason: str
    tuner: ThreadTuner | None = None

    def describe(self) -> str:
        if self.tuner is not None:
            return (f"threads: adaptive over {self.tuner.candidates} (timed per step, re-probed as the load "
                    f"changes; --set num_threads=N fixes it)")
        return f"threads: {self.count} ({self.reason})"

    def report(self) -> dict:
        if self.tuner is not None:
            return self.tuner.report()
        return {"mode": self.mode, "final": self.count, "reason": self.reason}


def plan_threads(requested: int | None, *, distributed_local_procs: int = 1, device_type: str = "cpu",
                 set_threads: Callable[[int], None] | None = None, source: str = "--set num_threads") -> ThreadPlan:
    """Decide the intra-op thread count of a training process (see the module docstring)."""
    import torch

    set_threads = set_threads or torch.set_num_threads
    cores = available_cores()
    if requested is not None:
        set_threads(requested)
        return ThreadPlan("fixed", requested, source)
    if distributed_local_procs > 1:
        n = max(1, cores // distributed_local_procs)
        set_threads(n)
        return ThreadPlan("fixed", n, f"{cores} cores / {distributed_local_procs} processes on this node")
    if device_type != "cpu":
        n = torch.get_num_threads()
        return ThreadPlan("fixed", n, f"PyTorch's default; the model runs on {device_type}")
    if cores == 1:
        set_threads(1)
        return ThreadPlan("fixed", 1, "one core available")
    set_threads(1)   # start from the count that never collapses; the first probe tries the others
    tuner = ThreadTuner(candidate_counts(cores), set_threads, current=1)
    return ThreadPlan("adaptive", tuner.current, "adaptive", tuner)
