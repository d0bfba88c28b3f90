"""Experiment trackers, one module each, registered in :data:`TRACKERS` under the name of their file (a plugin
package: :mod:`ssl_bench.core.registry`). ``ssl-bench train --trackers`` names those a run writes its epoch records
to, beside ``metrics.json``: TensorBoard by default; Weights & Biases and MLflow with their extras, offline unless
their own environment variables say otherwise."""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base",)

__all__ = ["TRACKERS", "Tracker", "TrackerSpec", "check_trackers", "open_trackers", "scalars"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "base"))
