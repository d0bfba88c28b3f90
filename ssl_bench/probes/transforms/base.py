"""Parametrised group actions g_theta on batches of images, and their registry.

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
def _check_images(images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise UserError(f"images must be a tensor of shape (N, C, H, W), got {shape}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise UserError(f"images must be uint8 or float, got {images.dtype}")


def _to_unit_float(images: Tensor) -> Tensor:
    """uint8 0..255 -> float32 0..1; float images pass through unchanged."""
    _check_images(images)
    return images.float() / 255.0 if images.dtype == torch.uint8 else images


def _like(result: Tensor, images: Tensor) -> Tensor:
    """Back to the input dtype: uint8 is rounded and clamped to 0..255, float is left as is."""
    if images.dtype == torch.uint8:
        return (result * 255.0).round_().clamp_(0, 255).to(torch.uint8)
    return result.to(images.dtype)


# -------------------------------------------------------------------------------------- geometric actions
def _resample(images: Tensor, inverse: Tensor, shift: tuple[float, float], padding: str) -> Tensor:
    """Output pixel at offset p = (u, v) from the centre (pixels, v down) reads input at ``inverse @ p + shift``.

    affine_grid works in normalised coordinates x_n = 2u / W, y_n = 2v / H, so its matrix is
    S^-1 inverse S with S = diag(W/2, H/2), and its offset S^-1 shift.
    """
    _check_images(images)
    if padding not in PADDINGS:
        raise UserError(f"unknown padding {padding!r}; choose one of: {', '.join(PADDINGS)}")
    n, _, h, w = images.shape
    half = torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
    matrix = inverse.to(torch.float64) * half[None, :] / half[:, None]
    offset = torch.tensor(shift, dtype=torch.float64) / half
    theta = torch.cat([matrix, offset[:, None]], dim=1).to(device=images.device, dtype=torch.float32)
    source = _to_unit_float(images).float()
    grid = F.affine_grid(theta.expand(n, 2, 3), [n, source.shape[1], h, w], align_corners=False)
    out = F.grid_sample(source, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    return _like(out, images)


def rotate(images: Tensor, degrees: float, padding: str = "zeros") -> Tensor:
    """Rotate counter-clockwise (as displayed) by ``degrees`` about the image centre.

    Output pixel at centre offset (u, v) reads the input at R (u, v), R = [[cos t, -sin t], [sin t, cos t]].
    """
    t = math.radians(degrees)
    inverse = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return _resample(images, inverse, (0.0, 0.0), padding)


def translate(images: Tensor, dx: float, dy: float = 0.0, padding: str = "zeros") -> Tensor:
    """Move the content right by ``dx`` and down by ``dy`` pixels: out(u, v) = in(u - dx, v - dy)."""
    return _resample(images, torch.eye(2), (-dx, -dy), padding)


def scale(images: Tensor, factor: float, padding: str = "zeros") -> Tensor:
    """Zoom about the centre by ``factor`` (> 1 enlarges): out(u, v) = in(u / factor, v / factor)."""
    if factor <= 0:
        raise UserError(f"scale factor must be positive, got {factor}")
    return _resample(images, torch.eye(2) / factor, (0.0, 0.0), padding)


def hflip(images: Tensor, flip: float) -> Tensor:
    """Mirror left-right when ``flip`` is 1, identity when 0."""
    _check_images(images)
    if flip not in (0, 1):
        raise UserError(f"hflip takes 0 or 1, got {flip}")
    return images.flip(3) if flip else images.clone()


def rot90(images: Tensor, k: float) -> Tensor:
    """Exact rotation by k quarter turns counter-clockwise (``torch.rot90``); needs square images."""
    _check_images(images)
    if images.shape[2] != images.shape[3]:
        raise UserError(f"rot90 needs square images, got {images.shape[2]}x{images.shape[3]}; use rotate instead")
    return torch.rot90(images, _integer(k, "rot90"), dims=(2, 3))


def roll(images: Tensor, k: float) -> Tensor:
    """Exact circular shift of the content right by k pixels (``torch.roll`` along the width)."""
    _check_images(images)
    return torch.roll(images, _integer(k, "roll"), dims=3)


def _integer(k: float, name: str) -> int:
    if k != int(k):
        raise UserError(f"{name} takes whole numbers, got {k}")
    return int(k)


# ------------------------------------------------------------------------------------ photometric actions
def brightness(images: Tensor, delta: float) -> Tensor:
    """Add ``delta`` (a fraction of the full range) to every pixel: x' = x + delta."""
    return _like(_to_unit_float(images) + delta, images)


def contrast(images: Tensor, factor: float) -> Tensor:
    """Scale each image about its mean luminance m: x' = m + factor (x - m).

    m is the mean of 0.299 R + 0.587 G + 0.114 B (of the single channel for grayscale) per image; it is left
    unchanged, so contrast(a) then contrast(b) is contrast(a b) on float images.
    """
    if factor <= 0:
        raise UserError(f"contrast factor must be positive, got {factor}")
    x = _to_unit_float(images)
    if x.shape[1] == 3:
        luma = torch.tensor(LUMA, dtype=x.dtype, device=x.device)
        mean = (x * luma[None, :, None, None]).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    else:
        mean = x.mean((1, 2, 3), keepdim=True)
    return _like(mean + factor * (x - mean), images)


def hue_matrix(degrees: float) -> Tensor:
    """The 3x3 rotation by ``degrees`` about k = (1, 1, 1) / sqrt 3.

    Rodrigues: R = cos t I + sin t [k]x + (1 - cos t) k k^T, [k]x the cross-product matrix (k x v = [k]x v).
    """
    t = math.radians(degrees)
    k = torch.full((3,), 1.0 / math.sqrt(3.0), dtype=torch.float64)
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]], dtype=torch.float64)
    return math.cos(t) * torch.eye(3, dtype=torch.float64) + math.sin(t) * cross + (1 - math.cos(t)) * torch.outer(k, k)


def hue(images: Tensor, degrees: float) -> Tensor:
    """Turn every RGB pixel about the grey axis: x' = R(degrees) x (see :func:`hue_matrix`); needs 3 channels.

    Grey pixels and each pixel's channel mean are unchanged; hue(120) cyclically permutes R -> G -> B.
    """
    x = _to_unit_float(images)
    if x.shape[1] != 3:
        raise UserError(f"hue needs RGB images (3 channels), got {x.shape[1]}; leave hue out for grayscale data")
    rotation = hue_matrix(degrees).to(device=x.device, dtype=x.dtype)
    return _like(torch.einsum("oc,nchw->nohw", rotation, x), images)


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


TRANSFORMS: Registry[Transform] = Registry("transform")
_QUARTER_OCTAVES = tuple(2.0 ** (k / 4) for k in (-2, -1, 1, 2))  # 0.71, 0.84, 1.19, 1.41: closed under a * b

for _transform in (
    Transform("rotate", rotate, ADD_DEGREES, (-90.0, -60.0, -30.0, -15.0, 15.0, 30.0, 60.0, 90.0), "degrees"),
    Transform("translate", translate, ADD, (-4.0, -2.0, -1.0, 1.0, 2.0, 4.0), "pixels along x"),
    Transform("scale", scale, MULTIPLY, _QUARTER_OCTAVES, "zoom factor"),
    Transform("hflip", hflip, XOR, (1.0,), "flip"),
    Transform("brightness", brightness, ADD, (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2), "fraction of range"),
    Transform("contrast", contrast, MULTIPLY, _QUARTER_OCTAVES, "factor"),
    Transform("hue", hue, ADD_DEGREES, (-120.0, -60.0, 60.0, 120.0, 180.0), "degrees", needs_rgb=True),
    Transform("rot90", rot90, ADD_MOD_4, (1.0, 2.0, 3.0), "quarter turns"),
    Transform("roll", roll, ADD, (1.0, 2.0, 3.0, 4.0), "pixels along x (circular)"),
):
    TRANSFORMS.register(_transform.name)(_transform)

DEFAULT_TRANSFORMS = ("rotate", "translate", "scale", "hflip", "brightness", "contrast", "hue")


def default_transforms(channels: int) -> list[str]:
    """The transforms probed when none are named: all continuous ones and hflip, hue only for RGB."""
    return [name for name in DEFAULT_TRANSFORMS if channels == 3 or not TRANSFORMS.get(name).needs_rgb]
