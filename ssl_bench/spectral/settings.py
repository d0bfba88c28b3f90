"""The settings of a closed-form spectral row, declared once: ``ssl-bench spectral``'s flags, a suite's
``spectral:`` blocks and :func:`ssl_bench.sources.spectral.evaluate_spectral` all read this dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import plugin_names
from ssl_bench.core.settings import setting
from ssl_bench.core.validation import check_fields
from ssl_bench.data.recipes import RECIPES

SPECTRAL_GRAPHS = ("knn", "views", "labels")
DEFAULT_REG = 0.1
# The settings that act only for some methods or graphs: None when not given (so that one given where it would be
# ignored can be refused, :func:`ssl_bench.sources.spectral.check_settings`), these values once it acts.
DEFAULTS = {"n_neighbors": 10, "n_views": 4, "n_landmarks": 1000, "reg": DEFAULT_REG, "augment_recipe": "simclr"}
VIEWS_ONLY = ("n_views", "augment_recipe", "augment")  # the settings of the views an augmentation graph is built on


def _feature_map_names() -> list[str]:
    return plugin_names("ssl_bench.spectral.feature_maps")


@dataclass(frozen=True)
class SpectralSettings:
    """How a spectral method is fitted: the relation graph, the input feature map, the embedding's width and the
    method's own parameters where it has them (each estimator declares which it takes)."""

    graph: str = setting("knn", choices=SPECTRAL_GRAPHS,
                         help="relation graph: kNN of the inputs, the label graph, or augmented views (the SSL graph)")
    dim: int = setting(32, help="embedding dimension K", minimum=1)
    n_neighbors: int | None = setting(None, minimum=1, help="neighbours of the kNN graph and of out-of-sample "
                                      f"embedding, for the methods that take them (default {DEFAULTS['n_neighbors']})")
    knn_search: str = setting("auto",
                              help="how kNN graphs and out-of-sample neighbours are searched: exact, hnsw or ivf, "
                                   "optionally in the top D principal components (pca<D>+...; distances stay in "
                                   "the full space); auto: exact up to 20,000 rows, else pca100+ivf")
    n_views: int | None = setting(None, minimum=2, help="augmented views per image for --graph views and for cca, "
                                  f"which needs an even number (default {DEFAULTS['n_views']})")
    augment_recipe: str | None = setting(None, choices=RECIPES,
                                         help="--graph views and cca: the augmentation recipe the views are drawn "
                                              f"with, as a trained method's (default {DEFAULTS['augment_recipe']})")
    augment: dict[str, Any] | None = setting(None, metavar="KEY=VALUE",
                                             help="--graph views and cca: overrides of that recipe, as ssl-bench "
                                                  "train's --augment, e.g. --augment crop_scale=[0.2,1.0]")
    n_landmarks: int | None = setting(None, minimum=0,
                                      help="isomap and landmark-mds: landmark points (de Silva & Tenenbaum 2003), "
                                           "O(N m) memory; 0: isomap's exact geodesics between all N points (N x N "
                                           f"memory) (default {DEFAULTS['n_landmarks']})")
    features: str = setting("pixels", choices=_feature_map_names,
                            help="fixed input feature map: the linear regime (pixels, pca) or the kernel regime "
                                 "(rff, nystroem, random-backbone)")
    feature_dim: int | None = setting(None, help="dimension of pca / rff / nystroem features (default 64 / 2048 / 1000)",
                                      minimum=1)
    reg: float | None = setting(None, help=f"regularisation of methods that have one (default {DEFAULT_REG}: "
                                           "feature-noise variance relative to the mean feature variance)", minimum=0)

    def __post_init__(self) -> None:
        from ssl_bench.data.graph import resolve_search

        check_fields(self)
        resolve_search(self.knn_search, 0)
        if self.augment:
            _check_view_overrides(self.augment)

    def filled(self) -> SpectralSettings:
        """These settings with :data:`DEFAULTS` in place of the ones not given."""
        filled = {name: value for name, value in DEFAULTS.items() if getattr(self, name) is None}
        return dataclasses.replace(self, **filled, **({"augment": {}} if self.augment is None else {}))


def _check_view_overrides(overrides: dict[str, Any]) -> None:
    """Overrides of the views' recipe: valid augmentation keys, and no view counts (``n_views`` sets those)."""
    from ssl_bench.data.augment import VIEW_COUNTS, AugmentConfig, with_overrides

    counts = sorted(set(overrides) & set(VIEW_COUNTS))
    if counts:
        raise UserError(f"augment {', '.join(counts)}: a closed form's views are n_views global views; set n_views "
                        "instead")
    with_overrides(AugmentConfig(), {key: value for key, value in overrides.items() if key not in ("mean", "std")})


def spectral_setting_keys() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(SpectralSettings))


def make_spectral_settings(values: dict[str, Any]) -> SpectralSettings:
    """:class:`SpectralSettings` from a mapping (a suite block, CLI values); unknown keys list the valid ones."""
    unknown = sorted(set(values) - set(spectral_setting_keys()))
    if unknown:
        raise UserError(f"unknown spectral setting(s) {unknown}; valid: {', '.join(spectral_setting_keys())}")
    return SpectralSettings(**values)
