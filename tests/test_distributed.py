"""DDP with 2 gloo processes on CPU: loss and gradients equal one process on the concatenated batch."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import small_vit
from torch.nn.parallel import DistributedDataParallel

from ssl_bench.methods import METHODS, Progress, build_method
from ssl_bench.models.backbones import build_backbone

WORLD, BATCH = 2, 8


ALL_METHODS = METHODS.names()
WITH_STATE = [name for name in ALL_METHODS
              if METHODS.get(name).momentum is not None or name in ("dino", "nnclr")]  # EMA target, centre, queue
SMALL = {"dino": {"projector_dims": (32, 16, 24)}, "swav": {"prototypes": 12}, "nnclr": {"queue_size": 32},
         "lejepa": {"directions": 16}, "mae": {"decoder_dim": 16, "decoder_depth": 1, "decoder_heads": 2},
         "ijepa": {"predictor_dim": 16, "predictor_depth": 1, "min_context_tokens": 2}}


def _model(method: str):
    torch.manual_seed(0)
    spec = METHODS.get(method)
    backbone, dim = (small_vit(), 32) if spec.vit_only else build_backbone("convnet", 1, 6)
    # eval mode: BatchNorm uses its running statistics, the same on every rank (SyncBatchNorm needs a GPU),
    # so the only cross-sample coupling left is the loss, which is what the gather must make global.
    heads = {"predictor_hidden": (32,)} if spec.predictor_hidden else {}
    widths = {"projector_dims": (32, 16)} if spec.projector_dims else {}
    return build_method(method, backbone, dim, **{**widths, **heads, **SMALL.get(method, {})}).double().eval()


def _views(method: str) -> list[torch.Tensor]:
    """The method's global views (6 px; 8 px for a ViT) and up to two of its local views (4 px) of BATCH images."""
    spec = METHODS.get(method)
    g = torch.Generator().manual_seed(1)
    size = 8 if spec.vit_only else 6
    sizes = [size] * spec.augment_defaults.get("global_views", 2) + [4] * min(2, spec.augment_defaults.get("local_views", 0))
    return [torch.randn((BATCH, 1, size, size), generator=g, dtype=torch.float64) for size in sizes]


def _masks(method: str) -> tuple[torch.Tensor, ...]:
    """The method's token masks of the whole batch (none for methods without masks)."""
    return _model(method).draw_masks(_views(method), torch.Generator().manual_seed(2))


def _rows(views: list[torch.Tensor], rank: int) -> list[torch.Tensor]:
    return [view[rank * BATCH // WORLD : (rank + 1) * BATCH // WORLD] for view in views]


def _worker(rank: int, port: int, method: str, out: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    model = DistributedDataParallel(_model(method))
    loss = model(_rows(_views(method), rank), _rows(_masks(method), rank))["loss"]
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
    loss = model(_views(method), _masks(method))["loss"]
    loss.backward()
    for rank in range(WORLD):
        distributed_loss, grads = out[rank]
        assert distributed_loss == pytest.approx(loss.item(), rel=1e-5)
        trained = [(name, param) for name, param in model.named_parameters() if param.requires_grad]
        assert len(trained) == len(grads)
        for name, param in trained:
            torch.testing.assert_close(grads[name], param.grad, rtol=1e-5, atol=1e-8, msg=lambda m, name=name: f"{name}: {m}")
    # The check has teeth: the loss of one rank's half batch alone differs.
    half = _model(method)(_rows(_views(method), 0), _rows(_masks(method), 0))["loss"].item()
    assert abs(half - loss.item()) > 1e-4


STEPS = 3


def _train_steps(model, views, masks):
    """A few SGD steps in training mode (BatchNorm on running statistics, as in :func:`_model`), with the
    method's hooks; returns the method's state: momentum target parameters and buffers other than BatchNorm's."""
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    inner.train()
    for module in inner.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    for step in range(STEPS):
        inner.before_step(Progress(step, STEPS, STEPS))
        optimizer.zero_grad()
        model(views, masks)["loss"].backward()
        inner.before_optimizer_step(Progress(step, STEPS, STEPS))
        optimizer.step()
        inner.after_optimizer_step(Progress(step + 1, STEPS, STEPS))
    return _state(inner)


def _state(model) -> list[torch.Tensor]:
    target = list(model.target.parameters()) if model.target is not None else []
    buffers = [b for name, b in model.named_buffers() if not name.startswith(("backbone", "projector", "target"))]
    return [t.detach().clone() for t in target + buffers]


def _state_worker(rank: int, port: int, method: str, out: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    out[rank] = _train_steps(DistributedDataParallel(_model(method)), _rows(_views(method), rank),
                             _rows(_masks(method), rank))
    dist.destroy_process_group()


@pytest.mark.parametrize("method", WITH_STATE)
def test_method_state_stays_identical_on_every_rank_and_equals_one_process(method):
    """EMA targets, DINO's centre and NNCLR's support set after a few DDP steps: bit-identical across ranks and
    equal to one process on the whole batch."""
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_state_worker, args=(_free_port(), method, out), nprocs=WORLD, join=True)
    single = _train_steps(_model(method), _views(method), _masks(method))
    start = _state(_model(method))
    assert any(not torch.equal(a, b) for a, b in zip(single, start)), "the state must have moved"
    for ours, theirs in zip(out[0], out[1]):
        assert torch.equal(ours, theirs)  # bit-identical across ranks
    assert len(out[0]) == len(single) > 0
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
