"""Parametrised group actions g_theta on batches of images, and their registry; one module per action in this
package, registered in :data:`TRANSFORMS` under the name of its file.

Every action takes ``images: (N, C, H, W)`` (uint8, or float on a [0, 1] scale) and one parameter ``theta`` and
returns a tensor of the same shape, dtype and device. Float images are returned unclamped, so an exact action
composes exactly (g_b(g_a x) = g_{a.b} x); uint8 images are transformed in float and rounded and clamped back to
0..255, which is what an encoder sees.

Geometric actions resample with ``grid_sample`` (bilinear, ``align_corners=False``, so pixel centres sit at
(i + 1/2) / W of the width). The sampling matrix is built in pixel units about the image centre, so rotations stay
rotations on non-square images. Samples outside the image read 0 (``padding="zeros"``, the default: the black
background of Fashion-MNIST and MNIST) or the nearest edge pixel (``padding="border"``). The exact cyclic actions
``rot90`` (``torch.rot90``) and ``roll`` (``torch.roll``) permute pixels, for tests with known answers.

Sign conventions: ``rotate(theta)`` turns the content counter-clockwise as displayed (``rotate(90)`` equals
``rot90(1)`` and ``torchvision.transforms.v2.functional.rotate``); ``translate(dx, dy)`` and ``roll(k)`` move the
content right by dx (k) and down by dy pixels; ``scale(s)`` with s > 1 zooms in; ``hue(theta)`` turns the colour
cube about its grey diagonal so that ``hue(120)`` maps red to green, green to blue and blue to red.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry

PADDINGS = ("zeros", "border")
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights; they sum to 1, so contrast() keeps the luminance mean


# ------------------------------------------------------------------------------------------ dtype plumbing
def check_images(images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise UserError(f"images must be a tensor of shape (N, C, H, W), got {shape}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise UserError(f"images must be uint8 or float, got {images.dtype}")


def to_unit_float(images: Tensor) -> Tensor:
    """uint8 0..255 -> float32 0..1; float images pass through unchanged."""
    check_images(images)
    return images.float() / 255.0 if images.dtype == torch.uint8 else images


def like(result: Tensor, images: Tensor) -> Tensor:
    """Back to the input dtype: uint8 is rounded and clamped to 0..255, float is left as is."""
    if images.dtype == torch.uint8:
        return (result * 255.0).round_().clamp_(0, 255).to(torch.uint8)
    return result.to(images.dtype)


# -------------------------------------------------------------------------------------- geometric actions
def resample(images: Tensor, inverse: Tensor, shift: tuple[float, float], padding: str) -> Tensor:
    """Output pixel at offset p = (u, v) from the centre (pixels, v down) reads input at ``inverse @ p + shift``.

    affine_grid works in normalised coordinates x_n = 2u / W, y_n = 2v / H, so its matrix is
    S^-1 inverse S with S = diag(W/2, H/2), and its offset S^-1 shift.
    """
    check_images(images)
    if padding not in PADDINGS:
        raise UserError(f"unknown padding {padding!r}; choose one of: {', '.join(PADDINGS)}")
    n, _, h, w = images.shape
    half = torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
    matrix = inverse.to(torch.float64) * half[None, :] / half[:, None]
    offset = torch.tensor(shift, dtype=torch.float64) / half
    theta = torch.cat([matrix, offset[:, None]], dim=1).to(device=images.device, dtype=torch.float32)
    source = to_unit_float(images).float()
    grid = F.affine_grid(theta.expand(n, 2, 3), [n, source.shape[1], h, w], align_corners=False)
    out = F.grid_sample(source, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    return like(out, images)


def whole_number(k: float, name: str) -> int:
    if k != int(k):
        raise UserError(f"{name} takes whole numbers, got {k}")
    return int(k)


# ------------------------------------------------------------------------------------ photometric actions


# ---------------------------------------------------------------------------------------- group laws
@dataclass(frozen=True)
class GroupLaw:
    """How parameters compose: g_b(g_a x) = g_{compose(a, b)} x, with the identity parameter.

    ``coordinate`` maps a parameter to its additive (Lie-algebra) coordinate t, so that g_theta = exp(t(theta) X)
    for a one-parameter group (t = theta for additive laws, log theta for multiplicative ones); it is None for a
    finite group (flips, quarter turns).
    """

    name: str
    identity: float
    compose: Callable[[float, float], float]
    coordinate: Callable[[float], float] | None

    @property
    def discrete(self) -> bool:
        return self.coordinate is None


def _wrap_degrees(angle: float) -> float:
    """An angle in (-180, 180]."""
    wrapped = math.fmod(angle, 360.0)
    if wrapped > 180.0:
        wrapped -= 360.0
    if wrapped <= -180.0:
        wrapped += 360.0
    return wrapped


ADD = GroupLaw("add", 0.0, lambda a, b: a + b, lambda theta: theta)
ADD_DEGREES = GroupLaw("add mod 360", 0.0, lambda a, b: _wrap_degrees(a + b), lambda theta: theta)
MULTIPLY = GroupLaw("multiply", 1.0, lambda a, b: a * b, math.log)
XOR = GroupLaw("xor", 0.0, lambda a, b: float(int(a) ^ int(b)), None)
ADD_MOD_4 = GroupLaw("add mod 4", 0.0, lambda a, b: float((int(a) + int(b)) % 4), None)


@dataclass(frozen=True)
class Transform:
    """A named group action with its law, its default parameter grid (identity excluded) and the grid's unit."""

    name: str
    action: Callable[[Tensor, float], Tensor]
    law: GroupLaw
    thetas: tuple[float, ...]
    unit: str
    needs_rgb: bool = False

    def __call__(self, images: Tensor, theta: float) -> Tensor:
        return self.action(images, theta)


TRANSFORMS: Registry[Transform] = Registry("transform", package="ssl_bench.probes.transforms")
QUARTER_OCTAVES = tuple(2.0 ** (k / 4) for k in (-2, -1, 1, 2))  # 0.71, 0.84, 1.19, 1.41: closed under a * b

DEFAULT_TRANSFORMS = ("rotate", "translate", "scale", "hflip", "brightness", "contrast", "hue")


def default_transforms(channels: int) -> list[str]:
    """The transforms probed when none are named: all continuous ones and hflip, hue only for RGB."""
    return [name for name in DEFAULT_TRANSFORMS if channels == 3 or not TRANSFORMS.get(name).needs_rgb]
