"""Analytic cost models: pure functions over layer tables and compiled power modes, and the
calibration door every estimate goes through (``CalibrationBase``, ``as_calibration``,
``load_calibration``; :mod:`edgespace.calibration` implements it)."""

from edgespace.cost._calibration_door import (
    APPLIES_KEYS,
    CALIBRATION_PROVIDERS,
    CalibrationBase,
    as_calibration,
    calibration_from_dict,
    load_calibration,
    register_calibration_format,
)
from edgespace.cost._estimate import ESTIMATE_COLUMNS, SOURCE_COLUMNS, Estimate, estimate
from edgespace.cost._estimate_many import estimate_many
from edgespace.cost._evaluate import sustainable_power_w
from edgespace.cost._params import compile_mode, runs_on
from edgespace.cost._thermal_sim import simulate_thermal

__all__ = [
    "APPLIES_KEYS",
    "CALIBRATION_PROVIDERS",
    "CalibrationBase",
    "ESTIMATE_COLUMNS",
    "Estimate",
    "SOURCE_COLUMNS",
    "as_calibration",
    "calibration_from_dict",
    "compile_mode",
    "estimate",
    "estimate_many",
    "load_calibration",
    "register_calibration_format",
    "runs_on",
    "simulate_thermal",
    "sustainable_power_w",
]
