"""MLflow: one MLflow run per training attempt, in the tracking store ``$MLFLOW_TRACKING_URI`` or else MLflow's local
file store ``RUN_DIR/mlruns`` (``mlflow ui --backend-store-uri RUN_DIR/mlruns``; MLflow 3 keeps that store in
maintenance mode and wants ``MLFLOW_ALLOW_FILE_STORE=true``, which is set for it); the config as parameters, each epoch's
numbers as metrics at the epoch as step. Experiment ``$MLFLOW_EXPERIMENT_NAME`` or ``ssl-bench``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ssl_bench.training.trackers.base import TRACKERS, TrackerSpec


class MlflowTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        import mlflow

        self.mlflow = mlflow
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # offline: a folder beside metrics.json, no server, no database library
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            uri = (run_dir.resolve() / "mlruns").as_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "ssl-bench"))
        self.run = mlflow.start_run(run_name=run_dir.name)
        mlflow.log_params({key: json.dumps(value) if isinstance(value, (dict, list)) else value
                           for key, value in config.items()})

    def log(self, step: int, values: dict[str, float]) -> None:
        self.mlflow.log_metrics({key.replace("/", "."): value for key, value in values.items()}, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


def _open(run_dir: Path, config: dict[str, Any]) -> MlflowTracker:
    return MlflowTracker(run_dir, config)


TRACKERS.register("mlflow")(TrackerSpec(
    name="mlflow", open=_open, module="mlflow", extra="mlflow",
    description="MLflow, a local file store in RUN_DIR/mlruns unless MLFLOW_TRACKING_URI says otherwise"))
