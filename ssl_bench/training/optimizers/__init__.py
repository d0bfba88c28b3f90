"""Optimisers, one module each, registered in :data:`OPTIMIZERS` under the name of their file (a plugin package:
:mod:`ssl_bench.core.registry`). Each builds a torch optimiser from two parameter groups: weights (decayed) and
biases/normalisation parameters (``lars_exclude``: no weight decay, no LARS adaptation)."""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base",)

__all__ = ["OPTIMIZERS", "OptimizerSpec"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "base"))
