"""The standard suites (suites/cifar10, cifar100, cifar10-lightly, stl10, imagenet100): recipe parity with the
published configurations, a smoke step of every recipe on generated data of the right shape and class count (no
download here), and the published results beside ours in the leaderboard."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from ssl_bench.bench.cells import train_config
from ssl_bench.bench.parity import parity_rows
from ssl_bench.bench.suite import load_suite
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import base as datasets
from ssl_bench.data.datasets import torchvision_sets
from ssl_bench.methods import FAMILIES, METHODS
from ssl_bench.training.loop import run_epoch, setup
from ssl_bench.training.recipe import effective_recipe

SUITES = Path(__file__).resolve().parents[1] / "suites"
STANDARD = ("cifar10", "cifar100", "cifar10-lightly", "stl10", "imagenet100")
STANDARD_METHODS = ("barlowtwins", "byol", "mocov3", "simclr", "simsiam", "vicreg")
SHAPES = {"cifar10": (32, 10), "cifar100": (32, 100), "stl10": (96, 10)}  # (image size, classes) of the real sets


@pytest.mark.parametrize("name", STANDARD)
def test_each_standard_suite_trains_its_methods_and_holds_their_parity_table(name: str) -> None:
    """The six first methods at least (the newer families join with their published recipes and parity rows)."""
    suite = load_suite(SUITES / f"{name}.yaml")
    trained = [cell for cell in suite.cells if cell.kind == "trained"]
    assert set(STANDARD_METHODS) <= {cell.method for cell in trained} <= set(METHODS.names())
    rows = parity_rows(suite.parity, suite)
    assert [f"{row.method}.{row.field}: {row.problem}" for row in rows if row.problem] == []
    assert len(rows) == sum(len(effective_recipe(train_config(cell))) for cell in trained)  # every field, every method


def test_the_quick_suite_trains_a_method_of_every_family_on_a_backbone_it_allows() -> None:
    trained = [cell for cell in load_suite(SUITES / "quick.yaml").cells if cell.kind == "trained"]
    assert {METHODS.get(cell.method).family for cell in trained} == set(FAMILIES)
    assert all(cell.backbone == "vit-tiny" for cell in trained if METHODS.get(cell.method).vit_only)


def test_reference_numbers_are_transcribed_as_published() -> None:
    """Spot checks against the sources' tables (solo-learn README at 9187ea3, lightly's 2022 benchmark script)."""
    values = {(r.method, r.dataset, r.metric): r.value for name in STANDARD for r in load_suite(SUITES / f"{name}.yaml").references}
    assert values[("simclr", "cifar10", "linear_top1")] == 90.74
    assert values[("barlowtwins", "cifar100", "linear_top1")] == 70.90
    assert values[("simsiam", "imagefolder@224:data/imagenet100", "linear_top1")] == 78.72
    assert values[("byol", "cifar10", "knn_top1")] == 87.2  # lightly, batch 512, 200 epochs
    assert ("vicreg", "cifar10", "knn_top1") not in values  # lightly's table has no VICReg row


def _copy_suite(tmp_path: Path, name: str) -> tuple[Path, Path]:
    (tmp_path / "parity").mkdir()
    suite_file = tmp_path / f"{name}.yaml"
    shutil.copy(SUITES / f"{name}.yaml", suite_file)
    table = yaml.safe_load((SUITES / f"{name}.yaml").read_text())["parity"]
    shutil.copy(SUITES / table, tmp_path / table)
    return suite_file, tmp_path / table


def _problems(suite_file: Path, table: Path) -> list[str]:
    suite = load_suite(suite_file)
    return [f"{row.method}.{row.field}: {row.problem}" for row in parity_rows(table, suite) if row.problem]


def test_a_drifting_default_fails_parity(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = METHODS.get("simclr")
    monkeypatch.setitem(METHODS._items, "simclr", dataclasses.replace(spec, loss_params={"temperature": 0.5}))
    suite = load_suite(SUITES / "cifar10.yaml")
    problems = [(row.method, row.field) for row in parity_rows(suite.parity, suite) if row.problem]
    assert problems == [("simclr", "loss_temperature")]


def test_an_unnamed_or_invented_difference_fails_parity(tmp_path: Path) -> None:
    suite_file, table = _copy_suite(tmp_path, "cifar10")
    document = yaml.safe_load(table.read_text())
    assert _problems(suite_file, table) == []
    del document["methods"]["simclr"]["precision"]["differs"]  # fp16 vs bf16 without a reason
    document["methods"]["vicreg"]["epochs"]["differs"] = "no real difference"
    table.write_text(yaml.safe_dump(document))
    problems = _problems(suite_file, table)
    assert len(problems) == 2 and "simclr.precision" in problems[0] and "vicreg.epochs" in problems[1]
    del document["methods"]["byol"]["lr"]
    table.write_text(yaml.safe_dump(document))
    with pytest.raises(UserError, match="byol lacks the field 'lr'"):
        _problems(suite_file, table)


def test_suite_parity_command_prints_the_table_and_fails_on_a_drift(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["suite", "parity", str(SUITES / "cifar10-lightly.yaml")]) == 0
    out = capsys.readouterr().out
    assert "| byol | momentum_tau | [0.99, 0.99] | [0.99, 1.0] | lightly keeps tau = 0.99 constant" in out
    suite_file, table = _copy_suite(tmp_path, "cifar10-lightly")
    table.write_text(table.read_text().replace('lr_per_256: {"reference": 0.12, "ours": 0.12}',
                                               'lr_per_256: {"reference": 0.12, "ours": 0.1}', 1))
    assert main(["suite", "parity", str(suite_file)]) == 1
    assert "the table says 0.1 but the suite trains 0.12" in capsys.readouterr().err


# --- a smoke step of every recipe on generated data ------------------------------------------------------------


@pytest.fixture
def generated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """CIFAR-10/100 and STL-10 through their real loaders from generated arrays, and an ImageNet-100-like folder
    (100 classes, one small PNG each per split, decoded at 224 px)."""
    rng = np.random.default_rng(0)

    class StandIn:
        def __init__(self, name: str) -> None:
            size, classes = SHAPES[name]
            images = rng.integers(0, 256, size=(16, 3, size, size), dtype=np.uint8)
            self.data = images if name == "stl10" else images.transpose(0, 2, 3, 1).copy()  # CIFAR: (N, H, W, C)
            self.labels = self.targets = rng.integers(0, classes, size=16).tolist()

    monkeypatch.setattr(torchvision_sets, "_torchvision_set", lambda name, split, download: StandIn(name))
    folder = tmp_path / "imagenet100"
    for split in ("train", "test"):
        for index in range(100):
            (folder / split / f"n{index:03d}").mkdir(parents=True)
            pixels = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / split / f"n{index:03d}" / "0.png")
    datasets._load_cached.cache_clear()
    yield folder
    datasets._load_cached.cache_clear()


@pytest.mark.parametrize("name", STANDARD)
def test_every_recipe_of_the_suite_takes_a_training_step_on_data_of_its_shape(name: str, generated_data: Path,
                                                                              tmp_path: Path) -> None:
    suite = load_suite(SUITES / f"{name}.yaml")
    for cell in (c for c in suite.cells if c.kind == "trained"):
        if cell.dataset.startswith("imagefolder@224:"):
            cell = dataclasses.replace(cell, dataset=f"imagefolder@224:{generated_data}")
        recipe = train_config(cell, out=str(tmp_path / cell.method))
        config = dataclasses.replace(recipe, batch_size=4, out=str(tmp_path / name / cell.method))  # the recipe, one small batch
        training = setup(config)
        size, classes = SHAPES.get(cell.dataset, (224, 100))
        assert training.source.head(1).shape == (1, 3, size, size)
        assert training_classes(config) == classes
        training.steps_per_epoch = 1  # one optimiser step of the real loop
        training.probe_views = training.probe_views[:4]  # the epoch's collapse diagnostics on 4 images, not all
        weights = [p for p in training.model.parameters() if p.ndim >= 2]  # BN scales start at exactly 1: a first
        before = [p.detach().clone() for p in weights]  # warm-up step at batch 4 can leave them there in float32
        record = run_epoch(training, 0, progress=False)
        assert np.isfinite(record["loss"])
        moved = sum(not torch.equal(a, b) for a, b in zip(before, weights))
        assert moved > 0.9 * len(before), f"{name}/{cell.method}: only {moved} of {len(before)} tensors moved"


def training_classes(config) -> int:  # noqa: ANN001
    from ssl_bench.training.loop import training_data

    return training_data(config).num_classes


# --- published results in the leaderboard ----------------------------------------------------------------------


def test_published_results_appear_beside_ours_with_the_difference_and_the_protocol_mark(tmp_path: Path) -> None:
    from ssl_bench.bench.store import ResultStore, RunCell
    from ssl_bench.leaderboard import render_leaderboard

    suite = load_suite(SUITES / "cifar10.yaml")
    with ResultStore(tmp_path / "store.sqlite") as store:
        for seed, accuracy in ((0, 0.9), (1, 0.92)):
            cell = RunCell("cifar10", "trained", "simclr", "cifar10", "test", "resnet18", {}, 1000, seed)
            run_id = store.start_run(cell)
            store.finish_run(run_id, {"linear_top1": accuracy}, wall_time_s=1.0)
        render_leaderboard(store, tmp_path / "board", suite="cifar10", references=suite.references)
    markdown = (tmp_path / "board" / "leaderboard.md").read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| simclr | cifar10 |"))
    assert "| 90.74 † | 91.0 (n=2) | +0.3 † |" in row and "solo-learn README" in row and "differs: online" in row
    missing = next(line for line in markdown.splitlines() if line.startswith("| vicreg | cifar10 |"))
    assert "| 92.07 † | — | — |" in missing
    document = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    first = next(item for item in document["references"] if item["method"] == "simclr")
    assert first["published"] == 90.74 and abs(first["ours_minus_published"] - 0.26) < 1e-9 and first["protocol_differs"]
    assert "Published results beside ours" in (tmp_path / "board" / "index.html").read_text()


@pytest.mark.parametrize(("block", "message"), [
    ({"source": "s", "protocol": "p", "metric": "linear_top1", "differs": [], "values": {"swav": 80.0}}, "does not train"),
    ({"source": "s", "protocol": "p", "metric": "linear_top1", "differs": [], "values": {"simclr": 0.9074e3}}, "percent"),
    ({"source": "s", "protocol": "p", "metric": "linear_top5", "differs": [], "values": {"simclr": 90.0}}, "not comparable"),
    ({"source": "s", "protocol": "p", "metric": "linear_top1", "values": {"simclr": 90.0}}, "lacks \\['differs'\\]"),
])
def test_a_bad_references_block_is_one_line(tmp_path: Path, block: dict, message: str) -> None:
    suite = yaml.safe_load((SUITES / "quick.yaml").read_text())
    suite["references"] = [block]
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    with pytest.raises(UserError, match=message):
        load_suite(path)


def test_imagefolder_at_a_size_decodes_and_streams_at_that_size(generated_data: Path) -> None:
    from ssl_bench.data.streaming import StreamedSplit

    name = f"imagefolder@64:{generated_data}"
    memory = datasets.load_dataset(name, "test")
    streamed = StreamedSplit.open(name, "test")
    assert memory.images.shape == (100, 3, 64, 64) and memory.num_classes == 100 and streamed.image_size == 64
    assert torch.equal(streamed[7][0], memory.images[7])
    assert datasets.load_dataset(f"imagefolder:{generated_data}", "test").images.shape[-1] == datasets.IMAGEFOLDER_SIZE
    for bad in ("imagefolder@2:x", "imagefolder@big:x", "imagefolder@64:"):
        with pytest.raises(UserError):
            datasets.dataset_spec(bad)


def test_the_dry_run_sizes_an_imagefolder_by_its_name_and_folder(generated_data: Path) -> None:
    from ssl_bench.bench.plan import _dataset_info

    info = _dataset_info(f"imagefolder@224:{generated_data}")
    assert (info["image_size"], info["train_images"], info["classes"], info["available"]) == (224, 100, 100, True)
    missing = _dataset_info("imagefolder@224:data/nowhere")
    assert missing["available"] is False and missing["train_images"] is None and missing["image_size"] == 224


def test_the_effective_recipe_names_each_methods_views():
    """View counts are parity fields: two global views and no local one for the two-view methods of the standard
    suites; DINO's published multi-crop (2 global + 6 local crops of 96/224 of the size, area 0.05-0.4) for DINO."""
    from ssl_bench.training.config import make_config

    vicreg = effective_recipe(make_config({"method": "vicreg", "dataset": "fashion-mnist"}))
    assert (vicreg["augment_global_views"], vicreg["augment_local_views"]) == (2, 0)
    assert "augment_local_size" not in vicreg
    dino = effective_recipe(make_config({"method": "dino", "dataset": "fashion-mnist"}))
    assert (dino["augment_global_views"], dino["augment_local_views"]) == (2, 6)
    assert dino["augment_local_size"] == int(28 * 96 / 224) and dino["augment_local_crop_scale"] == [0.05, 0.4]


def test_a_method_trained_on_two_backbones_is_referenced_per_backbone(tmp_path: Path) -> None:
    """solo-learn's ImageNet-100 table has DINO on ResNet-18 and on ViT-Tiny: each value names its backbone
    (METHOD/BACKBONE) when the suite trains the method on several, and sits beside that row only."""
    from ssl_bench.bench.references import compare_references

    suite = yaml.safe_load((SUITES / "quick.yaml").read_text())
    suite["trained"].append({"methods": ["simclr"], "backbones": ["vit-tiny"], "epochs": 1, "batch_size": 8})
    path = tmp_path / "suite.yaml"
    for values, message in (({"simclr": 90.0}, "name one as simclr/BACKBONE"),
                            ({"simclr/resnet18": 90.0}, "does not train")):
        suite["references"] = [{"source": "s", "protocol": "p", "metric": "knn_top1", "differs": [], "values": values}]
        path.write_text(yaml.safe_dump(suite))
        with pytest.raises(UserError, match=message):
            load_suite(path)
    suite["references"][0]["values"] = {"simclr/vit-tiny": 60.0, "vicreg": 70.0}
    path.write_text(yaml.safe_dump(suite))
    references = load_suite(path).references
    assert [(r.method, r.backbone, r.label) for r in references] == [("simclr", "vit-tiny", "simclr/vit-tiny"),
                                                                    ("vicreg", None, "vicreg")]

    class Row:  # the fields compare_references reads from a leaderboard row
        def __init__(self, method: str, backbone: str, mean: float) -> None:
            self.method, self.backbone, self.dataset, self.epochs = method, backbone, "fashion-mnist", 5
            self.metrics = {"knn_top1": type("Summary", (), {"mean": mean, "n": 1})()}

    rows = [Row("simclr", "convnet", 0.7), Row("simclr", "vit-tiny", 0.5), Row("vicreg", "convnet", 0.65)]
    simclr, vicreg = compare_references(references, rows)
    assert (simclr.ours, vicreg.ours) == (50.0, 65.0)
