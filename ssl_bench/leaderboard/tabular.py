"""Leaderboard -> ``leaderboard.csv`` (one row per configuration) and ``leaderboard.json`` (everything)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ssl_bench.bench.store import RunRecord, replace_non_finite
from ssl_bench.leaderboard.stats import Summary
from ssl_bench.leaderboard.table import Leaderboard, LeaderboardRow, describe_hardware, header_lines

_IDENTITY = ("suite", "kind", "method", "backbone", "dataset", "split", "epochs")


def to_csv(board: Leaderboard) -> str:
    """Raw fractions (not %), ``<metric>_mean`` / ``<metric>_std`` (ddof = 1, empty for one seed) / ``<metric>_n``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    stats = [f"{column.key}_{part}" for column in board.columns for part in ("mean", "std", "n")]
    writer.writerow([*_IDENTITY, "hparams", "seeds", *stats, "wall_time_s_mean", "best", "run_ids"])
    for row in board.rows:
        values: list[Any] = [getattr(row, name) for name in _IDENTITY]
        values += [json.dumps(row.hparams, sort_keys=True), " ".join(map(str, row.seeds))]
        for column in board.columns:
            summary = row.metrics.get(column.key)
            values += ["", "", 0] if summary is None else [summary.mean, _blank(summary.std), summary.n]
        values += [_blank(row.wall_time.mean if row.wall_time else None), " ".join(sorted(row.best)),
                   " ".join(run.run_id for run in row.runs)]
        writer.writerow([repr(value) if isinstance(value, float) else value for value in values])
    return buffer.getvalue()


def to_json(board: Leaderboard) -> str:
    document = {
        "title": board.title,
        "suites": list(board.suites),
        "header": dict(header_lines(board)),
        "protocol": {"shared": board.protocol_shared, "varies": {k: list(v) for k, v in board.protocol_varies.items()}},
        "hardware": [{"description": text, "runs": count} for text, count in board.hardware],
        "code": [{"description": text, "runs": count} for text, count in board.code],
        "columns": [{"key": c.key, "title": c.title, "percent": c.percent} for c in board.columns],
        "rows": [_row(row) for row in board.rows],
        "runs": [_run(run) for run in board.runs],
        "failed": [{**_identity(run), "attempts": run.attempts, "error": run.error} for run in board.failed],
        "running": board.running,
        "references": [{"method": item.reference.method, "backbone": item.reference.backbone,
                        "dataset": item.reference.dataset,
                        "metric": item.reference.metric, "published": item.reference.value,
                        "source": item.reference.source, "protocol": item.reference.protocol,
                        "protocol_differs": item.protocol_differs, "differences": list(item.reference.differs),
                        "ours": item.ours, "seeds": item.seeds, "ours_minus_published": item.difference,
                        "our_protocol": item.our_protocol} for item in board.references],
    }
    text = json.dumps(replace_non_finite(document), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
    return text + "\n"


def _row(row: LeaderboardRow) -> dict[str, Any]:
    return {**{name: getattr(row, name) for name in _IDENTITY}, "hparams": row.hparams, "label": row.label,
            "seeds": list(row.seeds), "run_ids": [run.run_id for run in row.runs], "best": sorted(row.best), "tied_with_best": sorted(row.tied),
            "metrics": {key: _summary(summary) for key, summary in row.metrics.items()},
            "wall_time_s": _summary(row.wall_time) if row.wall_time else None, "caveats": row.caveats}


def _summary(summary: Summary) -> dict[str, Any]:
    return {"mean": summary.mean, "std": summary.std, "n": summary.n, "values": list(summary.values)}


def _identity(run: RunRecord) -> dict[str, Any]:
    return {"run_id": run.run_id, "suite": run.suite, "kind": run.kind, "method": run.method,
            "backbone": run.backbone, "dataset": run.dataset, "split": run.split, "epochs": run.epochs,
            "hparams": run.hparams, "seed": run.seed}


def _run(run: RunRecord) -> dict[str, Any]:
    return {**_identity(run), "metrics": run.metrics, "protocol": run.protocol, "wall_time_s": run.wall_time_s,
            "peak_memory_mb": run.peak_memory_mb, "hardware": describe_hardware(run.hardware),
            "package_version": run.package_version, "git_commit": run.git_commit, "finished_at": run.finished_at}


def _blank(value: float | None) -> float | str:
    return "" if value is None else value
