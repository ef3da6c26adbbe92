"""Design-space search: Optuna multi-objective studies over EfficientNet/MobileNet spaces.

``search(space, profile, objectives, constraints, ...)`` drives an Optuna study by ask-and-tell
in batches (one vectorised cost + accuracy evaluation per NSGA-II generation) and returns a
:class:`SearchResult`; ``screen(space, profile, ...)`` evaluates a whole discretised space at
once; ``run_worker(storage, study_name)`` joins a stored study from another process or machine.
Optuna is imported here, so ``edgespace`` loads this package lazily.
"""

from __future__ import annotations

from edgespace.search._errors import SearchError
from edgespace.search._objectives import METRICS, OBJECTIVES, Constraint, Objective, parse_constraints, parse_objectives
from edgespace.search._pareto import hypervolume, nondominated, pareto_mask
from edgespace.search._search import SAMPLERS, SearchResult, load_search, run_worker, screen, search
from edgespace.search._space import (
    SPACE_NAMES,
    EfficientNetSpace,
    MobileNetSpace,
    Space,
    UnionSpace,
    named_space,
    space_from_dict,
)
from edgespace.search._storage import open_storage, run_dir

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


class _CallableModule(__import__("types").ModuleType):
    """``edgespace.search`` is both this package and the function: importing the package binds
    it as ``edgespace.search`` (Python sets a parent's attribute to its subpackage), so the
    package forwards calls to :func:`search`."""

    def __call__(self, *args, **kwargs):
        return search(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
