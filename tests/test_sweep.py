"""Sweeps in suites: the exact cross product in a stable order, each variant validated like any block."""

from __future__ import annotations

import itertools

import pytest
import yaml

from ssl_bench.bench.suite import load_suite
from ssl_bench.bench.sweep import expand_sweep
from ssl_bench.core.errors import UserError


def test_a_sweep_expands_to_the_cross_product_in_order_the_last_key_fastest():
    block = {"methods": ["simclr"], "epochs": 1, "augment": {"flip_p": 0.0},
             "sweep": {"lr": [0.1, 0.3], "augment.crop_scale": [[0.08, 1.0], [0.5, 1.0]],
                       "method_params.temperature": [0.1, 0.2, 0.5]}}
    variants = expand_sweep(block)
    expected = list(itertools.product([0.1, 0.3], [[0.08, 1.0], [0.5, 1.0]], [0.1, 0.2, 0.5]))
    assert [(v["lr"], v["augment"]["crop_scale"], v["method_params"]["temperature"]) for v in variants] == expected
    assert all(v["augment"]["flip_p"] == 0.0 and "sweep" not in v and v["epochs"] == 1 for v in variants)
    assert block["augment"] == {"flip_p": 0.0}  # the block itself is left as it was
    assert expand_sweep({"methods": ["simclr"]}) == [{"methods": ["simclr"]}]


@pytest.mark.parametrize(("sweep", "message"), [
    ({}, "at least one setting"),
    ({"lr": 0.1}, "non-empty list"),
    ({"lr": []}, "non-empty list"),
    ({"epochs.x": [1]}, "only augment and method_params take a dotted key"),
    ({"augment": [{"flip_p": 0.5}]}, "both set augment \\['flip_p'\\]"),
    ({"augment": [0.5]}, "each value of sweep augment must be a mapping"),
    ({"epochs": [1, 2]}, "both set epochs"),
])
def test_a_malformed_sweep_is_one_line(sweep, message):
    with pytest.raises(UserError, match=message):
        expand_sweep({"methods": ["simclr"], "epochs": 1, "augment": {"flip_p": 0.0}, "sweep": sweep})


def test_a_mapping_setting_sweeps_whole_recipes_merged_into_the_blocks_own():
    weak, strong = {"crop_scale": [0.5, 1.0], "brightness": 0.1}, {"crop_scale": [0.08, 1.0], "brightness": 0.8}
    variants = expand_sweep({"methods": ["simclr"], "augment": {"flip_p": 0.0}, "sweep": {"augment": [weak, strong]}})
    assert [v["augment"] for v in variants] == [{"flip_p": 0.0, **weak}, {"flip_p": 0.0, **strong}]


def _suite(tmp_path, trained: dict):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "datasets": ["synthetic"], "seeds": [0, 1], "trained": trained}))
    return path


def test_each_swept_cell_carries_its_values_and_its_own_run_id(tmp_path):
    path = _suite(tmp_path, {"methods": ["simclr", "vicreg"], "backbones": ["mlp"], "epochs": 1,
                             "sweep": {"lr": [0.1, 0.3], "augment.crop_scale": [[0.08, 1.0], [0.5, 1.0]]}})
    cells = load_suite(path).cells
    assert len(cells) == 2 * 2 * 2 * 2  # methods x lr x crop_scale x seeds
    assert len({cell.run_id for cell in cells}) == len(cells)
    swept = {(cell.method, cell.hparams["lr"], tuple(cell.hparams["augment"]["crop_scale"]), cell.seed) for cell in cells}
    assert len(swept) == len(cells)


@pytest.mark.parametrize(("sweep", "message"), [
    ({"lrr": [0.1]}, "lrr"),
    ({"augment.crop_scal": [[0.2, 1.0]]}, "crop_scal"),
    ({"lr": [-1.0]}, "lr"),
])
def test_a_sweep_of_an_unknown_or_invalid_setting_is_refused_when_the_suite_is_read(tmp_path, sweep, message):
    path = _suite(tmp_path, {"methods": ["simclr"], "backbones": ["mlp"], "epochs": 1, "sweep": sweep})
    with pytest.raises(UserError, match=message) as err:
        load_suite(path)
    assert "\n" not in str(err.value)
