"""Probe a trained run, a fitted spectral method or an encoder trained elsewhere on its dataset's test split; write
``probe.json`` and ``probe.png`` (into the run directory for a trained run)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssl_bench.core.devices import resolve_device
from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import load_dataset, train_split
from ssl_bench.eval.probe import evaluate_probe
from ssl_bench.probes.report import probe_to_files
from ssl_bench.sources.trained import encoder_target
from ssl_bench.spectral import SPECTRAL_METHODS
from ssl_bench.spectral.embed import as_features, user_errors
from ssl_bench.training.run_dir import load_run_config


def probe_run(
    run_dir: str | Path,
    transforms: Sequence[str] | None = None,
    n: int | None = 2000,
    seed: int = 0,
    features: str = "backbone",
    device: str = "auto",
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Probe the last checkpoint of ``run_dir`` (see :func:`ssl_bench.probes.equivariance.probe`): the probe
    evaluation of the run's encoder (:func:`ssl_bench.eval.probe.evaluate_probe`), as a suite runs it.

    Writes the JSON dict it returns (protocol, summary, rows, and the plot's path) and the plot.
    """
    run_dir = Path(run_dir)
    target = encoder_target(run_dir, load_run_config(run_dir), device)
    return evaluate_probe(target, transforms, n, seed, features, out=out, progress=progress)


def probe_spectral(
    method: str,
    dataset: str,
    subset: int | None = 5000,
    dim: int = 32,
    n_neighbors: int = 10,
    transforms: Sequence[str] | None = None,
    n: int | None = 2000,
    seed: int = 0,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Probe a closed-form spectral method: fit it on the (subset of the) train pixels, then embed the probed
    test images and their transforms out of sample (``estimator.transform``: Nystroem, triangulation, ...)."""
    estimator_class = SPECTRAL_METHODS.get(method)
    if estimator_class.two_views:
        raise UserError(f"{method} is fitted on pairs of views and has no single-image probe; probe lpp or "
                        "laplacian-eigenmaps instead")
    params = {"n_neighbors": n_neighbors} if "n_neighbors" in estimator_class.settings else {}
    train = train_split(dataset, subset, seed)
    with user_errors(method):
        estimator = estimator_class(n_components=dim, **params).fit(as_features(train.images, "train"))

    def encoder(images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(estimator.transform(as_features(images, "images")), dtype=np.float32))

    json_path = Path(out) if out else Path("runs") / f"spectral-{method}-{dataset}-n{subset or 'all'}" / "probe.json"
    return probe_to_files(
        encoder, load_dataset(dataset, "test"), json_path,
        title=f"{method} (K={dim}) on {dataset}, fitted on {len(train)} train images",
        protocol={"method": method, "backbone": "pixels", "features": f"{method} embedding (out of sample)",
                  "dim": dim, "fit_images": len(train), **params},
        transforms=transforms, n=n, seed=seed, device="cpu", progress=progress,
    )


def probe_encoder(
    spec: str,
    weights: str,
    dataset: str,
    image_size: int | None = None,
    normalization: str | None = None,
    transforms: Sequence[str] | None = None,
    n: int | None = 2000,
    seed: int = 0,
    device: str = "auto",
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Probe an encoder trained elsewhere (:mod:`ssl_bench.models.pretrained`) on ``dataset``'s test split."""
    from ssl_bench.models.pretrained import pretrained_encoder
    from ssl_bench.sources.encoder import encoder_out_dir

    train = train_split(dataset, None, seed)  # its statistics, for --normalization dataset
    encoder, protocol = pretrained_encoder(spec, weights, train, image_size, normalization)
    torch_device = resolve_device(device)
    json_path = Path(out) if out else encoder_out_dir(spec, dataset) / "probe.json"
    return probe_to_files(
        encoder.to(torch_device), load_dataset(dataset, "test"), json_path,
        title=f"{spec} ({Path(weights).name}) on {dataset}", protocol=protocol,
        transforms=transforms, n=n, seed=seed, device=torch_device, progress=progress,
    )


