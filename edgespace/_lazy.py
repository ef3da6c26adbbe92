"""Module attributes loaded on first use, and names kept for one release after they moved.

A package's ``__getattr__`` (PEP 562) is made here once, so that the top level and the
subpackages that load heavy parts lazily (torch, onnxruntime, optuna) do it the same way.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str,
    lazy: Mapping[str, str],
    moved: Mapping[str, tuple[str, ...]] | None = None,
    namespace: dict | None = None,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: a name in ``lazy`` (name -> module) is imported
    from its module on first use and cached in ``namespace`` (the package's ``globals()``); a
    name in ``moved`` (name -> (module, name there[, what to use instead])) still resolves but
    warns with a DeprecationWarning saying where it lives now or what replaces it, on every use
    (it is never cached)."""
    moved = moved or {}

    def __getattr__(name: str) -> Any:
        if name in lazy:
            value = getattr(importlib.import_module(lazy[name]), name)
            if namespace is not None:
                namespace[name] = value
            return value
        if name in moved:
            module, attr, *instead = moved[name]
            use = instead[0] if instead else f"{module}.{attr}"
            warnings.warn(
                f"{package}.{name} is deprecated and will be removed in the next release; use {use}",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(module), attr)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
