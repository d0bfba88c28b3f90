"""NNCLR's nearest neighbours and support set against lightly 1.6.0; its loss against a hand-written loop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from lightly.models.modules import NNMemoryBankModule

from ssl_bench.methods import METHODS, build_method
from ssl_bench.methods.nnclr import nearest_neighbours, nnclr_loss
from ssl_bench.models.backbones import build_backbone


def _randn(*shape: int, seed: int = 0, grad: bool = False) -> torch.Tensor:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x.requires_grad_(grad)


def test_nearest_neighbours_equal_lightlys_memory_bank():
    z, bank = _randn(6, 5, seed=9), F.normalize(_randn(20, 5, seed=10), dim=1)
    reference = NNMemoryBankModule(size=(20, 5))
    reference.bank = bank.clone()
    torch.testing.assert_close(nearest_neighbours(z, bank), reference(z, update=False))


def test_nnclr_loss_by_hand():
    nn_a, nn_b, p_a, p_b = (_randn(5, 4, seed=s) for s in range(11, 15))

    def cross_entropy(n, p):
        total = 0.0
        for i in range(5):
            logits = [float(F.normalize(n[i], dim=0) @ F.normalize(p[j], dim=0)) / 0.2 for j in range(5)]
            total += -(logits[i] - torch.logsumexp(torch.tensor(logits, dtype=torch.float64), 0).item())
        return total / 5

    expected = (cross_entropy(nn_a, p_b) + cross_entropy(nn_b, p_a)) / 2
    assert nnclr_loss(nn_a, nn_b, p_a, p_b, 0.2).item() == pytest.approx(expected)


def test_nnclr_support_set_is_a_fifo_like_lightlys():
    torch.manual_seed(0)
    model = build_method("nnclr", *build_backbone("convnet", 1, 8), projector_dims=(16, 8), predictor_hidden=(16,),
                         queue_size=8)
    reference = NNMemoryBankModule(size=(8, 8))
    reference.bank = model.support.clone().double()
    for step in range(5):
        batch = F.normalize(_randn(4, 8, seed=20 + step), dim=1)
        model.enqueue(batch.float())
        reference(batch, update=True)
        torch.testing.assert_close(model.support, reference.bank.float())
    assert int(model.support_position) == (5 * 4) % 8


def test_nnclr_defaults_are_solo_learns_cifar_recipe():
    """solo-learn scripts/pretrain/cifar/nnclr.yaml and solo/methods/nnclr.py, transcribed: a 3-layer projector
    2048-2048-256 ending in BatchNorm, predictor 4096, BYOL's asymmetric augmentations."""
    model = build_method("nnclr", *build_backbone("convnet", 1, 8))
    linears = [layer.out_features for layer in model.projector if isinstance(layer, torch.nn.Linear)]
    assert linears == [2048, 2048, 256] and isinstance(model.projector[-1], torch.nn.BatchNorm1d)
    assert [layer.out_features for layer in model.predictor if isinstance(layer, torch.nn.Linear)] == [4096, 256]
    assert METHODS.get("nnclr").augment == "byol" and model.support.shape == (65536, 256)
