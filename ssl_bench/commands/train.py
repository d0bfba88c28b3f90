"""``ssl-bench train``: train one SSL method into a run directory; its flags are :class:`TrainConfig`'s fields."""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from typing import Any

import yaml

from ssl_bench.config import TrainConfig, load_yaml, make_config
from ssl_bench.distributed import is_main_process
from ssl_bench.methods import METHODS
from ssl_bench.train import train

NAME = "train"
HELP = "Train an SSL method (" + ", ".join(METHODS.names()) + ") on a dataset; checkpoints every epoch, --resume continues."
EXAMPLE = "ssl-bench train --method vicreg --dataset fashion-mnist --backbone convnet --subset 5000 --epochs 10"

KEY_VALUE_FIELDS = ("method_params", "augment")  # repeated KEY=VALUE flags, merged into a dict


def _key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key, yaml.safe_load(value)


def _scalar_type(annotation: Any) -> type:
    """int, float or str from a field annotation such as ``int | None``."""
    candidates = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    return candidates[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file with the same keys as the options below (flags win)")
    hints = typing.get_type_hints(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        meta = field.metadata
        flag = meta["flag"] or "--" + field.name.replace("_", "-")
        choices = meta["choices"]() if callable(meta["choices"]) else meta["choices"]
        default = field.default if field.default is not dataclasses.MISSING else None
        help_text = meta["help"] + ("" if default in (None, dataclasses.MISSING) else f" (default: {default})")
        kind = _scalar_type(hints[field.name])
        if field.name in KEY_VALUE_FIELDS:
            parser.add_argument(flag, dest=field.name, type=_key_value, action="append", default=[],
                                metavar=meta["metavar"], help=help_text)
        elif kind is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        else:
            parser.add_argument(flag, dest=field.name, type=kind, choices=choices, default=None,
                                metavar=meta["metavar"], help=help_text)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The config file's values, then every flag that was given on top (KEY=VALUE flags merged key by key)."""
    values = load_yaml(args.config) if args.config else {}
    for field in dataclasses.fields(TrainConfig):
        given = getattr(args, field.name)
        if field.name in KEY_VALUE_FIELDS:
            if given:
                values[field.name] = {**(values.get(field.name) or {}), **dict(given)}
        elif given is not None:
            values[field.name] = given
    return values


def run(args: argparse.Namespace) -> int:
    run_dir = train(make_config(config_values(args)), resume=args.resume, progress=not args.quiet)
    if is_main_process():
        print(json.dumps({"run_dir": str(run_dir)}))
    return 0
