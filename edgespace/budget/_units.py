"""The units and bounds a budget's values are held to, the checks that hold them (each error names
the field, the value and what is allowed), and the half-sine a day's harvest follows: the share
of hour ``h`` is ``w_h = (cos(pi (a - r) / L) - cos(pi (b - r) / L)) / 2`` with
``[a, b] = [h, h+1] ∩ [r, s]``, ``r = sunrise_h``, ``s = sunset_h``, ``L = s - r``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgespace._errors import BudgetError
from edgespace._spec import brief

__all__ = ["SECONDS_PER_DAY", "MAX_DAYS", "MAX_WH", "MAX_J", "MAX_W", "J_PER_WH", "daylight_profile"]


SECONDS_PER_DAY = 86_400.0


#: Longest horizon simulated, and longest per-day series or cloudy stretch (days): ten years of
#: hourly steps is ~88k values per array; bounds memory whatever a caller passes.
MAX_DAYS = 3650


#: Upper bounds that catch unit slips (mWh given as Wh, mJ as J) and keep every product finite:
#: 1 MWh of battery or daily harvest, 1 MJ per frame or wake, 10 kW of floor power.
MAX_WH = 1e6


MAX_J = 1e6


MAX_W = 1e4


J_PER_WH = 3_600.0


def _fail(name: str, value: Any, allowed: str) -> BudgetError:
    return BudgetError(f"Budget.{name}: {brief(value)} is not allowed; {allowed}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _fail(name, value, "expected a number (the unit is in the field name)")
    try:
        v = float(value)
    except OverflowError:  # an int of hundreds of digits
        v = math.inf
    if not math.isfinite(v):
        raise _fail(name, value, "expected a finite number")
    return v


def _ranged(name: str, value: Any, lo: float, hi: float | None = None, *, lo_open: bool = False, what: str) -> float:
    v = _number(name, value)
    if (v <= lo if lo_open else v < lo) or (hi is not None and v > hi):
        raise _fail(name, value, what)
    return v


def _per_day(name: str, value: Any, *, hi: float | None = None, what: str) -> float | tuple[float, ...]:
    """A constant or a per-day series of non-negative numbers."""
    if isinstance(value, (str, bytes)) or value is None:
        raise _fail(name, value, f"expected a number or a per-day sequence of numbers; {what}")
    if isinstance(value, (Sequence, np.ndarray)):
        if len(value) > MAX_DAYS:
            raise _fail(name, f"<a series of {len(value):,} days>", f"at most {MAX_DAYS:,} days (ten years)")
        series = tuple(_ranged(f"{name}[{i}]", v, 0.0, hi, what=what) for i, v in enumerate(value))
        if not series:
            raise _fail(name, value, "a per-day series needs at least one day")
        return series
    return _ranged(name, value, 0.0, hi, what=what)


def daylight_profile(sunrise_h: float = 6.0, sunset_h: float = 18.0) -> np.ndarray:
    """Share of a day's harvest in each of the 24 hours: a half-sine from sunrise to sunset.

    ``w_h = (cos(pi (a - r) / L) - cos(pi (b - r) / L)) / 2`` over ``[a, b] = [h, h+1] ∩ [r, s]``;
    the 24 shares sum to 1.
    """
    r, s = float(sunrise_h), float(sunset_h)
    length = s - r
    hours = np.arange(24.0)
    a = np.clip(hours, r, s)
    b = np.clip(hours + 1.0, r, s)
    w = (np.cos(np.pi * (a - r) / length) - np.cos(np.pi * (b - r) / length)) / 2.0
    return w / w.sum()
