"""Fixed input feature maps (:mod:`ssl_bench.spectral.feature_maps.base`), one module each, registered in
:data:`FEATURE_MAPS` under the name of their file (a plugin package: :mod:`ssl_bench.core.registry`)."""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base",)

__all__ = ["FEATURE_MAPS", "FeatureMap", "KernelMap", "feature_map", "median_gamma", "pixels"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "base"))
