"""The frames the figures draw, computed from results (this is where the cost models are called;
the figure functions only draw frames).

Every function here returns a plain DataFrame whose columns carry units in their names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from edgespace._errors import EdgespaceError
from edgespace._spec import ARCH_COLUMNS, POINT_COLUMNS, ArchSpec

__all__ = [
    "ReportError",
    "REQUIRED_POINT_COLUMNS",
    "point_label",
    "arch_label",
    "spec_of",
    "front_modes_frame",
    "thermal_frame",
    "calibration_frame",
    "roofline_frame",
    "sources_of",
]

#: The design-point columns (:data:`edgespace.spec.POINT_COLUMNS`) a report's frame may lack: it
#: is then read at batch 1 and placement ``auto``.
OPTIONAL_POINT_COLUMNS = ("batch", "placement")
#: The design-point columns a report's frame must hold.
REQUIRED_POINT_COLUMNS = tuple(c for c in POINT_COLUMNS if c not in OPTIONAL_POINT_COLUMNS)


#: The columns of :func:`front_modes_frame` (empty or not).
FRONT_MODES_COLUMNS = (
    "arch",
    "mode",
    "placement",
    "accuracy",
    "energy_mj",
    "sustained_latency_ms",
    "accuracy_per_joule",
    "on_front",
    "rank",
    *ARCH_COLUMNS,
)


class ReportError(EdgespaceError, ValueError):
    """A report's input is unusable (names the argument, the value and what is allowed)."""


_SHORT = {
    "efficientnet": "EfficientNet",
    "mobilenetv2": "MobileNetV2",
    "mobilenetv3_large": "MobileNetV3-L",
    "mobilenetv3_small": "MobileNetV3-S",
    "efficientnetv2": "EfficientNetV2",
    "mobilenetv4_conv_small": "MobileNetV4-Conv-S",
    "mobilenetv4_conv_medium": "MobileNetV4-Conv-M",
    "mobilenetv4_conv_large": "MobileNetV4-Conv-L",
    "mobilenetv4_hybrid_medium": "MobileNetV4-Hybrid-M",
    "mobilenetv4_hybrid_large": "MobileNetV4-Hybrid-L",
    "efficientvit_b0": "EfficientViT-B0",
    "efficientvit_b1": "EfficientViT-B1",
    "efficientvit_b2": "EfficientViT-B2",
    "efficientvit_b3": "EfficientViT-B3",
}


def arch_label(row: Any) -> str:
    """``EfficientNet w1.1 d1.2 240px int8`` for a row (mapping or namedtuple) with the spec columns."""
    get = row.get if hasattr(row, "get") else lambda k: getattr(row, k)
    fam = str(get("family"))
    return (
        f"{_SHORT.get(fam, fam)} w{float(get('width')):g} d{float(get('depth')):g} "
        f"{int(get('resolution'))}px {get('precision')}"
    )


def point_label(row: Any) -> str:
    """:func:`arch_label` plus ``@ mode`` (and the placement when it is not ``auto``: ``@ 30W, dla``)."""
    get = row.get if hasattr(row, "get") else lambda k: getattr(row, k, None)
    placement = get("placement")
    where = f", {placement}" if isinstance(placement, str) and placement != "auto" else ""
    return f"{arch_label(row)} @ {get('mode')}{where}"


def point_columns(frame: pd.DataFrame) -> list[str]:
    """The design-point columns of ``frame``: the required ones, and ``batch`` and ``placement``
    where it has them."""
    return [c for c in POINT_COLUMNS if c in frame.columns or c not in OPTIONAL_POINT_COLUMNS]


def placement_of(row: Any) -> str:
    get = row.get if hasattr(row, "get") else lambda k: getattr(row, k, None)
    value = get("placement")
    return value if isinstance(value, str) and value else "auto"


def spec_of(row: Any) -> ArchSpec:
    get = row.get if hasattr(row, "get") else lambda k: getattr(row, k)
    return ArchSpec(
        str(get("family")), float(get("width")), float(get("depth")), int(get("resolution")), str(get("precision"))
    )


def _profile(profile):
    from edgespace.profiles import HardwareProfile, load_profile

    return profile if isinstance(profile, HardwareProfile) else load_profile(profile)


def front_modes_frame(
    front: pd.DataFrame, profile, *, ambient_c: float | None = None, top: int | None = 15
) -> pd.DataFrame:
    """The front's architectures (family, width, depth, resolution, precision) in every power mode
    of ``profile``: one row per (architecture, mode) with ``arch``, ``mode``, ``accuracy`` (the
    front's, which does not depend on the mode), ``energy_mj``, ``sustained_latency_ms``,
    ``accuracy_per_joule`` (top-1 % × inferences per joule, as the search computes it),
    ``on_front`` (this mode is the one on the front) and ``rank`` (1 = the architecture whose best
    mode has the most accuracy per joule). ``top`` keeps the best ``top`` architectures."""
    from edgespace.cost import estimate_many

    prof = _profile(profile)
    if front.empty:
        return pd.DataFrame(columns=list(FRONT_MODES_COLUMNS))
    front = front.assign(placement=[placement_of(r) for r in front.to_dict(orient="records")])
    blocks = []
    for placement, part in front.groupby("placement", sort=False):
        archs = part.drop_duplicates(subset=list(ARCH_COLUMNS))[list(ARCH_COLUMNS)].reset_index(drop=True)
        for mode in prof.mode_names:  # one mode at a time: a placement (e.g. dla) exists only in some modes
            try:
                blocks.append(estimate_many(archs, prof, modes=[mode], ambient_c=ambient_c, placements=[placement]))
            except EdgespaceError:
                continue
    est = pd.concat(blocks, ignore_index=True)
    archs = front.drop_duplicates(subset=list(ARCH_COLUMNS))[list(ARCH_COLUMNS) + ["accuracy"]].reset_index(drop=True)
    acc = archs.set_index(list(ARCH_COLUMNS))["accuracy"]
    keys = pd.MultiIndex.from_frame(
        est[list(ARCH_COLUMNS)].astype({"width": float, "depth": float, "resolution": np.int64})
    )
    acc.index = pd.MultiIndex.from_frame(
        acc.index.to_frame().astype({"width": float, "depth": float, "resolution": np.int64})
    )
    est["accuracy"] = acc.reindex(keys).to_numpy()
    with np.errstate(invalid="ignore"):
        est["accuracy_per_joule"] = np.where(est["runnable"], est["accuracy"] * est["inferences_per_joule"], np.nan)
    est["arch"] = [
        arch_label(r) + ("" if r["placement"] == "auto" else f" on {r['placement']}")
        for r in est.to_dict(orient="records")
    ]
    on = {point_label(r) for r in front.to_dict(orient="records")}
    est["on_front"] = [point_label(r) in on for r in est.to_dict(orient="records")]
    best = est.groupby("arch")["accuracy_per_joule"].max().sort_values(ascending=False)
    rank = {a: i + 1 for i, a in enumerate(best.index)}
    est["rank"] = est["arch"].map(rank)
    if top is not None:
        est = est[est["rank"] <= top]
    return est.sort_values(["rank", "mode"])[list(FRONT_MODES_COLUMNS)].reset_index(drop=True)


def best_candidates(front: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """The front's best ``k`` design points: the ``k - 1`` with the most accuracy per joule and the
    most accurate one (the heaviest, so the one most likely to throttle), best per joule first."""
    if front.empty:
        return front
    col = "accuracy_per_joule" if "accuracy_per_joule" in front.columns else "accuracy"
    ranked = front.sort_values(col, ascending=False)
    pick = ranked.head(max(k - 1, 1))
    if k > 1 and "accuracy" in front.columns:
        top = front.sort_values("accuracy", ascending=False).head(1)
        pick = pd.concat([pick, top]).drop_duplicates(subset=point_columns(front))
        if len(pick) < k:
            pick = pd.concat([pick, ranked]).drop_duplicates(subset=point_columns(front)).head(k)
    return pick.reset_index(drop=True)


def thermal_frame(
    points: pd.DataFrame, profile, *, duration_s: float | None = None, ambient_c: float | None = None
) -> pd.DataFrame:
    """``simulate_thermal`` of each design point in ``points`` (one per row), stacked: the
    simulation's columns (time_s, temperature_c, level, clock_mhz, fps, power_w) plus
    ``candidate`` (its label), ``peak_fps`` (the first step's throughput, a cold device),
    ``sustained_fps`` (the mean over the last quarter of the run), ``time_to_throttle_s`` (the
    first time the governor left the top clock; NaN if it never did) and ``trip_c``.

    ``duration_s`` defaults to three times the longest closed-form time to throttle of the
    points (at least 10 minutes, at most 2 hours)."""
    from edgespace.cost import compile_mode, simulate_thermal

    prof = _profile(profile)
    if points.empty:
        return pd.DataFrame(
            columns=[
                "candidate",
                "time_s",
                "temperature_c",
                "level",
                "clock_mhz",
                "fps",
                "power_w",
                "peak_fps",
                "sustained_fps",
                "time_to_throttle_s",
                "trip_c",
            ]
        )
    if duration_s is None:
        ttt = pd.to_numeric(points.get("time_to_throttle_s", pd.Series(dtype=float)), errors="coerce")
        ttt = ttt[np.isfinite(ttt)]
        duration_s = float(min(max(600.0, 3 * ttt.max() if len(ttt) else 0.0), 7200.0))
    frames = []
    for row in points.to_dict(orient="records"):
        sim = simulate_thermal(
            spec_of(row), prof, row["mode"], duration_s=duration_s, ambient_c=ambient_c, placement=placement_of(row)
        )
        throttled = np.flatnonzero((sim["level"].to_numpy() > 0) | (sim["fps"].to_numpy() < sim["fps"].iloc[0] * 0.999))
        tail = sim["fps"].iloc[int(len(sim) * 0.75) :]
        sim.insert(0, "candidate", point_label(row))
        sim["peak_fps"] = float(sim["fps"].iloc[0])
        sim["sustained_fps"] = float(tail.mean())
        sim["time_to_throttle_s"] = float(sim["time_s"].iloc[throttled[0]]) if throttled.size else math.nan
        sim["trip_c"] = float(compile_mode(prof.mode(row["mode"]), placement_of(row)).trip_c)
        frames.append(sim)
    return pd.concat(frames, ignore_index=True)


def calibration_frame(calibration) -> pd.DataFrame:
    """A calibration's own runs: ``network`` (label), ``measured_latency_ms`` (the run's clean
    end-to-end latency), ``predicted_latency_ms`` (the fitted model, in sample) and
    ``latency_source`` (``calibrated:<id>``, as on the estimates it drives)."""
    rows = []
    source = getattr(calibration, "source", None) or f"calibrated:{getattr(calibration, 'profile', 'custom')}"
    for r in calibration.runs.itertuples():
        spec = ArchSpec(**r.spec)
        rows.append(
            {
                "network": arch_label(spec.to_dict()),
                "measured_latency_ms": float(r.e2e_ms),
                "predicted_latency_ms": float(calibration.predict_latency_ms(spec)),
                "latency_source": source,
            }
        )
    out = pd.DataFrame(rows, columns=["network", "measured_latency_ms", "predicted_latency_ms", "latency_source"])
    out["latency_error_pct"] = (out["predicted_latency_ms"] / out["measured_latency_ms"] - 1.0) * 100.0
    return out


def roofline_frame(estimate, profile=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-kernel roofline data of an :class:`~edgespace.cost.Estimate` (made by ``estimate(...)``,
    which keeps its layer breakdown): ``(kernels, ceilings)``.

    ``kernels``: one row per executed kernel (layers fused into another are folded into it):
    name, op, engine, bound, time_ms, ops, bytes, ``intensity_ops_per_byte``,
    ``attained_gops`` (ops / time), ``fused`` (the rows fused into it, comma-separated) and
    ``crossing`` (its engine differs from the previous kernel's: a fallback crossing).
    ``ceilings``: per engine, ``peak_gops`` at the spec's precision and ``bandwidth_gb_s``
    (achievable), from the profile's power mode."""
    from edgespace._spec import PRECISIONS
    from edgespace.cost import compile_mode

    layers = getattr(estimate, "layers", None)
    if layers is None:
        raise ReportError(
            "roofline: the estimate has no layer breakdown; make it with edgespace.estimate(spec, profile, mode)"
        )
    prof = _profile(profile if profile is not None else estimate.profile)
    mp = compile_mode(prof.mode(estimate.mode), getattr(estimate, "placement", "auto") or "auto")
    fused = layers[layers["bound"] == "fused"].groupby("fused_into")["name"].agg(lambda s: ", ".join(s))
    k = layers[(layers["bound"] != "fused") & (layers["time_ms"] > 0)].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        k["intensity_ops_per_byte"] = np.where(k["bytes"] > 0, k["ops"] / k["bytes"], np.nan)
        k["attained_gops"] = k["ops"] / (k["time_ms"] * 1e-3) / 1e9
    k["fused"] = k["name"].map(fused).fillna("")
    eng = k["engine"].to_numpy()
    k["crossing"] = np.r_[False, eng[1:] != eng[:-1]] if len(eng) else np.zeros(0, dtype=bool)
    k = k.reset_index(drop=True)
    p = PRECISIONS.index(estimate.spec.precision)
    rows = []
    for i, name in enumerate(mp.engine_names):
        if name is None:
            continue
        peak = float(mp.peak_ops_per_s[i, p])
        rows.append(
            {
                "engine": name,
                "role": "primary" if i == 0 else "fallback",
                "peak_gops": peak / 1e9 if math.isfinite(peak) else math.nan,
                "bandwidth_gb_s": mp.bandwidth_bytes_per_s / 1e9,
            }
        )
    return k, pd.DataFrame(rows, columns=["engine", "role", "peak_gops", "bandwidth_gb_s"])


def sources_of(frame: pd.DataFrame, column: str, default: str = "analytic") -> dict[str, int]:
    """How many rows each source accounts for (``latency_source`` / ``energy_source``); a frame
    without the column is all ``default`` (the analytic cost model)."""
    if frame is None or len(frame) == 0:
        return {}
    if column not in frame.columns:
        return {default: int(len(frame))}
    counts = frame[column].fillna(default).astype(str).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def check_columns(frame: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ReportError(f"{what}: got {type(frame).__name__}; allowed: a pandas DataFrame")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ReportError(f"{what}: column(s) {', '.join(missing)} missing; required: {', '.join(needed)}")
