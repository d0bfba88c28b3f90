"""A trained run as a row: its last checkpoint's encoder on the run's training images (the same seeded subset) and
the official test split. Features are cached in ``RUN_DIR/features/``; the result is kept as
``RUN_DIR/eval-<features>.json``. In a suite, the run is trained (or resumed) first."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ssl_bench.core import distributed
from ssl_bench.core.checkpoint import atomic_write_json
from ssl_bench.core.devices import resolve_device
from ssl_bench.core.settings import default_of
from ssl_bench.core.stage_clock import StageClock
from ssl_bench.core.validation import check_keys, check_mapping, check_value
from ssl_bench.data.augment import BatchAugment, default_augment
from ssl_bench.data.datasets import test_split, train_split
from ssl_bench.data.streaming import load_split
from ssl_bench.eval.base import EncoderTarget
from ssl_bench.sources.base import (
    SOURCES,
    BlockRow,
    RowProtocol,
    RowRequest,
    Source,
    SourceRow,
    SuiteContext,
    check_names,
)
from ssl_bench.sources.encoding import encoder_splits, view_features
from ssl_bench.sources.rows import evaluate_source
from ssl_bench.training.config import TrainConfig, config_keys, make_config
from ssl_bench.training.learning_curve import SUMMARY as CURVE_SUMMARY
from ssl_bench.training.learning_curve import curve_summary
from ssl_bench.training.run_dir import augment_of, load_encoder, load_run_config, read_data_record, read_history

FINAL_EPOCH_KEYS = ("loss", "embedding_std_ratio", "effective_rank", "collapsed")
CELL_KEYS = ("method", "backbone", "epochs", "seed", "dataset", "out", "subset")  # set by the suite's grid
CLOSED_FORM_KEY = "closed_form"  # a trained block's: add each method's closed-form counterpart


def train_config(request: RowRequest, **runtime: Any) -> TrainConfig:
    """The validated :class:`TrainConfig` of a trained row; ``runtime`` (out, device) is overridden by the row's
    own settings where they name it."""
    return make_config({"method": request.name, "dataset": request.dataset, "backbone": request.backbone,
                        "epochs": request.epochs, "seed": request.seed, "subset": request.subset, **runtime,
                        **request.settings})


def _train(request: RowRequest) -> bool:
    """Train (or resume) the run into ``request.run_dir`` for ``request.epochs`` (0: evaluate it as it is); True
    on the process that evaluates it."""
    from ssl_bench.training.loop import train

    if not request.epochs:
        return True
    train(train_config(request, out=str(request.run_dir), device=request.device), resume=True,
          progress=request.progress)
    return distributed.is_main_process()


def _rows(request: RowRequest) -> SourceRow:
    run_dir = Path(request.run_dir)
    features = request.features
    encoder, config = load_encoder(run_dir, features)
    history = _read_history(run_dir)
    clock = StageClock()
    with clock.stage("data"):
        test = load_split(config.dataset, "test", config.data_loading, request.test_subset, download=config.download,
                          workers=config.workers)
        train = load_split(config.dataset, "train", config.data_loading, config.subset, config.seed,
                           config.download, config.workers)
    with clock.stage("features"):
        splits = encoder_splits(encoder, train, test, request.device,
                                cache_dir=run_dir / "features" / _cache_name(features, len(history), request.test_subset))
    protocol = RowProtocol.of_splits(train, test, method=config.method, backbone=config.backbone, features=features,
                                     epochs=len(history), seed=config.seed, subset=config.subset,
                                     details={"checkpoint": "final epoch", "batch_size": config.batch_size})
    extras = {"final_epoch": {key: history[-1][key] for key in FINAL_EPOCH_KEYS}} if history else {}
    curve = curve_summary(history)
    if curve is not None:
        extras[CURVE_SUMMARY] = curve
    return SourceRow(splits, protocol, extras, encoder=lambda: encoder_target(run_dir, config, request.device,
                                                                                 request.test_subset),
                     history=history, clock=clock)


def _cache_name(features: str, epochs: int, test_subset: int | None) -> str:
    """The folder of a run's cached features: which output, after how many epochs, on which test split."""
    return f"{features}-epoch{epochs}" + ("" if test_subset is None else f"-test{test_subset}")


def encoder_target(run_dir: Path, config: TrainConfig, device: str, test_subset: int | None = None) -> EncoderTarget:
    """The run's encoders for the evaluations of single images (the probe), on the run's test split (its
    ``test_subset`` when given)."""
    torch_device = resolve_device(device)
    test = test_split(config.dataset, test_subset, download=config.download)

    def describe(features: str) -> tuple[str, dict[str, Any]]:
        return (f"{config.method} / {config.backbone} on {test.name} ({features} features)",
                {"run_dir": str(run_dir), "method": config.method, "backbone": config.backbone,
                 "features": features, "run_seed": config.seed})

    return EncoderTarget(encoder=lambda features: load_encoder(run_dir, features)[0].to(torch_device), test=test,
                         out_dir=run_dir, describe=describe, device=torch_device,
                         train=lambda: train_split(config.dataset, config.subset, config.seed, config.download),
                         augmented_views=lambda images, q, seed, recipe: augmented_views(
                             run_dir, config, images, q, seed, torch_device, recipe))


def augmented_views(run_dir: Path, config: TrainConfig, images: Tensor, q: int, seed: int,
                    device: torch.device, recipe: str | None = None, batch: int = 256) -> Tensor:
    """Backbone features (N, q, F) of ``q`` views of each uint8 image of ``images: (N, C, H, W)``, augmented by the
    run's training recipe (its overrides included) or, given ``recipe``, by that recipe at its published defaults,
    normalised as the run was; the views drawn from a generator seeded with ``seed``; the network in eval mode."""
    encoder, _ = load_encoder(run_dir, "backbone")
    network = encoder.network.to(device).eval()
    data = read_data_record(run_dir)
    recipe, overrides = augment_of(config) if recipe is None else (recipe, {})
    augment = BatchAugment(default_augment(recipe, data["channels"], data["image_size"],
                                           {"mean": data["mean"], "std": data["std"], **overrides}),
                           data["channels"], data["image_size"])
    return view_features(lambda view: network(view).flatten(1).float(), augment, images, q, seed, device, batch)


def _record(request: RowRequest, result: dict[str, Any]) -> None:
    path = Path(request.run_dir) / f"eval-{request.features}.json"
    try:
        atomic_write_json(path, result)
    except OSError as err:  # e.g. a finished run on a read-only filesystem: the result is still returned
        print(f"warning: {path} not written ({err.strerror}); the result is printed only", file=sys.stderr)


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    history = read_history(run_dir)
    if history is None:
        print(f"warning: {run_dir / 'metrics.json'} missing or unreadable; epoch count unknown", file=sys.stderr)
    return history or []


def _check(request: RowRequest) -> None:
    train_config(request)


def _block_rows(block: Any, suite: SuiteContext) -> list[BlockRow]:
    """A ``trained:`` block: ``methods``, ``backbones``, ``epochs`` and any other key of ``ssl-bench train``;
    ``closed_form: true`` (or a mapping of its settings) adds each method's closed-form counterpart on the views
    graph of the block's own augmentation (:func:`ssl_bench.sources.spectral.counterpart_rows`)."""
    from ssl_bench.sources.spectral import counterpart_rows

    trained = check_mapping(block, "each trained block (methods: and settings)")
    methods = check_names(trained.pop("methods", []), "trained methods")
    backbones = check_names(trained.pop("backbones", [default_of(TrainConfig, "backbone")]), "trained backbones")
    epochs = trained.pop("epochs", default_of(TrainConfig, "epochs"))
    check_value("epochs", epochs, int, minimum=1)
    closed_form = trained.pop(CLOSED_FORM_KEY, False)
    check_value(CLOSED_FORM_KEY, closed_form, bool | dict, hint="true, or a mapping of the closed form's settings")
    check_keys(trained, [key for key in config_keys() if key not in CELL_KEYS], "trained")
    rows = [BlockRow(method, backbone, {"subset": suite.subset, **trained}, epochs)
            for method in methods for backbone in backbones]
    if closed_form is False:
        return rows
    augment = check_mapping(trained.get("augment") or {}, "augment")
    return rows + counterpart_rows(methods, augment, closed_form, suite.subset)


SOURCES.register("trained")(Source(
    kind="trained", rows=_rows, has_encoder=True, prepare=_train, record=_record, check=_check, section="trained",
    block_rows=_block_rows, order=10, colour="#1f77b4", marker="o",
    description="a run trained by ssl-bench train (or a suite): its last checkpoint's encoder"))


def evaluate_run(run_dir: str | Path, evaluations: Sequence[str] | None = None, features: str = "backbone",
                 device: str = "auto", test_subset: int | None = None) -> dict[str, Any]:
    """Evaluate the last checkpoint of a run; writes ``RUN_DIR/eval-<features>.json`` and returns the same dict.

    ``evaluations``: registered feature evaluations (default kNN and the linear probe)."""
    config = load_run_config(Path(run_dir))
    request = RowRequest(config.method, config.dataset, config.backbone, config.subset, config.seed,
                         features=features, run_dir=Path(run_dir), device=device, test_subset=test_subset)
    return evaluate_source("trained", request, evaluations)
