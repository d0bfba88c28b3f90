"""Training configuration: one dataclass, filled from defaults, a YAML file and command-line values.

Unknown keys and invalid values raise :class:`UserError` listing the valid ones.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import plugin_names
from ssl_bench.core.settings import setting, shared
from ssl_bench.core.validation import check_fields

FEATURES = ("backbone", "projector")
DATA_LOADING = ("auto", "memory", "stream")  # see ssl_bench.data.streaming


def default_workers() -> int:
    """DataLoader workers of a streamed split: min(8, CPU cores)."""
    return min(8, os.cpu_count() or 1)


def _method_names() -> list[str]:
    return plugin_names("ssl_bench.methods")


def _optimizer_names() -> list[str]:
    return plugin_names("ssl_bench.training.optimizers")


@dataclass
class TrainConfig:
    """Everything that determines a training run (and so its result), plus where it is written.

    ``lr`` is the base learning rate for a batch of 256 (scaled linearly with ``batch_size``);
    ``None`` for ``optimizer``, ``lr`` and ``weight_decay`` takes the method's published default.
    ``data_loading`` (memory, stream or auto) and ``workers`` choose how images reach the device
    (:mod:`ssl_bench.data.streaming`); both paths feed the same batches, so neither is part of :meth:`identity`.
    """

    method: str = setting(help="the SSL method; each has its module in ssl_bench/methods/ with its published "
                               "defaults and their source", choices=_method_names)
    dataset: str = shared("dataset")
    backbone: str = setting("convnet", help="convnet | mlp | resnet18 | resnet50 | vit-tiny | timm:NAME")
    epochs: int = setting(10, help="training epochs", minimum=1)
    batch_size: int = setting(256, help="global batch size (split between processes under torchrun)", minimum=2,
                              hint="the losses compare images within a batch")
    subset: int | None = shared("subset", help="train on a seeded, class-balanced subset of N images")
    seed: int = shared("seed", help="seed of the subset, the initialisation, the batch order and the augmentations")
    device: str = shared("device")
    out: str | None = setting(None, help="run directory (default runs/METHOD-DATASET-BACKBONE[-nSUBSET]-sSEED)")
    optimizer: str | None = setting(None, help="default: the method's published choice", choices=_optimizer_names)
    lr: float | None = setting(None, help="base learning rate for batch 256, scaled with the batch size "
                                          "(default: the method's published value)", minimum=0, exclusive_minimum=True)
    weight_decay: float | None = setting(None, help="default: the method's published value", minimum=0)
    warmup_epochs: float = setting(1.0, help="linear warm-up before the cosine decay", minimum=0)
    weight_decay_end: float | None = setting(None, help="cosine weight-decay schedule from --weight-decay to this "
                                                        "value over the steps (DINO, I-JEPA: 0.4); default constant",
                                             minimum=0)
    method_params: dict[str, Any] = setting(
        help="loss parameter or head width, e.g. --param invariance_weight=5 or --param projector_dims=[512,128]",
        flag="--param", metavar="KEY=VALUE", default_factory=dict)
    augment: dict[str, Any] = setting(help="augmentation override, e.g. --augment crop_scale=[0.2,1.0]",
                                      metavar="KEY=VALUE", default_factory=dict)
    amp: bool = setting(True, help="bf16 autocast on CUDA")
    channels_last: bool = setting(True, help="channels_last memory format on CUDA")
    compile: bool = setting(False, help="torch.compile the model")
    sync_batchnorm: bool = setting(False, help="under torchrun: BatchNorm statistics over all processes "
                                               "(SyncBatchNorm, GPUs only)")
    download: bool = shared("download")
    data_loading: str = setting(
        "auto", choices=DATA_LOADING,
        help="memory: decode the split once onto the device; stream: decode imagefolder:PATH batches from disk with "
             "DataLoader workers; auto: stream when the decoded split would exceed $SSL_BENCH_MEMORY_BUDGET bytes "
             "(8 GiB). Same results either way")
    workers: int = setting(help="DataLoader workers when streaming (default: min(8, CPU cores))", minimum=0,
                           hint="0 decodes in the training process", default_factory=default_workers)
    curve_every: int = setting(0, minimum=0, help="learning curve: kNN top-1 of the backbone every N epochs on a "
                                                 "held-out half of up to 500 training images (0: off)")
    trackers: list[str] = setting(
        help="where each epoch's record also goes, beside metrics.json: tensorboard (RUN_DIR/tensorboard/), wandb, "
             "mlflow (offline by default; pip install 'ssl-bench[wandb]' / '[mlflow]'); '' for none",
        metavar="NAMES", comma_separated=True, choices=lambda: plugin_names("ssl_bench.training.trackers"),
        default_factory=lambda: ["tensorboard"])

    def run_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        subset = f"-n{self.subset}" if self.subset else ""
        return Path("runs") / f"{self.method}-{self.dataset.replace(':', '_').replace('/', '_')}-{self.backbone}{subset}-s{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """The keys that make two runs the same run (a checkpoint may only be resumed under these)."""
        runtime = ("out", "device", "download", "compile", "sync_batchnorm", "data_loading", "workers", "trackers",
                   "curve_every")
        return {k: v for k, v in self.to_dict().items() if k not in runtime}


def config_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def make_config(values: dict[str, Any]) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a dict (YAML file merged with CLI values)."""
    unknown = sorted(set(values) - set(config_keys()))
    if unknown:
        raise UserError(f"unknown config key(s) {unknown}; valid keys: {', '.join(config_keys())}")
    if "method" not in values or values["method"] is None:
        raise UserError(f"no method given; pass --method {'|'.join(_method_names())} (or 'method:' in --config)")
    config = TrainConfig(**values)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    from ssl_bench.data.augment import AugmentConfig, with_overrides
    from ssl_bench.methods import METHODS
    from ssl_bench.methods.base import resolve_hyperparameters
    from ssl_bench.models.backbones import BACKBONES

    check_fields(config)
    spec = METHODS.get(config.method)
    resolve_hyperparameters(spec, config.method_params)
    if not config.backbone.startswith("timm:"):
        BACKBONES.get(config.backbone)
    if spec.vit_only:  # refused now, not after the data is loaded; a ViT is built in well under a second
        from ssl_bench.models.backbones import build_backbone
        from ssl_bench.models.vit_tokens import require_vit

        require_vit(build_backbone(config.backbone, 1, 32)[0], config.method)
    # the augmentation overrides, checked now against the recipe's defaults (mean/std need the dataset's channels)
    with_overrides(AugmentConfig(), {k: v for k, v in config.augment.items() if k not in ("mean", "std")})
