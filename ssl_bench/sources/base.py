"""What a leaderboard row comes from: a registered *source* (a trained run, a closed form, an encoder trained
elsewhere, a baseline, features from files) that yields frozen train/test features and the protocol that made them.

:func:`ssl_bench.sources.evaluate_source` evaluates any source with any registered evaluation; nothing else knows
the kinds. A new kind is one module in this package that registers a :class:`Source`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ssl_bench import __version__
from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry
from ssl_bench.core.settings import DEFAULT_DATASET, MIN_SUBSET
from ssl_bench.core.stage_clock import StageClock
from ssl_bench.core.validation import as_list, check_value
from ssl_bench.eval.base import EncoderTarget, FeatureSplits


@dataclass(frozen=True)
class RowRequest:
    """Which row to make: ``name`` is the source's own name for it (a trained method, a spectral method, a baseline,
    an encoder spec, a features file); ``settings`` the source's own settings (a suite block's keys); ``features``
    which output of a trained network is the representation ("backbone" or "projector"); ``epochs`` how long a
    trained row trains (0: the run is evaluated as it is); ``test_subset`` a class-balanced part of the test split
    the row is scored on (None: all of it; :func:`ssl_bench.data.datasets.base.test_split`)."""

    name: str
    dataset: str = DEFAULT_DATASET
    backbone: str = "convnet"
    subset: int | None = None
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    features: str = "backbone"
    epochs: int = 0
    run_dir: Path | None = None
    device: str = "auto"
    download: bool = False
    progress: bool = False
    test_subset: int | None = None


@dataclass(frozen=True)
class RowProtocol:
    """How a row's features were made, fixed before any data was seen: the fields every row has, and the source's
    own (``details``: a closed form's graph and feature map, an encoder's weights and input statistics, ...).
    Each evaluation adds its own protocol beside it, under its name."""

    dataset: str
    database: str  # the train split the features were scored against: "train split (N images)"
    queries: str  # "test split (N images)"
    method: str
    backbone: str
    features: str
    epochs: int
    seed: int
    subset: int | None
    details: dict[str, Any] = field(default_factory=dict)
    package_version: str = __version__

    @classmethod
    def of_splits(cls, train: Any, test: Any, **fields: Any) -> RowProtocol:
        """The protocol of a row scored on ``train`` (the kNN database) and ``test`` (the queries)."""
        return cls(dataset=train.name, database=f"train split ({len(train)} images)",
                   queries=f"test split ({len(test)} images)", **fields)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: the common fields and the details side by side."""
        common = {name: getattr(self, name) for name in ("dataset", "database", "queries", "method", "backbone",
                                                         "features", "epochs", "seed", "subset", "package_version")}
        return {**common, **self.details}


@dataclass(frozen=True)
class SourceRow:
    """What a source yields: ``splits`` (frozen features), ``protocol`` (how they were made; each evaluation adds
    its own under its name), ``extras`` (results of making them, merged into the metrics), ``clock`` (a running
    :class:`StageClock`: the evaluations are timed into it as the ``evaluation`` stage), ``encoder`` (made when an
    evaluation needs an encoder of single images) and ``history`` (a trained run's epoch records)."""

    splits: FeatureSplits
    protocol: RowProtocol
    extras: dict[str, Any] = field(default_factory=dict)
    clock: StageClock | None = None
    encoder: Callable[[], EncoderTarget] | None = None
    history: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class SuiteContext:
    """What a suite block is read against: the suite file (paths in a block are relative to it) and the suite's
    ``subset`` (None: the whole training split)."""

    path: Path
    subset: int | None


@dataclass(frozen=True)
class BlockRow:
    """One row of a suite block before it is crossed with the suite's datasets and seeds: the source's ``name`` for
    it, its backbone, its settings (``subset`` among them), its training epochs (0: not trained) and the ``kind``
    of source it belongs to when not the block's own (a trained block's closed-form counterparts are spectral)."""

    name: str
    backbone: str
    settings: dict[str, Any]
    epochs: int = 0
    kind: str | None = None


@dataclass(frozen=True)
class Source:
    """A registered kind of row. ``rows(request) -> SourceRow`` makes the features; ``prepare(request) -> bool``
    (optional) does what must happen first (training) and says whether this process evaluates (False on a DDP
    rank > 0); ``record(request, result)`` (optional) keeps the result where the source lives (a run directory);
    ``check(request)`` (optional) validates a suite cell before anything runs. In a suite file, the blocks under
    the key ``section`` become rows by ``block_rows(block, context)``; ``order`` places the section's cells among
    the others' (lower first), also in the leaderboards, where its rows are drawn in ``colour`` with ``marker``.
    ``has_encoder``: its rows carry an encoder of single images (``SourceRow.encoder``)
    for the evaluations that need one (the probe)."""

    kind: str
    rows: Callable[[RowRequest], SourceRow]
    description: str
    section: str
    block_rows: Callable[[Any, SuiteContext], list[BlockRow]]
    order: int
    colour: str = "black"
    marker: str = "o"
    has_encoder: bool = False
    prepare: Callable[[RowRequest], bool] | None = None
    record: Callable[[RowRequest, dict[str, Any]], None] | None = None
    check: Callable[[RowRequest], None] | None = None


SOURCES: Registry[Source] = Registry("source", package="ssl_bench.sources")
WHOLE_SPLIT = "all"  # a block's `subset: all`: every training image (stored as subset None)


def block_subset(block: dict[str, Any], default: int | None) -> int | None:
    """A block's ``subset:``: a number of training images (at least 2), ``all`` (or null) for the whole split
    (None), or, when the block has none, ``default``."""
    if "subset" not in block:
        return default
    subset = block["subset"]
    if subset == WHOLE_SPLIT:
        return None
    check_value("subset", subset, int | None, minimum=MIN_SUBSET, hint=f'or "{WHOLE_SPLIT}" for the whole training split')
    return subset


def check_strings(entry: dict[str, Any], keys: tuple[str, ...], section: str) -> None:
    """One UserError line unless each of ``keys`` of a ``section`` entry is a non-empty string."""
    for key in keys:
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise UserError(f"each {section} entry needs {key}: (a string), got {entry.get(key)!r}")


def suite_file(suite: SuiteContext, value: str, key: str, section: str) -> Path:
    """The file ``value`` of a ``section`` entry's ``key``, relative to the suite file; one line when it is not there."""
    path = (suite.path.parent / value).resolve()
    if not path.is_file():
        raise UserError(f"{section}: no {key} file at {path}; fix {key}: (relative to {suite.path.parent})")
    return path


def check_names(value: Any, what: str) -> list[str]:
    """A name or a list of names (strings); anything else is one UserError line."""
    names = as_list(value)
    if not all(isinstance(name, str) and name for name in names):
        raise UserError(f"{what} must be a name or a list of names, got {value!r}")
    return names


def ordered_sources() -> list[Source]:
    """The registered sources in their suite order."""
    return sorted((SOURCES.get(name) for name in SOURCES.names()), key=lambda source: (source.order, source.kind))
