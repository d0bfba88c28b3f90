"""SwAV's Sinkhorn and loss against lightly 1.6.0 and a hand-written loop; prototypes normalised and frozen."""

from __future__ import annotations

import pytest
import torch
from lightly.loss import SwaVLoss
from lightly.loss.swav_loss import sinkhorn as lightly_sinkhorn

from ssl_bench.methods import Progress, build_method
from ssl_bench.methods.swav import sinkhorn, swav_loss
from ssl_bench.models.backbones import build_backbone


def _randn(*shape: int, seed: int = 0, grad: bool = False) -> torch.Tensor:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x.requires_grad_(grad)


def test_sinkhorn_equals_lightly_and_a_hand_loop():
    scores = _randn(10, 7, seed=7) * 0.3
    ours = sinkhorn(scores, 0.05, 3)
    torch.testing.assert_close(ours, lightly_sinkhorn(scores, iterations=3, epsilon=0.05))
    q = [[float(v) for v in row] for row in torch.exp(scores / 0.05).T]  # (K, B) as plain lists
    mass = sum(sum(row) for row in q)
    q = [[v / mass for v in row] for row in q]
    for _ in range(3):
        q = [[v / (sum(row) * 7) for v in row] for row in q]
        columns = [sum(q[k][b] for k in range(7)) for b in range(10)]
        q = [[q[k][b] / (columns[b] * 10) for b in range(10)] for k in range(7)]
    by_hand = torch.tensor([[q[k][b] * 10 for k in range(7)] for b in range(10)], dtype=torch.float64)
    torch.testing.assert_close(ours, by_hand)
    torch.testing.assert_close(ours.sum(dim=1), torch.ones(10, dtype=torch.float64))


@pytest.mark.parametrize("n_local", [0, 3])
def test_swav_loss_equals_lightly(n_local):
    scores = (_randn(2 + n_local, 12, 9, seed=8) * 0.3).requires_grad_()
    theirs = SwaVLoss(temperature=0.1, sinkhorn_iterations=3, sinkhorn_epsilon=0.05)(list(scores[:2]), list(scores[2:]))
    ours = swav_loss(scores, 2, 0.1, 0.05, 3)
    torch.testing.assert_close(ours, theirs.squeeze())
    torch.testing.assert_close(torch.autograd.grad(ours, scores)[0], torch.autograd.grad(theirs.squeeze(), scores)[0])


def test_swav_prototypes_return_to_the_sphere_and_freeze():
    torch.manual_seed(0)
    model = build_method("swav", *build_backbone("convnet", 1, 8), projector_dims=(16, 8), prototypes=5)
    model.before_step(Progress(0, 10, 5))
    torch.testing.assert_close(model.prototypes.weight.norm(dim=1), torch.ones(5))
    model([torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)])["loss"].backward()
    model.before_optimizer_step(Progress(9, 20, 5))  # epoch 1.8 < 2 frozen epochs
    assert model.prototypes.weight.grad is None
