"""A finished (or interrupted) training run read back from its directory: its config and its encoder.

A run directory holds ``config.json`` (the :class:`TrainConfig`), ``data.json`` (what the network was built for
and the normalisation it was trained with: channels, image size, per-channel mean and std) and ``checkpoint.pt``.
Loading an encoder reads those three files only; the training split is not decoded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from ssl_bench.core.checkpoint import atomic_write_json, load_checkpoint
from ssl_bench.core.errors import UserError
from ssl_bench.data.augment import VIEW_COUNTS, AugmentConfig
from ssl_bench.methods import METHODS, SSLModel, build_method
from ssl_bench.models.backbones import build_backbone
from ssl_bench.models.encoder import NormalisedEncoder
from ssl_bench.training.config import TrainConfig, make_config

DATA_FILE = "data.json"


def build_model(config: TrainConfig, channels: int, image_size: int) -> SSLModel:
    """The method's network for images of ``channels`` x ``image_size`` x ``image_size`` (random init)."""
    backbone, feature_dim = build_backbone(config.backbone, channels, image_size)
    return build_method(config.method, backbone, feature_dim, **config.method_params)




def augment_of(config: TrainConfig) -> tuple[str, dict[str, Any]]:
    """(recipe name, overrides) of the run's augmentation: the method's recipe, its own changes to it
    (``MethodSpec.augment_defaults``), then the config's ``augment`` on top. A method with fixed view counts
    (two global views for two-view methods) refuses others in one line."""
    spec = METHODS.get(config.method)
    own = {key: spec.augment_defaults.get(key, getattr(AugmentConfig(), key)) for key in VIEW_COUNTS}
    changed = sorted(key for key in VIEW_COUNTS if key in config.augment and config.augment[key] != own[key])
    if spec.views_fixed and changed:
        multi_view = ", ".join(name for name in METHODS.names() if not METHODS.get(name).views_fixed)
        raise UserError(f"{config.method} trains on exactly {own['global_views']} global view(s) and "
                        f"{own['local_views']} local one(s); drop --augment {', '.join(changed)} or choose a "
                        f"multi-view method ({multi_view})")
    return method_augment(config.method, config.augment)


def method_augment(method: str, overrides: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(recipe name, overrides) that ``method`` trains with under ``overrides``: its recipe, its own changes to it
    (``MethodSpec.augment_defaults``), then ``overrides`` on top."""
    spec = METHODS.get(method)
    return spec.augment, {**spec.augment_defaults, **overrides}


def write_data_record(run_dir: Path, channels: int, image_size: int, mean: tuple[float, ...],
                      std: tuple[float, ...], n_images: int) -> None:
    atomic_write_json(run_dir / DATA_FILE, {"channels": channels, "image_size": image_size, "mean": list(mean),
                                            "std": list(std), "n_images": n_images})


def read_history(run_dir: Path) -> list[dict[str, Any]] | None:
    """The run's epoch records (``metrics.json``), or None when the file is missing or unreadable."""
    try:
        return json.loads((Path(run_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None


def last_attempt(history: list[dict[str, Any]] | None) -> int:
    """The highest ``attempt`` among epoch records (a record without one is attempt 1); 0 for no records."""
    return max((record.get("attempt", 1) for record in history or []), default=0)


def read_data_record(run_dir: Path) -> dict[str, Any]:
    path = run_dir / DATA_FILE
    try:
        record = json.loads(path.read_text())
        return {**record, "mean": tuple(record["mean"]), "std": tuple(record["std"])}
    except FileNotFoundError:
        raise UserError(f"{run_dir} has no {DATA_FILE}; it was trained by an older ssl-bench: resume or retrain "
                        "it with ssl-bench train --resume --out " + str(run_dir)) from None
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path} is corrupt ({err}); resume the run (ssl-bench train --resume) to rewrite it") from err


def saved_config(values: dict[str, Any], path: Path) -> TrainConfig:
    """The :class:`TrainConfig` of a run's saved ``config.json`` values; a run written by a newer ssl-bench with
    settings this one does not know is one line saying so."""
    from dataclasses import fields

    from ssl_bench import __version__

    if not isinstance(values, dict):
        raise UserError(f"{path} is corrupt (not a mapping of settings); retrain the run")
    written_by = values.pop("package_version", None)
    unknown = sorted(set(values) - {f.name for f in fields(TrainConfig)})
    if unknown and isinstance(written_by, str) and _version(written_by) > _version(__version__):
        raise UserError(f"{path} was written by ssl-bench {written_by}, newer than this one ({__version__}), with "
                        f"settings it does not know ({', '.join(unknown)}); upgrade ssl-bench to read it")
    return make_config(values)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in text.split(".")[:3])


def load_run_config(run_dir: Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run directory (no config.json); train one with ssl-bench train")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is corrupt ({err.msg}); retrain the run") from err
    return saved_config(values, path)


def load_encoder(run_dir: str | Path, features: str = "backbone") -> tuple[NormalisedEncoder, TrainConfig]:
    """The trained network of a run as an encoder: uint8 images (N, C, H, W) -> (N, F), in eval mode.

    ``features``: "backbone" (the representation) or "projector" (the embedding the loss sees).
    """
    if features not in ("backbone", "projector"):
        raise UserError(f"unknown features {features!r}; choose backbone or projector")
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    data = read_data_record(run_dir)
    model = build_model(config, data["channels"], data["image_size"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise UserError(f"checkpoint in {run_dir} does not match its config.json; retrain the run") from err
    network = model.backbone if features == "backbone" else nn.Sequential(model.backbone, model.projector)
    return NormalisedEncoder(network, data["mean"], data["std"]).eval(), config
