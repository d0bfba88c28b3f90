"""Train a linear map Z = X W with a real SSL graph loss over minibatches of a relation graph's edges.

The practical experiments of ``scripts/reproduce_paper.py`` compare the three losses on the same fixed features X
(N, F) and relation graph G (N, N): each step samples B edges (i, j) of G uniformly, takes the 2B rows
[i_1..i_B, j_1..j_B], restricts G to them (so every related pair inside the batch counts, as in the graph form of
the loss, not only the sampled ones) and minimises the loss of :mod:`ssl_bench.methods.losses` -- the functions
used for training -- by Adam with a cosine learning-rate decay:

- ``simclr``: ``simclr_graph_loss(Z_b, G_b, temperature)``;
- ``vicreg``: ``vicreg_graph_loss(Z_b, G_b, view_index, invariance_weight, variance_weight, covariance_weight)``;
- ``barlowtwins``: ``barlow_twins_graph_loss(Z_b, G_b, view_index, off_diagonal_weight)``;

with ``view_index`` = [0]*B + [1]*B (per-branch variance/covariance and batch normalisation, as the two-view
losses). Defaults are the methods' published settings (:mod:`ssl_bench.methods`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.data.graph import validate_graph
from ssl_bench.methods.losses import barlow_twins_graph_loss, simclr_graph_loss, vicreg_graph_loss, view_index_of

LOSSES = ("simclr", "vicreg", "barlowtwins")


def loss_defaults(name: str) -> dict[str, float]:
    """The loss parameters the method ``name`` trains with (its MethodSpec's, declared once there)."""
    from ssl_bench.methods import METHODS

    return dict(METHODS.get(name).loss_params)


def batch_loss(name: str, z: Tensor, graph: Tensor, params: dict[str, float]) -> Tensor:
    """The training loss ``name`` of embeddings z (2B, K) whose rows b and B + b are a sampled related pair."""
    if name == "simclr":
        return simclr_graph_loss(z, graph, **params)
    views = view_index_of(z.shape[0] // 2, device=z.device)
    if name == "vicreg":
        return vicreg_graph_loss(z, graph, views, **params)
    return barlow_twins_graph_loss(z, graph, views, **params)


def train_linear_map(
    features: np.ndarray,
    graph: sp.spmatrix,
    loss: str,
    n_components: int,
    loss_params: dict[str, Any] | None = None,
    steps: int = 1500,
    batch_size: int = 256,
    lr: float = 3e-3,
    seed: int = 0,
) -> np.ndarray:
    """W (F, K) minimising ``loss`` of Z = X W over ``steps`` minibatches of ``batch_size`` edges of ``graph``.

    ``features`` (N, F) are used as given (standardise them first); W starts from N(0, 1/F) entries (seeded).
    """
    if loss not in LOSSES:
        raise UserError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)}")
    params = {**loss_defaults(loss), **(loss_params or {})}
    g = validate_graph(graph, n=features.shape[0])
    upper = sp.triu(g, k=1).tocoo()
    if upper.nnz == 0:
        raise UserError("the relation graph has no edges to sample")
    edges = np.stack([upper.row, upper.col], axis=1)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    weights = (torch.randn(x.shape[1], n_components, generator=generator) / np.sqrt(x.shape[1])).requires_grad_(True)
    optimiser = torch.optim.Adam([weights], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    for _ in range(steps):
        chosen = edges[rng.integers(0, edges.shape[0], size=batch_size)]
        flip = rng.random(batch_size) < 0.5  # either end of an edge may be the first view
        chosen[flip] = chosen[flip, ::-1]
        rows = np.concatenate([chosen[:, 0], chosen[:, 1]])
        batch_graph = torch.as_tensor(g[rows][:, rows].toarray(), dtype=torch.float32)
        optimiser.zero_grad()
        batch_loss(loss, x[rows] @ weights, batch_graph, params).backward()
        optimiser.step()
        schedule.step()
    return weights.detach().numpy().astype(np.float64)
