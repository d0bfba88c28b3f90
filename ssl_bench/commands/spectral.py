"""``ssl-bench spectral``: a closed-form spectral embedding, evaluated by the same protocol as trained runs."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ssl_bench.commands._flags import add_dataclass_arguments, dataclass_values, settings_from
from ssl_bench.commands._output import print_result
from ssl_bench.core.registry import plugin_names
from ssl_bench.core.settings import setting, shared
from ssl_bench.eval import evaluations_setting
from ssl_bench.spectral.settings import SpectralSettings

NAME = "spectral"
HELP = "Embed train and test images with a closed-form spectral method and evaluate (kNN, linear probe)."
EXAMPLE = ("ssl-bench spectral --method vicreg-closed-form --dataset fashion-mnist --subset 5000 --graph views "
           "--n-views 8 --features nystroem --dim 64 --json")


@dataclass(frozen=True)
class SpectralRow:
    """Which closed-form row ``ssl-bench spectral`` makes (how it is fitted: :class:`SpectralSettings`)."""

    method: str = setting(help="the spectral method (one module each in ssl_bench/spectral/methods/)", required=True,
                          metavar="METHOD", choices=lambda: plugin_names("ssl_bench.spectral.methods"))
    dataset: str = shared("dataset")
    subset: int | None = shared("subset")
    test_subset: int | None = shared("test_subset")
    seed: int = shared("seed")
    evaluations: list[str] = evaluations_setting()
    download: bool = shared("download")
    json: bool = shared("json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, SpectralRow)
    add_dataclass_arguments(parser.add_argument_group("how the method is fitted"), SpectralSettings)


def run(args: argparse.Namespace) -> int:
    from ssl_bench.sources.spectral import evaluate_spectral

    row = settings_from(args, SpectralRow)
    settings = SpectralSettings(**dataclass_values(args, SpectralSettings))
    result = evaluate_spectral(row.method, row.dataset, settings, row.subset, row.seed, evaluations=row.evaluations,
                               download=row.download, test_subset=row.test_subset)
    print_result(result, row.json)
    if not row.json:
        print(f"fit + embed: {result['wall_time_s']:.1f} s, peak memory {result['peak_memory_mb']:.0f} MB")
    return 0
