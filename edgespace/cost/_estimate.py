"""Public cost-model entry points: :func:`estimate`, :func:`estimate_many`, :func:`simulate_thermal`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edgespace._errors import SpecError, SpecTypeError
from edgespace._json import jsonable
from edgespace._layer_table import layer_skeleton
from edgespace._spec import BATCH_RANGE, PRECISIONS, RESOLUTION_RANGE, ArchSpec, check_ambient_c, check_number, plain
from edgespace.archs import list_families
from edgespace.cost._evaluate import Evaluation, evaluate
from edgespace.cost._params import FALLBACK, compile_mode
from edgespace.profiles import HardwareProfile, PowerMode, load_profile

__all__ = ["Estimate", "estimate", "estimate_many", "simulate_thermal", "ESTIMATE_COLUMNS", "SOURCE_COLUMNS"]

#: Scalar fields of an Estimate, as columns of :func:`estimate_many`'s frame.
ESTIMATE_COLUMNS = (
    "latency_ms",
    "fps",
    "sustained_fps",
    "sustained_latency_ms",
    "time_to_throttle_s",
    "energy_mj",
    "sustained_energy_mj",
    "avg_power_w",
    "sustained_power_w",
    "sustained_clock_mhz",
    "inferences_per_joule",
    "weights_mb",
    "peak_activation_mb",
    "total_memory_mb",
    "fits_memory",
    "macs",
    "params",
    "runnable",
    "n_fallback_ops",
    "n_estimated_inputs",
    "throughput_fps",
)

#: Where each row's numbers came from: ``latency_source`` is ``analytic`` or
#: ``calibrated:<id>``; ``energy_source`` is ``analytic`` (the profile's energy model on the
#: analytic latency), ``estimated`` (the profile's energy model on a calibrated latency) or
#: ``metered:<id>`` (a power model fitted to metered runs of calibration ``<id>``).
SOURCE_COLUMNS = ("latency_source", "energy_source")


@dataclass(frozen=True)
class Estimate:
    """Analytic cost of one design point on one power mode. Units are in the names; memory in
    10^6 bytes; ``sustained_*`` after thermal throttling has settled.

    Batch (``spec.batch`` = B images per call): ``latency_ms`` and ``sustained_latency_ms`` are
    per call of B images; ``throughput_fps`` (= ``fps``) is images per second back to back from
    a cold device, B / latency; ``energy_mj``, ``sustained_energy_mj`` and
    ``inferences_per_joule`` are per image (the energy of one call / B); ``macs`` and
    ``peak_activation_mb`` are per call (B times the image's), ``weights_mb`` is read once per
    call; ``fits_memory`` is at this batch. At B = 1 all of these are per inference.
    ``latency_source`` and ``energy_source`` say where the numbers came from
    (:data:`SOURCE_COLUMNS`)."""

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
    throughput_fps: float = float("nan")
    fallback_ops: tuple[str, ...] = ()
    unsupported_ops: tuple[str, ...] = ()
    layers: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    #: where the network was placed (``auto`` = the profile's primary engine; ``dla`` ...)
    placement: str = "auto"
    #: profile inputs (numbers and operator-support entries) this figure used, and how many of
    #: them are estimates rather than sourced or calibrated values
    n_inputs: int = 0
    n_estimated_inputs: int = 0
    latency_source: str = "analytic"
    energy_source: str = "analytic"

    @property
    def n_fallback_ops(self) -> int:
        return len(self.fallback_ops)

    def to_dict(self, layers: bool = False) -> dict:
        """JSON-ready dict (``inf`` becomes ``None``); ``layers=True`` adds the breakdown."""
        out = {"spec": self.spec.to_dict(), "profile": self.profile, "mode": self.mode, "placement": self.placement}
        out.update({name: getattr(self, name) for name in ESTIMATE_COLUMNS})
        out["fallback_ops"] = list(self.fallback_ops)
        out["unsupported_ops"] = list(self.unsupported_ops)
        out["n_inputs"] = self.n_inputs
        out["latency_source"] = self.latency_source
        out["energy_source"] = self.energy_source
        if layers and self.layers is not None:
            out["layers"] = self.layers.to_dict(orient="records")
        return jsonable(out)


def _profile(profile: str | HardwareProfile) -> HardwareProfile:
    return profile if isinstance(profile, HardwareProfile) else load_profile(profile)


def _columns(ev: Evaluation, mp, precision: str) -> dict[str, np.ndarray]:
    latency_ms = ev.latency_s * 1e3
    b = ev.batch if ev.batch is not None else 1.0
    with np.errstate(divide="ignore"):
        fps = b / ev.latency_s  # images per second
        sustained_latency_ms = 1e3 * b / ev.sustained_fps  # per call
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
        "n_estimated_inputs": np.full(n, int(mp.n_estimated_inputs[PRECISIONS.index(precision)])),
        "throughput_fps": fps,
    }


def estimate(
    spec: ArchSpec,
    profile: str | HardwareProfile,
    mode: str | None = None,
    *,
    ambient_c: float | None = None,
    placement: str = "auto",
    calibration=None,
) -> Estimate:
    """Latency, sustained throughput, memory, energy, thermal behaviour and operator coverage of
    ``spec`` on ``profile``'s power mode ``mode`` (default: the profile's default mode).
    ``ambient_c`` overrides the profile's default ambient temperature (°C). ``placement``:
    ``auto`` (the profile's primary engine) or another placement the mode lists (``dla``: the
    DLA with GPU fallback on Jetson Orin NX / AGX Orin; ``gpu``).

    ``calibration`` (a :class:`~edgespace.Calibration` or the path of a calibration file): where
    it applies (same profile, mode, precision and batch; placement ``auto``) the latency is the
    calibrated model's and fps, sustained fps, energy and power follow it; elsewhere the analytic
    value stays. ``latency_source`` / ``energy_source`` say which."""
    if not isinstance(spec, ArchSpec):
        raise SpecTypeError(f"estimate() takes an ArchSpec, got {type(spec).__name__}")
    ambient_c = check_ambient_c(ambient_c, "estimate(ambient_c)")
    prof = _profile(profile)
    pm: PowerMode = prof.mode(mode)
    mp, sk, ev, sources = _evaluate_one(spec, prof, pm, placement, calibration, ambient_c, keep_layers=True)
    cols = {k: v[0] for k, v in _columns(ev, mp, spec.precision).items()}
    names = np.asarray(sk.name, dtype=object)
    return Estimate(
        spec=spec,
        profile=prof.name,
        mode=pm.name,
        **{
            k: (bool(v) if k in ("fits_memory", "runnable") else int(v) if k in ("macs", "params") else float(v))
            for k, v in cols.items()
            if k not in ("n_fallback_ops", "n_estimated_inputs")
        },
        fallback_ops=tuple(names[ev.placement.engine == FALLBACK]),
        unsupported_ops=tuple(names[list(ev.placement.unsupported)]),
        layers=ev.layers,
        placement=placement,
        n_inputs=int(mp.n_inputs[PRECISIONS.index(spec.precision)]),
        n_estimated_inputs=int(cols["n_estimated_inputs"]),
        latency_source=sources[0],
        energy_source=sources[1],
    )


def _evaluate_one(spec: ArchSpec, prof, pm, placement: str, calibration, ambient_c, *, keep_layers: bool = False):
    """(compiled mode, skeleton, Evaluation, (latency_source, energy_source)) of one spec, with the
    calibration's latency and energy where it applies (as :func:`estimate` and
    :func:`simulate_thermal` both need)."""
    mp = compile_mode(pm, placement)
    sk = layer_skeleton(spec.family, spec.width, spec.depth, spec.num_classes)
    resolutions = np.array([spec.resolution])
    lat_s, energy_j, sources = _calibrated(
        _calibration(calibration),
        prof.name,
        pm.name,
        placement,
        spec.family,
        spec.width,
        spec.depth,
        spec.num_classes,
        spec.precision,
        resolutions,
        spec.batch,
    )
    ev = evaluate(
        sk,
        mp,
        spec.precision,
        resolutions,
        ambient_c=ambient_c,
        keep_layers=keep_layers,
        batch=spec.batch,
        latency_s=lat_s,
        energy_j=energy_j,
    )
    return mp, sk, ev, sources


def _calibration(calibration):
    if calibration is None:
        return None
    from edgespace.calibration import as_calibration

    return as_calibration(calibration)


def _calibrated(
    cal, profile: str, mode: str, placement: str, family, width, depth, num_classes, precision, resolutions, batch
):
    """(latency_s or None, energy_j or None, (latency_source, energy_source)) for one structure
    at ``resolutions`` and one ``batch`` in ``mode``: the calibration's predictions where it
    applies (its profile, mode, precision and batch; the placement it was measured with,
    ``auto``). Any calibration goes through this one door (see ``CalibrationBase``)."""
    if cal is None or placement != "auto" or not cal.applies(profile, mode, precision, int(batch)):
        return None, None, ("analytic", "analytic")
    lat_s = (
        cal.predict_resolutions_ms(
            family, float(width), float(depth), int(num_classes), precision, resolutions, batch=int(batch)
        )
        / 1e3
    )
    specs = [
        ArchSpec(family, float(width), float(depth), int(r), precision, int(num_classes), int(batch))
        for r in resolutions
    ]
    energy = cal.predict_energy_mj(mode, specs)
    if energy is not None:
        energy = np.asarray(energy, dtype=np.float64) / 1e3
    return lat_s, energy, (cal.source, f"metered:{cal.id}" if energy is not None else "estimated")


_REQUIRED = ("family", "width", "depth", "resolution", "precision")


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        if isinstance(frame, Iterable):
            specs = list(frame)
            if not specs:
                raise SpecError("estimate_many: no design points; give at least one ArchSpec or DataFrame row")
            if all(isinstance(s, ArchSpec) for s in specs):
                out = pd.DataFrame([s.to_dict() for s in specs])
                if "batch" in out.columns:  # to_dict leaves batch 1 out
                    out["batch"] = out["batch"].fillna(1).astype(np.int64)
                return out
        raise TypeError(
            "estimate_many() takes a DataFrame with columns family, width, depth, resolution, precision "
            "(num_classes optional) or a list of ArchSpec"
        )
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise SpecError(f"estimate_many: column(s) {', '.join(missing)} missing; required: {', '.join(_REQUIRED)}")
    out = frame.reset_index(drop=True)
    if "num_classes" not in out.columns:
        out = out.assign(num_classes=1000)
    if "batch" in out.columns:
        out = out.assign(batch=_batch_column(out))
    bad_family = ~out["family"].isin(list_families())
    if bad_family.any():
        i = int(np.flatnonzero(bad_family)[0])
        raise SpecError(f"estimate_many: row {i}: family={out['family'][i]!r}; allowed: {', '.join(list_families())}")
    bad_precision = ~out["precision"].isin(PRECISIONS)
    if bad_precision.any():
        i = int(np.flatnonzero(bad_precision)[0])
        raise SpecError(f"estimate_many: row {i}: precision={out['precision'][i]!r}; allowed: {', '.join(PRECISIONS)}")
    if len(out) == 0:
        raise SpecError("estimate_many: no rows; give at least one design point")
    lo, hi = RESOLUTION_RANGE
    res = np.empty(len(out), dtype=np.int64)
    for i, r in enumerate(out["resolution"].tolist()):  # text, None, bools and fractions refused by name
        res[i] = check_number(f"estimate_many: row {i}: resolution", r, lo, hi, integer=True)
    out["resolution"] = res
    # Width/depth/num_classes: validated once per distinct structure by ArchSpec itself, with the
    # values as given (a bool width or a num_classes of 10.5 is refused, not cast).
    seen: set = set()
    for i, key in enumerate(out[["family", "width", "depth", "num_classes"]].itertuples(index=False)):
        k = tuple((type(v), v) for v in key)
        try:
            hash(k)
        except TypeError:
            k = repr(k)
        if k in seen:
            continue
        seen.add(k)
        try:
            ArchSpec(key.family, key.width, key.depth, 224, "fp32", key.num_classes)
        except SpecError as exc:
            raise SpecError(f"estimate_many: row {i}: {exc}") from None
    out["width"] = out["width"].map(lambda v: float(plain(v)))
    out["depth"] = out["depth"].map(lambda v: float(plain(v)))
    out["num_classes"] = out["num_classes"].map(lambda v: int(plain(v)))
    return out.astype({"resolution": np.int64})


def _batch_column(frame: pd.DataFrame) -> np.ndarray:
    """The optional ``batch`` column (images per call; missing or empty = 1), validated."""
    if "batch" not in frame.columns:
        return np.ones(len(frame), dtype=np.int64)
    raw = pd.to_numeric(frame["batch"], errors="coerce").fillna(1).to_numpy(np.float64)
    lo, hi = BATCH_RANGE
    bad = ~np.isfinite(raw) | (raw < lo) | (raw > hi) | (raw != np.round(raw))
    bad |= pd.to_numeric(frame["batch"], errors="coerce").isna().to_numpy() & frame["batch"].notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpecError(f"estimate_many: row {i}: batch={frame['batch'].iloc[i]!r}; allowed: an integer {lo} to {hi}")
    return raw.astype(np.int64)


#: Rows of one structure evaluated at once by :func:`estimate_many` (bounds its working memory).
CHUNK_ROWS = 32_768


def estimate_many(
    specs_frame: pd.DataFrame | Sequence[ArchSpec],
    profile: str | HardwareProfile,
    modes: Sequence[str] | str | None = None,
    *,
    ambient_c: float | None = None,
    placements: Sequence[str] | str | None = None,
    calibration=None,
) -> pd.DataFrame:
    """:func:`estimate` for many design points at once: one row per (input row, mode,
    placement), with the input columns, ``mode``, ``placement`` and every scalar Estimate field
    (:data:`ESTIMATE_COLUMNS`). ``modes`` defaults to all modes of the profile, ``placements``
    to ``["auto"]`` (a placement a mode lacks is an error naming the ones it has). Rows sharing
    a network structure (family, width, depth) are evaluated together, vectorised over
    resolution and batch (the optional ``batch`` column, images per call, default 1; see
    :class:`Estimate` for what is per call and what per image). ``latency_source`` and
    ``energy_source`` say where each row's numbers came from; a ``calibration`` (see
    :func:`estimate`) predicts each structure's resolutions in one call of its model."""
    ambient_c = check_ambient_c(ambient_c, "estimate_many(ambient_c)")
    prof = _profile(profile)
    if modes is not None and not isinstance(modes, (str, Sequence, np.ndarray, pd.Index)):
        raise SpecError(
            f"estimate_many(modes={modes!r}): expected a mode name, a list of them, or None for all "
            f"({', '.join(prof.modes)})"
        )
    cal = _calibration(calibration)
    mode_names = list(prof.modes) if modes is None else [modes] if isinstance(modes, str) else list(modes)
    if not mode_names:
        raise SpecError(f"estimate_many(modes=[]): no modes; give mode names ({', '.join(prof.modes)}) or None for all")
    placement_names = (
        ["auto"] if placements is None else [placements] if isinstance(placements, str) else list(placements)
    )
    if not placement_names:
        raise SpecError("estimate_many(placements=[]): no placements; give placement names or None for 'auto'")
    pms = [(prof.mode(m), pl) for m in mode_names for pl in placement_names]
    frame = _validated(specs_frame)
    n = len(frame)
    blocks = []
    groups = frame.groupby(["family", "width", "depth", "num_classes", "precision"], sort=False).indices
    res_all = frame["resolution"].to_numpy()
    batch_all = frame["batch"].to_numpy() if "batch" in frame.columns else np.ones(n, dtype=np.int64)
    for pm, placement in pms:
        mp = compile_mode(pm, placement)
        cols = {
            k: np.empty(
                n,
                dtype=bool
                if k in ("fits_memory", "runnable")
                else np.int64
                if k in ("macs", "params", "n_fallback_ops", "n_estimated_inputs")
                else np.float64,
            )
            for k in ESTIMATE_COLUMNS
        }
        lat_src = np.full(n, "analytic", dtype=object)
        energy_src = np.full(n, "analytic", dtype=object)
        for (family, width, depth, num_classes, precision), idx in groups.items():
            sk = layer_skeleton(family, float(width), float(depth), int(num_classes))
            # a calibration applies per batch: with one, each batch of the group is its own call
            parts = [idx] if cal is None else [idx[batch_all[idx] == b] for b in np.unique(batch_all[idx])]
            # in chunks: the per-layer intermediates (rows x layers) stay proportional to the chunk
            chunks = (p[i : i + CHUNK_ROWS] for p in parts for i in range(0, len(p), CHUNK_ROWS))
            for part in chunks:
                lat_s, energy_j, sources = _calibrated(
                    cal,
                    prof.name,
                    pm.name,
                    placement,
                    family,
                    width,
                    depth,
                    num_classes,
                    precision,
                    res_all[part],
                    batch_all[part][0],
                )
                ev = evaluate(
                    sk,
                    mp,
                    precision,
                    res_all[part],
                    ambient_c=ambient_c,
                    batch=batch_all[part],
                    latency_s=lat_s,
                    energy_j=energy_j,
                )
                for k, v in _columns(ev, mp, precision).items():
                    cols[k][part] = v
                lat_src[part], energy_src[part] = sources
        block = frame.copy()
        block.insert(len(block.columns), "profile", prof.name)
        block.insert(len(block.columns), "mode", pm.name)
        block.insert(len(block.columns), "placement", placement)
        for k in ESTIMATE_COLUMNS:
            block[k] = cols[k]
        block["latency_source"] = lat_src
        block["energy_source"] = energy_src
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True) if len(blocks) > 1 else blocks[0]


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
