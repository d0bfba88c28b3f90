"""Group actions of the probe against independent references (torch, torchvision) and their group laws."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from ssl_bench.core.errors import UserError
from ssl_bench.probes.transforms import base as T
from ssl_bench.probes.transforms.brightness import brightness
from ssl_bench.probes.transforms.contrast import contrast
from ssl_bench.probes.transforms.hflip import hflip
from ssl_bench.probes.transforms.hue import hue, hue_matrix
from ssl_bench.probes.transforms.roll import roll
from ssl_bench.probes.transforms.rot90 import rot90
from ssl_bench.probes.transforms.rotate import rotate
from ssl_bench.probes.transforms.scale import scale
from ssl_bench.probes.transforms.translate import translate

BILINEAR = InterpolationMode.BILINEAR


def _float_images(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(1))


def _uint8_images(*shape: int) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(2), dtype=torch.uint8)


@pytest.mark.parametrize("degrees", [90.0, 33.0, -17.0, 180.0])
def test_rotate_matches_torchvision_on_non_square_images(degrees: float) -> None:
    x = _float_images(3, 3, 9, 12)
    expected = TF.rotate(x, degrees, interpolation=BILINEAR)
    torch.testing.assert_close(rotate(x, degrees), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("k", [1, 2, 3, -1])
def test_rotate_by_quarter_turns_is_torch_rot90(k: int) -> None:
    x = _float_images(2, 1, 10, 10)
    expected = torch.rot90(x, k, dims=(2, 3))
    torch.testing.assert_close(rotate(x, 90.0 * k), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(rot90(x, k), expected, atol=0, rtol=0)


def test_rotate_turns_counter_clockwise_as_displayed() -> None:
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 0, 4] = 1.0  # top right corner
    out = rotate(x, 90.0)
    assert out[0, 0, 0, 0] == pytest.approx(1.0, abs=1e-5)  # now top left
    assert out.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("factor", [0.7, 1.3, 2.0])
def test_scale_matches_torchvision_affine(factor: float) -> None:
    x = _float_images(2, 3, 9, 12)
    expected = TF.affine(x, angle=0.0, translate=[0, 0], scale=factor, shear=[0.0, 0.0], interpolation=BILINEAR)
    torch.testing.assert_close(scale(x, factor), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("dx", "dy"), [(2, 0), (-3, 1), (0, -2)])
def test_integer_translation_shifts_pixels_and_fills_zeros(dx: int, dy: int) -> None:
    x = _float_images(2, 1, 7, 9)
    expected = torch.zeros_like(x)
    h, w = x.shape[2:]
    expected[:, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        :, :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    torch.testing.assert_close(translate(x, dx, dy), expected, atol=1e-5, rtol=0)


def test_border_padding_repeats_edge_pixels() -> None:
    x = _float_images(1, 1, 6, 6)
    out = translate(x, 2.0, padding="border")
    torch.testing.assert_close(out[..., :3], x[..., :1].expand(-1, -1, -1, 3), atol=1e-5, rtol=0)
    with pytest.raises(UserError, match="padding"):
        translate(x, 1.0, padding="reflect")


def test_roll_and_hflip_are_torch_permutations() -> None:
    x = _uint8_images(2, 3, 6, 8)
    assert torch.equal(roll(x, 3), torch.cat([x[..., -3:], x[..., :-3]], dim=3))
    assert torch.equal(hflip(x, 1), x[..., torch.arange(7, -1, -1)])
    assert torch.equal(hflip(x, 0), x)


def test_brightness_and_contrast_follow_their_formulas() -> None:
    x = _float_images(2, 3, 5, 5) * 0.5 + 0.25
    torch.testing.assert_close(brightness(x, 0.1), x + 0.1)
    # torchvision blends with the grayscale mean (weights summing to 0.9999, hence the tolerance)
    torch.testing.assert_close(contrast(x, 0.6), TF.adjust_contrast(x, 0.6), atol=2e-4, rtol=0)
    gray = _float_images(2, 1, 5, 5)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(contrast(gray, 1.5), mean + 1.5 * (gray - mean))


def test_hue_rotates_about_the_grey_axis() -> None:
    x = _float_images(2, 3, 4, 4)
    torch.testing.assert_close(hue(x, 120.0), x[:, [2, 0, 1]], atol=1e-6, rtol=0)  # R -> G -> B -> R
    torch.testing.assert_close(hue(x, 37.0).mean(1), x.mean(1), atol=1e-6, rtol=0)  # channel mean kept
    grey = x[:, :1].expand(-1, 3, -1, -1)
    torch.testing.assert_close(hue(grey, 75.0), grey, atol=1e-6, rtol=0)
    rotation = hue_matrix(50.0)
    torch.testing.assert_close(rotation @ rotation.T, torch.eye(3, dtype=torch.float64))
    with pytest.raises(UserError, match="RGB"):
        hue(x[:, :1], 30.0)


def test_uint8_round_trip_rounds_and_clamps() -> None:
    x = torch.tensor([[[[0, 100, 250]]]], dtype=torch.uint8)
    assert brightness(x, 10 / 255).tolist() == [[[[10, 110, 255]]]]
    assert rotate(x, 0.0).dtype == torch.uint8


# Exact group laws on float images (no clamping): g_b(g_a x) = g_{a.b} x.
EXACT_LAWS = [
    ("rot90", 1.0, 3.0),
    ("rot90", 3.0, 2.0),
    ("roll", 2.0, 5.0),
    ("hflip", 1.0, 1.0),
    ("brightness", 0.1, -0.25),
    ("contrast", 0.7, 1.6),
    ("hue", 100.0, 150.0),
    ("rotate", 90.0, 180.0),
    ("translate", 2.0, 3.0),
]


@pytest.mark.parametrize(("name", "a", "b"), EXACT_LAWS)
def test_group_laws_compose_exactly(name: str, a: float, b: float) -> None:
    transform = T.TRANSFORMS.get(name)
    x = _float_images(2, 3, 8, 8)
    composed = transform.law.compose(a, b)
    torch.testing.assert_close(transform(transform(x, a), b), transform(x, composed), atol=1e-5, rtol=0)
    identity = transform(x, transform.law.identity)
    torch.testing.assert_close(identity, x, atol=1e-5, rtol=0)


def test_laws_and_coordinates() -> None:
    assert T.ADD_DEGREES.compose(120.0, 120.0) == pytest.approx(-120.0)
    assert T.ADD_DEGREES.compose(180.0, 180.0) == pytest.approx(0.0)
    assert T.MULTIPLY.coordinate(2.0) == pytest.approx(math.log(2.0))
    assert T.XOR.discrete and T.ADD_MOD_4.discrete and not T.ADD.discrete
    scale_grid = T.TRANSFORMS.get("scale").thetas
    assert math.isclose(scale_grid[1] * scale_grid[1], scale_grid[0])  # 2^-1/4 2^-1/4 = 2^-1/2: pairs to compose


def test_default_transforms_skip_hue_for_grayscale() -> None:
    assert "hue" not in T.default_transforms(1)
    assert "hue" in T.default_transforms(3)


def test_bad_input_raises_user_error() -> None:
    with pytest.raises(UserError, match="N, C, H, W"):
        rotate(torch.zeros(3, 8, 8), 10.0)
    with pytest.raises(UserError, match="square"):
        rot90(torch.zeros(1, 1, 4, 6), 1)
    with pytest.raises(UserError, match="whole"):
        roll(torch.zeros(1, 1, 4, 6), 1.5)
    with pytest.raises(UserError, match="unknown transform"):
        T.TRANSFORMS.get("shear")
