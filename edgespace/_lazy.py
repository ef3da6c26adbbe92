"""Module attributes loaded on first use.

A package's ``__getattr__`` (PEP 562) is made here once, so that the top level and the
subpackages that load heavy parts lazily (torch, onnxruntime, optuna) do it the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, lazy: Mapping[str, str], namespace: dict | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: a name in ``lazy`` (name -> module) is imported
    from its module on first use and cached in ``namespace`` (the package's ``globals()``)."""

    def __getattr__(name: str) -> Any:
        if name in lazy:
            value = getattr(importlib.import_module(lazy[name]), name)
            if namespace is not None:
                namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
