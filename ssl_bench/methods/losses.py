"""The three SSL losses as pure functions of tensors, in two-view form and in graph form.

Two-view form: ``z_a, z_b: (B, D)`` are the embeddings of two augmented views of the same B images,
row b of ``z_a`` paired with row b of ``z_b``.

Graph form (Balestriero & LeCun, NeurIPS 2022): ``z: (N, D)`` stacks the views of all images and a relation
matrix ``G: (N, N)`` (symmetric, zero diagonal, G_ij = 1 when rows i and j are views of one image, or any
other non-negative relation) says which rows should agree. ``view_index: (N,)`` optionally names the view
(branch) each row comes from; the regularisers (variance, covariance, batch normalisation) are then computed
per view as the two-view losses do, otherwise over all N rows as in the paper. With
``z = cat(z_a, z_b)``, ``G = pair_graph(B)`` and ``view_index = [0]*B + [1]*B`` each graph loss equals its
two-view loss exactly (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def pair_graph(batch_size: int, views: int = 2, device: torch.device | str | None = None) -> Tensor:
    """G for ``views`` stacked views of ``batch_size`` images: G_ij = 1 iff i != j and i = j (mod B). (VB, VB)."""
    image = torch.arange(views * batch_size, device=device) % batch_size
    g = (image[:, None] == image[None, :]).float()
    return g.fill_diagonal_(0.0)


def view_index_of(batch_size: int, views: int = 2, device: torch.device | str | None = None) -> Tensor:
    """The view each stacked row belongs to: [0]*B + [1]*B + ... (VB,)."""
    return torch.arange(views, device=device).repeat_interleave(batch_size)


# ----------------------------------------------------------------------------------------------- SimCLR
def simclr_loss(z_a: Tensor, z_b: Tensor, temperature: float) -> Tensor:
    """NT-Xent (Chen et al. 2020), averaged over the 2B anchors.

    With u = normalise(cat(z_a, z_b)) (2B, D), s_ij = u_i . u_j / tau and p(i) the other view of i:
        L = -(1 / 2B) sum_i log( exp(s_{i p(i)}) / sum_{j != i} exp(s_ij) ).

    Parameters
    ----------
    z_a, z_b : Tensor
        (B, D) projections of the two views of the same B images, row b of each from image b.
    temperature : float
        tau; SimCLR's default (0.2 here, solo-learn's CIFAR value) is in its MethodSpec.

    Returns
    -------
    Tensor
        The scalar loss.

    Examples
    --------
    >>> import torch
    >>> generator = torch.Generator().manual_seed(0)
    >>> z_a = torch.randn(8, 4, generator=generator)
    >>> z_b = z_a + 0.1 * torch.randn(8, 4, generator=generator)
    >>> round(simclr_loss(z_a, z_b, temperature=0.2).item(), 4)
    0.7607
    """
    _check_pair(z_a, z_b)
    batch = z_a.shape[0]
    u = F.normalize(torch.cat([z_a, z_b]), dim=1)
    logits = u @ u.T / temperature
    logits = logits.masked_fill(torch.eye(2 * batch, dtype=torch.bool, device=u.device), float("-inf"))
    positives = torch.cat([torch.arange(batch, 2 * batch), torch.arange(0, batch)]).to(u.device)
    return F.cross_entropy(logits, positives)


def simclr_graph_loss(z: Tensor, graph: Tensor, temperature: float) -> Tensor:
    """SimCLR in graph form: L = -(1 / sum G) sum_ij G_ij log softmax_{j != i}(cos(z_i, z_j) / tau).

    z: (N, D), graph: (N, N). For the two-view pair graph this is :func:`simclr_loss`.
    """
    _check_graph(z, graph)
    u = F.normalize(z, dim=1)
    logits = u @ u.T / temperature
    logits = logits.masked_fill(torch.eye(z.shape[0], dtype=torch.bool, device=z.device), float("-inf"))
    log_prob = torch.log_softmax(logits, dim=1)
    weighted = torch.where(graph > 0, graph * log_prob, torch.zeros_like(log_prob))
    return -weighted.sum() / graph.sum()


# ----------------------------------------------------------------------------------------------- VICReg
def vicreg_variance(z: Tensor, eps: float = 1e-4) -> Tensor:
    """Hinge on the per-dimension std: (1/D) sum_k max(0, 1 - sqrt(Var(z)_k + eps)), unbiased Var. z: (B, D)."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1.0 - std).mean()


def vicreg_covariance(z: Tensor) -> Tensor:
    """Off-diagonal covariance energy: (1/D) sum_{k != l} Cov(z)_kl^2, unbiased Cov. z: (B, D)."""
    batch, dim = z.shape
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / (batch - 1)
    off_diagonal = cov - torch.diag(torch.diagonal(cov))
    return off_diagonal.pow(2).sum() / dim


def vicreg_loss(
    z_a: Tensor,
    z_b: Tensor,
    invariance_weight: float,
    variance_weight: float,
    covariance_weight: float,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg (Bardes et al. 2022), as in the official implementation.

    L = lambda * (1/(B D)) sum_b ||z_a,b - z_b,b||^2
      + mu * (v(z_a) + v(z_b)) / 2
      + nu * (c(z_a) + c(z_b)),
    v = :func:`vicreg_variance`, c = :func:`vicreg_covariance`; the method's defaults (lambda = mu = 25, nu = 1)
    are declared once, in its MethodSpec (:mod:`ssl_bench.methods.vicreg`).

    Parameters
    ----------
    z_a, z_b : Tensor
        (B, D) projections of the two views.
    invariance_weight, variance_weight, covariance_weight : float
        lambda, mu and nu.
    eps : float
        Added to the variance under the square root of the hinge.

    Examples
    --------
    >>> import torch
    >>> generator = torch.Generator().manual_seed(0)
    >>> z_a = torch.randn(8, 4, generator=generator)
    >>> z_b = z_a + 0.1 * torch.randn(8, 4, generator=generator)
    >>> round(vicreg_loss(z_a, z_b, 25.0, 25.0, 1.0).item(), 4)
    5.1189
    """
    _check_pair(z_a, z_b)
    invariance = F.mse_loss(z_a, z_b)
    variance = (vicreg_variance(z_a, eps) + vicreg_variance(z_b, eps)) / 2
    covariance = vicreg_covariance(z_a) + vicreg_covariance(z_b)
    return invariance_weight * invariance + variance_weight * variance + covariance_weight * covariance


def vicreg_graph_loss(
    z: Tensor,
    graph: Tensor,
    view_index: Tensor | None,
    invariance_weight: float,
    variance_weight: float,
    covariance_weight: float,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg in graph form.

    Invariance is the Dirichlet energy of z on G, normalised per pair and dimension:
        inv = sum_ij G_ij ||z_i - z_j||^2 / (D sum_ij G_ij) = 2 Tr(z^T L z) / (D sum G),  L = diag(G 1) - G.
    Variance and covariance are averaged (variance) and summed (covariance) over the views named by
    ``view_index``, as :func:`vicreg_loss` does over its two branches, or taken over all rows when it is None.
    z: (N, D), graph: (N, N), view_index: (N,) or None.
    """
    _check_graph(z, graph)
    laplacian = torch.diag(graph.sum(dim=1)) - graph
    invariance = 2 * torch.trace(z.T @ laplacian @ z) / (z.shape[1] * graph.sum())
    groups = _view_groups(z, view_index)
    variance = torch.stack([vicreg_variance(g, eps) for g in groups]).mean()
    covariance = torch.stack([vicreg_covariance(g) for g in groups]).sum()
    return invariance_weight * invariance + variance_weight * variance + covariance_weight * covariance


# ------------------------------------------------------------------------------------------ BarlowTwins
def _batch_normalise(z: Tensor, eps: float = 1e-5) -> Tensor:
    """(z - mean) / sqrt(biased var + eps) per dimension, as BatchNorm1d(affine=False) in training mode."""
    return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + eps)


def _barlow_objective(cross_correlation: Tensor, off_diagonal_weight: float) -> Tensor:
    on_diagonal = (1.0 - torch.diagonal(cross_correlation)).pow(2).sum()
    off_diagonal = cross_correlation.pow(2).sum() - torch.diagonal(cross_correlation).pow(2).sum()
    return on_diagonal + off_diagonal_weight * off_diagonal


def barlow_twins_loss(z_a: Tensor, z_b: Tensor, off_diagonal_weight: float) -> Tensor:
    """BarlowTwins (Zbontar et al. 2021): C = bn(z_a)^T bn(z_b) / B,
    L = sum_k (1 - C_kk)^2 + lambda sum_{k != l} C_kl^2 (the method's lambda, 5e-3, is in its MethodSpec).

    Parameters
    ----------
    z_a, z_b : Tensor
        (B, D) projections of the two views; each is batch-normalised per feature.
    off_diagonal_weight : float
        lambda.

    Examples
    --------
    >>> import torch
    >>> generator = torch.Generator().manual_seed(0)
    >>> z_a = torch.randn(8, 4, generator=generator)
    >>> z_b = z_a + 0.1 * torch.randn(8, 4, generator=generator)
    >>> round(barlow_twins_loss(z_a, z_b, 5e-3).item(), 4)
    0.0125
    """
    _check_pair(z_a, z_b)
    cross_correlation = _batch_normalise(z_a).T @ _batch_normalise(z_b) / z_a.shape[0]
    return _barlow_objective(cross_correlation, off_diagonal_weight)


def barlow_twins_graph_loss(
    z: Tensor, graph: Tensor, view_index: Tensor | None, off_diagonal_weight: float
) -> Tensor:
    """BarlowTwins in graph form: C = sum_{i<j} G_ij n_i n_j^T / sum_{i<j} G_ij over the related pairs,
    n = z batch-normalised per view (``view_index``) or over all rows; then the BarlowTwins objective of C.
    z: (N, D), graph: (N, N).
    """
    _check_graph(z, graph)
    normalised = torch.empty_like(z)
    if view_index is None:
        normalised = _batch_normalise(z)
    else:
        for view in torch.unique(view_index):
            rows = view_index == view
            normalised[rows] = _batch_normalise(z[rows])
    upper = torch.triu(graph, diagonal=1)
    cross_correlation = normalised.T @ upper @ normalised / upper.sum()
    return _barlow_objective(cross_correlation, off_diagonal_weight)


# -------------------------------------------------------------------------------------------- helpers
def _check_pair(z_a: Tensor, z_b: Tensor) -> None:
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(f"expected two (B, D) embeddings of one shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    if z_a.shape[0] < 2:
        raise ValueError("SSL losses need a batch of at least 2 images")


def _check_graph(z: Tensor, graph: Tensor) -> None:
    if z.ndim != 2 or graph.shape != (z.shape[0], z.shape[0]):
        raise ValueError(f"expected z (N, D) and graph (N, N), got {tuple(z.shape)} and {tuple(graph.shape)}")


def _view_groups(z: Tensor, view_index: Tensor | None) -> list[Tensor]:
    if view_index is None:
        return [z]
    return [z[view_index == view] for view in torch.unique(view_index)]
