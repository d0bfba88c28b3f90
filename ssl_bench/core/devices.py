"""Which torch device a command runs on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssl_bench.core.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")
CPU_INFERENCE_BATCH = 128  # encoding 2,048 images, 2-core Xeon (AVX-512): ViT-Tiny 5.6 s at 128 vs 7.6 s at 512,
GPU_INFERENCE_BATCH = 512  # the convnet 0.29 s vs 0.52 s (cache-sized batches); outputs bit-identical


def inference_batch(device: torch.device) -> int:
    """Images per forward pass when a network only encodes (features, learning curve, diagnostics): smaller on a
    CPU, where batches that fit the caches are faster, than on a GPU."""
    return CPU_INFERENCE_BATCH if device.type == "cpu" else GPU_INFERENCE_BATCH


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when a GPU is visible, else cpu; ``cuda`` without a GPU is a :class:`UserError`."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    return torch.device(name)
