"""How a setting is declared, once: a dataclass field carrying its help, flag, choices and valid range.

Flags (:mod:`ssl_bench.commands._flags`), YAML files and suite blocks are all read through these declarations, and
:func:`ssl_bench.core.validation.check_fields` checks every value against them.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ssl_bench.core.devices import DEVICES
from ssl_bench.core.errors import UserError

DEFAULT_DATASET = "fashion-mnist"  # the dataset every command and suite uses when none is named
MIN_SUBSET = 2  # the fewest training images anything can be fitted and evaluated on
MAX_SEED = 2**31 - 1  # seeds (plus per-rank offsets) must stay below 2**32 for numpy and scikit-learn
MANUAL_SUITE = "manual"  # the board of runs recorded by hand (eval --store, runs add, runs import, the Python API)
STORE_ENV = "SSL_BENCH_STORE"  # the results store when --store is not given (else results/ssl_bench.sqlite)


def setting(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = None,
            choices: Callable[[], list[str]] | tuple[str, ...] | None = None, metavar: str | None = None,
            minimum: float | None = None, exclusive_minimum: bool = False, maximum: float | None = None, hint: str = "",
            default_factory: Callable[[], Any] | None = None, positional: bool = False, required: bool = False,
            comma_separated: bool = False) -> Any:
    """A settings field with its command-line help, its choices and its valid range.

    ``flag`` overrides the flag name (default ``--field-name``); ``choices`` may be a callable so that registries are
    read only when a parser is built or a value checked; ``hint`` explains the range in the error message;
    ``positional``: a positional argument (optional unless ``required``); ``comma_separated``: a list given as
    ``A,B,C`` (else as ``A B C``)."""
    metadata = {"help": help, "flag": flag, "choices": choices, "metavar": metavar, "minimum": minimum,
                "exclusive_minimum": exclusive_minimum, "maximum": maximum, "hint": hint, "positional": positional,
                "required": required, "comma_separated": comma_separated}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def declared_choices(field_: dataclasses.Field) -> list[str] | None:
    """The valid values a field declares (a callable's result read now), or None when any value of its type goes."""
    choices = field_.metadata.get("choices")
    return list(choices()) if callable(choices) else (list(choices) if choices is not None else None)


def load_yaml(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML mapping from ``path``; a missing file, bad YAML or a non-mapping is a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} {path} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{what} {path} is not valid YAML: {str(err).splitlines()[0]}") from err
    except UnicodeDecodeError:
        raise UserError(f"{what} {path} is not a text file; give a YAML file") from None
    except OSError as err:
        raise UserError(f"{what} {path} cannot be read: {err.strerror}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} {path} must hold a mapping of keys to values")
    return data


def _field_of(settings: type, name: str) -> dataclasses.Field:
    return {found.name: found for found in dataclasses.fields(settings)}[name]


def default_of(settings: type, name: str) -> Any:
    """The declared default of the field ``name`` of the settings dataclass ``settings``."""
    found = _field_of(settings, name)
    return found.default_factory() if found.default is dataclasses.MISSING else found.default


def setting_like(settings: type, name: str, default: Any = dataclasses.MISSING, help: str | None = None) -> Any:
    """The field ``name`` of the settings dataclass ``settings`` declared again in another one: the same type, range
    and choices, with its own ``default`` and ``help`` where the other one says more (``ssl-bench probe --dim`` is
    :class:`~ssl_bench.spectral.settings.SpectralSettings`' ``dim``)."""
    found = _field_of(settings, name)
    metadata = {**found.metadata, **({"help": help} if help else {})}
    return field(default=found.default if default is dataclasses.MISSING else default, metadata=metadata)


@dataclass(frozen=True)
class SharedSettings:
    """The settings every command means the same way, declared once: a command's settings dataclass takes them
    with :func:`shared`, a hand-built parser with :func:`ssl_bench.commands._flags.add_shared_argument`."""

    dataset: str = setting(DEFAULT_DATASET, metavar="NAME", help="dataset (ssl-bench datasets lists them)")
    subset: int | None = setting(None, minimum=MIN_SUBSET, metavar="N", hint="leave it out for the whole training split",
                                 help="a seeded, class-balanced subset of N training images (default: all of them)")
    test_subset: int | None = setting(None, minimum=MIN_SUBSET, metavar="N", hint="leave it out for the whole test split",
                                      help="score on a class-balanced part of N test images, the same draw for every "
                                           "row (a suite's test_subset; default: the whole test split)")
    seed: int = setting(0, minimum=0, maximum=MAX_SEED, help="seed of the subset and of every random draw after it")
    device: str = setting("auto", choices=DEVICES, help="auto: cuda when a GPU is visible, else cpu")
    download: bool = setting(False, help="download the dataset if missing")
    store: str | None = setting(None, metavar="PATH",
                                help=f"results store (default: ${STORE_ENV} or results/ssl_bench.sqlite)")
    json: bool = setting(False, help="print one JSON object")


SHARED: dict[str, tuple[dataclasses.Field, Any]] = {
    found.name: (found, typing.get_type_hints(SharedSettings)[found.name])
    for found in dataclasses.fields(SharedSettings)}


def shared(name: str, default: Any = dataclasses.MISSING, help: str | None = None) -> Any:
    """The shared setting ``name`` as a field of another settings dataclass (:func:`setting_like`)."""
    return setting_like(SharedSettings, name, default, help)
