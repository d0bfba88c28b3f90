"""ssl-bench from Python: what the CLI does, as functions (``import ssl_bench``; every name here is also
``ssl_bench.NAME``). The commands call these same functions.

- :func:`evaluate_encoder`: any ``nn.Module`` encoder on a registered dataset, with any registered evaluations;
  the metrics come back with their protocol. The encoder is evaluated in eval mode under ``inference_mode`` and
  given back unchanged (modes, device, weights and buffers).
- :func:`evaluate_run`, :func:`evaluate_baseline`, :func:`evaluate_spectral` (fit a closed form),
  :func:`evaluate_pretrained`: the other rows, as ``ssl-bench eval`` and ``ssl-bench spectral`` make them.
- :func:`train` with a :class:`TrainConfig`; :func:`load_encoder` of a run directory.
- :func:`open_store` (query runs), :func:`record_result` (put a result on a board), :func:`add_run` (a run
  directory), :func:`import_result` (a result document from elsewhere).

Examples
--------
>>> import torch, ssl_bench
>>> encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 32), torch.nn.BatchNorm1d(32))
>>> result = ssl_bench.evaluate_encoder(encoder, "synthetic", name="my-encoder", evaluations=["knn", "rankme"])
>>> sorted(key for key in result if key.startswith("knn"))
['knn_top1', 'knn_top1_k20']
>>> result["protocol"]["method"], result["protocol"]["normalization"], result["protocol"]["knn"]["k"]
('my-encoder', 'dataset', 200)
>>> encoder.training  # given back as it came
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from torch import Tensor, nn

from ssl_bench.bench.results import read_document, result_document, store_document
from ssl_bench.bench.store import ResultStore, RunCell
from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import DEFAULT_DATASET, MANUAL_SUITE
from ssl_bench.sources.base import RowRequest
from ssl_bench.sources.baseline import evaluate_baseline
from ssl_bench.sources.encoder import evaluate_pretrained
from ssl_bench.sources.rows import evaluate_source
from ssl_bench.sources.spectral import evaluate_spectral
from ssl_bench.sources.trained import evaluate_run
from ssl_bench.training.config import TrainConfig, make_config
from ssl_bench.training.loop import train
from ssl_bench.training.run_dir import load_encoder, load_run_config, read_history

__all__ = ["TrainConfig", "add_run", "evaluate_baseline", "evaluate_encoder", "evaluate_pretrained", "evaluate_run",
           "evaluate_spectral", "import_result", "load_encoder", "open_store", "record_result", "train"]
HPARAM_KEYS = ("batch_size", "optimizer", "lr", "weight_decay", "weight_decay_end", "warmup_epochs", "method_params",
               "augment")


class _BoundMethod(nn.Module):
    """A method of a module (``model.forward_features``) as a module, so its owner's modes are handled."""

    def __init__(self, method: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.owner, self.name = method.__self__, method.__name__

    def forward(self, images: Tensor) -> Tensor:
        return getattr(self.owner, self.name)(images)


def evaluate_encoder(encoder: nn.Module | Callable[[Tensor], Tensor], dataset: str = DEFAULT_DATASET, *,
                     name: str = "encoder", evaluations: Sequence[str] | None = None, subset: int | None = None,
                     seed: int = 0, channels: int | None = None, image_size: int | None = None,
                     normalization: str = "dataset", device: str = "auto", download: bool = False,
                     test_subset: int | None = None) -> dict[str, Any]:
    """Evaluate ``encoder`` (images (B, C, H, W) -> features (B, ...)) on ``dataset`` like every other row.

    Images are given to it as the protocol says: uint8 -> [0, 1], grey replicated to 3 channels when
    ``channels=3``, resized to ``image_size`` when given, then standardised with the train split's per-channel
    statistics (``normalization="dataset"``, as ssl-bench's runs train) or ImageNet's (``"imagenet"``). The train
    split (a seeded class-balanced ``subset`` when given) is the kNN database and the probe's training data; the
    test split (or a class-balanced ``test_subset`` of it, as a suite's) is scored. ``name`` is the row's method in the protocol and on a board.

    ``encoder`` is an ``nn.Module`` or a method of one (``model.forward_features``); any other callable is refused,
    since its modules could not be put in eval mode. Returns the metrics and ``protocol`` (the row's fields and
    each evaluation's under its name)."""
    module = _as_module(encoder)
    parameters = next(iter(module.parameters()), None)
    home = parameters.device if parameters is not None else None
    settings = {"module": module, "channels": channels, "image_size": image_size, "normalization": normalization}
    try:
        return evaluate_source("encoder", RowRequest(name, dataset, name, subset, seed, settings, device=device,
                                                     download=download, test_subset=test_subset), evaluations)
    finally:
        if home is not None:
            module.to(home)


def _as_module(encoder: Any) -> nn.Module:
    if isinstance(encoder, nn.Module):
        return encoder
    if isinstance(getattr(encoder, "__self__", None), nn.Module):
        return _BoundMethod(encoder)
    raise UserError(f"evaluate_encoder needs an nn.Module (or a method of one, e.g. model.forward_features), got "
                    f"{type(encoder).__name__}; wrap a function in an nn.Module so that its layers can be put in "
                    f"eval mode")


def open_store(path: str | Path | None = None) -> ResultStore:
    """The results store at ``path`` (default: ``$SSL_BENCH_STORE`` or ``results/ssl_bench.sqlite``), which must
    exist; ``store.runs(suite=...)`` lists its runs as :class:`~ssl_bench.bench.store.RunRecord`."""
    return ResultStore(path, create=False)


def record_result(result: dict[str, Any], store: str | Path | None = None, *, suite: str = MANUAL_SUITE,
                  kind: str = "encoder", hparams: dict[str, Any] | None = None, source: str = "",
                  tool: str = "ssl-bench (Python API)", epoch_metrics: list[dict[str, Any]] | None = None) -> str:
    """Put ``result`` (what an ``evaluate_*`` function returns) into the store at ``store`` (created if missing)
    as a run of ``suite`` (``ssl-bench leaderboard --suite SUITE`` shows it); returns its run id. The cell is read
    from the result's protocol; ``hparams`` tell it from other runs of the same method (default: its subset, and
    its test subset when it was scored on one)."""
    protocol = result["protocol"]
    scored_on = {"test_subset": protocol["test_subset"]} if protocol.get("test_subset") is not None else {}
    cell = RunCell(suite, kind, protocol["method"], protocol["dataset"], backbone=protocol["backbone"],
                   hparams={"subset": protocol.get("subset"), **scored_on, **(hparams or {})},
                   epochs=protocol["epochs"], seed=protocol["seed"])
    document = result_document(cell, result, tool, source or protocol["method"], epoch_metrics)
    with ResultStore(store) as opened:
        run_id, new = store_document(opened, document)
    if not new:
        raise UserError(f"run {run_id} ({cell.method} on {cell.dataset}, seed {cell.seed}) is already in suite "
                        f"{suite!r}; it is kept (record under another --suite to keep both)")
    return run_id


def add_run(run_dir: str | Path, store: str | Path | None = None, *, suite: str = MANUAL_SUITE,
            features: str = "backbone", result: dict[str, Any] | None = None) -> str:
    """Put a run directory of ``ssl-bench train`` into the store: its evaluation ``result`` (default: the one
    ``ssl-bench eval`` kept, ``RUN_DIR/eval-FEATURES.json``) with its epoch records; returns the run id. The
    run's settings other than its defaults are its hparams."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    if result is None:
        path = run_dir / f"eval-{features}.json"
        if not path.is_file():
            raise UserError(f"{run_dir} has no evaluation ({path.name}); run ssl-bench eval {run_dir} --store "
                            f"(it evaluates and records)")
        result = json.loads(path.read_text())
    defaults = make_config({"method": config.method})
    hparams = {key: getattr(config, key) for key in HPARAM_KEYS if getattr(config, key) != getattr(defaults, key)}
    history = [record for record in read_history(run_dir) or [] if isinstance(record.get("epoch"), int)]
    return record_result(result, store, suite=suite, kind="trained", hparams=hparams, source=str(run_dir),
                         tool="ssl-bench train + eval", epoch_metrics=history)


def import_result(path: str | Path, store: str | Path | None = None) -> tuple[str, bool]:
    """Put the result document (or a suite cell's ``outcome.json``) at ``path`` into the store after checking it
    (:mod:`ssl_bench.bench.results`): (run id, whether it was new)."""
    document = read_document(Path(path))
    with ResultStore(store) as opened:
        return store_document(opened, document)
