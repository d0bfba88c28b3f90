"""A baseline as a row (:mod:`ssl_bench.sources.baselines`): its network behind the training images' normalisation,
on the (subset of the) train split and the official test split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ssl_bench.core.settings import default_of
from ssl_bench.core.validation import check_keys, check_mapping
from ssl_bench.data.datasets import normalization_stats, test_split, train_split
from ssl_bench.models.encoder import NormalisedEncoder
from ssl_bench.sources.base import (
    SOURCES,
    BlockRow,
    RowProtocol,
    RowRequest,
    Source,
    SourceRow,
    SuiteContext,
    block_subset,
    check_names,
)
from ssl_bench.sources.baselines import BASELINES
from ssl_bench.sources.encoding import encoder_splits
from ssl_bench.sources.rows import evaluate_source
from ssl_bench.training.config import TrainConfig

BLOCK_KEYS = ("methods", "backbones", "subset")


def _rows(request: RowRequest) -> SourceRow:
    baseline = BASELINES.get(request.name)
    train = train_split(request.dataset, request.subset, request.seed, request.download)
    test = test_split(request.dataset, request.test_subset, request.download)
    mean, std = normalization_stats(train)
    network = baseline.network(request.backbone, train.channels, train.image_size, request.seed)
    encoder = NormalisedEncoder(network, mean, std).eval()
    protocol = RowProtocol.of_splits(train, test, method=request.name,
                                     backbone=baseline.fixed_backbone or request.backbone, features=baseline.features,
                                     epochs=0, seed=request.seed, subset=request.subset)
    return SourceRow(encoder_splits(encoder, train, test, request.device), protocol)


def _block_rows(block: Any, suite: SuiteContext) -> list[BlockRow]:
    """A ``baselines:`` block: ``methods`` (each looked up here), ``backbones`` (for the baselines that take one) and
    ``subset``."""
    baselines = check_mapping(block, "each baselines block (methods:, backbones:, subset:)")
    check_keys(baselines, BLOCK_KEYS, "baselines")
    subset = block_subset(baselines, suite.subset)
    rows = []
    for name in check_names(baselines.get("methods", []), "baseline methods"):
        baseline = BASELINES.get(name)
        backbones = ([baseline.fixed_backbone] if baseline.fixed_backbone else
                     check_names(baselines.get("backbones", [default_of(TrainConfig, "backbone")]), "baseline backbones"))
        rows += [BlockRow(name, backbone, {"subset": subset}) for backbone in backbones]
    return rows


SOURCES.register("baseline")(Source(
    kind="baseline", rows=_rows, section="baselines", block_rows=_block_rows, order=30, colour="#7f7f7f", marker="^",
    description="a network that is not trained (raw pixels, random-init)"))


def evaluate_baseline(name: str, dataset: str, backbone: str = "convnet", subset: int | None = None,
                      seed: int = 0, evaluations: Sequence[str] | None = None, device: str = "auto",
                      download: bool = False, test_subset: int | None = None) -> dict[str, Any]:
    """Evaluate the baseline ``name`` (``raw-pixels``, ``random-init``, ...) like a trained run.

    Parameters
    ----------
    name : str
        A registered baseline (:mod:`ssl_bench.sources.baselines`).
    dataset : str
        A registered dataset; its train split (or a seeded class-balanced ``subset`` of it) is the kNN database
        and the probe's training data, its test split is scored.
    backbone : str
        The network of the baselines that take one (random-init).

    Returns
    -------
    dict
        Every metric, and ``protocol``: how the features were made and how each evaluation measured them.

    Examples
    --------
    >>> result = evaluate_baseline("raw-pixels", "synthetic", subset=100, evaluations=["knn"], device="cpu")
    >>> result["n_train"], result["n_test"], result["protocol"]["backbone"], 0 <= result["knn_top1"] <= 1
    (100, 500, 'pixels', True)
    """
    return evaluate_source("baseline", RowRequest(name, dataset, backbone, subset, seed, device=device,
                                                  download=download, test_subset=test_subset), evaluations)
