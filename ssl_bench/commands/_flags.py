"""Command-line flags generated from settings dataclasses whose fields carry their help, flag, choices and range
(:func:`ssl_bench.core.settings.setting`): one declaration per setting, read by the flags, YAML files and suites
alike. The flags every command shares (``--dataset``, ``--seed``, ``--device``, ``--store``, ``--json``, ...)
are declared once in :mod:`ssl_bench.core.settings` and added by name here."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, TypeVar

import yaml

from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import SHARED, declared_choices
from ssl_bench.core.validation import annotation_types, check_fields

KEY_VALUE = "KEY=VALUE"  # a dict field: a repeated KEY=VALUE flag, merged into the dict
S = TypeVar("S")


def _key_value(text: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as YAML (a number, a list [a, b], a string); a malformed VALUE is one line."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise argparse.ArgumentTypeError(f"{key}={value!r} is not a value ({problem}); write a number, a string or "
                                         f"a complete list such as {key}=[0.2,1.0]") from None


def _comma_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _scalar_type(annotation: Any) -> type:
    """int, float, str, bool, dict or list from a field annotation such as ``int | None`` or ``list[str]``."""
    kind = annotation_types(annotation)[0][0]
    return typing.get_origin(kind) or kind


def add_field_argument(parser: argparse.ArgumentParser | Any, field: dataclasses.Field, annotation: Any,
                       help: str | None = None) -> None:
    """One flag for ``field`` (``--field-name`` unless the field names its flag; a positional argument when its
    metadata says so), with the field's help or ``help``. Its default is None, so that only the flags given
    override a config file or the dataclass's own defaults."""
    meta = {**field.metadata, **({"help": help} if help else {})}
    choices = declared_choices(field)
    default = field.default if field.default is not dataclasses.MISSING else None
    shown = field.default_factory() if field.default_factory is not dataclasses.MISSING else default
    unset = shown is None or shown is False or (isinstance(shown, (list, dict)) and not shown)
    help_text = meta["help"] + ("" if unset else f" (default: {_shown(shown)})")
    if choices and meta.get("metavar") and not meta.get("comma_separated"):
        help_text += f"; one of: {', '.join(choices)}"
    kind = _scalar_type(annotation)
    if meta.get("positional"):
        parser.add_argument(field.name, nargs=None if meta.get("required") else "?", default=None, choices=choices,
                            metavar=meta.get("metavar"), help=help_text)
        return
    flag = meta.get("flag") or "--" + field.name.replace("_", "-")
    if meta.get("required"):
        parser.add_argument(flag, dest=field.name, type=kind, choices=choices, required=True,
                            metavar=meta.get("metavar"), help=help_text)
        return
    if kind is dict:
        parser.add_argument(flag, dest=field.name, type=_key_value, action="append", default=[],
                            metavar=KEY_VALUE, help=help_text)
    elif kind is bool and flag.startswith("--no-"):  # BooleanOptionalAction would read --no-X as X = False
        parser.add_argument(flag, dest=field.name, action="store_const", const=True, default=None, help=help_text)
    elif kind is bool:
        parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None,
                            help=help_text)
    elif kind is list and meta.get("comma_separated"):
        names = f"; from: {', '.join(choices)}" if choices else ""
        parser.add_argument(flag, dest=field.name, type=_comma_list, default=None, metavar=meta.get("metavar"),
                            help=help_text + names)
    elif kind is list:
        parser.add_argument(flag, dest=field.name, nargs="+", choices=choices, default=None,
                            metavar=meta.get("metavar"), help=help_text)
    else:
        parser.add_argument(flag, dest=field.name, type=kind, choices=choices, default=None,
                            metavar=meta.get("metavar"), help=help_text)


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def add_dataclass_arguments(parser: argparse.ArgumentParser | Any, settings: type) -> None:
    """One flag per field of the settings dataclass ``settings``."""
    hints = typing.get_type_hints(settings)
    for field in dataclasses.fields(settings):
        add_field_argument(parser, field, hints[field.name])


def add_shared_argument(parser: argparse.ArgumentParser | Any, name: str, help: str | None = None) -> None:
    """The shared flag ``name`` (a key of :data:`ssl_bench.core.settings.SHARED`), with the command's own help."""
    field, annotation = SHARED[name]
    add_field_argument(parser, field, annotation, help)


def dataclass_values(args: argparse.Namespace, settings: type, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (e.g. a config file's values), then every flag of ``settings`` that was given (dict flags merged
    key by key)."""
    values, hints = dict(base or {}), typing.get_type_hints(settings)
    for field in dataclasses.fields(settings):
        given = getattr(args, field.name)
        if isinstance(given, list) and _scalar_type(hints[field.name]) is dict:
            if given:
                values[field.name] = {**(values.get(field.name) or {}), **dict(given)}
        elif given is not None:
            values[field.name] = given
    return values


def settings_from(args: argparse.Namespace, settings: type[S]) -> S:
    """The settings dataclass ``settings`` from the flags given (its defaults elsewhere), checked field by field."""
    made = settings(**dataclass_values(args, settings))
    check_fields(made)
    return made


def refuse_unused(args: argparse.Namespace, mode: str, applies: dict[str, tuple[str, ...]],
                  modes: dict[str, str]) -> None:
    """One line for a flag given in a mode that would ignore it: ``applies`` maps a field to the modes it acts in,
    ``modes`` a mode to how the user chose it (e.g. ``"run": "a RUN_DIR"``)."""
    for name, where in applies.items():
        given = getattr(args, name, None)
        if mode not in where and given not in (None, []):
            flag = "--" + name.replace("_", "-")
            users = " or ".join(modes[m] for m in where)
            raise UserError(f"{flag} applies to {users} only, not to {modes[mode]}; drop it")
