"""``ssl-bench train``: train one SSL method into a run directory; its flags are :class:`TrainConfig`'s fields."""

from __future__ import annotations

import argparse
import json

from ssl_bench.commands._flags import add_dataclass_arguments, dataclass_values
from ssl_bench.core.distributed import is_main_process
from ssl_bench.core.settings import load_yaml
from ssl_bench.methods import METHODS
from ssl_bench.training.config import TrainConfig, make_config
from ssl_bench.training.loop import train

NAME = "train"
HELP = "Train an SSL method (" + ", ".join(METHODS.names()) + ") on a dataset; checkpoints every epoch, --resume continues."
EXAMPLE = "ssl-bench train --method vicreg --dataset fashion-mnist --backbone convnet --subset 5000 --epochs 10"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file with the same keys as the options below (flags win)")
    add_dataclass_arguments(parser, TrainConfig)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    values = dataclass_values(args, TrainConfig, load_yaml(args.config) if args.config else {})
    run_dir = train(make_config(values), resume=args.resume, progress=not args.quiet)
    if is_main_process():
        print(json.dumps({"run_dir": str(run_dir)}))
    return 0
