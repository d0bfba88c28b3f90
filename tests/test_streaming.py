"""Streaming an imagefolder split: the same images, batches, weights and evaluations as the in-memory path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ssl_bench.data.streaming as streaming
import ssl_bench.training.loop as train_module
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import IMAGEFOLDER_SIZE, ImageDataset, load_dataset, normalization_stats
from ssl_bench.data.streaming import StreamedSplit, load_split
from ssl_bench.sources.trained import evaluate_run
from ssl_bench.training.config import make_config
from ssl_bench.training.loop import train

CLASSES = ("ant", "bee", "cat")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> str:
    """imagefolder:PATH with 12 train and 4 test PNGs per class: seeded noise on a class colour, random sizes
    (portrait, landscape, smaller and larger than 32 px), some grayscale and some RGBA (converted to RGB)."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("test", 4)):
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                height, width = rng.integers(20, 70, size=2)
                pixels = rng.integers(0, 256, size=(height, width, 3))
                pixels[..., label] = np.maximum(pixels[..., label], 200)  # the class shows as a colour cast
                image = Image.fromarray(pixels.astype(np.uint8))
                mode = ("RGB", "L", "RGBA")[i % 3]
                image.convert(mode).save(root / split / name / f"{i:02d}.png")
    return f"imagefolder:{root}"


def _reference_decode(file: str) -> torch.Tensor:
    """Independent of the library: shorter side to 32 (PIL bilinear, longer side truncated), centre crop."""
    with Image.open(file) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    scale = IMAGEFOLDER_SIZE / min(width, height)
    size = (IMAGEFOLDER_SIZE, int(height * scale)) if width <= height else (int(width * scale), IMAGEFOLDER_SIZE)
    image = image.resize(size, Image.BILINEAR)
    left = int(round((size[0] - IMAGEFOLDER_SIZE) / 2))
    top = int(round((size[1] - IMAGEFOLDER_SIZE) / 2))
    image = image.crop((left, top, left + IMAGEFOLDER_SIZE, top + IMAGEFOLDER_SIZE))
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_equal_the_images_in_memory(folder, workers):
    memory = load_dataset(folder, "train")
    stream = StreamedSplit.open(folder, "train", workers)
    batches = [[5, 0, 33, 17], [35, 2], [12]]
    loaded = list(stream.loader(batches))
    assert len(loaded) == 3
    for index, (images, labels) in zip(batches, loaded):
        assert images.dtype == torch.uint8 and images.shape == (len(index), 3, 32, 32)
        assert torch.equal(images, memory.images[index]) and torch.equal(labels, memory.labels[index])
    assert torch.equal(stream.labels, torch.arange(3).repeat_interleave(12))
    for i in (0, 1, 2, 20):  # RGB, L and RGBA files, against a decoder written here
        assert torch.equal(stream[i][0], _reference_decode(stream.files[i]))


def test_streamed_statistics_and_subset_equal_the_memory_path(folder):
    memory = load_split(folder, "train", "memory", subset=10, seed=3)
    stream = load_split(folder, "train", "stream", subset=10, seed=3, workers=0)
    assert isinstance(memory, ImageDataset) and isinstance(stream, StreamedSplit)
    assert torch.equal(stream.labels, memory.labels) and torch.bincount(stream.labels).tolist() == [4, 3, 3]
    assert torch.equal(torch.cat(list(stream.in_order(4))), memory.images)
    assert normalization_stats(stream) == normalization_stats(memory)  # exact, not approximately


def test_auto_streams_imagefolder_above_the_memory_budget(folder, monkeypatch):
    assert isinstance(load_split(folder, "train", "auto"), ImageDataset)  # 36 * 3 * 32 * 32 bytes < 8 GiB
    monkeypatch.setenv("SSL_BENCH_MEMORY_BUDGET", str(36 * 3 * 32 * 32 - 1))
    assert isinstance(load_split(folder, "train", "auto"), StreamedSplit)
    assert isinstance(load_split("synthetic", "train", "auto"), ImageDataset)  # only imagefolder streams
    monkeypatch.setenv("SSL_BENCH_MEMORY_BUDGET", "8G")
    with pytest.raises(UserError, match="SSL_BENCH_MEMORY_BUDGET must be a number of bytes"):
        load_split(folder, "train", "auto")


def _config(folder: str, out: Path, data_loading: str, workers: int = 0, **values):
    return make_config({"method": "simclr", "dataset": folder, "backbone": "mlp", "batch_size": 8, "epochs": 2,
                        "method_params": {"projector_dims": [32, 16]}, "seed": 1, "out": str(out),
                        "data_loading": data_loading, "workers": workers, **values})


@pytest.fixture(scope="module")
def memory_run(folder, tmp_path_factory) -> Path:
    return train(_config(folder, tmp_path_factory.mktemp("memory") / "run", "memory"), progress=False)


def _assert_same_run(run_dir: Path, reference: Path) -> None:
    final = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    expected = torch.load(reference / "checkpoint.pt", weights_only=True)
    assert final["epoch"] == expected["epoch"] == 2
    assert final["model"].keys() == expected["model"].keys()
    for name, tensor in expected["model"].items():
        assert torch.equal(final["model"][name], tensor), name
    assert [h["loss"] for h in final["history"]] == [h["loss"] for h in expected["history"]]


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_training_ends_with_the_weights_of_the_memory_path(folder, memory_run, tmp_path, workers):
    run_dir = train(_config(folder, tmp_path / "run", "stream", workers), progress=False)
    _assert_same_run(run_dir, memory_run)
    assert json.loads((run_dir / "config.json").read_text())["data_loading"] == "stream"


@pytest.mark.parametrize("first, then", [("stream", "stream"), ("memory", "stream")])
def test_resume_after_one_epoch_matches_an_uninterrupted_run(folder, memory_run, tmp_path, monkeypatch, first, then):
    real = train_module.collapse_diagnostics
    calls = []

    def interrupt_in_epoch_two(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(train_module, "collapse_diagnostics", interrupt_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(_config(folder, tmp_path / "run", first, 2), progress=False)
    assert len(json.loads((tmp_path / "run" / "metrics.json").read_text())) == 1
    monkeypatch.setattr(train_module, "collapse_diagnostics", real)
    run_dir = train(_config(folder, tmp_path / "run", then, 2), resume=True, progress=False)
    _assert_same_run(run_dir, memory_run)


def test_evaluation_of_a_streamed_split_equals_the_memory_path(folder, memory_run, tmp_path, monkeypatch):
    expected = evaluate_run(memory_run)
    stream_dir = tmp_path / "run"
    stream_dir.mkdir()
    for name in ("checkpoint.pt", "metrics.json", "data.json"):
        (stream_dir / name).write_bytes((memory_run / name).read_bytes())
    config = json.loads((memory_run / "config.json").read_text())
    (stream_dir / "config.json").write_text(json.dumps({**config, "data_loading": "stream", "workers": 2}))

    def no_memory_path(*args, **kwargs):
        raise AssertionError("a streamed evaluation must not decode the split into memory")

    monkeypatch.setattr(streaming, "train_split", no_memory_path)
    monkeypatch.setattr(streaming, "test_split", no_memory_path)
    result = evaluate_run(stream_dir)
    for key in ("knn_top1", "knn_top1_k20", "linear_top1", "n_train", "n_test", "feature_dim"):
        assert result[key] == expected[key], key
    assert result["n_train"] == 36 and result["n_test"] == 12


def test_bad_data_loading_is_one_clear_line(folder, tmp_path, capsys):
    with pytest.raises(UserError, match="unknown data_loading 'disk'; choose one of: auto, memory, stream"):
        _config(folder, tmp_path / "run", "disk")
    with pytest.raises(UserError, match=r"workers must be an integer >= 0 \(0 decodes in the training process\), got -1"):
        _config(folder, tmp_path / "run", "stream", workers=-1)
    with pytest.raises(UserError, match="stream reads imagefolder:PATH datasets only, not synthetic; use memory or auto"):
        train(_config("synthetic", tmp_path / "run", "stream"), progress=False)
    assert main(["train", "--method", "simclr", "--data-loading", "disk"]) == 2
    assert "--data-loading: invalid choice: 'disk'" in capsys.readouterr().err


def test_cli_streams_with_the_given_workers(folder, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["train", "--method", "vicreg", "--dataset", folder, "--backbone", "mlp", "--batch-size", "12",
                 "--epochs", "1", "--param", "projector_dims=[16,16]", "--data-loading", "stream", "--workers", "0",
                 "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["data_loading"], config["workers"]) == ("stream", 0)
    assert json.loads(capsys.readouterr().out) == {"run_dir": str(out)}
