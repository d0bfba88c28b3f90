"""LARS and the schedule against their equations, step by step."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ssl_bench.training.optim import build_optimizer, cosine_weight_decay, parameter_groups, warmup_cosine
from ssl_bench.training.optimizers.lars import LARS


def test_lars_step_matches_the_update_rule():
    """w <- w - lr * m,  m = mu m + eta ||w|| / ||g + wd w|| (g + wd w); biases: plain momentum SGD."""
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    optimizer = LARS(parameter_groups(layer, 0.1), lr=0.5, momentum=0.9, weight_decay=0.1, eta=0.02)
    grads = []
    buffers = {"w": torch.zeros_like(weight), "b": torch.zeros_like(bias)}
    for step in range(3):
        layer.zero_grad()
        layer(torch.randn(5, 4)).pow(2).sum().backward()
        g_w, g_b = layer.weight.grad.clone(), layer.bias.grad.clone()
        grads.append((g_w, g_b))
        update = g_w + 0.1 * weight
        trust = 0.02 * weight.norm() / update.norm()
        buffers["w"] = update * trust if step == 0 else 0.9 * buffers["w"] + update * trust
        buffers["b"] = g_b.clone() if step == 0 else 0.9 * buffers["b"] + g_b
        weight, bias = weight - 0.5 * buffers["w"], bias - 0.5 * buffers["b"]
        optimizer.step()
        torch.testing.assert_close(layer.weight.detach(), weight)
        torch.testing.assert_close(layer.bias.detach(), bias)


def test_norms_and_biases_get_no_weight_decay():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    decayed, excluded = parameter_groups(model, 1e-4)
    assert [p.shape for p in decayed["params"]] == [torch.Size([4, 3])]
    assert len(excluded["params"]) == 3 and excluded["weight_decay"] == 0.0
    assert isinstance(build_optimizer("adamw", model, 1e-3, 0.05), torch.optim.AdamW)


@pytest.mark.parametrize("step, expected", [(0, 0.25), (3, 1.0), (4, 1.0), (9, 0.5 * (1 + math.cos(math.pi * 5 / 6))),
                                            (10, 0.0)])
def test_warmup_then_cosine(step, expected):
    assert warmup_cosine(step, total_steps=10, warmup_steps=4) == pytest.approx(expected)


def _per_parameter_lars_step(params_and_grads, buffers, lr, momentum, weight_decay, eta, exclude):
    """A plain per-parameter transcription of the LARS rule (the reference for the multi-tensor version)."""
    for index, (param, grad) in enumerate(params_and_grads):
        update = grad.clone()
        if not exclude[index]:
            update = update + weight_decay * param
            param_norm, update_norm = param.norm(), update.norm()
            if param_norm > 0 and update_norm > 0:
                update = update * (eta * param_norm / update_norm)
        buffers[index] = update if buffers[index] is None else momentum * buffers[index] + update
        param -= lr * buffers[index]


def test_multi_tensor_lars_equals_a_per_parameter_loop_on_a_real_network():
    """Every parameter of a small convnet (conv, BN, linear; one zero weight, one frozen) over 4 steps."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 5),
                          nn.Linear(5, 3))
    with torch.no_grad():
        model[4].weight.zero_()  # ||w|| = 0: trust ratio 1
    model[5].bias.requires_grad_(False)
    groups = parameter_groups(model, 1e-3)
    optimizer = LARS(groups, lr=0.3, momentum=0.9, weight_decay=1e-3, eta=0.02)
    ordered = [p for group in groups for p in group["params"]]
    exclude = [group.get("lars_exclude", False) for group in groups for _ in group["params"]]
    reference = [p.detach().clone() for p in ordered]
    buffers = [None] * len(ordered)
    for _ in range(4):
        model.zero_grad()
        model(torch.randn(6, 1, 8, 8)).logsumexp(dim=1).sum().backward()
        _per_parameter_lars_step([(r, p.grad) for r, p in zip(reference, ordered)], buffers, 0.3, 0.9, 1e-3, 0.02,
                                 exclude)
        optimizer.step()
        for mine, expected in zip(ordered, reference):
            torch.testing.assert_close(mine.detach(), expected, rtol=1e-6, atol=1e-7)
    assert not torch.equal(model[4].weight, torch.zeros_like(model[4].weight)), "the zero weight must move"


def test_weight_decay_schedule_is_dinos_cosine_scheduler_on_the_decayed_group_only(tmp_path):
    """DINO's utils.cosine_scheduler(0.04, 0.4, epochs, niter) without warm-up, transcribed with numpy:
    iters = arange(epochs * niter); final + 0.5 (base - final) (1 + cos(pi iters / len(iters)))."""
    import numpy as np

    from ssl_bench.training.config import make_config
    from ssl_bench.training.loop import run_epoch, setup

    iters = np.arange(3 * 7)
    reference = 0.4 + 0.5 * (0.04 - 0.4) * (1 + np.cos(np.pi * iters / len(iters)))
    ours = [cosine_weight_decay(step, 21, 0.04, 0.4) for step in range(21)]
    np.testing.assert_allclose(ours, reference, rtol=1e-12)
    config = make_config({"method": "simclr", "dataset": "synthetic", "subset": 128, "batch_size": 32, "epochs": 2,
                          "weight_decay": 0.04, "weight_decay_end": 0.4, "out": str(tmp_path / "run"),
                          "trackers": []})
    training = setup(config)
    run_epoch(training, 0, progress=False)  # 4 steps of 8: the last one set step 3's value
    decayed, excluded = training.optimizer.param_groups
    assert decayed["weight_decay"] == pytest.approx(cosine_weight_decay(3, 8, 0.04, 0.4)) and excluded["weight_decay"] == 0
