"""Published results a suite should reproduce, and how far ours are from them.

A suite's ``references:`` is a list of blocks, each one source under one protocol:

    references:
      - source: "solo-learn README (commit 9187ea3), CIFAR-10 table, ResNet-18, 1000 epochs, Acc@1"
        protocol: "online linear classifier trained beside pretraining ..., last epoch"
        metric: linear_top1            # the leaderboard column the values are comparable with
        differs: ["online classifier on augmented views, ours offline on clean images"]   # [] when ours
        values: {simclr: 90.74, vicreg: 92.07}   # percent; METHOD/BACKBONE where a method trains on several

:func:`compare_references` puts each value beside our mean over seeds for the same method and dataset and the
difference in points, and marks the comparison when the reference's protocol differs from ours (its ``differs``
list names each difference), so a reader never takes an online-probe number for an offline one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.core.validation import as_list, check_keys, check_mapping, check_value

REFERENCE_KEYS = ("source", "protocol", "metric", "differs", "values")
METRIC_PROTOCOLS = {
    "linear_top1": "offline linear probe: L-BFGS logistic regression on frozen, unaugmented features, weight decay "
                   "chosen on a held-out 10% of the train split, last epoch",
    "knn_top1": "kNN k=200, T=0.1, cosine, on the frozen train split, last epoch",
}


@dataclass(frozen=True)
class PublishedResult:
    """One published number: ``value`` (percent) of ``metric`` for ``method`` (on ``backbone``, None: the one the
    suite trains it on) on ``dataset``."""

    method: str
    dataset: str
    metric: str
    value: float
    source: str
    protocol: str
    differs: tuple[str, ...]
    backbone: str | None = None

    @property
    def label(self) -> str:
        """``method`` or ``method/backbone``, as the suite's references name it."""
        return self.method if self.backbone is None else f"{self.method}/{self.backbone}"


@dataclass(frozen=True)
class ReferenceComparison:
    """A published result beside ours: ``ours`` (percent, mean over ``seeds`` seeds; None when not run yet),
    ``difference`` = ours - published in points, ``our_protocol``; ``protocol_differs``: the reference names
    differences."""

    reference: PublishedResult
    ours: float | None
    seeds: int
    difference: float | None
    our_protocol: str
    protocol_differs: bool


def parse_references(blocks: Any, datasets: list[str], trained: dict[str, set[str]]) -> tuple[PublishedResult, ...]:
    """The ``references:`` list of a suite (``trained``: method -> the backbones the suite trains it on); every
    dataset of the suite gets each value. A value names ``METHOD``, or ``METHOD/BACKBONE`` where the suite trains
    the method on several backbones. One line per mistake."""
    results = []
    for block in as_list(blocks or []):
        block = check_mapping(block, "each references block (source, protocol, metric, values)")
        check_keys(block, REFERENCE_KEYS, "references")
        missing = [key for key in REFERENCE_KEYS if key not in block]
        if missing:
            raise UserError(f"a references block lacks {missing}; each needs {', '.join(REFERENCE_KEYS)}")
        for key in ("source", "protocol", "metric"):
            check_value(f"references {key}", block[key], str)
        if block["metric"] not in METRIC_PROTOCOLS:
            raise UserError(f"references metric {block['metric']!r} is not comparable; use one of: "
                            f"{', '.join(METRIC_PROTOCOLS)}")
        differs = as_list(block["differs"])
        for item in differs:
            check_value("references differs (each a named protocol difference)", item, str)
        values = check_mapping(block["values"], "references values (method: percent)")
        for name, value in values.items():
            method, backbone = _trained_row(str(name), trained)
            check_value(f"references value of {name}", value, float, minimum=0)
            if value > 100:
                raise UserError(f"references value of {name} is {value}; give percent in [0, 100]")
            results += [PublishedResult(method, dataset, block["metric"], float(value), block["source"], block["protocol"],
                                        tuple(differs), backbone) for dataset in datasets]
    return tuple(results)


def _trained_row(name: str, trained: dict[str, set[str]]) -> tuple[str, str | None]:
    """(method, backbone or None) of a references value's name, checked against what the suite trains."""
    method, slash, backbone = name.partition("/")
    if method not in trained or (slash and backbone not in trained[method]):
        rows = {f"{m}/{b}" if len(backbones) > 1 else m for m, backbones in trained.items() for b in backbones}
        raise UserError(f"references name {name!r}, which the suite does not train; trained: {sorted(rows)}")
    if not slash and len(trained[method]) > 1:
        raise UserError(f"references name {name!r}, which the suite trains on {sorted(trained[method])}; name one as "
                        f"{method}/BACKBONE")
    return method, backbone or None


def compare_references(references: tuple[PublishedResult, ...], rows: Any) -> tuple[ReferenceComparison, ...]:
    """Each reference beside the trained leaderboard row of its method and dataset (``rows``: LeaderboardRow)."""
    comparisons = []
    for reference in references:
        matches = [row for row in rows if row.epochs and row.method == reference.method
                   and reference.backbone in (None, row.backbone)
                   and row.dataset == reference.dataset and reference.metric in row.metrics]
        summary = matches[0].metrics[reference.metric] if len(matches) == 1 else None
        ours = None if summary is None else 100 * summary.mean
        comparisons.append(ReferenceComparison(
            reference, ours, 0 if summary is None else summary.n, None if ours is None else ours - reference.value,
            METRIC_PROTOCOLS[reference.metric], bool(reference.differs)))
    return tuple(comparisons)
