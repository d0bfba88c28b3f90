"""The ``--encoder SPEC --weights PATH`` flags of ``ssl-bench eval`` and ``ssl-bench probe``
(:class:`ssl_bench.models.inputs.EncoderSettings`)."""

from __future__ import annotations

import argparse

from ssl_bench.commands._flags import add_dataclass_arguments, settings_from
from ssl_bench.core.errors import UserError
from ssl_bench.models.inputs import EncoderSettings


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser.add_argument_group("an encoder trained elsewhere"), EncoderSettings)


def encoder_settings(args: argparse.Namespace) -> EncoderSettings | None:
    """The encoder the flags name (None without --encoder); --weights is required with it."""
    settings = settings_from(args, EncoderSettings)
    if settings.encoder is None:
        for name in ("weights", "image_size", "normalization"):
            if getattr(settings, name) is not None:
                raise UserError(f"--{name.replace('_', '-')} applies to --encoder only; add --encoder SPEC or drop it")
        return None
    if not settings.weights:
        raise UserError(f"--encoder {settings.encoder} needs --weights PATH (or --weights default for the library's "
                        f"published weights)")
    return settings
