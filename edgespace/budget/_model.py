"""The :class:`Budget`: a battery, its harvest, the trigger load and the device's power floors.

Every field carries its unit in its name and is SI-like (W, J, s, Wh for the battery and the
harvest because that is how batteries and panels are sold). A ``Budget`` is validated when it is
built: a bad value raises :class:`BudgetError` naming the field, the value and what is allowed.

Time structure
--------------
The model runs over whole days of 24 hours. Per day ``d`` it needs the harvest ``H_d`` (Wh) and
the number of triggered frames ``F_d``; each may be a constant or a per-day series. Within a day:

* the harvest is spread over daylight with a **half-sine** between ``sunrise_h`` and ``sunset_h``
  (clear-sky irradiance on a fixed panel is close to that shape; see ``daylight_profile``).
* frames follow ``trigger_profile`` (24 non-negative weights, hour of day; uniform by default),
  arriving as a Poisson process within each hour.

The cloudy-day scenario (``cloudy_days``, ``cloudy_fraction``, ``cloudy_start_day``) turns a constant
``solar_wh_per_day`` into ``H_d = cloudy_fraction * solar_wh_per_day`` on the cloudy days, unchanged on the others.

Duty-cycle policies
-------------------
``always_on``
    awake all the time: idle power whenever not inferring; no wake-ups, no sleep.
``on_trigger``
    asleep until a trigger; after each frame the device stays awake ``idle_timeout_s`` and goes
    back to sleep if no trigger came. Triggers that arrive within the timeout share one wake.
``periodic``
    asleep; wakes every ``wake_period_s`` (e.g. hourly), runs the frames a low-power front end (PIR +
    microcontroller) has queued since the last wake, stays awake ``idle_timeout_s`` and sleeps again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from edgespace._errors import BudgetError
from edgespace.budget._units import (
    J_PER_WH,
    MAX_DAYS,
    MAX_J,
    MAX_W,
    MAX_WH,
    SECONDS_PER_DAY,
    _fail,
    _number,
    _per_day,
    _ranged,
    daylight_profile,
)

__all__ = ["Budget", "BudgetError", "POLICIES", "PROFILE_FLOORS"]

#: Duty-cycle policies (see the module docstring).
POLICIES = ("always_on", "on_trigger", "periodic")

Policy = Literal["always_on", "on_trigger", "periodic"]
#: The power floors :meth:`Budget.from_profile` can take from a hardware profile and power mode.
PROFILE_FLOORS = ("idle_w", "sleep_w", "wake_s", "wake_energy_j")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Budget:
    """An energy budget: the battery, its harvest, the trigger load and the device's floors.

    Battery and harvest: ``battery_wh`` (nominal capacity), ``usable_fraction`` (depth of
    discharge the chemistry allows), ``charge_efficiency`` (share of harvested energy that ends
    up in the battery; all harvest is assumed to pass through it), ``initial_soc_fraction``
    (charge at the start, as a share of the usable capacity), ``solar_wh_per_day`` (a constant
    for a sunny day, or a per-day series), the cloudy scenario ``cloudy_days`` /
    ``cloudy_fraction`` / ``cloudy_start_day`` (constant harvest only), ``sunrise_h`` /
    ``sunset_h`` (the daylight half-sine).

    Load: ``frames_per_day`` (constant or per-day series), ``trigger_profile`` (24 hour-of-day
    weights, uniform if None), ``energy_per_frame_j`` (optional here; ``feasibility`` may pass
    it), ``inference_s`` (busy time per frame; its energy is inside ``energy_per_frame_j``),
    ``capture_energy_j`` (per frame: sensor, ISP, storage, flash), ``wake_energy_j`` and
    ``wake_s`` (per wake from sleep), ``sleep_w`` (asleep), ``idle_w`` (awake, doing nothing).

    Duty cycle: ``policy`` (``always_on``, ``on_trigger``, ``periodic``), ``idle_timeout_s``
    (awake time after the last frame before sleeping again), ``wake_period_s`` (``periodic``
    only).

    ``provenance`` maps a field name to where its value came from (filled by
    :meth:`from_profile`); it is for reports and takes no part in comparisons.
    """

    battery_wh: float | None = None
    usable_fraction: float = 1.0
    charge_efficiency: float = 1.0
    initial_soc_fraction: float = 1.0
    solar_wh_per_day: float | tuple[float, ...] = 0.0
    cloudy_days: int = 0
    cloudy_fraction: float = 0.0
    cloudy_start_day: int = 0
    sunrise_h: float = 6.0
    sunset_h: float = 18.0
    frames_per_day: float | tuple[float, ...] = 0.0
    trigger_profile: tuple[float, ...] | None = None
    energy_per_frame_j: float | None = None
    inference_s: float | None = None
    capture_energy_j: float = 0.0
    wake_energy_j: float = 0.0
    wake_s: float = 0.0
    sleep_w: float = 0.0
    idle_w: float = 0.0
    policy: Policy = "always_on"
    idle_timeout_s: float = 10.0
    wake_period_s: float | None = None
    provenance: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        put = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731 - frozen dataclass
        if self.battery_wh is None:
            raise BudgetError("Budget.battery_wh: missing; give the battery's nominal capacity in Wh (> 0)")
        put(
            "battery_wh",
            _ranged(
                "battery_wh",
                self.battery_wh,
                0.0,
                MAX_WH,
                lo_open=True,
                what=f"must be > 0 Wh and at most {MAX_WH:g} Wh",
            ),
        )
        fraction = "must be a fraction in (0, 1]"
        put("usable_fraction", _ranged("usable_fraction", self.usable_fraction, 0.0, 1.0, lo_open=True, what=fraction))
        put(
            "charge_efficiency",
            _ranged("charge_efficiency", self.charge_efficiency, 0.0, 1.0, lo_open=True, what=fraction),
        )
        put(
            "initial_soc_fraction",
            _ranged(
                "initial_soc_fraction",
                self.initial_soc_fraction,
                0.0,
                1.0,
                what="must be a fraction in [0, 1] of the usable capacity",
            ),
        )
        put(
            "solar_wh_per_day",
            _per_day(
                "solar_wh_per_day",
                self.solar_wh_per_day,
                hi=MAX_WH,
                what=f"must be >= 0 Wh per day and at most {MAX_WH:g}",
            ),
        )
        for name in ("cloudy_days", "cloudy_start_day"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= MAX_DAYS:
                raise _fail(name, v, f"must be a whole number of days from 0 to {MAX_DAYS:,} (ten years)")
            put(name, int(v))
        if self.cloudy_start_day + self.cloudy_days > MAX_DAYS - 7:
            raise _fail(
                "cloudy_days",
                self.cloudy_days,
                f"cloudy_start_day + cloudy_days must be at most {MAX_DAYS - 7:,} "
                f"(the horizon, a week beyond them, is at most {MAX_DAYS:,} days)",
            )
        put(
            "cloudy_fraction",
            _ranged(
                "cloudy_fraction",
                self.cloudy_fraction,
                0.0,
                1.0,
                what="must be a fraction in [0, 1] of a sunny day's harvest",
            ),
        )
        if isinstance(self.solar_wh_per_day, tuple) and (
            self.cloudy_days or self.cloudy_start_day or self.cloudy_fraction
        ):
            raise BudgetError(
                "Budget.cloudy_days: the cloudy scenario applies to a constant solar_wh_per_day; "
                "a per-day solar_wh_per_day series already says which days are cloudy"
            )
        put("sunrise_h", _ranged("sunrise_h", self.sunrise_h, 0.0, 24.0, what="must be an hour in [0, 24]"))
        put("sunset_h", _ranged("sunset_h", self.sunset_h, 0.0, 24.0, what="must be an hour in [0, 24]"))
        if self.sunset_h <= self.sunrise_h:
            raise _fail("sunset_h", self.sunset_h, f"must be later than sunrise_h ({self.sunrise_h:g})")
        frames_given = self.frames_per_day
        put(
            "frames_per_day",
            _per_day(
                "frames_per_day",
                self.frames_per_day,
                hi=SECONDS_PER_DAY,
                what="must be >= 0 and at most 86,400 frames per day (more frames than seconds in a day)",
            ),
        )
        if self.trigger_profile is not None:
            if isinstance(self.trigger_profile, (str, bytes)) or not isinstance(
                self.trigger_profile, (Sequence, np.ndarray)
            ):
                raise _fail(
                    "trigger_profile", self.trigger_profile, "expected 24 hour-of-day weights (or None for uniform)"
                )
            prof = tuple(
                _ranged(f"trigger_profile[{i}]", v, 0.0, what="weights must be >= 0")
                for i, v in enumerate(self.trigger_profile)
            )
            if len(prof) != 24:
                raise _fail("trigger_profile", f"<{len(prof)} weights>", "expected exactly 24 hour-of-day weights")
            if sum(prof) <= 0:
                raise _fail("trigger_profile", "<all zero>", "at least one hour needs a weight > 0")
            put("trigger_profile", prof)
        if self.energy_per_frame_j is not None:
            put(
                "energy_per_frame_j",
                _ranged(
                    "energy_per_frame_j",
                    self.energy_per_frame_j,
                    0.0,
                    MAX_J,
                    what=f"must be >= 0 J and at most {MAX_J:g} J",
                ),
            )
        if self.inference_s is not None:
            put(
                "inference_s",
                _ranged("inference_s", self.inference_s, 0.0, 3600.0, what="must be >= 0 s and at most 3600 s"),
            )
        for name in ("capture_energy_j", "wake_energy_j"):
            put(name, _ranged(name, getattr(self, name), 0.0, MAX_J, what=f"must be >= 0 J and at most {MAX_J:g} J"))
        put("wake_s", _ranged("wake_s", self.wake_s, 0.0, 3600.0, what="must be >= 0 s and at most 3600 s"))
        for name in ("sleep_w", "idle_w"):
            put(name, _ranged(name, getattr(self, name), 0.0, MAX_W, what=f"must be >= 0 W and at most {MAX_W:g} W"))
        if not isinstance(self.policy, str) or self.policy not in POLICIES:
            raise _fail("policy", self.policy, f"allowed: {', '.join(POLICIES)}")
        put(
            "idle_timeout_s",
            _ranged(
                "idle_timeout_s",
                self.idle_timeout_s,
                0.0,
                365 * SECONDS_PER_DAY,
                what="must be >= 0 s and at most a year (31536000 s)",
            ),
        )
        if self.policy == "periodic":
            given = self.wake_period_s
            if self.wake_period_s is None:
                raise BudgetError(
                    "Budget.wake_period_s: missing; policy 'periodic' needs the time between wakes in s (> 0)"
                )
            put(
                "wake_period_s",
                _ranged(
                    "wake_period_s",
                    self.wake_period_s,
                    0.0,
                    7 * SECONDS_PER_DAY,
                    lo_open=True,
                    what="must be > 0 s and at most 604800 s (a week)",
                ),
            )
            if self.wake_period_s < self.wake_s + self.idle_timeout_s:
                raise _fail(
                    "wake_period_s",
                    given,
                    f"must be at least wake_s + idle_timeout_s = {self.wake_s + self.idle_timeout_s:g} s "
                    "(the device cannot wake again before it has gone back to sleep)",
                )
        elif self.wake_period_s is not None:
            raise _fail(
                "wake_period_s", self.wake_period_s, f"only policy 'periodic' uses it (policy is {self.policy!r})"
            )
        busy = self.inference_s or 0.0
        given_frames = frames_given if isinstance(frames_given, (Sequence, np.ndarray)) else [frames_given]
        for i, f in enumerate(
            self.frames_series(len(self.frames_per_day) if isinstance(self.frames_per_day, tuple) else 1)
        ):
            peak = f * self.trigger_weights().max()
            if peak * busy > 3600.0:
                where = "frames_per_day" if not isinstance(self.frames_per_day, tuple) else f"frames_per_day[{i}]"
                raise _fail(
                    where,
                    given_frames[i],
                    f"with inference_s = {busy:g} s per frame the busiest hour needs {peak * busy:,.0f} s of "
                    "inference, more than the 3,600 s in an hour",
                )
        put("provenance", dict(self.provenance))

    # -- derived quantities -------------------------------------------------------------------
    @property
    def usable_j(self) -> float:
        """Usable capacity: ``battery_wh * usable_fraction * 3600`` (J)."""
        return self.battery_wh * self.usable_fraction * J_PER_WH

    @property
    def busy_s(self) -> float:
        """Time the device spends on one frame's inference (0 when not given)."""
        return self.inference_s or 0.0

    def trigger_weights(self) -> np.ndarray:
        """Share of a day's frames in each of the 24 hours (sums to 1)."""
        w = np.ones(24) if self.trigger_profile is None else np.asarray(self.trigger_profile, dtype=float)
        return w / w.sum()

    def daylight_weights(self) -> np.ndarray:
        """Share of a day's harvest in each of the 24 hours (see :func:`daylight_profile`)."""
        return daylight_profile(self.sunrise_h, self.sunset_h)

    def series_days(self) -> int | None:
        """Length of the shortest per-day series among the harvest and frames, or None if both are constant."""
        lengths = [len(v) for v in (self.solar_wh_per_day, self.frames_per_day) if isinstance(v, tuple)]
        return min(lengths) if lengths else None

    def default_horizon_days(self) -> int:
        """A per-day series' length; else the cloudy stretch plus a week to recover (at least 7 days)."""
        n = self.series_days()
        if n is not None:
            return n
        return max(7, self.cloudy_start_day + self.cloudy_days + 7)

    def harvest_series_wh(self, days: int) -> np.ndarray:
        """Harvest per day (Wh, before charge efficiency) over ``days`` days."""
        h = self.solar_wh_per_day
        if isinstance(h, tuple):
            if len(h) < days:
                raise BudgetError(
                    f"Budget.solar_wh_per_day: the series has {len(h)} days but the horizon is {days} days"
                )
            return np.asarray(h[:days], dtype=float)
        out = np.full(days, float(h))
        lo, hi = self.cloudy_start_day, self.cloudy_start_day + self.cloudy_days
        out[lo:hi] *= self.cloudy_fraction
        return out

    def frames_series(self, days: int) -> np.ndarray:
        """Triggered frames per day over ``days`` days."""
        f = self.frames_per_day
        if isinstance(f, tuple):
            if len(f) < days:
                raise BudgetError(f"Budget.frames_per_day: the series has {len(f)} days but the horizon is {days} days")
            return np.asarray(f[:days], dtype=float)
        return np.full(days, float(f))

    @property
    def typical_harvest_wh(self) -> float:
        """A sunny day's harvest (constant case) or the series' mean (Wh per day, before efficiency)."""
        h = self.solar_wh_per_day
        return float(np.mean(h)) if isinstance(h, tuple) else float(h)

    @property
    def typical_frames(self) -> float:
        """Frames on a typical day: the constant, or the series' mean."""
        f = self.frames_per_day
        return float(np.mean(f)) if isinstance(f, tuple) else float(f)

    def replace(self, **changes: Any) -> Budget:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- plain data ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON data (series as lists, ``provenance`` as a dict); a search
        stores it with its study so that workers rebuild the same budget with :meth:`from_dict`."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else dict(value) if f.name == "provenance" else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Budget:
        """The budget :meth:`to_dict` wrote (lists become per-day series again), validated."""
        if not isinstance(data, Mapping):
            raise BudgetError(f"Budget.from_dict: expected a mapping of fields, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise BudgetError(f"Budget.from_dict: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(names))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def for_mode(self, profile: Any, mode: str) -> Budget:
        """The budget a design in power mode ``mode`` must meet: floors that came from a hardware
        profile (:meth:`from_profile`; see ``provenance``) are taken again from ``mode`` of
        ``profile``; floors given by hand, and every other field, stay as they are."""
        from_profile = [k for k in PROFILE_FLOORS if self.provenance.get(k, "given") != "given"]
        if not from_profile:
            return self
        keep = self.to_dict()
        for k in [*from_profile, "provenance"]:
            keep.pop(k, None)
        return Budget.from_profile(
            profile, mode, **{k: tuple(v) if isinstance(v, list) else v for k, v in keep.items()}
        )

    # -- construction from a hardware profile -------------------------------------------------
    @classmethod
    def from_profile(cls, profile: Any, mode: str | None = None, *, calibration: Any = None, **fields: Any) -> Budget:
        """A budget whose power floors come from a hardware profile and power mode.

        Taken from the profile unless given in ``fields``: ``idle_w`` (the mode's
        ``power.idle_w``), ``sleep_w`` (``standby.sleep_w``), ``wake_s`` (``standby.wake_s``, 0 if
        the profile has none) and ``wake_energy_j``, which profiles do not carry: it is estimated
        as ``wake_s * idle_w`` (resuming runs at roughly the awake idle power). ``provenance``
        records where each came from.

        ``calibration`` (a :class:`~edgespace.calibration.Calibration` or its file): where it holds a power
        model fitted to metered runs of this mode, ``idle_w`` is its measured idle power
        (``metered:<id>``) instead of the profile's.
        """
        from edgespace.profiles import load_profile

        p = load_profile(profile) if isinstance(profile, str) else profile
        m = p.mode(mode)
        prov: dict[str, str] = {}
        floors: dict[str, float] = {}
        where = f"{p.name} mode {m.name}"
        floors["idle_w"] = m.idle_w
        prov["idle_w"] = f"{where}: power.idle_w ({p.resolve_source(m.power.idle_w)})"
        if calibration is not None:
            from edgespace.cost import as_calibration

            cal = as_calibration(calibration)
            pm = cal.power.get(m.name) if cal.applies_to.get("profile") == p.name else None
            if pm is not None:
                floors["idle_w"] = pm.idle_w
                prov["idle_w"] = f"metered:{cal.id}: idle power before the metered runs of {where}"
        floors["sleep_w"] = p.sleep_w
        prov["sleep_w"] = f"{p.name}: standby.sleep_w ({p.resolve_source(p.standby.sleep_w)})"
        if p.standby.wake_s is not None:
            floors["wake_s"] = p.standby.wake_s.value
            prov["wake_s"] = f"{p.name}: standby.wake_s ({p.resolve_source(p.standby.wake_s)})"
        else:
            floors["wake_s"] = 0.0
            prov["wake_s"] = f"{p.name}: the profile gives no standby.wake_s; taken as 0"
        for key in list(floors):
            if key in fields:
                prov[key] = "given"
        wake_s = fields.get("wake_s", floors["wake_s"])
        idle_w = fields.get("idle_w", floors["idle_w"])
        if "wake_energy_j" not in fields:
            floors["wake_energy_j"] = _number("wake_s", wake_s) * _number("idle_w", idle_w)
            prov["wake_energy_j"] = (
                f"estimate: wake_s x idle_w = {wake_s:g} s x {idle_w:g} W (resume runs near awake idle power)"
            )
        else:
            prov["wake_energy_j"] = "given"
        prov.update(fields.pop("provenance", {}) or {})
        return cls(**{**floors, **fields}, provenance=prov)
