"""Numerical verification of :mod:`ssl_bench.spectral.closed_forms` against the training losses.

Each experiment minimises a loss from :mod:`ssl_bench.methods.losses` (the functions used for training, not a
re-implementation) by L-BFGS in float64 over a free Z or a linear map W from several random starts, and
returns the best value found next to the closed form: relative objective gap (min - closed) / |closed|,
largest principal angle between column spaces (degrees), and ranks. Used by ``tests/test_closed_forms.py``
(which asserts the gaps) and ``scripts/reproduce_paper.py`` (which records them).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch
from torch import Tensor

from ssl_bench.data.graph import knn_graph, union, views_graph
from ssl_bench.methods.losses import (
    barlow_twins_graph_loss,
    pair_graph,
    simclr_graph_loss,
    vicreg_graph_loss,
    view_index_of,
)
from ssl_bench.spectral.closed_forms import (
    barlow_twins_cca,
    dense_graph,
    simclr_simplex,
    vicreg_decorrelated,
    vicreg_hard_constrained,
    vicreg_hard_constrained_linear,
)


def synthetic_graphs(n_images: int = 50, n_views: int = 2, k: int = 5, seed: int = 0) -> dict[str, sp.csr_matrix]:
    """``views``: the SSL graph of V views of N' images; ``richer``: views OR a k-NN graph of random 2-D image
    positions lifted to all their views (row v N' + i is view v of image i)."""
    positions = np.random.default_rng(seed).normal(size=(n_images, 2))
    images = knn_graph(positions, k).toarray()
    lifted = np.kron(np.ones((n_views, n_views)), images)
    return {"views": views_graph(n_images, n_views), "richer": union(views_graph(n_images, n_views), sp.csr_matrix(lifted))}


def minimise(
    loss: Callable[[Tensor], Tensor], start: Tensor, adam_steps: int = 0, lbfgs_rounds: int = 1, max_iter: int = 3000
) -> tuple[Tensor, float]:
    """Optionally Adam (lr 1e-2, cosine decay), then ``lbfgs_rounds`` fresh L-BFGS runs (strong Wolfe; a fresh
    memory gets past the VICReg hinge's kink), in float64 from ``start``; returns (argmin, min)."""
    parameter = start.clone().double().requires_grad_(True)
    if adam_steps:
        adam = torch.optim.Adam([parameter], lr=1e-2)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(adam, adam_steps)
        for _ in range(adam_steps):
            adam.zero_grad()
            loss(parameter).backward()
            adam.step()
            schedule.step()
    for _ in range(lbfgs_rounds):
        lbfgs = torch.optim.LBFGS(
            [parameter], lr=1.0, max_iter=max_iter, history_size=50, tolerance_grad=1e-12, tolerance_change=1e-16, line_search_fn="strong_wolfe"
        )

        def closure(lbfgs: torch.optim.LBFGS = lbfgs) -> Tensor:
            lbfgs.zero_grad()
            value = loss(parameter)
            value.backward()
            return value

        lbfgs.step(closure)
    with torch.no_grad():
        return parameter.detach(), float(loss(parameter))


def max_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Largest principal angle between the column spaces of a and b, in degrees."""
    return float(np.degrees(np.max(scipy.linalg.subspace_angles(a, b))))


def numerical_rank(z: np.ndarray, rel_tol: float = 1e-3) -> int:
    singular = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    return int(np.sum(singular > rel_tol * singular.max()))


def _orthonormal_centred(p: Tensor) -> Tensor:
    """Q R = H P; Q (N, K): orthonormal columns orthogonal to 1 (a retraction onto the constraint set)."""
    return torch.linalg.qr(p - p.mean(dim=0))[0]


def _best(runs: list[tuple[Tensor, float]]) -> tuple[np.ndarray, list[float]]:
    values = [value for _, value in runs]
    return runs[int(np.argmin(values))][0].numpy(), values


def verify_vicreg_hard(graph: sp.spmatrix, n_components: int, starts: int = 3, seed: int = 0) -> dict:
    """min vicreg_graph_loss(Z, G, invariance 1, variance 0, covariance 0) over Z = sqrt(N - 1) Q, Cov(Z) = I exactly."""
    closed = vicreg_hard_constrained(graph, n_components)
    g = torch.tensor(dense_graph(graph))
    n = g.shape[0]

    def loss(p: Tensor) -> Tensor:
        return vicreg_graph_loss(np.sqrt(n - 1) * _orthonormal_centred(p), g, None, 1.0, 0.0, 0.0)

    generator = torch.Generator().manual_seed(seed)
    runs = [minimise(loss, torch.randn(n, n_components, generator=generator, dtype=torch.float64)) for _ in range(starts)]
    best, values = _best(runs)
    z = np.sqrt(n - 1) * _orthonormal_centred(torch.tensor(best)).numpy()
    return _report(closed.objective, values, z, closed.solution, closed.regime)


def verify_vicreg_hard_linear(features: np.ndarray, graph: sp.spmatrix, n_components: int, starts: int = 3, seed: int = 0) -> dict:
    """Same loss over Z = sqrt(N - 1) Q with Q R = H X P (Z a linear function of X with Cov(Z) = I)."""
    closed = vicreg_hard_constrained_linear(features, graph, n_components)
    g, x = torch.tensor(dense_graph(graph)), torch.tensor(features, dtype=torch.float64)
    n = g.shape[0]

    def loss(p: Tensor) -> Tensor:
        return vicreg_graph_loss(np.sqrt(n - 1) * _orthonormal_centred(x @ p), g, None, 1.0, 0.0, 0.0)

    generator = torch.Generator().manual_seed(seed)
    runs = [minimise(loss, torch.randn(x.shape[1], n_components, generator=generator, dtype=torch.float64)) for _ in range(starts)]
    best, values = _best(runs)
    centred = features - features.mean(axis=0)
    return _report(closed.objective, values, centred @ best, centred @ closed.solution, closed.regime)


def verify_vicreg_soft(
    graph: sp.spmatrix,
    n_components: int,
    invariance_weight: float,
    variance_weight: float,
    covariance_weight: float,
    starts: int = 3,
    seed: int = 0,
    adam_steps: int = 0,
    lbfgs_rounds: int = 6,
) -> dict:
    """min vicreg_graph_loss over free Z against the strong-decorrelation closed form (:func:`vicreg_decorrelated`)."""
    closed = vicreg_decorrelated(graph, n_components, invariance_weight, variance_weight)
    g = torch.tensor(dense_graph(graph))

    def loss(z: Tensor) -> Tensor:
        return vicreg_graph_loss(z, g, None, invariance_weight, variance_weight, covariance_weight)

    generator = torch.Generator().manual_seed(seed)
    runs = [
        minimise(loss, torch.randn(g.shape[0], n_components, generator=generator, dtype=torch.float64), adam_steps=adam_steps, lbfgs_rounds=lbfgs_rounds)
        for _ in range(starts)
    ]
    best, values = _best(runs)
    report = _report(closed.objective, values, best, closed.solution, closed.regime)
    report["loss_at_closed_form"] = float(loss(torch.tensor(closed.solution)))
    report["closed_form_rank"] = numerical_rank(closed.solution)
    return report


def verify_simclr(graph: sp.spmatrix, n_images: int, n_views: int, n_components: int, temperature: float, starts: int = 3, seed: int = 0) -> dict:
    """min simclr_graph_loss over free Z against the simplex / classical-MDS-of-(G + I) closed form.

    The closed-form objective is the simplex value (exact for the views graph and K >= N' - 1); the Gram of
    the unit rows is compared with N'/(N' - 1) H (G + I) H (max abs error) and fitted affinely to G + I (R^2).
    """
    g = torch.tensor(dense_graph(graph))
    n = g.shape[0]

    def loss(z: Tensor) -> Tensor:
        return simclr_graph_loss(z, g, temperature)

    generator = torch.Generator().manual_seed(seed)
    runs = [minimise(loss, torch.randn(n, n_components, generator=generator, dtype=torch.float64)) for _ in range(starts)]
    best, values = _best(runs)
    unit = best / np.linalg.norm(best, axis=1, keepdims=True)
    gram = unit @ unit.T
    similarity = dense_graph(graph) + np.eye(n)
    centring = np.eye(n) - np.ones((n, n)) / n
    predicted = n_images / (n_images - 1) * centring @ similarity @ centring
    simplex = simclr_simplex(n_images, n_views, max(n_components, n_images - 1), temperature)
    report = _report(simplex.objective, values, unit, simplex.solution, simplex.regime)
    report["gram_max_abs_error"] = float(np.max(np.abs(gram - predicted)))
    fit = np.polyfit(similarity.ravel(), gram.ravel(), 1)
    residual = gram.ravel() - np.polyval(fit, similarity.ravel())
    report["gram_affine_r2"] = float(1.0 - residual.var() / gram.ravel().var())
    return report


def verify_barlow_twins_linear(
    view_a: np.ndarray, view_b: np.ndarray, n_components: int, off_diagonal_weight: float, starts: int = 3, seed: int = 0, max_iter: int = 3000
) -> dict:
    """min barlow_twins_graph_loss(cat(X_a W_a, X_b W_b), pair graph, per-view batch norm) against CCA."""
    closed_a, closed_b = barlow_twins_cca(view_a, view_b, n_components)
    xa, xb = torch.tensor(view_a, dtype=torch.float64), torch.tensor(view_b, dtype=torch.float64)
    rows, fa = xa.shape
    g, views = pair_graph(rows).double(), view_index_of(rows)

    def loss(w: Tensor) -> Tensor:
        return barlow_twins_graph_loss(torch.cat([xa @ w[:fa], xb @ w[fa:]]), g, views, off_diagonal_weight)

    generator = torch.Generator().manual_seed(seed)
    runs = [
        minimise(loss, torch.randn(fa + xb.shape[1], n_components, generator=generator, dtype=torch.float64), max_iter=max_iter)
        for _ in range(starts)
    ]
    best, values = _best(runs)
    centred_a = view_a - view_a.mean(axis=0)
    report = _report(closed_a.objective, values, centred_a @ best[:fa], centred_a @ closed_a.solution, closed_a.regime)
    report["loss_at_closed_form"] = float(loss(torch.tensor(np.vstack([closed_a.solution, closed_b.solution]))))
    return report


def _report(closed_objective: float, values: list[float], found: np.ndarray, closed: np.ndarray, regime: str) -> dict:
    best = min(values)
    gram, closed_gram = _centred_gram(found), _centred_gram(closed)
    kept = np.linalg.norm(closed - closed.mean(axis=0), axis=0) > 1e-8 * np.abs(closed).max()
    return {
        "regime": regime,
        "closed_form_objective": closed_objective,
        "minimised_objectives": values,
        "absolute_gap": best - closed_objective,
        "relative_gap": (best - closed_objective) / abs(closed_objective) if abs(closed_objective) > 1e-12 else None,
        "max_angle_degrees": max_angle(found, closed[:, kept]) if numerical_rank(found) >= int(kept.sum()) else 90.0,
        "gram_relative_error": float(np.linalg.norm(gram - closed_gram) / np.linalg.norm(closed_gram)),
        "rank_found": numerical_rank(found),
    }


def _centred_gram(z: np.ndarray) -> np.ndarray:
    centred = z - z.mean(axis=0)
    return centred @ centred.T


def verify_simclr_linear(
    features: np.ndarray, graph: sp.spmatrix, n_components: int, temperature: float, starts: int = 3, seed: int = 0
) -> dict:
    """min simclr_graph_loss(X_c W, G, tau) over W (F, K) against :class:`SimCLRClosedForm` (reg 0).

    Reports the loss at the closed form, the minimised losses, their relative gap, the largest principal angle
    between X_c W_found and X_c W_closed, the relative error of the Gram of the unit rows (what SimCLR sees), and
    ``loss_in_closed_form_subspace``: the loss minimised over
    W = W_closed R, R (K, K) free -- what is left once the subspace is fixed (basis and column scales).
    """
    from ssl_bench.spectral.methods.simclr_closed_form import SimCLRClosedForm

    closed = SimCLRClosedForm(n_components, reg=0.0).fit(features, graph=graph)
    centred = features - features.mean(axis=0)
    x, g = torch.tensor(centred, dtype=torch.float64), torch.tensor(dense_graph(graph))

    def loss(w: Tensor) -> Tensor:
        return simclr_graph_loss(x @ w, g, temperature)

    generator = torch.Generator().manual_seed(seed)
    runs = [minimise(loss, torch.randn(x.shape[1], n_components, generator=generator, dtype=torch.float64)) for _ in range(starts)]
    best, values = _best(runs)
    closed_weights = torch.tensor(closed.components_)
    objective = float(loss(closed_weights))
    found, closed_z = centred @ best, centred @ closed.components_
    report = _report(objective, values, found, closed_z, "SimCLR, linear Z = X W, MDS of G + I fitted in Frobenius norm")
    unit_found, unit_closed = (z / np.linalg.norm(z, axis=1, keepdims=True) for z in (found, closed_z))
    report["gram_relative_error"] = float(np.linalg.norm(unit_found @ unit_found.T - unit_closed @ unit_closed.T) / np.linalg.norm(unit_found @ unit_found.T))
    _, report["loss_in_closed_form_subspace"] = minimise(lambda r: loss(closed_weights @ r), torch.eye(n_components, dtype=torch.float64))
    return report
