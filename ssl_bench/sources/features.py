"""Features made elsewhere as a row: ``.npy`` files of frozen train and test features, scored under ssl-bench's
protocol against the labels of the (seeded subset of the) train split and of the official test split.

In a suite::

    features:
      - name: my-encoder          # the row's method
        train: feats/train.npy    # (N_train, F), rows in the order of the train split (or of its seeded subset)
        test: feats/test.npy      # (N_test, F), rows in the order of the test split

Paths are relative to the suite file. Rows, widths and finiteness are checked before anything is evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssl_bench.core.errors import UserError
from ssl_bench.core.validation import check_keys, check_mapping
from ssl_bench.data.datasets import ImageDataset, load_dataset, test_rows, test_split, train_split
from ssl_bench.eval.base import FeatureSplits
from ssl_bench.sources.base import (
    SOURCES,
    BlockRow,
    RowProtocol,
    RowRequest,
    Source,
    SourceRow,
    SuiteContext,
    block_subset,
    check_strings,
    suite_file,
)
from ssl_bench.sources.rows import evaluate_source

BLOCK_KEYS = ("name", "train", "test", "subset")


def _rows(request: RowRequest) -> SourceRow:
    train = train_split(request.dataset, request.subset, request.seed, request.download)
    test = load_dataset(request.dataset, "test", download=request.download)
    paths = {split: Path(request.settings[split]) for split in ("train", "test")}
    arrays = {split: _read(paths[split], data, split) for split, data in (("train", train), ("test", test))}
    if request.test_subset is not None:  # the file holds every test row: keep those of the draw
        rows = test_rows(test.labels, test.num_classes, request.test_subset, test.name)
        arrays["test"], test = arrays["test"][rows.numpy()], test_split(request.dataset, request.test_subset)
    if arrays["train"].shape[1] != arrays["test"].shape[1]:
        raise UserError(f"{paths['train']} has {arrays['train'].shape[1]} features per row but {paths['test']} has "
                        f"{arrays['test'].shape[1]}; write both with the same encoder")
    splits = FeatureSplits(torch.from_numpy(arrays["train"]), train.labels, torch.from_numpy(arrays["test"]),
                           test.labels, train.num_classes)
    protocol = RowProtocol.of_splits(train, test, method=request.name, backbone="features",
                                     features=f"{paths['train'].name} / {paths['test'].name}", epochs=0,
                                     seed=request.seed, subset=request.subset,
                                     details={"feature_files": {split: str(path) for split, path in paths.items()}})
    return SourceRow(splits, protocol)


def _read(path: Path, data: ImageDataset, split: str) -> np.ndarray:
    """The (N, F) float32 features of ``split`` in ``path``, one row per image of ``data``."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read the {split} features {path} ({err}); write them with numpy.save") from None
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise UserError(f"{path} holds an array of shape {array.shape} and type {array.dtype}; the {split} features "
                        f"must be numbers of shape (N, F)")
    if array.shape[0] != len(data):
        raise UserError(f"{path} has {array.shape[0]} rows but the {split} split of {data.name} has {len(data)} "
                        f"images; write one row per image, in the split's order")
    if not np.isfinite(array).all():
        raise UserError(f"{path} holds NaN or infinite values; fix the encoder that wrote them")
    return np.ascontiguousarray(array, dtype=np.float32)


def _block_rows(block: Any, suite: SuiteContext) -> list[BlockRow]:
    """A ``features:`` entry: ``name``, ``train`` and ``test`` files (relative to the suite file), ``subset``."""
    entry = check_mapping(block, "each features entry (name:, train:, test: and optional subset:)")
    check_keys(entry, BLOCK_KEYS, "features")
    check_strings(entry, ("name", "train", "test"), "features")
    files = {split: suite_file(suite, entry[split], split, "features") for split in ("train", "test")}
    settings = {"subset": block_subset(entry, suite.subset), **{split: str(path) for split, path in files.items()}}
    return [BlockRow(entry["name"], "features", settings)]


SOURCES.register("features")(Source(
    kind="features", rows=_rows, section="features", block_rows=_block_rows, order=50, colour="#9467bd", marker="v",
    description="frozen train/test features from .npy files, made by any encoder elsewhere"))


def evaluate_feature_files(name: str, train: str | Path, test: str | Path, dataset: str, subset: int | None = None,
                           seed: int = 0, evaluations: Sequence[str] | None = None) -> dict[str, Any]:
    """Evaluate the features in ``train`` and ``test`` (``.npy``, one row per image of the dataset's train split,
    or of its seeded subset, and of its test split) like a trained run."""
    settings = {"train": str(train), "test": str(test)}
    return evaluate_source("features", RowRequest(name, dataset, "features", subset, seed, settings), evaluations)
