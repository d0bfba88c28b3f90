"""DDP with 2 gloo processes on CPU: loss and gradients equal one process on the concatenated batch."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from ssl_bench.methods import METHODS, build_method
from ssl_bench.models.backbones import build_backbone

WORLD, BATCH = 2, 8


ALL_METHODS = METHODS.names()
WITH_TARGET = [name for name in ALL_METHODS if METHODS.get(name).momentum is not None]


def _model(method: str):
    torch.manual_seed(0)
    backbone, dim = build_backbone("mlp", 1, 6)
    # eval mode: BatchNorm uses its running statistics, the same on every rank (SyncBatchNorm needs a GPU),
    # so the only cross-sample coupling left is the loss, which is what the gather must make global.
    heads = {"predictor_hidden": (32,)} if METHODS.get(method).predictor_hidden else {}
    return build_method(method, backbone, dim, projector_dims=(32, 16), **heads).double().eval()


def _views():
    g = torch.Generator().manual_seed(1)
    shape = (BATCH, 1, 6, 6)
    return (torch.randn(shape, generator=g, dtype=torch.float64),
            torch.randn(shape, generator=g, dtype=torch.float64))


def _worker(rank: int, port: int, method: str, out: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    model = DistributedDataParallel(_model(method))
    view_a, view_b = _views()
    rows = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    loss = model(view_a[rows], view_b[rows])
    loss.backward()
    out[rank] = (loss.item(), {n: p.grad.clone() for n, p in model.module.named_parameters() if p.requires_grad})
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("method", ALL_METHODS)
def test_ddp_matches_single_process_on_concatenated_batch(method):
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_worker, args=(_free_port(), method, out), nprocs=WORLD, join=True)

    model = _model(method)
    loss = model(*_views())
    loss.backward()
    for rank in range(WORLD):
        distributed_loss, grads = out[rank]
        assert distributed_loss == pytest.approx(loss.item(), rel=1e-5)
        trained = [(name, param) for name, param in model.named_parameters() if param.requires_grad]
        assert len(trained) == len(grads)
        for name, param in trained:
            torch.testing.assert_close(grads[name], param.grad, rtol=1e-5, atol=1e-8, msg=lambda m, name=name: f"{name}: {m}")
    # The check has teeth: the loss of one rank's half batch alone differs.
    view_a, view_b = _views()
    half = _model(method)(view_a[: BATCH // 2], view_b[: BATCH // 2]).item()
    assert abs(half - loss.item()) > 1e-4


STEPS = 3


def _train_steps(model, view_a, view_b):
    """A few SGD steps, each followed by the method's momentum update; returns the target's parameters."""
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    for step in range(1, STEPS + 1):
        optimizer.zero_grad()
        model(view_a, view_b).backward()
        optimizer.step()
        (model.module if isinstance(model, DistributedDataParallel) else model).after_optimizer_step(step, STEPS)
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    return [p.detach().clone() for p in inner.target.parameters()]


def _momentum_worker(rank: int, port: int, method: str, out: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    view_a, view_b = _views()
    rows = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    out[rank] = _train_steps(DistributedDataParallel(_model(method)), view_a[rows], view_b[rows])
    dist.destroy_process_group()


@pytest.mark.parametrize("method", WITH_TARGET)
def test_momentum_target_stays_identical_on_every_rank_and_equals_one_process(method):
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_momentum_worker, args=(_free_port(), method, out), nprocs=WORLD, join=True)
    single = _train_steps(_model(method), *_views())
    start = [p.detach() for p in _model(method).target.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(single, start)), "the target must have moved"
    for ours, theirs in zip(out[0], out[1]):
        assert torch.equal(ours, theirs)  # bit-identical across ranks
    for ours, reference in zip(out[0], single):
        torch.testing.assert_close(ours, reference, rtol=1e-6, atol=1e-9)


def test_torchrun_trains_with_two_processes_and_rank_zero_writes(tmp_path):
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(_free_port()), "-m", "ssl_bench", "train", "--method", "vicreg", "--dataset", "synthetic",
               "--backbone", "mlp", "--batch-size", "64", "--subset", "256", "--epochs", "2",
               "--param", "projector_dims=[64,32]", "--out", str(out), "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count('"run_dir"') == 1  # only rank 0 reports (and writes)
    history = json.loads((out / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert len(torch.load(out / "checkpoint.pt", weights_only=True)["augment_generators"]) == 2
