"""Atomic checkpoints: write to a temporary file in the same folder, then rename over the old one.

A run killed mid-write leaves the previous checkpoint intact; a corrupt or foreign file gives a
:class:`UserError` that says what to do instead of a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ssl_bench.core.errors import UserError

FORMAT_VERSION = 1


def atomic_write_bytes(path: Path, write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync, then ``os.replace`` it onto ``path``.

    Temporary files of ``path`` left by a writer that was killed mid-write are removed first (one process writes a
    run's files at a time: the run directory's lock guarantees it, :mod:`ssl_bench.bench.cells`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(path, lambda file: file.write(text.encode()))


def save_tensors(path: Path, payload: Any) -> None:
    """``torch.save(payload)`` to ``path`` atomically. torch reports a failed write (no space left, ...) as a
    RuntimeError from its zip writer; it is raised here as the OSError it is, so callers handle one kind."""
    try:
        atomic_write_bytes(path, lambda file: torch.save(payload, file))
    except RuntimeError as err:
        if "write" not in str(err).lower():
            raise
        raise OSError(errno.EIO, str(err).splitlines()[0]) from err


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    save_tensors(path, {"format_version": FORMAT_VERSION, **state})


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (tensors and plain Python values only)."""
    if not path.is_file():
        raise UserError(f"no checkpoint at {path}; train the run first (ssl-bench train ... --out {path.parent})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise UserError(
            f"checkpoint {path} is corrupt or unreadable ({type(err).__name__}); delete it and retrain"
        ) from err
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path} is not an ssl-bench checkpoint (format {FORMAT_VERSION}); delete it and retrain")
    return state
