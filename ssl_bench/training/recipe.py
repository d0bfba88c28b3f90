"""The effective recipe of a training configuration, field by field: what a run with this config really trains.

:func:`effective_recipe` resolves a :class:`~ssl_bench.training.config.TrainConfig` against the method's published defaults
(:mod:`ssl_bench.methods`), the optimiser and schedule (:mod:`ssl_bench.training.optim`, :mod:`ssl_bench.training.loop`), the
augmentation recipe (:mod:`ssl_bench.data.augment`) and the backbone's stem (:mod:`ssl_bench.models.backbones`) into one flat
mapping ``field -> value``. Recipe-parity tables (``suites/parity/*.yaml``) compare exactly these fields with a
published configuration; ``tests/test_standard_suites.py`` holds the suites to them.
"""

from __future__ import annotations

from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.data.augment import BatchAugment, default_augment
from ssl_bench.data.datasets import dataset_spec
from ssl_bench.eval.knn import ALSO_K, TEMPERATURE, K
from ssl_bench.methods import METHODS
from ssl_bench.methods.base import mlp_with_output_bn, resolve_hyperparameters
from ssl_bench.models.backbones import SMALL_IMAGE_MAX
from ssl_bench.training.config import TrainConfig
from ssl_bench.training.optimizers.lars import LARS_ETA
from ssl_bench.training.run_dir import augment_of

AUGMENT_FIELDS = ("crop_scale", "flip_p", "jitter_p", "brightness", "contrast", "saturation", "hue", "grayscale_p",
                  "blur_p", "solarize_p")


def image_shape(dataset: str) -> tuple[int, int]:
    """(channels, image size) of a dataset name, from its registry entry (``imagefolder@S:PATH``: 3, S)."""
    spec = dataset_spec(dataset)
    if spec.channels is None or spec.image_size is None:
        raise UserError(f"the image shape of {dataset} is known only once it is loaded")
    return spec.channels, spec.image_size


def effective_recipe(config: TrainConfig) -> dict[str, Any]:
    """``field -> value`` of the recipe ``config`` trains (numbers as floats or ints, sequences as lists)."""
    from ssl_bench.training.loop import optimizer_settings

    spec = METHODS.get(config.method)
    loss_params, projector_dims, predictor_hidden = resolve_hyperparameters(spec, config.method_params)
    optimizer, lr, weight_decay = optimizer_settings(config)
    channels, size = image_shape(config.dataset)
    recipe_name, overrides = augment_of(config)
    augment = default_augment(recipe_name, channels, size, overrides)
    recipe: dict[str, Any] = {
        "backbone": config.backbone,
        "backbone_stem": ("3x3 stride-1 conv, no max-pool" if size <= SMALL_IMAGE_MAX
                          else "7x7 stride-2 conv, 3x3 max-pool") if config.backbone.startswith("resnet") else "n/a",
        "image_size": size,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "optimizer": optimizer,
        "lr_per_256": lr * 256 / config.batch_size,
        "lr_scaling": "linear: lr_per_256 * batch_size / 256",
        "lr": lr,
        "weight_decay": weight_decay,
        "weight_decay_end": config.weight_decay_end,
        "weight_decay_exclusions": "biases and normalisation parameters",
        "momentum": 0.9,
        "lars_eta": LARS_ETA if optimizer == "lars" else None,
        "lars_exclusions": "biases and normalisation parameters" if optimizer == "lars" else None,
        "lars_trust_ratio": "eta ||w|| / ||g + wd w||, not clipped" if optimizer == "lars" else None,
        "warmup_epochs": config.warmup_epochs,
        "schedule": "linear warm-up, then cosine to 0, per step",
        "projector_dims": list(projector_dims) if projector_dims else None,
        "projector_output_batchnorm": spec.projector is mlp_with_output_bn,
        "predictor_hidden": list(predictor_hidden) if predictor_hidden else None,
        "momentum_tau": [spec.momentum.base, spec.momentum.final] if spec.momentum else None,
        **{f"loss_{key}": value for key, value in sorted(loss_params.items())},
        "loss_scale": 1.0,
        **{f"augment_{key}": _plain(getattr(augment, key)) for key in AUGMENT_FIELDS},
        "augment_global_views": augment.global_views,
        "augment_local_views": augment.local_views,
        **(_local_crops(augment, channels, size) if augment.local_views else {}),
        **({"not_implemented": spec.not_implemented} if spec.not_implemented else {}),
        "augment_jitter_order": "brightness, contrast, saturation, hue (fixed)",
        "augment_blur_kernel": (f"{BatchAugment(augment, channels, size).kernel_size} px, sigma U(0.1, 2)"
                                if max(augment.blur_p) > 0 else None),
        "precision": "bf16 autocast on CUDA, float32 on CPU" if config.amp else "float32",
        "evaluation_knn": f"k={K} (and k={ALSO_K}), T={TEMPERATURE}, cosine, exp(s/T) weights, last epoch",
        "evaluation_linear": "offline: L-BFGS logistic regression on frozen, standardised, unaugmented features, "
                             "weight decay chosen on a 10% held-out split, last epoch",
    }
    return recipe


def _local_crops(augment: Any, channels: int, size: int) -> dict[str, Any]:
    """The multi-crop fields of a recipe with local views: their side in pixels, area fraction and blur."""
    return {"augment_local_size": BatchAugment(augment, channels, size).local_size,
            "augment_local_crop_scale": _plain(augment.local_crop_scale), "augment_local_blur_p": augment.local_blur_p}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
