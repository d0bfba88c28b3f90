"""TensorBoard event files in ``RUN_DIR/tensorboard/`` (``tensorboard --logdir runs/``): each epoch's loss, its
parts, lr, images/s and collapse diagnostics as scalars under ``train/``, at the epoch as step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssl_bench.training.trackers.base import TRACKERS, TrackerSpec

FOLDER = "tensorboard"


class TensorBoardTracker:
    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / FOLDER))

    def log(self, step: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"train/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _open(run_dir: Path, config: dict[str, Any]) -> TensorBoardTracker:
    return TensorBoardTracker(run_dir)


TRACKERS.register("tensorboard")(TrackerSpec(
    name="tensorboard", open=_open, module="tensorboard", extra="tensorboard",
    description="TensorBoard event files in RUN_DIR/tensorboard/"))
