"""The training loop: uint8 batches on the device, batched augmentations, checkpoints every epoch, exact resume.

Batches come from a :class:`BatchSource`: the whole split held on the device (:class:`DeviceImages`, the fast
path) or decoded from disk by DataLoader workers (:class:`StreamedImages`, for ``imagefolder:PATH`` data that does
not fit; see :mod:`ssl_bench.data.streaming`). Both yield the same batches, in the order of the same seeded
permutation, so the two paths train to the same weights.

A run directory holds ``config.json`` (the :class:`TrainConfig`), ``checkpoint.pt`` (model, optimiser,
random-generator states, history; written atomically after every epoch) and ``metrics.json`` (one entry per
epoch: loss, lr, images/s, collapse diagnostics). ``--resume`` continues from the last checkpoint and ends
with the same weights as an uninterrupted run with the same seed.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import Tensor, nn

from torch.nn.parallel import DistributedDataParallel

from ssl_bench import __version__, distributed
from ssl_bench.backbones import build_backbone
from ssl_bench.checkpoint import atomic_write_json, load_checkpoint, save_checkpoint
from ssl_bench.config import TrainConfig, make_config
from ssl_bench.data.augment import BatchAugment, augment_config, normalize
from ssl_bench.data.datasets import ImageDataset
from ssl_bench.data.streaming import OrderedBatches, StreamedSplit, load_split
from ssl_bench.errors import UserError
from ssl_bench.methods import METHODS, SSLModel, build_method
from ssl_bench.optim import build_optimizer, warmup_cosine
from ssl_bench.progress import progress_bar

LOSS_CHECK_EVERY_ON_GPU = 25  # steps between reading losses back from a GPU (NaN check, progress bar)
COLLAPSE_STD_RATIO = 0.1  # sqrt(D) * std of l2-normalised embeddings: ~1 healthy, ~0 collapsed


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    return torch.device(name)


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


class DeviceImages:
    """The whole split as one uint8 tensor on the training device; a batch is an index into it."""

    def __init__(self, data: ImageDataset, device: torch.device, plan: StepPlan) -> None:
        self.images, self.plan = data.images.to(device), plan

    def epoch(self, order: Tensor) -> Iterator[Tensor]:
        return (self.images[index] for index in self.plan.indices(order.to(self.images.device)))

    def head(self, count: int) -> Tensor:
        return self.images[:count]


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


def batch_source(data: ImageDataset | StreamedSplit, device: torch.device, plan: StepPlan) -> BatchSource:
    source = DeviceImages if isinstance(data, ImageDataset) else StreamedImages
    return source(data, device, plan)


def build_model(config: TrainConfig, data: ImageDataset | StreamedSplit) -> SSLModel:
    backbone, feature_dim = build_backbone(config.backbone, data.channels, data.image_size)
    return build_method(config.method, backbone, feature_dim, **config.method_params)


def optimizer_settings(config: TrainConfig) -> tuple[str, float, float]:
    """(optimizer name, learning rate scaled to the batch size, weight decay): the config or the method's default."""
    defaults = METHODS.get(config.method).optimizer
    name = config.optimizer or defaults["name"]
    if config.optimizer is not None and config.optimizer != defaults["name"] and config.lr is None:
        raise UserError(f"--optimizer {name} needs an explicit --lr (the method's default lr is for {defaults['name']})")
    base_lr = config.lr if config.lr is not None else defaults["lr"]
    weight_decay = config.weight_decay if config.weight_decay is not None else defaults["weight_decay"]
    return name, base_lr * config.batch_size / 256, weight_decay


class NormalisedEncoder(nn.Module):
    """uint8 images (N, C, H, W) -> features (N, F): normalise with the training statistics, then the network."""

    def __init__(self, network: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.network = network
        self.mean, self.std = mean, std

    def forward(self, images: Tensor) -> Tensor:
        return self.network(normalize(images, self.mean, self.std)).flatten(1)


@torch.no_grad()
def collapse_diagnostics(model: SSLModel, views: Tensor) -> dict[str, float]:
    """Per-dimension std of l2-normalised embeddings (times sqrt(D); ~1 healthy, ~0 collapsed, SimSiam's
    measure) and the effective rank exp(H(sigma / sum sigma)) of the backbone features (Roy & Vetterli 2007)."""
    was_training = model.training
    model.eval()
    features = model.backbone(views).flatten(1).float()
    embeddings = nn.functional.normalize(model.projector(features).float(), dim=1)
    model.train(was_training)
    std_ratio = embeddings.std(dim=0).mean().item() * embeddings.shape[1] ** 0.5
    singular = torch.linalg.svdvals(features - features.mean(dim=0))
    p = singular / singular.sum().clamp_min(1e-12)
    effective_rank = torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()).item()
    return {"embedding_std_ratio": std_ratio, "effective_rank": effective_rank, "collapsed": std_ratio < COLLAPSE_STD_RATIO}


def _progress(total: int, description: str, enabled: bool):
    return progress_bar(total, description, leave=False) if enabled else contextlib.nullcontext(None)


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train ``config`` into its run directory and return that directory."""
    run_dir = config.run_dir()
    checkpoint_path = run_dir / "checkpoint.pt"
    if checkpoint_path.exists() and not resume:
        raise UserError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    device = distributed.init_from_environment() or resolve_device(config.device)
    world, rank, main = distributed.world_size(), distributed.rank(), distributed.is_main_process()
    if config.batch_size % world:
        raise UserError(f"batch size {config.batch_size} must be divisible by the {world} processes")
    local_batch = config.batch_size // world
    progress = progress and main
    torch.manual_seed(config.seed)
    data = training_data(config)
    if len(data) < config.batch_size:
        raise UserError(f"batch size {config.batch_size} is larger than the {len(data)} training images; lower --batch-size")
    augment = BatchAugment(augment_config(config.method, data, config.augment), data.channels, data.image_size)
    model = build_model(config, data).to(device)
    use_cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = use_cuda  # fixed batch shapes: let cuDNN time and keep its fastest convolutions
    if use_cuda and config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer_name, lr, weight_decay = optimizer_settings(config)
    optimizer = build_optimizer(optimizer_name, model, lr, weight_decay)
    step_fn: Callable[[Tensor, Tensor], Tensor] = model
    if world > 1:
        if config.sync_batchnorm:  # BatchNorm statistics over the global batch (needs GPUs)
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        step_fn = DistributedDataParallel(model, device_ids=[device] if use_cuda else None)
    if config.compile:
        step_fn = torch.compile(step_fn)

    order_generator = torch.Generator().manual_seed(config.seed)
    augment_generator = torch.Generator(device=device).manual_seed(config.seed + 1 + 1000 * rank)
    steps_per_epoch = len(data) // config.batch_size
    source = batch_source(data, device, StepPlan(steps_per_epoch, config.batch_size, rank, local_batch))
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = int(config.warmup_epochs * steps_per_epoch)
    history: list[dict[str, Any]] = []
    start_epoch = 0

    if resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path)
        _check_same_run(state["config"], config, checkpoint_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        order_generator.set_state(state["order_generator"])
        augment_generator.set_state(state["augment_generators"][rank].to(augment_generator.get_state().device))
        torch.set_rng_state(state["torch_rng"])
        history, start_epoch = list(state["history"]), int(state["epoch"])
        if main:
            print(f"resuming {run_dir} at epoch {start_epoch + 1}/{config.epochs}", file=sys.stderr)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "config.json", {**config.to_dict(), "package_version": __version__})

    probe_views = normalize(source.head(min(len(data), 512)), augment.config.mean, augment.config.std)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if (use_cuda and config.amp) else contextlib.nullcontext()
    check_every = 1 if device.type == "cpu" else LOSS_CHECK_EVERY_ON_GPU
    for epoch in range(start_epoch, config.epochs):
        model.train()
        batches = source.epoch(torch.randperm(len(data), generator=order_generator))
        started, losses, checked = time.perf_counter(), torch.zeros(steps_per_epoch, device=device), 0
        with _progress(steps_per_epoch, f"{config.method} epoch {epoch + 1}/{config.epochs}", progress) as bar:
            for step in range(steps_per_epoch):
                global_step = epoch * steps_per_epoch + step
                for group in optimizer.param_groups:
                    group["lr"] = lr * warmup_cosine(global_step, total_steps, warmup_steps)
                batch = next(batches)
                view_a, view_b = augment.two_views(batch, augment_generator)
                if use_cuda and config.channels_last:
                    view_a = view_a.contiguous(memory_format=torch.channels_last)
                    view_b = view_b.contiguous(memory_format=torch.channels_last)
                with autocast:
                    loss = step_fn(view_a, view_b)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses[step] = loss.detach()
                if (step + 1) % check_every and step + 1 < steps_per_epoch:
                    continue  # on a GPU, read the losses back every few steps only: each read waits for the GPU
                recent = losses[checked : step + 1].tolist()
                _stop_if_not_finite(recent, checked, epoch, optimizer)
                checked = step + 1
                if bar is not None:
                    seconds = time.perf_counter() - started
                    bar.set_postfix(loss=f"{recent[-1]:.4f}", img_s=f"{(step + 1) * config.batch_size / seconds:.0f}")
                    bar.update(len(recent))
        seconds = time.perf_counter() - started
        record = {
            "epoch": epoch + 1,
            "loss": losses.mean().item(),
            "lr": optimizer.param_groups[0]["lr"],
            "images_per_s": steps_per_epoch * config.batch_size / seconds,
            "seconds": seconds,
            **collapse_diagnostics(model, probe_views),
        }
        history.append(record)
        augment_states = distributed.gather_objects(augment_generator.get_state().cpu())
        if not main:
            continue
        if record["collapsed"]:
            print(f"warning: representation collapse at epoch {epoch + 1} (embedding std ratio "
                  f"{record['embedding_std_ratio']:.3f}); try a lower lr or the default loss weights", file=sys.stderr)
        save_checkpoint(
            checkpoint_path,
            {
                "config": config.to_dict(),
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "order_generator": order_generator.get_state(),
                "augment_generators": augment_states,
                "torch_rng": torch.get_rng_state(),
                "history": history,
            },
        )
        atomic_write_json(run_dir / "metrics.json", history)
        if progress:
            print(f"epoch {epoch + 1}/{config.epochs} loss {record['loss']:.4f} "
                  f"{record['images_per_s']:.0f} img/s", file=sys.stderr)
    return run_dir


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
    if differing:
        raise UserError(
            f"checkpoint {path} was made with different settings ({', '.join(differing)}); "
            "resume with the same settings or choose another --out"
        )


def load_run_config(run_dir: Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run directory (no config.json); train one with ssl-bench train")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is corrupt ({err.msg}); retrain the run") from err
    values.pop("package_version", None)
    return make_config(values)


def load_encoder(run_dir: str | Path, features: str = "backbone") -> tuple[NormalisedEncoder, TrainConfig]:
    """The trained network of a run as an encoder: uint8 images (N, C, H, W) -> (N, F), in eval mode.

    ``features``: "backbone" (the representation) or "projector" (the embedding the loss sees). The training split
    is opened as it was trained (``config.data_loading``): a streamed split is not decoded into memory, its
    normalisation statistics are counted exactly in one streaming pass
    (:func:`ssl_bench.data.datasets.normalization_stats`).
    """
    if features not in ("backbone", "projector"):
        raise UserError(f"unknown features {features!r}; choose backbone or projector")
    config = load_run_config(Path(run_dir))
    state = load_checkpoint(Path(run_dir) / "checkpoint.pt")
    data = training_data(config)
    model = build_model(config, data)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise UserError(f"checkpoint in {run_dir} does not match its config.json; retrain the run") from err
    network = model.backbone if features == "backbone" else nn.Sequential(model.backbone, model.projector)
    stats = augment_config(config.method, data, config.augment)  # the training images' mean/std
    return NormalisedEncoder(network, stats.mean, stats.std).eval(), config
