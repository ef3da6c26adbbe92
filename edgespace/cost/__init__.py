"""Analytic cost models: pure functions over layer tables and compiled power modes."""

from edgespace.cost._estimate import (
    ESTIMATE_COLUMNS,
    SOURCE_COLUMNS,
    Estimate,
    estimate,
    estimate_many,
    simulate_thermal,
)
from edgespace.cost._evaluate import Evaluation, evaluate, sustainable_power_w, time_to_throttle_s
from edgespace.cost._graph import Placement, place
from edgespace.cost._params import ModeParams, compile_mode, engine_for, execution_precision, runs_on

__all__ = [
    "ESTIMATE_COLUMNS",
    "SOURCE_COLUMNS",
    "Estimate",
    "Evaluation",
    "ModeParams",
    "Placement",
    "compile_mode",
    "engine_for",
    "estimate",
    "estimate_many",
    "evaluate",
    "execution_precision",
    "place",
    "runs_on",
    "simulate_thermal",
    "sustainable_power_w",
    "time_to_throttle_s",
]
