"""Launchers hand a suite's pending cells to processes: ``local`` (child processes on this machine, N at once) and
``slurm`` (one task of a Slurm job array per cell, through submitit). Every cell runs
:func:`ssl_bench.bench.cells.run_cell` in its own run directory; results come back only as outcome files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssl_bench.bench.store import RunCell
from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import setting
from ssl_bench.core.validation import check_fields

LAUNCHERS = ("local", "slurm")


@dataclass(frozen=True)
class LaunchSettings:
    """Where and how a suite's cells run: ``ssl-bench suite run``'s flags and a suite's ``launcher:`` block (flags
    win). Resources other than ``parallel`` and ``gpus_per_cell`` are Slurm's."""

    launcher: str = setting("local", choices=LAUNCHERS,
                            help="local: child processes on this machine; slurm: one Slurm array task per cell")
    parallel: int = setting(1, minimum=1, help="cells at once (local: processes; slurm: array tasks running at once)")
    gpus_per_cell: int = setting(0, minimum=0, help="GPUs each cell gets (local: through CUDA_VISIBLE_DEVICES; "
                                                    "slurm: per node, one DDP rank per GPU)")
    nodes: int = setting(1, minimum=1, help="slurm: nodes per cell (DDP across them)")
    tasks_per_node: int | None = setting(None, minimum=1, help="slurm: processes (DDP ranks) per node for one "
                                                               "cell (default: --gpus-per-cell, or 1)")
    cpus_per_cell: int | None = setting(None, minimum=1, help="slurm: CPUs per task (default: the partition's)")
    mem_gb: int | None = setting(None, minimum=1, help="slurm: memory per node in GB (default: the partition's)")
    time_min: int = setting(60, minimum=1, help="slurm: time limit per cell in minutes; a cell that reaches it is "
                                                 "checkpointed and requeued")
    partition: str | None = setting(None, help="slurm: partition (default: the cluster's)")
    account: str | None = setting(None, help="slurm: account to charge")
    qos: str | None = setting(None, help="slurm: quality of service")
    constraint: str | None = setting(None, help="slurm: node features required, e.g. a100")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.launcher not in LAUNCHERS:
            raise UserError(f"unknown launcher {self.launcher!r}; choose one of: {', '.join(LAUNCHERS)}")

    @property
    def ranks_per_node(self) -> int:
        return self.tasks_per_node or max(self.gpus_per_cell, 1)


def make_launch_settings(values: dict[str, Any]) -> LaunchSettings:
    """:class:`LaunchSettings` from a mapping (a suite's ``launcher:`` block merged with flags)."""
    valid = [f.name for f in dataclasses.fields(LaunchSettings)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise UserError(f"unknown launcher setting(s) {unknown}; valid: {', '.join(valid)}")
    return LaunchSettings(**values)


@dataclass(frozen=True)
class CellJob:
    """A cell to run, where, and with which evaluations: the arguments of :func:`ssl_bench.bench.cells.run_cell`."""

    cell: RunCell
    run_dir: Path
    evaluations: tuple[str, ...]
    run_settings: dict[str, dict[str, Any]]

    @property
    def label(self) -> str:
        cell = self.cell
        return f"{cell.kind}:{cell.method}/{cell.backbone} on {cell.dataset} seed {cell.seed}"
