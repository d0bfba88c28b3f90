"""SSL methods: a projector plus a loss each, registered in :data:`METHODS`.

Adding a method is one new module that registers a :class:`MethodSpec`, plus its import here.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ssl_bench.methods import barlowtwins, simclr, vicreg  # noqa: F401  (registration)
from ssl_bench.methods.base import METHODS, MethodSpec, SSLModel


def build_method(name: str, backbone: nn.Module, feature_dim: int, **overrides: Any) -> SSLModel:
    """The method's model with its published defaults; ``overrides`` replace loss parameters or projector_dims."""
    return SSLModel(METHODS.get(name), backbone, feature_dim, **overrides)


__all__ = ["METHODS", "MethodSpec", "SSLModel", "build_method"]
