"""The one path that evaluates a row of any source with any registered evaluation."""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Sequence
from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.eval import DEFAULT_EVALUATIONS
from ssl_bench.eval.base import EVALUATIONS, check_sizes, evaluate_features
from ssl_bench.sources.base import SOURCES, RowRequest, SourceRow


def evaluate_row(kind: str, request: RowRequest, evaluations: Sequence[str] | None = None,
                 encoder_settings: dict[str, dict[str, Any]] | None = None) -> tuple[dict[str, Any], SourceRow] | None:
    """Make the row ``request`` of the source ``kind`` and evaluate it: (result, the source's row), or None on a
    process that does not evaluate (a DDP rank > 0 after training).

    ``result``: the metrics of every requested evaluation, the source's extras, ``protocol`` (the source's fields
    and each evaluation's under its name). Evaluations that need an encoder run with ``encoder_settings[name]``;
    only sources that have one (trained runs) take them."""
    source = SOURCES.get(kind)
    names = list(DEFAULT_EVALUATIONS if evaluations is None else evaluations)
    on_features = [name for name in names if EVALUATIONS.get(name).needs == "features"]
    on_encoder = [name for name in names if EVALUATIONS.get(name).needs == "encoder"]
    if on_encoder and not source.has_encoder:
        raise UserError(f"{', '.join(on_encoder)} needs an encoder of single images, which a {kind} row does not "
                        f"have; evaluate a trained run with it, or drop it")
    check_sizes(names, request.dataset, request.subset)  # before training or fitting, not after
    if source.prepare is not None and not source.prepare(request):
        return None
    row = source.rows(request)
    with row.clock.stage("evaluation") if row.clock else contextlib.nullcontext():
        result = evaluate_features(row.splits, on_features, request.seed)
    result.update(row.extras)
    result["protocol"].update(row.protocol.to_dict())
    if request.test_subset is not None:
        result["protocol"]["test_subset"] = request.test_subset
    if on_encoder:
        target = row.encoder()
        for name in on_encoder:
            with row.clock.stage(f"evaluation/{name}") if row.clock else contextlib.nullcontext():
                result[name] = EVALUATIONS.get(name).evaluate(target, **(encoder_settings or {}).get(name, {}))
    if row.clock:  # the stages, each evaluation included, and the process's peak memory so far
        result.update(stages=row.clock.stages, peak_memory_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if source.record is not None:
        source.record(request, result)
    return result, row


def evaluate_source(kind: str, request: RowRequest, evaluations: Sequence[str] | None = None,
                    encoder_settings: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The result of :func:`evaluate_row` ({} on a process that does not evaluate)."""
    found = evaluate_row(kind, request, evaluations, encoder_settings)
    return {} if found is None else found[0]
