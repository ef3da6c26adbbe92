"""Design-space studies: Optuna multi-objective searches over EfficientNet/MobileNet spaces.

``search(space, profile, objectives, constraints, ...)`` drives an Optuna study by ask-and-tell
in batches (one vectorised cost + accuracy evaluation per NSGA-II generation) and returns a
:class:`SearchResult`; ``screen(space, profile, ...)`` evaluates a whole discretised space at
once; ``run_worker(storage, study_name)`` joins a stored study from another process or machine.
Optuna is imported here, so ``edgespace`` loads this package lazily.

The package is named after the thing (a study), not the verb, so that it does not shadow the
function ``edgespace.search`` (Optuna's layout: ``optuna.study`` and ``optuna.create_study``).
Inside: ``_space`` (the space contract and unions), ``_family_space`` (one family each),
``_named_space`` (spaces by name and from storage), ``_objectives`` (objectives, constraints), ``_evaluate`` (one
vectorised evaluation of design points), ``_definition`` (checked inputs, study name, the
definition stored with a study), ``_samplers``, ``_loop`` (the ask/tell loop, ``search``), ``_worker`` (``run_worker``),
``_stale`` (heartbeats, dead workers' trials), ``_result`` (``SearchResult``, ``screen``), ``_load`` (``load_result``: a stored study read back),
``_pareto``, ``_storage``.
"""

from __future__ import annotations

from edgespace.study._confirm import CONFIRMATION_COLUMNS, MEASURED_MACHINE
from edgespace.study._definition import DEFINITION_KEY, RUN_KEY
from edgespace.study._errors import SearchError
from edgespace.study._family_space import EfficientNetSpace, MobileNetSpace
from edgespace.study._journal import repair_journal
from edgespace.study._load import load_result, result_from_study
from edgespace.study._loop import search
from edgespace.study._named_space import SPACE_NAMES, named_space, space_from_dict
from edgespace.study._objectives import METRICS, OBJECTIVES, parse_constraints, parse_objectives
from edgespace.study._pareto import hypervolume, pareto_mask
from edgespace.study._result import SearchResult, screen
from edgespace.study._samplers import SAMPLERS
from edgespace.study._space import Space, UnionSpace
from edgespace.study._storage import storage_file, storage_files
from edgespace.study._worker import run_worker

__all__ = [
    "CONFIRMATION_COLUMNS",
    "MEASURED_MACHINE",
    "DEFINITION_KEY",
    "RUN_KEY",
    "EfficientNetSpace",
    "METRICS",
    "MobileNetSpace",
    "OBJECTIVES",
    "SAMPLERS",
    "SPACE_NAMES",
    "SearchError",
    "SearchResult",
    "Space",
    "UnionSpace",
    "hypervolume",
    "load_result",
    "named_space",
    "parse_constraints",
    "parse_objectives",
    "pareto_mask",
    "repair_journal",
    "result_from_study",
    "run_worker",
    "screen",
    "search",
    "space_from_dict",
    "storage_file",
    "storage_files",
]
