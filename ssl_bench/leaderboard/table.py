"""Store records -> a leaderboard: one row per configuration (a run cell without its seed), metrics over seeds.

Everything here is ordered deterministically so that rendering twice gives identical bytes.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ssl_bench.bench.references import PublishedResult, ReferenceComparison, compare_references
from ssl_bench.bench.store import RunRecord, flatten_metrics
from ssl_bench.eval import MetricColumn, leaderboard_columns, metric_value, ordered
from ssl_bench.leaderboard.stats import Summary, difference_ci
from ssl_bench.methods import METHODS
from ssl_bench.sources.base import ordered_sources
from ssl_bench.training.learning_curve import COLUMNS as CURVE_COLUMNS


def all_columns() -> tuple[MetricColumn, ...]:
    """Every registered evaluation's columns, in their order (:func:`ssl_bench.eval.leaderboard_columns`), then the
    learning curve's (a trained run's last and best curve point)."""
    return leaderboard_columns() + CURVE_COLUMNS


def metric_column(key: str) -> MetricColumn:
    """The column named ``key``, or a plain numeric metric of that name (shown as a raw number)."""
    for column in all_columns():
        if column.key == key:
            return column
    return MetricColumn(key, key, False, 4, metric_value(key))


@dataclass(frozen=True)
class LeaderboardRow:
    """One configuration: its identity, the runs (one per seed) and each metric's summary over them."""

    suite: str
    kind: str
    method: str
    backbone: str
    dataset: str
    split: str
    epochs: int
    hparams: dict[str, Any]
    runs: tuple[RunRecord, ...]
    metrics: dict[str, Summary]
    wall_time: Summary | None
    best: frozenset[str]
    label: str
    caveats: dict[str, str] = field(default_factory=dict)  # column key -> why its number may mislead
    tied: frozenset[str] = frozenset()  # columns where this row cannot be told apart from the best (noise)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(run.seed for run in self.runs)


@dataclass(frozen=True)
class Leaderboard:
    """What every output format is rendered from."""

    title: str
    suites: tuple[str, ...]
    columns: tuple[MetricColumn, ...]
    rows: tuple[LeaderboardRow, ...]
    failed: tuple[RunRecord, ...]
    running: int
    protocol_shared: dict[str, str]
    protocol_varies: dict[str, tuple[str, ...]]
    hparams_shared: dict[str, Any]
    hardware: tuple[tuple[str, int], ...]
    code: tuple[tuple[str, int], ...]
    splits: tuple[str, ...]
    total_wall_time_s: float
    references: tuple[ReferenceComparison, ...] = ()  # published results beside ours (ssl_bench.bench.references)

    @property
    def runs(self) -> tuple[RunRecord, ...]:
        return tuple(run for row in self.rows for run in row.runs)


def configuration_key(record: RunRecord) -> tuple[Any, ...]:
    """A run's cell without the seed: runs with the same key are seeds of one configuration."""
    return (record.suite, record.kind, record.method, record.backbone, record.dataset, record.split,
            record.epochs, json.dumps(record.hparams, sort_keys=True))


def build_leaderboard(records: list[RunRecord], title: str, references: tuple[PublishedResult, ...] = ()) -> Leaderboard:
    """Group done runs by configuration, summarise every column over seeds, mark the best per dataset; put each
    published result of ``references`` beside our row of its method and dataset."""
    done = [record for record in records if record.status == "done"]
    groups: dict[tuple[Any, ...], list[RunRecord]] = {}
    for record in done:
        groups.setdefault(configuration_key(record), []).append(record)
    seeded = [sorted(runs, key=lambda run: (run.seed, run.run_id)) for runs in groups.values()]
    shown = tuple(column for column in all_columns() if any(column.extract(run.metrics) is not None for run in done))
    labels = _labels([runs[0] for runs in seeded])
    rows = [_row(runs, shown, labels) for runs in seeded]
    rows = _mark_best(sorted(rows, key=lambda row: _row_order(row, shown)), shown)
    return Leaderboard(
        title=title,
        suites=tuple(sorted({record.suite for record in records})),
        columns=shown,
        rows=tuple(rows),
        failed=tuple(record for record in records if record.status == "failed"),
        running=sum(record.status == "running" for record in records),
        protocol_shared=_shared_protocol(done),
        protocol_varies=_varying_protocol(done),
        hparams_shared=_shared_hparams(rows),
        hardware=_counted(describe_hardware(record.hardware) for record in done),
        code=_counted(f"ssl-bench {record.package_version} at git {_short_commit(record.git_commit)}"
                      for record in done),
        splits=tuple(sorted({record.split for record in done})),
        total_wall_time_s=math.fsum(record.wall_time_s or 0.0 for record in done),
        references=compare_references(references, rows),
    )


def _row(runs: list[RunRecord], columns: tuple[MetricColumn, ...], labels: dict[str, str]) -> LeaderboardRow:
    first = runs[0]
    metrics = {}
    for column in columns:
        values = tuple(value for value in (column.extract(run.metrics) for run in runs) if value is not None)
        if values:
            metrics[column.key] = Summary(values)
    walls = tuple(run.wall_time_s for run in runs if run.wall_time_s is not None)
    return LeaderboardRow(first.suite, first.kind, first.method, first.backbone, first.dataset, first.split,
                          first.epochs, first.hparams, tuple(runs), metrics, Summary(walls) if walls else None,
                          frozenset(), labels[first.run_id], _caveats(runs, columns))


def _caveats(runs: list[RunRecord], columns: tuple[MetricColumn, ...]) -> dict[str, str]:
    """Each evaluation's caveat for this row (of the first run that has one), on the evaluation's first (headline)
    column when it is shown."""
    keys = {column.key for column in columns}
    found: dict[str, str] = {}
    for evaluation in ordered():
        texts = [evaluation.caveat(run.metrics, run.protocol) for run in runs] if evaluation.caveat else []
        text = next((text for text in texts if text), None)
        if text and evaluation.columns and evaluation.columns[0].key in keys:
            found[evaluation.columns[0].key] = text
    return found


CAVEAT_MARK = "‡"


def caveat_notes(board: Leaderboard) -> list[str]:
    """One line per distinct caveat on the board, naming its rows: what the ‡ beside a number means."""
    rows_by_text: dict[str, list[str]] = {}
    for row in board.rows:
        for text in dict.fromkeys(row.caveats.values()):
            rows_by_text.setdefault(text, []).append(row.label)
    return [f"{CAVEAT_MARK} {', '.join(labels)}: {text}" for text, labels in rows_by_text.items()]


def _row_order(row: LeaderboardRow, columns: tuple[MetricColumn, ...]) -> tuple[Any, ...]:
    """Dataset, then the first column's mean (best first, missing last), then names."""
    primary = row.metrics.get(columns[0].key) if columns else None
    score = primary.mean if primary is not None and math.isfinite(primary.mean) else -math.inf
    order = [source.kind for source in ordered_sources()]
    kind = order.index(row.kind) if row.kind in order else len(order)
    return (row.dataset, row.split, -score, kind, row.method, row.backbone, row.epochs,
            json.dumps(row.hparams, sort_keys=True), row.suite)


def _mark_best(rows: list[LeaderboardRow], columns: tuple[MetricColumn, ...]) -> list[LeaderboardRow]:
    """Bold the highest mean of each ranked column among the rows of the same dataset and split (ties all bold);
    probe columns describe a representation and are not ranked. Mark as ``tied`` the rows that cannot be told apart
    from the best (:func:`_indistinguishable`)."""
    ranked = {column.key: column for column in columns if column.ranked}
    best: dict[tuple[str, str, str], LeaderboardRow] = {}
    for row in rows:
        for key, summary in row.metrics.items():
            if key in ranked and math.isfinite(summary.mean):
                slot = (row.dataset, row.split, key)
                if slot not in best or summary.mean > best[slot].metrics[key].mean:
                    best[slot] = row
    marked = []
    for row in rows:
        tops = {key: best[(row.dataset, row.split, key)] for key in row.metrics if (row.dataset, row.split, key) in best}
        bold = frozenset(key for key, top in tops.items() if row.metrics[key].mean == top.metrics[key].mean)
        tied = frozenset(key for key, top in tops.items() if key not in bold
                         and _indistinguishable(row, top, ranked[key], rows))
        marked.append(replace(row, best=bold, tied=tied))
    return marked


def _per_seed(row: LeaderboardRow, column: MetricColumn) -> dict[int, float]:
    found = {run.seed: column.extract(run.metrics) for run in row.runs}
    return {seed: value for seed, value in found.items() if value is not None}


def _indistinguishable(row: LeaderboardRow, top: LeaderboardRow, column: MetricColumn,
                       rows: list[LeaderboardRow]) -> bool:
    """Whether ``row`` cannot be told apart from ``top`` in ``column`` at 95%: the t interval of the difference over
    seeds (paired when both have the same seeds, Welch otherwise; :func:`difference_ci`) holds 0; or, with too few
    seeds for one, the difference is within t * s * sqrt(1/n_row + 1/n_top) for s the seed spread pooled over the
    rows of ``row``'s kind on this dataset with two or more seeds. False when there is no noise estimate at all."""
    ours, theirs = _per_seed(row, column), _per_seed(top, column)
    interval = difference_ci(theirs, ours)
    if interval.low is not None:
        return interval.low <= 0
    peers = [summary for other in rows if other.kind == row.kind and other.dataset == row.dataset
             and (summary := other.metrics.get(column.key)) is not None and summary.n >= 2]
    df = sum(summary.n - 1 for summary in peers)
    if not df:
        return False
    from scipy import stats

    pooled = math.sqrt(math.fsum((summary.n - 1) * summary.std**2 for summary in peers) / df)
    bound = float(stats.t.ppf(0.975, df)) * pooled * math.sqrt(1 / len(ours) + 1 / len(theirs))
    return top.metrics[column.key].mean - row.metrics[column.key].mean <= bound


def _shared_hparams(rows: list[LeaderboardRow] | list[RunRecord]) -> dict[str, Any]:
    """Hyper-parameters with one value in every configuration (stated once, above the table)."""
    if not rows:
        return {}
    shared = dict(sorted(rows[0].hparams.items()))
    for row in rows[1:]:
        shared = {key: value for key, value in shared.items() if key in row.hparams and row.hparams[key] == value}
    return shared


def _labels(firsts: list[RunRecord]) -> dict[str, str]:
    """Short unique names for plots: method/backbone, the epochs of a trained run where trained runs differ in them,
    and the hyper-parameters that differ among configurations of the same kind; then, only where two names would
    still be equal, dataset, suite and run id."""
    by_kind: dict[str, list[RunRecord]] = {}
    for r in firsts:
        by_kind.setdefault(r.kind, []).append(r)
    varying = {kind: _differing_hparams(group) for kind, group in by_kind.items()}
    epochs_vary = len({r.epochs for r in firsts if r.epochs}) > 1  # among the trained rows

    def own(r: RunRecord) -> str:
        shown = {key: value for key, value in r.hparams.items() if key in varying[r.kind]}
        return " · ".join(filter(None, (r.method + (f"/{r.backbone}" if r.backbone else ""),
                                        f"{r.epochs} ep" if r.epochs and epochs_vary else "",
                                        format_hparams(shown) if shown else "")))

    labels = {r.run_id: own(r) for r in firsts}
    for part in (lambda r: r.dataset, lambda r: r.suite, lambda r: r.run_id[:8]):
        groups: dict[str, list[RunRecord]] = {}
        for r in firsts:
            groups.setdefault(labels[r.run_id], []).append(r)
        for group in (group for group in groups.values() if len(group) > 1):
            if len({part(r) for r in group}) > 1:
                labels.update({r.run_id: f"{labels[r.run_id]} · {part(r)}" for r in group})
    return labels


def _provenance(r: RunRecord) -> str:
    """``from TOOL`` for a row recorded from a result document (imported, added by hand), else ""."""
    provenance = r.protocol.get("provenance")
    return f"from {provenance.get('tool', 'elsewhere')}" if isinstance(provenance, dict) else ""


def _differing_hparams(group: list[RunRecord]) -> set[str]:
    """Hyper-parameter names not shared by every run of ``group`` (absent from some, or set to other values)."""
    return {name for r in group for name in r.hparams} - _shared_hparams(group).keys()


def format_hparams(hparams: dict[str, Any]) -> str:
    """``{"lr": 0.1, "graph": "knn"}`` -> ``graph=knn, lr=0.1`` (sorted keys); ``default`` when empty; an unset
    ``subset`` (every training image) reads ``subset=all``, as suite files write it."""
    if not hparams:
        return "default"
    return ", ".join(f"{key}={'all' if key == 'subset' and value is None else _protocol_text(value)}"
                     for key, value in sorted(hparams.items()))


def describe_hardware(hardware: dict[str, Any]) -> str:
    """``{"cpu_model": "AMD EPYC", "cpu_count": 2, "gpu_count": 0}`` -> ``AMD EPYC, 2 CPUs, no GPU``."""
    cpu = f"{hardware.get('cpu_model') or 'unknown CPU'}, {hardware.get('cpu_count') or '?'} CPUs"
    count = hardware.get("gpu_count") or 0
    if not count:
        return f"{cpu}, no GPU"
    memory = f" ({hardware['gpu_memory_gb']} GB)" if hardware.get("gpu_memory_gb") else ""
    return f"{cpu}, {count} x {hardware.get('gpu_model')}{memory}"


def _short_commit(commit: str) -> str:
    head, dirty, _ = commit.partition("-dirty")
    return head[:12] + ("-dirty" if dirty else "")


def _counted(items: Any) -> tuple[tuple[str, int], ...]:
    """Distinct items with their counts, most frequent first, then alphabetical."""
    return tuple(sorted(Counter(items).items(), key=lambda item: (-item[1], item[0])))


def _protocol_values(done: list[RunRecord]) -> dict[str, list[str]]:
    """Flattened protocol key -> its value in each run (JSON text, ``—`` where a run lacks the key)."""
    flat = [flatten_metrics(record.protocol) for record in done]
    keys = sorted({key for protocol in flat for key in protocol})
    return {key: [_protocol_text(protocol[key]) if key in protocol else "—" for protocol in flat] for key in keys}


def _protocol_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _shared_protocol(done: list[RunRecord]) -> dict[str, str]:
    return {key: values[0] for key, values in _protocol_values(done).items() if len(set(values)) == 1}


def _varying_protocol(done: list[RunRecord]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(sorted(set(values))) for key, values in _protocol_values(done).items()
            if len(set(values)) > 1}


TIED_MARK = "≈"


def format_cell(row: LeaderboardRow, column: MetricColumn) -> str:
    """The row's summary of ``column`` (:func:`format_summary`), with ≈ when it cannot be told apart from the best
    and ‡ when it has a caveat."""
    text = format_summary(row.metrics.get(column.key), column)
    marks = (TIED_MARK if column.key in row.tied else "") + (CAVEAT_MARK if column.key in row.caveats else "")
    return f"{text} {marks}" if marks else text


def format_summary(summary: Summary | None, column: MetricColumn) -> str:
    """``81.2 ± 0.4`` (percent columns x100, fixed decimals); a single seed shows the mean alone; ``—`` if absent."""
    if summary is None:
        return "—"
    scale = 100.0 if column.percent else 1.0
    mean = f"{summary.mean * scale:.{column.decimals}f}"
    if summary.std is None:
        return mean
    return f"{mean} ± {summary.std * scale:.{column.decimals}f}"


def format_seconds(summary: Summary | None) -> str:
    return "—" if summary is None else f"{summary.mean:.1f}"


def identity_columns(board: Leaderboard) -> list[tuple[str, Callable[[LeaderboardRow], str]]]:
    """The columns naming a configuration; dataset, hyper-parameters and suite only when they tell rows apart (a
    board of one dataset names it in its header), and where
    some row was recorded from a result document (imported, added by hand), the tool that made each."""
    several_splits = len(board.splits) > 1
    columns: list[tuple[str, Callable[[LeaderboardRow], str]]] = [
        ("Method", lambda row: row.method),
        ("Kind", lambda row: row.kind),
        *([("Family", lambda row: method_family(row) or "—")] if any(map(method_family, board.rows)) else []),
        ("Backbone", lambda row: row.backbone or "—"),
        *([("Dataset", lambda row: f"{row.dataset} ({row.split})" if several_splits else row.dataset)]
          if several_splits or len({row.dataset for row in board.rows}) > 1 else []),
        ("Epochs", lambda row: str(row.epochs) if row.epochs else "—"),
    ]
    if any(_distinct_hparams(board, row) for row in board.rows):
        columns.append(("Hyper-parameters", lambda row: format_hparams(_distinct_hparams(board, row))))
    if len(board.suites) > 1:
        columns.append(("Suite", lambda row: row.suite))
    if any(_provenance(row.runs[0]) for row in board.rows):
        columns.append(("Recorded", lambda row: _provenance(row.runs[0]) or "by the suite"))
    return columns


def method_family(row: LeaderboardRow) -> str | None:
    """The family of a trained row's method (contrastive, redundancy reduction, ...), None for other rows and
    for methods this installation does not hold."""
    if row.kind != "trained" or row.method not in METHODS:
        return None
    return METHODS.get(row.method).family


def _distinct_hparams(board: Leaderboard, row: LeaderboardRow) -> dict[str, Any]:
    """The row's hyper-parameters minus those shared by every configuration (stated in the header)."""
    return {key: value for key, value in row.hparams.items() if key not in board.hparams_shared}


def header_lines(board: Leaderboard) -> list[tuple[str, str]]:
    """The facts stated above every leaderboard: runs, hardware, code, protocol, how to read the numbers."""
    n_runs = len(board.runs)
    lines = [("Runs", f"{n_runs} done in {len(board.rows)} configurations, {len(board.failed)} failed, "
                      f"{board.running} running; {board.total_wall_time_s:.1f} s of wall time in total")]
    if len(board.suites) > 1:
        lines.append(("Suites", ", ".join(board.suites)))
    lines.append(("Hardware", "; ".join(f"{text} ({count} runs)" for text, count in board.hardware) or "—"))
    lines.append(("Code", "; ".join(f"{text} ({count} runs)" for text, count in board.code) or "—"))
    datasets = sorted({row.dataset for row in board.rows})
    if len(datasets) == 1:
        lines.append(("Dataset", datasets[0]))
    if len(board.splits) == 1:
        lines.append(("Evaluation split", board.splits[0]))
    if board.hparams_shared:
        lines.append(("Hyper-parameters, all configurations", format_hparams(board.hparams_shared)))
    lines.append(("Protocol, all runs", ", ".join(f"{key}={value}" for key, value in
                                                   board.protocol_shared.items()) or "—"))
    if board.protocol_varies:
        lines.append(("Protocol, varies by run", f"{', '.join(board.protocol_varies)} (every run's protocol is in "
                                                   f"leaderboard.json)"))
    lines.append(("How to read", "accuracies are top-1 in %; each cell is the mean ± sample standard deviation "
                                 "(ddof = 1) over seeds, n = number of seeds; bold = best accuracy in its column "
                                 f"for that dataset; {TIED_MARK} = not told apart from it at 95% (t interval of the "
                                 "difference over seeds, paired where the rows share seeds; with one seed, the seed "
                                 "spread pooled over rows of its kind; no mark without any estimate); "
                                 f"{CAVEAT_MARK} = a caveat, listed under the table; probe columns average the "
                                 "equivariance probe over each transformation's magnitudes, then over "
                                 "transformations; wall time is the mean per run in seconds"))
    return lines


def reference_columns() -> tuple[tuple[str, bool, bool], ...]:
    """(title, numeric, wrapped) of the published-results table's columns, in the order of :func:`reference_cells`."""
    return (("Method", False, False), ("Dataset", False, False), ("Metric", False, False), ("Published", True, False),
            ("Ours", True, False), ("Ours - published", True, False), ("Source", False, True),
            ("Protocol", False, True))


def reference_cells(item: ReferenceComparison) -> list[str]:
    """One row of the published-results table, as text (percent with one decimal; "—" where not run yet)."""
    reference = item.reference
    mark = " †" if item.protocol_differs else ""
    ours = "—" if item.ours is None else f"{item.ours:.1f} (n={item.seeds})"
    difference = "—" if item.difference is None else f"{item.difference:+.1f}{mark}"
    protocol = f"{reference.protocol}; differs: {'; '.join(reference.differs)}" if reference.differs else reference.protocol
    return [reference.label, reference.dataset, metric_column(reference.metric).title, f"{reference.value:.2f}{mark}",
            ours, difference, reference.source, protocol]
