"""Baselines, one module each, registered in :data:`BASELINES` when this package is imported: a network that is not
trained (raw pixels, a randomly initialised backbone) behind the training images' normalisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ssl_bench.core.registry import Registry, import_modules


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


BASELINES: Registry[Baseline] = Registry("baseline")

import_modules(__name__, __path__, skip=set())

__all__ = ["BASELINES", "Baseline"]
