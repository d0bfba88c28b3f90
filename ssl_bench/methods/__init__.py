"""SSL methods, one module each, registered in :data:`METHODS` (a plugin package: :mod:`ssl_bench.core.registry`).

Adding a method is one new module in this folder that registers a :class:`MethodSpec` under the name of its file;
:data:`METHODS` imports every module here except ``NOT_PLUGINS`` the first time it is read, so no list of methods
exists anywhere else. Importing this package is cheap; its names are imported when first used.
"""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base", "losses")

__all__ = ["FAMILIES", "METHODS", "MethodSpec", "MomentumSchedule", "Progress", "SSLModel", "TwoViewModel", "build_method",
           "mlp", "mlp_with_output_bn"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "base"))
