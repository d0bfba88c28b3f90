"""What a suite will run, the data it needs and an estimate of its cost, without running it (``--dry-run``).

The training estimate is measured, not guessed: one warm-up and two timed optimiser steps of each distinct
(method, backbone, batch, image shape, heads) on random images of the dataset's shape, on the device the suite would
use, times the steps of each cell (train images // batch x epochs). On a CPU the steps are timed at a batch of at
most :data:`CPU_MEASURED_BATCH` and scaled linearly to the cell's batch (a ResNet step at batch 256 and 224 px
needs tens of GB there). It leaves out augmentation, data loading and evaluation, so it is a lower bound; closed
forms and baselines are listed without an estimate. ``imagefolder[@S]:PATH`` data is counted when the folder is
there (its train images listed, not decoded).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ssl_bench.bench.cells import train_config
from ssl_bench.bench.suite import Suite
from ssl_bench.data.datasets import dataset_available, dataset_spec

TIMED_STEPS = 2
CPU_MEASURED_BATCH = 32


def plan_suite(suite: Suite, device: str = "auto") -> dict[str, Any]:
    """{"cells": [...], "datasets": {...}, "training_estimate_s": float} for ``suite``."""
    from ssl_bench.core.devices import resolve_device

    torch_device = resolve_device(device)
    datasets = {}
    for name in sorted({cell.dataset for cell in suite.cells}):
        datasets[name] = _dataset_info(name)
    step_cache: dict[tuple, float] = {}
    cells, total = [], 0.0
    for cell in suite.cells:
        row = {"run_id": cell.run_id, "kind": cell.kind, "method": cell.method, "backbone": cell.backbone,
               "dataset": cell.dataset, "seed": cell.seed, "epochs": cell.epochs, "estimate_s": None}
        info = datasets[cell.dataset]
        if cell.epochs and info["channels"] and info["image_size"]:
            config = train_config(cell)
            images = min(cell.hparams.get("subset") or info["train_images"] or 0, info["train_images"] or 0)
            steps = images // config.batch_size * cell.epochs
            key = (config.method, config.backbone, config.batch_size, info["channels"], info["image_size"],
                   repr(sorted(config.method_params.items())))
            if key not in step_cache:
                measured = config.batch_size if torch_device.type == "cuda" else min(config.batch_size, CPU_MEASURED_BATCH)
                seconds = _step_seconds(config, measured, info["channels"], info["image_size"], torch_device)
                step_cache[key] = seconds * config.batch_size / measured
            row.update({"steps": steps, "step_s": round(step_cache[key], 4), "estimate_s": round(steps * step_cache[key], 1)})
            total += steps * step_cache[key]
        cells.append(row)
    return {"suite": suite.name, "cells": cells, "datasets": datasets, "device": str(torch_device),
            "training_estimate_s": round(total, 1),
            "estimate": "model-only optimiser steps measured here (augmentation, data loading and evaluation "
                        "excluded: a lower bound); closed forms and baselines not estimated"}


def _dataset_info(name: str) -> dict[str, Any]:
    """Sizes, shape and classes of a dataset from its registry entry; an imagefolder's counted in its folder."""
    from ssl_bench.data.datasets import imagefolder_samples, parse_imagefolder

    spec, available = dataset_spec(name), dataset_available(name)
    info = {"train_images": spec.n_train, "test_images": spec.n_test, "channels": spec.channels,
            "image_size": spec.image_size, "classes": spec.num_classes, "available": available}
    folder = parse_imagefolder(name)
    if folder is not None and available:
        files, _, classes = imagefolder_samples(folder[0], "train")
        info.update({"train_images": len(files), "classes": classes})
    return info


def _step_seconds(config: Any, batch_size: int, channels: int, image_size: int, device: torch.device) -> float:
    """Seconds per optimiser step of the cell's model on random images of ``batch_size`` and its shape."""
    from ssl_bench.training.loop import optimizer_settings
    from ssl_bench.training.optim import build_optimizer
    from ssl_bench.training.run_dir import build_model

    torch.manual_seed(0)
    model = build_model(config, channels, image_size).to(device).train()
    name, lr, weight_decay = optimizer_settings(config)
    optimizer = build_optimizer(name, model, lr, weight_decay)
    shape = (batch_size, channels, image_size, image_size)
    view_a, view_b = torch.randn(shape, device=device), torch.randn(shape, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(view_a, view_b).backward()
        optimizer.step()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(TIMED_STEPS):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / TIMED_STEPS
