"""One validation layer for every setting: each dataclass field declares its type (the annotation) and its valid
range (``minimum`` / ``exclusive_minimum`` in the field's metadata, set by
:func:`ssl_bench.core.settings.setting`); :func:`check_fields` checks them all before anything runs, whether the values
came from flags, a ``--config`` file or a suite. A bad value is one :class:`UserError` line naming the setting,
the value and what is valid."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from ssl_bench.core.errors import UserError

FLOAT32_MAX = 3.4028234663852886e38  # the largest float32: a float setting beyond it overflows in training


def annotation_types(annotation: Any) -> tuple[list[Any], bool]:
    """(the non-None types of an annotation such as ``int | None``, whether None is allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = list(typing.get_args(annotation))
        return [m for m in members if m is not type(None)], type(None) in members
    return [annotation], False


def _describe(kind: Any, minimum: float | None, exclusive: bool) -> str:
    base = typing.get_origin(kind) or kind
    words = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
             list: "a list", tuple: "a list"}.get(base, getattr(base, "__name__", str(base)))
    return words + ("" if minimum is None else f" {'>' if exclusive else '>='} {minimum:g}")


def _matches(value: Any, kind: Any) -> bool:
    base = typing.get_origin(kind) or kind
    if base is bool:
        return isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if base in (list, tuple):
        return isinstance(value, (list, tuple))
    return isinstance(value, base)


def check_value(name: str, value: Any, annotation: Any, minimum: float | None = None, exclusive: bool = False,
                hint: str = "", maximum: float | None = None) -> None:
    """:class:`UserError` unless ``value`` has the annotated type and lies in the range."""
    kinds, optional = annotation_types(annotation)
    if value is None and optional:
        return
    suffix = f" ({hint})" if hint else ""
    valid = " or ".join(_describe(k, minimum, exclusive) for k in kinds) + (" or unset" if optional else "")
    kind = next((k for k in kinds if _matches(value, k)), None)
    if kind is None:
        raise UserError(f"{name} must be {valid}{suffix}, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if minimum is not None and (value <= minimum if exclusive else value < minimum):
            raise UserError(f"{name} must be {valid}{suffix}, got {value!r}")
        if maximum is not None and value > maximum:
            raise UserError(f"{name} must be at most {maximum:g}{suffix}, got {value!r}")
        if kind is float and abs(value) > FLOAT32_MAX:
            raise UserError(f"{name} must lie within +-{FLOAT32_MAX:.4g} (training computes in float32), got {value!r}")


def check_fields(settings: object) -> None:
    """Every field of the dataclass instance ``settings`` against its annotation, declared range and choices."""
    from ssl_bench.core.settings import declared_choices

    hints = typing.get_type_hints(type(settings))
    for field in dataclasses.fields(settings):
        meta, value = field.metadata, getattr(settings, field.name)
        check_value(field.name, value, hints[field.name], meta.get("minimum"),
                    bool(meta.get("exclusive_minimum")), meta.get("hint", ""), meta.get("maximum"))
        choices = declared_choices(field)
        if value is None or choices is None:
            continue
        for item in value if isinstance(value, list) else [value]:  # a list field: each of its items
            if item not in choices:
                what = field.name.removesuffix("s") if isinstance(value, list) else field.name
                raise UserError(f"unknown {what} {item!r}; choose one of: {', '.join(choices)}")


def check_positive_ints(name: str, values: Any) -> tuple[int, ...]:
    """A non-empty list of integers >= 1 (layer widths), as a tuple."""
    if not isinstance(values, (list, tuple)) or not values or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise UserError(f"{name} must be a non-empty list of integers >= 1, got {values!r}")
    return tuple(values)


def as_list(value: Any) -> list[Any]:
    """A list as given, or one value as a one-item list (YAML lets a list of one be written as the item)."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_mapping(value: Any, what: str) -> dict[str, Any]:
    """``value`` as a dict, or one UserError line saying ``what`` must be a mapping."""
    if not isinstance(value, dict):
        raise UserError(f"{what} must be a mapping of keys to values, got {value!r}")
    return dict(value)


def check_keys(mapping: dict[str, Any], valid: Any, where: str) -> None:
    """One UserError line naming the unknown keys of ``mapping`` and the valid ones."""
    unknown = sorted(set(mapping) - set(valid))
    if unknown:
        raise UserError(f"unknown key(s) {unknown} in {where}; valid keys: {', '.join(sorted(valid))}")
