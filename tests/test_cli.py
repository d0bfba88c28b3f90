"""The command line as a user meets it: help with examples, one JSON object on stdout, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ssl_bench.cli import build_parser, main

COMMANDS = ["compare", "datasets", "eval", "leaderboard", "probe", "runs", "spectral", "suite", "train"]


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
