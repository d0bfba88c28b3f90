"""What every evaluation is: a registered entry with its name, what it needs, the metrics it returns and the
leaderboard columns it adds. Suites, the CLI and the leaderboards iterate over :data:`EVALUATIONS`.

An evaluation needs either

- ``"features"``: frozen features of the train and test splits (:class:`FeatureSplits`); it is called as
  ``evaluate(splits, seed) -> EvaluationOutput`` for every row of a leaderboard (trained runs, closed forms,
  baselines), or
- ``"encoder"``: an encoder of single images with the test split it is scored on (:class:`EncoderTarget`); it is
  called as ``evaluate(target, **settings) -> dict`` for the rows whose source has one (trained runs), and its
  dict is stored under its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry
from ssl_bench.core.stage_clock import part
from ssl_bench.eval import DEFAULT_EVALUATIONS
from ssl_bench.models.features import check_splits

NEEDS = ("features", "encoder")


@dataclass(frozen=True)
class FeatureSplits:
    """Frozen features of the train split (kNN database, probe training data) and of the test split (only scored).

    train: (N_train, F), train_labels: (N_train,), test: (N_test, F), test_labels: (N_test,), labels in
    [0, num_classes). Checked on construction.
    """

    train: Tensor
    train_labels: Tensor
    test: Tensor
    test_labels: Tensor
    num_classes: int

    def __post_init__(self) -> None:
        check_splits(self.train, self.train_labels, self.test, self.test_labels, self.num_classes)


@dataclass(frozen=True)
class EncoderTarget:
    """An encoder of single images, for evaluations that transform images before encoding them (the probe).

    ``encoder(features)``: the encoder of ``features`` ("backbone" or "projector"), uint8 images (N, C, H, W) ->
    (N, F), on ``device``; ``test``: the test split (an :class:`~ssl_bench.data.datasets.ImageDataset`);
    ``out_dir``: where the evaluation may write files; ``describe(features)``: a title and the protocol of that
    encoder; ``augmented_views(images, q, seed, recipe)``: backbone features (N, q, F) of q views of each uint8
    image (N, C, H, W), augmented by the row's own recipe (``recipe`` None; ``own_recipe`` says which, in words)
    or by the named recipe at its published defaults, drawn with ``seed``; ``train()``: the row's training images
    (an :class:`~ssl_bench.data.datasets.ImageDataset`, loaded when asked), the database of evaluations that
    classify transformed test images. A trained run's and an encoder row's targets have all of them."""

    encoder: Callable[[str], Callable[[Tensor], Tensor]]
    test: Any
    out_dir: Path
    describe: Callable[[str], tuple[str, dict[str, Any]]]
    device: Any
    augmented_views: Callable[[Tensor, int, int, str | None], Tensor] | None = None
    train: Callable[[], Any] | None = None
    own_recipe: str = "the run's training recipe"


@dataclass(frozen=True)
class EvaluationOutput:
    """Metrics (plain JSON values, merged into the run's metrics) and the protocol that produced them."""

    metrics: dict[str, Any]
    protocol: dict[str, Any]


def metric_value(key: str) -> Callable[[dict[str, Any]], float | None]:
    """Reads ``metrics[key]`` as a float (None when absent or not a number)."""

    def extract(metrics: dict[str, Any]) -> float | None:
        value = metrics.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return extract


def nested_value(name: str, key: str) -> Callable[[dict[str, Any]], float | None]:
    """Reads ``metrics[name][key]`` as a float: a number inside the dict an encoder evaluation stores under its
    name (None when absent or not a number)."""

    def extract(metrics: dict[str, Any]) -> float | None:
        found = metrics.get(name)
        value = found.get(key) if isinstance(found, dict) else None
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return extract


@dataclass(frozen=True)
class MetricColumn:
    """A leaderboard column: how to read one number from a run's metrics, and how to show it.

    ``ranked``: the best value per dataset is marked (higher is better); descriptive columns are not ranked."""

    key: str
    title: str
    percent: bool
    decimals: int
    extract: Callable[[dict[str, Any]], float | None]
    ranked: bool = True


@dataclass(frozen=True)
class Evaluation:
    """A registered evaluation; ``order`` places its columns among the others' (lower first). ``caveat(metrics,
    protocol)`` (optional) says, for one run, why its headline number may mislead (a choice at the edge of a grid),
    or None; boards mark the evaluation's first column of such rows and list the caveats. ``check_size(n_rows,
    num_classes)`` (optional) raises one :class:`UserError` line when N train rows of C classes are too few for it:
    suites call it before any cell runs, so that a small subset is refused before training, not after.
    ``check_settings(dataset, settings)`` (optional): the same for a suite's settings of the evaluation, given the
    dataset a cell trains on."""

    name: str
    needs: str
    evaluate: Callable[..., Any]
    metric_keys: tuple[str, ...]
    columns: tuple[MetricColumn, ...]
    description: str
    order: int
    settings: tuple[str, ...] = field(default=())
    caveat: Callable[[dict[str, Any], dict[str, Any]], str | None] | None = None
    check_size: Callable[[int, int], None] | None = None
    check_settings: Callable[[str, dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        if self.needs not in NEEDS:
            raise ValueError(f"evaluation {self.name!r}: needs must be one of {NEEDS}, got {self.needs!r}")


EVALUATIONS: Registry[Evaluation] = Registry("evaluation", package="ssl_bench.eval")


def one_label_per_class(evaluation: str) -> Callable[[int, int], None]:
    """A ``check_size`` that refuses fewer train rows than classes (some class would have no labelled row)."""
    def check(n_rows: int, num_classes: int) -> None:
        if n_rows < num_classes:
            raise UserError(f"{evaluation} needs at least one labelled train row per class: {n_rows} rows for "
                            f"{num_classes} classes; use at least {num_classes} training images or drop {evaluation}")
    return check


def check_sizes(names: Sequence[str], dataset: str, subset: int | None) -> None:
    """Each evaluation's ``check_size`` on ``subset`` train rows (else the dataset's train size) of the dataset's
    classes, where its registry entry states them (an imagefolder's are known only once read)."""
    from ssl_bench.data.datasets import dataset_spec

    spec = dataset_spec(dataset)
    n_rows = subset or spec.n_train
    if n_rows is None or spec.num_classes is None:
        return
    for name in names:
        evaluation = EVALUATIONS.get(name)
        if evaluation.check_size is not None:
            evaluation.check_size(n_rows, spec.num_classes)


def ordered(needs: str | None = None) -> list[Evaluation]:
    """The registered evaluations in column order, optionally only those that need ``needs``."""
    found = [EVALUATIONS.get(name) for name in EVALUATIONS.names()]
    return sorted((e for e in found if needs is None or e.needs == needs), key=lambda e: (e.order, e.name))


def leaderboard_columns() -> tuple[MetricColumn, ...]:
    return tuple(column for evaluation in ordered() for column in evaluation.columns)


def check_evaluations(names: Sequence[str], needs: str | None = None) -> tuple[str, ...]:
    """``names`` validated against the registry (and ``needs``); a :class:`UserError` lists the valid ones."""
    valid = [e.name for e in ordered(needs)]
    for name in names:
        if name not in valid:
            raise UserError(f"unknown evaluation {name!r}; choose one of: {', '.join(valid)}")
    return tuple(names)


def evaluate_features(splits: FeatureSplits, evaluations: Sequence[str] = DEFAULT_EVALUATIONS,
                      seed: int = 0) -> dict[str, Any]:
    """Every requested feature evaluation of ``splits``, in column order, as one JSON-serialisable dict.

    The metrics of each evaluation are merged in; ``protocol[name]`` holds how each was measured. ``n_train``,
    ``n_test`` and ``feature_dim`` describe the features.

    Parameters
    ----------
    splits : FeatureSplits
        Frozen features and labels of the train split (the kNN database, the probe's training data) and of the
        test split (only scored).
    evaluations : sequence of str
        Registered evaluations that need features (default kNN and the linear probe).
    seed : int
        Seed of every random choice inside the evaluations (the linear probe's held-out part).

    Examples
    --------
    >>> import torch
    >>> generator = torch.Generator().manual_seed(0)
    >>> train_labels, test_labels = torch.arange(40) % 4, torch.arange(20) % 4
    >>> centres = 5 * torch.eye(4, 8)
    >>> train = centres[train_labels] + torch.randn(40, 8, generator=generator)
    >>> test = centres[test_labels] + torch.randn(20, 8, generator=generator)
    >>> result = evaluate_features(FeatureSplits(train, train_labels, test, test_labels, 4), ["knn", "rankme"])
    >>> result["knn_top1"], round(result["rankme"], 2), result["n_train"]
    (1.0, 7.06, 40)
    """
    wanted = set(check_evaluations(evaluations, "features"))
    result: dict[str, Any] = {}
    protocol: dict[str, Any] = {}
    for evaluation in ordered("features"):
        if evaluation.name in wanted:
            with part(evaluation.name):  # "evaluation/knn" etc. in a running StageClock
                output = checked_output(evaluation, evaluation.evaluate(splits, seed), taken=result)
            result.update(output.metrics)
            protocol[evaluation.name] = output.protocol
    result.update({"n_train": int(splits.train.shape[0]), "n_test": int(splits.test.shape[0]),
                   "feature_dim": int(splits.train.shape[1]), "protocol": protocol})
    return result


def checked_output(evaluation: Evaluation, output: Any, taken: dict[str, Any]) -> EvaluationOutput:
    """``output`` if it keeps the registered contract: an :class:`EvaluationOutput` whose metric keys are exactly
    ``evaluation.metric_keys`` and none of ``taken`` (another evaluation's); else a :class:`UserError` for the
    evaluation's author, naming what to change."""
    where = f"evaluation {evaluation.name!r}"
    if not isinstance(output, EvaluationOutput):
        raise UserError(f"{where} returned a {type(output).__name__}; its evaluate function must return "
                        "EvaluationOutput(metrics, protocol)")
    if set(output.metrics) != set(evaluation.metric_keys):
        raise UserError(f"{where} returned the metrics {sorted(output.metrics)} but declares metric_keys="
                        f"{tuple(evaluation.metric_keys)}; make its Evaluation(metric_keys=...) name exactly "
                        "what it returns")
    clashing = sorted(set(output.metrics) & set(taken))
    if clashing:
        raise UserError(f"{where} returned {clashing}, already another evaluation's metric; rename its keys")
    return output
