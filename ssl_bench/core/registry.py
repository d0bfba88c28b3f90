"""A tiny name -> object registry, one per kind of thing (datasets, backbones, methods, ...)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from typing import Callable, Generic, Iterator, TypeVar

from ssl_bench.core.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; an unknown name raises :class:`UserError` listing the valid ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        if not isinstance(name, str) or name not in self._items:
            raise UserError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(sorted(self._items))}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def import_modules(package: str, path: Iterable[str], skip: set[str]) -> None:
    """Import every module of ``package`` (found on its ``__path__``) except ``skip``: the modules register
    themselves, so adding a method or an evaluation is adding a file."""
    for module in pkgutil.iter_modules(path):
        if module.name not in skip:
            importlib.import_module(f"{package}.{module.name}")
