"""Encoders trained elsewhere, evaluated under ssl-bench's protocol: ``--encoder SPEC --weights PATH``.

SPEC is ``torchvision:NAME`` (a torchvision classification model; ImageNet stem), ``timm:NAME`` (any timm model), or
one of ssl-bench's backbones (``resnet18``: torchvision's ResNet-18 with the CIFAR stem, as solo-learn's and
lightly's CIFAR recipes train it). The classification head is removed: features are the pooled penultimate layer.

PATH is a state dict, a Lightning checkpoint (solo-learn, lightly: ``{"state_dict": {"backbone.conv1.weight": ...}}``)
or a plain checkpoint holding one (``model``/``state_dict``); the backbone's keys are found under the usual prefixes
(``backbone.``, ``encoder.``, ``module.``, ``model.`` ...), and ``nn.Sequential(*resnet.children()[:-1])``-style
indices (``backbone.0.weight``, lightly's examples) are mapped to the network's child names. Anything that still
does not fit is one error line naming the missing and unexpected keys. ``--weights default`` takes the library's
own published weights (torchvision / timm download them to their cache on first use).

Images reach the network as the protocol row says: uint8 -> [0, 1], grey replicated to 3 channels when the network
takes 3, resized to ``image_size`` when given, normalised with ImageNet's statistics (``normalization: imagenet``,
what these networks are trained with) or the dataset's (``dataset``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_bench.core.errors import UserError
from ssl_bench.data.augment import normalize
from ssl_bench.models.inputs import IMAGENET_MEAN, IMAGENET_STD, check_input_protocol

HEADS = ("fc", "classifier", "heads", "head")
PREFIXES = ("", "backbone.", "model.backbone.", "encoder.", "model.encoder.", "module.", "module.backbone.",
            "model.", "net.", "online_network.encoder.")


class PretrainedEncoder(nn.Module):
    """uint8 images (N, C, H, W) -> features (N, F) of a network trained elsewhere, under a stated input protocol:
    grey replicated to 3 channels when the network takes 3, normalised (:func:`ssl_bench.data.augment.normalize`),
    resized to ``image_size`` when given (bilinear, antialiased)."""

    def __init__(self, network: nn.Module, in_channels: int, image_size: int | None,
                 mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.network, self.in_channels, self.image_size = network, in_channels, image_size
        self.mean, self.std = mean, std

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[1] == 1 and self.in_channels == 3:
            images = images.expand(-1, 3, -1, -1)
        x = normalize(images, self.mean, self.std)
        if self.image_size is not None and x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True,
                              align_corners=False)
        return self.network(x).flatten(1)


def build_encoder_network(spec: str, weights: str, data_channels: int, image_size: int) -> tuple[nn.Module, int]:
    """(headless network, its input channels) for SPEC with ``weights`` loaded."""
    if spec.startswith("torchvision:"):
        network = _torchvision_network(spec.removeprefix("torchvision:"), weights)
        channels = 3
    elif spec.startswith("timm:"):
        network = _timm_network(spec.removeprefix("timm:"), weights)
        channels = 3
    else:
        from ssl_bench.models.backbones import build_backbone

        network, _ = build_backbone(spec, data_channels, image_size)
        channels = data_channels
        if weights == "default":
            raise UserError(f"{spec} has no published weights of its own; give --weights PATH")
    if weights != "default":
        load_backbone_weights(network, Path(weights))
    return network.eval(), channels


def _torchvision_network(name: str, weights: str) -> nn.Module:
    import torchvision

    if name not in torchvision.models.list_models(module=torchvision.models):
        raise UserError(f"unknown torchvision model {name!r}; see torchvision.models.list_models()")
    network = torchvision.models.get_model(name, weights="DEFAULT" if weights == "default" else None)
    return _without_head(network, name)


def _timm_network(name: str, weights: str) -> nn.Module:
    import timm

    if not timm.list_models(name):
        raise UserError(f"unknown timm model {name!r}; see timm.list_models()")
    return timm.create_model(name, pretrained=weights == "default", num_classes=0)


def _without_head(network: nn.Module, name: str) -> nn.Module:
    for head in HEADS:
        if isinstance(getattr(network, head, None), (nn.Linear, nn.Sequential)):
            setattr(network, head, nn.Identity())
            return network
    raise UserError(f"torchvision model {name!r} has no classification head named {', '.join(HEADS)}; "
                    f"use timm:NAME or an ssl-bench backbone")


def load_backbone_weights(network: nn.Module, path: Path) -> None:
    """Load the backbone's state dict found in the file at ``path`` into ``network`` (strict, head keys aside)."""
    state = _state_dict_in(_read(path), path)
    expected = set(network.state_dict())
    candidates = [_strip(state, prefix) for prefix in PREFIXES]
    candidates += [_children_by_index(network, c) for c in candidates]
    best = max(candidates, key=lambda found: len(expected & set(found)))
    best = {key: value for key, value in best.items() if key in expected or key.split(".")[0] not in HEADS}
    missing, unexpected = sorted(expected - set(best)), sorted(set(best) - expected)
    if missing or unexpected:
        raise UserError(f"{path} does not fit this encoder: {_keys(missing)} missing, {_keys(unexpected)} unexpected; "
                        f"check --encoder (e.g. torchvision:resnet18 has the ImageNet stem, resnet18 the CIFAR one)")
    try:
        network.load_state_dict(best, strict=True)
    except RuntimeError as err:
        mismatch = re.search(r"size mismatch for ([^:]+): (.*?)(?:\.\s|$)", str(err))
        detail = f"{mismatch.group(1)}: {mismatch.group(2)}" if mismatch else str(err).splitlines()[0]
        raise UserError(f"{path} does not fit this encoder ({detail}); check --encoder") from None


def _read(path: Path) -> Any:
    if not path.is_file():
        raise UserError(f"no weights file at {path}; give --weights PATH (or --weights default for the library's)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same one-line answer
        raise UserError(f"{path} is not a readable torch checkpoint ({type(err).__name__}: "
                        f"{str(err).splitlines()[0][:120]})") from None


def _state_dict_in(obj: Any, path: Path) -> dict[str, Tensor]:
    """The tensor dict inside a checkpoint: itself, or under state_dict / model / model_state / network."""
    for key in ("state_dict", "model", "model_state", "network", "backbone"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            return _state_dict_in(obj[key], path)
    if isinstance(obj, dict) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        return obj
    raise UserError(f"{path} holds no state dict (looked at the top level and under state_dict, model, "
                    f"model_state, network, backbone)")


def _strip(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def _children_by_index(network: nn.Module, state: dict[str, Tensor]) -> dict[str, Tensor]:
    """``0.weight`` -> ``conv1.weight``: keys of ``nn.Sequential(*network.children())`` renamed to child names."""
    names = [name for name, _ in network.named_children()]
    renamed = {}
    for key, value in state.items():
        index, _, rest = key.partition(".")
        if index.isdigit() and int(index) < len(names):
            renamed[f"{names[int(index)]}.{rest}"] = value
    return renamed


def _keys(keys: list[str]) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:4])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > 4 else ''})"


def pretrained_encoder(spec: str, weights: str, train: Any, image_size: int | None = None,
                       normalization: str | None = None) -> tuple[PretrainedEncoder, dict[str, Any]]:
    """The encoder for SPEC/``weights`` on images like ``train``'s, and what the protocol row says about it.

    ``normalization``: imagenet (default for torchvision:/timm: networks) or dataset (default for ssl-bench's
    backbones: ``train``'s per-channel statistics, as ssl-bench's own runs use)."""
    check_input_protocol(image_size, normalization)
    external = spec.startswith(("torchvision:", "timm:"))
    network, channels = build_encoder_network(spec, weights, train.channels, image_size or train.image_size)
    return wrapped_encoder(network, f"encoder:{spec}", spec, weights, channels, train, image_size,
                           normalization or ("imagenet" if external else "dataset"))


def wrapped_encoder(network: nn.Module, method: str, backbone: str, weights: str, channels: int, train: Any,
                    image_size: int | None, normalization: str) -> tuple[PretrainedEncoder, dict[str, Any]]:
    """``network`` (which takes ``channels`` channels) under the input protocol for images like ``train``'s, and
    the protocol row's fields; the network itself is not changed (no mode, no device, no weights)."""
    from ssl_bench.data.datasets import normalization_stats

    check_input_protocol(image_size, normalization)
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if normalization == "imagenet" else normalization_stats(train)
    if channels not in (train.channels, 3):
        raise UserError(f"{backbone} takes {channels} channels but {train.name} has {train.channels}; only grey -> 3 "
                        f"channels is mapped (replicated)")
    if len(mean) != channels and channels != 3:
        raise UserError(f"--normalization {normalization} has {len(mean)} channels but {backbone} takes {channels}; "
                        f"use --normalization dataset")
    protocol = {"method": method, "backbone": backbone, "weights": weights, "features": "backbone",
                "input_size": image_size or train.image_size, "normalization": normalization,
                "normalization_mean": [round(float(m), 6) for m in mean],
                "normalization_std": [round(float(s), 6) for s in std], "epochs": 0}
    return PretrainedEncoder(network, channels, image_size, tuple(mean), tuple(std)), protocol
