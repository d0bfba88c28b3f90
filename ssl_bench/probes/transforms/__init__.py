"""Parametrised group actions (:mod:`ssl_bench.probes.transforms.base`), one module each, registered in
:data:`TRANSFORMS` under the name of their file (a plugin package: :mod:`ssl_bench.core.registry`). Each action
function lives in its module (``from ssl_bench.probes.transforms.rotate import rotate``); here a name such as
``rotate`` is the module once it is imported."""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base",)

__all__ = ["TRANSFORMS", "Transform", "GroupLaw", "DEFAULT_TRANSFORMS", "default_transforms", "PADDINGS", "LUMA"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "base"))
