"""The solvers: the allowance per inference (closed form, daily runs, bisection on the hourly
model), the most frames per day, the verdict (:func:`feasibility`) and the vectorised metrics a
search uses (:func:`budget_metrics`). Equations: ``_balance.py``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from edgespace._spec import brief
from edgespace.budget._balance import TOL, HourlyModel, simulate, typical_terms
from edgespace.budget._model import Budget, BudgetError
from edgespace.budget._result import FeasibilityResult, reasons
from edgespace.budget._units import J_PER_WH, MAX_DAYS, SECONDS_PER_DAY

__all__ = ["budget_metrics", "energy_per_frame_from", "feasibility"]


# -- the energy per frame: a number, an Estimate or a Measurement --------------------------------


def energy_per_frame_from(obj: Any) -> tuple[float, float | None, str]:
    """``(energy_per_frame_j, inference_s or None, description)`` from an ``Estimate`` or a
    ``Measurement``: anything with ``energy_mj`` per inference (``sustained_energy_mj`` preferred
    when present and not None; a Measurement's ``energy_mj`` is its metered window ÷ inferences),
    and optionally ``sustained_latency_ms`` / ``latency_ms`` (a Measurement: ``latency_p50_ms``).

    A measurement whose ``energy_mj`` is None (no power meter) raises :class:`BudgetError` with
    the reason it gives (``energy_unavailable_reason``, as on a Measurement), never a made-up number.
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
        why = getattr(obj, "energy_unavailable_reason", None)
        raise BudgetError(
            f"estimate: {name}.energy_mj is None: no energy was measured"
            + (f" ({why})" if why else " (no power meter was available)")
            + "; pass energy_per_frame_j=NUMBER or a run with a power meter"
        )
    if (
        isinstance(energy_mj, bool)
        or not isinstance(energy_mj, (int, float, np.integer, np.floating))
        or not math.isfinite(energy_mj)
        or energy_mj < 0
    ):
        raise BudgetError(f"estimate: {name}.{used} = {energy_mj!r} is not allowed; must be a number >= 0 mJ")
    latency_ms = getattr(obj, "sustained_latency_ms", None)
    for key in ("latency_ms", "latency_p50_ms"):
        if latency_ms is None:
            latency_ms = getattr(obj, key, None)
    inference_s = None if latency_ms is None else float(latency_ms) / 1e3
    sources = [
        f"{k.split('_')[0]} {getattr(obj, k)}" for k in ("latency_source", "energy_source") if getattr(obj, k, None)
    ]
    where = f" ({', '.join(sources)})" if sources else ""
    return float(energy_mj) / 1e3, inference_s, f"{name}.{used} = {float(energy_mj):g} mJ{where}"


def _resolve_energy(
    budget: Budget, energy_per_frame_j: Any, energy_per_frame_mj: Any, estimate: Any
) -> tuple[Budget, float, str]:
    given = [
        k
        for k, v in (
            ("energy_per_frame_j", energy_per_frame_j),
            ("energy_per_frame_mj", energy_per_frame_mj),
            ("estimate", estimate),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise BudgetError(
            f"feasibility: give one of energy_per_frame_j, energy_per_frame_mj, estimate; got {', '.join(given)}"
        )
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
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int of hundreds of digits
        finite = False
    if not finite or value < 0:
        raise BudgetError(f"feasibility: {name}: {brief(value)} is not allowed; must be >= 0 {unit} (a finite number)")
    return budget.replace(energy_per_frame_j=float(value) * scale)


# -- allowances ---------------------------------------------------------------------------------


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


def _allowance_never_empty(m: HourlyModel) -> float | None:
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


# -- the entry points ----------------------------------------------------------------------------


def _neutral_allowance(b: Budget, frames: float) -> float | None:
    if frames <= 0:
        return None
    fixed = sum(v for k, v in typical_terms(b, 0.0, frames).items() if k != "inference")
    return (b.typical_harvest_wh * J_PER_WH * b.charge_efficiency - fixed) / frames


def _feasible_at(b: Budget, days: int, e: float, frames: np.ndarray, neutral: bool = True) -> bool:
    """The verdict's two requirements for a frames-per-day series (used to find max frames)."""
    m = HourlyModel.of(b, days, frames)
    typical = float(frames.mean())
    load = sum(typical_terms(b, e, typical).values())
    if neutral and load > b.typical_harvest_wh * J_PER_WH * b.charge_efficiency * (1 + TOL) + 1e-9:
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


def _horizon(where: str, b: Budget, horizon_days: Any) -> int:
    """``horizon_days`` (default: the budget's) as a whole number of days in [1, MAX_DAYS]."""
    if horizon_days is None:
        return b.default_horizon_days()
    if (
        isinstance(horizon_days, bool)
        or not isinstance(horizon_days, (int, np.integer))
        or not 1 <= horizon_days <= MAX_DAYS
    ):
        raise BudgetError(
            f"{where}: horizon_days: {horizon_days!r} is not allowed; must be a whole number of days "
            f"from 1 to {MAX_DAYS:,} (ten years)"
        )
    return int(horizon_days)


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
    if require_energy_neutral is not None and not isinstance(require_energy_neutral, (bool, np.bool_)):
        # "no" is truthy: refuse anything but True, False or None rather than guess
        raise BudgetError(
            f"feasibility: require_energy_neutral: {require_energy_neutral!r} is not allowed; "
            "expected True, False or None (default: required whenever there is a harvest)"
        )
    days = _horizon("feasibility", b, horizon_days)
    m = HourlyModel.of(b, days)

    # the typical day, in closed form
    frames_typ = b.typical_frames
    terms = typical_terms(b, e)
    load_day = sum(terms.values())
    harvest_day = b.typical_harvest_wh * J_PER_WH * b.charge_efficiency
    dominant = max(terms, key=terms.get)
    days_autonomy = b.usable_j / load_day if load_day > 0 else math.inf

    # the hourly simulation
    fixed_h = m.fixed_load()
    load_h = e * m.frames_h + fixed_h
    soc, clipped, unmet = simulate(
        m.harvest_in.ravel(), load_h.ravel(), b.usable_j, b.usable_j * b.initial_soc_fraction
    )

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
    neutral_ok = load_day <= harvest_day * (1 + TOL) + 1e-9 or not require_energy_neutral
    empty_at = np.flatnonzero(unmet > TOL * b.usable_j + 1e-9)
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
    return dataclasses.replace(result, reasons=tuple(reasons(result, neutral_ok, never_empty, require_energy_neutral)))


def budget_metrics(budget: Budget, energy_per_frame_j: Any, *, horizon_days: int | None = None):
    """Budget metrics for many candidate energies per frame at once (one DataFrame row each):
    ``energy_per_frame_j``, ``days_autonomy``, ``daily_margin_j``, ``feasible``,
    ``margin_fraction``. The allowance is computed once (feasibility is monotone in the energy
    per frame), so this is cheap enough for a search to call per generation.

    This is where the search's budget constraint plugs in: group candidates by power
    mode, build ``Budget.from_profile(profile, mode, ...)`` per mode, and call this with the
    candidates' ``sustained_energy_mj / 1e3``; constraints such as ``days_autonomy >= 7`` then
    read these columns.
    """
    import pandas as pd

    e = np.atleast_1d(np.asarray(energy_per_frame_j, dtype=float))
    if e.size and (not np.all(np.isfinite(e)) or e.min() < 0):
        raise BudgetError("budget_metrics: energy_per_frame_j: every value must be a finite number >= 0 J")
    days = _horizon("budget_metrics", budget, horizon_days)
    m = HourlyModel.of(budget, days)
    f = budget.typical_frames
    fixed_day = sum(v for k, v in typical_terms(budget, 0.0).items() if k != "inference")
    load = fixed_day + f * e
    harvest = budget.typical_harvest_wh * J_PER_WH * budget.charge_efficiency
    ok = (load <= harvest * (1 + TOL) + 1e-9) & m.never_empty(e)
    allowance = min(
        (v for v in (_neutral_allowance(budget, f), _allowance_never_empty(m)) if v is not None), default=math.inf
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        autonomy = np.where(load > 0, budget.usable_j / load, np.inf)
        margin = np.where(e > 0, allowance / e - 1.0, np.inf)
    return pd.DataFrame(
        {
            "energy_per_frame_j": e,
            "days_autonomy": autonomy,
            "daily_margin_j": harvest - load,
            "feasible": ok,
            "margin_fraction": margin,
        }
    )
