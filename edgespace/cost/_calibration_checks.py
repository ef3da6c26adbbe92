"""Numbers in a calibration file, checked on every load (with or without a stored ``id``).

A calibration drives numbers labelled ``calibrated:<id>`` and ``metered:<id>``, so a file whose
numbers are not finite, or whose fitted weights, powers or measured times are negative, is
refused naming the file, the field and the value. The fits that write these files produce only
finite, non-negative weights (``nnls``), so nothing a real calibration holds is refused.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["check_calibration_numbers"]

#: Fields (last key of the path) whose values must be >= 0.
NON_NEGATIVE = (
    "latency_weights",
    "energy_weights",
    "coef",
    "idle_w",
    "time_us",
    "latency_ms",
    "energy_mj",
    "idle_power_w",
)

#: Parts of a file whose numbers are not used for predictions (the fit's error report).
_SKIP = ("report",)


def _walk(value: Any, where: str, non_negative: bool, problems: list[str]) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            problems.append(f"{where}: {value!r}: allowed: a finite number")
        elif non_negative and value < 0:
            problems.append(f"{where}: {value!r}: allowed: a number >= 0")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if k in _SKIP:
                continue
            _walk(v, f"{where}.{k}" if where else str(k), non_negative or k in NON_NEGATIVE, problems)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _walk(v, f"{where}[{i}]", non_negative, problems)


def check_calibration_numbers(path: str | Path, doc: dict, error: type[Exception]) -> None:
    """Raise ``error`` naming the first number in ``doc`` (a calibration file's JSON) that is not
    finite, or negative where only >= 0 makes sense."""
    problems: list[str] = []
    _walk({k: v for k, v in doc.items() if k not in _SKIP}, "", False, problems)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise error(f"{path}: {problems[0]}{more}")
