"""The probe end to end on representations whose answers are known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from ssl_bench.core.errors import UserError
from ssl_bench.probes import measures
from ssl_bench.probes.equivariance import ProbeResult, probe
from ssl_bench.probes.plot import plot_probe
from ssl_bench.probes.transforms.rotate import rotate


def _noise_images(n: int = 600, channels: int = 1, size: int = 8, seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=generator, dtype=torch.uint8)


def _pixels(images: Tensor) -> Tensor:
    """The identity representation: f(x) = x / 255, flattened."""
    return images.float().flatten(1) / 255.0


def _values(result: ProbeResult, transform: str, metric: str) -> list[float]:
    return [row.value for row in result.rows if row.transform == transform and row.metric == metric]


@pytest.fixture(scope="module")
def pixel_probe() -> ProbeResult:
    return probe(_pixels, _noise_images(), transforms=["rot90", "roll", "hflip"], n=600, n_fit=400)


def test_pixels_are_exactly_linearly_equivariant_to_permutations(pixel_probe: ProbeResult) -> None:
    # f(g x) = P f(x) with P a permutation of the 64 pixels: R^2 = 1 up to the smallest ridge penalty.
    for transform in ("rot90", "roll", "hflip"):
        r2 = _values(pixel_probe, transform, "equivariance_r2")
        assert len(r2) == {"rot90": 3, "roll": 4, "hflip": 1}[transform]
        assert min(r2) > 0.99999
        assert set(_values(pixel_probe, transform, "equivariance_alpha")) == {measures.RELATIVE_ALPHAS[0]}


def test_fitted_permutations_compose(pixel_probe: ProbeResult) -> None:
    for metric in ("composition_error", "composition_error_frobenius"):
        errors = _values(pixel_probe, "rot90", metric)
        assert len(errors) == 9  # every ordered pair of {1, 2, 3} composes to a quarter turn or the identity
        assert max(errors) < 1e-4
    assert pixel_probe.value("rot90", "composition_error", 1.0, 3.0) < 1e-4  # M_3 M_1 = I
    assert pixel_probe.value("hflip", "composition_error", 1.0, 1.0) < 1e-4  # M_1 M_1 = I
    assert len(_values(pixel_probe, "roll", "composition_error")) == 6  # 1+1, 1+2, 1+3, 2+1, 2+2, 3+1


def test_noise_images_permuted_are_as_unrelated_as_random_pairs(pixel_probe: ProbeResult) -> None:
    # The invariance normalisation: a permuted noise image is as far from the original as another image.
    assert pixel_probe.random_pair_cosine > 0.6  # the shared grey level makes raw cosines large
    for transform in ("rot90", "roll", "hflip"):
        assert max(abs(v) for v in _values(pixel_probe, transform, "invariance")) < 0.05


def test_finite_group_parameters_are_not_linearly_recoverable_from_noise(pixel_probe: ProbeResult) -> None:
    assert pixel_probe.value("rot90", "recoverability_accuracy") < 0.35  # chance 0.25
    assert pixel_probe.value("hflip", "recoverability_accuracy") < 0.6  # chance 0.5


class CircularGapCnn(nn.Module):
    """Convolutions with circular padding, ReLU, global average pooling: exactly invariant to circular shifts."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, padding_mode="circular"),
            nn.ReLU(),
            nn.Conv2d(16, 24, 3, padding=1, padding_mode="circular"),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images.float() / 255.0)


def test_average_pooled_circular_cnn_is_invariant_to_circular_shifts() -> None:
    result = probe(CircularGapCnn(), _noise_images(400), transforms=["roll", "rot90"], n=400)
    assert min(_values(result, "roll", "invariance")) > 0.9999
    assert min(_values(result, "roll", "equivariance_r2")) > 0.999  # M = I
    assert result.value("roll", "recoverability_r2") < 0.05  # f(g x) = f(x) says nothing about the shift
    # Its random 3x3 kernels are not rotation symmetric: quarter turns change the features.
    assert max(_values(result, "rot90", "invariance")) < 0.99


def test_random_projection_is_neither_invariant_nor_linearly_equivariant() -> None:
    projection = torch.randn(64, 16, generator=torch.Generator().manual_seed(3))
    result = probe(lambda x: _pixels(x) @ projection, _noise_images(), transforms=["roll"], n=600, n_fit=400)
    # R P x is not a function of R x when F = 16 < 64 pixels: at most about F / D of the variance is explained.
    assert max(_values(result, "roll", "equivariance_r2")) < 0.5
    assert max(abs(v) for v in _values(result, "roll", "invariance")) < 0.1


def _striped_images(n: int = 500) -> Tensor:
    """Noise with a bright left column: the orientation of each image is visible in its pixels."""
    images = _noise_images(n) // 2
    images[..., 0] = 255
    return images


def test_orientation_is_recoverable_from_pixels_and_not_from_invariant_moments() -> None:
    pixels = probe(_pixels, _striped_images(), transforms=["hflip", "rot90"], n=500)
    assert pixels.value("hflip", "recoverability_accuracy") > 0.95
    assert pixels.value("rot90", "recoverability_accuracy") > 0.95
    def moments(x):
        return torch.stack([_pixels(x).mean(1), _pixels(x).std(1)], 1)
    invariant = probe(moments, _striped_images(), transforms=["hflip", "rot90"])
    assert invariant.value("hflip", "recoverability_accuracy") < 0.6
    assert invariant.value("rot90", "recoverability_accuracy") < 0.35
    assert min(_values(invariant, "rot90", "invariance")) == pytest.approx(1.0, abs=1e-6)


def test_brightness_shift_is_linearly_recoverable() -> None:
    images = _noise_images(400) // 2 + 64  # 64..191: no clamping for |delta| <= 0.2
    result = probe(_pixels, images, transforms=["brightness"], n=400)
    assert result.value("brightness", "recoverability_r2") > 0.99
    assert min(_values(result, "brightness", "equivariance_r2")) > 0.99


def _blob_images(n: int = 300, size: int = 24) -> Tensor:
    """Smooth images: three Gaussian blobs inside the inscribed disk, so rotations lose nothing at the corners."""
    generator = torch.Generator().manual_seed(5)
    grid = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    images = torch.zeros(n, 1, size, size)
    for _ in range(3):
        radius, angle = 7 * torch.rand(n, generator=generator), 2 * math.pi * torch.rand(n, generator=generator)
        cx, cy = (radius * torch.cos(angle))[:, None, None], (radius * torch.sin(angle))[:, None, None]
        weight = torch.rand(n, 1, 1, generator=generator)
        images[:, 0] += weight * torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 8.0)
    return (255 * images / images.amax(dim=(1, 2, 3), keepdim=True)).round().to(torch.uint8)


def _angular_moments(size: int = 24) -> Tensor:
    """(size^2, 4): r cos phi, r sin phi, r^2 cos 2 phi, r^2 sin 2 phi (phi counter-clockwise, y up)."""
    grid = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    phi, r = torch.atan2(-yy, xx), torch.sqrt(xx**2 + yy**2)
    moments = [r * phi.cos(), r * phi.sin(), r**2 * (2 * phi).cos() / 10, r**2 * (2 * phi).sin() / 10]
    return torch.stack(moments, dim=-1).reshape(size * size, 4)


def test_generator_of_a_rotation_representation_is_recovered() -> None:
    # f(x) = angular Fourier moments of frequency 1 and 2: rotating x by theta turns them by theta and 2 theta,
    # so M(theta) = expm(theta A) with A = (pi / 180) diag(J, 2 J), J = [[0, -1], [1, 0]] (per degree).
    images, moments = _blob_images(), _angular_moments()
    def encoder(x):
        return _pixels(x) @ moments
    thetas = (-30.0, -15.0, 15.0, 30.0, 60.0)
    f_x = encoder(images).double().numpy()
    maps = {t: measures.fit_linear_map(f_x, encoder(rotate(images, t)).double().numpy()).matrix for t in thetas}
    fitted = measures.fit_generator(maps)
    j = np.array([[0.0, -1.0], [1.0, 0.0]])
    expected = np.block([[j, np.zeros((2, 2))], [np.zeros((2, 2)), 2 * j]]) * math.pi / 180
    np.testing.assert_allclose(fitted.generator, expected, atol=0.02 * math.pi / 180)
    assert max(fitted.errors.values()) < 0.02
    result = probe(encoder, images, transforms=["rotate"], thetas={"rotate": thetas}, n=300, generator_variance=1.0)
    assert result.value("rotate", "generator_dims") == 4
    assert max(_values(result, "rotate", "generator_error")) < 0.01
    assert min(_values(result, "rotate", "equivariance_r2")) > 0.999
    assert result.value("rotate", "generator_log_imag") < 1e-6


def test_generator_is_fitted_in_the_principal_subspace() -> None:
    # Two low-variance features that do not rotate (a random pixel projection) put before the two high-variance
    # frequency-1 moments: the 90% principal subspace is the moments' plane, where rotation is a group.
    images, moments = _blob_images(), _angular_moments()[:, :2]
    projection = 0.02 * torch.randn(24 * 24, 2, generator=torch.Generator().manual_seed(6))
    def encoder(x):
        return torch.cat([_pixels(x) @ projection, _pixels(x) @ moments], 1)
    result = probe(encoder, images, transforms=["rotate"], thetas={"rotate": (-30.0, 15.0, 30.0)}, n=300)
    assert result.value("rotate", "generator_dims") == 2
    assert max(_values(result, "rotate", "generator_error")) < 0.01
    everything = probe(encoder, images, transforms=["rotate"], thetas={"rotate": (-30.0, 15.0, 30.0)}, n=300,
                       generator_variance=1.0)
    assert max(_values(everything, "rotate", "generator_error")) > 0.05


def test_result_is_json_ready_and_plots(tmp_path) -> None:
    result = probe(_pixels, _noise_images(200), transforms=["rot90", "brightness"], n=200)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["feature_dim"] == 64
    assert payload["protocol"]["n_fit"] == 100 and payload["protocol"]["n_test"] == 100
    invariance = _values(result, "brightness", "invariance")
    assert payload["summary"]["brightness"]["invariance"] == pytest.approx(sum(invariance) / len(invariance))
    assert {row["metric"] for row in payload["rows"]} >= {"invariance", "equivariance_r2", "composition_error"}
    png = plot_probe(result, tmp_path / "probe.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_probe_is_deterministic_for_a_seed() -> None:
    def run(seed):
        return probe(_pixels, _noise_images(100), transforms=["roll"], n=60, seed=seed).to_rows()
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_bad_input_raises_user_error() -> None:
    gray = _noise_images(50)
    with pytest.raises(UserError, match="uint8"):
        probe(_pixels, gray.float())
    with pytest.raises(UserError, match="RGB"):
        probe(_pixels, gray, transforms=["hue"])
    with pytest.raises(UserError, match="unknown transform"):
        probe(_pixels, gray, transforms=["shear"])
    with pytest.raises(UserError, match="not probed"):
        probe(_pixels, gray, transforms=["rotate"], thetas={"scale": [2.0]})
    with pytest.raises(UserError, match="empty"):
        probe(_pixels, gray, transforms=["rotate"], thetas={"rotate": [0.0]})
    with pytest.raises(UserError, match="n >= 8"):
        probe(_pixels, gray, n=6)


def test_default_transforms_cover_rgb_hue() -> None:
    result = probe(_pixels, _noise_images(40, channels=3), n=40)
    assert set(result.protocol["transforms"]) == {
        "rotate", "translate", "scale", "hflip", "brightness", "contrast", "hue"
    }
