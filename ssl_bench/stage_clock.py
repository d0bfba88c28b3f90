"""Where the seconds and the memory go: wall time of each named stage, and the process's peak resident memory
when it ended (a peak that jumps at a stage was reached in it)."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageClock:
    """``with clock.stage("graph"): ...`` records {"graph": {"seconds", "peak_memory_mb"}} in ``clock.stages``."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.stages[name] = {"seconds": round(time.perf_counter() - started, 3),
                             "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
