"""The training loop: uint8 batches on the device, batched augmentations, checkpoints every epoch, exact resume.

Batches come from a :class:`BatchSource`: the whole split held on the device (:class:`DeviceImages`, the fast
path) or decoded from disk by DataLoader workers (:class:`StreamedImages`, for ``imagefolder:PATH`` data that does
not fit; see :mod:`ssl_bench.data.streaming`). Both yield the same batches, in the order of the same seeded
permutation, so the two paths train to the same weights.

A run directory holds ``config.json`` (the :class:`TrainConfig`), ``checkpoint.pt`` (model, optimiser,
random-generator states, history; written atomically after every epoch) and ``metrics.json`` (one entry per
epoch: loss, lr, images/s, seconds, collapse diagnostics, and ``attempt``: 1 for the first process, one more for
each resume). ``--resume`` continues from the last checkpoint and ends with the same weights as an uninterrupted
run with the same seed.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ssl_bench import __version__
from ssl_bench.core import distributed
from ssl_bench.core.checkpoint import atomic_write_json, load_checkpoint, save_checkpoint
from ssl_bench.core.devices import inference_batch, resolve_device
from ssl_bench.core.errors import UserError
from ssl_bench.core.paths import check_output_dir, reported_write
from ssl_bench.core.progress import progress_bar
from ssl_bench.data.augment import BatchAugment, augment_config, normalize
from ssl_bench.data.datasets import ImageDataset
from ssl_bench.data.streaming import OrderedBatches, StreamedSplit, load_split, stop_workers
from ssl_bench.methods import METHODS, Progress, SSLModel
from ssl_bench.training.config import TrainConfig, make_config
from ssl_bench.training.learning_curve import CurveData, curve_data, curve_point
from ssl_bench.training.optim import build_optimizer, cosine_weight_decay, warmup_cosine
from ssl_bench.training.run_dir import augment_of, build_model, last_attempt, write_data_record
from ssl_bench.training.trackers import check_trackers, open_trackers, scalars

LOSS_CHECK_EVERY_ON_GPU = 25  # steps between reading losses back from a GPU (NaN check, progress bar)
COLLAPSE_STD_RATIO = 0.1  # sqrt(D) * std of l2-normalised embeddings: ~1 healthy, ~0 collapsed
COLLAPSE_RANK_FRACTION = 0.05  # ... and an effective rank of the backbone features below 5% of its maximum


def training_data(config: TrainConfig) -> ImageDataset | StreamedSplit:
    """The train split, in memory or streamed (``config.data_loading``), reduced to a seeded class-balanced subset
    when ``config.subset`` is set."""
    return load_split(config.dataset, "train", config.data_loading, config.subset, config.seed, config.download,
                      config.workers)


@dataclass(frozen=True)
class StepPlan:
    """How an epoch's permutation becomes this process's batches: ``steps`` global batches of ``batch_size``,
    each split between the processes by rank, ``local_batch`` images each."""

    steps: int
    batch_size: int
    rank: int
    local_batch: int

    def indices(self, order: Tensor) -> list[Tensor]:
        """``order[s * batch_size + rank * local_batch :][:local_batch]`` for each step s (views of ``order``)."""
        starts = range(self.rank * self.local_batch, self.steps * self.batch_size, self.batch_size)
        return [order[first : first + self.local_batch] for first in starts]


class BatchSource(Protocol):
    """Where the uint8 batches of training come from."""

    def epoch(self, order: Tensor) -> Iterator[Tensor]:
        """uint8 ``(local_batch, C, H, W)`` on the training device for each step of the epoch whose permutation of
        the split (int64, on the CPU) is ``order``."""

    def head(self, count: int) -> Tensor:
        """uint8 ``(count, C, H, W)`` on the training device: the first ``count`` images of the split."""

    def close(self) -> None:
        """Stop any worker process now (training ended, or failed)."""


class DeviceImages:
    """The whole split as one uint8 tensor on the training device; a batch is an index into it."""

    def __init__(self, data: ImageDataset, device: torch.device, plan: StepPlan) -> None:
        self.images, self.plan = data.images.to(device), plan

    def epoch(self, order: Tensor) -> Iterator[Tensor]:
        return (self.images[index] for index in self.plan.indices(order.to(self.images.device)))

    def head(self, count: int) -> Tensor:
        return self.images[:count]

    def close(self) -> None:
        """Nothing to stop: the images are already on the device."""


class StreamedImages:
    """Batches decoded from disk by the split's DataLoader workers (kept between epochs, prefetching, pinned
    memory on CUDA), then moved to the training device without blocking."""

    def __init__(self, data: StreamedSplit, device: torch.device, plan: StepPlan) -> None:
        self.data, self.device, self.plan = data, device, plan
        self.sampler = OrderedBatches()
        self.loader = data.loader(self.sampler, pin_memory=device.type == "cuda", persistent=True)

    def epoch(self, order: Tensor) -> Iterator[Tensor]:
        self.sampler.set(self.plan.indices(order))
        return (images.to(self.device, non_blocking=True) for images, _ in self.loader)

    def head(self, count: int) -> Tensor:
        return self.data.head(count).to(self.device)

    def close(self) -> None:
        """Stop the persistent DataLoader workers now (:func:`ssl_bench.data.streaming.stop_workers`)."""
        stop_workers(getattr(self.loader, "_iterator", None))


def batch_source(data: ImageDataset | StreamedSplit, device: torch.device, plan: StepPlan) -> BatchSource:
    source = DeviceImages if isinstance(data, ImageDataset) else StreamedImages
    return source(data, device, plan)


def optimizer_settings(config: TrainConfig) -> tuple[str, float, float]:
    """(optimizer name, learning rate scaled to the batch size, weight decay): the config or the method's default."""
    defaults = METHODS.get(config.method).optimizer
    name = config.optimizer or defaults["name"]
    if config.optimizer is not None and config.optimizer != defaults["name"] and config.lr is None:
        raise UserError(f"--optimizer {name} needs an explicit --lr (the method's default lr is for {defaults['name']})")
    base_lr = config.lr if config.lr is not None else defaults["lr"]
    weight_decay = config.weight_decay if config.weight_decay is not None else defaults["weight_decay"]
    return name, base_lr * config.batch_size / 256, weight_decay


class NonFiniteOutputs(ValueError):
    """The network's features or embeddings hold NaN or infinity (its weights overflowed)."""


@torch.no_grad()
def collapse_diagnostics(model: SSLModel, views: Tensor) -> dict[str, float]:
    """Per-dimension std of l2-normalised embeddings (times sqrt(D); ~1 healthy, ~0 collapsed, SimSiam's
    measure) and the effective rank exp(H(sigma / sum sigma)) of the centred backbone features (Roy & Vetterli
    2007). ``collapsed``: both are low (std ratio < :data:`COLLAPSE_STD_RATIO` and effective rank below
    :data:`COLLAPSE_RANK_FRACTION` of min(N, F)). The std ratio alone fired on healthy runs: a projector whose
    outputs share a large mean (VICReg's, early on) has normalised embeddings close together while the backbone
    features have an effective rank of 90 of 128. :class:`NonFiniteOutputs` when the network's outputs are not
    finite."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        chunks = views.split(inference_batch(views.device))
        features = torch.cat([model.backbone(chunk).flatten(1).float() for chunk in chunks])
        embeddings = nn.functional.normalize(model.projector(features).float(), dim=1)
    model.train(was_training)
    if not (torch.isfinite(features).all() and torch.isfinite(embeddings).all()):
        raise NonFiniteOutputs("the network's outputs are not finite")
    std_ratio = embeddings.std(dim=0).mean().item() * embeddings.shape[1] ** 0.5
    singular = torch.linalg.svdvals(features - features.mean(dim=0))
    p = singular / singular.sum().clamp_min(1e-12)
    effective_rank = torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()).item()
    low_rank = effective_rank < COLLAPSE_RANK_FRACTION * min(features.shape)
    return {"embedding_std_ratio": std_ratio, "effective_rank": effective_rank,
            "collapsed": std_ratio < COLLAPSE_STD_RATIO and low_rank}


@dataclass
class Training:
    """Everything one process needs to run epochs: built by :func:`setup`, advanced by :func:`run_epoch`."""

    config: TrainConfig
    run_dir: Path
    device: torch.device
    rank: int
    main: bool
    model: SSLModel
    step_fn: Callable[[list[Tensor], tuple[Tensor, ...]], dict[str, Tensor]]
    optimizer: torch.optim.Optimizer
    lr: float
    weight_decay: float
    augment: BatchAugment
    source: BatchSource
    n_images: int
    steps_per_epoch: int
    warmup_steps: int
    order_generator: torch.Generator
    augment_generator: torch.Generator
    probe_views: Tensor
    curve: CurveData | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    start_epoch: int = 0

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs


def setup(config: TrainConfig, rank_device: torch.device | None = None) -> Training:
    """Data, model, optimiser, generators and batch source for ``config`` in this process (rank), from scratch.

    ``rank_device``: the CUDA device torchrun gave this rank; None: ``config.device``."""
    device = rank_device or resolve_device(config.device)
    world, rank = distributed.world_size(), distributed.rank()
    if config.batch_size % world:
        raise UserError(f"batch size {config.batch_size} must be divisible by the {world} processes")
    torch.manual_seed(config.seed)
    data = training_data(config)
    if len(data) < config.batch_size:
        raise UserError(f"batch size {config.batch_size} is larger than the {len(data)} training images; lower --batch-size")
    recipe, overrides = augment_of(config)
    augment = BatchAugment(augment_config(recipe, data, overrides), data.channels, data.image_size)
    model = build_model(config, data.channels, data.image_size).to(device)
    use_cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = use_cuda  # fixed batch shapes: let cuDNN time and keep its fastest convolutions
    if use_cuda and config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer_name, lr, weight_decay = optimizer_settings(config)
    optimizer = build_optimizer(optimizer_name, model, lr, weight_decay)
    step_fn: Callable[[list[Tensor], tuple[Tensor, ...]], dict[str, Tensor]] = model
    if world > 1:
        if config.sync_batchnorm:  # BatchNorm statistics over the global batch (needs GPUs)
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        step_fn = DistributedDataParallel(model, device_ids=[device] if use_cuda else None)
    if config.compile:
        step_fn = torch.compile(step_fn)
    steps_per_epoch = len(data) // config.batch_size
    source = batch_source(data, device, StepPlan(steps_per_epoch, config.batch_size, rank, config.batch_size // world))
    probe_views = normalize(source.head(min(len(data), 512)), augment.config.mean, augment.config.std)
    training = Training(
        config=config, run_dir=config.run_dir(), device=device, rank=rank, main=distributed.is_main_process(),
        model=model, step_fn=step_fn, optimizer=optimizer, lr=lr, weight_decay=weight_decay, augment=augment,
        source=source,
        n_images=len(data), steps_per_epoch=steps_per_epoch, warmup_steps=int(config.warmup_epochs * steps_per_epoch),
        order_generator=torch.Generator().manual_seed(config.seed),
        augment_generator=torch.Generator(device=device).manual_seed(config.seed + 1 + 1000 * rank),
        probe_views=probe_views,
        curve=curve_data(data, config.seed, augment.config.mean, augment.config.std, device)
        if config.curve_every and isinstance(data, ImageDataset) and distributed.is_main_process() else None,
    )
    return training


def write_run_files(training: Training) -> None:
    """The run's ``config.json`` and data record (after a checkpoint to resume was found to fit: a refused resume
    leaves the run's files as they were)."""
    if not training.main:
        return
    augment, run_dir = training.augment, training.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "config.json", {**training.config.to_dict(), "package_version": __version__})
    write_data_record(run_dir, augment.channels, augment.size, augment.config.mean, augment.config.std,
                      training.n_images)


def restore(training: Training, checkpoint_path: Path) -> None:
    """Continue ``training`` from a checkpoint of the same run: weights (with any momentum target), optimiser,
    generators and history, so the rest of the run equals an uninterrupted one."""
    state = load_checkpoint(checkpoint_path)
    _check_same_run(state["config"], training.config, checkpoint_path)
    training.model.load_state_dict(state["model"])
    training.optimizer.load_state_dict(state["optimizer"])
    training.order_generator.set_state(state["order_generator"])
    generator = training.augment_generator
    generator.set_state(state["augment_generators"][training.rank].to(generator.get_state().device))
    torch.set_rng_state(state["torch_rng"])
    training.history, training.start_epoch = list(state["history"]), int(state["epoch"])


def run_epoch(training: Training, epoch: int, progress: bool) -> dict[str, Any]:
    """One pass over the epoch's seeded permutation; returns the epoch's record (loss, lr, images/s, collapse)."""
    config, model, optimizer = training.config, training.model, training.optimizer
    steps, device = training.steps_per_epoch, training.device
    use_cuda = device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if (use_cuda and config.amp) else contextlib.nullcontext()
    check_every = 1 if device.type == "cpu" else LOSS_CHECK_EVERY_ON_GPU
    model.train()
    batches = training.source.epoch(torch.randperm(training.n_images, generator=training.order_generator))
    started, losses, checked = time.perf_counter(), torch.zeros(steps, device=device), 0
    parts, part_names = None, []  # (steps, number of named parts) and their names, when the method has parts
    with progress_bar(steps, f"{config.method} epoch {epoch + 1}/{config.epochs}", leave=False,
                      disable=not progress) as bar:
        for step in range(steps):
            global_step = epoch * steps + step
            for group in optimizer.param_groups:
                group["lr"] = training.lr * warmup_cosine(global_step, training.total_steps, training.warmup_steps)
            if config.weight_decay_end is not None:  # the decayed group (the first, see parameter_groups)
                optimizer.param_groups[0]["weight_decay"] = cosine_weight_decay(
                    global_step, training.total_steps, training.weight_decay, config.weight_decay_end)
            views = training.augment.views(next(batches), training.augment_generator)
            masks = model.draw_masks(views, training.augment_generator)
            if use_cuda and config.channels_last:
                views = [view.contiguous(memory_format=torch.channels_last) for view in views]
            progress_now = Progress(global_step, training.total_steps, steps)
            model.before_step(progress_now)
            with autocast:
                outputs = training.step_fn(views, masks)
            optimizer.zero_grad(set_to_none=True)
            outputs["loss"].backward()
            model.before_optimizer_step(progress_now)
            optimizer.step()
            model.after_optimizer_step(Progress(global_step + 1, training.total_steps, steps))
            losses[step] = outputs["loss"].detach()
            if parts is None and len(outputs) > 1:  # the method's named parts of the loss, averaged over the epoch
                part_names = [name for name in outputs if name != "loss"]
                parts = torch.zeros(steps, len(part_names), device=device)
            if parts is not None:
                parts[step] = torch.stack([outputs[name].detach().float() for name in part_names])
            if (step + 1) % check_every and step + 1 < steps:
                continue  # on a GPU, read the losses back every few steps only: each read waits for the GPU
            recent = losses[checked : step + 1].tolist()
            _stop_if_not_finite(recent, checked, epoch, optimizer)
            checked = step + 1
            seconds = time.perf_counter() - started
            bar.set_postfix(loss=f"{recent[-1]:.4f}", img_s=f"{(step + 1) * config.batch_size / seconds:.0f}")
            bar.update(len(recent))
    seconds = time.perf_counter() - started
    try:
        diagnostics = collapse_diagnostics(model, training.probe_views)
    except NonFiniteOutputs:  # the losses were finite, the weights after the last step are not
        raise UserError(
            f"the network's outputs became non-finite at epoch {epoch + 1}, after step {steps}: the learning rate "
            f"({optimizer.param_groups[0]['lr']:.3g}) is likely too high, or a loss parameter is degenerate; lower "
            "--lr or check --param (finished epochs are kept in the checkpoint)"
        ) from None
    named = {} if parts is None else dict(zip((f"loss_{name}" for name in part_names), parts.mean(dim=0).tolist()))
    return {
        "epoch": epoch + 1,
        "loss": losses.mean().item(),
        **named,
        "lr": optimizer.param_groups[0]["lr"],
        "images_per_s": steps * config.batch_size / seconds,
        "seconds": seconds,
        **diagnostics,
    }


def save(training: Training, epoch: int, augment_states: list[object]) -> None:
    """Checkpoint after ``epoch`` epochs (atomically) and rewrite ``metrics.json``; a failed write (full disk,
    read-only place) is one line, and the previous checkpoint stays."""
    path = training.run_dir / "checkpoint.pt"
    with reported_write(path, "the checkpoint", "then rerun with --resume"):
        save_checkpoint(path, {
            "config": training.config.to_dict(),
            "epoch": epoch,
            "model": training.model.state_dict(),
            "optimizer": training.optimizer.state_dict(),
            "order_generator": training.order_generator.get_state(),
            "augment_generators": augment_states,
            "torch_rng": torch.get_rng_state(),
            "history": training.history,
        })
        atomic_write_json(training.run_dir / "metrics.json", training.history)


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train ``config`` into its run directory and return that directory.

    ``progress``: a progress bar per epoch when stderr is a terminal, one line per epoch in any case."""
    checkpoint_path = config.run_dir() / "checkpoint.pt"
    if checkpoint_path.exists() and not resume:
        raise UserError(f"{config.run_dir()} already holds a run; pass --resume to continue it or choose another --out")
    check_trackers(config.trackers)
    check_output_dir(config.run_dir())
    started_before = (config.run_dir() / "config.json").exists()  # a suite's new cell resumes an empty folder
    if resume and started_before and not checkpoint_path.exists() and distributed.is_main_process():
        print(f"{config.run_dir()} has no checkpoint yet (stopped before its first epoch ended); training from the "
              "first epoch", file=sys.stderr)
    with distributed.process_group() as rank_device:
        # The DDP wrapper must be gone before the group is left (see process_group): it lives in _train_epochs.
        return _train_epochs(config, checkpoint_path if resume and checkpoint_path.exists() else None, progress,
                             rank_device)


def _train_epochs(config: TrainConfig, checkpoint_path: Path | None, progress: bool,
                  rank_device: torch.device | None) -> Path:
    """Set up (restoring ``checkpoint_path`` if given), then train and save the remaining epochs."""
    training = setup(config, rank_device)
    progress = progress and training.main
    attempt = 1
    if checkpoint_path is not None:
        restore(training, checkpoint_path)
        attempt = 1 + last_attempt(training.history)
        if training.main and training.start_epoch >= config.epochs:
            print(f"{training.run_dir} is already trained ({config.epochs} epochs); nothing to resume", file=sys.stderr)
        elif training.main:
            print(f"resuming {training.run_dir} at epoch {training.start_epoch + 1}/{config.epochs}", file=sys.stderr)
    write_run_files(training)
    trackers = open_trackers(config.trackers, training.run_dir, config.to_dict()) if training.main else []
    try:
        for epoch in range(training.start_epoch, config.epochs):
            record = {**run_epoch(training, epoch, progress), "attempt": attempt}
            if training.curve is not None and (epoch + 1) % config.curve_every == 0:
                record.update(curve_point(training.model.backbone, training.curve))
            training.history.append(record)
            augment_states = distributed.gather_objects(training.augment_generator.get_state().cpu())
            if not training.main:
                continue
            if record["collapsed"]:
                print(f"warning: representation collapse at epoch {epoch + 1} (embedding std ratio "
                      f"{record['embedding_std_ratio']:.3f}, effective rank {record['effective_rank']:.1f}); try a "
                      "lower lr or the default loss weights", file=sys.stderr)
            save(training, epoch + 1, augment_states)
            for tracker in trackers:
                tracker.log(epoch + 1, scalars(record))
            if progress:
                print(f"epoch {epoch + 1}/{config.epochs} loss {record['loss']:.4f} "
                      f"{record['images_per_s']:.0f} img/s", file=sys.stderr)
    finally:
        training.source.close()
        for tracker in trackers:
            tracker.close()
    return training.run_dir


def _stop_if_not_finite(losses: list[float], first_step: int, epoch: int, optimizer: torch.optim.Optimizer) -> None:
    """UserError naming the first non-finite loss among ``losses`` (the losses of steps ``first_step``, ...)."""
    for offset, value in enumerate(losses):
        if not math.isfinite(value):
            raise UserError(
                f"loss became {value} at epoch {epoch + 1}, step {first_step + offset + 1}: the learning rate "
                f"({optimizer.param_groups[0]['lr']:.3g}) is likely too high, or a loss parameter is "
                "degenerate; lower --lr or check --param (finished epochs are kept in the checkpoint)"
            )


def _check_same_run(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    saved_identity = make_config(saved).identity()
    differing = sorted(k for k, v in config.identity().items() if saved_identity.get(k) != v)
    if differing == ["epochs"]:
        raise UserError(
            f"{path.parent} was trained for --epochs {saved_identity['epochs']}, not {config.epochs}: its warm-up and "
            "cosine learning-rate schedule span the run's epochs, so a run cannot be extended or shortened; resume "
            f"it with --epochs {saved_identity['epochs']}, or train a new run (another --out) for {config.epochs}"
        )
    if differing:
        raise UserError(
            f"checkpoint {path} was made with different settings ({', '.join(differing)}); "
            "resume with the same settings or choose another --out"
        )
