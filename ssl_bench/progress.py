"""Progress bars on stderr (tqdm), with a thread lock so no multiprocessing semaphore leaks from child processes."""

from __future__ import annotations

import sys
import threading
from typing import Any


def progress_bar(total: int, description: str, **options: Any):
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    return tqdm(total=total, desc=description, file=sys.stderr, dynamic_ncols=True, **options)
