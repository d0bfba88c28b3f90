"""Result documents: one run's cell (what identifies it) and outcome (its metrics, protocol and provenance) as one
JSON file, the form in which results from elsewhere enter a store (``ssl-bench runs import``, ``runs add``,
``eval --store``, :func:`ssl_bench.api.record_result`).

The format is published as a JSON Schema (``result.schema.json`` beside this module; ``ssl-bench runs import
--schema`` prints it)::

    {"format": "ssl-bench-result/1",
     "cell": {"suite", "kind", "method", "dataset", "split", "backbone", "hparams", "epochs", "seed"},
     "outcome": {"status": "done", "metrics", "protocol", "epoch_metrics", "hardware", "host", "pid",
                 "package_version", "git_commit", "started_at", "finished_at", "wall_time_s"},
     "provenance": {"tool", "source"}}

A suite cell's ``outcome.json`` holds its cell too, so it is read the same way. Checked before anything is stored:
the cell names a registered kind; the protocol's ``dataset``, ``method``, ``backbone``, ``epochs`` and ``seed``
agree with the cell; every evaluation whose metrics appear has all of them (numbers finite; accuracies in [0, 1]) and its
protocol under its name. The store keeps the provenance inside the protocol (``protocol["provenance"]``), so
boards can show where an imported row came from.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ssl_bench.bench.provenance import this_process
from ssl_bench.bench.store import RunCell
from ssl_bench.core.errors import UserError

FORMAT = "ssl-bench-result/1"
SCHEMA = Path(__file__).with_name("result.schema.json")
PROTOCOL_AGREES = ("dataset", "method", "backbone", "epochs", "seed")
CELL_FIELDS = ("suite", "kind", "method", "dataset", "split", "backbone", "hparams", "epochs", "seed")
PROVENANCE_FIELDS = ("hardware", "host", "pid", "package_version", "git_commit", "started_at", "finished_at")


def result_document(cell: RunCell, result: dict[str, Any], tool: str, source: str,
                    epoch_metrics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The document of an evaluation ``result`` (metrics with their ``protocol``) made here and now for ``cell``;
    ``tool`` and ``source`` say what made it and from what (a run directory, an encoder). No wall time: what the
    result cost is not known here."""
    metrics = {key: value for key, value in result.items() if key != "protocol"}
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    outcome = {"status": "done", "metrics": metrics, "protocol": result["protocol"],
               "epoch_metrics": epoch_metrics or [], **this_process(), "started_at": now, "finished_at": now,
               "wall_time_s": None}
    return {"format": FORMAT, "cell": asdict(cell), "outcome": outcome, "provenance": {"tool": tool, "source": source}}


def read_document(path: Path) -> dict[str, Any]:
    """The result document in the file at ``path`` (a suite cell's ``outcome.json`` included), checked."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"no result file at {path}; give the path of a result document or a cell's outcome.json") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"{path} is not a JSON result document ({str(err).splitlines()[0][:120]})") from None
    if isinstance(document, dict) and "format" not in document and "cell" in document and "status" in document:
        cell = document.pop("cell")  # an outcome.json of a suite cell
        document = {"format": FORMAT, "cell": cell, "outcome": document,
                    "provenance": {"tool": "ssl-bench suite", "source": str(path)}}
    check_document(document, str(path))
    return document


def check_document(document: Any, where: str) -> tuple[RunCell, dict[str, Any]]:
    """(cell, outcome) of a result document; one :class:`UserError` line naming the field otherwise."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise UserError(f"{where}: not an ssl-bench result document (format {found!r}, expected {FORMAT!r}); "
                        f"see ssl-bench runs import --schema")
    cell_values, outcome = _field(document, "cell", dict, where), _field(document, "outcome", dict, where)
    _field(document, "provenance", dict, where)
    missing = [name for name in CELL_FIELDS if name not in cell_values]
    if missing or set(cell_values) - set(CELL_FIELDS):
        raise UserError(f"{where}: cell needs exactly {', '.join(CELL_FIELDS)} (missing: {', '.join(missing) or '-'}"
                        f"; unknown: {', '.join(sorted(set(cell_values) - set(CELL_FIELDS))) or '-'})")
    for name, kind in (("suite", str), ("kind", str), ("method", str), ("dataset", str), ("split", str),
                       ("backbone", str), ("hparams", dict), ("epochs", int), ("seed", int)):
        _field(cell_values, name, kind, f"{where}: cell")
    cell = RunCell(**cell_values)
    if outcome.get("status") != "done":
        raise UserError(f"{where}: outcome.status is {outcome.get('status')!r}; only finished runs ('done') are imported")
    metrics, protocol = _field(outcome, "metrics", dict, f"{where}: outcome"), _field(outcome, "protocol", dict,
                                                                                        f"{where}: outcome")
    for name in PROVENANCE_FIELDS:
        if name not in outcome:
            raise UserError(f"{where}: outcome.{name} is missing (where and when the run was made)")
    for name in PROTOCOL_AGREES:
        if protocol.get(name) != cell_values[name]:
            raise UserError(f"{where}: protocol.{name} is {protocol.get(name)!r} but the cell says "
                            f"{cell_values[name]!r}; the protocol must describe this run")
    _check_metrics(metrics, protocol, where)
    return cell, outcome


def _check_metrics(metrics: dict[str, Any], protocol: dict[str, Any], where: str) -> None:
    from ssl_bench.eval.base import ordered

    found = 0
    for evaluation in ordered("features"):
        present = [key for key in evaluation.metric_keys if key in metrics]
        if not present:
            continue
        found += 1
        absent = [key for key in evaluation.metric_keys if key not in metrics]
        if absent:
            raise UserError(f"{where}: metrics of {evaluation.name} are incomplete ({', '.join(absent)} missing)")
        if not isinstance(protocol.get(evaluation.name), dict):
            raise UserError(f"{where}: protocol.{evaluation.name} is missing; say how {', '.join(present)} was "
                            f"measured")
        for key in present:
            value = metrics[key]
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number and not math.isfinite(value):
                raise UserError(f"{where}: metrics.{key} must be finite, got {value!r}")
            if key.endswith(("_top1", "_top5")) and not (number and 0 <= value <= 1):
                raise UserError(f"{where}: metrics.{key} is an accuracy, a fraction in [0, 1]; got {value!r}")
    if not found:
        raise UserError(f"{where}: no metric of a registered evaluation (e.g. knn_top1, linear_top1) in outcome.metrics")


def _field(values: dict[str, Any], name: str, kind: type, where: str) -> Any:
    value = values.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"{where}.{name} must be a {kind.__name__}, got {value!r}")
    return value


def store_document(store: Any, document: dict[str, Any]) -> tuple[str, bool]:
    """Record a checked document in the open ``store``: (run id, whether it was new). The provenance is kept in
    the protocol; a run already done in the store is kept as it is."""
    cell, outcome = check_document(document, "result")
    outcome = {**outcome, "protocol": {**outcome["protocol"], "provenance": document["provenance"]}}
    return cell.run_id, store.ingest(cell, outcome)
