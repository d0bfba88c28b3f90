"""LARS and the schedule against their equations, step by step."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ssl_bench.optim import LARS, build_optimizer, parameter_groups, warmup_cosine


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
