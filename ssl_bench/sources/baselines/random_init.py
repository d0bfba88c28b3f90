"""A randomly initialised backbone (seeded; BatchNorm at its initial statistics): what training adds is measured
against it."""

from __future__ import annotations

import torch
from torch import nn

from ssl_bench.models.backbones import build_backbone
from ssl_bench.sources.baselines import BASELINES, Baseline


def random_network(backbone: str, channels: int, image_size: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    network, _ = build_backbone(backbone, channels, image_size)
    return network


BASELINES.register("random-init")(Baseline(
    name="random-init", network=random_network, fixed_backbone=None, features="backbone",
    description="a randomly initialised backbone"))
