"""Names of a package loaded on first access (PEP 562 module ``__getattr__``).

A package ``__init__`` that imported every module it exports would make each of its submodules
cost them all: a sender process imports a few delivery modules, not the tracker, its generated
track methods, Celery's emitter or ``requests``. A package whose ``__getattr__`` and ``__dir__``
come from :func:`exports` imports an exported name's module when the name is first used, and
caches the value in the package.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Iterable, List, Mapping, Tuple


def load(package: str, names: Mapping[str, str], name: str) -> Any:
    """The value of ``package.name``: from the module ``names`` maps it to, else the submodule.

    Args:
        package: The package's ``__name__``.
        names: Exported name -> the module that defines it (relative to ``package``).
        name: The attribute asked for.

    Raises:
        AttributeError: ``name`` is neither an exported name nor a submodule.
    """
    module = names.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, package), name)
    elif name.startswith("__"):
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    else:
        try:
            value = importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
    setattr(sys.modules[package], name, value)
    return value


def names(package: str, exported: Iterable[str]) -> List[str]:
    """``dir()`` of a package: its globals and the names it loads on first access.

    Args:
        package: The package's ``__name__``.
        exported: The names it loads on first access.
    """
    return sorted(set(vars(sys.modules[package])).union(exported))


def exports(
    package: str, names_: Mapping[str, str]
) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package that loads ``names_`` lazily.

    Args:
        package: The package's ``__name__``.
        names_: Exported name -> the module that defines it (relative to ``package``).
    """

    def __getattr__(name: str) -> Any:
        return load(package, names_, name)

    def __dir__() -> List[str]:
        return names(package, names_)

    return __getattr__, __dir__
