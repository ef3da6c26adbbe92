"""Deprecated: the search package is now :mod:`edgespace.study` (kept for one release).

``from edgespace.search import X`` still works and warns; ``edgespace.search(...)`` is the
function :func:`edgespace.study.search`.
"""

from __future__ import annotations

import sys
import types
import warnings

from edgespace.study import (
    METRICS,
    OBJECTIVES,
    SAMPLERS,
    SPACE_NAMES,
    EfficientNetSpace,
    MobileNetSpace,
    SearchError,
    SearchResult,
    Space,
    UnionSpace,
    hypervolume,
    named_space,
    pareto_mask,
    run_worker,
    screen,
    search,
    space_from_dict,
)
from edgespace.study._definition import load_search
from edgespace.study._objectives import Constraint, Objective, parse_constraints, parse_objectives
from edgespace.study._pareto import nondominated
from edgespace.study._storage import open_storage, run_dir

_search = search

#: Every name the package exported before it moved (0.1), so that old imports keep working.
__all__ = [
    "Constraint",
    "EfficientNetSpace",
    "METRICS",
    "MobileNetSpace",
    "OBJECTIVES",
    "Objective",
    "SAMPLERS",
    "SPACE_NAMES",
    "SearchError",
    "SearchResult",
    "Space",
    "UnionSpace",
    "hypervolume",
    "load_search",
    "named_space",
    "nondominated",
    "open_storage",
    "pareto_mask",
    "parse_constraints",
    "parse_objectives",
    "run_dir",
    "run_worker",
    "screen",
    "search",
    "space_from_dict",
]

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
