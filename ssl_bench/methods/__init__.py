"""SSL methods, one module each, registered in :data:`METHODS` when this package is imported.

Adding a method is one new module in this folder that registers a :class:`MethodSpec`; every module here except
``base`` and ``losses`` is imported (discovered) below, so no list of methods exists anywhere else.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ssl_bench.core.registry import import_modules
from ssl_bench.methods.base import METHODS, MethodSpec, MomentumSchedule, SSLModel, mlp, mlp_with_output_bn

import_modules(__name__, __path__, skip={"base", "losses"})


def build_method(name: str, backbone: nn.Module, feature_dim: int, **overrides: Any) -> SSLModel:
    """The method's model with its published defaults; ``overrides`` replace loss parameters or head widths."""
    return SSLModel(METHODS.get(name), backbone, feature_dim, **overrides)


__all__ = ["METHODS", "MethodSpec", "MomentumSchedule", "SSLModel", "build_method", "mlp", "mlp_with_output_bn"]
