"""The symmetry-equivariance probe: what a representation f is invariant or equivariant to.

For each transform g_theta (:mod:`ssl_bench.probes.transforms`) and each theta of its grid, on n images split into
a fitting part and a held-out part, the probe reports (:mod:`ssl_bench.probes.measures` has the equations):

- ``invariance``: normalised mean cosine between f(x) and f(g x) over all n images (1 invariant, 0 as different
  as random images of the set);
- ``equivariance_r2`` / ``equivariance_alpha``: held-out R^2 of the ridge map f(g x) ~ M_theta f(x) and its
  relative penalty, chosen by cross-validation on the fitting part (an invariant f scores 1 too, with M = I:
  read it with the invariance);
- ``composition_error`` (theta = a, theta_b = b): ||(M_{a.b} - M_b M_a) Xc^T|| / ||M_{a.b} Xc^T|| on the centred
  fitting features Xc, for every ordered pair of the grid whose composition a.b is in the grid or the identity
  (M_identity = I); ``composition_error_frobenius`` the same without Xc, which also counts feature directions
  the data hardly uses (there ridge shrinks every map towards 0, so M_b M_a is shrunk twice);
- ``generator_error`` (continuous groups): the one-parameter-group fit ||E - M~(t)|| / (||E|| + ||M~(t)||),
  E = expm(t A), in [0, 1], with A = Re logm(M~(t*)) / t* at the smallest step t*, of the maps restricted to the
  principal subspace U of f(x) that explains ``generator_variance`` of its variance, M~ = U^T M U
  (``generator_dims`` = its dimension); ``generator_log_imag``, the imaginary part of logm that was dropped.
  Why the restriction: for an orthogonal representation of a symmetry of the data distribution the covariance
  commutes with every M, so principal subspaces are invariant subspaces; low-variance directions are where ridge
  leaves near-zero eigenvalues, which make M(-t) = M(t)^-1 fail for any lossy representation;
- ``recoverability_r2`` (continuous, theta None): held-out R^2 of a linear ridge prediction of the coordinate t(theta)
  from [f(x), f(g x)] over the grid and the identity; ``recoverability_accuracy`` for finite groups (logistic
  regression, chance = 1 / (grid size + 1)).

Features are extracted once per (transform, theta), and once for the untransformed images.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.models.features import extract_features
from ssl_bench.probes import measures
from ssl_bench.probes.transforms import TRANSFORMS, Transform, default_transforms

Encoder = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class ProbeRow:
    """One number: ``metric`` of ``transform`` at ``theta`` (None: over the grid), ``theta_b`` for compositions."""

    transform: str
    metric: str
    theta: float | None
    value: float
    theta_b: float | None = None


@dataclass
class ProbeResult:
    """The tidy table of :func:`probe`, the settings that produced it, b (random-pair cosine of f(x)) and F."""

    rows: list[ProbeRow]
    protocol: dict[str, Any]
    random_pair_cosine: float
    feature_dim: int

    def to_rows(self) -> list[dict[str, Any]]:
        """Rows as dicts with keys transform, metric, theta, theta_b, value (NaN as None)."""
        return [{**asdict(row), "value": _finite_or_none(row.value)} for row in self.rows]

    def value(self, transform: str, metric: str, theta: float | None = None, theta_b: float | None = None) -> float:
        """The value of one row; KeyError when there is none."""
        for row in self.rows:
            if (row.transform, row.metric, row.theta, row.theta_b) == (transform, metric, theta, theta_b):
                return row.value
        raise KeyError((transform, metric, theta, theta_b))

    def summary(self) -> dict[str, dict[str, float | None]]:
        """transform -> metric -> mean over its rows (NaN rows ignored; None when all are NaN)."""
        groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for row in self.rows:
            groups[row.transform][row.metric].append(row.value)
        return {
            name: {metric: _finite_or_none(_nanmean(values)) for metric, values in metrics.items()}
            for name, metrics in groups.items()
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: protocol, feature_dim, random_pair_cosine, summary and rows."""
        return {
            "protocol": self.protocol,
            "feature_dim": self.feature_dim,
            "random_pair_cosine": _finite_or_none(self.random_pair_cosine),
            "summary": self.summary(),
            "rows": self.to_rows(),
        }


def probe(
    encoder: Encoder,
    images: Tensor,
    transforms: Sequence[str] | None = None,
    thetas: Mapping[str, Sequence[float]] | None = None,
    n: int | None = 2000,
    n_fit: int | None = None,
    seed: int = 0,
    batch_size: int = 512,
    device: str | torch.device | None = None,
    generator_variance: float = 0.9,
    progress: Callable[[str], None] | None = None,
) -> ProbeResult:
    """Probe ``encoder`` (uint8 (N, C, H, W) -> (N, F)) with group actions on ``images`` (uint8 (N, C, H, W)).

    ``transforms``: names from ``TRANSFORMS`` (default: :func:`default_transforms` for the channel count);
    ``thetas``: per-transform grids replacing the defaults (identity values are dropped); ``n``: images used, a
    seeded random subset (None: all); ``n_fit``: how many of them fit the linear models (default n // 2), the rest
    score them; ``device``: where the images are transformed and encoded (default: where they are);
    ``generator_variance``: share of the variance of f(x) kept for the generator fit (1: all of F);
    ``progress``: called with one line per transform.
    """
    names = _transform_names(transforms, images)
    if not 0.0 < generator_variance <= 1.0:
        raise UserError(f"generator_variance is a share of the variance in (0, 1], got {generator_variance}")
    grids = _grids(names, thetas or {})
    subset, n_fit = _subset(images, n, n_fit, seed)
    subset = subset.to(device) if device is not None else subset
    fit, test = np.arange(n_fit), np.arange(n_fit, subset.shape[0])

    def features(batch: Tensor) -> np.ndarray:
        return extract_features(encoder, batch, batch_size=batch_size, device=batch.device).cpu().double().numpy()

    f_x = features(subset)
    rows: list[ProbeRow] = []
    for name in names:
        transform = TRANSFORMS.get(name)
        if progress is not None:
            progress(f"probing {name}: {len(grids[name])} values of theta on {subset.shape[0]} images")
        f_gx = {theta: features(transform(subset, theta)) for theta in grids[name]}
        rows += _measure_transform(transform, f_x, f_gx, fit, test, generator_variance)
    protocol = {
        "n": int(subset.shape[0]),
        "n_fit": int(n_fit),
        "n_test": int(subset.shape[0] - n_fit),
        "seed": seed,
        "transforms": {
            name: {"thetas": list(grids[name]), "law": TRANSFORMS.get(name).law.name, "unit": TRANSFORMS.get(name).unit}
            for name in names
        },
        "interpolation": "bilinear, zero padding",
        "ridge_relative_alphas": list(measures.RELATIVE_ALPHAS),
        "composition_weighting": "centred features of the fitting split",
        "generator_variance": generator_variance,
        "ridge_alpha_selection": "leave-one-out (RidgeCV) on the fitting split, one alpha for all outputs",
        "recoverability": "ridge on [f(x), f(gx)] -> t(theta) (R^2); finite groups: logistic regression C=1 (accuracy)",
        "invariance_baseline": "mean cosine of f over all pairs of different images",
    }
    return ProbeResult(rows, protocol, measures.random_pair_cosine(f_x), int(f_x.shape[1]))


def _measure_transform(
    transform: Transform,
    f_x: np.ndarray,
    f_gx: dict[float, np.ndarray],
    fit: np.ndarray,
    test: np.ndarray,
    generator_variance: float,
) -> list[ProbeRow]:
    name, law = transform.name, transform.law
    rows: list[ProbeRow] = []
    maps = {law.identity: np.eye(f_x.shape[1])}
    for theta, features in f_gx.items():
        linear = measures.fit_linear_map(f_x[fit], features[fit])
        maps[theta] = linear.matrix
        rows += [
            ProbeRow(name, "invariance", theta, measures.invariance(f_x, features)),
            ProbeRow(name, "equivariance_r2", theta, measures.pooled_r2(features[test], linear.predict(f_x[test]))),
            ProbeRow(name, "equivariance_alpha", theta, linear.alpha),
        ]
    for a in f_gx:
        for b in f_gx:
            composed = _find(law.compose(a, b), maps)
            if composed is not None:
                on_data = measures.composition_error(maps[composed], maps[a], maps[b], f_x[fit])
                plain = measures.composition_error(maps[composed], maps[a], maps[b])
                rows.append(ProbeRow(name, "composition_error", a, on_data, theta_b=b))
                rows.append(ProbeRow(name, "composition_error_frobenius", a, plain, theta_b=b))
    if law.coordinate is not None:
        basis = measures.principal_subspace(f_x[fit], generator_variance)
        fitted = measures.fit_generator({law.coordinate(theta): basis.T @ maps[theta] @ basis for theta in f_gx})
        rows += [ProbeRow(name, "generator_error", theta, fitted.errors[law.coordinate(theta)]) for theta in f_gx]
        rows.append(ProbeRow(name, "generator_log_imag", None, fitted.discarded_imaginary))
        rows.append(ProbeRow(name, "generator_dims", None, float(basis.shape[1])))
    rows.append(_recoverability(transform, f_x, f_gx, fit, test))
    return rows


def _recoverability(
    transform: Transform, f_x: np.ndarray, f_gx: dict[float, np.ndarray], fit: np.ndarray, test: np.ndarray
) -> ProbeRow:
    """Stack [f(x), f(g_theta x)] for theta in {identity} + grid; split by image, as the linear maps are."""
    law = transform.law
    thetas = [law.identity, *f_gx]
    pairs = np.concatenate([np.hstack([f_x, f_gx.get(theta, f_x)]) for theta in thetas])
    n = f_x.shape[0]
    fit_rows = np.concatenate([fit + k * n for k in range(len(thetas))])
    test_rows = np.concatenate([test + k * n for k in range(len(thetas))])
    if law.coordinate is None:
        labels = np.repeat(np.arange(len(thetas)), n)
        accuracy = measures.classification_recoverability(pairs, labels, fit_rows, test_rows)
        return ProbeRow(transform.name, "recoverability_accuracy", None, accuracy)
    targets = np.repeat([law.coordinate(theta) for theta in thetas], n)
    r2 = measures.regression_recoverability(pairs, targets, fit_rows, test_rows)
    return ProbeRow(transform.name, "recoverability_r2", None, r2)


def _find(theta: float, maps: Mapping[float, np.ndarray]) -> float | None:
    """The key of ``maps`` equal to ``theta`` up to rounding, if any."""
    return next((key for key in maps if math.isclose(key, theta, rel_tol=1e-9, abs_tol=1e-9)), None)


def _transform_names(transforms: Sequence[str] | None, images: Tensor) -> list[str]:
    if not isinstance(images, Tensor) or images.ndim != 4 or images.dtype != torch.uint8:
        described = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        raise UserError(f"probe needs uint8 images of shape (N, C, H, W), got {described}")
    channels = images.shape[1]
    if transforms is None:
        return default_transforms(channels)
    names = list(dict.fromkeys(transforms))
    if not names:
        raise UserError("no transforms to probe; name at least one, e.g. rotate,translate")
    for name in names:
        if TRANSFORMS.get(name).needs_rgb and channels != 3:
            raise UserError(f"{name} needs RGB images but these have {channels} channel(s); leave {name} out")
    return names


def _grids(names: list[str], thetas: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, ...]]:
    unknown = sorted(set(thetas) - set(names))
    if unknown:
        raise UserError(f"thetas given for {', '.join(unknown)}, which is not probed; add it to the transforms")
    grids = {}
    for name in names:
        transform = TRANSFORMS.get(name)
        identity = transform.law.identity
        grid = tuple(float(t) for t in thetas.get(name, transform.thetas) if not math.isclose(float(t), identity))
        if not grid:
            raise UserError(f"the theta grid of {name} is empty (identity {identity} is dropped); give other values")
        grids[name] = tuple(dict.fromkeys(grid))
    return grids


def _subset(images: Tensor, n: int | None, n_fit: int | None, seed: int) -> tuple[Tensor, int]:
    total = images.shape[0]
    n = total if n is None else min(n, total)
    n_fit = n // 2 if n_fit is None else n_fit
    if n < 8 or not 4 <= n_fit <= n - 4:
        raise UserError(f"probe needs n >= 8 images with 4 <= n_fit <= n - 4, got n={n}, n_fit={n_fit}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]
    return images[order.to(images.device)], n_fit


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
