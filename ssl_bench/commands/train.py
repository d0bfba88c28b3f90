"""``ssl-bench train``: train one SSL method into a run directory; its flags are :class:`TrainConfig`'s fields."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssl_bench.commands._flags import add_dataclass_arguments, dataclass_values, refuse_unused, settings_from
from ssl_bench.core.registry import plugin_names
from ssl_bench.core.settings import setting
from ssl_bench.training.config import TrainConfig

NAME = "train"
HELP = "Train an SSL method (" + ", ".join(plugin_names("ssl_bench.methods")) + \
       ") on a dataset; checkpoints every epoch, --resume continues."
EXAMPLE = "ssl-bench train --method vicreg --dataset fashion-mnist --backbone convnet --subset 5000 --epochs 10"


@dataclass(frozen=True)
class TrainCommand:
    """How ``ssl-bench train`` runs (what it trains: :class:`TrainConfig`)."""

    config: str | None = setting(None, metavar="FILE", help="YAML file with the same keys as the options below "
                                                            "(flags win)")
    resume: bool = setting(False, help="continue the run in --out from its last checkpoint")
    quiet: bool = setting(False, help="no progress output")


# Flags that act in one way of running only (commands._flags.refuse_unused), on two independent axes.
LOADING_MODES = {"memory": "--data-loading memory", "stream": "--data-loading stream or auto"}
LOADING_APPLIES = {"workers": ("stream",)}
PROCESS_MODES = {"one": "a one-process run", "torchrun": "torchrun with several processes"}
PROCESS_APPLIES = {"sync_batchnorm": ("torchrun",)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, TrainCommand)
    add_dataclass_arguments(parser.add_argument_group("what is trained (TrainConfig)"), TrainConfig)


def run(args: argparse.Namespace) -> int:
    from ssl_bench.core.distributed import is_main_process
    from ssl_bench.core.settings import load_yaml
    from ssl_bench.training.config import make_config
    from ssl_bench.training.loop import train

    command = settings_from(args, TrainCommand)
    base = load_yaml(command.config) if command.config else {}
    base.pop("package_version", None)  # a run's own config.json is a valid --config
    values = dataclass_values(args, TrainConfig, base)
    if command.resume:
        values = {**_saved_settings(values), **values}
    refuse_unused(args, "memory" if values.get("data_loading") == "memory" else "stream", LOADING_APPLIES,
                  LOADING_MODES)
    refuse_unused(args, "torchrun" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "one", PROCESS_APPLIES,
                  PROCESS_MODES)
    run_dir = train(make_config(values), resume=command.resume, progress=not command.quiet)
    if is_main_process():
        print(json.dumps({"run_dir": str(run_dir)}))
    return 0


def _saved_settings(values: dict[str, Any]) -> dict[str, Any]:
    """What the run to resume was started with (its config.json), under the flags given: ``train --resume --out
    RUN`` needs no other flag. A run that was never started is one line, before anything is written."""
    from ssl_bench.core.errors import UserError
    from ssl_bench.training.config import make_config
    from ssl_bench.training.run_dir import saved_config

    run_dir = Path(values["out"]) if values.get("out") else make_config(values).run_dir()
    saved = run_dir / "config.json"
    if not saved.is_file():
        raise UserError(f"--resume: there is no run to continue at {run_dir} (no config.json); drop --resume to "
                        "start it, or pass the --out of an existing run")
    try:
        found = json.loads(saved.read_text())
    except ValueError as err:
        raise UserError(f"{saved} is corrupt ({err}); retrain the run") from None
    return saved_config(found, saved).to_dict()
