"""Analytic cost models: pure functions over layer tables and compiled power modes."""

from edgespace._lazy import lazy_getattr
from edgespace.cost._estimate import (
    ESTIMATE_COLUMNS,
    SOURCE_COLUMNS,
    Estimate,
    estimate,
    estimate_many,
    simulate_thermal,
)
from edgespace.cost._evaluate import sustainable_power_w

__all__ = [
    "ESTIMATE_COLUMNS",
    "SOURCE_COLUMNS",
    "Estimate",
    "estimate",
    "estimate_many",
    "simulate_thermal",
    "sustainable_power_w",
]

#: Names that left this package's public surface in 0.2 (issue 17): still importable for one
#: release, with a DeprecationWarning naming their home. name -> (module, name there).
_MOVED = {
    "Evaluation": ("edgespace.cost._evaluate", "Evaluation"),
    "ModeParams": ("edgespace.cost._params", "ModeParams"),
    "Placement": ("edgespace.cost._graph", "Placement"),
    "compile_mode": ("edgespace.cost._params", "compile_mode"),
    "engine_for": ("edgespace.cost._params", "engine_for"),
    "evaluate": ("edgespace.cost._evaluate", "evaluate"),
    "execution_precision": ("edgespace.cost._params", "execution_precision"),
    "place": ("edgespace.cost._graph", "place"),
    "runs_on": ("edgespace.cost._params", "runs_on"),
    "time_to_throttle_s": ("edgespace.cost._evaluate", "time_to_throttle_s"),
}
__getattr__ = lazy_getattr("edgespace.cost", {}, _MOVED)
