"""Which torch device a command runs on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssl_bench.core.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when a GPU is visible, else cpu; ``cuda`` without a GPU is a :class:`UserError`."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    return torch.device(name)
