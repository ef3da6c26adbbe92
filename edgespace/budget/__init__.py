"""Energy-budget feasibility: will this model, on this device, in this power mode, keep a
battery-powered camera alive?

>>> from edgespace.budget import Budget, feasibility
>>> b = Budget(battery_wh=50, solar_wh_per_day=8, cloudy_days=7, frames_per_day=2000)
>>> r = feasibility(b, energy_per_frame_mj=70)
>>> r.verdict, r.dominant_term, r.max_energy_per_frame_j

:class:`Budget` holds the battery, the harvest (constant, per-day series or an N-cloudy-days
scenario, spread over daylight as a half-sine), the triggered frames (with an hour-of-day
profile), the per-frame and per-wake overheads, the device's sleep and idle floors and the
duty-cycle policy; ``Budget.from_profile(profile, mode)`` takes the floors from a hardware
profile. :func:`feasibility` returns a :class:`FeasibilityResult`: the verdict and why, the
daily balance by term, the allowance per inference, days of autonomy, margins, the hourly state
of charge and the most frames per day that still fit. Equations: ``edgespace/budget/_balance.py``.
"""

from __future__ import annotations

from edgespace.budget._balance import TERMS
from edgespace.budget._model import POLICIES, Budget, BudgetError
from edgespace.budget._result import FeasibilityResult
from edgespace.budget._solvers import budget_metrics, feasibility

__all__ = [
    "Budget",
    "BudgetError",
    "FeasibilityResult",
    "POLICIES",
    "TERMS",
    "budget_metrics",
    "feasibility",
]
