"""BYOL: the loss against a transcription of the paper's equation and lightly's loss; the EMA target step by step
against a hand-written update and lightly's schedule and update."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.utils import update_momentum
from lightly.utils.scheduler import cosine_schedule

from ssl_bench.methods import METHODS, Progress, build_method
from ssl_bench.methods.byol import byol_loss
from ssl_bench.models.backbones import build_backbone


def _tensors(seed: int, batch: int = 6, dim: int = 5) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, dim, generator=g, dtype=torch.float64) for _ in range(4)]


def test_loss_equals_the_papers_normalised_squared_error():
    p_a, p_b, t_a, t_b = _tensors(0)

    def regression(p, t):  # ||p/|p| - t/|t|||^2 per row, by loops
        rows = []
        for b in range(p.shape[0]):
            pn, tn = p[b] / math.sqrt(float((p[b] ** 2).sum())), t[b] / math.sqrt(float((t[b] ** 2).sum()))
            rows.append(sum(float(pn[k] - tn[k]) ** 2 for k in range(p.shape[1])))
        return sum(rows) / len(rows)

    expected = regression(p_a, t_b) + regression(p_b, t_a)
    assert float(byol_loss(p_a, p_b, t_a, t_b)) == pytest.approx(expected, rel=1e-12)


def test_loss_equals_lightly_up_to_its_constant_and_sends_no_gradient_to_the_target():
    p_a, p_b, t_a, t_b = (t.requires_grad_() for t in _tensors(1))
    lightly = NegativeCosineSimilarity()  # -cos: BYOL's loss is 2 + 2 * lightly's, per branch
    expected = (2 + 2 * lightly(p_a, t_b)) + (2 + 2 * lightly(p_b, t_a))
    ours = byol_loss(p_a, p_b, t_a, t_b)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)
    ours.backward()
    assert t_a.grad is None and t_b.grad is None and p_a.grad is not None


def test_momentum_schedule_is_the_papers_cosine_and_lightlys():
    schedule = METHODS.get("byol").momentum
    total = 50
    assert schedule(0, total) == pytest.approx(0.99) and schedule(total, total) == pytest.approx(1.0)
    for step in range(total + 1):
        paper = 1 - (1 - 0.99) * (math.cos(math.pi * step / total) + 1) / 2  # Grill et al., sec. 3.2
        assert schedule(step, total) == pytest.approx(paper, abs=1e-15)
        # lightly's cosine_schedule reaches its end at step max_steps - 1
        assert schedule(step, total) == pytest.approx(cosine_schedule(step, total + 1, 0.99, 1.0), abs=1e-12)


def test_target_update_step_by_step_equals_a_hand_written_ema_and_lightlys():
    torch.manual_seed(0)
    backbone, dim = build_backbone("mlp", 1, 6)
    model = build_method("byol", backbone, dim, projector_dims=(16, 8), predictor_hidden=(16,)).double()
    online = torch.nn.Sequential(model.backbone, model.projector)
    by_hand = [p.detach().clone() for p in model.target.parameters()]
    mirror = copy.deepcopy(model.target)
    assert all(torch.equal(a, b) for a, b in zip(model.target.parameters(), online.parameters()))
    total = 5
    for step in range(1, total + 1):
        with torch.no_grad():  # the online network moves (as an optimiser step would)
            for p in online.parameters():
                p.add_(torch.randn_like(p))
        model.after_optimizer_step(Progress(step, total, total))
        tau = 1 - (1 - 0.99) * (math.cos(math.pi * step / total) + 1) / 2
        by_hand = [tau * xi + (1 - tau) * theta.detach() for xi, theta in zip(by_hand, online.parameters())]
        update_momentum(online, mirror, m=cosine_schedule(step, total + 1, 0.99, 1.0))
        for ours, hand, lightly in zip(model.target.parameters(), by_hand, mirror.parameters()):
            torch.testing.assert_close(ours, hand, rtol=0, atol=1e-12)
            torch.testing.assert_close(ours, lightly, rtol=0, atol=1e-12)
    assert not any(p.requires_grad for p in model.target.parameters())


def test_the_target_is_not_trained_by_the_optimiser():
    torch.manual_seed(0)
    backbone, dim = build_backbone("mlp", 1, 6)
    model = build_method("byol", backbone, dim, projector_dims=(16, 8), predictor_hidden=(16,))
    views = torch.randn(2, 8, 1, 6, 6).unbind(0)
    model(list(views))["loss"].backward()
    assert all(p.grad is None for p in model.target.parameters())
    assert all(p.grad is not None for p in model.predictor.parameters())
