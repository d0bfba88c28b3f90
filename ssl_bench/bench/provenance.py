"""Where and with which code a run ran: the hardware, the package version and the git commit stored beside every
result."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from ssl_bench import __version__


def this_process() -> dict[str, Any]:
    """Where and with which code this process runs: the fields every stored attempt and result document carry."""
    return {"hardware": hardware_info(), "host": socket.gethostname(), "pid": os.getpid(),
            "package_version": package_version(), "git_commit": git_commit()}


def hardware_info() -> dict[str, Any]:
    """CPU model, its widest vector instructions (``cpu_vector``: avx512, avx2 or other; the same convolution step
    runs up to ~4.5x faster with AVX-512), the number of CPUs this process may use; GPU model, count and memory when
    CUDA is up."""
    return dict(_hardware_info())


@functools.lru_cache(maxsize=1)
def _hardware_info() -> dict[str, Any]:
    model, flags = _cpu_info()
    vector = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "other"
    info: dict[str, Any] = {"cpu_model": model, "cpu_vector": vector, "cpu_count": _usable_cpus(),
                            "machine": platform.machine(), "gpu_model": None, "gpu_count": 0, "gpu_memory_gb": None}
    try:
        import torch
    except ImportError:
        return info
    info["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        properties = [torch.cuda.get_device_properties(index) for index in range(count)]
        info.update(gpu_model=", ".join(sorted({p.name for p in properties})), gpu_count=count,
                    gpu_memory_gb=round(min(p.total_memory for p in properties) / 2**30, 1))
    return info


def _cpu_info() -> tuple[str, set[str]]:
    """(model name, instruction-set flags) of the first CPU in /proc/cpuinfo; elsewhere what platform says."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model or platform.processor() or platform.machine() or "unknown", flags


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """``git rev-parse HEAD`` of the repository holding this package, ``-dirty`` when tracked files changed;
    ``unknown`` outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_version() -> str:
    return __version__
