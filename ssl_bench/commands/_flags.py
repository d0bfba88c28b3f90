"""Command-line flags generated from a settings dataclass whose fields carry their help
(:func:`ssl_bench.training.config.setting`): one declaration per setting, read by the flags, YAML files and suites alike."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

import yaml

from ssl_bench.core.validation import annotation_types

KEY_VALUE = "KEY=VALUE"  # a dict field: a repeated KEY=VALUE flag, merged into the dict


def _key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key, yaml.safe_load(value)


def _scalar_type(annotation: Any) -> type:
    """int, float, str, bool or dict from a field annotation such as ``int | None`` or ``dict[str, Any]``."""
    kind = annotation_types(annotation)[0][0]
    return typing.get_origin(kind) or kind


def add_dataclass_arguments(parser: argparse.ArgumentParser, settings: type) -> None:
    """One flag per field of ``settings`` (``--field-name`` unless the field names its flag); every default is
    None so that only the flags given override a config file or the dataclass's own defaults."""
    hints = typing.get_type_hints(settings)
    for field in dataclasses.fields(settings):
        meta = field.metadata
        flag = meta.get("flag") or "--" + field.name.replace("_", "-")
        choices = meta.get("choices")
        choices = choices() if callable(choices) else choices
        default = field.default if field.default is not dataclasses.MISSING else None
        help_text = meta["help"] + ("" if default is None else f" (default: {default})")
        kind = _scalar_type(hints[field.name])
        if kind is dict:
            parser.add_argument(flag, dest=field.name, type=_key_value, action="append", default=[],
                                metavar=KEY_VALUE, help=help_text)
        elif kind is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        else:
            parser.add_argument(flag, dest=field.name, type=kind, choices=choices, default=None,
                                metavar=meta.get("metavar"), help=help_text)


def dataclass_values(args: argparse.Namespace, settings: type, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (e.g. a config file's values), then every flag of ``settings`` that was given (dict flags merged
    key by key)."""
    values = dict(base or {})
    for field in dataclasses.fields(settings):
        given = getattr(args, field.name)
        if isinstance(given, list):
            if given:
                values[field.name] = {**(values.get(field.name) or {}), **dict(given)}
        elif given is not None:
            values[field.name] = given
    return values
