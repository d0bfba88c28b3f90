"""Where leaderboard rows come from: one registered source per module (:mod:`ssl_bench.sources.base`; a plugin
package, :mod:`ssl_bench.core.registry`), and the one path that evaluates any of them with any registered
evaluation (:func:`ssl_bench.sources.rows.evaluate_source`).

Adding a kind of row is adding a module here that registers a :class:`Source` under the name of its file.
"""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base", "baselines", "encoding", "probing", "rows")

__all__ = ["SOURCES", "RowRequest", "Source", "SourceRow", "evaluate_row", "evaluate_source"]
__getattr__ = lazy_exports(__name__, {**dict.fromkeys(__all__[:4], "base"), **dict.fromkeys(__all__[4:], "rows")})
