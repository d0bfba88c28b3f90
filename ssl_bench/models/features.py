"""Frozen features: run an encoder over a set of images in batches, and cache the result on disk.

An encoder is any callable ``images (B, ...) -> features (B, ...)``; it receives the images exactly as given
(uint8 or float, whatever the caller passes), so a caller that needs normalisation wraps it into the encoder.
"""

from __future__ import annotations

import pickle
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import Tensor, nn

from ssl_bench.core.checkpoint import save_tensors
from ssl_bench.core.errors import UserError


def extract_features(
    encoder: Callable[[Tensor], Tensor],
    images: Tensor | Iterable[Tensor],
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> Tensor:
    """Features of ``images`` as a float32 ``(N, F)`` tensor on ``device``, one row per image, in order.

    ``images``: a tensor ``(N, ...)``, cut into batches ``images[i : i + batch_size]``, or an iterable of ``(B, ...)``
    batches taken as they come (a streamed split's :meth:`~ssl_bench.data.streaming.StreamedSplit.in_order`, so
    the split is never decoded all at once; ``batch_size`` is then unused). Each batch is moved to ``device`` and
    passed to ``encoder``; its output is flattened to ``(B, F)``. Runs under ``torch.inference_mode()``. When
    ``encoder`` is an ``nn.Module`` every submodule is put in eval mode (so BatchNorm uses running statistics and
    dropout is off, and the result does not depend on ``batch_size``) and given back its own mode afterwards. The
    encoder is not moved: put it on ``device`` first.
    """
    if batch_size < 1:
        raise UserError(f"batch size must be a positive integer, got {batch_size}")
    batches = _tensor_batches(images, batch_size) if isinstance(images, Tensor) else images
    modes = [(module, module.training) for module in encoder.modules()] if isinstance(encoder, nn.Module) else []
    if isinstance(encoder, nn.Module):
        encoder.eval()
    try:
        with torch.inference_mode():
            parts = [_encode_batch(encoder, batch, device) for batch in batches]
    finally:
        for module, training in modes:
            module.training = training
    if not parts:
        raise UserError("no images to extract features from (no batches given); pass a non-empty set")
    # Concatenating outside inference mode gives an ordinary tensor that autograd (a linear probe) can use.
    return torch.cat(parts)


def _tensor_batches(images: Tensor, batch_size: int) -> list[Tensor]:
    if images.ndim < 1 or images.shape[0] == 0:
        raise UserError(f"no images to extract features from (got shape {tuple(images.shape)}); pass a non-empty set")
    return [images[start : start + batch_size] for start in range(0, images.shape[0], batch_size)]


def _encode_batch(encoder: Callable[[Tensor], Tensor], batch: Tensor, device: str | torch.device) -> Tensor:
    output = encoder(batch.to(device, non_blocking=True))
    if output.shape[0] != batch.shape[0]:
        raise ValueError(f"encoder returned {output.shape[0]} rows for a batch of {batch.shape[0]} images")
    return output.reshape(batch.shape[0], -1).float()  # stays on the device: no copy back per batch


def cached_features(path: Path | str, compute: Callable[[], Tensor], key: str = "") -> Tensor:
    """Features loaded from ``path`` if it holds a valid cache written with the same ``key``, else ``compute()``.

    ``key`` names what the features depend on (checkpoint, dataset, split, ...); a cache written under another key
    is stale and recomputed. A freshly computed ``(N, F)`` tensor is written atomically (temporary file in the same
    folder, then ``os.replace``), so an interrupted write never leaves a half-written cache. A corrupt or
    unreadable cache is recomputed with a warning, not an error.
    """
    path = Path(path)
    if path.exists():
        features = _load_cache(path, key)
        if features is not None:
            return features
    features = compute()
    if features.ndim != 2:
        raise ValueError(f"features to cache must be (N, F), got shape {tuple(features.shape)}")
    payload = {"features": features.detach().cpu(), "key": key}
    try:
        save_tensors(path, payload)
    except OSError as err:  # a cache is optional: a read-only run directory or a full disk
        print(f"warning: feature cache {path} not written ({str(err).splitlines()[0]}); continuing without it",
              file=sys.stderr)
    return features


# what torch.load and the lookups raise on a truncated zip, pickle garbage or another layout
_UNREADABLE = (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, KeyError, TypeError, ValueError)


def _load_cache(path: Path, key: str) -> Tensor | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        features = payload["features"]
        stored_key = payload["key"]
    except _UNREADABLE as error:
        warnings.warn(f"feature cache {path} is unreadable ({type(error).__name__}); recomputing it", stacklevel=3)
        return None
    if not isinstance(features, Tensor) or features.ndim != 2 or not features.is_floating_point():
        warnings.warn(f"feature cache {path} does not hold an (N, F) float tensor; recomputing it", stacklevel=3)
        return None
    if stored_key != key:
        return None
    return features


def check_splits(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor | None,
    num_classes: int,
) -> None:
    """Raise :class:`UserError` unless both splits are non-empty finite ``(N, F)`` features with the same F and
    one integer label in ``[0, num_classes)`` per row (``test_labels=None``: test labels not needed)."""
    _check_split(train_features, train_labels, num_classes, "train")
    _check_split(test_features, test_labels, num_classes, "test")
    if train_features.shape[1] != test_features.shape[1]:
        raise UserError(
            f"train features have {train_features.shape[1]} dimensions but test features have "
            f"{test_features.shape[1]}; extract both with the same encoder"
        )


def _check_split(features: Tensor, labels: Tensor | None, num_classes: int, split: str) -> None:
    if features.ndim != 2 or features.shape[0] == 0:
        raise UserError(f"{split} features must be a non-empty (N, F) tensor, got shape {tuple(features.shape)}")
    if not torch.isfinite(features).all():
        raise UserError(f"{split} features contain NaN or infinity; check the encoder (a diverged run?)")
    if labels is None:
        return
    if labels.shape != (features.shape[0],) or labels.is_floating_point() or labels.is_complex():
        raise UserError(
            f"{split} labels must be integers of shape ({features.shape[0]},), one per feature row; "
            f"got {labels.dtype} {tuple(labels.shape)}"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise UserError(
            f"{split} labels must lie in [0, {num_classes}), got [{labels.min().item()}, {labels.max().item()}]; "
            "pass the dataset's number of classes"
        )
