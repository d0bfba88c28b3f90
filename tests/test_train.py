"""Training loop: run directory contents, exact resume after a real kill, and clear errors on bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.methods import METHODS
from ssl_bench.sources.trained import evaluate_run
from ssl_bench.training.config import TrainConfig, make_config
from ssl_bench.training.loop import train
from ssl_bench.training.run_dir import load_encoder

TINY = {"dataset": "synthetic", "backbone": "mlp", "batch_size": 64, "subset": 256, "epochs": 2,
        "method_params": {"projector_dims": [64, 32]}}


def _config(tmp_path: Path, **values) -> TrainConfig:
    return make_config({"method": "simclr", **TINY, "out": str(tmp_path / "run"), **values})


def _backbone(method: str) -> str:
    """mlp (fixed input size) for methods of two global views; convnet where local crops are smaller; vit-tiny for
    masked-image methods."""
    spec = METHODS.get(method)
    return "vit-tiny" if spec.vit_only else "convnet" if spec.augment_defaults.get("local_views") else "mlp"


SMALL_HEADS = {"mae": {"decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2},
               "ijepa": {"predictor_dim": 48, "predictor_depth": 1, "min_context_tokens": 4}}


def _heads(method: str, projector_dims: list[int]) -> dict:
    """Small heads: the projector (and predictor) widths, or a masked-image method's decoder or predictor."""
    spec = METHODS.get(method)
    if spec.projector_dims is None:
        return SMALL_HEADS[method]
    return {"projector_dims": projector_dims, **({"predictor_hidden": [32]} if spec.predictor_hidden else {})}


@pytest.mark.parametrize("method", METHODS.names())
def test_run_directory_holds_config_metrics_and_checkpoint(tmp_path, method):
    run_dir = train(_config(tmp_path, method=method, backbone=_backbone(method),
                            method_params=_heads(method, [64, 32])), progress=False)
    history = json.loads((run_dir / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(torch.isfinite(torch.tensor(h["loss"])) and h["images_per_s"] > 0 for h in history)
    assert {"embedding_std_ratio", "effective_rank", "collapsed"} <= set(history[-1])
    assert json.loads((run_dir / "config.json").read_text())["method"] == method
    encoder, _ = load_encoder(run_dir)
    images = torch.randint(0, 256, (5, 1, 16, 16), dtype=torch.uint8)
    assert encoder(images).shape == (5, {"mlp": 512, "convnet": 128, "vit-tiny": 192}[_backbone(method)])


def test_training_lowers_the_loss(tmp_path):
    run_dir = train(_config(tmp_path, epochs=4, subset=512), progress=False)
    history = json.loads((run_dir / "metrics.json").read_text())
    assert history[-1]["loss"] < history[0]["loss"]


def _cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "ssl_bench", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def test_resume_after_a_real_kill_matches_an_uninterrupted_run(tmp_path):
    common = ["--method", "vicreg", "--dataset", "synthetic", "--backbone", "mlp", "--batch-size", "32",
              "--epochs", "6", "--param", "projector_dims=[256,256]", "--quiet"]
    reference = _cli(common + ["--out", str(tmp_path / "reference")])
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()

    killed_dir = tmp_path / "killed"
    victim = _cli(common + ["--out", str(killed_dir)])
    deadline = time.time() + 300
    while not (killed_dir / "metrics.json").exists():
        assert victim.poll() is None and time.time() < deadline, "run ended before it could be killed"
        time.sleep(0.01)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    epochs_done = len(json.loads((killed_dir / "metrics.json").read_text()))
    assert 1 <= epochs_done < 6, "the kill must interrupt the run"

    resumed = _cli(common + ["--out", str(killed_dir), "--resume"])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()
    assert b"resuming" in resumed.stderr.read()
    final = torch.load(killed_dir / "checkpoint.pt", weights_only=True)
    expected = torch.load(tmp_path / "reference" / "checkpoint.pt", weights_only=True)
    assert final["epoch"] == expected["epoch"] == 6
    for name, tensor in expected["model"].items():
        assert torch.equal(final["model"][name], tensor), name
    losses = [h["loss"] for h in final["history"]]
    assert losses == [h["loss"] for h in expected["history"]]


@pytest.mark.parametrize("method", METHODS.names())
def test_resume_mid_run_ends_with_the_weights_of_an_uninterrupted_run(tmp_path, method, monkeypatch):
    """Everything a method carries between steps (momentum target, schedule position, optimiser state) is part of
    the checkpoint: stopping after epoch 1 and resuming gives bit-identical weights, target included."""
    import ssl_bench.training.loop as train_module

    common = {"method": method, "dataset": "synthetic", "backbone": _backbone(method), "epochs": 2, "batch_size": 32,
              "subset": 96, "method_params": _heads(method, [32, 16])}
    whole = train(make_config({**common, "out": str(tmp_path / "whole")}), progress=False)
    real_epoch, calls = train_module.run_epoch, []

    def stop_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "run_epoch", stop_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(make_config({**common, "out": str(tmp_path / "cut")}), progress=False)
    monkeypatch.setattr(train_module, "run_epoch", real_epoch)
    resumed = train(make_config({**common, "out": str(tmp_path / "cut")}), resume=True, progress=False)
    attempts = [[record["attempt"] for record in json.loads((run / "metrics.json").read_text())]
                for run in (whole, resumed)]
    assert attempts == [[1, 1], [1, 2]]  # which process ran each epoch
    expected = torch.load(whole / "checkpoint.pt", weights_only=True)["model"]
    got = torch.load(resumed / "checkpoint.pt", weights_only=True)["model"]
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


def test_existing_run_needs_resume(tmp_path):
    train(_config(tmp_path, epochs=1), progress=False)
    with pytest.raises(UserError, match="--resume"):
        train(_config(tmp_path, epochs=1), progress=False)


def test_resume_with_other_settings_is_refused(tmp_path):
    train(_config(tmp_path, epochs=1), progress=False)
    with pytest.raises(UserError, match="different settings.*batch_size"):
        train(_config(tmp_path, epochs=1, batch_size=32), resume=True, progress=False)


def test_corrupt_checkpoint_gives_one_clear_line(tmp_path, capsys):
    run_dir = train(_config(tmp_path, epochs=1), progress=False)
    (run_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert main(["eval", str(run_dir), "--evaluations", "knn", "--json"]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("error: checkpoint") and "corrupt" in message and "\n" not in message


def test_non_finite_loss_names_epoch_and_step(tmp_path):
    config = make_config({"method": "simclr", **TINY, "out": str(tmp_path / "nan"), "lr": 1e30, "warmup_epochs": 0,
                          "method_params": {"projector_dims": [64, 32]}})
    with pytest.raises(UserError, match=r"loss became (nan|inf) at epoch 1, step [2-9]\d*: .*lower --lr"):
        train(config, progress=False)


def test_cli_rejects_unknown_names_with_the_valid_ones(capsys):
    assert main(["train", "--method", "no-such-method", "--dataset", "synthetic"]) == 2
    err = capsys.readouterr().err
    assert "no-such-method" in err and all(name in err for name in METHODS.names())
    assert main(["train", "--method", "simclr", "--backbone", "vgg"]) == 2
    assert "unknown backbone 'vgg'" in capsys.readouterr().err


def test_config_file_rejects_unknown_keys(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("method: simclr\nepochz: 3\n")
    assert main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown config key(s) ['epochz']" in err and "epochs" in err


def test_eval_of_a_trained_run_on_synthetic_data(tmp_path):
    run_dir = train(_config(tmp_path, epochs=2), progress=False)
    result = evaluate_run(run_dir, ["knn", "linear"])
    assert 0.0 <= result["knn_top1"] <= 1.0 and 0.0 <= result["linear_top1"] <= 1.0
    assert result["n_train"] == 256 and result["protocol"]["method"] == "simclr"
    assert json.loads((run_dir / "eval-backbone.json").read_text())["knn_top1"] == result["knn_top1"]


def test_fashion_mnist_end_to_end(tmp_path, require_fashion_mnist, capsys):
    out = tmp_path / "fm"
    assert main(["train", "--method", "barlowtwins", "--dataset", "fashion-mnist", "--backbone", "mlp",
                 "--subset", "500", "--epochs", "1", "--batch-size", "100", "--param", "projector_dims=[128,128]",
                 "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--evaluations", "knn", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_test"] == 10000 and result["n_train"] == 500
    assert result["knn_top1"] > 0.3  # far above chance (0.1) even after one epoch


def test_a_late_non_finite_loss_names_its_own_step() -> None:
    """On a GPU the losses are read back every few steps; the error must still name the first bad step."""
    from ssl_bench.training.loop import _stop_if_not_finite

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    _stop_if_not_finite([1.0, 0.5], 0, 0, optimizer)  # finite: no error
    with pytest.raises(UserError, match=r"loss became inf at epoch 3, step 27:"):
        _stop_if_not_finite([1.0, float("inf"), float("nan")], 25, 2, optimizer)


def test_the_collapse_diagnostic_fires_on_a_collapsed_network_and_not_on_a_healthy_early_run(tmp_path, capsys):
    from ssl_bench.methods import build_method
    from ssl_bench.models.backbones import build_backbone
    from ssl_bench.training.loop import collapse_diagnostics

    # healthy: VICReg after one epoch on 200 images, whose normalised embeddings read a std ratio of ~0.03 (the
    # old rule said "collapse") while its backbone features have an effective rank of ~90
    assert main(["train", "--method", "vicreg", "--dataset", "synthetic", "--subset", "200", "--batch-size", "64",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--trackers", "", "--quiet"]) == 0
    (record,) = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["embedding_std_ratio"] < 0.1 and record["effective_rank"] > 50 and not record["collapsed"]
    assert "collapse" not in capsys.readouterr().err
    # collapsed: every image maps to the same backbone features (the last layer outputs its bias only)
    model = build_method("vicreg", *build_backbone("convnet", 1, 16)).eval()
    last = [module for module in model.backbone.modules() if hasattr(module, "weight") and module.weight is not None][-1]
    with torch.no_grad():
        last.weight.zero_()
    found = collapse_diagnostics(model, torch.randn(64, 1, 16, 16))
    assert found["effective_rank"] < 2 and found["embedding_std_ratio"] < 0.1 and found["collapsed"]


def test_the_learning_curve_leaves_training_unchanged_and_is_summarised_last_and_best(tmp_path):
    from ssl_bench.core.checkpoint import load_checkpoint
    from ssl_bench.training.learning_curve import curve_summary

    with_curve = train(_config(tmp_path / "on", curve_every=1, epochs=3), progress=False)
    without = train(_config(tmp_path / "off", epochs=3), progress=False)
    on, off = load_checkpoint(with_curve / "checkpoint.pt")["model"], load_checkpoint(without / "checkpoint.pt")["model"]
    assert all(torch.equal(on[key], off[key]) for key in off)  # same weights, buffers included
    history = json.loads((with_curve / "metrics.json").read_text())
    curve = [record["knn_curve_top1"] for record in history]
    assert len(curve) == 3 and all(0 <= value <= 1 and record["curve_seconds"] > 0
                                   for value, record in zip(curve, history))
    summary = curve_summary(history)
    assert summary["last"] == curve[-1] and summary["best"] == max(curve)
    assert summary["best_epoch"] == 1 + curve.index(max(curve))
    result = evaluate_run(with_curve, evaluations=["knn"], device="cpu")
    assert result["learning_curve"]["last_epoch"] == 3
    assert not any("knn_curve_top1" in record for record in json.loads((without / "metrics.json").read_text()))


def test_a_two_view_method_refuses_other_view_counts_and_a_multi_view_one_takes_them(tmp_path):
    with pytest.raises(UserError, match="exactly 2 global view"):
        train(_config(tmp_path, method="vicreg", augment={"local_views": 2}), progress=False)
    config = _config(tmp_path, method="mmcr", augment={"global_views": 3}, epochs=1, backbone="convnet")
    history = json.loads((train(config, progress=False) / "metrics.json").read_text())
    assert {"loss_centroid", "loss_local"} <= set(history[0])  # the method's named parts, logged per epoch
    assert history[0]["loss"] == pytest.approx(history[0]["loss_centroid"] + history[0]["loss_local"], rel=1e-5)
