"""Unwritable outputs and read-only inputs: one line naming the path and what to do, nothing lost.

Tests run as root here, where file permissions do not stop writes, so full disks and read-only filesystems are
simulated by making the write itself fail with the errno the kernel would give."""

from __future__ import annotations

import errno
import json

import pytest
import torch

import ssl_bench.core.checkpoint as checkpoint_module
import ssl_bench.models.features as features_module
import ssl_bench.sources.trained as evaluate_module
from ssl_bench.bench.store import ResultStore, RunCell
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.sources.trained import evaluate_run
from ssl_bench.training.config import make_config
from ssl_bench.training.loop import train

TINY = {"method": "simclr", "dataset": "synthetic", "backbone": "mlp", "batch_size": 64, "subset": 128, "epochs": 2,
        "method_params": {"projector_dims": [32, 16]}}


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "store.sqlite"
    with ResultStore(path) as results:
        run_id = results.start_run(RunCell("s", "baseline", "raw-pixels", "synthetic", "test", "pixels", {}, 0, 0))
        results.finish_run(run_id, {"knn_top1": 0.5})
    return path


def test_export_to_a_folder_or_a_file_inside_a_file_is_refused(tmp_path, store, capsys):
    assert main(["runs", "export", "--store", str(store), "--out", str(tmp_path)]) == 2
    assert _one_line(capsys).startswith(f"error: --out {tmp_path} is a folder; give a file name")
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert main(["runs", "export", "--store", str(store), "--out", str(blocker / "runs.csv")]) == 2
    assert _one_line(capsys).endswith(f"its folder {blocker} is a file; give a folder")
    assert main(["runs", "export", "--store", str(store), "--out", str(tmp_path / "new" / "runs.csv")]) == 0
    assert (tmp_path / "new" / "runs.csv").read_text().startswith("run_id")


def test_leaderboard_into_an_existing_file_is_refused(tmp_path, store, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    assert main(["leaderboard", "--store", str(store), "--out", str(target)]) == 2
    assert _one_line(capsys) == f"error: --out {target} is a file; give a folder"
    assert target.read_text() == "x"


def test_a_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    config = make_config({**TINY, "out": str(tmp_path / "run")})
    real_save, calls = checkpoint_module.torch.save, []

    def disk_full_at_epoch_two(obj, file, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing "
                               "file data/0: file write failed")
        return real_save(obj, file, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, "save", disk_full_at_epoch_two)
    with pytest.raises(UserError) as caught:
        train(config, progress=False)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"could not write the checkpoint {tmp_path / 'run'}")
    assert message.endswith("then rerun with --resume")
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert not list((tmp_path / "run").glob(".*.tmp"))
    train(config, resume=True, progress=False)  # and the run finishes once there is room again
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 2


def test_a_finished_run_on_a_read_only_filesystem_is_still_evaluated(tmp_path, monkeypatch, capsys):
    run_dir = train(make_config({**TINY, "out": str(tmp_path / "run")}), progress=False)
    expected = evaluate_run(run_dir, ["knn"])
    for cache in (run_dir / "features").rglob("*.pt"):
        cache.unlink()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(features_module, "save_tensors", read_only)
    monkeypatch.setattr(evaluate_module, "atomic_write_json", read_only)
    capsys.readouterr()
    result = evaluate_run(run_dir, ["knn"])
    assert result["knn_top1"] == expected["knn_top1"]
    warnings = capsys.readouterr().err
    assert "feature cache" in warnings and "continuing without it" in warnings and "printed only" in warnings
    assert json.loads((run_dir / "eval-backbone.json").read_text())["knn_top1"] == expected["knn_top1"]


def test_train_into_a_place_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--out", str(blocker / "run")]) == 2
    assert "not a writable folder" in _one_line(capsys)
