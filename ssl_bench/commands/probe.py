"""``ssl-bench probe``: what a trained representation is invariant or equivariant to (rotations, shifts, ...)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from ssl_bench.commands._encoder import add_encoder_arguments, encoder_settings
from ssl_bench.commands._flags import add_dataclass_arguments, refuse_unused, settings_from
from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import plugin_names
from ssl_bench.core.settings import setting, setting_like, shared
from ssl_bench.spectral.settings import SpectralSettings
from ssl_bench.training.config import FEATURES

NAME = "probe"
HELP = ("Symmetry probe of a run on its test split: invariance, linear equivariance, group structure and "
        "parameter recoverability per transform; writes probe.json and probe.png into the run directory.")
EXAMPLE = ("ssl-bench probe runs/simclr-fashion-mnist-convnet-n5000-s0 "
           "--transforms rotate,translate,hflip --n 1000 --json   |   "
           "ssl-bench probe --spectral laplacian-eigenmaps --dataset fashion-mnist --subset 5000 --n 1000")

SUMMARY_COLUMNS = {  # metric -> column header of the table
    "invariance": "invariance",
    "equivariance_r2": "equiv. R2",
    "composition_error": "composition",
    "generator_error": "generator",
    "recoverability_r2": "recover R2",
    "recoverability_accuracy": "recover acc",
}


@dataclass(frozen=True)
class ProbeSettings:
    """What ``ssl-bench probe`` probes (a run, a closed form; an encoder: :class:`EncoderSettings`) and how."""

    run_dir: str | None = setting(None, positional=True, metavar="RUN_DIR",
                                  help="a run directory written by ssl-bench train")
    spectral: str | None = setting(None, metavar="METHOD", choices=lambda: plugin_names("ssl_bench.spectral.methods"),
                                   help="probe a closed-form spectral method instead (fitted here, embeds out of sample)")
    dataset: str = shared("dataset", help="with --spectral or --encoder: the dataset")
    subset: int = shared("subset", 5000, help="with --spectral: train images it is fitted on")
    dim: int = setting_like(SpectralSettings, "dim", help="with --spectral: embedding dimension")
    transforms: list[str] | None = setting(None, comma_separated=True, metavar="A,B,...",
                                           choices=lambda: plugin_names("ssl_bench.probes.transforms"),
                                           help="comma-separated transforms (default: rotate,translate,scale,hflip,"
                                                "brightness,contrast and hue for RGB)")
    n: int = setting(2000, minimum=1, help="test images probed (seeded random subset)")
    seed: int = shared("seed", help="seed of the subset and of the fit/held-out split")
    features: str = setting("backbone", choices=FEATURES, help="a run's representation: backbone or projector output")
    device: str = shared("device")
    out: str | None = setting(None, metavar="FILE", help="write the JSON here and the plot next to it "
                                                         "(default RUN_DIR/probe.json, probe.png)")
    json: bool = shared("json", help="print one JSON object (default: a summary table)")


MODES = {"run": "a RUN_DIR", "spectral": "--spectral", "encoder": "--encoder"}
APPLIES = {"features": ("run",), "dataset": ("spectral", "encoder"), "subset": ("spectral",), "dim": ("spectral",)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, ProbeSettings)
    add_encoder_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ssl_bench.sources.probing import probe_encoder, probe_run, probe_spectral

    settings, encoder = settings_from(args, ProbeSettings), encoder_settings(args)
    if sum(given is not None for given in (settings.run_dir, settings.spectral, encoder)) != 1:
        raise UserError("give a RUN_DIR, --spectral METHOD or --encoder SPEC --weights PATH, one of them "
                        "(see ssl-bench probe --help)")
    refuse_unused(args, "encoder" if encoder else "spectral" if settings.spectral else "run", APPLIES, MODES)
    progress = lambda line: print(line, file=sys.stderr)  # noqa: E731
    common = {"transforms": settings.transforms, "n": settings.n, "seed": settings.seed, "out": settings.out,
              "progress": progress}
    if encoder:
        result = probe_encoder(encoder.encoder, encoder.weights, settings.dataset, encoder.image_size,
                               encoder.normalization, device=settings.device, **common)
    elif settings.spectral:
        result = probe_spectral(settings.spectral, settings.dataset, settings.subset, settings.dim, **common)
    else:
        result = probe_run(settings.run_dir, features=settings.features, device=settings.device, **common)
    if settings.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print(f"{'transform':<12}" + "".join(f"{header:>13}" for header in SUMMARY_COLUMNS.values()))
    for name, metrics in result["summary"].items():
        cells = (metrics.get(metric) for metric in SUMMARY_COLUMNS)
        print(f"{name:<12}" + "".join(f"{'-' if v is None else f'{v:.4f}':>13}" for v in cells))
    print(f"(means over theta; rows and protocol in the JSON; plot: {result['plot']})")
    return 0
