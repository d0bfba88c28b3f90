"""Corruptions checked pixel-wise against independent implementations: NumPy for noise and contrast, SciPy's
gaussian_filter / map_coordinates for blur and elastic, PIL for pixelate and rotate."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from PIL import Image

from ssl_bench.core.errors import UserError
from ssl_bench.data.corruptions import (
    BLUR_SIGMA,
    CONTRAST,
    NOISE_SIGMA,
    PIXELATE,
    ROTATE_DEGREES,
    corrupt,
    elastic_displacement,
)


@pytest.fixture
def images() -> torch.Tensor:
    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 40, (3, 1, 28, 28))
    canvas[:, :, 6:22, 10:18] = rng.integers(150, 256, (3, 1, 16, 8))  # a bright bar: edges to move and blur
    return torch.from_numpy(canvas.astype(np.uint8))


def _close(ours: torch.Tensor, reference: np.ndarray, tolerance: int = 1, share: float = 1.0) -> None:
    """Every pixel (or ``share`` of them) within ``tolerance`` grey levels."""
    difference = np.abs(ours.numpy().astype(int) - np.rint(reference).astype(int))
    assert (difference <= tolerance).mean() >= share, difference.max()


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_noise_and_contrast_follow_their_formulas(images, severity):
    x = images.numpy() / 255
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(7)).numpy()
    _close(corrupt(images, "gaussian_noise", severity, seed=7),
           np.clip(x + NOISE_SIGMA[severity - 1] * noise, 0, 1) * 255)
    mean = x.mean(axis=(-2, -1), keepdims=True)
    _close(corrupt(images, "contrast", severity, seed=7), (CONTRAST[severity - 1] * (x - mean) + mean) * 255)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_blur_is_scipys_gaussian_filter_with_mirrored_borders(images, severity):
    sigma = BLUR_SIGMA[severity - 1]
    radius = int(np.ceil(3 * sigma))
    reference = np.stack([scipy.ndimage.gaussian_filter(image[0].astype(float), sigma, mode="mirror",
                                                        truncate=radius / sigma)[None] for image in images.numpy()])
    _close(corrupt(images, "gaussian_blur", severity, seed=0), reference)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_pixelate_and_rotate_match_pil(images, severity):
    pixelated, rotated = corrupt(images, "pixelate", severity, 0), corrupt(images, "rotate", severity, 0)
    small = round(PIXELATE[severity - 1] * 28)
    for image, ours_pixelated, ours_rotated in zip(images.numpy(), pixelated, rotated):
        pil = Image.fromarray(image[0])
        down = np.asarray(pil.resize((small, small), Image.BILINEAR))  # PIL's antialiased bilinear reduction
        nearest = np.floor((np.arange(28) + 0.5) * small / 28).astype(int)  # each pixel from the one it falls in
        _close(ours_pixelated[0], down[np.ix_(nearest, nearest)])  # (PIL's NEAREST rounds 3.5x scales otherwise)
        _close(ours_rotated[0], np.asarray(pil.rotate(ROTATE_DEGREES[severity - 1], resample=Image.BILINEAR)),
               tolerance=2, share=0.95)  # PIL and torch place the pixel grid on the border half a pixel apart


def test_elastic_is_scipys_map_coordinates_along_the_same_field(images):
    field = elastic_displacement(1, 28, 28, 3, torch.Generator().manual_seed(5))[0].numpy()  # (H, W, 2): x, y
    ours = corrupt(images[:1], "elastic", 3, seed=5)
    rows, cols = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    # normalised displacement (x, y) in [-1, 1] units of the grid: pixels = d * size / 2
    sample_rows, sample_cols = rows + field[..., 1] * 28 / 2, cols + field[..., 0] * 28 / 2
    reference = scipy.ndimage.map_coordinates(images[0, 0].numpy().astype(float), [sample_rows, sample_cols], order=1,
                                              mode="constant", cval=0.0)
    _close(ours[0, 0], reference, tolerance=2, share=0.9)  # near the border the two pad with zeros differently
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    field = elastic_displacement(1, 28, 28, 3, torch.Generator().manual_seed(5))
    torchvision = TF.elastic_transform(images[:1].float(), field, interpolation=InterpolationMode.BILINEAR)
    _close(ours[0, 0], torchvision[0, 0].numpy())  # torchvision's own transform along the same field


def test_a_corruption_is_seeded_and_bad_names_are_one_line(images):
    assert torch.equal(corrupt(images, "elastic", 2, seed=1), corrupt(images, "elastic", 2, seed=1))
    assert not torch.equal(corrupt(images, "gaussian_noise", 2, seed=1), corrupt(images, "gaussian_noise", 2, seed=2))
    with pytest.raises(UserError, match="unknown corruption 'fog'"):
        corrupt(images, "fog", 1, 0)
    with pytest.raises(UserError, match="severity must be 1 to 5"):
        corrupt(images, "contrast", 6, 0)


def test_robustness_of_a_trained_run_scores_clean_and_corrupted_copies_with_the_runs_images(tmp_path):
    import json

    from ssl_bench.cli import main
    from ssl_bench.eval.base import FeatureSplits
    from ssl_bench.eval.knn import knn_accuracies
    from ssl_bench.eval.robustness import evaluate_robustness
    from ssl_bench.models.features import extract_features
    from ssl_bench.sources.trained import encoder_target
    from ssl_bench.training.run_dir import load_encoder, load_run_config

    run = tmp_path / "run"
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--subset", "200", "--batch-size", "64",
                 "--epochs", "1", "--out", str(run), "--trackers", "", "--quiet"]) == 0
    target = encoder_target(run, load_run_config(run), "cpu")
    result = evaluate_robustness(target, n=120, seed=3)
    assert set(result["per_corruption"]) == {"gaussian_noise", "gaussian_blur", "contrast", "pixelate", "rotate",
                                             "elastic"} and all(len(v) == 5 for v in result["per_severity"].values())
    every = [value for values in result["per_severity"].values() for value in values]
    assert result["mean_corrupted_top1"] == pytest.approx(np.mean(every))
    assert result["relative"] == pytest.approx(result["mean_corrupted_top1"] / result["clean_top1"])
    # the clean number by hand: the run's encoder, its 200 training images as database, the same 120 test images
    encoder, _ = load_encoder(run)
    chosen = torch.randperm(500, generator=torch.Generator().manual_seed(3))[:120].sort().values
    train = target.train()
    splits = FeatureSplits(extract_features(encoder, train.images), train.labels,
                           extract_features(encoder, target.test.images[chosen]), target.test.labels[chosen], 10)
    assert result["clean_top1"] == next(iter(knn_accuracies(splits, (20,), 0.1).values()))
    assert json.dumps(result)  # stored as it is
