"""What a suite will run, the data it needs and an estimate of its cost, without running it (``--dry-run``).

The training estimate is measured, not guessed: the optimiser step of each distinct (method, backbone, batch, image
shape, heads) on random images of the dataset's shape, on the device the suite would use, times the steps of each
cell (train images // batch x epochs). A step is timed as the median of at least :data:`MIN_TIMED_STEPS` steps
lasting at least :data:`MIN_TIMED_S` in all, after at least :data:`WARMUP_STEPS` untimed ones lasting
:data:`MIN_WARMUP_S` (the first steps allocate and choose kernels; measured: without the time floor the first model
timed in a process read up to 60% slow). On a CPU a batch larger than :data:`CPU_PIXEL_BUDGET` pixels (a ResNet step at batch 256 and 224
px needs tens of GB there) is timed at the largest batch within it and at half of it, and extrapolated along that
line (intercept included: a fixed cost per step is not scaled with the batch). It leaves out augmentation, data
loading and evaluation: the model-only part of a cell's training; closed forms and baselines are listed without an
estimate. ``imagefolder[@S]:PATH`` data is counted when the folder is
there (its train images listed, not decoded).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from ssl_bench.bench.cells import train_config
from ssl_bench.bench.suite import Suite
from ssl_bench.data.datasets import dataset_available, dataset_spec

WARMUP_STEPS = 3
MIN_WARMUP_S = 1.0
MIN_TIMED_STEPS = 3
MAX_TIMED_STEPS = 20
MIN_TIMED_S = 1.0
CPU_PIXEL_BUDGET = 128 * 3 * 32 * 32  # a CIFAR batch of 128: measured as it is on any CPU


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
                step_cache[key] = _cell_step_seconds(config, info["channels"], info["image_size"], torch_device)
            row.update({"steps": steps, "step_s": round(step_cache[key], 4), "estimate_s": round(steps * step_cache[key], 1)})
            total += steps * step_cache[key]
        cells.append(row)
    return {"suite": suite.name, "cells": cells, "datasets": datasets, "device": str(torch_device),
            "training_estimate_s": round(total, 1),
            "estimate": "model-only optimiser steps measured here (augmentation, data loading and evaluation "
                        "excluded); closed forms and baselines not estimated"}


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


def _cell_step_seconds(config: Any, channels: int, image_size: int, device: torch.device) -> float:
    """Seconds per optimiser step at the cell's batch: timed at that batch, or on a CPU beyond
    :data:`CPU_PIXEL_BUDGET` timed at two smaller batches and extrapolated along their line."""
    batch = config.batch_size
    largest = max(2, CPU_PIXEL_BUDGET // (channels * image_size * image_size))
    if device.type == "cuda" or batch <= largest:
        return _step_seconds(config, batch, channels, image_size, device)
    small, large = max(2, largest // 2), largest
    seconds_small = _step_seconds(config, small, channels, image_size, device)
    seconds_large = _step_seconds(config, large, channels, image_size, device)
    per_image = max(seconds_large - seconds_small, 0.0) / (large - small)
    return seconds_large + per_image * (batch - large)


def _step_seconds(config: Any, batch_size: int, channels: int, image_size: int, device: torch.device) -> float:
    """Median seconds per optimiser step of the cell's model on random images of ``batch_size`` and its shape,
    as many global and local views of their sizes as the cell's augmentation gives (and a masked-image method's
    masks)."""
    from ssl_bench.data.augment import BatchAugment, default_augment
    from ssl_bench.training.loop import optimizer_settings
    from ssl_bench.training.optim import build_optimizer
    from ssl_bench.training.run_dir import augment_of, build_model

    torch.manual_seed(0)
    model = build_model(config, channels, image_size).to(device).train()
    name, lr, weight_decay = optimizer_settings(config)
    optimizer = build_optimizer(name, model, lr, weight_decay)
    recipe, overrides = augment_of(config)
    augment = BatchAugment(default_augment(recipe, channels, image_size, overrides), channels, image_size)
    views = [torch.randn((batch_size, channels, augment.size_of(index), augment.size_of(index)), device=device)
             for index in augment.view_indices]

    masks = model.draw_masks(views, torch.Generator(device=device).manual_seed(0))

    def step() -> float:
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        model(views, masks)["loss"].backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    warmup = [step() for _ in range(WARMUP_STEPS)]
    while sum(warmup) < MIN_WARMUP_S and len(warmup) < MAX_TIMED_STEPS:  # the first model of a process warms longer
        warmup.append(step())
    times: list[float] = []
    while len(times) < MIN_TIMED_STEPS or (sum(times) < MIN_TIMED_S and len(times) < MAX_TIMED_STEPS):
        times.append(step())
    return statistics.median(times)
