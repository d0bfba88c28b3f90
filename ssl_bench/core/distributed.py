"""PyTorch's distributed engine (torchrun + DDP), and the one collective the losses need.

Under ``torchrun --nproc_per_node N -m ssl_bench train ...`` every process trains on its shard of each global
batch; the embeddings are all-gathered (with gradients) so that every loss sees the global batch: SimCLR's
negatives come from all ranks and VICReg's/BarlowTwins' statistics are global-batch statistics.

Gradient bookkeeping: every rank computes the same global loss L. The backward of :func:`gather` sums the
gradients that all ranks send to rank r's rows (all-reduce), giving W * dL/dz_r; DDP then averages parameter
gradients over the W ranks, so each rank ends with sum_r J_r^T dL/dz_r = dL/dtheta, the gradient of one process
on the concatenated batch (tested with 2 gloo processes).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Rank 0 of the joined group; outside it (e.g. after :func:`process_group` left it), rank 0 of the job
    torchrun launched (its ``RANK`` variable), so a command still knows whether to report."""
    return (rank() if is_distributed() else int(os.environ.get("RANK", "0"))) == 0


def gather_objects(obj: object) -> list[object]:
    """[obj of rank 0, obj of rank 1, ...] on every rank; [obj] without DDP."""
    if world_size() == 1:
        return [obj]
    objects: list[object] = [None] * world_size()
    dist.all_gather_object(objects, obj)
    return objects


@contextmanager
def process_group() -> Iterator[torch.device | None]:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1) for the block and leave it on the way out.

    Yields this rank's CUDA device, if any (None: the caller picks). Leaving explicitly matters: a process that
    exits while a DistributedDataParallel wrapper or the group is alive tears down running threads and aborts
    ("terminate called without an active exception", ~1 run in 4 with gloo on 2 cores), which torchrun reports
    as a failed run although every epoch was saved. DDP sits in a reference cycle, so the caller drops its
    references inside the block and the cycle is collected here, before the group is destroyed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or is_distributed():
        yield None
        return
    use_cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        if use_cuda:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
            yield device
        else:
            yield None
    finally:
        gc.collect()
        dist.destroy_process_group()


class _GatherWithGradient(torch.autograd.Function):
    """all_gather forward; backward all-reduces (sums) the incoming gradient and keeps this rank's rows."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:  # type: ignore[override]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rows = tensor.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather(tensor: Tensor) -> Tensor:
    """(B_local, D) on each rank -> (W * B_local, D), rank-major, differentiable; identity without DDP."""
    return _GatherWithGradient.apply(tensor) if world_size() > 1 else tensor
