"""Start-up: building the command line and every command's --help imports no heavy library, and the plugin
packages' names (read from their files, for the CLI's choices) are exactly what their registries hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ssl_bench.core.registry import plugin_names

HEAVY = ("torch", "sklearn", "scipy", "numpy", "faiss", "matplotlib", "timm", "torchvision")

IMPORT_EVERY_COMMAND_AND_ITS_HELP = """
import importlib, json, pkgutil, sys
import ssl_bench.commands as commands
for info in pkgutil.iter_modules(commands.__path__):
    importlib.import_module(f"ssl_bench.commands.{info.name}")
after_import = sorted(sys.modules)
from ssl_bench.cli import build_parser
parser = build_parser()
parser.format_help()
for action in parser._subparsers._group_actions:
    for sub in action.choices.values():
        sub.format_help()
print(json.dumps({"import": after_import, "help": sorted(sys.modules)}))
"""


def test_no_command_module_and_no_help_imports_a_heavy_library() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT_EVERY_COMMAND_AND_ITS_HELP], capture_output=True, text=True,
                         check=True).stdout
    loaded = json.loads(out)
    for moment, modules in loaded.items():
        found = sorted({name.split(".")[0] for name in modules} & set(HEAVY))
        assert not found, f"{moment} of the command modules imported {found}"


@pytest.mark.parametrize("package, registry", [
    ("ssl_bench.methods", "ssl_bench.methods.base:METHODS"),
    ("ssl_bench.eval", "ssl_bench.eval.base:EVALUATIONS"),
    ("ssl_bench.spectral.methods", "ssl_bench.spectral.base:SPECTRAL_METHODS"),
    ("ssl_bench.spectral.feature_maps", "ssl_bench.spectral.feature_maps.base:FEATURE_MAPS"),
    ("ssl_bench.models.backbones", "ssl_bench.models.backbones.base:BACKBONES"),
    ("ssl_bench.probes.transforms", "ssl_bench.probes.transforms.base:TRANSFORMS"),
    ("ssl_bench.training.optimizers", "ssl_bench.training.optimizers.base:OPTIMIZERS"),
    ("ssl_bench.training.trackers", "ssl_bench.training.trackers.base:TRACKERS"),
    ("ssl_bench.sources.baselines", "ssl_bench.sources.baselines:BASELINES"),
    ("ssl_bench.sources", "ssl_bench.sources.base:SOURCES"),
    ("ssl_bench.data.datasets", "ssl_bench.data.datasets.base:DATASETS"),
])
def test_a_plugin_package_names_what_its_registry_holds(package: str, registry: str) -> None:
    import importlib

    module, name = registry.split(":")
    names = getattr(importlib.import_module(module), name).names()
    assert names and plugin_names(package) == names


def test_a_plugin_module_that_registers_another_name_is_refused(tmp_path, monkeypatch) -> None:
    from ssl_bench.core.registry import Registry

    package = tmp_path / "fake_plugins"
    package.mkdir()
    (package / "__init__.py").write_text("NOT_PLUGINS = ()\n")
    (package / "good_one.py").write_text("from fake_registry import R\nR.register('good-one')(1)\n")
    (package / "bad_one.py").write_text("from fake_registry import R\nR.register('another-name')(2)\n")
    (tmp_path / "fake_registry.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fake_registry

    fake_registry.R = Registry("thing", package="fake_plugins")
    with pytest.raises(ValueError, match="fake_plugins.bad_one must register the thing 'bad-one'"):
        fake_registry.R.names()
