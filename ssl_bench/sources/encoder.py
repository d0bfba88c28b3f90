"""An encoder trained elsewhere (:mod:`ssl_bench.models.pretrained`: torchvision, timm or an ssl-bench backbone
with weights from a state dict or a Lightning checkpoint) as a row, under the same protocol as ssl-bench's runs:
the evaluations of frozen features and those of the encoder itself (fine-tuning, corruptions, transfer, the probe,
LiDAR)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ssl_bench.core.devices import resolve_device
from ssl_bench.core.errors import UserError
from ssl_bench.core.validation import check_keys, check_mapping
from ssl_bench.data.augment import BatchAugment, default_augment
from ssl_bench.data.datasets import test_split, train_split
from ssl_bench.eval.base import EncoderTarget
from ssl_bench.models.inputs import check_input_protocol
from ssl_bench.models.pretrained import pretrained_encoder, wrapped_encoder
from ssl_bench.sources.base import (
    SOURCES,
    BlockRow,
    RowProtocol,
    RowRequest,
    Source,
    SourceRow,
    SuiteContext,
    check_strings,
    suite_file,
)
from ssl_bench.sources.encoding import encoder_splits, view_features
from ssl_bench.sources.rows import evaluate_source

BLOCK_KEYS = ("spec", "weights", "image_size", "normalization")
IN_MEMORY = "in memory (Python API)"  # the protocol's weights of an nn.Module given to evaluate_encoder
VIEWS_RECIPE = "simclr"  # LiDAR's views of an encoder row, which brings no training recipe of its own


def encoder_out_dir(spec: str, dataset: str) -> Path:
    """Where the files of an encoder's evaluations go outside a suite (the probe's JSON and plot)."""
    return Path("runs") / f"encoder-{spec.replace(':', '-').replace('/', '-')}-{dataset}"


def _rows(request: RowRequest) -> SourceRow:
    """``request.name``: the encoder's spec; ``settings``: ``weights`` and optional ``image_size``,
    ``normalization``; or, from Python (:func:`ssl_bench.api.evaluate_encoder`), ``module`` (an ``nn.Module``
    named ``request.name``) with its ``channels``."""
    settings = request.settings
    train = train_split(request.dataset, request.subset, request.seed, request.download)
    test = test_split(request.dataset, request.test_subset, request.download)
    if "module" in settings:
        encoder, protocol = wrapped_encoder(settings["module"], request.name, request.backbone, IN_MEMORY,
                                            settings.get("channels") or train.channels, train,
                                            settings.get("image_size"), settings.get("normalization") or "dataset")
    else:
        encoder, protocol = pretrained_encoder(request.name, settings["weights"], train, settings.get("image_size"),
                                               settings.get("normalization"))
    common = {key: protocol.pop(key) for key in ("method", "backbone", "features", "epochs")}
    return SourceRow(encoder_splits(encoder, train, test, request.device),
                     RowProtocol.of_splits(train, test, **common, seed=request.seed, subset=request.subset,
                                           details=protocol),
                     encoder=lambda: encoder_target(encoder, train, test, request, protocol["weights"]))


def encoder_target(encoder: nn.Module, train: Any, test: Any, request: RowRequest, weights: str) -> EncoderTarget:
    """The row's encoder (uint8 images -> backbone features) for the evaluations of single images: its training
    images are the row's (``subset``), the files go to the cell's run directory (:func:`encoder_out_dir` outside a
    suite), LiDAR's views are drawn by :data:`VIEWS_RECIPE` at its published defaults."""
    device = resolve_device(request.device)

    def backbone(features: str) -> nn.Module:
        if features != "backbone":
            raise UserError(f"an encoder row has backbone features only, not {features}; drop features: {features}")
        return encoder.to(device)

    def describe(features: str) -> tuple[str, dict[str, Any]]:
        return (f"{request.name} ({Path(weights).name}) on {test.name}",
                {"method": f"encoder:{request.name}", "weights": weights, "features": features})

    return EncoderTarget(
        encoder=backbone, test=test, device=device, describe=describe, train=lambda: train,
        out_dir=Path(request.run_dir) if request.run_dir else encoder_out_dir(request.name, request.dataset),
        augmented_views=lambda images, q, seed, recipe: augmented_views(encoder.to(device), images, q, seed,
                                                                        recipe or VIEWS_RECIPE),
        own_recipe=f"the {VIEWS_RECIPE} recipe at its published defaults (an encoder row has no training recipe)")


def augmented_views(encoder: nn.Module, images: Tensor, q: int, seed: int, recipe: str, batch: int = 256) -> Tensor:
    """Features (N, q, F) of ``q`` views of each uint8 image of ``images: (N, C, H, W)`` augmented by ``recipe``
    at its published defaults, each view rounded back to uint8 (as saved images are) and encoded by ``encoder``
    (uint8 -> features, its own normalisation); the views drawn from a generator seeded with ``seed``."""
    channels, size = images.shape[1], images.shape[-1]
    unit = default_augment(recipe, channels, size, {"mean": (0.0,) * channels, "std": (1 / 255,) * channels})
    augment = BatchAugment(unit, channels, size)  # (x - 0) / (1/255): views on the 0-255 scale
    device = next(encoder.parameters()).device
    encoder.eval()
    return view_features(lambda view: encoder(view.round().clamp(0, 255).to(torch.uint8)).float(), augment, images,
                         q, seed, device, batch)


def _check(request: RowRequest) -> None:
    check_input_protocol(request.settings.get("image_size"), request.settings.get("normalization"))


def _block_rows(block: Any, suite: SuiteContext) -> list[BlockRow]:
    """An ``encoders:`` entry: ``spec``, ``weights`` (relative to the suite file, or ``default``: the library's
    published weights) and optional ``image_size``, ``normalization`` (checked by :func:`_check`)."""
    encoder = check_mapping(block, "each encoders entry (spec:, weights: and optional image_size:, normalization:)")
    check_keys(encoder, BLOCK_KEYS, "encoders")
    check_strings(encoder, ("spec", "weights"), "encoders")
    weights = encoder["weights"]
    if weights != "default":
        weights = str(suite_file(suite, weights, "weights", "encoders"))
    settings = {"subset": suite.subset, "weights": weights, "image_size": encoder.get("image_size"),
                "normalization": encoder.get("normalization")}
    return [BlockRow(encoder["spec"], encoder["spec"], settings)]


SOURCES.register("encoder")(Source(
    kind="encoder", rows=_rows, has_encoder=True, check=_check, section="encoders", block_rows=_block_rows, order=40,
    colour="#2ca02c", marker="D",
    description="an encoder trained elsewhere, with its weights (--encoder, encoders:)"))


def evaluate_pretrained(spec: str, weights: str, dataset: str, subset: int | None = None, seed: int = 0,
                        evaluations: Sequence[str] | None = None, device: str = "auto", download: bool = False,
                        image_size: int | None = None, normalization: str | None = None,
                        test_subset: int | None = None) -> dict[str, Any]:
    """Evaluate the encoder SPEC with ``weights`` on ``dataset`` like a trained run."""
    settings = {"weights": weights, "image_size": image_size, "normalization": normalization}
    return evaluate_source("encoder", RowRequest(spec, dataset, spec, subset, seed, settings, device=device,
                                                 download=download, test_subset=test_subset), evaluations)
