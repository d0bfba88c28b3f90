"""An encoder trained elsewhere (:mod:`ssl_bench.models.pretrained`: torchvision, timm or an ssl-bench backbone
with weights from a state dict or a Lightning checkpoint) as a row, under the same protocol as ssl-bench's runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ssl_bench.core.validation import check_keys, check_mapping
from ssl_bench.data.datasets import test_split, train_split
from ssl_bench.models.inputs import check_input_protocol
from ssl_bench.models.pretrained import pretrained_encoder, wrapped_encoder
from ssl_bench.sources.base import (
    SOURCES,
    BlockRow,
    RowProtocol,
    RowRequest,
    Source,
    SourceRow,
    SuiteContext,
    check_strings,
    suite_file,
)
from ssl_bench.sources.encoding import encoder_splits
from ssl_bench.sources.rows import evaluate_source

BLOCK_KEYS = ("spec", "weights", "image_size", "normalization")
IN_MEMORY = "in memory (Python API)"  # the protocol's weights of an nn.Module given to evaluate_encoder


def _rows(request: RowRequest) -> SourceRow:
    """``request.name``: the encoder's spec; ``settings``: ``weights`` and optional ``image_size``,
    ``normalization``; or, from Python (:func:`ssl_bench.api.evaluate_encoder`), ``module`` (an ``nn.Module``
    named ``request.name``) with its ``channels``."""
    settings = request.settings
    train = train_split(request.dataset, request.subset, request.seed, request.download)
    test = test_split(request.dataset, request.test_subset, request.download)
    if "module" in settings:
        encoder, protocol = wrapped_encoder(settings["module"], request.name, request.backbone, IN_MEMORY,
                                            settings.get("channels") or train.channels, train,
                                            settings.get("image_size"), settings.get("normalization") or "dataset")
    else:
        encoder, protocol = pretrained_encoder(request.name, settings["weights"], train, settings.get("image_size"),
                                               settings.get("normalization"))
    common = {key: protocol.pop(key) for key in ("method", "backbone", "features", "epochs")}
    return SourceRow(encoder_splits(encoder, train, test, request.device),
                     RowProtocol.of_splits(train, test, **common, seed=request.seed, subset=request.subset,
                                           details=protocol))


def _check(request: RowRequest) -> None:
    check_input_protocol(request.settings.get("image_size"), request.settings.get("normalization"))


def _block_rows(block: Any, suite: SuiteContext) -> list[BlockRow]:
    """An ``encoders:`` entry: ``spec``, ``weights`` (relative to the suite file, or ``default``: the library's
    published weights) and optional ``image_size``, ``normalization`` (checked by :func:`_check`)."""
    encoder = check_mapping(block, "each encoders entry (spec:, weights: and optional image_size:, normalization:)")
    check_keys(encoder, BLOCK_KEYS, "encoders")
    check_strings(encoder, ("spec", "weights"), "encoders")
    weights = encoder["weights"]
    if weights != "default":
        weights = str(suite_file(suite, weights, "weights", "encoders"))
    settings = {"subset": suite.subset, "weights": weights, "image_size": encoder.get("image_size"),
                "normalization": encoder.get("normalization")}
    return [BlockRow(encoder["spec"], encoder["spec"], settings)]


SOURCES.register("encoder")(Source(
    kind="encoder", rows=_rows, check=_check, section="encoders", block_rows=_block_rows, order=40, colour="#2ca02c", marker="D",
    description="an encoder trained elsewhere, with its weights (--encoder, encoders:)"))


def evaluate_pretrained(spec: str, weights: str, dataset: str, subset: int | None = None, seed: int = 0,
                        evaluations: Sequence[str] | None = None, device: str = "auto", download: bool = False,
                        image_size: int | None = None, normalization: str | None = None,
                        test_subset: int | None = None) -> dict[str, Any]:
    """Evaluate the encoder SPEC with ``weights`` on ``dataset`` like a trained run."""
    settings = {"weights": weights, "image_size": image_size, "normalization": normalization}
    return evaluate_source("encoder", RowRequest(spec, dataset, spec, subset, seed, settings, device=device,
                                                 download=download, test_subset=test_subset), evaluations)
