"""Batched augmentations: each op against torchvision's per-image functional op, and the statistics of the views."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from scipy.stats import ks_2samp
from torchvision.transforms import RandomResizedCrop

from ssl_bench.core.errors import UserError
from ssl_bench.data import augment as A
from ssl_bench.data.augment import AugmentConfig, BatchAugment, augment_config, default_augment, normalize
from ssl_bench.data.datasets import ImageDataset, normalization_stats

IDENTITY = dict(crop_scale=(1.0, 1.0), flip_p=0.0, jitter_p=0.0, grayscale_p=0.0, blur_p=0.0, solarize_p=0.0)


def random_images(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=seeded(seed))


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the single ops against torchvision -------------------------------------------------------------------------


def per_image(op, images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    return torch.stack([op(image, float(factor)) for image, factor in zip(images, factors)])


@pytest.mark.parametrize("channels", [1, 3])
def test_brightness_and_contrast_match_torchvision(channels):
    x = torch.rand(6, channels, 9, 9, generator=seeded())
    f = torch.tensor([0.0, 0.3, 0.9, 1.0, 1.2, 1.4])
    torch.testing.assert_close(A.adjust_brightness(x, f), per_image(TF.adjust_brightness, x, f))
    torch.testing.assert_close(A.adjust_contrast(x, f), per_image(TF.adjust_contrast, x, f))


def test_saturation_hue_grayscale_match_torchvision():
    x = torch.rand(6, 3, 9, 9, generator=seeded())
    x[0] = 0.5  # a gray image: hue undefined, must stay gray
    factors = torch.linspace(0, 1.5, 6)
    torch.testing.assert_close(A.adjust_saturation(x, factors), per_image(TF.adjust_saturation, x, factors))
    shifts = torch.tensor([0.1, -0.5, -0.1, 0.0, 0.25, 0.5])
    torch.testing.assert_close(A.adjust_hue(x, shifts), per_image(TF.adjust_hue, x, shifts), atol=2e-6, rtol=0)
    torch.testing.assert_close(A.rgb_to_grayscale(x), torch.stack([TF.rgb_to_grayscale(image) for image in x]))


@pytest.mark.parametrize("kernel_size", [3, 9])
def test_gaussian_blur_matches_torchvision(kernel_size):
    x = torch.rand(4, 3, 12, 12, generator=seeded())
    sigma = torch.tensor([0.1, 0.7, 1.3, 2.0])
    expected = torch.stack([TF.gaussian_blur(image, [kernel_size] * 2, [float(s)] * 2) for image, s in zip(x, sigma)])
    torch.testing.assert_close(A.gaussian_blur(x, sigma, kernel_size), expected)


def test_solarize_matches_torchvision():
    x = torch.rand(3, 3, 8, 8, generator=seeded())
    torch.testing.assert_close(A.solarize(x), TF.solarize(x, 0.5))


def bilinear_crop_loops(image: np.ndarray, box: list[float], size: int, flip: bool) -> np.ndarray:
    """Brute-force reference: output pixel (i, j) samples the image at pixel coordinates
    x = x0 + (j + 1/2) w / S - 1/2, y = y0 + (i + 1/2) h / S - 1/2 (clamped to the image), bilinearly."""
    channels, height, width = image.shape
    x0, y0, w, h = box
    out = np.zeros((channels, size, size))
    for i in range(size):
        for j in range(size):
            column = size - 1 - j if flip else j
            x = min(max(x0 + (column + 0.5) * w / size - 0.5, 0.0), width - 1.0)
            y = min(max(y0 + (i + 0.5) * h / size - 0.5, 0.0), height - 1.0)
            left, top = int(np.floor(x)), int(np.floor(y))
            right, bottom = min(left + 1, width - 1), min(top + 1, height - 1)
            fx, fy = x - left, y - top
            out[:, i, j] = (
                (1 - fy) * ((1 - fx) * image[:, top, left] + fx * image[:, top, right])
                + fy * ((1 - fx) * image[:, bottom, left] + fx * image[:, bottom, right])
            )
    return out


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("size", [10, 16, 24])
def test_resized_crop_matches_bilinear_loops(flip, size):
    x = torch.rand(3, 2, 16, 20, generator=seeded())
    boxes = torch.tensor([[0, 0, 20, 16], [3, 5, 7, 9], [11.3, 0.6, 8.5, 14.2]])  # (x0, y0, w, h)
    result = A.resized_crop(x, boxes, size, flip=torch.full((3,), flip))
    for image, box, out in zip(x, boxes.tolist(), result):
        expected = bilinear_crop_loops(image.double().numpy(), box, size, flip)
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("size", [10, 16, 24])
def test_whole_image_crop_is_torchvision_resize(size):
    x = torch.rand(3, 2, 16, 20, generator=seeded())
    boxes = torch.tensor([[0.0, 0.0, 20.0, 16.0]]).expand(3, 4)
    flips = torch.tensor([False, True, False])
    result = A.resized_crop(x, boxes, size, flip=flips)
    expected = TF.resize(x, [size, size], antialias=False)
    expected[1] = TF.hflip(expected[1])
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)


# --- crop boxes --------------------------------------------------------------------------------------------------


def test_crop_boxes_respect_scale_ratio_and_bounds():
    scale, ratio = (0.08, 1.0), (3 / 4, 4 / 3)
    boxes = A.sample_crop_boxes(5000, 28, 28, scale, ratio, seeded())
    x0, y0, w, h = boxes.double().unbind(1)
    area = w * h / (28 * 28)
    assert boxes.shape == (5000, 4) and boxes.dtype == torch.float32
    assert float(area.min()) >= scale[0] - 1e-6 and float(area.max()) <= scale[1] + 1e-6
    assert float((w / h).min()) >= ratio[0] - 1e-6 and float((w / h).max()) <= ratio[1] + 1e-6
    assert float(x0.min()) >= 0 and float(y0.min()) >= 0
    assert float((x0 + w).max()) <= 28 + 1e-4 and float((y0 + h).max()) <= 28 + 1e-4
    assert float(area.min()) < 0.1 and float(area.max()) > 0.9  # the whole range is used


def test_crop_boxes_follow_torchvision_distribution():
    """Area fraction and log aspect ratio against RandomResizedCrop.get_params on a large image (rounding ~0.2%)."""
    n, side, scale, ratio = 3000, 1000, (0.08, 1.0), (3 / 4, 4 / 3)
    torch.manual_seed(1)
    reference = np.array([RandomResizedCrop.get_params(torch.empty(1, side, side), scale, ratio) for _ in range(n)])
    ref_h, ref_w = reference[:, 2].astype(float), reference[:, 3].astype(float)
    boxes = A.sample_crop_boxes(n, side, side, scale, ratio, seeded(2)).double().numpy()
    assert ks_2samp(boxes[:, 2] * boxes[:, 3] / side**2, ref_w * ref_h / side**2).pvalue > 1e-3
    assert ks_2samp(np.log(boxes[:, 2] / boxes[:, 3]), np.log(ref_w / ref_h)).pvalue > 1e-3
    # corners: uniform over the free range, as torchvision's randint
    assert ks_2samp(boxes[:, 0] / (side - boxes[:, 2]), reference[:, 1] / (side - ref_w + 1e-9)).pvalue > 1e-3


@pytest.mark.parametrize("height, width", [(20, 40), (40, 20), (30, 30)])
def test_crop_boxes_fall_back_to_torchvision_centre_crop(height, width):
    scale, ratio = (1.0, 1.0), (0.9, 1.1)  # a full-area crop never fits unless the ratio matches exactly
    top, left, h, w = RandomResizedCrop.get_params(torch.empty(1, height, width), scale, ratio)
    box = A.sample_crop_boxes(1, height, width, scale, ratio, seeded())[0].tolist()
    assert box == pytest.approx([left, top, w, h], abs=0.51)  # torchvision rounds to whole pixels


# --- views -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["simclr", "byol"])
@pytest.mark.parametrize("channels, size, out", [(1, 28, 28), (3, 32, 32), (3, 48, 40)])
def test_views_dtype_shape_and_range(method, channels, size, out):
    config = default_augment(method, channels, out, {"mean": (0.2,) * channels, "std": (0.3,) * channels})
    views = BatchAugment(config, channels, out)(random_images(64, channels, size), seeded())
    assert len(views) == 2
    for view in views:
        assert view.dtype == torch.float32 and view.shape == (64, channels, out, out)
        pixels = view * 0.3 + 0.2
        assert float(pixels.min()) >= -1e-5 and float(pixels.max()) <= 1 + 1e-5
    assert not torch.equal(*views)


@pytest.mark.parametrize("channels", [1, 3])
def test_identity_config_returns_the_normalised_input(channels):
    mean, std = (0.3, 0.4, 0.5)[:channels], (0.2, 0.25, 0.3)[:channels]
    images = random_images(8, channels, 12)
    config = AugmentConfig(**IDENTITY, mean=mean, std=std)
    first, second = BatchAugment(config, channels, 12)(images, seeded())
    column = lambda values: torch.tensor(values, dtype=torch.float64).view(1, -1, 1, 1)  # noqa: E731
    expected = (images.double() / 255 - column(mean)) / column(std)
    torch.testing.assert_close(normalize(images, mean, std).double(), expected)
    torch.testing.assert_close(first, normalize(images, mean, std), atol=1e-5, rtol=0)
    torch.testing.assert_close(second, normalize(images, mean, std), atol=1e-5, rtol=0)


def test_flip_rate_is_flip_p():
    ramp = torch.arange(16, dtype=torch.uint8).mul(15).expand(2000, 1, 16, 16).contiguous()  # left dark, right bright
    for p in (0.0, 0.5, 1.0):
        config = AugmentConfig(**{**IDENTITY, "flip_p": p})
        view = BatchAugment(config, 1, 16).view(ramp, 0, seeded())
        plain, mirrored = normalize(ramp, (0.5,), (0.5,)), normalize(ramp.flip(-1), (0.5,), (0.5,))
        is_plain = (view - plain).abs().flatten(1).amax(1) < 1e-5
        is_mirrored = (view - mirrored).abs().flatten(1).amax(1) < 1e-5
        assert bool((is_plain ^ is_mirrored).all())
        assert abs(float(is_mirrored.double().mean()) - p) <= 4 * math.sqrt(0.25 / 2000)


def test_grayscale_rate_and_gray_inputs_stay_one_channel():
    images = random_images(2000, 3, 8)
    config = AugmentConfig(**{**IDENTITY, "grayscale_p": 0.2})
    view = BatchAugment(config, 3, 8).view(images, 0, seeded()) * 0.5 + 0.5
    gray = (view.amax(1) - view.amin(1)).flatten(1).amax(1) < 1e-6
    assert abs(float(gray.double().mean()) - 0.2) <= 4 * math.sqrt(0.16 / 2000)
    config = default_augment("simclr", 1, 28, {"jitter_p": 1.0, "grayscale_p": 1.0, "saturation": 1.0, "hue": 0.5})
    views = BatchAugment(config, 1, 28)(random_images(16, 1, 28), seeded())
    assert all(view.shape == (16, 1, 28, 28) for view in views)


def test_blur_and_solarize_probabilities_are_per_view():
    images = random_images(32, 3, 16)
    plain = normalize(images, (0.5,), (0.5,))
    solarized = BatchAugment(AugmentConfig(**{**IDENTITY, "solarize_p": (0.0, 1.0)}), 3, 16)(images, seeded())
    torch.testing.assert_close(solarized[0], plain, atol=1e-5, rtol=0)
    expected = normalize(images, (0.5,), (0.5,)).mul(0.5).add(0.5)
    torch.testing.assert_close(solarized[1], (A.solarize(expected) - 0.5) / 0.5, atol=1e-5, rtol=0)
    blurred = BatchAugment(AugmentConfig(**{**IDENTITY, "blur_p": (1.0, 0.0)}), 3, 16)(images, seeded())
    torch.testing.assert_close(blurred[1], plain, atol=1e-5, rtol=0)
    smoothness = lambda v: float(v.diff(dim=-1).abs().mean())  # noqa: E731
    assert smoothness(blurred[0]) < 0.8 * smoothness(plain)


def test_jitter_changes_the_expected_fraction_of_images():
    images = random_images(2000, 3, 6)
    config = AugmentConfig(**{**IDENTITY, "jitter_p": 0.8})
    view = BatchAugment(config, 3, 6).view(images, 0, seeded())
    changed = (view - normalize(images, (0.5,), (0.5,))).abs().flatten(1).amax(1) > 1e-4
    assert abs(float(changed.double().mean()) - 0.8) <= 4 * math.sqrt(0.16 / 2000)


def test_views_are_deterministic_given_the_generator():
    images = random_images(16, 3, 32)
    augment = BatchAugment(default_augment("byol", 3, 32), 3, 32)
    first, again, other = augment(images, seeded(5)), augment(images, seeded(5)), augment(images, seeded(6))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


def test_wrong_images_are_rejected():
    augment = BatchAugment(default_augment("simclr", 3, 32), 3, 32)
    with pytest.raises(UserError, match="uint8"):
        augment(torch.rand(2, 3, 32, 32))
    with pytest.raises(UserError, match="3"):
        augment(random_images(2, 1, 32))
    with pytest.raises(UserError, match="uint8"):
        normalize(torch.rand(2, 1, 4, 4), (0.5,), (0.5,))


# --- configs -----------------------------------------------------------------------------------------------------


def test_published_defaults():
    simclr = default_augment("simclr", 3, 32)
    assert (simclr.brightness, simclr.contrast, simclr.saturation, simclr.hue) == (0.4, 0.4, 0.4, 0.1)
    assert (simclr.jitter_p, simclr.grayscale_p, simclr.flip_p, simclr.crop_scale) == (0.8, 0.2, 0.5, (0.08, 1.0))
    assert simclr.blur_p == (0.0, 0.0) and default_augment("simclr", 3, 224).blur_p == (0.5, 0.5)
    byol = default_augment("byol", 3, 96)
    assert (byol.brightness, byol.contrast, byol.saturation, byol.hue) == (0.4, 0.4, 0.2, 0.1)
    assert byol.blur_p == (1.0, 0.1) and byol.solarize_p == (0.0, 0.2)
    assert default_augment("byol", 3, 32).blur_p == (0.0, 0.0)
    assert default_augment("simclr", 1, 28).mean == (0.5,)
    assert BatchAugment(default_augment("simclr", 3, 224), 3, 224).kernel_size == 23  # 10% of the side, odd


def test_overrides_and_their_validation():
    config = default_augment("simclr", 3, 32, {"crop_scale": [0.2, 1.0], "blur_p": 0.3, "flip_p": 0.0})
    assert config.crop_scale == (0.2, 1.0) and config.blur_p == (0.3, 0.3) and config.flip_p == 0.0
    with pytest.raises(UserError, match="valid keys: crop_scale"):
        default_augment("simclr", 3, 32, {"crop_scael": (0.2, 1.0)})
    with pytest.raises(UserError, match="simclr, byol"):
        default_augment("vicreg", 3, 32)
    bad_values = ({"flip_p": 1.5}, {"crop_scale": (0.5, 0.2)}, {"blur_p": (0.1, 0.2, 0.3)}, {"hue": 0.7}, {"std": (0.0,)})
    for bad in bad_values:
        with pytest.raises(UserError):
            default_augment("simclr", 1, 28, bad)


def test_augment_config_uses_the_dataset_statistics():
    images = random_images(10, 3, 8)
    ds = ImageDataset(images, torch.zeros(10, dtype=torch.int64), 1, "x")
    config = augment_config("byol", ds, {"flip_p": 0.0})
    mean, std = normalization_stats(ds)
    assert config.mean == mean and config.std == std and config.flip_p == 0.0 and config.solarize_p == (0.0, 0.2)
    assert augment_config("byol", ds, {"mean": (0.1,), "std": (0.2,)}).mean == (0.1,)


def test_two_views_build_no_tensor_from_python_numbers_after_the_first_call(monkeypatch) -> None:
    """On a GPU each tensor built from Python numbers is a host-to-device copy that synchronises the device and
    stalls the training loop; the constants must be made once, not per batch (RGB: hue offsets too)."""
    made = []
    real_tensor = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *args, **kwargs: made.append(args) or real_tensor(*args, **kwargs))
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    config = AugmentConfig(mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3), jitter_p=1.0, hue=0.1)
    augment = BatchAugment(config, channels=3, size=32)
    augment.two_views(images, torch.Generator().manual_seed(0))
    made.clear()
    augment.two_views(images, torch.Generator().manual_seed(1))
    assert made == []


def test_default_views_are_two_views_draw_for_draw() -> None:
    augment = BatchAugment(default_augment("byol", 3, 32), 3, 32)
    images = random_images(8, 3, 32)
    for ours, theirs in zip(augment.views(images, seeded(4)), augment.two_views(images, seeded(4))):
        assert torch.equal(ours, theirs)


def test_multi_crop_gives_globals_then_locals_at_their_size_and_scale() -> None:
    config = default_augment("simclr", 1, 28, {"global_views": 3, "local_views": 4, "local_crop_scale": (0.05, 0.2),
                                               "jitter_p": 0.0, "flip_p": 0.0})
    augment = BatchAugment(config, 1, 28)
    views = augment.views(random_images(16, 1, 28), seeded())
    assert [tuple(v.shape[-2:]) for v in views] == [(28, 28)] * 3 + [(12, 12)] * 4  # 28 * 96 / 224 = 12
    local = augment.draw(2000, (28, 28), A.LOCAL, seeded(1))
    area = (local.boxes[:, 2] * local.boxes[:, 3] / 28**2).numpy()
    assert 0.05 - 1e-6 <= area.min() and area.max() <= 0.2 + 1e-6  # the local scale range, not the global one
    assert local.solarize is None


def test_local_crops_must_be_smaller_than_the_global_views() -> None:
    with pytest.raises(UserError, match="local_size must be smaller"):
        BatchAugment(default_augment("simclr", 1, 28, {"local_views": 2, "local_size": 28}), 1, 28)
    with pytest.raises(UserError, match="global_views"):
        default_augment("simclr", 1, 28, {"global_views": 0})
