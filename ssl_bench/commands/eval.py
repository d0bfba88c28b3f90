"""``ssl-bench eval``: kNN and linear-probe accuracy of a trained run, a baseline or an encoder trained elsewhere."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from ssl_bench.commands._encoder import add_encoder_arguments, encoder_settings
from ssl_bench.commands._flags import add_dataclass_arguments, refuse_unused, settings_from
from ssl_bench.commands._output import print_result
from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import plugin_names
from ssl_bench.core.settings import MANUAL_SUITE, default_of, setting, shared
from ssl_bench.eval import evaluations_setting
from ssl_bench.training.config import FEATURES, TrainConfig

NAME = "eval"
HELP = "Evaluate frozen features with weighted kNN (faiss) and a linear probe on the official test split."
EXAMPLE = "ssl-bench eval runs/simclr-fashion-mnist-convnet-n5000-s0 --json   |   " \
          "ssl-bench eval --baseline random-init --dataset fashion-mnist --subset 5000 --json   |   " \
          "ssl-bench eval --encoder torchvision:resnet18 --weights resnet18.pth --dataset cifar10 --image-size 224"


@dataclass(frozen=True)
class EvalSettings:
    """What ``ssl-bench eval`` evaluates (a run, a baseline; an encoder: :class:`EncoderSettings`) and how."""

    run_dir: str | None = setting(None, positional=True, metavar="RUN_DIR",
                                  help="a run directory written by ssl-bench train")
    evaluations: list[str] = evaluations_setting()
    features: str = setting("backbone", choices=FEATURES, help="a run's representation: backbone or projector output")
    baseline: str | None = setting(None, choices=lambda: plugin_names("ssl_bench.sources.baselines"),
                                   help="evaluate a baseline instead of a run")
    dataset: str = shared("dataset", help="dataset of the baseline or --encoder (ssl-bench datasets lists them)")
    backbone: str = setting(default_of(TrainConfig, "backbone"), help="backbone of the random-init baseline")
    subset: int | None = shared("subset", help="baseline, --encoder: a seeded, class-balanced train subset of N images")
    test_subset: int | None = shared("test_subset")
    seed: int = shared("seed")
    device: str = shared("device")
    download: bool = shared("download")
    json: bool = shared("json", help="print one JSON object (default: a short summary)")
    store: str | None = shared("store", help="also record the result in this results store (created if missing), "
                                             "where compare and leaderboard see it")
    suite: str | None = setting(None, help=f"with --store: the board the row joins (default: {MANUAL_SUITE})")


MODES = {"run": "a RUN_DIR", "baseline": "--baseline", "encoder": "--encoder"}  # how the user picks what is evaluated
APPLIES = {"features": ("run",), "dataset": ("baseline", "encoder"), "backbone": ("baseline",),
           "subset": ("baseline", "encoder"), "seed": ("baseline", "encoder"), "download": ("baseline", "encoder")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, EvalSettings)
    add_encoder_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ssl_bench.api import add_run, record_result
    from ssl_bench.sources.baseline import evaluate_baseline
    from ssl_bench.sources.encoder import evaluate_pretrained
    from ssl_bench.sources.trained import evaluate_run

    settings, encoder = settings_from(args, EvalSettings), encoder_settings(args)
    if settings.suite is not None and settings.store is None:
        raise UserError("--suite names the board of a recorded result; add --store PATH or drop --suite")
    if sum(given is not None for given in (settings.run_dir, settings.baseline, encoder)) != 1:
        baselines = "|".join(plugin_names("ssl_bench.sources.baselines"))
        raise UserError(f"give a RUN_DIR, --baseline {baselines} or --encoder SPEC --weights PATH, one of them "
                        "(see ssl-bench eval --help)")
    refuse_unused(args, "encoder" if encoder else "baseline" if settings.baseline else "run", APPLIES, MODES)
    if encoder:
        result = evaluate_pretrained(encoder.encoder, encoder.weights, settings.dataset, settings.subset,
                                     settings.seed, evaluations=settings.evaluations, device=settings.device,
                                     download=settings.download, image_size=encoder.image_size,
                                     normalization=encoder.normalization, test_subset=settings.test_subset)
    elif settings.baseline:
        result = evaluate_baseline(settings.baseline, settings.dataset, settings.backbone, settings.subset,
                                   settings.seed, evaluations=settings.evaluations, device=settings.device,
                                   download=settings.download, test_subset=settings.test_subset)
    else:
        result = evaluate_run(settings.run_dir, evaluations=settings.evaluations, features=settings.features,
                              device=settings.device, test_subset=settings.test_subset)
    if settings.store is not None:
        suite = settings.suite or MANUAL_SUITE
        if settings.run_dir:
            run_id = add_run(settings.run_dir, settings.store, suite=suite, features=settings.features, result=result)
        elif encoder:
            hparams = {"weights": encoder.weights, "image_size": encoder.image_size,
                       "normalization": encoder.normalization}
            run_id = record_result(result, settings.store, suite=suite, hparams=hparams, source=encoder.weights,
                                   tool="ssl-bench eval --encoder")
        else:
            run_id = record_result(result, settings.store, suite=suite, kind="baseline",
                                   tool="ssl-bench eval --baseline")
        print(f"recorded run {run_id} in {settings.store} (suite {suite})", file=sys.stderr)
    print_result(result, settings.json)
    return 0
