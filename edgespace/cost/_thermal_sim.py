"""``simulate_thermal``: temperature, clock and frames per second of one design point over time,
from the same calibrated single-spec evaluation as ``estimate``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from edgespace._errors import SpecError, SpecTypeError
from edgespace._spec import (
    ArchSpec,
    check_ambient_c,
    check_number,
)
from edgespace.cost._estimate import _evaluate_one, _profile
from edgespace.profiles import HardwareProfile

__all__ = ["MAX_THERMAL_STEPS", "simulate_thermal"]


#: Most time steps :func:`simulate_thermal` takes (the frame holds 6 float64 columns per step).
MAX_THERMAL_STEPS = 1_000_000


def simulate_thermal(
    spec: ArchSpec,
    profile: str | HardwareProfile,
    mode: str | None = None,
    duration_s: float = 600.0,
    ambient_c: float | None = None,
    duty_cycle: float = 1.0,
    *,
    dt_s: float | None = None,
    start_c: float | None = None,
    placement: str = "auto",
    calibration=None,
) -> pd.DataFrame:
    """Temperature, DVFS clock, throughput and power over time under continuous (or duty-
    cycled) inference, from the lumped RC model and a step governor: one level down when the hot
    spot reaches the trip, one up when it falls ``hysteresis`` below; at the lowest level above
    the trip the device stops inferring until it cools. ``duty_cycle`` is the fraction of time
    spent inferring (the rest idle). Columns: time_s, temperature_c, level, clock_mhz, fps,
    power_w. The temperature update is the exact solution of the RC equation over each step.
    ``calibration``: as in :func:`estimate` (the calibrated latency drives every DVFS level)."""
    if not isinstance(spec, ArchSpec):
        raise SpecTypeError(f"simulate_thermal() takes an ArchSpec, got {type(spec).__name__}")
    duty_cycle = check_number("simulate_thermal(duty_cycle)", duty_cycle, 0.0, 1.0)
    duration_s = check_number(
        "simulate_thermal(duration_s)",
        duration_s,
        0.0,
        7 * 86400,
        lo_open=True,
        allowed="seconds > 0 and at most 604800 (a week)",
    )
    ambient_c = check_ambient_c(ambient_c, "simulate_thermal(ambient_c)")
    lo_c, hi_c = -60.0, 200.0  # as the profile schema's temperatures
    start_c = (
        None
        if start_c is None
        else check_number(
            "simulate_thermal(start_c)", start_c, lo_c, hi_c, allowed=f"a temperature in °C from {lo_c:g} to {hi_c:g}"
        )
    )
    if dt_s is not None:
        dt_s = check_number("simulate_thermal(dt_s)", dt_s, 0.0, lo_open=True, allowed="seconds > 0")
        if duration_s / dt_s > MAX_THERMAL_STEPS:
            raise SpecError(
                f"simulate_thermal(dt_s={dt_s!r}): {duration_s:g} s in steps of {dt_s:g} s is more than "
                f"{MAX_THERMAL_STEPS:,} steps; allowed: dt_s >= duration_s / {MAX_THERMAL_STEPS:,}"
            )
    prof = _profile(profile)
    pm = prof.mode(mode)
    mp, _, ev, _ = _evaluate_one(spec, prof, pm, placement, calibration, ambient_c)
    amb = mp.ambient_c if ambient_c is None else float(ambient_c)
    if not ev.runnable:
        raise SpecError(f"{spec.short_name()} cannot run on {prof.name}/{pm.name}: unsupported operators")
    level_t = ev.level_latency_s[0]
    level_p = ev.level_power_w[0]
    tau = mp.thermal_resistance_c_per_w * mp.heat_capacity_j_per_c
    dt = float(dt_s) if dt_s is not None else max(min(1.0, tau / 200.0), duration_s / MAX_THERMAL_STEPS)
    steps = int(math.ceil(duration_s / dt))
    temp = amb if start_c is None else float(start_c)
    level, holding = 0, False
    last = len(level_t) - 1
    decay = math.exp(-dt / tau)
    out = np.empty((steps + 1, 6))
    for i in range(steps + 1):
        if holding:
            fps, power = 0.0, mp.idle_w
        else:
            fps = duty_cycle * spec.batch / level_t[level]  # images per second
            power = duty_cycle * level_p[level] + (1 - duty_cycle) * mp.idle_w
        out[i] = (i * dt, temp, level, mp.dvfs_clock_hz[level] / 1e6, fps, power)
        steady = amb + power * mp.thermal_resistance_c_per_w
        temp = steady + (temp - steady) * decay
        if temp >= mp.trip_c:
            if level < last:
                level += 1
            else:
                holding = True
        elif temp <= mp.trip_c - mp.hysteresis_c:
            holding = False
            if level > 0:
                level -= 1
    frame = pd.DataFrame(out, columns=["time_s", "temperature_c", "level", "clock_mhz", "fps", "power_w"])
    return frame.astype({"level": np.int64})
