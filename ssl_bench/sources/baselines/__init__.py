"""Baselines, one module each, registered in :data:`BASELINES` under the name of their file (a plugin package:
:mod:`ssl_bench.core.registry`): a network that is not trained (raw pixels, a randomly initialised backbone),
behind the training images' normalisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ssl_bench.core.registry import Registry

if TYPE_CHECKING:
    from torch import nn

NOT_PLUGINS = ()


@dataclass(frozen=True)
class Baseline:
    """``network(backbone, channels, image_size, seed)``: the untrained network; ``fixed_backbone``: the backbone
    the row names when the baseline takes none (raw pixels: "pixels"; None: one row per backbone asked for);
    ``features``: the protocol's name of the features."""

    name: str
    network: Callable[[str, int, int, int], nn.Module]
    fixed_backbone: str | None
    features: str
    description: str


BASELINES: Registry[Baseline] = Registry("baseline", package=__name__)

__all__ = ["BASELINES", "Baseline"]
