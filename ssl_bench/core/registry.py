"""A name -> object registry per kind of thing (methods, evaluations, spectral methods, ...), and plugin packages.

A *plugin package* holds one module per registered thing, each registering the name of its file (``alpha_req.py``
registers ``alpha-req``), plus the package's other modules, listed in the package's ``NOT_PLUGINS``. Its names are
therefore known without importing any plugin (:func:`plugin_names`: the CLI's choices and help stay free of torch
and scikit-learn), and its registry imports the plugins the first time it is read: adding a method, an evaluation,
a spectral method, a baseline or an optimiser is adding a file.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from typing import Callable, Generic, Iterator, TypeVar

from ssl_bench.core.errors import UserError

T = TypeVar("T")


_BY_PACKAGE: dict[str, Registry] = {}  # the registry of each plugin package, once its module is imported


def plugin_names(package: str) -> list[str]:
    """The names of ``package``'s registry, sorted: its plugin modules' (file names, ``_`` read as ``-``) and any
    registered so far from elsewhere; only the package's own ``__init__`` is imported.

    Examples
    --------
    >>> plugin_names("ssl_bench.methods")
    ['barlowtwins', 'byol', 'mocov3', 'simclr', 'simsiam', 'vicreg']
    >>> plugin_names("ssl_bench.sources.baselines")
    ['random-init', 'raw-pixels']
    """
    module = importlib.import_module(package)
    skip = set(getattr(module, "NOT_PLUGINS", ()))
    files = {info.name.replace("_", "-") for info in pkgutil.iter_modules(module.__path__)
             if info.name not in skip and not info.name.startswith("_")}
    registry = _BY_PACKAGE.get(package)
    return sorted(files | (set(registry._items) if registry is not None else set()))


class Registry(Generic[T]):
    """Maps names to objects; an unknown name raises :class:`UserError` listing the valid ones.

    With ``package`` (a plugin package), reading the registry first imports every plugin module of that package and
    checks that each registered its own name."""

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self.package = package
        self._items: dict[str, T] = {}
        self._discovered = package is None
        if package is not None:
            _BY_PACKAGE[package] = self

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True  # before importing: a plugin may read the registry while it registers
        for name in plugin_names(self.package):
            importlib.import_module(f"{self.package}.{name.replace('-', '_')}")
            if name not in self._items:
                raise ValueError(f"{self.package}.{name.replace('-', '_')} must register the {self.kind} {name!r} "
                                 f"(a plugin module registers the name of its file)")

    def get(self, name: str) -> T:
        self._discover()
        if not isinstance(name, str) or name not in self._items:
            raise UserError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(sorted(self._items))}")
        return self._items[name]

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return isinstance(name, str) and name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A package's ``__getattr__`` (PEP 562) for ``from package import NAME`` of names defined in its modules
    (``exports``: name -> module), imported only when first asked for: importing the package itself stays cheap."""

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
