"""Where the seconds and the memory go: wall time of each named stage, and the process's peak resident memory
when it ended (a peak that jumps at a stage was reached in it).

Library code deep inside a stage marks its own parts with :func:`part` ("graph" in the kNN search, "eigensolve"
in the eigensolvers); they are recorded in the clock that is running at that moment, if any, as sub-stages
("fit/graph"), their seconds summed over repeated calls.
"""

from __future__ import annotations

import contextvars
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

_RUNNING: contextvars.ContextVar[tuple[StageClock, str] | None] = contextvars.ContextVar("stage", default=None)


class StageClock:
    """``with clock.stage("fit"): ...`` records {"fit": {"seconds", "peak_memory_mb"}} in ``clock.stages``."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        token = _RUNNING.set((self, name))
        started = time.perf_counter()
        try:
            yield
        finally:
            _RUNNING.reset(token)
            self._record(name, time.perf_counter() - started)

    def _record(self, name: str, seconds: float) -> None:
        previous = self.stages.get(name, {}).get("seconds", 0.0)
        self.stages[name] = {"seconds": round(previous + seconds, 3),
                             "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


@contextmanager
def part(name: str) -> Iterator[None]:
    """Time a part of whatever stage is running (``"fit/graph"``); nothing when no clock runs."""
    running = _RUNNING.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if running is not None:
            clock, stage = running
            clock._record(f"{stage}/{name}", time.perf_counter() - started)
