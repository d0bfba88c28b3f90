"""The losses against direct, loop-by-loop transcriptions of the papers' equations, values and gradients."""

from __future__ import annotations

import pytest
import torch

from ssl_bench.methods.losses import (
    barlow_twins_graph_loss,
    barlow_twins_loss,
    pair_graph,
    simclr_graph_loss,
    simclr_loss,
    vicreg_graph_loss,
    vicreg_loss,
    view_index_of,
)

B, D = 5, 4


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return (torch.randn(B, D, generator=g, dtype=torch.float64, requires_grad=True),
            torch.randn(B, D, generator=g, dtype=torch.float64, requires_grad=True))


def simclr_by_loops(z_a, z_b, tau):
    z = list(z_a) + list(z_b)
    n = len(z)
    cos = [[torch.dot(z[i], z[j]) / (z[i].norm() * z[j].norm()) for j in range(n)] for i in range(n)]
    total = 0.0
    for i in range(n):
        positive = (i + B) % n
        denominator = sum(torch.exp(cos[i][j] / tau) for j in range(n) if j != i)
        total = total - torch.log(torch.exp(cos[i][positive] / tau) / denominator)
    return total / n


def _var(z, k, unbiased=True):
    mean = sum(z[b, k] for b in range(z.shape[0])) / z.shape[0]
    return sum((z[b, k] - mean) ** 2 for b in range(z.shape[0])) / (z.shape[0] - (1 if unbiased else 0))


def _cov(z, k, j):
    n = z.shape[0]
    mk = sum(z[b, k] for b in range(n)) / n
    mj = sum(z[b, j] for b in range(n)) / n
    return sum((z[b, k] - mk) * (z[b, j] - mj) for b in range(n)) / (n - 1)


def vicreg_by_loops(z_a, z_b, lam, mu, nu, eps=1e-4):
    invariance = sum((z_a[b, k] - z_b[b, k]) ** 2 for b in range(B) for k in range(D)) / (B * D)
    variance = 0.0
    covariance = 0.0
    for z in (z_a, z_b):
        variance = variance + sum(torch.relu(1 - torch.sqrt(_var(z, k) + eps)) for k in range(D)) / D / 2
        covariance = covariance + sum(_cov(z, k, j) ** 2 for k in range(D) for j in range(D) if k != j) / D
    return lam * invariance + mu * variance + nu * covariance


def barlow_by_loops(z_a, z_b, lam, eps=1e-5):
    def bn(z, b, k):
        mean = sum(z[i, k] for i in range(B)) / B
        return (z[b, k] - mean) / torch.sqrt(_var(z, k, unbiased=False) + eps)

    c = [[sum(bn(z_a, b, k) * bn(z_b, b, j) for b in range(B)) / B for j in range(D)] for k in range(D)]
    return sum((1 - c[k][k]) ** 2 for k in range(D)) + lam * sum(
        c[k][j] ** 2 for k in range(D) for j in range(D) if k != j
    )


CASES = [
    (lambda a, b: simclr_loss(a, b, temperature=0.3), lambda a, b: simclr_by_loops(a, b, 0.3)),
    (lambda a, b: vicreg_loss(a, b, 25.0, 25.0, 1.0), lambda a, b: vicreg_by_loops(a, b, 25.0, 25.0, 1.0)),
    (lambda a, b: vicreg_loss(a * 0.1, b * 0.1, 2.0, 3.0, 5.0),
     lambda a, b: vicreg_by_loops(a * 0.1, b * 0.1, 2.0, 3.0, 5.0)),
    (lambda a, b: barlow_twins_loss(a, b, 5e-3), lambda a, b: barlow_by_loops(a, b, 5e-3)),
]


@pytest.mark.parametrize("loss, reference", CASES, ids=["simclr", "vicreg", "vicreg-hinge-active", "barlowtwins"])
def test_loss_value_and_gradient_match_loop_transcription(loss, reference):
    z_a, z_b = _pair()
    ours = loss(z_a, z_b)
    grads = torch.autograd.grad(ours, (z_a, z_b))
    theirs = reference(z_a, z_b)
    reference_grads = torch.autograd.grad(theirs, (z_a, z_b))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-10)
    for g, r in zip(grads, reference_grads):
        torch.testing.assert_close(g, r, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("loss", [c[0] for c in CASES], ids=["simclr", "vicreg", "vicreg-hinge-active", "barlowtwins"])
def test_gradient_matches_finite_differences(loss):
    z_a, z_b = _pair()
    assert torch.autograd.gradcheck(loss, (z_a, z_b), eps=1e-6, atol=1e-5)


def test_vicreg_hinge_is_active_in_the_scaled_case():
    """Guards the case above: with z scaled by 0.1 the std is below 1, so the variance term contributes."""
    z_a, z_b = _pair()
    with_variance = vicreg_loss(z_a * 0.1, z_b * 0.1, 0.0, 1.0, 0.0)
    assert with_variance.item() > 0.5


@pytest.mark.parametrize("views", [2])
def test_graph_forms_equal_two_view_forms_on_the_pair_graph(views):
    z_a, z_b = _pair()
    z = torch.cat([z_a, z_b])
    graph = pair_graph(B, views, device="cpu").double()
    index = view_index_of(B, views)
    torch.testing.assert_close(simclr_graph_loss(z, graph, 0.3), simclr_loss(z_a, z_b, 0.3))
    torch.testing.assert_close(vicreg_graph_loss(z, graph, index, 25.0, 25.0, 1.0), vicreg_loss(z_a, z_b, 25.0, 25.0, 1.0))
    torch.testing.assert_close(barlow_twins_graph_loss(z, graph, index, 5e-3), barlow_twins_loss(z_a, z_b, 5e-3))


def test_vicreg_graph_invariance_is_the_dirichlet_energy():
    """inv = sum_ij G_ij ||z_i - z_j||^2 / (D sum G), with a weighted, non-pair graph, by a double loop."""
    g = torch.Generator().manual_seed(3)
    n, d = 7, 3
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    weights = torch.rand(n, n, generator=g, dtype=torch.float64)
    graph = (weights + weights.T).fill_diagonal_(0)
    energy = sum(graph[i, j] * ((z[i] - z[j]) ** 2).sum() for i in range(n) for j in range(n))
    expected = energy / (d * graph.sum())
    ours = vicreg_graph_loss(z, graph, None, invariance_weight=1.0, variance_weight=0.0, covariance_weight=0.0)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-12)


def test_simclr_graph_loss_with_several_positives_by_loops():
    g = torch.Generator().manual_seed(4)
    n_images, views = 3, 3
    n = n_images * views
    z = torch.randn(n, 4, generator=g, dtype=torch.float64)
    graph = pair_graph(n_images, views).double()
    u = torch.nn.functional.normalize(z, dim=1)
    total, pairs = 0.0, 0
    for i in range(n):
        denominator = sum(torch.exp(u[i] @ u[j] / 0.5) for j in range(n) if j != i)
        for j in range(n):
            if graph[i, j] > 0:
                total -= torch.log(torch.exp(u[i] @ u[j] / 0.5) / denominator)
                pairs += 1
    assert pairs == n * (views - 1)
    assert simclr_graph_loss(z, graph, 0.5).item() == pytest.approx((total / pairs).item(), rel=1e-12)


def test_pair_graph_structure():
    graph = pair_graph(3, 2)
    expected = torch.zeros(6, 6)
    for i in range(3):
        expected[i, i + 3] = expected[i + 3, i] = 1
    torch.testing.assert_close(graph, expected)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        simclr_loss(torch.randn(4, 3), torch.randn(5, 3), 0.1)
    with pytest.raises(ValueError, match=r"\(N, N\)"):
        vicreg_graph_loss(torch.randn(4, 3), torch.zeros(3, 3), None, 25.0, 25.0, 1.0)
