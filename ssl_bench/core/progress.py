"""Progress bars on stderr (tqdm) when stderr is a terminal; in a log file they would be thousands of carriage-return
updates, so there the commands print one line per epoch or per run instead. A thread lock keeps child processes
from leaking a multiprocessing semaphore."""

from __future__ import annotations

import sys
import threading
from typing import Any


def progress_bar(total: int, description: str, disable: bool = False, **options: Any):
    """A tqdm bar, or a silent stand-in (same methods, no output) when ``disable`` or stderr is not a terminal."""
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    return tqdm(total=total, desc=description, file=sys.stderr, dynamic_ncols=True,
                disable=disable or not on_terminal(), **options)


def on_terminal() -> bool:
    return sys.stderr.isatty()
