"""The SimCLR/BYOL augmentation recipe as batched tensor operations on whatever device the batch is on.

One view of a uint8 batch ``(B, C, H, W)``, each step with its own random parameters per image:

1. random resized crop to ``size x size`` (area fraction in ``crop_scale``, log-uniform aspect ratio in
   ``crop_ratio``, as torchvision's RandomResizedCrop but with continuous boxes), bilinear, via ``grid_sample``;
2. horizontal flip with probability ``flip_p`` (the sampling grid's x mirrored);
3. with probability ``jitter_p``: brightness, contrast, saturation, hue, **in this fixed order** (torchvision's
   ColorJitter shuffles the order per image), factors uniform in ``[max(0, 1 - s), 1 + s]`` and hue shift in
   ``[-hue, hue]``;
4. grayscale with probability ``grayscale_p``;
5. Gaussian blur with probability ``blur_p[view]``, sigma uniform in ``blur_sigma``, kernel ~10% of ``size``;
6. solarize (x -> 1 - x where x >= 0.5) with probability ``solarize_p[view]``;
7. normalisation ``(x - mean) / std`` per channel.

Multi-crop (Caron et al. 2020, SwAV; DINO): a batch gives ``global_views`` crops at the training size (view i uses
the per-view probabilities of view min(i, 1)) and then ``local_views`` crops of ``local_size`` pixels (0: 96/224
of the training size, as the papers' 96 px of 224) with area fraction in ``local_crop_scale``, blur probability
``local_blur_p`` and no solarisation. The default is two global views and no local one.

Steps 3-6 work on values in [0, 1] and match torchvision's functional ops. Saturation, hue and grayscale apply
to RGB only; 1-channel images stay 1-channel. All randomness comes from the ``generator`` passed in, which must
live on the batch's device (``torch.Generator(device=images.device)``), so a seeded generator gives the same
views on every run.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.core.validation import check_value
from ssl_bench.data.datasets import ImageDataset, normalization_stats
from ssl_bench.data.recipes import RECIPES

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale
SOLARIZE_THRESHOLD = 0.5
LOCAL = -1  # the view index of a local crop (global views are 0 and 1)
VIEW_COUNTS = ("global_views", "local_views")  # the settings that say how many views a batch gives


@dataclass
class AugmentConfig:
    """Parameters of the recipe (see the module docstring); ``blur_p`` and ``solarize_p`` are per view.

    A per-view probability given as one number applies to both views; lists are turned into tuples, so a dict
    of overrides read from YAML works. ``mean``/``std`` have one entry per channel, or one for all channels.
    """

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    grayscale_p: float = 0.2
    blur_p: tuple[float, float] = (0.0, 0.0)
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize_p: tuple[float, float] = (0.0, 0.0)
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    global_views: int = 2
    local_views: int = 0
    local_size: int = 0
    local_crop_scale: tuple[float, float] = (0.05, 0.4)
    local_blur_p: float = 0.0

    def __post_init__(self) -> None:
        for name, minimum in (("global_views", 1), ("local_views", 0), ("local_size", 0)):
            check_value(f"augment {name}", getattr(self, name), int, minimum=minimum)
        check_value("augment local_blur_p", self.local_blur_p, float)
        for name in ("flip_p", "jitter_p", "brightness", "contrast", "saturation", "hue", "grayscale_p"):
            check_value(f"augment {name}", getattr(self, name), float)
        for name in ("crop_scale", "crop_ratio", "blur_p", "blur_sigma", "solarize_p", "mean", "std", "local_crop_scale"):
            value = getattr(self, name)
            per_view_number = name in ("blur_p", "solarize_p") and isinstance(value, (int, float))
            items = [value] if per_view_number else value
            if not isinstance(items, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in items
            ):
                raise UserError(f"augment {name} must be a list of numbers, got {value!r}")
        for name in ("blur_p", "solarize_p"):
            value = getattr(self, name)
            setattr(self, name, (float(value), float(value)) if isinstance(value, (int, float)) else tuple(value))
        for name in ("crop_scale", "crop_ratio", "blur_sigma", "mean", "std", "local_crop_scale"):
            setattr(self, name, tuple(float(v) for v in getattr(self, name)))
        for name in ("crop_scale", "crop_ratio", "blur_p", "blur_sigma", "solarize_p", "local_crop_scale"):
            if len(getattr(self, name)) != 2:
                raise UserError(f"augment {name} must be a pair of numbers, got {getattr(self, name)}")
        probabilities = [self.flip_p, self.jitter_p, self.grayscale_p, *self.blur_p, *self.solarize_p, self.local_blur_p]
        if not all(0.0 <= p <= 1.0 for p in probabilities):
            raise UserError(f"augment probabilities must lie in [0, 1], got {self}")
        for name in ("crop_scale", "local_crop_scale"):
            low, high = getattr(self, name)
            if not 0.0 < low <= high <= 1.0:
                raise UserError(f"augment {name} must satisfy 0 < min <= max <= 1, got {getattr(self, name)}")
        if not 0.0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise UserError(f"augment crop_ratio must satisfy 0 < min <= max, got {self.crop_ratio}")
        if not 0.0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise UserError(f"augment blur_sigma must satisfy 0 < min <= max, got {self.blur_sigma}")
        if min(self.brightness, self.contrast, self.saturation) < 0 or not 0 <= self.hue <= 0.5:
            raise UserError("augment brightness/contrast/saturation must be >= 0 and hue in [0, 0.5]")
        if len(self.mean) != len(self.std) or min(self.std, default=0.0) <= 0:
            raise UserError(f"augment mean and std need the same length and std > 0, got {self.mean} and {self.std}")


def default_augment(
    recipe: str, channels: int, image_size: int, overrides: Mapping[str, Any] | None = None
) -> AugmentConfig:
    """The published augmentation ``recipe``, then ``overrides`` (any :class:`AugmentConfig` fields) on top.

    - simclr (Chen et al. 2020, colour strength s = 0.5 as for CIFAR): jitter 0.8 s / 0.8 s / 0.8 s / 0.2 s =
      0.4 / 0.4 / 0.4 / 0.1 with p 0.8, grayscale 0.2, blur p 0.5 on both views, no solarize.
    - byol (Grill et al. 2020, the asymmetric recipe VICReg, BarlowTwins and MoCo v3 use): jitter
      0.4 / 0.4 / 0.2 / 0.1 with p 0.8, grayscale 0.2, blur p (1.0, 0.1), solarize p (0.0, 0.2).

    Blur is dropped for images of 32 px or less (as SimCLR's CIFAR setting and solo-learn's CIFAR configs do);
    above, local crops are blurred with probability 0.5 (DINO's local crops).
    Mean/std default to 0.5 per channel; :func:`augment_config` sets the dataset's.
    """
    if recipe not in RECIPES:
        raise UserError(f"unknown augmentation recipe {recipe!r}; choose one of: {', '.join(RECIPES)}")
    small = image_size <= 32
    half = (0.5,) * channels
    if recipe == "simclr":
        config = AugmentConfig(saturation=0.4, blur_p=0.0 if small else 0.5, solarize_p=0.0, mean=half, std=half,
                               local_blur_p=0.0 if small else 0.5)
    else:
        config = AugmentConfig(
            saturation=0.2, blur_p=(0.0, 0.0) if small else (1.0, 0.1), solarize_p=(0.0, 0.2), mean=half, std=half,
            local_blur_p=0.0 if small else 0.5,
        )
    return with_overrides(config, overrides or {})


def augment_config(recipe: str, ds: ImageDataset, overrides: Mapping[str, Any] | None = None) -> AugmentConfig:
    """:func:`default_augment` for ``ds``'s shape, normalised with ``ds``'s per-channel mean and std, then
    ``overrides``. Pass the training images, so evaluation can reuse the same ``mean``/``std``."""
    mean, std = normalization_stats(ds)
    return default_augment(recipe, ds.channels, ds.image_size, {"mean": mean, "std": std, **(overrides or {})})


def with_overrides(config: AugmentConfig, overrides: Mapping[str, Any]) -> AugmentConfig:
    """``config`` with the given fields replaced; an unknown key raises :class:`UserError` listing valid ones."""
    valid = [field.name for field in dataclasses.fields(AugmentConfig)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise UserError(f"unknown augment key(s) {unknown}; valid keys: {', '.join(valid)}")
    return dataclasses.replace(config, **overrides)


class BatchAugment:
    """Independently augmented, normalised views of a uint8 batch (see the module docstring).

    ``BatchAugment(config, channels, size)(images, generator)`` with ``images`` uint8 ``(B, C, H, W)``,
    C = ``channels``, returns two float32 ``(B, C, size, size)`` tensors on the images' device; :meth:`views`
    returns all of the config's global and local views.
    """

    def __init__(self, config: AugmentConfig, channels: int, size: int) -> None:
        if channels not in (1, 3):
            raise UserError(f"augmentations support 1- or 3-channel images, got {channels} channels")
        if len(config.mean) not in (1, channels):
            raise UserError(f"augment mean/std need 1 or {channels} values, got {len(config.mean)}")
        if size < 1:
            raise UserError(f"augment output size must be positive, got {size}")
        self.config = config
        self.channels = channels
        self.size = size
        self.kernel_size = max(3, 2 * int(0.05 * size) + 1)
        self.local_size = config.local_size or max(1, round(size * 96 / 224))
        self.local_kernel_size = max(3, 2 * int(0.05 * self.local_size) + 1)
        if config.local_views and self.local_size >= size:  # methods tell local crops from global ones by size
            raise UserError(f"augment local_size must be smaller than the {size} px global views, got {self.local_size}")

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        return self.two_views(images, generator)

    def two_views(self, images: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        return self.view(images, 0, generator), self.view(images, 1, generator)

    def views(self, images: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        """The ``global_views`` views at ``size`` (view i with the probabilities of view min(i, 1)), then the
        ``local_views`` local crops at ``local_size``, drawn in that order. With the default two global views
        and no local view this is :meth:`two_views`, draw for draw."""
        return [self.view(images, index, generator) for index in self.view_indices]

    @property
    def view_indices(self) -> list[int]:
        """The index of each view :meth:`views` draws: min(i, 1) for global view i, then :data:`LOCAL` per local."""
        return [min(i, 1) for i in range(self.config.global_views)] + [LOCAL] * self.config.local_views

    def size_of(self, index: int) -> int:
        """The side in pixels of view ``index``: ``local_size`` for :data:`LOCAL`, else ``size``."""
        return self.local_size if index == LOCAL else self.size

    def view(self, images: Tensor, index: int, generator: torch.Generator | None = None) -> Tensor:
        """View ``index`` of the batch: 0 or 1 select the per-view blur and solarize probabilities of a global
        view, :data:`LOCAL` a local crop."""
        _check_images(images, self.channels)
        _check_generator(generator, images.device)
        draw = self.draw(images.shape[0], images.shape[-2:], index, generator, images.device)
        return self.apply(images, draw, local=index == LOCAL)

    def draw(self, n: int, image_size: Sequence[int], index: int, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu") -> ViewDraw:
        """The random parameters of view ``index`` (0, 1 or :data:`LOCAL`) for ``n`` images of ``image_size``
        (H, W), drawn in a fixed order."""
        cfg = self.config
        local = index == LOCAL

        def chance(p: float) -> Tensor:
            return torch.rand(n, generator=generator, device=device) < p

        def uniform(low: float, high: float) -> Tensor:
            return low + (high - low) * torch.rand(n, generator=generator, device=device)

        height, width = image_size
        scale = cfg.local_crop_scale if local else cfg.crop_scale
        boxes = sample_crop_boxes(n, height, width, scale, cfg.crop_ratio, generator, device)
        draw = ViewDraw(boxes=boxes, flip=chance(cfg.flip_p))
        if cfg.jitter_p > 0:
            draw.brightness = uniform(max(0.0, 1 - cfg.brightness), 1 + cfg.brightness)
            draw.contrast = uniform(max(0.0, 1 - cfg.contrast), 1 + cfg.contrast)
            if self.channels == 3:
                draw.saturation = uniform(max(0.0, 1 - cfg.saturation), 1 + cfg.saturation)
                draw.hue = uniform(-cfg.hue, cfg.hue)
            draw.jitter = chance(cfg.jitter_p)
        if self.channels == 3 and cfg.grayscale_p > 0:
            draw.grayscale = chance(cfg.grayscale_p)
        blur_p = cfg.local_blur_p if local else cfg.blur_p[index]
        if blur_p > 0:
            draw.blur_sigma = uniform(*cfg.blur_sigma)
            draw.blur = chance(blur_p)
        if not local and cfg.solarize_p[index] > 0:
            draw.solarize = chance(cfg.solarize_p[index])
        return draw

    def apply(self, images: Tensor, draw: ViewDraw, local: bool = False) -> Tensor:
        """The view of uint8 ``images`` (B, C, H, W) with the parameters ``draw`` (for B images): standardised
        float, ``size`` pixels square (``local_size`` for a local crop)."""
        cfg = self.config
        size, kernel_size = (self.local_size, self.local_kernel_size) if local else (self.size, self.kernel_size)
        x = resized_crop(images.float() / 255.0, draw.boxes, size, flip=draw.flip)
        if draw.jitter is not None:
            jittered = adjust_brightness(x, draw.brightness)
            jittered = adjust_contrast(jittered, draw.contrast)
            if draw.saturation is not None:
                jittered = adjust_saturation(jittered, draw.saturation)
                jittered = adjust_hue(jittered, draw.hue)
            x = _where(draw.jitter, jittered, x)
        if draw.grayscale is not None:
            x = _where(draw.grayscale, rgb_to_grayscale(x).expand_as(x), x)
        if draw.blur is not None:
            x = _where(draw.blur, gaussian_blur(x, draw.blur_sigma, kernel_size), x)
        if draw.solarize is not None:
            x = _where(draw.solarize, solarize(x), x)
        return _standardize(x, cfg.mean, cfg.std)


@dataclass
class ViewDraw:
    """The random parameters of one view for B images, each (B,) (``boxes`` (B, 4)); None where the recipe skips
    the step. ``draw[rows]`` selects images."""

    boxes: Tensor
    flip: Tensor
    brightness: Tensor | None = None
    contrast: Tensor | None = None
    saturation: Tensor | None = None
    hue: Tensor | None = None
    jitter: Tensor | None = None
    grayscale: Tensor | None = None
    blur_sigma: Tensor | None = None
    blur: Tensor | None = None
    solarize: Tensor | None = None

    def __getitem__(self, rows: slice | Tensor) -> ViewDraw:
        return ViewDraw(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[rows]
                           for f in dataclasses.fields(self)})


def normalize(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """float32 ``(x / 255 - mean_c) / std_c`` of uint8 ``images: (N, C, H, W)``: the evaluation-time input."""
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise UserError(f"normalize expects uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    if len(mean) not in (1, images.shape[1]) or len(std) != len(mean):
        raise UserError(f"normalize needs 1 or {images.shape[1]} mean/std values, got {len(mean)} and {len(std)}")
    return _standardize(images.float() / 255.0, mean, std)


def sample_crop_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    attempts: int = 10,
) -> Tensor:
    """``n`` crop boxes ``(x0, y0, w, h)`` in pixels, float32 ``(n, 4)``, sampled as RandomResizedCrop does.

    Per attempt: area a ~ U(scale) * H W, log r ~ U(log ratio), w = sqrt(a r), h = sqrt(a / r); the first
    attempt with w <= W and h <= H wins, its corner uniform in [0, W - w] x [0, H - h]. With no winner in
    ``attempts`` tries, the centre crop of the largest box with aspect ratio clamped into ``ratio``. Unlike
    torchvision, sizes and corners are not rounded to whole pixels.
    """
    shape = (n, attempts)
    area = height * width * (scale[0] + (scale[1] - scale[0]) * torch.rand(shape, generator=generator, device=device))
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_low + (log_high - log_low) * torch.rand(shape, generator=generator, device=device))
    w, h = torch.sqrt(area * aspect), torch.sqrt(area / aspect)
    fits = (w <= width) & (h <= height)
    first = fits.int().argmax(dim=1, keepdim=True)  # the first fitting attempt (0 when none fits)
    found = fits.any(dim=1)
    in_ratio = width / height
    fallback_w = width if in_ratio <= ratio[1] else height * ratio[1]
    fallback_h = height if in_ratio >= ratio[0] else width / ratio[0]
    w = torch.where(found, w.gather(1, first).squeeze(1), torch.full_like(found, fallback_w, dtype=torch.float32))
    h = torch.where(found, h.gather(1, first).squeeze(1), torch.full_like(found, fallback_h, dtype=torch.float32))
    corner = torch.rand(n, 2, generator=generator, device=device)
    corner = torch.where(found[:, None], corner, torch.full_like(corner, 0.5))
    return torch.stack([corner[:, 0] * (width - w), corner[:, 1] * (height - h), w, h], dim=1)


def resized_crop(x: Tensor, boxes: Tensor, size: int, flip: Tensor | None = None) -> Tensor:
    """Crop ``boxes: (B, 4)`` = (x0, y0, w, h) pixels out of ``x: (B, C, H, W)`` and resize to ``size`` (bilinear).

    Output pixel centre u in [-1, 1] (align_corners=False coordinates) samples the input at
    c + s u with s = w / W, c = (2 x0 + w) / W - 1 (same in y); ``flip: (B,)`` bool mirrors by s -> -s.
    In pixel coordinates: x = x0 + (j + 1/2) w / S - 1/2, clamped to the image. The whole image is sampled, so
    at the box's edges the pixels just outside it contribute (torchvision crops first and repeats the crop's
    edge); there is no antialiasing, which matters only for boxes larger than ``size``.
    """
    height, width = x.shape[-2:]
    x0, y0, w, h = boxes.to(x.dtype).unbind(dim=1)
    scale_x = w / width
    if flip is not None:
        scale_x = torch.where(flip, -scale_x, scale_x)
    zero = torch.zeros_like(scale_x)
    theta = torch.stack(
        [
            torch.stack([scale_x, zero, (2 * x0 + w) / width - 1], dim=1),
            torch.stack([zero, h / height, (2 * y0 + h) / height - 1], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def rgb_to_grayscale(x: Tensor) -> Tensor:
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` of ``x: (B, 3, H, W)`` as ``(B, 1, H, W)``."""
    r, g, b = x.unbind(dim=1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """clip(f x, 0, 1) with one factor per image, ``factor: (B,)``."""
    return (x * _per_image(factor)).clamp(0.0, 1.0)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """clip(f x + (1 - f) m, 0, 1), m the image's mean gray level (its mean, for one channel)."""
    gray = rgb_to_grayscale(x) if x.shape[1] == 3 else x
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    f = _per_image(factor)
    return (f * x + (1 - f) * mean).clamp(0.0, 1.0)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """clip(f x + (1 - f) gray(x), 0, 1) for RGB ``x: (B, 3, H, W)``."""
    f = _per_image(factor)
    return (f * x + (1 - f) * rgb_to_grayscale(x)).clamp(0.0, 1.0)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue of RGB ``x`` by ``shift: (B,)`` turns: RGB -> HSV, h -> (h + shift) mod 1, HSV -> RGB."""
    hue, saturation, value = _rgb_to_hsv(x)
    hue = torch.remainder(hue + shift[:, None, None], 1.0)
    return _hsv_to_rgb(hue, saturation, value)


def gaussian_blur(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Separable Gaussian blur of ``x: (B, C, H, W)``, one ``sigma: (B,)`` per image, reflect padding.

    Kernel k_i proportional to exp(-t_i^2 / (2 sigma^2)), t = -(K-1)/2 .. (K-1)/2, normalised to sum 1
    (K = ``kernel_size``, odd), applied along x then y.
    """
    n, c, height, width = x.shape
    t = torch.arange(kernel_size, device=x.device, dtype=x.dtype) - (kernel_size - 1) / 2
    kernel = torch.exp(-(t[None, :] ** 2) / (2 * sigma[:, None].to(x.dtype) ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B C, K)
    pad = kernel_size // 2
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect").reshape(1, n * c, height + 2 * pad, width + 2 * pad)
    blurred = F.conv2d(padded, kernel[:, None, None, :], groups=n * c)
    blurred = F.conv2d(blurred, kernel[:, None, :, None], groups=n * c)
    return blurred.reshape(n, c, height, width)


def solarize(x: Tensor) -> Tensor:
    """1 - x where x >= 0.5, else x."""
    return torch.where(x >= SOLARIZE_THRESHOLD, 1.0 - x, x)


def _rgb_to_hsv(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Hue in [0, 1), saturation, value of RGB ``x: (B, 3, H, W)``, each ``(B, H, W)``."""
    r, g, b = x.unbind(dim=1)
    value = x.amax(dim=1)
    chroma = value - x.amin(dim=1)
    gray = chroma == 0
    saturation = chroma / torch.where(gray, torch.ones_like(value), value)
    safe_chroma = torch.where(gray, torch.ones_like(chroma), chroma)
    rc, gc, bc = ((value - channel) / safe_chroma for channel in (r, g, b))
    is_r = value == r
    is_g = (value == g) & ~is_r
    sector = torch.where(is_r, bc - gc, torch.where(is_g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.remainder(sector / 6.0 + 1.0, 1.0)
    return torch.where(gray, torch.zeros_like(hue), hue), saturation, value


def _hsv_to_rgb(hue: Tensor, saturation: Tensor, value: Tensor) -> Tensor:
    """RGB ``(B, 3, H, W)`` of hue in [0, 1), saturation, value ``(B, H, W)`` (the hexcone model).

    Channel n of (R, G, B) is v (1 - s clip(min(k, 4 - k), 0, 1)) with k = (o_n + 6 h) mod 6, o = (5, 3, 1).
    """
    offsets = channel_constant((5.0, 3.0, 1.0), hue.device, hue.dtype)
    k = torch.remainder(offsets + 6.0 * hue.unsqueeze(1), 6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return value.unsqueeze(1) * (1.0 - saturation.unsqueeze(1) * ramp)


def _standardize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    return (x - channel_constant(tuple(mean), x.device, x.dtype)) / channel_constant(tuple(std), x.device, x.dtype)


@functools.lru_cache(maxsize=64)
def channel_constant(values: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> Tensor:
    """``values`` as a ``(1, C, 1, 1)`` tensor on ``device``, made once: building it from Python numbers on each
    call would be a host-to-device copy, which synchronises the GPU and stalls the training loop every step.
    Made outside inference mode, so autograd may use it whichever mode first asked for it."""
    with torch.inference_mode(False):
        return torch.tensor(values, device=device, dtype=dtype).view(1, len(values), 1, 1)


def _per_image(values: Tensor) -> Tensor:
    return values.view(-1, 1, 1, 1)


def _where(mask: Tensor, chosen: Tensor, other: Tensor) -> Tensor:
    return torch.where(_per_image(mask), chosen, other)


def _check_images(images: Tensor, channels: int) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != channels:
        raise UserError(
            f"augmentations expect uint8 images (B, {channels}, H, W), got {images.dtype} {tuple(images.shape)}"
        )


def _check_generator(generator: torch.Generator | None, device: torch.device) -> None:
    if generator is not None and generator.device.type != device.type:
        raise ValueError(
            f"the generator is on {generator.device} but the images are on {device}; "
            "create it with torch.Generator(device=images.device)"
        )
