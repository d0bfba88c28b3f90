"""What a tracker is: something that opens for a run directory, takes each epoch's record and closes."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry


class Tracker(Protocol):
    def log(self, step: int, values: dict[str, float]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TrackerSpec:
    """A registered tracker: ``open(run_dir, config) -> Tracker``; ``module``: the library it needs, installed by
    ``pip install 'ssl-bench[EXTRA]'``."""

    name: str
    open: Callable[[Path, dict[str, Any]], Tracker]
    module: str
    extra: str
    description: str


TRACKERS: Registry[TrackerSpec] = Registry("tracker", package="ssl_bench.training.trackers")


def scalars(record: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers of an epoch record, nested dicts flattened with ``/`` (``{"loss_parts": {"invariance": 2.0}}`` ->
    ``loss_parts/invariance``); booleans as 0/1; ``epoch`` and ``attempt`` left out (the step, not a curve)."""
    found: dict[str, float] = {}
    for key, value in record.items():
        if key in ("epoch", "attempt") and not prefix:
            continue
        if isinstance(value, dict):
            found.update(scalars(value, f"{prefix}{key}/"))
        elif isinstance(value, (bool, int, float)):
            found[f"{prefix}{key}"] = float(value)
    return found


def check_trackers(names: list[str]) -> None:
    """One line naming the extra to install when a tracker's library is missing."""
    for name in names:
        spec = TRACKERS.get(name)
        if importlib.util.find_spec(spec.module) is None:
            raise UserError(f"--trackers {name} needs the {spec.module} package: pip install 'ssl-bench[{spec.extra}]' "
                            f"(or drop {name} from --trackers)")


def open_trackers(names: list[str], run_dir: Path, config: dict[str, Any]) -> list[Tracker]:
    """The trackers ``names`` opened for ``run_dir``; call :func:`check_trackers` first, before anything is
    written (the training loop does, ahead of its setup)."""
    opened: list[Tracker] = []
    for name in names:
        try:
            opened.append(TRACKERS.get(name).open(run_dir, config))
        except Exception as err:  # noqa: BLE001 - a tracker's library fails in its own ways; the user sees which
            for tracker in opened:
                tracker.close()
            detail = str(err).splitlines()[0][:200] if str(err) else ""
            raise UserError(f"--trackers {name} could not start ({type(err).__name__}: {detail}); fix its "
                            f"settings or drop it from --trackers") from None
    return opened
