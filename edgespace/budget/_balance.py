"""The energy balance of a :class:`~edgespace.budget.Budget`: the daily terms of the load, the
hourly model over a horizon, and the state-of-charge simulation. The solvers that find the
allowances and the verdict are in ``_solvers.py``; the result and its presentation in ``_result.py``.

Equations (J, s, W inside; Wh only at the edges)
------------------------------------------------
Per hour ``h`` of day ``d`` with ``n`` frames (``n = F_d * p_h``, rate ``lam = n / 3600`` per s),
energy per frame ``e``, busy time per frame ``t_b`` (``inference_s``), capture energy ``c``:

* inference ``n * e``; capture ``n * c``.
* ``always_on``: idle awake ``P_idle * (3600 - n t_b)``; no wakes; no sleep.
* ``on_trigger`` with timeout ``tau``: the gap to the next trigger is exponential with rate
  ``lam`` (Poisson arrivals), so a frame is followed by a new wake with probability
  ``exp(-lam tau)`` and keeps the device awake ``E[min(gap, tau)] = (1 - exp(-lam tau)) / lam``:
  wakes ``n exp(-lam tau)``, idle awake time ``3600 (1 - exp(-lam tau))`` (at ``tau -> inf`` the
  device never sleeps; at ``tau = 0`` every frame is its own wake).
* ``periodic`` with period ``T``: ``3600 / T`` wakes, each awake ``tau`` for housekeeping.
* wake-ups ``wakes * E_wake``; sleep ``P_sleep * (3600 - n t_b - idle time - wakes * t_wake)``.

Harvest into the battery in hour ``h``: ``eta * H_d * 3600 * w_h`` (``w_h`` the daylight
half-sine; all harvest is charged through the battery at ``charge_efficiency`` ``eta``, which is
conservative for loads that could run straight off the panel).

Closed forms on a typical day (load ``L(e) = F e + L_0``, ``L_0`` everything but inference;
``L`` is linear in ``e`` because the duty-cycle terms do not depend on ``e``):

* energy neutral: ``L(e) <= eta H``  ->  ``e <= (eta H - L_0) / F``
* days of autonomy with no harvest: ``C_u / L(e)``, ``C_u = battery_wh * usable_fraction * 3600``
* sizing rule for N cloudy days (harvest ``f H``): ``N (L(e) - eta f H) <= C_u``
  -> ``e <= (C_u / N + eta f H - L_0) / F``; in general (any per-day series) the battery must
  cover the worst run of days, ``max over runs of sum(L_d - eta H_d) <= C_u`` starting from the
  initial charge.

The hourly simulation clips the charge to ``[0, C_u]``: ``s_k = clip(s_{k-1} + harvest_k -
load_k, 0, C_u)``; what the clip at ``C_u`` throws away is energy lost to a full battery, what the
clip at 0 leaves unserved is time spent empty. Because the load grows with ``e``, "the battery
never runs empty" is monotone in ``e``; its allowance is found by bisection on the same hourly
model (the deficit below full obeys Lindley's recursion ``D_k = max(0, D_{k-1} + x_k)``, which
vectorises as ``D = S - min(S_min_so_far, -D_0)``). The verdict needs both: energy neutral on a
typical day and never empty over the horizon; ``max_energy_per_frame_j`` is the smaller of their
allowances.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edgespace.budget._model import Budget
from edgespace.budget._units import J_PER_WH

__all__ = ["TERMS", "TOL", "HourlyModel", "hourly_terms", "typical_terms", "simulate"]

#: The terms of the daily energy balance, in report order.
TERMS = ("inference", "idle_awake", "wake", "sleep", "capture")
TOL = 1e-9  # relative tolerance on the battery's capacity for "empty"


def hourly_terms(b: Budget, frames_h: np.ndarray, e: float) -> dict[str, np.ndarray]:
    """Energy per hour (J) by term for frames per hour ``frames_h`` (any shape ending in 24)."""
    n = np.asarray(frames_h, dtype=float)
    busy_s = n * b.busy_s
    lam = n / 3600.0
    zeros = np.zeros_like(n)
    if b.policy == "always_on":
        idle_s = np.maximum(0.0, 3600.0 - busy_s)
        wakes, sleep_s = zeros, zeros
    else:
        if b.policy == "on_trigger":
            wakes = n * np.exp(-lam * b.idle_timeout_s)
            idle_s = 3600.0 * -np.expm1(-lam * b.idle_timeout_s)
        else:  # periodic
            wakes = np.full_like(n, 3600.0 / b.wake_period_s)
            idle_s = wakes * b.idle_timeout_s
        idle_s = np.minimum(idle_s, np.maximum(0.0, 3600.0 - busy_s))
        sleep_s = np.maximum(0.0, 3600.0 - busy_s - idle_s - wakes * b.wake_s)
    return {
        "inference": n * e,
        "idle_awake": b.idle_w * idle_s,
        "wake": wakes * b.wake_energy_j,
        "sleep": b.sleep_w * sleep_s,
        "capture": n * b.capture_energy_j,
    }


@dataclasses.dataclass
class HourlyModel:
    """A budget laid out on an hourly grid over the horizon (arrays of shape (days, 24))."""

    b: Budget
    days: int
    harvest_in: np.ndarray  # J into the battery per hour, after charge efficiency
    frames: np.ndarray  # frames per day, (days,)

    @classmethod
    def of(cls, b: Budget, days: int, frames: np.ndarray | None = None) -> HourlyModel:
        h = b.harvest_series_wh(days) * J_PER_WH * b.charge_efficiency
        harvest_in = h[:, None] * b.daylight_weights()[None, :]
        return cls(b, days, harvest_in, b.frames_series(days) if frames is None else frames)

    @property
    def frames_h(self) -> np.ndarray:
        return self.frames[:, None] * self.b.trigger_weights()[None, :]

    def fixed_load(self) -> np.ndarray:
        """Load per hour without inference (J), (days, 24)."""
        t = hourly_terms(self.b, self.frames_h, 0.0)
        return sum(t[k] for k in TERMS if k != "inference")

    def never_empty(self, e: float | np.ndarray, fixed: np.ndarray | None = None) -> bool | np.ndarray:
        """Whether the battery serves every hour (vectorised over ``e`` if it is an array)."""
        fixed = self.fixed_load() if fixed is None else fixed
        cap = self.b.usable_j
        d0 = cap * (1.0 - self.b.initial_soc_fraction)
        e_arr = np.atleast_1d(np.asarray(e, dtype=float))
        x = e_arr[:, None] * self.frames_h.ravel()[None, :] + (fixed - self.harvest_in).ravel()[None, :]
        s = np.cumsum(x, axis=1)
        deficit = s - np.minimum(np.minimum.accumulate(s, axis=1), -d0)
        ok = deficit.max(axis=1) <= cap * (1 + TOL) + 1e-9
        return ok if np.ndim(e) else bool(ok[0])


def typical_terms(b: Budget, e: float, frames: float | None = None) -> dict[str, float]:
    f = b.typical_frames if frames is None else frames
    t = hourly_terms(b, f * b.trigger_weights(), e)
    return {k: float(v.sum()) for k, v in t.items()}


def simulate(harvest_in: np.ndarray, load: np.ndarray, cap: float, s0: float):
    """Hour-by-hour charge, clipped to [0, cap]; returns (soc, clipped, unmet), J per hour."""
    n = harvest_in.size
    soc, clipped, unmet = np.empty(n), np.zeros(n), np.zeros(n)
    s = s0
    h, ld = harvest_in.tolist(), load.tolist()
    for k in range(n):
        s += h[k] - ld[k]
        if s > cap:
            clipped[k], s = s - cap, cap
        elif s < 0.0:
            unmet[k], s = -s, 0.0
        soc[k] = s
    return soc, clipped, unmet
