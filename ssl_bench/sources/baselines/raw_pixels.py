"""Raw pixels: the normalised image, flattened (C H W features)."""

from __future__ import annotations

from torch import nn

from ssl_bench.sources.baselines import BASELINES, Baseline

BASELINES.register("raw-pixels")(Baseline(
    name="raw-pixels", network=lambda backbone, channels, image_size, seed: nn.Flatten(),
    fixed_backbone="pixels", features="pixels",
    description="the normalised pixels, flattened"))
