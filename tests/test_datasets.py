"""Datasets: the idx reader, where data is looked for, Fashion-MNIST itself, subsets, the synthetic set, the CLI."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import (
    ImageDataset,
    balanced_subset,
    dataset_table,
    idx,
    load_dataset,
    make_synthetic,
    normalization_stats,
    read_idx,
    torchvision_sets,
)
from ssl_bench.data.datasets import base as datasets


def idx_bytes(array: np.ndarray) -> bytes:
    """The idx encoding of a uint8 array, written from the format's description."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n: int, seed: int, compress: bool) -> tuple[np.ndarray, np.ndarray]:
    """A small fake MNIST-style set (both splits) in ``folder``; returns the train images and labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    result = None
    for split, (image_stem, label_stem) in idx.IDX_FILES.items():
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for stem, array in ((image_stem, images), (label_stem, labels)):
            data = idx_bytes(array)
            if compress:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / stem).write_bytes(data)
        if split == "train":
            result = images, labels
    return result


@pytest.fixture
def isolated_data(tmp_path, monkeypatch) -> Path:
    """SSL_BENCH_DATA -> an empty folder and the Debian folder -> a missing one: nothing is found by default."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("SSL_BENCH_DATA", str(root))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    return root


# --- idx reader ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_matches_the_written_array(tmp_path, compress):
    array = np.random.default_rng(0).integers(0, 256, size=(5, 3, 4), dtype=np.uint8)
    data = idx_bytes(array)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    result = read_idx(path)
    assert result.dtype == torch.uint8
    assert np.array_equal(result.numpy(), array)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda good: good[:-1],  # truncated payload
        lambda good: good + b"\x00",  # trailing bytes
        lambda good: b"\x01" + good[1:],  # bad magic number
        lambda good: good[:2] + b"\x0d" + good[3:],  # float idx: unsupported type
        lambda good: good[:6],  # truncated header
        lambda good: gzip.compress(good)[:-10],  # truncated gzip stream
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, corrupt):
    good = idx_bytes(np.zeros((4, 2, 2), dtype=np.uint8))
    path = tmp_path / "bad.idx"
    path.write_bytes(corrupt(good))
    with pytest.raises(UserError, match="bad.idx"):
        read_idx(path)


# --- where data is looked for -----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["", "fashion-mnist", "FashionMNIST/raw"])
def test_fashion_mnist_found_in_ssl_bench_data_layouts(isolated_data, layout):
    images, labels = write_idx_set(isolated_data / layout, n=12, seed=1, compress=layout == "")
    ds = load_dataset("fashion-mnist", "train")
    assert ds.images.shape == (12, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.dtype == torch.int64
    assert np.array_equal(ds.images[:, 0].numpy(), images)
    assert np.array_equal(ds.labels.numpy(), labels)


def test_ssl_bench_data_comes_before_the_debian_folder(isolated_data, tmp_path, monkeypatch):
    write_idx_set(isolated_data, n=7, seed=1, compress=True)
    debian = tmp_path / "debian"
    write_idx_set(debian, n=9, seed=2, compress=True)
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST", debian)
    assert len(load_dataset("fashion-mnist", "test")) == 7
    monkeypatch.delenv("SSL_BENCH_DATA")
    assert len(load_dataset("fashion-mnist", "test")) == 9


def test_missing_dataset_says_where_it_looked_and_how_to_get_it(isolated_data):
    with pytest.raises(UserError) as info:
        load_dataset("fashion-mnist", "train")
    message = str(info.value)
    assert "\n" not in message
    assert str(isolated_data) in message and "no-debian" in message
    assert "apt-get install dataset-fashion-mnist" in message and "--download" in message
    rows = {row["name"]: row for row in dataset_table()}
    assert rows["fashion-mnist"]["available"] is False
    with pytest.raises(UserError, match="--download"):
        load_dataset("cifar10", "test")


def test_mismatched_idx_files_are_rejected(isolated_data):
    write_idx_set(isolated_data, n=6, seed=0, compress=False)
    (isolated_data / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([0, 1, 2, 3, 4, 10], dtype=np.uint8)))
    with pytest.raises(UserError, match="label"):
        load_dataset("fashion-mnist", "train")
    (isolated_data / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)))
    with pytest.raises(UserError, match="do not fit together"):
        load_dataset("fashion-mnist", "test")


def test_bad_names_and_splits():
    with pytest.raises(UserError, match="fashion-mnist"):
        load_dataset("no-such-set")
    with pytest.raises(UserError, match="train, test"):
        load_dataset("synthetic", "validation")
    with pytest.raises(UserError, match="imagefolder:PATH"):
        load_dataset("imagefolder:")


def test_loads_are_cached():
    assert load_dataset("synthetic", "train") is load_dataset("synthetic", "train")


# --- imagefolder ---------------------------------------------------------------------------------------------------


def write_png(path: Path, color: tuple[int, int, int], size: tuple[int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_imagefolder_decodes_resizes_and_labels(tmp_path):
    for split, count in (("train", 3), ("test", 2)):
        for i in range(count):
            write_png(tmp_path / split / "cat" / f"{i}.png", (200, 10, 10), (40 + i, 50))
            write_png(tmp_path / split / "dog" / f"{i}.png", (10, 10, 200), (64, 48))
    ds = load_dataset(f"imagefolder:{tmp_path}", "train")
    assert ds.images.shape == (6, 3, datasets.IMAGEFOLDER_SIZE, datasets.IMAGEFOLDER_SIZE)
    assert ds.num_classes == 2 and ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.images[0, :, 5, 5].tolist() == [200, 10, 10]  # solid colours survive resizing
    assert ds.images[3, :, 5, 5].tolist() == [10, 10, 200]
    assert len(load_dataset(f"imagefolder:{tmp_path}", "test")) == 4


def test_imagefolder_errors(tmp_path):
    with pytest.raises(UserError, match="train"):
        load_dataset(f"imagefolder:{tmp_path}", "train")
    write_png(tmp_path / "train" / "cat" / "0.png", (0, 0, 0), (8, 8))
    write_png(tmp_path / "test" / "dog" / "0.png", (0, 0, 0), (8, 8))
    with pytest.raises(UserError, match="classes"):
        load_dataset(f"imagefolder:{tmp_path}", "train")


# --- Fashion-MNIST itself --------------------------------------------------------------------------------------------


def test_fashion_mnist_shapes_dtypes_and_classes(require_fashion_mnist):
    for split, n in (("train", 60000), ("test", 10000)):
        ds = load_dataset("fashion-mnist", split)
        assert ds.images.shape == (n, 1, 28, 28) and ds.images.dtype == torch.uint8
        assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
        assert ds.num_classes == 10 and ds.channels == 1 and ds.image_size == 28 and len(ds) == n
        assert np.array_equal(np.bincount(ds.labels.numpy()), np.full(10, n // 10))
        assert int(ds.images.max()) == 255 and int(ds.images.min()) == 0


def test_fashion_mnist_normalisation_stats(require_fashion_mnist):
    ds = load_dataset("fashion-mnist", "train")
    (mean,), (std,) = normalization_stats(ds)
    pixels = ds.images.numpy().astype(np.float64) / 255.0
    assert mean == pytest.approx(pixels.mean(), abs=1e-9)
    assert std == pytest.approx(pixels.std(), abs=1e-9)
    assert (round(mean, 3), round(std, 3)) == (0.286, 0.353)  # the commonly quoted Fashion-MNIST statistics


def test_normalisation_stats_per_channel():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 3, 5, 5), dtype=np.uint8)
    images[:, 1] //= 4
    ds = ImageDataset(torch.from_numpy(images), torch.zeros(20, dtype=torch.int64), 1, "x")
    mean, std = normalization_stats(ds)
    scaled = images.astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, scaled.mean(axis=(0, 2, 3)), atol=1e-12)
    np.testing.assert_allclose(std, scaled.std(axis=(0, 2, 3)), atol=1e-12)


# --- balanced subsets ----------------------------------------------------------------------------------------------


def indexed_dataset(counts: list[int]) -> ImageDataset:
    """Image i holds the number i (in its first two pixels), so a subset can be traced back to its rows."""
    labels = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(3))]
    index = torch.arange(len(labels))
    images = torch.zeros(len(labels), 1, 2, 2, dtype=torch.uint8)
    images[:, 0, 0, 0], images[:, 0, 0, 1] = index // 256, index % 256
    return ImageDataset(images, labels, len(counts), "indexed")


def test_balanced_subset_counts_membership_and_order():
    ds = indexed_dataset([50, 60, 70, 80])
    sub = balanced_subset(ds, 103, seed=0)
    assert np.bincount(sub.labels.numpy()).tolist() == [26, 26, 26, 25]
    rows = sub.images[:, 0, 0, 0].long() * 256 + sub.images[:, 0, 0, 1].long()
    assert torch.equal(ds.labels[rows], sub.labels)  # every image keeps its own label
    assert len(set(rows.tolist())) == 103 and bool((rows[1:] > rows[:-1]).all())  # distinct, in original order
    assert sub.num_classes == 4 and sub.name == "indexed"


def test_balanced_subset_is_deterministic_per_seed():
    ds = indexed_dataset([50, 60, 70, 80])
    first, again, other = (balanced_subset(ds, 40, seed) for seed in (1, 1, 2))
    assert torch.equal(first.images, again.images)
    assert not torch.equal(first.images, other.images)


def test_balanced_subset_errors():
    ds = indexed_dataset([5, 30])
    for size in (36, 1, 0, -3):  # 0 is not "no subset": only None (the flag left out) is the whole split
        with pytest.raises(UserError, match=f"between 2 and 35 .* got {size}; leave --subset out"):
            balanced_subset(ds, size, seed=0)
    with pytest.raises(UserError, match="class 0"):
        balanced_subset(ds, 20, seed=0)


@pytest.mark.parametrize("command", [["spectral", "--method", "classical-mds"], ["eval", "--baseline", "raw-pixels"]])
def test_a_subset_of_zero_or_one_is_one_error_line_not_the_whole_split(command, capsys):
    """``--subset 0`` once ran the whole split (0 read as "no subset") and ``--subset 1`` ended in scikit-learn's
    or the probe's message; both are one line saying what to pass, exit code 2, before any work (the shared
    ``subset`` setting's declared minimum)."""
    for size in ("0", "1"):
        assert main([*command, "--dataset", "synthetic", "--subset", size]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0] == (f"error: subset must be an integer >= 2 or unset (leave it out for the "
                                            f"whole training split), got {size}")


# --- the synthetic set ---------------------------------------------------------------------------------------------


def test_synthetic_set_is_balanced_deterministic_and_learnable():
    train, test = load_dataset("synthetic", "train"), load_dataset("synthetic", "test")
    assert train.images.shape == (1000, 1, 16, 16) and train.images.dtype == torch.uint8 and len(test) == 500
    assert np.bincount(train.labels.numpy()).tolist() == [100] * 10
    images, labels = make_synthetic(1000, seed=0)
    assert torch.equal(images, train.images) and torch.equal(labels, train.labels)
    knn = KNeighborsClassifier(n_neighbors=1).fit(train.images.flatten(1).numpy(), train.labels.numpy())
    accuracy = knn.score(test.images.flatten(1).numpy(), test.labels.numpy())
    assert 0.4 < accuracy < 0.95  # chance is 0.1; the position jitter keeps raw pixels imperfect


def test_digits_are_scikit_learns_images_split_once_into_balanced_test_and_the_rest():
    from sklearn.datasets import load_digits

    reference = load_digits()
    expected = np.rint(reference.images * 255 / 16).astype(np.uint8)  # 0..16 counts -> 0..255
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.images.shape == (1297, 1, 8, 8) and test.images.shape == (500, 1, 8, 8)
    assert np.bincount(test.labels.numpy()).tolist() == [50] * 10
    both = np.concatenate([train.images[:, 0].numpy(), test.images[:, 0].numpy()])
    both_labels = np.concatenate([train.labels.numpy(), test.labels.numpy()])
    rows = {image.tobytes(): label for image, label in zip(both, both_labels)}
    for image, label in zip(expected, reference.target):  # every scikit-learn image is in one split, with its label
        assert rows[image.tobytes()] == label
    assert sorted(both_labels.tolist()) == sorted(reference.target.tolist())


# --- the CLI -------------------------------------------------------------------------------------------------------


def test_datasets_command_prints_one_json_object(capsys, isolated_data):
    assert main(["datasets", "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in output["datasets"]}
    assert {"fashion-mnist", "mnist", "cifar10", "cifar100", "stl10", "imagefolder:PATH", "synthetic", "digits"} <= set(rows)
    assert rows["synthetic"]["available"] is rows["digits"]["available"] is True and rows["fashion-mnist"]["available"] is False
    assert rows["stl10"]["n_train"] == 5000 and rows["stl10"]["size"] == 96
    assert output["data_root"] == str(isolated_data)


# --- torchvision sets (no data here: the conversion is checked on a stand-in) ----------------------------------------


@pytest.mark.parametrize("name", ["cifar10", "stl10"])
def test_torchvision_arrays_become_nchw_uint8(monkeypatch, name):
    rng = np.random.default_rng(0)
    nchw = rng.integers(0, 256, size=(4, 3, 5, 5), dtype=np.uint8)

    class StandIn:
        data = nchw if name == "stl10" else nchw.transpose(0, 2, 3, 1).copy()  # CIFAR stores (N, H, W, C)
        labels = targets = [3, 1, 4, 1]

    monkeypatch.setattr(torchvision_sets, "_torchvision_set", lambda *args, **kwargs: StandIn())
    ds = datasets.DATASETS.get(name).load("", "test")
    assert np.array_equal(ds.images.numpy(), nchw) and ds.labels.tolist() == [3, 1, 4, 1]
    assert ds.labels.dtype == torch.int64 and ds.name == name
