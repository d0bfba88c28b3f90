"""The CUDA paths against the CPU reference: a bf16/channels_last training step, LARS, the torch kNN search, the
linear probe and a short end-to-end run. Skipped without a CUDA GPU (CI has none); run on a GPU machine by
scripts/gpu_check.sh. ``SSL_BENCH_GPU_TEST_DEVICE=cpu`` runs the same comparisons CPU against CPU, which checks
the test code itself on a machine without a GPU.
"""

from __future__ import annotations

import json
import os

import pytest
import torch
import torch.nn.functional as F
from test_knn import clustered
from test_optim import _per_parameter_lars_step

from ssl_bench.backbones import build_backbone
from ssl_bench.config import make_config
from ssl_bench.eval.knn import nearest_neighbours
from ssl_bench.eval.linear import linear_probe
from ssl_bench.evaluate import evaluate_run
from ssl_bench.methods import build_method
from ssl_bench.optim import LARS, parameter_groups
from ssl_bench.train import train

DEVICE = os.environ.get("SSL_BENCH_GPU_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("method", ["simclr", "vicreg", "barlowtwins"])
def test_a_bf16_channels_last_step_matches_the_float32_cpu_step(method: str) -> None:
    """Same weights, same views: the loss within 2% and every gradient pointing the same way (cosine > 0.98).

    A gradient that is zero in exact arithmetic (the last projector bias, which the loss centres away) is only
    rounding noise on both sides: it must stay tiny instead."""
    backbone, feature_dim = build_backbone("resnet18", 1, 28)
    cpu_model = build_method(method, backbone, feature_dim)
    device_model = build_method(method, *build_backbone("resnet18", 1, 28))
    device_model.load_state_dict(cpu_model.state_dict())
    device_model = device_model.to(DEVICE, memory_format=torch.channels_last)
    views = [torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    cpu_loss = cpu_model(*views)
    cpu_loss.backward()
    with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=DEVICE == "cuda"):
        device_loss = device_model(*(v.to(DEVICE).contiguous(memory_format=torch.channels_last) for v in views))
    device_loss.backward()
    assert device_loss.dtype == torch.float32, "losses are computed in float32 under autocast"
    assert device_loss.item() == pytest.approx(cpu_loss.item(), rel=2e-2)
    largest = max(p.grad.norm() for p in cpu_model.parameters())
    for (name, cpu_param), device_param in zip(cpu_model.named_parameters(), device_model.parameters()):
        if cpu_param.grad.norm() < 1e-5 * largest:
            assert device_param.grad.float().norm() < 1e-2 * largest, f"gradient of {name} should vanish"
            continue
        cosine = F.cosine_similarity(cpu_param.grad.flatten(), device_param.grad.float().cpu().flatten(), dim=0)
        assert cosine > 0.98, f"gradient of {name} differs (cosine {cosine:.4f})"


def test_lars_on_the_device_matches_the_per_parameter_cpu_loop() -> None:
    model = build_method("simclr", *build_backbone("convnet", 1, 28)).to(DEVICE)
    groups = parameter_groups(model, 1e-4)
    optimizer = LARS(groups, lr=0.4, momentum=0.9, weight_decay=1e-4, eta=0.02)
    ordered = [p for group in groups for p in group["params"]]
    exclude = [group.get("lars_exclude", False) for group in groups for _ in group["params"]]
    reference, buffers = [p.detach().cpu().clone() for p in ordered], [None] * len(ordered)
    for seed in range(3):
        views = [torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(seed + 10 * i)) for i in (1, 2)]
        model.zero_grad()
        model(*(v.to(DEVICE) for v in views)).backward()
        _per_parameter_lars_step([(r, p.grad.cpu()) for r, p in zip(reference, ordered)], buffers, 0.4, 0.9, 1e-4,
                                 0.02, exclude)
        optimizer.step()
        for mine, expected in zip(ordered, reference):
            torch.testing.assert_close(mine.detach().cpu(), expected, rtol=1e-4, atol=1e-6)


def test_the_torch_search_on_the_device_finds_the_cpu_neighbours() -> None:
    generator = torch.Generator().manual_seed(3)
    database, queries = torch.randn(5000, 64, generator=generator), torch.randn(700, 64, generator=generator)
    cpu_sims, cpu_idx = nearest_neighbours(database, queries, 50, backend="torch")
    sims, idx = nearest_neighbours(database.to(DEVICE), queries.to(DEVICE), 50, chunk_size=256, backend="torch")
    assert sims.device.type == "cpu" and idx.device.type == "cpu"
    torch.testing.assert_close(sims, cpu_sims, rtol=0, atol=1e-4)
    assert (idx == cpu_idx).float().mean() > 0.999  # near-ties may swap places in float32


def test_the_linear_probe_on_the_device_matches_the_cpu_probe() -> None:
    train_x, train_y, test_x, test_y = (torch.tensor(a) for a in clustered(2000, 500, 5, 32, 2.0, seed=4))
    cpu = linear_probe(train_x.float(), train_y, test_x.float(), test_y, 5)
    device = linear_probe(train_x.float().to(DEVICE), train_y.to(DEVICE), test_x.float().to(DEVICE),
                          test_y.to(DEVICE), 5)
    assert device["protocol"]["device"] == torch.device(DEVICE).type
    assert device["protocol"]["chosen"] == cpu["protocol"]["chosen"]
    assert device["top1"] == pytest.approx(cpu["top1"], abs=0.01)


def test_a_short_run_trains_and_evaluates_on_the_device(tmp_path) -> None:
    config = make_config({"method": "vicreg", "dataset": "synthetic", "backbone": "resnet18", "batch_size": 128,
                          "subset": 512, "epochs": 2, "device": DEVICE, "out": str(tmp_path / "run")})
    run_dir = train(config, progress=False)
    history = json.loads((run_dir / "metrics.json").read_text())
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in history)
    assert history[-1]["loss"] < history[0]["loss"]
    result = evaluate_run(run_dir, device=DEVICE)
    assert result["protocol"]["linear"]["device"] == torch.device(DEVICE).type
    assert 0.0 <= result["knn_top1"] <= 1.0 and 0.0 <= result["linear_top1"] <= 1.0
