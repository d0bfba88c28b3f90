"""Property-based tests at the command line for ``eval``, ``probe`` and ``compare``: any value for any of their
options ends in exit code 0 with a meaningful result, or in exit code 2 with exactly one ``error:`` line; never a
traceback (an exception escaping ``main``), never another exit code.

Values are random strings, numbers as text, lists and the options' own valid values, on a tiny trained run of the
synthetic dataset and a store with two methods x two seeds. Derandomized (the same cases every run);
``SSL_BENCH_HYPOTHESIS_EXAMPLES`` runs more, at random."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssl_bench.bench.store import ResultStore, RunCell
from ssl_bench.cli import main
from ssl_bench.training.config import make_config
from ssl_bench.training.loop import train

CASES = settings(max_examples=int(os.environ.get("SSL_BENCH_HYPOTHESIS_EXAMPLES", "25")), deadline=None,
                 derandomize=not os.environ.get("SSL_BENCH_HYPOTHESIS_EXAMPLES"),
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
NUMBERS_AS_TEXT = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(str),
                            st.sampled_from(["0", "1", "-1", "1e9", "nan", "inf", "0.5", "3"]))
TEXT = st.one_of(st.text(max_size=10).filter(lambda s: "\x00" not in s), NUMBERS_AS_TEXT,
                 st.sampled_from(["", "[1, 2]", "{a: 1}", "../x", "no/such/dir/file", "-", "--json"]))


def _one_line_or_success(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code in (0, 2), (argv, code, err[-500:])
    if code == 2:
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and err.rstrip().endswith(errors[0]), (argv, err[-500:])
        assert "Traceback" not in err, (argv, err[-500:])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "simclr-synthetic"
    config = make_config({"method": "simclr", "dataset": "synthetic", "epochs": 1, "batch_size": 64,
                          "device": "cpu", "subset": 256, "out": str(out)})
    return train(config, progress=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "results.sqlite"
    with ResultStore(path) as results:
        for method, base in (("simclr", 0.80), ("vicreg", 0.82)):
            for seed in (0, 1):
                run_id = results.start_run(RunCell("s", "trained", method, "synthetic", backbone="mlp", seed=seed))
                results.finish_run(run_id, {"knn_top1": base + 0.01 * seed, "linear_top1": base})
    return path


EVAL_OPTIONS = {"--features": TEXT | st.sampled_from(["backbone", "projector"]),
                "--seed": NUMBERS_AS_TEXT, "--device": TEXT | st.just("cpu"),
                "--evaluations": TEXT | st.sampled_from(["knn", "rankme", "alpha-req"])}


@CASES
@given(option=st.sampled_from(sorted(EVAL_OPTIONS)), data=st.data())
def test_eval_of_a_run_with_any_option_value(run_dir, capsys, option, data):
    value = data.draw(EVAL_OPTIONS[option])
    _one_line_or_success(["eval", str(run_dir), "--device", "cpu", option, value], capsys)


BASELINE_OPTIONS = {"--baseline": TEXT | st.just("raw-pixels"), "--dataset": TEXT | st.just("synthetic"),
                    "--backbone": TEXT | st.sampled_from(["mlp", "pixels"]),
                    "--subset": NUMBERS_AS_TEXT | st.sampled_from(["100", "2"])}


@CASES
@given(option=st.sampled_from(sorted(BASELINE_OPTIONS)), data=st.data())
def test_eval_of_a_baseline_with_any_option_value(capsys, option, data):
    argv = {"--baseline": "raw-pixels", "--dataset": "synthetic", "--subset": "100", "--evaluations": "knn"}
    argv[option] = data.draw(BASELINE_OPTIONS[option])
    _one_line_or_success(["eval", "--device", "cpu", *[item for pair in argv.items() for item in pair]], capsys)


PROBE_OPTIONS = {"--transforms": TEXT | st.sampled_from(["rotate", "hflip,rotate", "rotate,rotate", "nope"]),
                 "--n": NUMBERS_AS_TEXT | st.sampled_from(["40", "1", "0"]), "--seed": NUMBERS_AS_TEXT,
                 "--features": TEXT | st.just("projector"), "--out": TEXT}


@CASES
@given(option=st.sampled_from(sorted(PROBE_OPTIONS)), data=st.data())
def test_probe_with_any_option_value(run_dir, tmp_path_factory, monkeypatch, capsys, option, data):
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # a random --out lands here
    argv = {"--transforms": "hflip", "--n": "40", "--device": "cpu"}
    argv[option] = data.draw(PROBE_OPTIONS[option])
    _one_line_or_success(["probe", str(run_dir), *[item for pair in argv.items() for item in pair]], capsys)


COMPARE_OPTIONS = {"--metric": TEXT | st.sampled_from(["knn_top1", "linear_top1", "loss"]),
                   "--confidence": NUMBERS_AS_TEXT, "--suite": TEXT | st.just("s"),
                   "--dataset": TEXT | st.just("synthetic"), "--backbone": TEXT | st.just("mlp"),
                   "--kind": TEXT | st.just("trained")}


@CASES
@given(option=st.sampled_from(sorted(COMPARE_OPTIONS)), data=st.data(),
       methods=st.lists(TEXT | st.sampled_from(["simclr", "vicreg"]), min_size=2, max_size=2))
def test_compare_with_any_option_value(store, capsys, option, data, methods):
    argv = ["compare", "--store", str(store), "--methods", *methods,
            option, data.draw(COMPARE_OPTIONS[option])]
    _one_line_or_success(argv, capsys)


@CASES
@given(runs=st.lists(TEXT, min_size=0, max_size=3))
def test_compare_with_any_run_ids(store, capsys, runs):
    _one_line_or_success(["compare", "--store", str(store), "--", *runs], capsys)
