"""Linear probe against scikit-learn, its selection protocol (train split only), and frozen-feature extraction."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

from ssl_bench.core.errors import UserError
from ssl_bench.eval import FeatureSplits
from ssl_bench.eval import linear as linear_module
from ssl_bench.eval.linear import LinearClassifier, fit_linear_classifier, linear_probe, stratified_split
from ssl_bench.models.features import cached_features, extract_features


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    images, labels = load_digits(return_X_y=True)
    return train_test_split(images, labels, test_size=0.3, random_state=0, stratify=labels)


def blobs(n: int, num_classes: int, dim: int, separation: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Isotropic Gaussian classes around random centres of scale ``separation``: features (n, dim), labels (n,)."""
    generator = torch.Generator().manual_seed(seed)
    centres = separation * torch.randn(num_classes, dim, generator=generator)
    labels = torch.randint(0, num_classes, (n,), generator=generator)
    return centres[labels] + torch.randn(n, dim, generator=generator), labels


def sparse_signal(
    n: int, dim: int, informative: int, separation: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes that differ in the first ``informative`` of ``dim`` noisy dimensions: regularisation matters."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.zeros(3, dim)
    centres[:, :informative] = separation * torch.randn(3, informative, generator=generator)
    labels = torch.randint(0, 3, (n,), generator=generator)
    return centres[labels] + torch.randn(n, dim, generator=generator), labels


# ------------------------------------------------------------------------------------------------- linear probe
def test_probe_separates_a_linearly_separable_problem() -> None:
    features, labels = blobs(900, 4, 32, separation=3.0, seed=0)
    result = linear_probe(FeatureSplits(features[:600], labels[:600], features[600:], labels[600:], num_classes=4))
    assert result["top1"] >= 0.99


def test_fit_reaches_sklearn_logistic_regression_optimum(digits) -> None:
    """Same objective as LogisticRegression(C) on StandardScaler features with lambda = 1 / (C N)."""
    train, test, train_labels, _ = digits
    scaler = StandardScaler().fit(train)
    x, y = torch.tensor(scaler.transform(train)), torch.tensor(train_labels)

    def objective(weight: torch.Tensor, bias: torch.Tensor, lam: float) -> float:
        weight, bias = weight.double(), bias.double()
        return (F.cross_entropy(x @ weight.T + bias, y) + 0.5 * lam * weight.pow(2).sum()).item()

    for c in (0.1, 1.0):
        lam = 1.0 / (c * len(train))
        reference = LogisticRegression(C=c, max_iter=10_000, tol=1e-10).fit(scaler.transform(train), train_labels)
        ours = fit_linear_classifier(torch.tensor(train), y, 10, lam, max_iter=1000)
        np.testing.assert_allclose(ours.mean.numpy(), scaler.mean_, atol=1e-4)
        np.testing.assert_allclose(ours.std.numpy(), scaler.scale_, rtol=1e-4)
        optimum = objective(torch.tensor(reference.coef_), torch.tensor(reference.intercept_), lam)
        assert objective(ours.weight, ours.bias, lam) == pytest.approx(optimum, rel=1e-4)
        ours_predicted = ours.logits(torch.tensor(test)).argmax(dim=1).numpy()
        assert (ours_predicted == reference.predict(scaler.transform(test))).mean() >= 0.99


def test_probe_is_within_two_points_of_sklearn_on_digits(digits) -> None:
    train, test, train_labels, test_labels = digits
    scaler = StandardScaler().fit(train)
    reference = LogisticRegression(C=1.0, max_iter=10_000).fit(scaler.transform(train), train_labels)
    reference_top1 = reference.score(scaler.transform(test), test_labels)
    result = linear_probe(FeatureSplits(
        torch.tensor(train), torch.tensor(train_labels), torch.tensor(test), torch.tensor(test_labels), 10
    ))
    assert abs(result["top1"] - reference_top1) <= 0.02
    fit = result["fit"]
    assert fit["weight_decay"] in result["protocol"]["grid"]
    assert fit["val_top1"] == max(fit["val_top1_per_value"])
    assert not {"chosen", "val_top1", "iterations"} & set(result["protocol"]), "results do not belong in protocol"


def test_selection_never_sees_the_test_split(monkeypatch) -> None:
    """Every fit sees train rows only; the test split is scored exactly once, after the selection."""
    features, labels = blobs(400, 3, 8, separation=1.0, seed=1)
    # test rows shifted far from every train row, so a test row is recognisable wherever it turns up
    train, train_labels, test, test_labels = features[:300], labels[:300], features[300:] + 1000.0, labels[300:]
    fitted, scored = [], []
    real_fit, real_accuracy = linear_module.fit_linear_classifier, LinearClassifier.accuracy

    def spy_fit(features, *args, **kwargs):
        fitted.append(features.clone())
        return real_fit(features, *args, **kwargs)

    def spy_accuracy(self, features, labels):
        scored.append(features.clone())
        return real_accuracy(self, features, labels)

    monkeypatch.setattr(linear_module, "fit_linear_classifier", spy_fit)
    monkeypatch.setattr(LinearClassifier, "accuracy", spy_accuracy)
    linear_probe(FeatureSplits(train, train_labels, test, test_labels, 3), grid=(1e-4, 1e-2))
    assert len(fitted) == 3 and len(scored) == 3
    for features in fitted + scored[:-1]:
        assert features.abs().max() < 100, "the test split took part in fitting or selection"
    assert torch.equal(scored[-1], test)
    assert torch.equal(fitted[-1], train), "the final probe is refitted on the whole train split"


def test_selection_does_not_depend_on_test_labels_or_features() -> None:
    features, labels = sparse_signal(500, 100, informative=2, separation=1.5, seed=3)
    train, train_labels, test, test_labels = features[:300], labels[:300], features[300:], labels[300:]
    original = linear_probe(FeatureSplits(train, train_labels, test, test_labels, 3))["fit"]
    tampered = linear_probe(FeatureSplits(train, train_labels, -test, test_labels.flip(0), 3))["fit"]
    assert len(set(original["val_top1_per_value"])) > 1, "the grid values must be distinguishable on this data"
    for key in ("weight_decay", "val_top1", "val_top1_per_value"):
        assert tampered[key] == original[key]


def test_stratified_split_holds_out_ten_percent_of_each_class() -> None:
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 7 + [3] * 1)
    fit_rows, held_out_rows = stratified_split(labels, 0.1, seed=0)
    assert sorted(fit_rows.tolist() + held_out_rows.tolist()) == list(range(len(labels)))
    assert np.bincount(labels[held_out_rows].numpy(), minlength=4).tolist() == [5, 3, 1, 0]
    assert torch.equal(stratified_split(labels, 0.1, seed=0)[1], held_out_rows)
    assert not torch.equal(stratified_split(labels, 0.1, seed=1)[1], held_out_rows)


def test_probe_rejects_bad_inputs() -> None:
    features, labels = blobs(50, 2, 4, separation=1.0, seed=5)
    with pytest.raises(UserError):
        linear_probe(FeatureSplits(features, labels, features[:, :3], labels, 2))
    with pytest.raises(UserError):
        linear_probe(FeatureSplits(features, labels, features, labels[:10], 2))
    with pytest.raises(UserError):
        linear_probe(FeatureSplits(features, labels, features, labels, 2), grid=())


# --------------------------------------------------------------------------------------------- frozen features
class Rescale(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.float() / 255.0


def small_encoder() -> nn.Module:
    """Conv + BatchNorm + Dropout: in train mode its output depends on the batch, in eval mode it does not."""
    encoder = nn.Sequential(
        Rescale(), nn.Conv2d(1, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1)
    )
    with torch.no_grad():  # move the BatchNorm running statistics away from their initial values
        for _ in range(3):
            encoder(torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8))
    return encoder


def test_extraction_is_batch_independent_and_restores_modes() -> None:
    encoder = small_encoder()
    encoder[1].eval()  # a mixed train/eval state must come back as it was
    modes = [module.training for module in encoder.modules()]
    images = torch.randint(0, 256, (50, 1, 8, 8), dtype=torch.uint8)
    reference_encoder = copy.deepcopy(encoder).eval()
    with torch.no_grad():
        reference = reference_encoder(images).flatten(1)
    small_batches = extract_features(encoder, images, batch_size=7)
    one_batch = extract_features(encoder, images, batch_size=1000)
    assert small_batches.shape == (50, 6) and small_batches.dtype == torch.float32
    torch.testing.assert_close(small_batches, reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(one_batch, reference, rtol=1e-5, atol=1e-6)
    assert [module.training for module in encoder.modules()] == modes
    assert not small_batches.is_inference(), "features must be usable by autograd (the linear probe)"


def test_extraction_restores_modes_when_the_encoder_fails() -> None:
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(RuntimeError):
        extract_features(encoder, torch.zeros(3, 5))  # 5 inputs into a Linear(4, 2)
    assert encoder.training


def test_encoder_gets_images_as_given_and_output_is_flat_float32() -> None:
    seen = []

    def encoder(batch: torch.Tensor) -> torch.Tensor:
        seen.append((batch.dtype, batch.shape[0]))
        return batch.double().sum(dim=(2, 3), keepdim=True)  # (B, C, 1, 1) float64

    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    features = extract_features(encoder, images, batch_size=4)
    assert seen == [(torch.uint8, 4), (torch.uint8, 4), (torch.uint8, 2)]
    assert features.shape == (10, 3) and features.dtype == torch.float32 and features.device.type == "cpu"
    torch.testing.assert_close(features, images.double().sum(dim=(2, 3)).float())


def test_extraction_rejects_bad_inputs() -> None:
    with pytest.raises(UserError):
        extract_features(lambda batch: batch, torch.zeros(0, 3))
    with pytest.raises(UserError):
        extract_features(lambda batch: batch, torch.zeros(4, 3), batch_size=0)


def test_cache_reloads_and_recomputes_corrupt_or_stale_files(tmp_path) -> None:
    path = tmp_path / "features" / "train.pt"
    calls = []

    def compute() -> torch.Tensor:
        calls.append(1)
        return torch.arange(12, dtype=torch.float32).reshape(4, 3) + len(calls)

    first = cached_features(path, compute, key="epoch-10")
    assert torch.equal(cached_features(path, compute, key="epoch-10"), first) and len(calls) == 1
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="unreadable"):
        recomputed = cached_features(path, compute, key="epoch-10")
    assert len(calls) == 2 and torch.equal(cached_features(path, compute, key="epoch-10"), recomputed)
    path.write_bytes(path.read_bytes()[:100])  # a truncated write
    with pytest.warns(UserWarning, match="unreadable"):
        cached_features(path, compute, key="epoch-10")
    assert len(calls) == 3
    stale = cached_features(path, compute, key="epoch-20")
    assert len(calls) == 4 and not torch.equal(stale, recomputed)
    assert [entry.name for entry in path.parent.iterdir()] == ["train.pt"], "no temporary files left behind"
