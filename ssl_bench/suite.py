"""Suites: a YAML grid of runs (trained methods, spectral methods, baselines) x datasets x seeds -> the store.

A suite file::

    name: quick
    datasets: [fashion-mnist]
    subset: 5000                 # seeded class-balanced train subset (test split always complete)
    seeds: [0]
    evaluations: [knn, linear]   # registered evaluations: knn, linear, rankme, alpha-req, probe
    trained:                     # a block, or a list of blocks; every key of `ssl-bench train` may appear
      - methods: [simclr, vicreg, barlowtwins]
        backbones: [convnet]
        epochs: 10
      - methods: [byol]
        epochs: 10
        method_params: {predictor_hidden: [512]}
    spectral:                    # a block, or a list of blocks with different settings
      - methods: [laplacian-eigenmaps, classical-mds]
        dim: 32
        graph: knn
      - methods: [vicreg-closed-form, simclr-closed-form]
        graph: views
        n_views: 8
        dim: 64
        features: nystroem
    baselines:
      methods: [raw-pixels, random-init]
      backbones: [convnet]

The whole file is validated before anything runs. Each cell runs in a child process (a crash or an
out-of-memory kill fails that cell only; its peak memory is measured alone). Finished cells are skipped, a
killed suite resumes where it stopped (a trained cell continues from its last epoch checkpoint), and a failing
cell is stored as failed with its error while the rest go on.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssl_bench.errors import UserError
from ssl_bench.progress import on_terminal, progress_bar
from ssl_bench.store import ResultStore, RunCell, RunInProgress
from ssl_bench.validation import check_value

SECTIONS = ("trained", "spectral", "baselines")
PR_SET_PDEATHSIG = 1  # linux/prctl.h
TOP_LEVEL_KEYS = ("name", "description", "datasets", "subset", "seeds", "evaluations", *SECTIONS)
BASELINE_KEYS = ("methods", "backbones")


@dataclass(frozen=True)
class Suite:
    name: str
    cells: tuple[RunCell, ...]
    evaluations: tuple[str, ...]
    run_settings: dict[str, dict[str, Any]]  # settings of the evaluations of trained encoders, by name (probe: ...)


def load_suite(path: str | Path) -> Suite:
    """Parse and validate a suite file; every mistake is reported before any run starts."""
    from ssl_bench.config import config_keys, load_yaml, make_config
    from ssl_bench.data.datasets import dataset_spec
    from ssl_bench.eval import DEFAULT_EVALUATIONS, check_evaluations, ordered
    from ssl_bench.evaluate import BASELINES
    from ssl_bench.spectral import SPECTRAL_METHODS
    from ssl_bench.spectral.settings import make_spectral_settings, spectral_setting_keys

    path = Path(path)
    spec = load_yaml(path, "suite file")
    _check_keys(spec, (*TOP_LEVEL_KEYS, *(e.name for e in ordered("run"))), f"{path}")
    name = spec.get("name") or path.stem
    check_value("name", name, str)
    datasets = _names(spec.get("datasets", ["fashion-mnist"]), "datasets")
    for dataset in datasets:
        dataset_spec(dataset)
    seeds = _as_list(spec.get("seeds", [0]))
    for seed in seeds:
        check_value("seeds", seed, int, minimum=0)
    subset = spec.get("subset")
    check_value("subset", subset, int | None, minimum=2)
    evaluations = check_evaluations(_names(spec.get("evaluations", DEFAULT_EVALUATIONS), "evaluations"))
    cells: list[RunCell] = []

    for block in _as_list(spec.get("trained") or []):  # one block, or a list of blocks with other settings
        trained = _mapping(block, "each trained block (methods: and settings)")
        methods = _names(trained.pop("methods", []), "trained methods")
        backbones = _names(trained.pop("backbones", ["convnet"]), "trained backbones")
        epochs = trained.pop("epochs", 10)
        check_value("epochs", epochs, int, minimum=1)
        _check_keys(trained, [k for k in config_keys() if k not in ("method", "backbone", "epochs", "seed",
                                                                     "dataset", "out", "subset")], "trained")
        for dataset in datasets:
            for method in methods:
                for backbone in backbones:
                    for seed in seeds:
                        make_config({"method": method, "dataset": dataset, "backbone": backbone, "epochs": epochs,
                                     "seed": seed, "subset": subset, **trained})
                        cells.append(RunCell(name, "trained", method, dataset, "test", backbone,
                                             {"subset": subset, **trained}, epochs, seed))

    for block in _as_list(spec.get("spectral") or []):  # one block, or a list of blocks with other settings
        spectral = _mapping(block, "each spectral block (methods: and settings)")
        _check_keys(spectral, ("methods", *spectral_setting_keys()), "spectral")
        methods = _names(spectral.pop("methods", []), "spectral methods")
        make_spectral_settings(spectral)
        for method in methods:
            SPECTRAL_METHODS.get(method)
        for dataset in datasets:
            for method in methods:
                for seed in seeds:
                    cells.append(RunCell(name, "spectral", method, dataset, "test", "pixels",
                                         {"subset": subset, **spectral}, 0, seed))

    baselines = _mapping(spec.get("baselines") or {}, "baselines")
    if baselines:
        _check_keys(baselines, BASELINE_KEYS, "baselines")
        for dataset in datasets:
            for method in _names(baselines.get("methods", []), "baseline methods"):
                _check_choice(method, BASELINES, "baseline")
                backbones = ["pixels"] if method == "raw-pixels" else _names(baselines.get("backbones", ["convnet"]),
                                                                              "baseline backbones")
                for backbone in backbones:
                    for seed in seeds:
                        cells.append(RunCell(name, "baseline", method, dataset, "test", backbone,
                                             {"subset": subset}, 0, seed))
    if not cells:
        raise UserError(f"suite {path} has no runs; add methods under one of: {', '.join(SECTIONS)}")
    run_settings = {}
    for evaluation in ordered("run"):
        settings = _mapping(spec.get(evaluation.name) or {}, evaluation.name)
        _check_keys(settings, evaluation.settings, evaluation.name)
        run_settings[evaluation.name] = settings
    return Suite(name, tuple(cells), evaluations, run_settings)


def run_suite(path: str | Path, store_path: str | Path | None = None, runs_dir: str | Path = "runs",
              device: str = "auto", progress: bool = True) -> dict[str, int]:
    """Run every cell of a suite not yet done; return counts of done / skipped / failed cells."""
    suite = load_suite(path)
    store = ResultStore(store_path)
    counts = {"done": 0, "skipped": 0, "failed": 0}
    context = multiprocessing.get_context("spawn")
    bar = _SuiteProgress(len(suite.cells), suite.name, progress)
    for cell in suite.cells:
        label = f"{cell.kind}:{cell.method}/{cell.backbone} on {cell.dataset} seed {cell.seed}"
        if store.is_done(cell.run_id):
            counts["skipped"] += 1
            bar.advance(label + " (done before)")
            continue
        try:
            run_id = store.start_run(cell)
        except RunInProgress as busy:  # another live suite process has this cell
            counts["skipped"] += 1
            print(f"skipped: {label}: {busy}", file=sys.stderr)
            bar.advance(label)
            continue
        run_dir = Path(runs_dir) / suite.name / run_id
        started = time.perf_counter()
        with context.Pool(1, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            try:
                outcome = pool.apply(_run_cell, (cell, suite.evaluations, suite.run_settings, str(run_dir), device, progress))
            except Exception as err:  # a child that died or raised: this cell fails, the suite goes on
                outcome = {"error": f"{type(err).__name__}: {err}"}
        if "error" in outcome:
            store.fail_run(run_id, outcome["error"])
            counts["failed"] += 1
            print(f"failed: {label}: {outcome['error'].strip().splitlines()[-1]}", file=sys.stderr)
        else:
            store.finish_run(run_id, outcome["metrics"], outcome.get("epoch_metrics"), outcome["protocol"],
                             wall_time_s=time.perf_counter() - started, peak_memory_mb=outcome["peak_memory_mb"])
            counts["done"] += 1
        bar.advance(label)
    bar.close()
    store.close()
    return counts


def _die_with_parent(parent: int) -> None:
    """In a cell's worker: the kernel kills this process when the suite process dies (even by SIGKILL), so a killed
    suite leaves no worker training on in its run directory (Linux: prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the suite died before the line above took effect
        os._exit(1)


def _run_cell(cell: RunCell, evaluations: tuple[str, ...], run_settings: dict[str, dict[str, Any]], run_dir: str,
              device: str, progress: bool) -> dict[str, Any]:
    """Runs in a child process: train/embed and evaluate one cell; returns metrics or the error text."""
    try:
        from ssl_bench.eval import EVALUATIONS

        on_features = [name for name in evaluations if EVALUATIONS.get(name).needs == "features"]
        epoch_metrics = None
        if cell.kind == "trained":
            result, epoch_metrics = _run_trained(cell, on_features, run_dir, device, progress)
        elif cell.kind == "spectral":
            from ssl_bench.spectral.pipeline import evaluate_spectral
            from ssl_bench.spectral.settings import make_spectral_settings

            settings = {key: value for key, value in cell.hparams.items() if key != "subset"}
            result = evaluate_spectral(cell.method, cell.dataset, make_spectral_settings(settings),
                                       cell.hparams.get("subset"), cell.seed, evaluations=on_features)
        else:
            from ssl_bench.evaluate import evaluate_baseline

            result = evaluate_baseline(cell.method, cell.dataset, cell.backbone, cell.hparams.get("subset"),
                                       cell.seed, evaluations=on_features, device=device)
        if cell.kind == "trained":  # evaluations of the trained encoder itself (the equivariance probe)
            for name in evaluations:
                evaluation = EVALUATIONS.get(name)
                if evaluation.needs == "run":
                    result[name] = evaluation.evaluate(run_dir, **run_settings.get(name, {}))
        protocol = result.pop("protocol")
        return {"metrics": result, "protocol": protocol, "epoch_metrics": epoch_metrics,
                "peak_memory_mb": _peak_memory_mb()}
    except BaseException:  # noqa: BLE001 - reported to the parent, which records it
        return {"error": traceback.format_exc()}


def _run_trained(cell: RunCell, evaluations: list[str], run_dir: str, device: str,
                 progress: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import json

    from ssl_bench.config import make_config
    from ssl_bench.evaluate import evaluate_run
    from ssl_bench.train import train

    config = make_config({"method": cell.method, "dataset": cell.dataset, "backbone": cell.backbone,
                          "epochs": cell.epochs, "seed": cell.seed, "out": run_dir, "device": device,
                          **cell.hparams})
    train(config, resume=True, progress=progress)
    result = evaluate_run(run_dir, evaluations, device=device)
    history = json.loads((Path(run_dir) / "metrics.json").read_text())
    result["final_epoch"] = {k: history[-1][k] for k in ("loss", "embedding_std_ratio", "effective_rank", "collapsed")}
    return result, history


def _peak_memory_mb() -> float:
    """Peak resident memory of this (child) process, plus peak CUDA memory when a GPU was used."""
    import torch

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        peak += torch.cuda.max_memory_allocated() / 2**20
    return peak


class _SuiteProgress:
    """A bar over the suite's cells on a terminal; elsewhere (a log file) one line per finished cell."""

    def __init__(self, total: int, name: str, enabled: bool) -> None:
        self.total, self.count, self.enabled = total, 0, enabled
        self.bar = progress_bar(total, f"suite {name}", disable=not enabled, unit="run", position=0)

    def advance(self, label: str) -> None:
        self.count += 1
        self.bar.set_postfix_str(label)
        self.bar.update()
        if self.enabled and not on_terminal():
            print(f"[{self.count}/{self.total}] {label}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UserError(f"{what} must be a mapping of keys to values, got {value!r}")
    return dict(value)


def _names(value: Any, what: str) -> list[str]:
    """A name or a list of names (strings); anything else is one UserError line."""
    names = _as_list(value)
    if not all(isinstance(name, str) and name for name in names):
        raise UserError(f"{what} must be a name or a list of names, got {value!r}")
    return names


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check_keys(mapping: dict[str, Any], valid: Any, where: str) -> None:
    unknown = sorted(set(mapping) - set(valid))
    if unknown:
        raise UserError(f"unknown key(s) {unknown} in {where}; valid keys: {', '.join(sorted(valid))}")


def _check_choice(value: str, valid: Any, what: str) -> None:
    if value not in valid:
        raise UserError(f"unknown {what} {value!r}; choose one of: {', '.join(valid)}")
