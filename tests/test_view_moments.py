"""Streamed views-graph statistics (ssl_bench.spectral.view_moments) against the all-in-memory computation.

The reference is the path that held every view in memory: the SimCLR views drawn view after view over the whole
dataset (one BatchAugment.view call per view, transcribed here), stacked, and the estimators' ``fit`` on the stacked
rows with ``views_graph``. The streamed path makes views VIEW_BATCH images at a time; both must agree to float64
round-off, and the views themselves bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_bench.data.augment import BatchAugment, augment_config
from ssl_bench.data.datasets import train_split
from ssl_bench.data.graph import views_graph
from ssl_bench.spectral import BarlowTwinsClosedForm, LinearCCA, SimCLRClosedForm, VICRegClosedForm, view_moments
from ssl_bench.spectral.feature_maps import feature_map
from ssl_bench.spectral.view_moments import PairMoments, ViewMoments, augmented_views


def views_in_memory(data, n_views: int, seed: int) -> list[torch.Tensor]:  # noqa: ANN001
    """The views as the in-memory pipeline made them: each over all images at once, one generator in sequence."""
    config = augment_config("simclr", data, {})
    augment = BatchAugment(config, data.channels, data.image_size)
    generator = torch.Generator().manual_seed(seed + 17)
    mean, std = torch.tensor(config.mean).view(1, -1, 1, 1), torch.tensor(config.std).view(1, -1, 1, 1)
    return [(255.0 * (augment.view(data.images, index % 2, generator) * std + mean)).round().clamp(0, 255).to(torch.uint8)
            for index in range(n_views)]


@pytest.fixture(scope="module")
def data():
    return train_split("fashion-mnist", 700, 0)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(view_moments, "VIEW_BATCH", 256)  # 700 images: three batches, the last one partial


def test_streamed_views_equal_the_views_made_over_all_images(data) -> None:  # noqa: ANN001
    for ours, reference in zip(augmented_views(data, 3, 5), views_in_memory(data, 3, 5), strict=True):
        assert torch.equal(ours, reference)


@pytest.mark.parametrize("estimator", [VICRegClosedForm, SimCLRClosedForm, BarlowTwinsClosedForm])
@pytest.mark.parametrize("features", ["pixels", "nystroem"])
def test_closed_forms_from_streamed_moments_equal_the_stacked_fit(data, estimator, features: str) -> None:  # noqa: ANN001
    phi = feature_map(features, 200 if features == "nystroem" else None, 0).fit(data.images)
    n_views = 4
    # phi applied per 256-image batch as the stream does: a float32 GEMM's last bits depend on its shape, and this
    # test is about the statistics, not the feature map's round-off.
    stacked = np.concatenate([phi(batch) for view in views_in_memory(data, n_views, 0) for batch in view.split(256)])
    reference = estimator(n_components=8, reg=0.1).fit(stacked, graph=views_graph(len(data.images), n_views))
    streamed = estimator(n_components=8, reg=0.1).fit_moments(ViewMoments.stream(data, n_views, 0, phi))
    queries = phi(data.images[:50])
    np.testing.assert_allclose(streamed.eigenvalues_, reference.eigenvalues_, rtol=1e-9, atol=1e-12)
    # Eigenvectors up to sign: compare the embeddings column by column after aligning signs.
    ours, theirs = streamed.transform(queries), reference.transform(queries)
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours * signs, theirs, rtol=1e-6, atol=1e-8 * np.abs(theirs).max())


def test_cca_from_streamed_pair_moments_equals_cca_of_the_stacked_pairs(data) -> None:  # noqa: ANN001
    phi = feature_map("pixels", None, 0).fit(data.images)
    views = [phi(view) for view in views_in_memory(data, 4, 0)]
    reference = LinearCCA(n_components=6, reg=0.1).fit(np.concatenate(views[0::2]), np.concatenate(views[1::2]))
    streamed = LinearCCA(n_components=6, reg=0.1).fit_moments(PairMoments.stream(data, 4, 0, phi))
    np.testing.assert_allclose(streamed.correlations_, reference.correlations_, rtol=1e-9)
    ours, theirs = streamed.transform(views[0][:50]), reference.transform(views[0][:50])
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours * signs, theirs, rtol=1e-6, atol=1e-8 * np.abs(theirs).max())


def test_streaming_holds_one_batch_of_one_view_at_a_time(data, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The feature map sees VIEW_BATCH-image views one by one, never the stacked views (32 views here)."""
    phi = feature_map("pixels", None, 0).fit(data.images)
    seen: list[int] = []

    def recording(images: torch.Tensor) -> np.ndarray:
        seen.append(images.shape[0])
        return phi(images)

    moments = ViewMoments.stream(data, 32, 0, recording)
    assert max(seen) == 256 and len(seen) == 32 * 3 and moments.n == 32 * len(data.images)
