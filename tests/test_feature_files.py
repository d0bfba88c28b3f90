"""A kind of row added as one file (ssl_bench/sources/features.py): features written elsewhere as .npy files are
scored with the labels of the split they belong to, in a suite and its leaderboard as in the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ssl_bench.bench.store import ResultStore
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import load_dataset, train_split
from ssl_bench.sources.features import evaluate_feature_files


def _one_hot_features(labels: np.ndarray, seed: int) -> np.ndarray:
    """10 x one-hot(label) plus unit noise: every class far from the others, so kNN and the probe are exact."""
    rng = np.random.default_rng(seed)
    return (10.0 * np.eye(10)[labels] + rng.normal(size=(len(labels), 10))).astype(np.float32)


@pytest.fixture
def feature_files(tmp_path: Path) -> tuple[Path, Path]:
    train = train_split("synthetic", 200, 0)
    test = load_dataset("synthetic", "test")
    np.save(tmp_path / "train.npy", _one_hot_features(train.labels.numpy(), 1))
    np.save(tmp_path / "test.npy", _one_hot_features(test.labels.numpy(), 2))
    return tmp_path / "train.npy", tmp_path / "test.npy"


def test_the_file_rows_are_scored_against_their_split_labels(feature_files, tmp_path) -> None:
    train, test = feature_files
    result = evaluate_feature_files("elsewhere", train, test, "synthetic", subset=200, evaluations=["knn", "linear"])
    assert result["knn_top1"] == result["linear_top1"] == 1.0
    assert result["n_train"] == 200 and result["n_test"] == 500 and result["feature_dim"] == 10
    assert result["protocol"]["method"] == "elsewhere" and result["protocol"]["subset"] == 200
    shuffled = np.load(train)[np.random.default_rng(0).permutation(200)]
    np.save(tmp_path / "shuffled.npy", shuffled)  # rows no longer in the split's order: chance level
    assert evaluate_feature_files("x", tmp_path / "shuffled.npy", test, "synthetic", 200, evaluations=["knn"])[
        "knn_top1"] < 0.3


@pytest.mark.parametrize("array, message", [
    (np.zeros((199, 10), np.float32), "has 199 rows but the train split of synthetic has 200 images"),
    (np.full((200, 10), np.nan, np.float32), "holds NaN or infinite values"),
    (np.zeros((200, 10, 1), np.float32), "must be numbers of shape (N, F)"),
    (np.zeros((200, 7), np.float32), "has 7 features per row but"),
])
def test_files_that_do_not_fit_are_one_line(feature_files, tmp_path, array, message) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate_feature_files("x", tmp_path / "bad.npy", feature_files[1], "synthetic", 200)


def test_a_features_section_runs_in_a_suite_and_reaches_the_leaderboard(feature_files, tmp_path, capsys) -> None:
    suite = tmp_path / "features.yaml"
    suite.write_text("name: files\ndatasets: [synthetic]\nsubset: 200\nevaluations: [knn]\n"
                     "features:\n  - {name: elsewhere, train: train.npy, test: test.npy}\n"
                     "baselines: {methods: [raw-pixels]}\n")
    store = tmp_path / "store.sqlite"
    assert main(["suite", "run", str(suite), "--store", str(store), "--runs-dir", str(tmp_path / "runs"),
                 "--leaderboard", str(tmp_path / "board") + "/", "--quiet", "--device", "cpu"]) == 0
    with ResultStore(store) as results:
        rows = {run.kind: run for run in results.runs()}
    assert set(rows) == {"features", "baseline"} and rows["features"].metrics["knn_top1"] == 1.0
    board = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert {row["kind"] for row in board["rows"]} == {"features", "baseline"}
    suite.write_text(suite.read_text().replace("test.npy", "missing.npy"))
    assert main(["suite", "validate", str(suite)]) == 2
    assert "features: no test file at" in capsys.readouterr().err
