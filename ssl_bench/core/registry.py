"""A name -> object registry per kind of thing (methods, evaluations, spectral methods, ...), and plugin packages.

A *plugin package* holds one module per registered thing, each registering the name of its file (``alpha_req.py``
registers ``alpha-req``), plus the package's other modules, listed in the package's ``NOT_PLUGINS``. Its names are
therefore known without importing any plugin (:func:`plugin_names`: the CLI's choices and help stay free of torch
and scikit-learn), and its registry imports the plugins the first time it is read: adding a method, an evaluation,
a spectral method, a baseline or an optimiser is adding a file.

Another installed package adds plugins without editing this one: an entry point in the group named like the plugin
package (``[project.entry-points."ssl_bench.methods"] my-method = "my_package.my_method"``) names the module that
registers it. Its name is known from the package metadata alone (no import), and the registry imports the module
with its own plugins and checks that it registered the entry point's name.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import pkgutil
from typing import TYPE_CHECKING, Callable, Generic, Iterator, TypeVar

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

from ssl_bench.core.errors import UserError

T = TypeVar("T")


_BY_PACKAGE: dict[str, Registry] = {}  # the registry of each plugin package, once its module is imported


def plugin_names(package: str) -> list[str]:
    """The names of ``package``'s registry, sorted: its plugin modules' (file names, ``_`` read as ``-``), the
    entry points of installed packages in the group ``package``, and any registered so far from elsewhere; only the
    package's own ``__init__`` is imported.

    Examples
    --------
    >>> plugin_names("ssl_bench.methods")  # doctest: +NORMALIZE_WHITESPACE
    ['barlowtwins', 'byol', 'dino', 'ijepa', 'lejepa', 'mae', 'mmcr', 'mocov3', 'nnclr', 'simclr', 'simsiam', 'swav',
     'vicreg']
    >>> plugin_names("ssl_bench.sources.baselines")
    ['random-init', 'raw-pixels']
    """
    registry = _BY_PACKAGE.get(package)
    installed = {entry.name for entry in installed_plugins(package)}
    return sorted(plugin_files(package) | installed | (set(registry._items) if registry is not None else set()))


def plugin_files(package: str) -> set[str]:
    """The names of ``package``'s own plugin modules (file names, ``_`` read as ``-``)."""
    module = importlib.import_module(package)
    skip = set(getattr(module, "NOT_PLUGINS", ()))
    return {info.name.replace("_", "-") for info in pkgutil.iter_modules(module.__path__)
            if info.name not in skip and not info.name.startswith("_")}


def installed_plugins(package: str) -> tuple[EntryPoint, ...]:
    """The entry points of other installed packages in the group ``package``."""
    return tuple(entry for entry in installed_entry_points() if entry.group == package)


@functools.cache
def installed_entry_points() -> tuple[EntryPoint, ...]:
    """Every installed entry point, read from the package metadata once per process (the CLI asks a dozen plugin
    packages for their names to build its choices: one scan, not one per package)."""
    from importlib.metadata import distributions

    return tuple(entry for distribution in distributions() for entry in distribution.entry_points)


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
        entries = {entry.name: entry for entry in installed_plugins(self.package)}
        files = plugin_files(self.package)
        for name in sorted(files):
            if name in entries:
                raise UserError(f"{_where(self.kind, entries[name])} has the name of ssl-bench's own {self.kind}; "
                                f"rename its entry point")
            importlib.import_module(f"{self.package}.{name.replace('-', '_')}")
            if name not in self._items:
                raise ValueError(f"{self.package}.{name.replace('-', '_')} must register the {self.kind} {name!r} "
                                 f"(a plugin module registers the name of its file)")
        for entry in entries.values():
            self._load_installed(entry)

    def _load_installed(self, entry: EntryPoint) -> None:
        """Import an installed package's plugin; one line naming the package when it fails or registers another
        name."""
        try:
            entry.load()
        except Exception as err:  # noqa: BLE001 - whatever a third-party module raises, the user sees which it is
            detail = str(err).splitlines()[0][:160] if str(err) else ""
            raise UserError(f"{_where(self.kind, entry)} cannot be loaded ({type(err).__name__}: {detail}); fix or "
                            f"uninstall that package") from None
        if entry.name not in self._items:
            raise UserError(f"{_where(self.kind, entry)} did not register {entry.name!r}; its module must register "
                            f"that name in ssl-bench's {self.kind} registry, or its entry point be renamed")

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


def _where(kind: str, entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    package = f"{dist.name} {dist.version}" if dist is not None else "(unknown)"
    return f"the {kind} {entry.name!r} of the installed package {package} ({entry.value})"
