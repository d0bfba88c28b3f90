"""Transfer: a run's backbone on another dataset, its images mapped to the run's format only when asked (checked
pixel-wise against PIL's grey conversion and bilinear resize), scored like any row."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import load_dataset
from ssl_bench.eval.base import FeatureSplits, evaluate_features
from ssl_bench.eval.transfer import evaluate_transfer, map_images
from ssl_bench.models.features import extract_features
from ssl_bench.sources.trained import encoder_target
from ssl_bench.training.run_dir import load_encoder, load_run_config


def _colour_folder(root, n_per_class: int = 12, size: int = 20) -> str:
    """A 3-class RGB imagefolder (train/ and test/): a bright square in a class-specific corner, random colours."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in range(3):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for index in range(n_per_class):
                image = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                row, col = [(0, 0), (0, 10), (10, 5)][label]
                image[row : row + 10, col : col + 10] = rng.integers(150, 256, 3, dtype=np.uint8)
                Image.fromarray(image).save(folder / f"{index}.png")
    return f"imagefolder:{root}"


def test_grey_and_resize_match_pil_pixel_by_pixel():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (4, 20, 20, 3), dtype=np.uint8)
    mapped = map_images(torch.from_numpy(images).permute(0, 3, 1, 2), 1, 16, "grey", resize=True)
    for image, ours in zip(images, mapped):
        reference = np.asarray(Image.fromarray(image).convert("L").resize((16, 16), Image.BILINEAR), dtype=int)
        assert np.abs(ours[0].numpy().astype(int) - reference).max() <= 2  # two roundings (grey, resize) apart
    grey = map_images(torch.from_numpy(images).permute(0, 3, 1, 2), 1, 20, "grey", resize=False)
    for image, ours in zip(images, grey):
        assert np.abs(ours[0].numpy().astype(int) - np.asarray(Image.fromarray(image).convert("L"), dtype=int)).max() <= 1


def test_a_mismatch_is_refused_until_its_mapping_is_named():
    images = torch.zeros(2, 3, 20, 20, dtype=torch.uint8)
    with pytest.raises(UserError, match="set transfer: {channels: grey}"):
        map_images(images, 1, 16, "same", resize=True)
    with pytest.raises(UserError, match="set transfer: {resize: true}"):
        map_images(images, 1, 16, "grey", resize=False)
    assert map_images(torch.zeros(2, 1, 16, 16, dtype=torch.uint8), 3, 16, "replicate", False).shape == (2, 3, 16, 16)


def test_a_synthetic_run_transfers_to_a_colour_folder_as_an_independent_computation_says(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--subset", "200", "--batch-size", "64",
                 "--epochs", "1", "--out", str(run), "--trackers", "", "--quiet"]) == 0
    dataset = _colour_folder(tmp_path / "folder")
    target = encoder_target(run, load_run_config(run), "cpu")
    with pytest.raises(UserError, match="channels"):
        evaluate_transfer(target, dataset=dataset)
    result = evaluate_transfer(target, dataset=dataset, resize=True, channels="grey")
    assert result["protocol"]["channels"] == "grey" and result["protocol"]["resize"].startswith("(32, 32) -> 16x16")  # imagefolder: 32 px
    encoder, _ = load_encoder(run)  # the same row, computed by hand from PIL-mapped images

    def by_hand(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        data = load_dataset(dataset, split)
        pil = [np.asarray(Image.fromarray(image.permute(1, 2, 0).numpy()).convert("L").resize((16, 16), Image.BILINEAR))
               for image in data.images]
        return extract_features(encoder, torch.from_numpy(np.stack(pil))[:, None]), data.labels

    (train, train_labels), (test, test_labels) = by_hand("train"), by_hand("test")
    reference = evaluate_features(FeatureSplits(train, train_labels, test, test_labels, 3), ["knn"])
    assert result["knn_top1"] == pytest.approx(reference["knn_top1"], abs=2 / len(test_labels))
    with pytest.raises(UserError, match="resize"):  # scikit-learn's 8x8 digits into a 16x16 run: only when asked
        evaluate_transfer(target, dataset="digits")
    digits = evaluate_transfer(target, dataset="digits", resize=True)
    assert digits["protocol"]["resize"].startswith("(8, 8) -> 16x16") and digits["knn_top1"] > 0.3  # chance: 0.1
