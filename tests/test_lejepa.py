"""LeJEPA's loss and SIGReg against lightly 1.6.0 and a hand transcription, gradients included."""

from __future__ import annotations

import math

import pytest
import torch
from lightly.loss.lejepa_loss import LeJEPALoss, SIGReg

from ssl_bench.methods.lejepa import lejepa_loss, random_directions, sigreg


def _leaf(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).requires_grad_()


def test_sigreg_equals_lightly_on_the_same_directions():
    z = _leaf(32, 6)
    torch.manual_seed(3)
    theirs = SIGReg(num_vectors=64)(z)
    torch.manual_seed(3)
    directions = torch.randn(6, 64, dtype=torch.float64)
    directions = directions / directions.norm(dim=0)
    ours = sigreg(z, directions)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, z)[0], torch.autograd.grad(theirs, z)[0])


def test_sigreg_by_hand_on_one_direction():
    """Transcription: N * integral over [-3, 3] of |ecf(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt, trapezoidal, 17 knots."""
    z = _leaf(20, 3).detach()
    a = torch.tensor([[1.0], [0.0], [0.0]], dtype=torch.float64)
    x = z[:, 0]
    total = 0.0
    for j in range(17):
        t = 3.0 * j / 16
        real = torch.cos(t * x).mean() - math.exp(-t * t / 2)
        imag = torch.sin(t * x).mean()
        weight = (3.0 / 16) * (1 if j in (0, 16) else 2) * math.exp(-t * t / 2)
        total += weight * (real**2 + imag**2)
    assert sigreg(z, a).item() == pytest.approx(20 * total.item(), rel=1e-10)


def test_lejepa_equals_lightly_with_local_views():
    global_z, local_z = _leaf(2, 16, 8, seed=1), _leaf(3, 16, 8, seed=2)
    torch.manual_seed(5)
    theirs = LeJEPALoss(lambda_param=0.05, sigreg_num_vectors=32)(local_proj=local_z, global_proj=global_z)
    torch.manual_seed(5)
    directions = torch.randn(8, 32, dtype=torch.float64)
    ours = sum(lejepa_loss(global_z, local_z, directions / directions.norm(dim=0), 0.05))
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, (global_z, local_z)),
                               torch.autograd.grad(theirs, (global_z, local_z)))


def test_lejepa_directions_depend_on_the_step_only():
    first = random_directions(8, 16, 7, torch.device("cpu"))
    torch.testing.assert_close(first, random_directions(8, 16, 7, torch.device("cpu")))
    assert not torch.allclose(first, random_directions(8, 16, 8, torch.device("cpu")))
    torch.testing.assert_close(first.norm(dim=0), torch.ones(16))
