"""faiss kNN against a brute-force double loop and scikit-learn; evaluate_features' output contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from ssl_bench.core.errors import UserError
from ssl_bench.eval import FeatureSplits, evaluate_features
from ssl_bench.eval.knn import knn_accuracies, knn_accuracy, knn_predict


def clustered(n_train: int, n_test: int, num_classes: int, dim: int, spread: float, seed: int):
    """Gaussian clusters around random centres (spread sets how much the classes overlap), as float64 numpy."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_classes, dim))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, num_classes, size=n)
        return centres[labels] + spread * rng.normal(size=(n, dim)), labels

    return (*draw(n_train), *draw(n_test))


def brute_force_knn(train, train_labels, test, num_classes, k, temperature, weighting):
    """Double loop, float64: cosine similarity to every train row, the k largest, class scores, argmax.

    Returns the predictions and, per query, the relative margin between the best and second-best class score and
    the gap between the k-th and (k+1)-th similarity, so a test can check that its data has no near-ties.
    """
    predictions, score_margins, boundary_gaps = [], [], []
    for query in test:
        similarities = []
        for row in train:
            similarities.append(float(query @ row) / (math.sqrt(query @ query) * math.sqrt(row @ row)))
        order = sorted(range(len(train)), key=lambda j: -similarities[j])
        scores = [0.0] * num_classes
        for j in order[:k]:
            scores[train_labels[j]] += math.exp(similarities[j] / temperature) if weighting == "exp" else 1.0
        ranked = sorted(scores, reverse=True)
        predictions.append(scores.index(ranked[0]))
        score_margins.append((ranked[0] - ranked[1]) / ranked[0])
        boundary_gaps.append(similarities[order[k - 1]] - similarities[order[k]] if k < len(train) else 1.0)
    return np.array(predictions), np.array(score_margins), np.array(boundary_gaps)


@pytest.mark.parametrize(
    "k, temperature, chunk_size",
    [(1, 0.1, 4096), (7, 0.1, 7), (20, 0.07, 4096), (20, 0.01, 33), (50, 0.5, 4096), (200, 0.1, 64)],
)
def test_exp_weighted_knn_matches_brute_force(k: int, temperature: float, chunk_size: int) -> None:
    train, train_labels, test, _ = clustered(300, 120, 5, 16, spread=1.2, seed=3)
    expected, margins, gaps = brute_force_knn(train, train_labels, test, 5, k, temperature, "exp")
    assert margins.min() > 1e-5 and gaps.min() > 1e-6, "test data must be free of near-ties"
    assert 0 < (expected != expected[0]).sum(), "degenerate data: every query gets one class"
    predicted = knn_predict(
        torch.tensor(train, dtype=torch.float32),
        torch.tensor(train_labels),
        torch.tensor(test, dtype=torch.float32),
        num_classes=5,
        k=k,
        temperature=temperature,
        chunk_size=chunk_size,
    )
    assert predicted.dtype == torch.int64 and predicted.shape == (120,)
    np.testing.assert_array_equal(predicted.numpy(), expected)


@pytest.mark.parametrize("num_classes, k", [(2, 1), (2, 9), (2, 25), (4, 10)])
def test_majority_vote_matches_sklearn(num_classes: int, k: int) -> None:
    train, train_labels, test, _ = clustered(400, 200, num_classes, 8, spread=1.5, seed=2)
    reference = KNeighborsClassifier(n_neighbors=k, metric="cosine", weights="uniform", algorithm="brute")
    reference.fit(train, train_labels)
    distances, neighbours = reference.kneighbors(test, n_neighbors=k + 1)
    counts = np.stack([np.bincount(train_labels[row[:k]], minlength=num_classes) for row in neighbours])
    top_two = np.sort(counts, axis=1)[:, -2:]
    no_tie = (top_two[:, 1] > top_two[:, 0]) & (distances[:, k] - distances[:, k - 1] > 1e-6)
    assert no_tie.mean() > 0.8, "test data must be mostly free of ties"
    predicted = knn_predict(
        torch.tensor(train, dtype=torch.float32),
        torch.tensor(train_labels),
        torch.tensor(test, dtype=torch.float32),
        num_classes,
        k=k,
        weighting="majority",
    )
    np.testing.assert_array_equal(predicted.numpy()[no_tie], reference.predict(test)[no_tie])


@pytest.mark.parametrize("weighting", ["exp", "majority"])
def test_a_tied_vote_goes_to_the_smallest_class_like_sklearn(weighting: str) -> None:
    train = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    train_labels = np.array([3, 1, 0])
    query = np.array([[2.0, 2.0]])  # equally similar to the class-3 and the class-1 row
    reference = KNeighborsClassifier(n_neighbors=2, metric="cosine", algorithm="brute").fit(train, train_labels)
    predicted = knn_predict(
        torch.tensor(train), torch.tensor(train_labels), torch.tensor(query), 4, k=2, weighting=weighting
    )
    assert predicted.tolist() == reference.predict(query).tolist() == [1]


def test_accuracies_share_one_search_and_match_brute_force() -> None:
    train, train_labels, test, test_labels = clustered(300, 100, 4, 12, spread=1.3, seed=3)
    as_tensors = (torch.tensor(train), torch.tensor(train_labels), torch.tensor(test), torch.tensor(test_labels))
    accuracies = knn_accuracies(FeatureSplits(*as_tensors, num_classes=4), ks=(200, 20), temperature=0.1)
    for k in (200, 20):
        expected = (brute_force_knn(train, train_labels, test, 4, k, 0.1, "exp")[0] == test_labels).mean()
        assert accuracies[k] == pytest.approx(expected, abs=1e-12)
        assert knn_accuracy(FeatureSplits(*as_tensors, num_classes=4), k=k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("weighting", ["exp", "majority"])
def test_k_above_the_train_size_is_clamped_with_a_warning(weighting: str) -> None:
    train, train_labels, test, _ = clustered(40, 30, 3, 6, spread=1.0, seed=4)
    expected = brute_force_knn(train, train_labels, test, 3, 40, 0.1, weighting)[0]
    with pytest.warns(UserWarning, match="using k = 40"):
        predicted = knn_predict(
            torch.tensor(train), torch.tensor(train_labels), torch.tensor(test), 3, k=200, weighting=weighting
        )
    np.testing.assert_array_equal(predicted.numpy(), expected)


def test_bad_inputs_raise_user_errors() -> None:
    train, labels, test = torch.randn(20, 4), torch.randint(0, 3, (20,)), torch.randn(5, 4)
    bad_calls = {
        "dimension mismatch": lambda: knn_predict(train, labels, torch.randn(5, 3), 3),
        "1-D features": lambda: knn_predict(train[:, 0], labels, test, 3),
        "label count": lambda: knn_predict(train, labels[:-1], test, 3),
        "float labels": lambda: knn_predict(train, labels.float(), test, 3),
        "label range": lambda: knn_predict(train, labels + 1, test, 3),
        "non-finite": lambda: knn_predict(train, labels, torch.full_like(test, float("nan")), 3),
        "k": lambda: knn_predict(train, labels, test, 3, k=0),
        "temperature": lambda: knn_predict(train, labels, test, 3, temperature=0.0),
        "weighting": lambda: knn_predict(train, labels, test, 3, weighting="distance"),
        "test labels": lambda: knn_accuracy(FeatureSplits(train, labels, torch.randn(5, 4), labels, 3)),
    }
    for name, call in bad_calls.items():
        with pytest.raises(UserError):
            call()
            pytest.fail(f"no UserError for {name}")


def test_evaluate_features_reports_plain_fractions_with_their_protocol() -> None:
    train, train_labels, test, test_labels = clustered(250, 80, 3, 10, spread=1.5, seed=6)
    result = evaluate_features(FeatureSplits(
        torch.tensor(train, dtype=torch.float32),
        torch.tensor(train_labels),
        torch.tensor(test, dtype=torch.float32),
        torch.tensor(test_labels),
        num_classes=3,
    ))
    assert set(result) == {"knn_top1", "knn_top1_k20", "linear_top1", "linear_fit", "n_train", "n_test",
                           "feature_dim", "protocol"}
    assert json.loads(json.dumps(result)) == result  # plain Python types only
    assert result["knn_top1"] != result["knn_top1_k20"], "k = 200 and k = 20 must be told apart on this data"
    for k, key in ((200, "knn_top1"), (20, "knn_top1_k20")):
        expected = (brute_force_knn(train, train_labels, test, 3, k, 0.1, "exp")[0] == test_labels).mean()
        assert result[key] == pytest.approx(expected, abs=1e-12)
    assert 0.5 < result["linear_top1"] <= 1.0
    assert (result["n_train"], result["n_test"], result["feature_dim"]) == (250, 80, 10)
    knn_protocol = result["protocol"]["knn"]
    assert (knn_protocol["k"], knn_protocol["also_k"], knn_protocol["temperature"]) == (200, 20, 0.1)
    assert knn_protocol["library"].startswith("faiss-cpu ")
    assert result["linear_fit"]["weight_decay"] in result["protocol"]["linear"]["grid"]


def test_evaluate_features_skips_what_is_not_asked_for() -> None:
    train, train_labels, test, test_labels = (torch.tensor(a) for a in clustered(60, 20, 2, 4, 1.0, seed=6))
    result = evaluate_features(FeatureSplits(train, train_labels, test, test_labels, 2), evaluations=["knn"])
    assert "knn_top1" in result and "linear_top1" not in result and "linear_fit" not in result
    assert set(result["protocol"]) == {"knn"}
    with pytest.raises(UserError, match="unknown evaluation 'knn2'; choose one of: knn, linear"):
        evaluate_features(FeatureSplits(train, train_labels, test, test_labels, 2), evaluations=["knn2"])


def test_torch_backend_finds_the_same_neighbours_as_faiss():
    """The GPU fallback (chunked matmul + top-k) must agree with faiss; run here on the CPU."""
    from ssl_bench.eval.knn import nearest_neighbours

    g = torch.Generator().manual_seed(5)
    database, queries = torch.randn(500, 16, generator=g), torch.randn(70, 16, generator=g)
    faiss_sims, faiss_idx = nearest_neighbours(database, queries, 15, backend="faiss")
    torch_sims, torch_idx = nearest_neighbours(database, queries, 15, chunk_size=32, backend="torch")
    torch.testing.assert_close(torch_sims, faiss_sims, rtol=0, atol=1e-5)
    assert torch.equal(torch_idx, faiss_idx)


def test_without_faiss_the_torch_search_gives_the_same_accuracies(monkeypatch: pytest.MonkeyPatch) -> None:
    """faiss missing (the GPU image has none): "auto" falls back to torch, the protocol says so, numbers agree."""
    import ssl_bench.eval.knn as knn_module

    train, train_labels, test, test_labels = (torch.tensor(a) for a in clustered(300, 90, 3, 8, 1.5, seed=2))
    with_faiss = evaluate_features(FeatureSplits(train.float(), train_labels, test.float(), test_labels, 3), ["knn"])
    assert knn_module.resolve_backend() == "faiss-cpu"
    monkeypatch.setattr(knn_module, "faiss", None)
    assert knn_module.resolve_backend() == "torch"
    without = evaluate_features(FeatureSplits(train.float(), train_labels, test.float(), test_labels, 3), ["knn"])
    assert without["protocol"]["knn"]["library"].startswith("torch ")
    assert (without["knn_top1"], without["knn_top1_k20"]) == (with_faiss["knn_top1"], with_faiss["knn_top1_k20"])
    with pytest.raises(UserError, match="pip install faiss-cpu"):
        knn_module.resolve_backend("faiss")
