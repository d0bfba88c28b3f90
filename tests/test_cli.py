"""The command line as a user meets it: help with examples, one JSON object on stdout, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ssl_bench.cli import build_parser, main

COMMANDS = ["compare", "datasets", "eval", "leaderboard", "predictivity", "probe", "runs", "spectral", "suite", "train"]


def test_every_command_is_discovered():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert sorted(subparsers.choices) == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "example: ssl-bench " + command in text


def test_python_dash_m_is_the_same_entry_point():
    result = subprocess.run([sys.executable, "-m", "ssl_bench", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("ssl-bench ")


def test_baseline_eval_prints_one_json_object(capsys):
    assert main(["eval", "--baseline", "raw-pixels", "--dataset", "synthetic", "--subset", "200", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"knn_top1", "knn_top1_k20", "linear_top1", "n_train", "n_test", "protocol"} <= set(result)
    assert result["n_train"] == 200 and result["protocol"]["method"] == "raw-pixels"
    assert 0.3 < result["knn_top1_k20"] <= 1.0  # raw pixels are informative on the synthetic set (chance 0.1)


def test_eval_without_a_run_or_baseline_says_what_to_give(capsys):
    assert main(["eval"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give a RUN_DIR, --baseline random-init|raw-pixels or --encoder SPEC" in err


def test_eval_of_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--json"]) == 2
    assert "is not a run directory" in capsys.readouterr().err


def test_missing_dataset_is_one_line_with_the_fix(tmp_path, monkeypatch, capsys):
    import ssl_bench.data.datasets.base as datasets

    monkeypatch.setenv("SSL_BENCH_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    assert main(["eval", "--baseline", "raw-pixels", "--dataset", "mnist", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "--download" in err


def test_a_flag_named_no_something_sets_its_own_setting_and_a_negated_flag_clears_one() -> None:
    """--no-leaderboard (the setting no_leaderboard) once read as no_leaderboard = False under argparse's
    BooleanOptionalAction, so suite run wrote leaderboards/SUITE/ into the working folder; --no-amp negates amp."""
    from ssl_bench.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["suite", "run", "s.yaml", "--no-leaderboard"]).no_leaderboard is True
    assert parser.parse_args(["suite", "run", "s.yaml"]).no_leaderboard is None
    train = parser.parse_args(["train", "--no-amp", "--compile"])
    assert train.amp is False and train.compile is True


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_a_truncated_value_is_one_line_naming_the_flag(tmp_path, capsys) -> None:
    """--augment "crop_scale=[0.2," ended in an 80-line yaml traceback (exit 1)."""
    for flag, value in (("--augment", "crop_scale=[0.2,"), ("--param", "projector_dims=[64,")):
        assert main(["train", "--method", "vicreg", "--dataset", "synthetic", flag, value,
                     "--out", str(tmp_path / "run")]) == 2
        line = _one_error_line(capsys)
        assert flag in line and "is not a value" in line
    assert not (tmp_path / "run").exists()


def test_weights_that_overflow_after_the_last_finite_loss_stop_in_one_line(tmp_path, capsys) -> None:
    """--lr 1e12 with one step per epoch: the loss was finite, the weights after the step were not, and the collapse
    diagnostics ended in torch.linalg.svdvals' traceback."""
    assert main(["train", "--method", "vicreg", "--dataset", "synthetic", "--subset", "64", "--batch-size", "64",
                 "--epochs", "1", "--lr", "1e12", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert "non-finite at epoch 1, after step 1" in line and "lower --lr" in line


def test_resume_reads_the_run_and_refuses_a_run_that_never_started(tmp_path, capsys) -> None:
    """--resume on a folder without a run trained from scratch without a word; --resume --out RUN needed every
    flag again ("no method given")."""
    assert main(["train", "--resume", "--out", str(tmp_path / "none"), "--quiet"]) == 2
    assert "no run to continue at" in _one_error_line(capsys) and not (tmp_path / "none").exists()
    run = tmp_path / "run"
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--subset", "128", "--batch-size", "64",
                 "--epochs", "1", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_dir": str(run)}
    again = tmp_path / "again"  # a run's config.json is a --config (it holds package_version besides the settings)
    assert main(["train", "--config", str(run / "config.json"), "--out", str(again), "--quiet"]) == 0
    assert json.loads((again / "config.json").read_text()) == {**json.loads((run / "config.json").read_text()),
                                                               "out": str(again)}


def test_a_finished_run_is_not_extended_and_a_refused_resume_leaves_its_files(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--subset", "128", "--batch-size", "64",
                 "--epochs", "1", "--out", str(run), "--trackers", "", "--quiet"]) == 0
    files = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()}
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--epochs", "2", "--quiet"]) == 2
    assert "trained for --epochs 1, not 2" in _one_error_line(capsys)
    assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()} == files
    assert main(["train", "--resume", "--out", str(run)]) == 0
    assert "already trained (1 epochs); nothing to resume" in capsys.readouterr().err
