"""The predictivity study over a store: per method and across methods, against scipy on the same pairs."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from ssl_bench.bench.store import ResultStore, RunCell
from ssl_bench.cli import main
from ssl_bench.leaderboard.predictivity import ACROSS_METHODS, predictivity

LRS = (0.1, 0.2, 0.4, 0.8)


@pytest.fixture()
def store(tmp_path):
    """Two methods x 4 learning rates x 2 seeds; RankMe rises with the accuracy for simclr, falls for vicreg."""
    path = tmp_path / "results.sqlite"
    with ResultStore(path) as results:
        for method, sign in (("simclr", 1), ("vicreg", -1)):
            for i, lr in enumerate(LRS):
                for seed in (0, 1):
                    cell = RunCell("p", "trained", method, "synthetic", backbone="mlp", hparams={"lr": lr}, seed=seed)
                    run_id = results.start_run(cell)
                    accuracy = 0.5 + 0.1 * i + 0.01 * seed
                    results.finish_run(run_id, {"linear_top1": accuracy, "rankme": 50 + sign * (10 * i + seed),
                                                "lidar": {"value": 5.0 + seed - i, "protocol": {}}},
                                       epoch_metrics=[{"epoch": 1, "knn_curve_top1": 0.3 + 0.05 * ((i * 3) % 4)},
                                                      {"epoch": 2, "effective_rank": 5.0}])
        failed = results.start_run(RunCell("p", "trained", "simclr", "synthetic", backbone="mlp", seed=9))
        results.fail_run(failed, "boom")
    return path


def test_within_and_across_methods_equal_scipy_on_the_same_runs(store):
    with ResultStore(store) as results:
        rows = predictivity(results.runs(), ["rankme"], ["linear_top1"], resamples=200)
        runs = [run for run in results.runs() if run.status == "done"]
    assert [row.scope for row in rows] == ["simclr", "vicreg", ACROSS_METHODS]
    for row in rows:
        chosen = [run for run in runs if row.scope in (run.method, ACROSS_METHODS)]
        x, y = [run.metrics["rankme"] for run in chosen], [run.metrics["linear_top1"] for run in chosen]
        assert row.spearman.value == pytest.approx(stats.spearmanr(x, y).statistic)
        assert row.kendall.value == pytest.approx(stats.kendalltau(x, y).statistic)
        assert row.spearman.n == len(chosen)
    assert rows[0].spearman.value == pytest.approx(1.0) and rows[1].spearman.value == pytest.approx(-1.0)
    assert rows[0].configurations == 4  # seeds of one learning rate are one configuration


def test_a_predictor_stored_with_its_protocol_is_read_by_its_value(store):
    with ResultStore(store) as results:
        rows = predictivity(results.runs(method="simclr"), ["lidar"], ["linear_top1"], resamples=50)
    lidar = [5.0 + seed - i for i in range(4) for seed in (0, 1)]
    accuracy = [0.5 + 0.1 * i + 0.01 * seed for i in range(4) for seed in (0, 1)]
    assert rows[0].spearman.value == pytest.approx(stats.spearmanr(lidar, accuracy).statistic)


def test_epoch_record_predictors_and_a_constant_one(store):
    with ResultStore(store) as results:
        rows = predictivity(results.runs(), ["early_knn", "effective_rank", "absent"], ["linear_top1"], resamples=50)
    by_key = {(row.scope, row.predictor): row for row in rows}
    assert ("simclr", "absent") not in by_key  # no run has it: no row
    assert by_key[("simclr", "effective_rank")].spearman.value is None
    assert "predictor is constant" in by_key[("simclr", "effective_rank")].spearman.note
    early = [0.3 + 0.05 * ((i * 3) % 4) for i in range(4) for _ in (0, 1)]
    accuracy = [0.5 + 0.1 * i + 0.01 * seed for i in range(4) for seed in (0, 1)]
    assert by_key[("simclr", "early_knn")].spearman.value == pytest.approx(stats.spearmanr(early, accuracy).statistic)


def test_the_command_prints_a_table_or_json_and_refuses_a_store_without_predictors(store, tmp_path, capsys):
    assert main(["predictivity", "--store", str(store), "--predictors", "rankme", "--resamples", "50"]) == 0
    table = capsys.readouterr().out
    assert "| simclr | rankme | linear_top1 | 8 | 4 | +1.00" in table and ACROSS_METHODS in table
    assert main(["predictivity", "--store", str(store), "--predictors", "rankme", "--resamples", "50", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["scope"] for row in rows} == {"simclr", "vicreg", ACROSS_METHODS}
    assert main(["predictivity", "--store", str(store), "--predictors", "alpha_req"]) == 2
    assert "no run has both a predictor" in capsys.readouterr().err
