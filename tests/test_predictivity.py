"""The predictivity study over a store: per method and across methods, against scipy on the same pairs."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from ssl_bench.bench.store import ResultStore, RunCell
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
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


CROPS = ([0.08, 1.0], [0.2, 1.0], [0.5, 1.0], [0.8, 1.0])
COUNTERPART_STAGES = {"data": {"seconds": 1.0}, "features": {"seconds": 2.0}, "fit": {"seconds": 1.5},
                      "fit/eigensolve": {"seconds": 1.2},  # a part of fit, already in its seconds
                      "out_of_sample": {"seconds": 0.5}, "evaluation": {"seconds": 4.0},
                      "evaluation/knn": {"seconds": 1.0}, "evaluation/linear": {"seconds": 3.0}}


def _counterpart(crop, seed, recipe="byol", **extra):
    return RunCell("p", "spectral", "vicreg-closed-form", "synthetic", backbone="pixels", seed=seed,
                   hparams={"subset": 64, "graph": "views", "augment_recipe": recipe, "augment": {"crop_scale": crop},
                            "dim": 8, **extra})


@pytest.fixture()
def swept(tmp_path):
    """VICReg over four crop scales x two learning rates x two seeds, each recipe's closed form on both seeds, and
    a decoy closed form drawn with another recipe (SimCLR's) that must not be matched."""
    path = tmp_path / "swept.sqlite"
    with ResultStore(path) as results:
        for i, crop in enumerate(CROPS):
            for lr in (0.1, 0.2):
                for seed in (0, 1):
                    cell = RunCell("p", "trained", "vicreg", "synthetic", backbone="mlp", epochs=2, seed=seed,
                                   hparams={"subset": 64, "lr": lr, "augment": {"crop_scale": crop}})
                    results.finish_run(results.start_run(cell), {"linear_top1": 0.5 + 0.1 * i + 0.01 * seed + lr,
                                                                 "knn_top1": 0.4 + 0.02 * ((i * 3) % 4)},
                                       epoch_metrics=[{"epoch": 1, "seconds": 8.0}, {"epoch": 2, "seconds": 12.0}])
            for seed in (0, 1):
                results.finish_run(results.start_run(_counterpart(crop, seed)),
                                   {"knn_top1": 0.3 + 0.05 * ((i * 3) % 4) + 0.001 * seed, "linear_top1": 0.6 + 0.01 * i,
                                    "stages": COUNTERPART_STAGES})
                results.finish_run(results.start_run(_counterpart(crop, seed, recipe="simclr")),
                                   {"knn_top1": 0.9 - 0.1 * i, "linear_top1": 0.9, "stages": COUNTERPART_STAGES})
    return path


def test_closed_form_predictors_read_each_runs_own_counterpart_and_their_cost(swept):
    with ResultStore(swept) as results:
        rows = predictivity(results.runs(), ["closed_form_knn", "closed_form_linear"], ["linear_top1"], resamples=100)
        trained = [run for run in results.runs() if run.kind == "trained"]
    knn = {row.predictor: row for row in rows}["closed_form_knn"]
    own = [0.3 + 0.05 * ((CROPS.index(run.hparams["augment"]["crop_scale"]) * 3) % 4) + 0.001 * run.seed
           for run in trained]
    target = [run.metrics["linear_top1"] for run in trained]
    assert knn.spearman.n == 16 and knn.configurations == 8
    assert knn.spearman.value == pytest.approx(stats.spearmanr(own, target).statistic)
    assert knn.kendall.value == pytest.approx(stats.kendalltau(own, target).statistic)
    # cost: the counterpart's making (1 + 2 + 1.5 + 0.5 s) and its kNN (1 s) or linear probe (3 s), over 20 s
    assert knn.cost_fraction == pytest.approx(6.0 / 20.0)
    assert {row.predictor: row for row in rows}["closed_form_linear"].cost_fraction == pytest.approx(8.0 / 20.0)


def test_two_counterparts_of_one_run_are_refused_and_a_missing_one_gives_no_value(swept, tmp_path):
    with ResultStore(swept) as results:
        results.finish_run(results.start_run(_counterpart(CROPS[0], 0, features="pca")), {"knn_top1": 0.5})
    with ResultStore(swept) as results, pytest.raises(UserError, match="2 closed-form counterparts"):
        predictivity(results.runs(), ["closed_form_knn"], ["linear_top1"], resamples=10)
    with ResultStore(tmp_path / "alone.sqlite") as results:
        cell = RunCell("p", "trained", "vicreg", "synthetic", backbone="mlp", hparams={"lr": 0.1})
        results.finish_run(results.start_run(cell), {"linear_top1": 0.5, "rankme": 3.0})
        assert predictivity(results.runs(), ["closed_form_knn"], ["linear_top1"], resamples=10) == []


def test_a_swept_suites_board_carries_the_predictivity_tables_section_and_scatter_plots(swept, store, tmp_path):
    import csv

    from ssl_bench.leaderboard import render_leaderboard

    with ResultStore(swept) as results:
        render_leaderboard(results, tmp_path / "board", suite="p")
        render_leaderboard(results, tmp_path / "again", suite="p")
        expected = predictivity(results.runs(suite="p"), ["closed_form_knn"], ["linear_top1"])
    board = tmp_path / "board"
    for name in ("predictivity.md", "predictivity.csv", "predictivity.json", "index.html",
                 "plots/predictivity-closed_form_knn.svg"):
        assert (board / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    lines = list(csv.DictReader((board / "predictivity.csv").open()))
    line = next(row for row in lines if (row["scope"], row["predictor"], row["target"]) ==
                ("vicreg", "closed_form_knn", "linear_top1"))
    assert float(line["spearman"]) == pytest.approx(expected[0].spearman.value)
    assert float(line["cost_fraction"]) == pytest.approx(0.3)
    assert "<h2>Predictivity</h2>" in (board / "index.html").read_text()
    assert 'id="plot-predictivity-closed_form_knn"' in (board / "index.html").read_text()
    with ResultStore(store) as results:  # four learning rates of a method: a sweep; one configuration is none
        render_leaderboard(results, tmp_path / "four_lrs", suite="p")
    assert (tmp_path / "four_lrs" / "predictivity.md").exists()
    single = tmp_path / "single.sqlite"
    with ResultStore(single) as results:
        for seed in (0, 1):
            cell = RunCell("q", "trained", "simclr", "synthetic", backbone="mlp", seed=seed)
            results.finish_run(results.start_run(cell), {"linear_top1": 0.5 + seed / 10, "rankme": 3.0 + seed})
        render_leaderboard(results, tmp_path / "single", suite="q")
    assert not (tmp_path / "single" / "predictivity.md").exists()
    assert "Predictivity" not in (tmp_path / "single" / "index.html").read_text()
