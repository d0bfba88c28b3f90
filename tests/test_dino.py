"""DINO's loss, centre and schedules against lightly 1.6.0 and a hand-written loop, gradients included."""

from __future__ import annotations

import pytest
import torch
from lightly.loss import DINOLoss

from ssl_bench.core.errors import UserError
from ssl_bench.methods import METHODS, Progress, build_method
from ssl_bench.methods.dino import dino_loss, teacher_temperature
from ssl_bench.models.backbones import build_backbone


def _randn(*shape: int, seed: int = 0, grad: bool = False) -> torch.Tensor:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x.requires_grad_(grad)


def test_dino_loss_equals_lightly_with_its_gradient():
    teacher, student = _randn(2, 8, 12, seed=1), _randn(5, 8, 12, seed=2, grad=True)
    center = _randn(12, seed=3)
    reference = DINOLoss(output_dim=12, teacher_temp=0.06, student_temp=0.1, center_momentum=0.9).double()
    reference.center.copy_(center.view(1, 1, 12))
    theirs = reference(list(teacher), list(student), teacher_temp=0.06)
    ours = dino_loss(teacher, student, center, 0.06, 0.1)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, student)[0], torch.autograd.grad(theirs, student)[0])


def test_dino_loss_by_hand_loop():
    teacher, student, center = _randn(2, 4, 6, seed=4), _randn(3, 4, 6, seed=5), _randn(6, seed=6)
    total, pairs = 0.0, 0
    for t in range(2):
        for s in range(3):
            if s == t:
                continue
            for b in range(4):
                q = torch.softmax((teacher[t, b] - center) / 0.04, dim=0)
                total += -(q * torch.log_softmax(student[s, b] / 0.1, dim=0)).sum().item()
            pairs += 1
    assert dino_loss(teacher, student, center, 0.04, 0.1).item() == pytest.approx(total / (pairs * 4))


def test_dino_teacher_temperature_schedule_is_lightlys_per_epoch():
    reference = DINOLoss(output_dim=4, warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_epochs=30)
    for epoch in (0, 1, 17, 29):
        assert teacher_temperature(epoch, 0.04, 0.07, 30) == pytest.approx(reference.teacher_temp_schedule[epoch].item())
    assert teacher_temperature(30, 0.04, 0.07, 30) == 0.07


def test_dino_model_updates_its_centre_from_the_teacher_and_freezes_prototypes_in_epoch_one():
    torch.manual_seed(0)
    model = build_method("dino", *build_backbone("convnet", 1, 8), projector_dims=(16, 8, 12))
    views = [torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8), torch.randn(4, 1, 4, 4)]
    model.before_step(Progress(0, 10, 5))
    model(views)["loss"].backward()
    with torch.no_grad():
        teacher_mean = model.target(torch.cat(views[:2])).mean(dim=0)  # the globals run as one batch
    torch.testing.assert_close(model.center, 0.1 * teacher_mean)  # 0.9 * 0 + 0.1 * batch mean
    assert model.projector.prototype_directions.grad is not None
    model.before_optimizer_step(Progress(4, 10, 5))  # still inside the first epoch
    assert model.projector.prototype_directions.grad is None
    model(views)["loss"].backward()
    model.before_optimizer_step(Progress(5, 10, 5))  # second epoch: the prototypes learn
    assert model.projector.prototype_directions.grad is not None


def test_dino_defaults_are_solo_learns_cifar_recipe():
    """solo-learn scripts/pretrain/cifar/dino.yaml and solo/methods/dino.py at 9187ea3, transcribed: teacher
    momentum 0.9995 -> 1, LARS lr 0.3 and weight decay 1e-6, a 2048-wide 3-layer head to a 256-d bottleneck and
    4096 prototypes whose norms are fixed (norm_last_layer True), frozen for the first epoch."""
    spec = METHODS.get("dino")
    assert (spec.momentum.base, spec.momentum.final, spec.momentum.linear) == (0.9995, 1.0, False)
    assert spec.optimizer == {"name": "lars", "lr": 0.3, "weight_decay": 1e-6}
    assert spec.projector_dims == (2048, 2048, 256, 4096) and spec.loss_params["freeze_prototype_epochs"] == 1
    head = build_method("dino", *build_backbone("convnet", 1, 8)).projector
    assert [name for name, _ in head.named_parameters() if "prototype" in name] == ["prototype_directions"]


def test_learnt_prototype_norms_equal_lightlys_head_with_norm_last_layer_off():
    """norm_last_layer 0 (solo-learn's ViT recipe): the weight-normalised prototypes' norms g_k are parameters,
    in the student and the EMA teacher alike, cancelled with the directions during the frozen first epoch."""
    from lightly.models.modules.heads import DINOProjectionHead

    torch.manual_seed(0)
    model = build_method("dino", *build_backbone("convnet", 1, 8), projector_dims=(16, 16, 8, 12), norm_last_layer=0)
    head = model.projector
    reference = DINOProjectionHead(head.mlp[0].in_features, 16, 8, 12, norm_last_layer=False)
    with torch.no_grad():
        for ours, theirs in zip([m for m in head.mlp if isinstance(m, torch.nn.Linear)],
                                [m for m in reference.layers if isinstance(m, torch.nn.Linear)]):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
        head.prototype_norms.copy_(torch.linspace(0.5, 2.0, 12))
        reference.last_layer.weight_v.copy_(head.prototype_directions)
        reference.last_layer.weight_g.copy_(head.prototype_norms.view(12, 1))
    assert reference.last_layer.weight_g.requires_grad and head.prototype_norms.requires_grad
    x = torch.randn(5, head.mlp[0].in_features)
    ours, theirs = head(x), reference(x)
    torch.testing.assert_close(ours, theirs)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    torch.testing.assert_close(head.prototype_norms.grad, reference.last_layer.weight_g.grad.view(12))
    torch.testing.assert_close(head.prototype_directions.grad, reference.last_layer.weight_v.grad)
    assert model.target[1].prototype_norms is not None and not model.target[1].prototype_norms.requires_grad
    model.before_optimizer_step(Progress(0, 10, 5))  # the first epoch: norms frozen with the directions
    assert head.prototype_norms.grad is None and head.prototype_directions.grad is None
    with torch.no_grad():
        head.prototype_norms.fill_(3.0)
    model.after_optimizer_step(Progress(1, 10, 5))  # the teacher's norms follow the student's by the EMA
    tau = model.spec.momentum(1, 10)
    torch.testing.assert_close(model.target[1].prototype_norms, torch.full((12,), tau + (1 - tau) * 3.0))
    with pytest.raises(UserError, match="norm_last_layer"):
        build_method("dino", *build_backbone("convnet", 1, 8), norm_last_layer=2)
