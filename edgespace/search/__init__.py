"""Deprecated: the search package is now :mod:`edgespace.study` (kept for one release).

``from edgespace.search import X`` still works and warns; ``edgespace.search(...)`` is the
function :func:`edgespace.study.search`.
"""

from __future__ import annotations

import sys
import types
import warnings

from edgespace.study import *  # noqa: F403 - the shim re-exports the whole public surface
from edgespace.study import __all__  # noqa: F401
from edgespace.study import search as _search

warnings.warn(
    "the package edgespace.search is deprecated and will be removed in the next release; import from "
    "edgespace.study instead (the function edgespace.search is unchanged)",
    DeprecationWarning,
    stacklevel=2,
)


class _CallableModule(types.ModuleType):
    """Why this shim is callable: importing a subpackage makes Python set it as an attribute of
    its parent, so once anything runs ``import edgespace.search`` (this deprecated package),
    ``edgespace.search`` is this module and no longer the function. Forwarding calls to the
    function keeps ``edgespace.search(...)`` working for the release this shim lives."""

    def __call__(self, *args, **kwargs):
        return _search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
