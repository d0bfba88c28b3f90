"""MMCR's loss against lightly 1.6.0 and a hand transcription, gradients included."""

from __future__ import annotations

import pytest
import torch
from lightly.loss import MMCRLoss

from ssl_bench.methods.mmcr import mmcr_loss


def _leaf(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).requires_grad_()


@pytest.mark.parametrize("local_weight", [0.0, 5e-3, 0.5])
def test_mmcr_equals_lightly_with_its_gradient(local_weight):
    z = _leaf(16, 4, 8)
    centroid, local = mmcr_loss(z, local_weight)
    ours = centroid + local
    (ours_grad,) = torch.autograd.grad(ours, z)
    unit = torch.nn.functional.normalize(z, dim=-1)  # lightly's loss takes the normalised projections
    theirs = MMCRLoss(lmda=local_weight)(unit[:, :2], unit[:, 2:])
    (theirs_grad,) = torch.autograd.grad(theirs, z)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(ours_grad, theirs_grad)


def test_mmcr_centroid_term_is_minus_the_nuclear_norm_of_the_view_means():
    z = _leaf(6, 3, 5).detach()
    unit = z / z.norm(dim=-1, keepdim=True)
    centroids = unit.sum(dim=1) / 3
    nuclear = sum(torch.linalg.svd(centroids)[1])  # transcription: the sum of singular values
    assert mmcr_loss(z, 0.0)[0].item() == pytest.approx(-nuclear.item())
