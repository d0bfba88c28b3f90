"""Weights & Biases: one W&B run per run directory (id from its path, so ``--resume`` continues it), files under
``RUN_DIR/wandb/``; offline (``WANDB_MODE=offline``) unless ``WANDB_MODE`` says otherwise: ``wandb sync`` uploads it
later. Project ``$WANDB_PROJECT`` or ``ssl-bench``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ssl_bench.training.trackers.base import TRACKERS, TrackerSpec


class WandbTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        import wandb

        run_id = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:16]
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "ssl-bench"), name=run_dir.name, id=run_id,
                              dir=str(run_dir), config=config, resume="allow",
                              mode=os.environ.get("WANDB_MODE", "offline"), settings=wandb.Settings(silent=True))

    def log(self, step: int, values: dict[str, float]) -> None:
        self.run.log({f"train/{key}": value for key, value in values.items()}, step=step)

    def close(self) -> None:
        self.run.finish()


def _open(run_dir: Path, config: dict[str, Any]) -> WandbTracker:
    return WandbTracker(run_dir, config)


TRACKERS.register("wandb")(TrackerSpec(
    name="wandb", open=_open, module="wandb", extra="wandb",
    description="Weights & Biases, offline unless WANDB_MODE says otherwise"))
