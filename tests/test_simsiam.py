"""SimSiam: the loss against a transcription of the paper's equation and lightly's loss; the stop-gradient; the
projector's output BatchNorm."""

from __future__ import annotations

import math

import pytest
import torch
from lightly.loss import NegativeCosineSimilarity

from ssl_bench.methods import METHODS, build_method
from ssl_bench.methods.simsiam import simsiam_loss
from ssl_bench.models.backbones import build_backbone


def _tensors(seed: int, batch: int = 6, dim: int = 5) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, dim, generator=g, dtype=torch.float64) for _ in range(4)]


def test_loss_equals_the_papers_symmetrised_negative_cosine():
    p_a, p_b, z_a, z_b = _tensors(0)

    def distance(p, z):  # D(p, z) = -mean_b p_b . z_b / (|p_b| |z_b|), by loops
        values = [-sum(float(p[b, k] * z[b, k]) for k in range(p.shape[1]))
                  / math.sqrt(float((p[b] ** 2).sum()) * float((z[b] ** 2).sum())) for b in range(p.shape[0])]
        return sum(values) / len(values)

    expected = distance(p_a, z_b) / 2 + distance(p_b, z_a) / 2
    assert float(simsiam_loss(p_a, p_b, z_a, z_b)) == pytest.approx(expected, rel=1e-12)


def test_loss_equals_lightlys_and_stops_the_gradient():
    p_a, p_b, z_a, z_b = (t.requires_grad_() for t in _tensors(1))
    lightly = NegativeCosineSimilarity()
    expected = 0.5 * (lightly(p_a, z_b.detach()) + lightly(p_b, z_a.detach()))
    ours = simsiam_loss(p_a, p_b, z_a, z_b)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)
    ours.backward()
    assert z_a.grad is None and z_b.grad is None


def test_model_has_a_predictor_no_target_and_a_batchnorm_at_the_end_of_the_projector():
    torch.manual_seed(0)
    backbone, dim = build_backbone("mlp", 1, 6)
    model = build_method("simsiam", backbone, dim, projector_dims=(16, 16, 8), predictor_hidden=(4,))
    assert model.target is None and model.predictor is not None
    last = model.projector[-1]
    assert isinstance(last, torch.nn.BatchNorm1d) and not last.affine
    views = torch.randn(2, 8, 1, 6, 6).unbind(0)
    loss = model(list(views))["loss"]
    loss.backward()
    assert -1.0 <= float(loss.detach()) <= 1.0  # a (negative) mean cosine
    assert all(p.grad is not None for p in model.backbone.parameters())
    assert METHODS.get("simsiam").optimizer["name"] == "sgd"


def test_head_widths_are_overridable_and_checked():
    backbone, dim = build_backbone("mlp", 1, 6)
    model = build_method("simsiam", backbone, dim, projector_dims=[32, 8], predictor_hidden=[4])
    assert model.predictor[0].out_features == 4 and model.predictor[-1].out_features == 8
    with pytest.raises(Exception, match="unknown simsiam parameter"):
        build_method("simsiam", backbone, dim, temperature=0.1)
