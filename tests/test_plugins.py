"""Plugins from other installed packages (entry points): found by name without an import, loaded with the
registry, refused in one line when broken; and the example package (tests/example_plugin, README's "Bring your
own") installed with pip, then trained, evaluated, validated in a suite and ranked by the CLI."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry, installed_entry_points, plugin_names

EXAMPLE = Path(__file__).with_name("example_plugin")


def _distribution(root: Path, entries: dict[str, str], modules: dict[str, str]) -> None:
    """An installed distribution as pip lays it out: a dist-info folder with entry points, and its modules."""
    info = root / "fake_dist-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[fake_plugins]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))
    for name, text in modules.items():
        (root / f"{name}.py").write_text(text)
    package = root / "fake_plugins"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("NOT_PLUGINS = ()\n")
    (package / "own.py").write_text("from fake_registry import R\nR.register('own')(0)\n")
    (root / "fake_registry.py").write_text("")


@pytest.fixture
def fake_registry(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    installed_entry_points.cache_clear()
    yield tmp_path
    installed_entry_points.cache_clear()
    for name in [name for name in sys.modules if name.startswith(("fake_", "plugin_"))]:
        del sys.modules[name]


def _registry() -> Registry:
    module = importlib.import_module("fake_registry")
    module.R = Registry("thing", package="fake_plugins")
    return module.R


def test_an_installed_plugin_is_named_without_import_and_loaded_with_the_registry(fake_registry):
    _distribution(fake_registry, {"theirs": "plugin_theirs"},
                  {"plugin_theirs": "from fake_registry import R\nR.register('theirs')(1)\n"})
    registry = _registry()
    assert plugin_names("fake_plugins") == ["own", "theirs"] and "plugin_theirs" not in sys.modules
    assert registry.get("theirs") == 1 and registry.names() == ["own", "theirs"]


@pytest.mark.parametrize("module, message", [
    ("raise ImportError('needs foo')\n", "cannot be loaded \\(ImportError: needs foo\\); fix or uninstall"),
    ("from fake_registry import R\nR.register('other')(1)\n", "did not register 'theirs'"),
])
def test_a_broken_installed_plugin_is_one_line_naming_its_package(fake_registry, module, message):
    _distribution(fake_registry, {"theirs": "plugin_theirs"}, {"plugin_theirs": module})
    with pytest.raises(UserError, match=f"the thing 'theirs' of the installed package fake-dist 1.0.*{message}"):
        _registry().names()


def test_an_installed_plugin_may_not_take_a_name_of_ssl_benchs_own(fake_registry):
    _distribution(fake_registry, {"own": "plugin_own"}, {"plugin_own": "from fake_registry import R\n"})
    with pytest.raises(UserError, match="has the name of ssl-bench's own thing; rename its entry point"):
        _registry().names()


def test_the_example_package_installed_with_pip_is_trained_evaluated_validated_and_ranked(tmp_path):
    source, target = tmp_path / "source", tmp_path / "site"
    shutil.copytree(EXAMPLE, source)  # pip builds in the source folder: keep the repository clean
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target), "SSL_BENCH_STORE": str(tmp_path / "store.sqlite"),
           "COLUMNS": "1000"}  # argparse wraps help at hyphens ("my-" / "method") on a narrow terminal

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "ssl_bench", *args], env=env, cwd=tmp_path, text=True,
                              capture_output=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "my-method" in cli("train", "--help") and "nearest-centroid" in cli("eval", "--help")
    cli("train", "--method", "my-method", "--dataset", "synthetic", "--subset", "200", "--epochs", "1",
        "--batch-size", "64", "--out", "run", "--quiet")
    assert "centroid_top1" in cli("eval", "run", "--evaluations", "knn", "nearest-centroid", "--store",
                                  str(tmp_path / "store.sqlite"))
    (tmp_path / "suite.yaml").write_text("name: mine\ndatasets: [synthetic]\nsubset: 200\nseeds: [0]\n"
                                         "evaluations: [knn, nearest-centroid]\n"
                                         "trained:\n  - methods: [my-method, simclr]\n    epochs: 1\n")
    assert json.loads(cli("suite", "validate", "suite.yaml")) == {"suite": "mine", "runs": 2}
    cli("leaderboard", "--suite", "manual", "--out", "board")
    board = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "| my-method | trained |" in board and "nearest centroid top-1" in board
