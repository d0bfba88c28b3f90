"""Linear probe: multinomial logistic regression on frozen, standardised features, fitted by full-batch L-BFGS.

For standardised features x_n = (f_n - mu) / sigma (mu, sigma: per-feature mean and std of the rows being fitted)
and labels y_n in [0, C), the probe minimises

    J(W, b) = (1/N) sum_n -log softmax(W x_n + b)_{y_n} + (lambda / 2) ||W||_F^2,     W: (C, F), b: (C,),

with the bias unpenalised (scikit-learn's ``LogisticRegression(C=...)`` is the same problem with
lambda = 1 / (C N)). ``lambda`` (the weight decay) is chosen from a grid by top-1 accuracy on a seeded,
stratified 10% of the train split held out from fitting; the probe is then refitted on the whole train split
with that value and evaluated on the test split once. The test split never takes part in the selection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.eval.base import (
    EVALUATIONS,
    Evaluation,
    EvaluationOutput,
    FeatureSplits,
    MetricColumn,
    metric_value,
    one_label_per_class,
)

WEIGHT_DECAY_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
VALIDATION_FRACTION = 0.1


@dataclass(frozen=True)
class LinearClassifier:
    """Standardise with ``mean, std: (F,)``, then ``logits = x @ weight.T + bias``; weight (C, F), bias (C,)."""

    mean: Tensor
    std: Tensor
    weight: Tensor
    bias: Tensor
    iterations: int

    def logits(self, features: Tensor) -> Tensor:
        """(N, F) -> (N, C)."""
        return F.linear((features.float() - self.mean) / self.std, self.weight, self.bias)

    def accuracy(self, features: Tensor, labels: Tensor) -> float:
        """Top-1 accuracy in [0, 1] on ``features: (N, F)``, ``labels: (N,)``."""
        return (self.logits(features).argmax(dim=1) == labels.long()).double().mean().item()


def fit_linear_classifier(
    features: Tensor,
    labels: Tensor,
    num_classes: int,
    weight_decay: float,
    max_iter: int = 100,
    init: LinearClassifier | None = None,
) -> LinearClassifier:
    """Minimise J(W, b) above on ``features: (N, F)``, ``labels: (N,)`` by full-batch L-BFGS (strong Wolfe).

    Standardisation statistics come from these rows only (a constant feature gets sigma = 1). ``init`` warm-starts
    W and b. Stops after ``max_iter`` iterations or when the largest gradient entry falls below 1e-5.
    """
    with torch.inference_mode(False), torch.enable_grad():
        features = features.detach().float()
        mean = features.mean(dim=0)
        std = features.std(dim=0, correction=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        x = (features - mean) / std
        y = labels.detach().long()
        weight = torch.zeros(num_classes, x.shape[1], device=x.device) if init is None else init.weight.clone()
        bias = torch.zeros(num_classes, device=x.device) if init is None else init.bias.clone()
        weight.requires_grad_(True)
        bias.requires_grad_(True)
        optimizer = torch.optim.LBFGS(
            [weight, bias],
            lr=1.0,
            max_iter=max_iter,
            tolerance_grad=1e-5,
            tolerance_change=1e-10,
            history_size=20,
            line_search_fn="strong_wolfe",
        )

        def objective() -> Tensor:
            optimizer.zero_grad()
            # F.linear with W stored (C, F) gets the fast gradient G^T x; x^T G for W (F, C) is ~5x slower on CPU
            loss = F.cross_entropy(F.linear(x, weight, bias), y) + 0.5 * weight_decay * weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(objective)
        iterations = int(optimizer.state[weight].get("n_iter", 0))
    return LinearClassifier(mean, std, weight.detach(), bias.detach(), iterations)


def stratified_split(labels: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices ``(fit, held_out)`` of a seeded split that holds out round(fraction * n_c) rows of each class c
    (at least one of every class with two or more rows). Both sorted, int64."""
    generator = torch.Generator().manual_seed(seed)
    held_out = []
    for label in torch.unique(labels):
        rows = torch.nonzero(labels == label).flatten()
        count = max(1, round(fraction * len(rows))) if len(rows) >= 2 else 0
        held_out.append(rows[torch.randperm(len(rows), generator=generator)[:count]])
    is_held_out = torch.zeros(len(labels), dtype=torch.bool)
    is_held_out[torch.cat(held_out)] = True
    return torch.nonzero(~is_held_out).flatten(), torch.nonzero(is_held_out).flatten()


def select_weight_decay(
    train_features: Tensor,
    train_labels: Tensor,
    num_classes: int,
    grid: Sequence[float],
    seed: int,
    max_iter: int,
) -> tuple[float, list[float]]:
    """The grid value with the best held-out top-1 (ties: the larger value), and the held-out top-1 per value.

    Uses the train split only: fits on its seeded stratified 90%, scores on the other 10%. Fits go from the
    largest value down, each warm-started from the previous one.
    """
    fit_rows, held_out_rows = (rows.to(train_labels.device)
                               for rows in stratified_split(train_labels.cpu(), VALIDATION_FRACTION, seed))
    if len(held_out_rows) == 0 or len(fit_rows) == 0:
        raise UserError("the linear probe needs at least two train examples of some class to hold one out")
    scores: dict[float, float] = {}
    previous = None
    for weight_decay in sorted(grid, reverse=True):
        previous = fit_linear_classifier(
            train_features[fit_rows], train_labels[fit_rows], num_classes, weight_decay, max_iter, previous
        )
        scores[weight_decay] = previous.accuracy(train_features[held_out_rows], train_labels[held_out_rows])
    chosen = max(scores, key=lambda value: (scores[value], value))
    return chosen, [scores[value] for value in grid]


def fit_probe(train_features: Tensor, train_labels: Tensor, num_classes: int, seed: int = 0, max_iter: int = 100,
              grid: Sequence[float] = WEIGHT_DECAY_GRID) -> tuple[LinearClassifier, float, list[float]]:
    """The probe of ``train_features: (N, F)``: weight decay selected on a held-out part of them
    (:func:`select_weight_decay`), then refitted on all of them; also the chosen value and the held-out top-1
    per grid value."""
    chosen, held_out_top1 = select_weight_decay(train_features, train_labels, num_classes, grid, seed, max_iter)
    return fit_linear_classifier(train_features, train_labels, num_classes, chosen, max_iter), chosen, held_out_top1


def linear_probe(splits: FeatureSplits, seed: int = 0, max_iter: int = 100,
                 grid: Sequence[float] = WEIGHT_DECAY_GRID) -> dict[str, object]:
    """Test top-1 of the linear probe, what the fit found and the protocol: ``{"top1", "fit", "protocol"}``.

    ``fit`` holds results of the train split (the chosen weight decay, held-out top-1 per grid value, L-BFGS
    iterations of the final fit); ``protocol`` only what was decided before seeing any data.

    The weight decay is selected on the train split alone (:func:`select_weight_decay`), the probe refitted on the
    whole train split, and the test split scored once. Runs on the device of the train features.
    """
    if not grid or min(grid) < 0:
        raise UserError(f"the weight-decay grid must be a non-empty list of values >= 0, got {list(grid)}")
    if max_iter < 1:
        raise UserError(f"max_iter must be a positive integer, got {max_iter}")
    train_features, num_classes = splits.train, splits.num_classes
    device = train_features.device
    train_labels = splits.train_labels.to(device)
    probe, chosen, held_out_top1 = fit_probe(train_features, train_labels, num_classes, seed, max_iter, grid)
    top1 = probe.accuracy(splits.test.to(device), splits.test_labels.to(device))
    return {
        "top1": top1,
        "fit": {
            "weight_decay": float(chosen),
            "val_top1": max(held_out_top1),
            "val_top1_per_value": held_out_top1,
            "iterations": probe.iterations,
        },
        "protocol": {
            "probe": "multinomial logistic regression, mean cross-entropy + weight_decay/2 * ||W||^2 (bias free)",
            "optimizer": "full-batch L-BFGS (torch.optim.LBFGS, strong Wolfe line search, history 20)",
            "standardised": "per-feature mean/std of the rows being fitted (train split only)",
            "grid": [float(value) for value in grid],
            "selection": f"top-1 on a seeded stratified {VALIDATION_FRACTION:.0%} of the train split held out "
            "from fitting; then refitted on the whole train split; test split scored once",
            "max_iter": max_iter,
            "seed": seed,
            "device": device.type,
        },
    }


def evaluate_linear(splits: FeatureSplits, seed: int = 0) -> EvaluationOutput:
    """The registry entry: :func:`linear_probe` with its defaults."""
    probe = linear_probe(splits, seed=seed)
    return EvaluationOutput({"linear_top1": probe["top1"], "linear_fit": probe["fit"]}, probe["protocol"])


def grid_edge_caveat(metrics: dict[str, Any], protocol: dict[str, Any]) -> str | None:
    """A run's caveat when its probe chose an edge of its weight-decay grid: the best value may lie beyond it."""
    fit, grid = metrics.get("linear_fit"), (protocol.get("linear") or {}).get("grid")
    if not isinstance(fit, dict) or not grid or len(grid) < 2 or fit.get("weight_decay") not in (min(grid), max(grid)):
        return None
    edge = "lower" if fit["weight_decay"] == min(grid) else "upper"
    return (f"the linear probe chose the {edge} edge of its weight-decay grid ({fit['weight_decay']:g}); "
            "the best value may lie beyond it")


EVALUATIONS.register("linear")(Evaluation(
    name="linear", needs="features", evaluate=evaluate_linear, metric_keys=("linear_top1", "linear_fit"),
    caveat=grid_edge_caveat,
    columns=(MetricColumn("linear_top1", "linear top-1", True, 1, metric_value("linear_top1")),),
    description="linear probe top-1 on the test split (L-BFGS logistic regression, weight decay chosen on train)",
    order=20, check_size=one_label_per_class("linear"),
))
