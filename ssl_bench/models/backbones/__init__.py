"""Backbones (:mod:`ssl_bench.models.backbones.base`), one module each, registered in :data:`BACKBONES` under the
name of their file (a plugin package: :mod:`ssl_bench.core.registry`); ``timm:NAME`` builds any timm model."""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base",)

__all__ = ["BACKBONES", "SMALL_IMAGE_MAX", "build_backbone", "small_image_resnet"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "base"))
