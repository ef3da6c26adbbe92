"""Feasibility of a :class:`~edgespace.budget.Budget`: the daily energy balance by term, the
allowance per inference, days of autonomy, and an hourly state-of-charge simulation.

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
import math
from typing import Any

import numpy as np

from edgespace.budget._model import J_PER_WH, SECONDS_PER_DAY, Budget, BudgetError

__all__ = ["FeasibilityResult", "TERMS", "budget_metrics", "energy_per_frame_from", "feasibility"]

#: The terms of the daily energy balance, in report order.
TERMS = ("inference", "idle_awake", "wake", "sleep", "capture")
_TERM_LABELS = {
    "inference": "inference",
    "idle_awake": "idle while awake",
    "wake": "wake-ups",
    "sleep": "sleep",
    "capture": "capture",
}
_TOL = 1e-9  # relative tolerance on the battery's capacity for "empty"


# -- the energy per frame: a number, an Estimate or a Measurement --------------------------------


def energy_per_frame_from(obj: Any) -> tuple[float, float | None, str]:
    """``(energy_per_frame_j, inference_s or None, description)`` from an ``Estimate`` or a
    ``Measurement``: anything with ``energy_mj`` per inference (``sustained_energy_mj`` preferred
    when present and not None; a Measurement's ``energy_mj`` is its metered window ÷ inferences),
    and optionally ``sustained_latency_ms`` / ``latency_ms`` (a Measurement: ``latency_p50_ms``).

    A measurement whose ``energy_mj`` is None (no power meter) raises :class:`BudgetError` with
    the reason it gives (``energy_reason``, ``reason`` or ``note``), never a made-up number.
    """
    name = type(obj).__name__
    sustained = getattr(obj, "sustained_energy_mj", None)
    if sustained is not None:
        energy_mj, used = sustained, "sustained_energy_mj"
    elif hasattr(obj, "energy_mj"):
        energy_mj, used = obj.energy_mj, "energy_mj"
    else:
        raise BudgetError(
            f"estimate: a {name} has no energy_mj; pass an Estimate or Measurement, or energy_per_frame_j=NUMBER"
        )
    if energy_mj is None:
        why = next((getattr(obj, k) for k in ("energy_unavailable_reason", "energy_reason", "reason", "note")
                    if getattr(obj, k, None)), None)  # fmt: skip
        raise BudgetError(
            f"estimate: {name}.energy_mj is None: no energy was measured"
            + (f" ({why})" if why else " (no power meter was available)")
            + "; pass energy_per_frame_j=NUMBER or a run with a power meter"
        )
    if isinstance(energy_mj, bool) or not isinstance(energy_mj, (int, float, np.integer, np.floating)) or not math.isfinite(energy_mj) or energy_mj < 0:
        raise BudgetError(f"estimate: {name}.{used} = {energy_mj!r} is not allowed; must be a number >= 0 mJ")
    latency_ms = getattr(obj, "sustained_latency_ms", None)
    for key in ("latency_ms", "latency_p50_ms"):
        if latency_ms is None:
            latency_ms = getattr(obj, key, None)
    inference_s = None if latency_ms is None else float(latency_ms) / 1e3
    return float(energy_mj) / 1e3, inference_s, f"{name}.{used} = {float(energy_mj):g} mJ"


def _resolve_energy(
    budget: Budget, energy_per_frame_j: Any, energy_per_frame_mj: Any, estimate: Any
) -> tuple[Budget, float, str]:
    given = [k for k, v in (("energy_per_frame_j", energy_per_frame_j), ("energy_per_frame_mj", energy_per_frame_mj), ("estimate", estimate)) if v is not None]  # fmt: skip
    if len(given) > 1:
        raise BudgetError(f"feasibility: give one of energy_per_frame_j, energy_per_frame_mj, estimate; got {', '.join(given)}")
    if energy_per_frame_j is not None and not isinstance(energy_per_frame_j, (int, float, np.integer, np.floating)):
        estimate, energy_per_frame_j = energy_per_frame_j, None  # an Estimate passed positionally
    if estimate is not None:
        e, inference_s, what = energy_per_frame_from(estimate)
        if inference_s is not None and budget.inference_s is None:
            budget = budget.replace(inference_s=inference_s)
        return budget.replace(energy_per_frame_j=e), e, what
    if energy_per_frame_mj is not None:
        b = _replace_energy(budget, "energy_per_frame_mj", energy_per_frame_mj, 1e-3)
        return b, b.energy_per_frame_j, f"{energy_per_frame_mj:g} mJ per frame (given)"
    if energy_per_frame_j is not None:
        b = _replace_energy(budget, "energy_per_frame_j", energy_per_frame_j, 1.0)
        return b, b.energy_per_frame_j, f"{energy_per_frame_j:g} J per frame (given)"
    if budget.energy_per_frame_j is None:
        raise BudgetError(
            "Budget.energy_per_frame_j: missing; pass energy_per_frame_j=J, energy_per_frame_mj=MJ or "
            "estimate=Estimate to feasibility(), or set it on the Budget"
        )
    return budget, budget.energy_per_frame_j, f"{budget.energy_per_frame_j:g} J per frame (Budget)"


def _replace_energy(budget: Budget, name: str, value: Any, scale: float) -> Budget:
    unit = "mJ" if name.endswith("_mj") else "J"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise BudgetError(f"feasibility: {name}: {value!r} is not allowed; expected a number of {unit}")
    if not math.isfinite(value) or value < 0:
        raise BudgetError(f"feasibility: {name}: {value!r} is not allowed; must be >= 0 {unit}")
    return budget.replace(energy_per_frame_j=float(value) * scale)


# -- the hourly model ----------------------------------------------------------------------------


def _hourly_terms(b: Budget, frames_h: np.ndarray, e: float) -> dict[str, np.ndarray]:
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
class _Model:
    """A budget laid out on an hourly grid over the horizon (arrays of shape (days, 24))."""

    b: Budget
    days: int
    harvest_in: np.ndarray  # J into the battery per hour, after charge efficiency
    frames: np.ndarray  # frames per day, (days,)

    @classmethod
    def of(cls, b: Budget, days: int, frames: np.ndarray | None = None) -> _Model:
        h = b.harvest_series_wh(days) * J_PER_WH * b.charge_efficiency
        harvest_in = h[:, None] * b.daylight_weights()[None, :]
        return cls(b, days, harvest_in, b.frames_series(days) if frames is None else frames)

    @property
    def frames_h(self) -> np.ndarray:
        return self.frames[:, None] * self.b.trigger_weights()[None, :]

    def fixed_load(self) -> np.ndarray:
        """Load per hour without inference (J), (days, 24)."""
        t = _hourly_terms(self.b, self.frames_h, 0.0)
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
        ok = deficit.max(axis=1) <= cap * (1 + _TOL) + 1e-9
        return ok if np.ndim(e) else bool(ok[0])


def _typical_terms(b: Budget, e: float, frames: float | None = None) -> dict[str, float]:
    f = b.typical_frames if frames is None else frames
    t = _hourly_terms(b, f * b.trigger_weights(), e)
    return {k: float(v.sum()) for k, v in t.items()}


def _bisect_max(ok, lo: float, hi: float, iters: int = 200) -> float:
    """Largest x in [lo, hi] with ok(x), given ok(lo) and not ok(hi) and ok monotone decreasing."""
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, abs(hi)):
            break
    return lo


def _allowance_never_empty(m: _Model) -> float | None:
    """Largest energy per frame (J) for which the battery never runs empty; None if no frames
    fall in the horizon or the floor alone empties it whatever the energy per frame."""
    total_frames = float(m.frames.sum())
    if total_frames <= 0:
        return None
    fixed = m.fixed_load()
    ok = lambda e: m.never_empty(e, fixed)  # noqa: E731
    hi = (m.b.usable_j + float(m.harvest_in.sum())) / total_frames + 1.0
    if ok(hi):  # cannot happen with frames > 0, but never loop forever
        return math.inf
    lo = 0.0
    while not ok(lo):
        lo = -2.0 * abs(lo) - 1.0  # a negative allowance: how much the floor overshoots per frame
        if lo < -1e9:
            return None
    return _bisect_max(ok, lo, hi)


def _allowance_daily_runs(b: Budget, days: int, fixed_day: np.ndarray, frames: np.ndarray) -> float | None:
    """The sizing rule at daily resolution: the battery covers every run of days,
    ``max over runs of sum(F_d e + L0_d - eta H_d) <= C_u`` from the initial charge."""
    if frames.sum() <= 0:
        return None
    net0 = fixed_day - b.harvest_series_wh(days) * J_PER_WH * b.charge_efficiency
    cap, d0 = b.usable_j, b.usable_j * (1.0 - b.initial_soc_fraction)
    # each run [i, j) (or the prefix from the start, which also carries d0) gives a linear bound
    best = math.inf
    c_net = np.concatenate([[0.0], np.cumsum(net0)])
    c_f = np.concatenate([[0.0], np.cumsum(frames)])
    for i in range(days):
        dn = c_net[i + 1 :] - c_net[i]
        df = c_f[i + 1 :] - c_f[i]
        room = cap - dn - (d0 if i == 0 else 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            bounds = np.where(df > 0, room / df, np.where(room >= 0, math.inf, -math.inf))
        best = min(best, float(bounds.min()))
    return None if best == -math.inf else best


# -- the result ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FeasibilityResult:
    """What :func:`feasibility` found. Energies in J (per typical day where named ``daily``),
    times in days or hours as named; ``to_frame()`` is the hourly state-of-charge series,
    ``terms_frame()`` the daily balance by term, ``to_dict()`` everything JSON-ready.
    """

    feasible: bool
    reasons: tuple[str, ...]
    energy_per_frame_j: float
    energy_source: str
    frames_per_day: float
    daily_terms_j: dict[str, float]
    daily_load_j: float
    daily_harvest_j: float
    dominant_term: str
    max_energy_per_frame_j: float | None
    allowance_j: dict[str, float | None]
    margin_fraction: float | None
    daily_margin_j: float
    days_autonomy: float
    cloudy_days: int
    max_frames_per_day: float
    horizon_days: int
    hourly_harvest_j: np.ndarray = dataclasses.field(repr=False)
    hourly_load_j: np.ndarray = dataclasses.field(repr=False)
    soc_j: np.ndarray = dataclasses.field(repr=False)
    clipped_j: np.ndarray = dataclasses.field(repr=False)
    unmet_j: np.ndarray = dataclasses.field(repr=False)
    usable_j: float = 0.0
    budget: Budget | None = dataclasses.field(default=None, repr=False)

    # -- summaries ----------------------------------------------------------------------------
    @property
    def verdict(self) -> str:
        """``"feasible"`` or ``"infeasible"``; the reasons are in :attr:`reasons`."""
        return "feasible" if self.feasible else "infeasible"

    @property
    def energy_clipped_j(self) -> float:
        """Harvest thrown away because the battery was full (J, over the horizon)."""
        return float(self.clipped_j.sum())

    @property
    def energy_unmet_j(self) -> float:
        """Load the battery could not serve because it was empty (J, over the horizon)."""
        return float(self.unmet_j.sum())

    @property
    def time_empty_h(self) -> float:
        """Hours spent empty: each hour counts the share of its load that went unserved."""
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(self.hourly_load_j > 0, self.unmet_j / self.hourly_load_j, 0.0)
        return float(np.clip(share, 0.0, 1.0).sum())

    @property
    def first_empty_hour(self) -> int | None:
        """Index (from hour 0 of day 0) of the first hour the battery ran empty, or None."""
        idx = np.flatnonzero(self.unmet_j > _TOL * self.usable_j + 1e-9)
        return int(idx[0]) if idx.size else None

    @property
    def min_soc_fraction(self) -> float:
        """Lowest charge over the horizon, as a share of the usable capacity."""
        return float(self.soc_j.min() / self.usable_j)

    @property
    def autonomy_margin_days(self) -> float:
        """Days of autonomy with no harvest minus the cloudy days to survive."""
        return self.days_autonomy - self.cloudy_days

    def to_frame(self):
        """The hourly series as a DataFrame: day, hour, harvest/load/clipped/unmet (Wh), soc_wh, soc_fraction."""
        import pandas as pd

        k = np.arange(self.soc_j.size)
        return pd.DataFrame({
            "day": k // 24,
            "hour": k % 24,
            "harvest_wh": self.hourly_harvest_j / J_PER_WH,
            "load_wh": self.hourly_load_j / J_PER_WH,
            "clipped_wh": self.clipped_j / J_PER_WH,
            "unmet_wh": self.unmet_j / J_PER_WH,
            "soc_wh": self.soc_j / J_PER_WH,
            "soc_fraction": self.soc_j / self.usable_j,
        })  # fmt: skip

    def terms_frame(self):
        """The typical day's balance by term: term, j_per_day, wh_per_day, share of the load."""
        import pandas as pd

        total = self.daily_load_j
        rows = [
            {"term": k, "j_per_day": v, "wh_per_day": v / J_PER_WH, "share": (v / total) if total > 0 else 0.0}
            for k, v in self.daily_terms_j.items()
        ]
        return pd.DataFrame(rows)

    def to_dict(self, *, hourly: bool = True) -> dict[str, Any]:
        """Everything as plain JSON types (infinities become None)."""
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "feasible": self.feasible,
            "reasons": list(self.reasons),
            "energy_per_frame_j": self.energy_per_frame_j,
            "energy_source": self.energy_source,
            "frames_per_day": self.frames_per_day,
            "daily_terms_j": dict(self.daily_terms_j),
            "daily_load_j": self.daily_load_j,
            "daily_harvest_j": self.daily_harvest_j,
            "dominant_term": self.dominant_term,
            "max_energy_per_frame_j": self.max_energy_per_frame_j,
            "allowance_j": dict(self.allowance_j),
            "margin_fraction": self.margin_fraction,
            "daily_margin_j": self.daily_margin_j,
            "days_autonomy": self.days_autonomy,
            "cloudy_days": self.cloudy_days,
            "autonomy_margin_days": self.autonomy_margin_days,
            "max_frames_per_day": self.max_frames_per_day,
            "horizon_days": self.horizon_days,
            "usable_j": self.usable_j,
            "energy_clipped_j": self.energy_clipped_j,
            "energy_unmet_j": self.energy_unmet_j,
            "time_empty_h": self.time_empty_h,
            "first_empty_hour": self.first_empty_hour,
            "min_soc_fraction": self.min_soc_fraction,
        }
        if self.budget is not None:
            out["budget"] = dataclasses.asdict(self.budget)
        if hourly:
            out["hourly"] = {k: v.tolist() for k, v in self.to_frame().items()}
        return _jsonable(out)

    def to_text(self) -> str:
        """The verdict, the term table and the allowance, as plain text with units."""
        lines = [f"{self.verdict.upper()}: {self.reasons[0]}"]
        lines += [f"  {r}" for r in self.reasons[1:]]
        lines.append("")
        lines.append(f"typical day ({self.frames_per_day:,.0f} frames at {self.energy_per_frame_j * 1e3:,.1f} mJ; {self.energy_source}):")
        lines.append(f"  {'term':<18}{'Wh/day':>10}{'J/day':>12}{'share':>8}")
        total = self.daily_load_j
        for k, v in self.daily_terms_j.items():
            share = v / total if total > 0 else 0.0
            mark = "  <- dominant" if k == self.dominant_term else ""
            lines.append(f"  {_TERM_LABELS[k]:<18}{v / J_PER_WH:>10.3f}{v:>12,.0f}{share:>8.1%}{mark}")
        lines.append(f"  {'total load':<18}{total / J_PER_WH:>10.3f}{total:>12,.0f}")
        lines.append(f"  {'harvest (net)':<18}{self.daily_harvest_j / J_PER_WH:>10.3f}{self.daily_harvest_j:>12,.0f}")
        lines.append(f"  {'balance':<18}{self.daily_margin_j / J_PER_WH:>+10.3f}{self.daily_margin_j:>+12,.0f}")
        lines.append("")
        lines.append("allowance per inference:")
        max_e = self.max_energy_per_frame_j
        if max_e is not None and max_e < 0:
            lines.append(f"  max energy per frame: none fits: the floors alone overshoot by {_fmt_j(-max_e)} per frame")
        else:
            margin = "" if self.margin_fraction is None else f" ({self.margin_fraction + 1:,.1f}x the {self.energy_per_frame_j * 1e3:,.1f} mJ used)"
            lines.append(f"  max energy per frame: {_fmt_j(max_e)}{margin}")
        names = {
            "energy_neutral": "energy neutral on a typical day",
            "autonomy_daily": "sizing rule (daily runs of deficit)",
            "never_empty_hourly": "hourly simulation never empty",
        }
        for k, v in self.allowance_j.items():
            lines.append(f"    {names.get(k, k):<38}{_fmt_j(v)}")
        lines.append(f"  days of autonomy with no harvest: {self.days_autonomy:,.2f} (cloudy days to survive: {self.cloudy_days})")
        cap = " (the model's limit: one frame per second)" if self.max_frames_per_day >= SECONDS_PER_DAY else ""
        lines.append(f"  max frames per day: {self.max_frames_per_day:,.0f}{cap}")
        lines.append(
            f"  over {self.horizon_days} days: lowest charge {self.min_soc_fraction:.0%}, empty {self.time_empty_h:,.1f} h, "
            f"{self.energy_clipped_j / J_PER_WH:,.1f} Wh lost to a full battery"
        )
        return "\n".join(lines)


def _fmt_j(v: float | None) -> str:
    if v is None:
        return "none fits"
    if math.isinf(v):
        return "unbounded"
    if abs(v) < 1.0:
        return f"{v * 1e3:,.1f} mJ"
    return f"{v:,.3f} J"


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


# -- the entry points ----------------------------------------------------------------------------


def _simulate(harvest_in: np.ndarray, load: np.ndarray, cap: float, s0: float):
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


def _neutral_allowance(b: Budget, frames: float) -> float | None:
    if frames <= 0:
        return None
    fixed = sum(v for k, v in _typical_terms(b, 0.0, frames).items() if k != "inference")
    return (b.typical_harvest_wh * J_PER_WH * b.charge_efficiency - fixed) / frames


def _feasible_at(b: Budget, days: int, e: float, frames: np.ndarray, neutral: bool = True) -> bool:
    """The verdict's two requirements for a frames-per-day series (used to find max frames)."""
    m = _Model.of(b, days, frames)
    typical = float(frames.mean())
    load = sum(_typical_terms(b, e, typical).values())
    if neutral and load > b.typical_harvest_wh * J_PER_WH * b.charge_efficiency * (1 + _TOL) + 1e-9:
        return False
    return bool(m.never_empty(e))


def _max_frames(b: Budget, days: int, e: float, neutral: bool = True) -> float:
    """Largest frames per day (the series scaled as a whole) that stays feasible: a log-spaced
    scan refined by bisection, since merged wakes can make the load non-monotone in the rate."""
    base = b.frames_series(days)
    typ = float(base.mean())
    shape = base / typ if typ > 0 else np.ones(days)
    busy_cap = 3600.0 / (b.trigger_weights().max() * b.busy_s) if b.busy_s > 0 else math.inf
    top = min(SECONDS_PER_DAY, busy_cap)
    if not _feasible_at(b, days, e, shape * 0.0, neutral):
        return 0.0
    grid = np.geomspace(1.0, top, 160) if top > 1 else np.array([top])
    ok = [_feasible_at(b, days, e, shape * f, neutral) for f in grid]
    if ok[-1]:
        return float(top)
    good = [i for i, v in enumerate(ok) if v]
    if not good:
        lo, hi = 0.0, float(grid[0])
    else:
        i = good[-1]
        lo, hi = float(grid[i]), float(grid[i + 1])
    return math.floor(_bisect_max(lambda f: _feasible_at(b, days, e, shape * f, neutral), lo, hi, iters=60))


def feasibility(
    budget: Budget,
    energy_per_frame_j: float | None = None,
    *,
    energy_per_frame_mj: float | None = None,
    estimate: Any = None,
    horizon_days: int | None = None,
    require_energy_neutral: bool | None = None,
) -> FeasibilityResult:
    """Will this budget keep the device alive? Verdict, daily balance by term, allowance per
    inference, autonomy, margins and the hourly state of charge over ``horizon_days``.

    The energy per frame is one of: ``energy_per_frame_j`` (J), ``energy_per_frame_mj`` (mJ),
    ``estimate`` (an ``Estimate`` or ``Measurement``: ``sustained_energy_mj`` preferred over
    ``energy_mj``; its latency becomes ``inference_s`` unless the budget sets it), or the
    budget's own ``energy_per_frame_j``. ``horizon_days`` defaults to
    :meth:`Budget.default_horizon_days` (a series' length, or the cloudy stretch plus a week).

    Requirements: the battery never runs empty over the horizon (hourly simulation, starting at
    ``initial_soc_fraction``), and, when ``require_energy_neutral`` (default: whenever there is
    a harvest), a typical day harvests at least what it uses. With no harvest at all the
    question is only whether the battery lasts the horizon.
    """
    if not isinstance(budget, Budget):
        raise BudgetError(f"feasibility: budget: expected a Budget, got {type(budget).__name__}")
    b, e, source = _resolve_energy(budget, energy_per_frame_j, energy_per_frame_mj, estimate)
    if horizon_days is None:
        days = b.default_horizon_days()
    else:
        if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)) or horizon_days < 1:
            raise BudgetError(f"feasibility: horizon_days: {horizon_days!r} is not allowed; must be a whole number of days >= 1")
        days = int(horizon_days)
    m = _Model.of(b, days)

    # the typical day, in closed form
    frames_typ = b.typical_frames
    terms = _typical_terms(b, e)
    load_day = sum(terms.values())
    harvest_day = b.typical_harvest_wh * J_PER_WH * b.charge_efficiency
    dominant = max(terms, key=terms.get)
    days_autonomy = b.usable_j / load_day if load_day > 0 else math.inf

    # the hourly simulation
    fixed_h = m.fixed_load()
    load_h = e * m.frames_h + fixed_h
    soc, clipped, unmet = _simulate(m.harvest_in.ravel(), load_h.ravel(), b.usable_j, b.usable_j * b.initial_soc_fraction)

    # allowances
    fixed_day = fixed_h.sum(axis=1)
    allowance = {
        "energy_neutral": _neutral_allowance(b, frames_typ),
        "autonomy_daily": _allowance_daily_runs(b, days, fixed_day, m.frames),
        "never_empty_hourly": _allowance_never_empty(m),
    }
    if require_energy_neutral is None:
        require_energy_neutral = b.typical_harvest_wh > 0
    binding = [allowance["never_empty_hourly"]] + ([allowance["energy_neutral"]] if require_energy_neutral else [])
    if any(v is None for v in binding) and m.frames.sum() > 0 and frames_typ > 0:
        max_e = None  # the floor alone fails in hours or days with no frames to trade against
    else:
        known = [v for v in binding if v is not None]
        max_e = min(known) if known else math.inf
    margin = None if (max_e is None or e <= 0 or math.isinf(max_e)) else max_e / e - 1.0

    if require_energy_neutral is None:
        require_energy_neutral = b.typical_harvest_wh > 0
    neutral_ok = load_day <= harvest_day * (1 + _TOL) + 1e-9 or not require_energy_neutral
    empty_at = np.flatnonzero(unmet > _TOL * b.usable_j + 1e-9)
    never_empty = empty_at.size == 0
    feasible = neutral_ok and never_empty
    max_frames = _max_frames(b, days, e, require_energy_neutral)

    result = FeasibilityResult(
        feasible=feasible,
        reasons=(),
        energy_per_frame_j=e,
        energy_source=source,
        frames_per_day=frames_typ,
        daily_terms_j=terms,
        daily_load_j=load_day,
        daily_harvest_j=harvest_day,
        dominant_term=dominant,
        max_energy_per_frame_j=max_e,
        allowance_j=allowance,
        margin_fraction=margin,
        daily_margin_j=harvest_day - load_day,
        days_autonomy=days_autonomy,
        cloudy_days=b.cloudy_days,
        max_frames_per_day=max_frames,
        horizon_days=days,
        hourly_harvest_j=m.harvest_in.ravel(),
        hourly_load_j=load_h.ravel(),
        soc_j=soc,
        clipped_j=clipped,
        unmet_j=unmet,
        usable_j=b.usable_j,
        budget=b,
    )
    return dataclasses.replace(result, reasons=tuple(_reasons(result, neutral_ok, never_empty, require_energy_neutral)))


def _reasons(r: FeasibilityResult, neutral_ok: bool, never_empty: bool, neutral_required: bool) -> list[str]:
    wh = lambda j: f"{j / J_PER_WH:,.2f} Wh"  # noqa: E731
    dom = f"{_TERM_LABELS[r.dominant_term]} dominates ({r.daily_terms_j[r.dominant_term] / r.daily_load_j:.0%} of the load)" if r.daily_load_j > 0 else "no load"
    out = []
    if r.feasible:
        head = f"{r.energy_per_frame_j * 1e3:,.1f} mJ per frame fits"
        if r.max_energy_per_frame_j is not None and not math.isinf(r.max_energy_per_frame_j):
            head += f"; up to {_fmt_j(r.max_energy_per_frame_j)} per frame would"
        out.append(head + f"; {dom}")
    else:
        out.append(f"{r.energy_per_frame_j * 1e3:,.1f} mJ per frame does not fit; {dom}")
    sign = "to spare" if r.daily_margin_j >= 0 else "short"
    status = ("ok" if neutral_ok else "FAIL") if neutral_required else "n/a"
    label = "energy neutral" if neutral_required else "energy neutral (not required: no harvest)"
    out.append(
        f"{status} {label}: a typical day loads {wh(r.daily_load_j)} against "
        f"{wh(r.daily_harvest_j)} harvested: {wh(abs(r.daily_margin_j))} per day {sign}"
    )
    if never_empty:
        k = int(np.argmin(r.soc_j))
        out.append(
            f"ok never empty over {r.horizon_days} days: lowest charge {r.min_soc_fraction:.0%} "
            f"(day {k // 24}, {k % 24 + 1:02d}:00)"
        )
    else:
        k = r.first_empty_hour
        out.append(
            f"FAIL the battery runs empty on day {k // 24} by {k % 24 + 1:02d}:00 and is empty "
            f"{r.time_empty_h:,.1f} h of the {r.horizon_days * 24} h horizon"
        )
    out.append(f"days of autonomy with no harvest: {r.days_autonomy:,.2f} (cloudy days to survive: {r.cloudy_days})")
    return out


def budget_metrics(budget: Budget, energy_per_frame_j: Any, *, horizon_days: int | None = None):
    """Budget metrics for many candidate energies per frame at once (one DataFrame row each):
    ``energy_per_frame_j``, ``days_autonomy``, ``daily_margin_j``, ``feasible``,
    ``margin_fraction``. The allowance is computed once (feasibility is monotone in the energy
    per frame), so this is cheap enough for a search to call per generation.

    This is where the search's budget constraint plugs in (issue #7): group candidates by power
    mode, build ``Budget.from_profile(profile, mode, ...)`` per mode, and call this with the
    candidates' ``sustained_energy_mj / 1e3``; constraints such as ``days_autonomy >= 7`` then
    read these columns.
    """
    import pandas as pd

    e = np.atleast_1d(np.asarray(energy_per_frame_j, dtype=float))
    if e.size and (not np.all(np.isfinite(e)) or e.min() < 0):
        raise BudgetError("budget_metrics: energy_per_frame_j: every value must be a finite number >= 0 J")
    days = budget.default_horizon_days() if horizon_days is None else int(horizon_days)
    m = _Model.of(budget, days)
    f = budget.typical_frames
    fixed_day = sum(v for k, v in _typical_terms(budget, 0.0).items() if k != "inference")
    load = fixed_day + f * e
    harvest = budget.typical_harvest_wh * J_PER_WH * budget.charge_efficiency
    ok = (load <= harvest * (1 + _TOL) + 1e-9) & m.never_empty(e)
    allowance = min(
        (v for v in (_neutral_allowance(budget, f), _allowance_never_empty(m)) if v is not None), default=math.inf
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        autonomy = np.where(load > 0, budget.usable_j / load, np.inf)
        margin = np.where(e > 0, allowance / e - 1.0, np.inf)
    return pd.DataFrame({
        "energy_per_frame_j": e, "days_autonomy": autonomy, "daily_margin_j": harvest - load,
        "feasible": ok, "margin_fraction": margin,
    })  # fmt: skip
