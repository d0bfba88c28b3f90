"""MoCo v3: the loss against a loop transcription of the paper's Algorithm 1; the momentum key encoder."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_bench.methods import METHODS, Progress, build_method
from ssl_bench.methods.mocov3 import mocov3_loss
from ssl_bench.models.backbones import build_backbone


def _tensors(seed: int, batch: int = 6, dim: int = 5) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, dim, generator=g, dtype=torch.float64) for _ in range(4)]


def _ctr_by_loops(q, k, tau):
    """Algorithm 1: logits = q k^T / tau on normalised rows, labels = arange, CE * 2 tau."""
    n, d = q.shape
    qn = [[float(q[i, c]) / math.sqrt(float((q[i] ** 2).sum())) for c in range(d)] for i in range(n)]
    kn = [[float(k[j, c]) / math.sqrt(float((k[j] ** 2).sum())) for c in range(d)] for j in range(n)]
    total = 0.0
    for i in range(n):
        logits = [sum(qn[i][c] * kn[j][c] for c in range(d)) / tau for j in range(n)]
        total += -(logits[i] - math.log(sum(math.exp(v) for v in logits)))
    return 2 * tau * total / n


@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_loss_equals_a_transcription_of_algorithm_1(tau):
    q_a, q_b, k_a, k_b = _tensors(0)
    expected = _ctr_by_loops(q_a, k_b, tau) + _ctr_by_loops(q_b, k_a, tau)
    assert float(mocov3_loss(q_a, q_b, k_a, k_b, temperature=tau)) == pytest.approx(expected, rel=1e-12)


def test_keys_get_no_gradient_and_matching_pairs_lower_the_loss():
    q_a, q_b, k_a, k_b = (t.requires_grad_() for t in _tensors(1))
    loss = mocov3_loss(q_a, q_b, k_a, k_b, temperature=0.2)
    loss.backward()
    assert k_a.grad is None and k_b.grad is None and q_a.grad is not None
    aligned = mocov3_loss(k_b.detach(), k_a.detach(), k_a.detach(), k_b.detach(), temperature=0.2)
    assert float(aligned) < float(loss.detach())


def test_model_has_a_predictor_and_a_momentum_key_encoder():
    torch.manual_seed(0)
    backbone, dim = build_backbone("mlp", 1, 6)
    model = build_method("mocov3", backbone, dim, projector_dims=(16, 8), predictor_hidden=(16,))
    assert model.target is not None and model.predictor is not None
    assert isinstance(model.projector[-1], torch.nn.BatchNorm1d)
    assert METHODS.get("mocov3").loss_params == {"temperature": 0.2}
    schedule = METHODS.get("mocov3").momentum
    assert (schedule.base, schedule.final) == (0.99, 1.0)
    views = torch.randn(2, 8, 1, 6, 6).unbind(0)
    before = [p.detach().clone() for p in model.target.parameters()]
    model(list(views))["loss"].backward()
    assert all(p.grad is None for p in model.target.parameters())
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)
    model.after_optimizer_step(Progress(1, 10, 10))
    tau = schedule(1, 10)
    online = torch.nn.Sequential(model.backbone, model.projector)
    for new, old, theta in zip(model.target.parameters(), before, online.parameters()):
        torch.testing.assert_close(new, tau * old + (1 - tau) * theta.detach(), rtol=0, atol=1e-6)
