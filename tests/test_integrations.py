"""ssl-bench inside other loops and trackers: the Lightning callback in a real Trainer.fit gives the numbers
`ssl-bench eval --encoder` gives on the same weights; training curves read back with TensorBoard's, MLflow's and
W&B's own files equal metrics.json; a tracker whose library is missing is one line."""

from __future__ import annotations

import csv
import glob
import json
import time

import pytest
import torch
from torch import nn

from ssl_bench.api import open_store
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import load_dataset
from ssl_bench.models.backbones import build_backbone


def test_the_lightning_callback_in_trainer_fit_logs_what_eval_gives_and_records_it(tmp_path, capsys):
    from ssl_bench.integrations.lightning import SSLBenchCallback, pl

    data = load_dataset("synthetic", "train")

    class Tiny(pl.LightningModule):
        """A supervised toy: the callback only needs an encoder that changes with training."""

        def __init__(self) -> None:
            super().__init__()
            self.backbone, width = build_backbone("convnet", 1, 16)
            self.head = nn.Linear(width, 10)

        def training_step(self, batch, _):
            images, labels = batch
            return nn.functional.cross_entropy(self.head(self.backbone(images.float() / 255)), labels)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.images, data.labels), batch_size=100)
    callback = SSLBenchCallback("synthetic", encoder="backbone", every_n_epochs=1, evaluations=["knn"], name="tiny",
                                store=tmp_path / "store.sqlite")
    model = Tiny()
    trainer = pl.Trainer(max_epochs=2, limit_train_batches=3, callbacks=[callback], accelerator="cpu",
                         logger=pl.loggers.CSVLogger(tmp_path, name="logs"), enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, loader)
    (metrics_file,) = glob.glob(str(tmp_path / "logs" / "*" / "metrics.csv"))
    logged = [float(row["ssl_bench/knn_top1"]) for row in csv.DictReader(open(metrics_file))
              if row.get("ssl_bench/knn_top1")]
    assert len(logged) == 2 and [r["epoch"] for r in callback.online.history] == [1, 2]
    torch.save(model.backbone.state_dict(), tmp_path / "backbone.pt")
    assert main(["eval", "--encoder", "convnet", "--weights", str(tmp_path / "backbone.pt"), "--dataset",
                 "synthetic", "--evaluations", "knn", "--json"]) == 0
    reference = json.loads(capsys.readouterr().out)
    assert logged[-1] == pytest.approx(reference["knn_top1"], abs=1e-6)
    assert callback.online.last["knn_top1_k20"] == reference["knn_top1_k20"]
    (record,) = open_store(tmp_path / "store.sqlite").runs(suite="manual")
    assert record.run_id == callback.run_id and record.method == "tiny" and record.epochs == 2
    assert [row["epoch"] for row in record.epoch_metrics] == [1, 2]
    assert record.metrics["knn_top1"] == reference["knn_top1"]


def _train(tmp_path, trackers: str, epochs: int = 2) -> list[dict]:
    run_dir = tmp_path / "run"
    assert main(["train", "--method", "vicreg", "--dataset", "synthetic", "--subset", "200", "--epochs", str(epochs),
                 "--batch-size", "64", "--out", str(run_dir), "--trackers", trackers, "--quiet"]) == 0
    return json.loads((run_dir / "metrics.json").read_text())


def test_tensorboard_event_files_hold_every_epoch_record_by_default(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    assert main(["train", "--method", "vicreg", "--dataset", "synthetic", "--subset", "200", "--epochs", "2",
                 "--batch-size", "64", "--out", str(run_dir), "--quiet"]) == 0
    history = json.loads((run_dir / "metrics.json").read_text())
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    for key in ("loss", "lr", "effective_rank", "embedding_std_ratio", "collapsed"):
        curve = events.Scalars(f"train/{key}")
        assert [e.step for e in curve] == [1, 2]
        assert [e.value for e in curve] == pytest.approx([float(r[key]) for r in history], rel=1e-6)


def test_mlflow_runs_in_a_local_store_hold_the_curves(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    history = _train(tmp_path, "mlflow")
    client = MlflowClient((tmp_path / "run" / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("ssl-bench").experiment_id])
    curve = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in curve] == [1, 2]
    assert [m.value for m in curve] == pytest.approx([r["loss"] for r in history], rel=1e-9)
    assert run.data.params["method"] == "vicreg"


def test_wandb_offline_run_holds_the_curves(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    history = _train(tmp_path, "wandb")
    (log,) = glob.glob(str(tmp_path / "run" / "wandb" / "offline-run-*" / "run-*.wandb"))
    deadline = time.monotonic() + 60  # W&B's service process may still be writing when finish() returns
    while b"train/loss" not in (raw := open(log, "rb").read()) and time.monotonic() < deadline:
        time.sleep(0.5)  # its transaction log keeps each logged value as its JSON text
    assert b"train/loss" in raw and all(json.dumps(r["loss"]).encode() in raw for r in history)


def test_a_tracker_whose_library_is_missing_is_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys):
    import ssl_bench.training.trackers.base as base

    real = base.importlib.util.find_spec
    monkeypatch.setattr(base.importlib.util, "find_spec", lambda name: None if name == "wandb" else real(name))
    assert main(["train", "--method", "vicreg", "--dataset", "synthetic", "--subset", "200", "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--trackers", "tensorboard,wandb", "--quiet"]) == 2
    assert capsys.readouterr().err == ("error: --trackers wandb needs the wandb package: pip install "
                                       "'ssl-bench[wandb]' (or drop wandb from --trackers)\n")
    assert not (tmp_path / "run").exists()
    with pytest.raises(UserError, match="unknown tracker 'nope'"):
        base.check_trackers(["nope"])
