"""Public cost-model entry points: :func:`estimate`, :func:`estimate_many`, :func:`simulate_thermal`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edgespace._errors import SpecTypeError
from edgespace._json import jsonable
from edgespace._layer_table import layer_skeleton
from edgespace._spec import (
    PRECISIONS,
    ArchSpec,
    check_ambient_c,
)
from edgespace.cost._calibration_door import as_calibration
from edgespace.cost._evaluate import Evaluation, evaluate
from edgespace.cost._interval import INTERVAL_COLUMNS, interval_columns
from edgespace.cost._params import FALLBACK, compile_mode
from edgespace.profiles import HardwareProfile, PowerMode, load_profile

__all__ = ["Estimate", "estimate", "ESTIMATE_COLUMNS", "SOURCE_COLUMNS"]

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
    *INTERVAL_COLUMNS,
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
    #: where the latency is calibrated: the band the calibration's held-out networks fell in
    #: (per call, as ``latency_ms``) and the share of them it covered; NaN elsewhere
    latency_low_ms: float = float("nan")
    latency_high_ms: float = float("nan")
    interval_coverage: float = float("nan")
    #: where the energy is metered: the band around it and the share it covers at least; NaN elsewhere
    energy_low_mj: float = float("nan")
    energy_high_mj: float = float("nan")
    energy_interval_coverage: float = float("nan")

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

    ``calibration`` (a :class:`~edgespace.calibration.Calibration` or the path of a calibration file): where
    it applies (same profile, mode, precision and batch; placement ``auto``) the latency is the
    calibrated model's and fps, sustained fps, energy and power follow it; elsewhere the analytic
    value stays. ``latency_source`` / ``energy_source`` say which."""
    if not isinstance(spec, ArchSpec):
        raise SpecTypeError(f"estimate() takes an ArchSpec, got {type(spec).__name__}")
    ambient_c = check_ambient_c(ambient_c, "estimate(ambient_c)")
    prof = _profile(profile)
    pm: PowerMode = prof.mode(mode)
    cal = as_calibration(calibration)
    mp, sk, ev, sources = _evaluate_one(spec, prof, pm, placement, cal, ambient_c, keep_layers=True)
    cols = _columns(ev, mp, spec.precision)
    metered = sources[1].startswith("metered:")
    cols.update(
        interval_columns(cal, [spec], cols["latency_ms"], sources[0] != "analytic", cols["energy_mj"], pm.name, metered)
    )
    cols = {k: v[0] for k, v in cols.items()}
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
        as_calibration(calibration),
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
