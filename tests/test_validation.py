"""Every setting, wherever it comes from, is either accepted with a meaningful value or refused in one line.

Property-based (Hypothesis): random strings, numbers, lists and nested structures for every setting of train
(TrainConfig, --param, --augment), spectral (SpectralSettings) and the suite YAML. Each case ends in success with a
value inside its declared range or in a UserError (exit code 2 at the CLI); never another exception."""

from __future__ import annotations

import dataclasses
import math
import os
import typing

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssl_bench.bench.suite import load_suite
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import declared_choices
from ssl_bench.methods import METHODS
from ssl_bench.spectral.settings import SpectralSettings, make_spectral_settings
from ssl_bench.training.config import TrainConfig, make_config

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["10", "1e-3", "abc", "", "nan", "-1", "[1, 2]"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
TRAIN_FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "method"]
SPECTRAL_FIELDS = [f.name for f in dataclasses.fields(SpectralSettings)]
CASES = settings(max_examples=int(os.environ.get("SSL_BENCH_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                 derandomize=not os.environ.get("SSL_BENCH_HYPOTHESIS_EXAMPLES"), suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _in_declared_range(obj: object) -> None:
    """The accepted object holds values of the annotated type within the declared range."""
    hints = typing.get_type_hints(type(obj))
    for field in dataclasses.fields(obj):
        value, meta = getattr(obj, field.name), field.metadata
        if value is None or isinstance(value, (str, dict, bool)):
            continue
        if isinstance(value, list):  # a list of names: each one of the declared choices
            assert all(item in declared_choices(field) for item in value), (field.name, value)
            continue
        assert isinstance(value, (int, float)) and math.isfinite(value), (field.name, value, hints[field.name])
        if meta.get("minimum") is not None:
            assert value > meta["minimum"] if meta.get("exclusive_minimum") else value >= meta["minimum"], field.name


@CASES
@given(name=st.sampled_from(TRAIN_FIELDS), value=VALUES, method=st.sampled_from(METHODS.names()))
def test_any_train_setting_is_accepted_in_range_or_refused_in_one_line(name, value, method):
    try:
        config = make_config({"method": method, "dataset": "synthetic", name: value})
    except UserError as err:
        assert "\n" not in str(err)
        return
    _in_declared_range(config)


@CASES
@given(key=st.one_of(st.sampled_from(["temperature", "invariance_weight", "off_diagonal_weight", "projector_dims",
                                      "predictor_hidden"]), st.text(max_size=8)),
       value=VALUES, method=st.sampled_from(METHODS.names()))
def test_any_method_parameter_is_accepted_in_range_or_refused(key, value, method):
    try:
        config = make_config({"method": method, "dataset": "synthetic", "method_params": {key: value}})
    except UserError as err:
        assert "\n" not in str(err)
        return
    spec = METHODS.get(method)
    if key in spec.loss_params:
        assert math.isfinite(float(value)) and float(value) >= 0
        if key in spec.positive_params:
            assert float(value) > 0
    else:
        assert key in ("projector_dims", "predictor_hidden")
        assert all(isinstance(v, int) and v >= 1 for v in value) and value
    assert config.method_params == {key: value}


@CASES
@given(key=st.one_of(st.sampled_from(["crop_scale", "flip_p", "blur_p", "hue", "brightness", "crop_ratio"]),
                     st.text(max_size=8)), value=VALUES)
def test_any_augment_override_is_accepted_or_refused(key, value):
    try:
        make_config({"method": "simclr", "dataset": "synthetic", "augment": {key: value}})
    except UserError as err:
        assert "\n" not in str(err)


@CASES
@given(name=st.sampled_from(SPECTRAL_FIELDS), value=VALUES)
def test_any_spectral_setting_is_accepted_in_range_or_refused(name, value):
    try:
        found = make_spectral_settings({name: value})
    except UserError as err:
        assert "\n" not in str(err)
        return
    _in_declared_range(found)


@CASES
@given(key=st.sampled_from(["seeds", "subset", "datasets", "evaluations", "name", "epochs", "batch_size", "lr",
                            "dim", "n_views", "methods", "trained", "spectral", "baselines", "probe", "backbones"]),
       where=st.sampled_from(["top", "trained", "spectral"]), value=VALUES)
def test_any_suite_value_is_accepted_or_refused(tmp_path_factory, key, where, value):
    suite = {"name": "t", "datasets": ["synthetic"], "trained": {"methods": ["simclr"], "epochs": 1},
             "spectral": {"methods": ["classical-mds"]}}
    (suite if where == "top" else suite[where])[key] = value
    path = tmp_path_factory.mktemp("suite") / "s.yaml"
    path.write_text(yaml.safe_dump(suite))
    try:
        load_suite(path)
    except UserError as err:
        assert "\n" not in str(err)


@pytest.mark.parametrize("args", [
    ["--param", "invariance_weight=abc"], ["--param", "projector_dims=[]"], ["--augment", "crop_scale=abc"],
    ["--lr", "-1"], ["--lr", "0"], ["--weight-decay", "-1"], ["--warmup-epochs", "-1"], ["--epochs", "ten"],
])
def test_the_reported_bad_flags_are_one_line_with_exit_code_2(args, tmp_path, capsys):
    assert main(["train", "--method", "vicreg", "--dataset", "synthetic", "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert not (tmp_path / "r").exists()  # refused before anything ran


def test_negative_temperature_and_a_config_file_with_a_string_for_a_number(tmp_path, capsys):
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--param", "temperature=-1"]) == 2
    assert "temperature must be a number > 0" in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text("method: simclr\nepochs: ten\n")
    assert main(["train", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == "error: epochs must be an integer >= 1, got 'ten'"
