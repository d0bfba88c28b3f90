"""Transfer: a trained run's (or an encoder row's) frozen backbone evaluated on another registered dataset (kNN and
the linear probe, that dataset's train split as database and probe data, its test split scored), e.g. trained on
Fashion-MNIST, evaluated on MNIST or an ``imagefolder``.

The other dataset's images reach the encoder in the run's own input format, by mappings that must be asked for and
are named in the protocol: ``resize: true`` (bilinear, antialiased, to the run's image size, rounded back to
uint8) when the sizes differ; ``channels: grey`` (3 -> 1: ITU-R 601 luma, 0.299 R + 0.587 G + 0.114 B) or
``channels: replicate`` (1 -> 3) when the channel counts differ. Without them a mismatch is one error line. The
run's own normalisation then applies (its training statistics).

In a suite: ``evaluations: [..., transfer]`` and ``transfer: {dataset: mnist, subset: 10000, resize: false}``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import MIN_SUBSET
from ssl_bench.eval.base import (
    EVALUATIONS,
    EncoderTarget,
    Evaluation,
    FeatureSplits,
    MetricColumn,
    evaluate_features,
    nested_value,
    one_label_per_class,
)

CHANNEL_MAPPINGS = ("same", "grey", "replicate")
LUMA = (0.299, 0.587, 0.114)


def map_images(images: Tensor, channels: int, size: int, mapping: str, resize: bool) -> Tensor:
    """uint8 ``images: (N, C, H, W)`` in the run's format ``(N, channels, size, size)`` by the named mappings."""
    if images.shape[1] != channels:
        if (mapping, images.shape[1], channels) == ("grey", 3, 1):
            luma = torch.tensor(LUMA, dtype=torch.float32).view(1, 3, 1, 1)
            images = (images.float() * luma).sum(dim=1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        elif (mapping, images.shape[1], channels) == ("replicate", 1, 3):
            images = images.expand(-1, 3, -1, -1).contiguous()
        else:
            raise UserError(f"the transfer dataset has {images.shape[1]} channels but the run takes {channels}; set "
                            f"transfer: {{channels: {'grey' if channels == 1 else 'replicate'}}} to map them")
    if images.shape[-2:] != (size, size):
        if not resize:
            raise UserError(f"the transfer dataset's images are {tuple(images.shape[-2:])} but the run takes "
                            f"{size}x{size}; set transfer: {{resize: true}} to resize them")
        images = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False).round().clamp(0, 255).to(torch.uint8)
    return images


def check_transfer(run_channels: int, run_size: int, dataset: str | None = None, subset: int | None = None,
                   resize: bool = False, channels: str = "same", seed: int = 0) -> None:
    """One :class:`UserError` line for settings that cannot work with a run of ``run_channels`` x ``run_size`` images,
    read from the datasets' registry entries: checked when a suite is read, before any cell trains."""
    from ssl_bench.data.datasets import dataset_spec

    if not isinstance(dataset, str) or not dataset:
        raise UserError("transfer needs the dataset to evaluate on: transfer: {dataset: NAME} (ssl-bench datasets)")
    if channels not in CHANNEL_MAPPINGS:
        raise UserError(f"transfer channels must be one of {', '.join(CHANNEL_MAPPINGS)}, got {channels!r}")
    if subset is not None and (not isinstance(subset, int) or subset < MIN_SUBSET):
        raise UserError(f"transfer subset must be an integer >= {MIN_SUBSET}, got {subset!r}")
    spec = dataset_spec(dataset)  # an imagefolder@S:PATH spec says its size S
    converts = (channels, spec.channels, run_channels) in (("grey", 3, 1), ("replicate", 1, 3))
    if spec.channels != run_channels and not converts:
        raise UserError(f"the transfer dataset {dataset} has {spec.channels} channels but the run takes "
                        f"{run_channels}; set transfer: {{channels: {'grey' if run_channels == 1 else 'replicate'}}} "
                        "to map them")
    if spec.image_size != run_size and not resize:
        raise UserError(f"the transfer dataset {dataset}'s images are {spec.image_size}x{spec.image_size} but the run takes "
                        f"{run_size}x{run_size}; set transfer: {{resize: true}} to resize them")
    if spec.num_classes is not None:
        one_label_per_class("transfer")(subset or spec.n_train, spec.num_classes)


def _check_for_source(source_dataset: str, settings: dict[str, Any]) -> None:
    from ssl_bench.data.datasets import dataset_spec

    spec = dataset_spec(source_dataset)
    check_transfer(spec.channels, spec.image_size, **settings)


def evaluate_transfer(target: EncoderTarget, dataset: str | None = None, subset: int | None = None,
                      resize: bool = False, channels: str = "same", seed: int = 0) -> dict[str, Any]:
    """kNN and linear top-1 of the run's backbone on ``dataset`` (its train split, or a seeded class-balanced
    ``subset`` of it, as database and probe data; its test split scored)."""
    from ssl_bench.data.datasets import load_dataset, train_split
    from ssl_bench.models.features import extract_features

    own = target.test
    check_transfer(own.channels, own.image_size, dataset, subset, resize, channels, seed)
    train, test = train_split(dataset, subset, seed), load_dataset(dataset, "test")
    encoder = target.encoder("backbone")

    def features(split: Any) -> Tensor:
        images = map_images(split.images, own.channels, own.image_size, channels, resize)
        return extract_features(encoder, images, 512, device=target.device)

    splits = FeatureSplits(features(train), train.labels.to(target.device), features(test),
                           test.labels.to(target.device), train.num_classes)
    result = evaluate_features(splits, ["knn", "linear"], seed)
    protocol = result.pop("protocol")
    return {"knn_top1": result["knn_top1"], "knn_top1_k20": result["knn_top1_k20"],
            "linear_top1": result["linear_top1"], "protocol": {
                "dataset": dataset, "database": f"train split ({len(train)} images)",
                "queries": f"test split ({len(test)} images)", "features": "backbone",
                "channels": channels if own.channels != train.channels else "same",
                "resize": f"{tuple(train.images.shape[-2:])} -> {own.image_size}x{own.image_size}, bilinear antialiased"
                if resize and train.images.shape[-1] != own.image_size else "none",
                "normalisation": "the run's training statistics", **protocol}}



EVALUATIONS.register("transfer")(Evaluation(
    name="transfer", needs="encoder", evaluate=evaluate_transfer, metric_keys=("transfer",),
    columns=(MetricColumn("transfer_knn_top1", "transfer kNN top-1", True, 1, nested_value("transfer", "knn_top1")),
             MetricColumn("transfer_linear_top1", "transfer linear top-1", True, 1,
                          nested_value("transfer", "linear_top1"))),
    description="the run's frozen backbone on another dataset: kNN and linear top-1 (settings transfer: {dataset})",
    order=55, settings=("dataset", "subset", "resize", "channels", "seed"), check_settings=_check_for_source,
))
