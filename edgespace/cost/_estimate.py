"""Public cost-model entry points: :func:`estimate`, :func:`estimate_many`, :func:`simulate_thermal`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from edgespace._errors import SpecError
from edgespace._layer_table import layer_skeleton
from edgespace._spec import PRECISIONS, RESOLUTION_RANGE, ArchSpec
from edgespace.archs import list_families
from edgespace.cost._evaluate import Evaluation, evaluate
from edgespace.cost._params import FALLBACK, compile_mode
from edgespace.profiles import HardwareProfile, PowerMode, load_profile

__all__ = ["Estimate", "estimate", "estimate_many", "simulate_thermal", "ESTIMATE_COLUMNS", "SOURCE_COLUMNS"]

#: Scalar fields of an Estimate, as columns of :func:`estimate_many`'s frame.
ESTIMATE_COLUMNS = (
    "latency_ms", "fps", "sustained_fps", "sustained_latency_ms", "time_to_throttle_s",
    "energy_mj", "sustained_energy_mj", "avg_power_w", "sustained_power_w", "sustained_clock_mhz",
    "inferences_per_joule", "weights_mb", "peak_activation_mb", "total_memory_mb", "fits_memory",
    "macs", "params", "runnable", "n_fallback_ops",
)  # fmt: skip

#: Where each row's numbers came from: ``latency_source`` is ``analytic`` or
#: ``calibrated:<id>``; ``energy_source`` is ``analytic`` (the profile's energy model on the
#: analytic latency), ``estimated`` (the profile's energy model on a calibrated latency) or
#: ``metered:<id>`` (a power model fitted to metered runs of calibration ``<id>``).
SOURCE_COLUMNS = ("latency_source", "energy_source")


@dataclass(frozen=True)
class Estimate:
    """Analytic cost of one design point on one power mode. Units are in the names; ``fps`` is
    back-to-back batch-1 throughput from a cold device, ``sustained_*`` after thermal throttling
    has settled; ``energy_mj`` is per inference; memory in 10^6 bytes. ``latency_source`` and
    ``energy_source`` say where the numbers came from (:data:`SOURCE_COLUMNS`)."""

    spec: ArchSpec
    profile: str
    mode: str
    latency_ms: float
    fps: float
    sustained_fps: float
    sustained_latency_ms: float
    time_to_throttle_s: float
    energy_mj: float
    sustained_energy_mj: float
    avg_power_w: float
    sustained_power_w: float
    sustained_clock_mhz: float
    inferences_per_joule: float
    weights_mb: float
    peak_activation_mb: float
    total_memory_mb: float
    fits_memory: bool
    macs: int
    params: int
    runnable: bool
    fallback_ops: tuple[str, ...] = ()
    unsupported_ops: tuple[str, ...] = ()
    latency_source: str = "analytic"
    energy_source: str = "analytic"
    layers: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def n_fallback_ops(self) -> int:
        return len(self.fallback_ops)

    def to_dict(self, layers: bool = False) -> dict:
        """JSON-ready dict (``inf`` becomes ``None``); ``layers=True`` adds the breakdown."""
        out = {"spec": self.spec.to_dict(), "profile": self.profile, "mode": self.mode}
        for name in ESTIMATE_COLUMNS:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[name] = value
        out["latency_source"] = self.latency_source
        out["energy_source"] = self.energy_source
        out["fallback_ops"] = list(self.fallback_ops)
        out["unsupported_ops"] = list(self.unsupported_ops)
        if layers and self.layers is not None:
            out["layers"] = self.layers.to_dict(orient="records")
        return out


def _profile(profile: str | HardwareProfile) -> HardwareProfile:
    return profile if isinstance(profile, HardwareProfile) else load_profile(profile)


def _columns(ev: Evaluation, mp) -> dict[str, np.ndarray]:
    latency_ms = ev.latency_s * 1e3
    with np.errstate(divide="ignore"):
        fps = 1.0 / ev.latency_s
        sustained_latency_ms = 1e3 / ev.sustained_fps
        per_joule = 1.0 / ev.energy_j
    total = ev.weights_bytes + ev.peak_activation_bytes
    n = len(latency_ms)
    return {
        "latency_ms": latency_ms,
        "fps": fps,
        "sustained_fps": ev.sustained_fps,
        "sustained_latency_ms": sustained_latency_ms,
        "time_to_throttle_s": ev.time_to_throttle_s,
        "energy_mj": ev.energy_j * 1e3,
        "sustained_energy_mj": ev.sustained_energy_j * 1e3,
        "avg_power_w": ev.avg_power_w,
        "sustained_power_w": ev.sustained_power_w,
        "sustained_clock_mhz": ev.sustained_clock_hz / 1e6,
        "inferences_per_joule": per_joule,
        "weights_mb": ev.weights_bytes / 1e6,
        "peak_activation_mb": ev.peak_activation_bytes / 1e6,
        "total_memory_mb": total / 1e6,
        "fits_memory": total <= mp.usable_memory_bytes,
        "macs": ev.macs.astype(np.int64),
        "params": np.full(n, ev.params, dtype=np.int64),
        "runnable": np.full(n, ev.runnable),
        "n_fallback_ops": np.full(n, int((ev.placement.engine == FALLBACK).sum())),
    }


def estimate(
    spec: ArchSpec,
    profile: str | HardwareProfile,
    mode: str | None = None,
    *,
    ambient_c: float | None = None,
    calibration=None,
) -> Estimate:
    """Latency, sustained throughput, memory, energy, thermal behaviour and operator coverage of
    ``spec`` on ``profile``'s power mode ``mode`` (default: the profile's default mode).
    ``ambient_c`` overrides the profile's default ambient temperature (°C).

    ``calibration`` (a :class:`~edgespace.Calibration` or the path of a calibration file): where
    it applies (same profile, mode and precision) the latency is the calibrated model's and fps,
    sustained fps, energy and power follow it; elsewhere the analytic value stays.
    ``latency_source`` / ``energy_source`` say which."""
    if not isinstance(spec, ArchSpec):
        raise TypeError(f"estimate() takes an ArchSpec, got {type(spec).__name__}")
    prof = _profile(profile)
    pm: PowerMode = prof.mode(mode)
    mp = compile_mode(pm)
    cal = _calibration(calibration)
    sk = layer_skeleton(spec.family, spec.width, spec.depth, spec.num_classes)
    lat_s, energy_j, sources = _calibrated(cal, prof.name, pm.name, spec.family, spec.width, spec.depth,
                                           spec.num_classes, spec.precision, np.array([spec.resolution]))  # fmt: skip
    ev = evaluate(sk, mp, spec.precision, np.array([spec.resolution]), ambient_c=ambient_c, keep_layers=True,
                  latency_s=lat_s, energy_j=energy_j)  # fmt: skip
    cols = {k: v[0] for k, v in _columns(ev, mp).items()}
    names = np.asarray(sk.name, dtype=object)
    return Estimate(
        spec=spec,
        profile=prof.name,
        mode=pm.name,
        **{k: (bool(v) if k in ("fits_memory", "runnable") else int(v) if k in ("macs", "params") else float(v))
           for k, v in cols.items() if k != "n_fallback_ops"},  # fmt: skip
        fallback_ops=tuple(names[ev.placement.engine == FALLBACK]),
        unsupported_ops=tuple(names[list(ev.placement.unsupported)]),
        latency_source=sources[0],
        energy_source=sources[1],
        layers=ev.layers,
    )


def _calibration(calibration):
    if calibration is None:
        return None
    from edgespace.calibration import as_calibration

    return as_calibration(calibration)


def _calibrated(cal, profile: str, mode: str, family, width, depth, num_classes, precision, resolutions):
    """(latency_s or None, energy_j or None, (latency_source, energy_source)) for one structure
    at ``resolutions`` in ``mode``: the calibration's predictions where it applies."""
    if cal is None or not cal.applies(profile, mode, precision):
        return None, None, ("analytic", "analytic")
    lat_s = cal.predict_resolutions_ms(family, float(width), float(depth), int(num_classes), precision, resolutions) / 1e3
    energy = None
    if mode in cal.power:
        specs = [ArchSpec(family, float(width), float(depth), int(r), precision, int(num_classes)) for r in resolutions]
        energy = cal.predict_energy_mj(mode, specs) / 1e3
    return lat_s, energy, (cal.source, f"metered:{cal.id}" if energy is not None else "estimated")


_REQUIRED = ("family", "width", "depth", "resolution", "precision")


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        if isinstance(frame, Iterable):
            specs = list(frame)
            if all(isinstance(s, ArchSpec) for s in specs):
                return pd.DataFrame([s.to_dict() for s in specs])
        raise TypeError("estimate_many() takes a DataFrame with columns family, width, depth, resolution, precision "
                        "(num_classes optional) or a list of ArchSpec")  # fmt: skip
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise SpecError(f"estimate_many: column(s) {', '.join(missing)} missing; required: {', '.join(_REQUIRED)}")
    out = frame.reset_index(drop=True)
    if "num_classes" not in out.columns:
        out = out.assign(num_classes=1000)
    bad_family = ~out["family"].isin(list_families())
    if bad_family.any():
        i = int(np.flatnonzero(bad_family)[0])
        raise SpecError(f"estimate_many: row {i}: family={out['family'][i]!r}; allowed: {', '.join(list_families())}")
    bad_precision = ~out["precision"].isin(PRECISIONS)
    if bad_precision.any():
        i = int(np.flatnonzero(bad_precision)[0])
        raise SpecError(f"estimate_many: row {i}: precision={out['precision'][i]!r}; allowed: {', '.join(PRECISIONS)}")
    res = out["resolution"].to_numpy()
    lo, hi = RESOLUTION_RANGE
    bad = ~np.isfinite(res.astype(float)) | (res < lo) | (res > hi) | (res != np.round(res))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpecError(f"estimate_many: row {i}: resolution={res[i].item()!r}; allowed: an integer {lo} to {hi}")
    # Width/depth/num_classes: validated once per distinct structure by ArchSpec itself.
    for key in out[["family", "width", "depth", "num_classes"]].drop_duplicates().itertuples(index=False):
        try:
            ArchSpec(key.family, float(key.width), float(key.depth), 224, "fp32", int(key.num_classes))
        except SpecError as exc:
            raise SpecError(f"estimate_many: {exc}") from None
    return out.astype({"resolution": np.int64})


def estimate_many(
    specs_frame: pd.DataFrame | Sequence[ArchSpec],
    profile: str | HardwareProfile,
    modes: Sequence[str] | str | None = None,
    *,
    ambient_c: float | None = None,
    calibration=None,
) -> pd.DataFrame:
    """:func:`estimate` for many design points at once: one row per (input row, mode), with the
    input columns, ``mode``, every scalar Estimate field (:data:`ESTIMATE_COLUMNS`) and where
    the numbers came from (:data:`SOURCE_COLUMNS`). ``modes`` defaults to all modes of the
    profile. Rows sharing a network structure (family, width, depth) are evaluated together,
    vectorised over resolution; a ``calibration`` predicts each structure's resolutions in one
    call of its model (see :func:`estimate`)."""
    prof = _profile(profile)
    cal = _calibration(calibration)
    mode_names = list(prof.modes) if modes is None else [modes] if isinstance(modes, str) else list(modes)
    pms = [prof.mode(m) for m in mode_names]
    frame = _validated(specs_frame)
    n = len(frame)
    blocks = []
    groups = frame.groupby(["family", "width", "depth", "num_classes", "precision"], sort=False).indices
    res_all = frame["resolution"].to_numpy()
    for pm in pms:
        mp = compile_mode(pm)
        cols = {k: np.empty(n, dtype=bool if k in ("fits_memory", "runnable") else
                            np.int64 if k in ("macs", "params", "n_fallback_ops") else np.float64)
                for k in ESTIMATE_COLUMNS}  # fmt: skip
        lat_src = np.full(n, "analytic", dtype=object)
        energy_src = np.full(n, "analytic", dtype=object)
        for (family, width, depth, num_classes, precision), idx in groups.items():
            sk = layer_skeleton(family, float(width), float(depth), int(num_classes))
            lat_s, energy_j, sources = _calibrated(cal, prof.name, pm.name, family, width, depth, num_classes,
                                                   precision, res_all[idx])  # fmt: skip
            ev = evaluate(sk, mp, precision, res_all[idx], ambient_c=ambient_c, latency_s=lat_s, energy_j=energy_j)
            for k, v in _columns(ev, mp).items():
                cols[k][idx] = v
            lat_src[idx], energy_src[idx] = sources
        block = frame.copy()
        block.insert(len(block.columns), "profile", prof.name)
        block.insert(len(block.columns), "mode", pm.name)
        for k in ESTIMATE_COLUMNS:
            block[k] = cols[k]
        block["latency_source"] = lat_src
        block["energy_source"] = energy_src
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True) if len(blocks) > 1 else blocks[0]


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
    calibration=None,
) -> pd.DataFrame:
    """Temperature, DVFS clock, throughput and power over time under continuous (or duty-
    cycled) inference, from the lumped RC model and a step governor: one level down when the hot
    spot reaches the trip, one up when it falls ``hysteresis`` below; at the lowest level above
    the trip the device stops inferring until it cools. ``duty_cycle`` is the fraction of time
    spent inferring (the rest idle). Columns: time_s, temperature_c, level, clock_mhz, fps,
    power_w. The temperature update is the exact solution of the RC equation over each step.
    ``calibration``: as in :func:`estimate` (the calibrated latency drives every DVFS level)."""
    if not 0.0 <= duty_cycle <= 1.0 or not math.isfinite(duty_cycle):
        raise SpecError(f"simulate_thermal(duty_cycle={duty_cycle!r}): allowed: 0 to 1")
    if not (isinstance(duration_s, (int, float)) and 0 < duration_s <= 7 * 86400):
        raise SpecError(f"simulate_thermal(duration_s={duration_s!r}): allowed: > 0 and at most 604800 (a week)")
    prof = _profile(profile)
    pm = prof.mode(mode)
    mp = compile_mode(pm)
    amb = mp.ambient_c if ambient_c is None else float(ambient_c)
    sk = layer_skeleton(spec.family, spec.width, spec.depth, spec.num_classes)
    lat_s, energy_j, _ = _calibrated(_calibration(calibration), prof.name, pm.name, spec.family, spec.width, spec.depth,
                                     spec.num_classes, spec.precision, np.array([spec.resolution]))  # fmt: skip
    ev = evaluate(sk, mp, spec.precision, np.array([spec.resolution]), ambient_c=amb, latency_s=lat_s, energy_j=energy_j)
    if not ev.runnable:
        raise SpecError(f"{spec.short_name()} cannot run on {prof.name}/{pm.name}: unsupported operators")
    level_t = ev.level_latency_s[0]
    level_p = ev.level_power_w[0]
    tau = mp.thermal_resistance_c_per_w * mp.heat_capacity_j_per_c
    dt = float(dt_s) if dt_s is not None else min(1.0, tau / 200.0)
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
            fps = duty_cycle / level_t[level]
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
