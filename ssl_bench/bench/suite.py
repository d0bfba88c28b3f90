"""Suites: a YAML grid of runs (trained methods, spectral methods, baselines) x datasets x seeds -> the store.

A suite file::

    name: quick
    datasets: [fashion-mnist]
    subset: 5000                 # seeded class-balanced train subset; "all": the whole split
    test_subset: 2000            # optional: every row scored on one class-balanced draw of the test split
    seeds: [0]
    evaluations: [knn, linear]   # registered evaluations: knn, linear, rankme, alpha-req, probe
    trained:                     # a block, or a list of blocks; every key of `ssl-bench train` may appear
      - methods: [simclr, vicreg, barlowtwins]
        backbones: [convnet]
        epochs: 10
      - methods: [byol]
        epochs: 10
        method_params: {predictor_hidden: [512]}
        seeds: [0, 1, 2]         # any block may name its own seeds (they replace the suite's)
      - methods: [simclr]        # any block may sweep its settings: one block per combination
        sweep: {lr: [0.1, 0.3], augment.crop_scale: [[0.08, 1.0], [0.5, 1.0]]}   # ssl_bench.bench.sweep
    spectral:                    # a block, or a list of blocks with different settings
      - methods: [laplacian-eigenmaps, classical-mds]
        dim: 32
        graph: knn
      - methods: [vicreg-closed-form, simclr-closed-form]
        graph: views
        n_views: 8
        dim: 64
        features: nystroem
      - methods: [laplacian-eigenmaps]
        subset: all              # a spectral or baselines block may set its own subset (here: the whole split)
    baselines:                   # a block, or a list of blocks
      methods: [raw-pixels, random-init]
      backbones: [convnet]
    encoders:                    # encoders trained elsewhere (ssl_bench.models.pretrained), same protocol
      - spec: resnet18           # torchvision:NAME | timm:NAME | an ssl-bench backbone
        weights: solo-learn-simclr.ckpt    # relative to this file; or "default" (the library's weights)
        image_size: 32

    launcher:                    # optional: where the cells run (ssl_bench.bench.launchers.LaunchSettings; flags win)
      launcher: slurm
      partition: gpu
      gpus_per_cell: 1

The whole file is validated before anything runs. Each cell runs in its own process (a local child or a Slurm
task; a crash or an out-of-memory kill fails that cell only; its peak memory is measured alone) and writes its
outcome into its run directory (:mod:`ssl_bench.bench.cells`); the store ingests finished outcomes. Finished cells are
skipped, a killed suite resumes where it stopped (a trained cell continues from its last epoch checkpoint), and a
failing cell is stored as failed with its error while the rest go on.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssl_bench.bench.cells import LOCK, is_running, read_outcome, row_request, write_failure
from ssl_bench.bench.launchers import CellJob, make_launch_settings, slurm
from ssl_bench.bench.launchers.local import run_local
from ssl_bench.bench.references import PublishedResult, parse_references
from ssl_bench.bench.store import ResultStore, RunCell
from ssl_bench.bench.sweep import expand_sweep
from ssl_bench.core.errors import UserError
from ssl_bench.core.progress import on_terminal, progress_bar
from ssl_bench.core.settings import MAX_SEED
from ssl_bench.core.validation import as_list, check_keys, check_mapping, check_value

TOP_LEVEL_KEYS = ("name", "description", "datasets", "subset", "test_subset", "seeds", "evaluations", "launcher", "parity",
                  "references")


@dataclass(frozen=True)
class Suite:
    name: str
    cells: tuple[RunCell, ...]
    evaluations: tuple[str, ...]
    run_settings: dict[str, dict[str, Any]]  # settings of the evaluations of trained encoders, by name (probe: ...)
    launch: dict[str, Any] = field(default_factory=dict)  # the launcher: block (LaunchSettings values)
    references: tuple[PublishedResult, ...] = ()  # published results to show beside ours (ssl_bench.bench.references)
    parity: Path | None = None  # the recipe-parity table (suites/parity/*.yaml), relative paths from the suite file


def load_suite(path: str | Path) -> Suite:
    """Parse and validate a suite file; every mistake is reported before any run starts."""
    from ssl_bench.core.settings import load_yaml
    from ssl_bench.eval import DEFAULT_EVALUATIONS, check_evaluations
    from ssl_bench.sources.base import check_names, ordered_sources

    path = Path(path)
    spec = load_yaml(path, "suite file")
    sources, encoder_evaluations = ordered_sources(), _encoder_evaluations()
    check_keys(spec, (*TOP_LEVEL_KEYS, *(s.section for s in sources), *encoder_evaluations), f"{path}")
    name = spec.get("name") or path.stem
    check_value("name", name, str)
    datasets, seeds = _datasets(spec), _seeds(spec)
    evaluations = check_evaluations(check_names(spec.get("evaluations", DEFAULT_EVALUATIONS), "evaluations"))
    cells = _cells(spec, path, name, datasets, seeds, sources, _test_subset(spec, datasets))
    if not cells:
        raise UserError(f"suite {path} has no runs; add methods under one of: {', '.join(s.section for s in sources)}")
    run_settings = {}
    for evaluation, allowed in encoder_evaluations.items():
        settings = check_mapping(spec.get(evaluation) or {}, evaluation)
        check_keys(settings, allowed, evaluation)
        run_settings[evaluation] = settings
    launch = check_mapping(spec.get("launcher") or {}, "launcher")
    make_launch_settings(launch)
    _check_sizes(path, cells, evaluations, run_settings)
    trained: dict[str, set[str]] = {}
    for cell in cells:
        if cell.epochs:
            trained.setdefault(cell.method, set()).add(cell.backbone)
    references = parse_references(spec.get("references"), datasets, trained)
    return Suite(name, tuple(cells), evaluations, run_settings, launch, references, _parity(spec, path))


def _check_sizes(path: Path, cells: list[RunCell], evaluations: Sequence[str],
                 run_settings: dict[str, dict[str, Any]]) -> None:
    """Every cell's subset against each evaluation's ``check_size`` (:func:`ssl_bench.eval.base.check_sizes`) and
    the suite's settings of each evaluation against its ``check_settings``: refused here, before any cell runs."""
    from ssl_bench.eval.base import EVALUATIONS, check_sizes

    for cell in cells:
        try:
            check_sizes(evaluations, cell.dataset, row_request(cell).subset)
            for evaluation in (EVALUATIONS.get(name) for name in evaluations):
                if evaluation.check_settings is not None:
                    evaluation.check_settings(cell.dataset, run_settings.get(evaluation.name, {}))
        except UserError as err:
            raise UserError(f"{path}: {cell.kind}:{cell.method} on {cell.dataset}: {err}") from None


def _encoder_evaluations() -> dict[str, tuple[str, ...]]:
    """The evaluations of an encoder (the probe) by name, with the settings a suite may give them."""
    from ssl_bench.eval import ordered

    return {evaluation.name: evaluation.settings for evaluation in ordered("encoder")}


def _datasets(spec: dict[str, Any]) -> list[str]:
    from ssl_bench.core.settings import DEFAULT_DATASET
    from ssl_bench.data.datasets import dataset_spec
    from ssl_bench.sources.base import check_names

    datasets = check_names(spec.get("datasets", [DEFAULT_DATASET]), "datasets")
    for dataset in datasets:
        dataset_spec(dataset)
    return datasets


def _seeds(spec: dict[str, Any]) -> list[int]:
    seeds = as_list(spec.get("seeds", [0]))
    for seed in seeds:
        check_value("seeds", seed, int, minimum=0, maximum=MAX_SEED)
    return seeds


def _test_subset(spec: dict[str, Any], datasets: list[str]) -> int | None:
    """The suite's ``test_subset:``: every row scored on the same class-balanced part of the test split."""
    from ssl_bench.data.datasets import MIN_SUBSET, dataset_spec

    test_subset = spec.get("test_subset")
    check_value("test_subset", test_subset, int | None, minimum=MIN_SUBSET, hint="or leave it out for the whole split")
    for dataset in datasets:
        size = dataset_spec(dataset).n_test
        if test_subset is not None and size is not None and test_subset > size:
            raise UserError(f"test_subset {test_subset} is larger than the {size} test images of {dataset}; lower it "
                            "or leave it out for the whole split")
    return test_subset


def _cells(spec: dict[str, Any], path: Path, name: str, datasets: list[str], seeds: list[int],
           sources: list[Any], test_subset: int | None = None) -> list[RunCell]:
    """Every section's blocks crossed with the datasets and seeds (a block's own ``seeds:`` replaces the suite's),
    each cell checked by its source; ``test_subset`` joins every cell's settings. A cell that two blocks ask for
    (the closed-form counterpart of trained cells that differ only in what the closed form does not read, e.g. lr)
    is kept once, where it first appears."""
    from ssl_bench.sources.base import SOURCES, SuiteContext, block_subset

    context = SuiteContext(path, block_subset(spec, None))
    cells: dict[str, RunCell] = {}
    for source in sources:
        blocks = as_list(spec.get(source.section) or [])  # one block, or a list of blocks
        for variant in (variant for block in blocks for variant in expand_sweep(block)):
            block_seeds = seeds
            if isinstance(variant, dict) and "seeds" in variant:
                variant = dict(variant)
                block_seeds = _seeds({"seeds": variant.pop("seeds")})
            rows = source.block_rows(variant, context)
            for dataset in datasets:
                for row in rows:
                    for seed in block_seeds:
                        settings = row.settings if test_subset is None else {**row.settings,
                                                                             "test_subset": test_subset}
                        kind = row.kind or source.kind
                        cell = RunCell(name, kind, row.name, dataset, "test", row.backbone, settings, row.epochs, seed)
                        check = SOURCES.get(kind).check
                        if check is not None:
                            check(row_request(cell))
                        cells.setdefault(cell.run_id, cell)
    return list(cells.values())


def _parity(spec: dict[str, Any], path: Path) -> Path | None:
    """The recipe-parity table a suite names, relative to the suite file."""
    if spec.get("parity") is None:
        return None
    check_value("parity", spec["parity"], str)
    parity = path.parent / spec["parity"]
    if not parity.is_file():
        raise UserError(f"the parity table {parity} named by {path} does not exist")
    return parity


def suite_dir_of(suite: Suite, runs_dir: str | Path) -> Path:
    """RUNS/SUITE, absolute so that any node of a cluster finds it: the suite's run directories and Slurm files."""
    return (Path(runs_dir) / suite.name).resolve()


def run_dir_of(suite: Suite, cell: RunCell, runs_dir: str | Path) -> Path:
    """Where a cell's run directory is: RUNS/SUITE/RUN_ID."""
    return suite_dir_of(suite, runs_dir) / cell.run_id


def cell_jobs(suite: Suite, runs_dir: str | Path) -> list[CellJob]:
    return [CellJob(cell, run_dir_of(suite, cell, runs_dir), suite.evaluations, suite.run_settings)
            for cell in suite.cells]


def collect(suite: Suite, store: ResultStore, runs_dir: str | Path) -> dict[str, int]:
    """Ingest every finished outcome file of ``suite`` into ``store`` (idempotent); counts of new done / failed."""
    counts = {"done": 0, "failed": 0}
    for job in cell_jobs(suite, runs_dir):
        outcome = read_outcome(job.run_dir)
        if outcome is not None and store.ingest(job.cell, outcome):
            counts[outcome["status"]] += 1
    return counts


def run_suite(path: str | Path, store_path: str | Path | None = None, runs_dir: str | Path = "runs",
              device: str = "auto", progress: bool = True, launch: dict[str, Any] | None = None,
              wait: bool = True) -> dict[str, Any]:
    """Run (or submit) every cell of a suite not yet done; return counts of done / skipped / failed cells.

    ``launch``: :class:`~ssl_bench.bench.launchers.LaunchSettings` values over the suite's ``launcher:`` block.
    Finished outcomes already on disk are collected first, so a cell is never run twice. With the Slurm launcher,
    ``wait=False`` returns after submitting (``job_id`` in the result)."""
    suite = load_suite(path)
    settings = make_launch_settings({**suite.launch, **(launch or {})})
    if settings.launcher == "slurm":
        slurm.check_slurm_available()  # before the store is created
    store = ResultStore(store_path)
    counts: dict[str, Any] = {"done": 0, "skipped": 0, "failed": 0}
    collect(suite, store, runs_dir)
    pending = [job for job in cell_jobs(suite, runs_dir) if not store.is_done(job.cell.run_id)]
    counts["skipped"] = len(suite.cells) - len(pending)
    bar = _SuiteProgress(len(suite.cells), suite.name, progress)
    bar.skip(counts["skipped"])

    def record(job: CellJob, outcome: dict[str, Any] | None) -> None:
        if outcome is None:
            counts["skipped"] += 1
        else:
            store.ingest(job.cell, outcome)
            counts[outcome["status"]] += 1
            if outcome["status"] == "failed":
                print(f"failed: {job.label}: {outcome['error'].strip().splitlines()[-1]}", file=sys.stderr)
        bar.advance(job.label)

    if settings.launcher == "local":
        run_local(pending, device, settings.parallel, settings.gpus_per_cell, progress, record)
    else:
        suite_dir = suite_dir_of(suite, runs_dir)
        submitted = slurm.submitted_jobs(suite_dir)
        queued = slurm.queue_states(list(submitted.values()))
        to_submit = [job for job in pending if submitted.get(job.cell.run_id) not in queued]
        if len(to_submit) < len(pending):
            print(f"{len(pending) - len(to_submit)} cells are already queued on Slurm; not submitted again",
                  file=sys.stderr)
        if to_submit:
            counts["job_id"] = slurm.submit(to_submit, settings, device, suite_dir, suite.name)
            print(f"submitted {len(to_submit)} cells as Slurm job array {counts['job_id']}; follow them with: "
                  f"ssl-bench suite status {path}", file=sys.stderr)
        if wait:
            _wait_for_slurm(pending, suite_dir, record)
    bar.close()
    store.close()
    return counts


def _wait_for_slurm(jobs: list[CellJob], suite_dir: Path, record: Any, poll_s: float = 2.0) -> None:
    """Until every submitted cell has an outcome: record outcomes as they appear; a task that left the queue
    without one (cancelled, killed by the node) is recorded failed, pointing at its log."""
    job_ids = slurm.submitted_jobs(suite_dir)
    waiting = list(jobs)
    while waiting:
        queued = slurm.queue_states([job_ids[job.cell.run_id] for job in waiting])
        for job in list(waiting):
            outcome = read_outcome(job.run_dir)
            job_id = job_ids[job.cell.run_id]
            if outcome is None and job_id not in queued and not is_running(job.run_dir):
                outcome = read_outcome(job.run_dir) or write_failure(
                    job.run_dir, f"Slurm job {job_id} ended without a result; see {slurm.log_path(suite_dir, job_id)}\n")
            if outcome is not None:
                waiting.remove(job)
                record(job, outcome)
        if waiting:
            time.sleep(poll_s)


def suite_status(suite: Suite, store: ResultStore, runs_dir: str | Path) -> list[dict[str, Any]]:
    """Each cell's state after collecting finished outcomes: done, failed (with its error line), running,
    queued (Slurm's state: pending, requeued, ...), lost (its Slurm job ended without a result), interrupted
    (resumes from epoch k on the next run) or pending."""
    collect(suite, store, runs_dir)
    suite_dir = suite_dir_of(suite, runs_dir)
    job_ids = slurm.submitted_jobs(suite_dir)
    queued = slurm.queue_states(list(job_ids.values()))
    rows = []
    for job in cell_jobs(suite, runs_dir):
        row = {"run_id": job.cell.run_id, "cell": job.label, "state": "pending", "detail": ""}
        stored = store.status(job.cell.run_id)
        job_id = job_ids.get(job.cell.run_id)
        if stored == "done":
            row["state"] = "done"
        elif job.run_dir.is_dir() and is_running(job.run_dir):
            row["state"], row["detail"] = "running", (job.run_dir / LOCK).read_text().strip()
        elif job_id in queued:
            row["state"], row["detail"] = queued[job_id].lower(), f"Slurm job {job_id}"
        elif stored == "failed":
            row["state"], row["detail"] = "failed", store.get(job.cell.run_id).error.strip().splitlines()[-1]
        elif job_id is not None:  # submitted, no longer queued, no outcome: cancelled or killed with its node
            row["state"] = "lost"
            row["detail"] = (f"Slurm job {job_id} ended without a result (see {slurm.log_path(suite_dir, job_id)}); "
                             f"suite run submits it again")
        elif (job.run_dir / "metrics.json").is_file():
            epochs = len(json.loads((job.run_dir / "metrics.json").read_text()))
            row["state"], row["detail"] = "interrupted", f"{epochs}/{job.cell.epochs} epochs saved; resumes on the next run"
        rows.append(row)
    return rows


class _SuiteProgress:
    """A bar over the suite's cells on a terminal; elsewhere (a log file) one line per finished cell."""

    def __init__(self, total: int, name: str, enabled: bool) -> None:
        self.total, self.count, self.enabled = total, 0, enabled
        self.bar = progress_bar(total, f"suite {name}", disable=not enabled, unit="run", position=0)

    def skip(self, count: int) -> None:
        """``count`` cells done before this run: counted on the bar, no line each."""
        self.count += count
        self.bar.update(count)

    def advance(self, label: str) -> None:
        self.count += 1
        self.bar.set_postfix_str(label)
        self.bar.update()
        if self.enabled and not on_terminal():
            print(f"[{self.count}/{self.total}] {label}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()
