"""GPU calibration from end-to-end runs: the analytic roofline's own terms, re-weighted.

A CUDA graph or a TensorRT engine gives one time per call, not per kernel, so the GPU model is
fitted to whole networks. For each network the uncalibrated profile's layer breakdown
(:func:`~edgespace.estimate` with ``layers``) gives seven features: the roofline time of the
dense convolutions (conv, pointwise, linear), of the depthwise convolutions and of the
element-wise kernels (bn, act, pool, mul, add that the fusion rule leaves unfused), the bytes
an unfused runtime moves for the bn/act tails the profile fuses away, the number of kernels of
the fused graph and of the eager one (every bn and act its own kernel; a fusing runtime gets
zero weight on these two), and 1. Latency per call is a non-negative combination of them (``scipy.optimize.nnls``
on relative errors, so small and large networks weigh alike): the weights are how far the
measured GPU is from the profile's efficiency per kind of work, what one kernel costs, and the
per-call overhead. Energy per call is a non-negative combination of the (calibrated) latency —
its weight is the board's power while busy, idle included — the arithmetic (GFLOP) and the
memory traffic (GB). Both are fitted per batch size (a GPU's efficiency changes with the
batch); a batch that was not measured is refused, not extrapolated.

The file (``format: edgespace-gpu-calibration/1``) holds the runs (spec, batch, measured and
uncalibrated latency and energy), the weights, and the report: per batch and pooled, in-sample
and network-held-out (5-fold) error of the calibrated prediction, beside the uncalibrated
profile's error on the same networks.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from edgespace._spec import ArchSpec
from edgespace.calibration._calibrate import CalibrationError, latency_errors
from edgespace.calibration._folds import family_folds
from edgespace.cost import APPLIES_KEYS, CalibrationBase
from edgespace.runners import calibration_latency_ms

__all__ = [
    "ENERGY_FEATURES",
    "GPU_FORMAT",
    "LATENCY_FEATURES",
    "GpuCalibration",
    "calibrate_gpu",
    "errors_within",
    "gpu_features",
]

GPU_FORMAT = "edgespace-gpu-calibration/1"
LATENCY_FEATURES = (
    "t_dense_ms",
    "t_depthwise_ms",
    "t_elementwise_ms",
    "fused_tail_gbyte",
    "kernels",
    "eager_kernels",
    "call",
)
ENERGY_FEATURES = ("latency_ms", "gflop", "gbyte")
_DENSE = ("conv", "pointwise", "linear", "matmul")  # matrix-unit work (attention matmuls too)


def gpu_features(spec: ArchSpec, profile, mode: str | None = None) -> dict:
    """The uncalibrated profile's estimate of ``spec`` split into the model's features, plus its
    latency (ms per call) and energy (mJ per image)."""
    from edgespace._layer_table import layer_table
    from edgespace.cost import estimate

    e = estimate(spec, profile, mode)
    layers = e.layers
    table = layer_table(spec)
    active = (layers["bound"] != "fused").to_numpy()
    t = (layers["time_ms"] - layers["dispatch_ms"]).to_numpy()
    op = layers["op"].to_numpy()
    dense = active & np.isin(op, _DENSE)
    dw = active & (op == "depthwise")
    elem = active & ~dense & ~dw & (op != "reshape")
    return {
        "t_dense_ms": float(t[dense].sum()),
        "t_depthwise_ms": float(t[dw].sum()),
        "t_elementwise_ms": float(t[elem].sum()),
        # The bn/act tails the profile fuses into their conv: an unfused runtime (eager kernels in a
        # CUDA graph) reads and writes each of those tensors once more; a fusing one does not.
        "fused_tail_gbyte": float(2 * table["output_bytes"].to_numpy()[~active & np.isin(op, ("bn", "act"))].sum())
        / 1e9,
        "kernels": float((active & (op != "reshape")).sum()),
        # an eager runtime launches every bn and act as a kernel of its own (SE blocks: 6 instead of 4)
        "eager_kernels": float((op != "reshape").sum()),
        "call": 1.0,
        "gflop": float(layers["ops"].sum()) / 1e9,
        "gbyte": float(layers["bytes"].sum()) / 1e9,
        "analytic_latency_ms": float(e.latency_ms),
        "analytic_energy_mj": float(e.energy_mj),
    }


def errors_within(predicted, measured, pct: float) -> float:
    p, m = np.asarray(predicted, float), np.asarray(measured, float)
    return float(np.mean(np.abs(p - m) / m <= pct / 100)) if len(p) else float("nan")


def _errors(predicted, measured) -> dict:
    out = latency_errors(predicted, measured)
    out["within_15pct"] = errors_within(predicted, measured, 15)
    return out


def _by_family(part: pd.DataFrame, held: np.ndarray) -> dict:
    """The held-out errors per family (a family's segment kinds are what a new family adds)."""
    fam = part["spec"].map(lambda d: d["family"]).to_numpy()
    return {f: _errors(held[fam == f], part["latency_ms"].to_numpy()[fam == f]) for f in sorted(set(fam))}


def _nnls_relative(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    scale = np.where(np.abs(x).max(axis=0) > 0, np.abs(x).max(axis=0), 1.0)
    w, _ = nnls((x / scale) / y[:, None], np.ones(len(y)))
    return w / scale


def _fit(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    lat_w = _nnls_relative(frame[list(LATENCY_FEATURES)].to_numpy(float), frame["latency_ms"].to_numpy(float))
    energy_w = None
    e = frame["energy_call_mj"].to_numpy(float)
    if np.isfinite(e).all() and len(e):
        xe = np.column_stack([frame[list(LATENCY_FEATURES)].to_numpy(float) @ lat_w, frame["gflop"], frame["gbyte"]])
        energy_w = _nnls_relative(xe, e)
    return lat_w, energy_w


def _predict(frame: pd.DataFrame, lat_w: np.ndarray, energy_w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    lat = frame[list(LATENCY_FEATURES)].to_numpy(float) @ lat_w
    if energy_w is None:
        return lat, np.full(len(frame), np.nan)
    e_call = np.column_stack([lat, frame["gflop"], frame["gbyte"]]) @ energy_w
    return lat, e_call / frame["batch"].to_numpy(float)


@dataclass
class GpuCalibration(CalibrationBase):
    """Per-batch latency (and, where metered, energy) weights over the roofline terms of
    ``profile``, with the runs they were fitted to and the report of how well they predict.

    Goes through the same door as :class:`~edgespace.calibration.Calibration`: where it
    :meth:`applies` (its profile, mode, precision, and a batch it was fitted at) ``estimate``,
    ``estimate_many``, ``search`` and ``screen`` take latency per call from it
    (``calibrated:<id>``) and, where NVML metered the runs, energy per image (``metered:<id>``)."""

    profile: str
    mode: str
    provenance: dict
    runs: pd.DataFrame
    latency_weights: dict[int, list[float]]
    energy_weights: dict[int, list[float] | None]
    report: dict = field(default_factory=dict)
    id: str = ""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            d = self.to_dict(with_id=False)
            key = json.dumps(
                {k: d[k] for k in ("applies_to", "runs", "latency_weights", "energy_weights")},
                sort_keys=True,
                default=float,
            )
            self.id = hashlib.sha1(key.encode()).hexdigest()[:10]

    @property
    def batches(self) -> list[int]:
        return sorted(self.latency_weights)

    @property
    def applies_to(self) -> dict:
        """The keys of :data:`~edgespace.cost.APPLIES_KEYS`; ``batch`` is the list of
        batches fitted (each has its own weights)."""
        p = self.provenance
        out = {k: None for k in APPLIES_KEYS}
        out.update(
            profile=self.profile,
            mode=self.mode,
            precision=p.get("precision") or None,
            runtime=p.get("runtime") or None,
            provider=p.get("backend") or None,
            batch=self.batches,
        )
        return out

    @property
    def power(self) -> dict:
        """No per-mode power model (its energy is fitted per batch, in :meth:`predict_energy_mj`)."""
        return {}

    def applies(self, profile: str, mode: str, precision: str, batch: int = 1) -> bool:
        a = self.applies_to
        return (
            a["profile"] == profile
            and a["mode"] == mode
            and a["precision"] in (None, precision)
            and int(batch) in self.latency_weights
        )

    def _features(self, spec: ArchSpec) -> pd.DataFrame:
        if spec.batch not in self.latency_weights:
            raise CalibrationError(
                f"batch {spec.batch} was not calibrated for {self.profile}; calibrated batches: "
                f"{', '.join(map(str, self.batches))}"
            )
        key = tuple(spec.to_dict().items())
        f = self._cache.get(key)
        if f is None:  # an analytic estimate with layers per spec: searches revisit the same points
            f = self._cache[key] = pd.DataFrame([{**gpu_features(spec, self.profile, self.mode), "batch": spec.batch}])
        return f

    def predict_latency_ms(self, spec: ArchSpec) -> float:
        """Calibrated latency of one call of ``spec.batch`` images (ms)."""
        f = self._features(spec)
        return float(_predict(f, np.array(self.latency_weights[spec.batch]), None)[0][0])

    def predict_resolutions_ms(
        self, family: str, width: float, depth: float, num_classes: int, precision: str, resolutions, batch: int = 1
    ) -> np.ndarray:
        return np.array(
            [
                self.predict_latency_ms(
                    ArchSpec(family, float(width), float(depth), int(r), precision, int(num_classes), int(batch))
                )
                for r in np.atleast_1d(resolutions)
            ]
        )

    def predict_energy_mj(self, mode: str, specs) -> np.ndarray | None:
        """Calibrated energy per image (mJ, board total) of each of ``specs`` (each at its own
        batch), or None where no energy was metered (or ``mode`` is not the calibrated one)."""
        specs = list(specs)
        if mode != self.mode or any(self.energy_weights.get(s.batch) is None for s in specs):
            return None
        return np.array(
            [
                _predict(
                    self._features(s), np.array(self.latency_weights[s.batch]), np.array(self.energy_weights[s.batch])
                )[1][0]
                for s in specs
            ]
        )

    def summary(self) -> dict:
        """What a study stores (and a report shows): id, applicability, provenance, held-out error."""
        p = self.provenance
        return {
            "id": self.id,
            "kind": "gpu",
            "applies_to": self.applies_to,
            "date": p.get("date"),
            "device": p.get("device"),
            "runtime": p.get("runtime"),
            "backend": p.get("backend"),
            "execution": p.get("execution"),
            "meter": p.get("meter"),
            "networks": p.get("networks"),
            # held out of the fit, or None (too few networks for folds); never the in-sample error
            "held_out": self.report.get("held_out_5fold"),
            "in_sample": self.report.get("in_sample"),
            "energy_held_out": self.report.get("energy_held_out_5fold"),
        }

    def to_dict(self, *, with_id: bool = True) -> dict:
        runs = self.runs.astype(object).where(self.runs.notna(), None)
        out = {
            "format": GPU_FORMAT,
            "profile": self.profile,
            "mode": self.mode,
            "applies_to": self.applies_to,
            "provenance": self.provenance,
            "latency_features": list(LATENCY_FEATURES),
            "energy_features": list(ENERGY_FEATURES),
            "latency_weights": {str(b): w for b, w in self.latency_weights.items()},
            "energy_weights": {str(b): w for b, w in self.energy_weights.items()},
            "report": self.report,
            "runs": runs.to_dict(orient="records"),
        }
        if with_id:
            out["id"] = self.id
        return out

    def save(self, path: str | os.PathLike) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, default=float))
        os.replace(tmp, p)
        return p


def _runs_frame(measurements, profile, mode) -> pd.DataFrame:
    rows = []
    for k, m in enumerate(measurements):
        spec = m.spec
        measured_at = getattr(m, "precision", spec.precision)
        if measured_at != spec.precision:
            # the features follow the spec, applies() follows the run: they must be one precision
            raise CalibrationError(
                f"measurement {k} ({spec.short_name()}) ran at precision {measured_at!r} but its spec is "
                f"{spec.precision!r}; draw the specs at the precision measured"
            )
        batch = int(getattr(m, "batch", spec.batch))
        spec = ArchSpec(**{**spec.to_dict(), "batch": batch})
        feats = gpu_features(spec, profile, mode)
        energy = getattr(m, "energy_mj", None)
        rows.append(
            {
                "run": k,
                "spec": spec.to_dict(),
                "network": spec.short_name(),
                "batch": batch,
                "latency_ms": calibration_latency_ms(m),
                "e2e_ms": calibration_latency_ms(m),
                "energy_mj": float(energy) if energy is not None else np.nan,
                "energy_call_mj": float(energy) * batch if energy is not None else np.nan,
                **feats,
            }
        )
    if not rows:
        raise CalibrationError("calibrate_gpu(): no measurements given")
    return pd.DataFrame(rows)


def _report(frame: pd.DataFrame) -> tuple[dict, dict, dict]:
    lat_w, en_w, rep = {}, {}, {"by_batch": {}}
    pooled = {"lat": [], "en": [], "lat_in": []}
    for batch, part in frame.groupby("batch"):
        part = part.reset_index(drop=True)
        if len(part) < len(LATENCY_FEATURES):
            raise CalibrationError(
                f"batch {batch}: {len(part)} networks measured; need at least "
                f"{len(LATENCY_FEATURES)} to fit {len(LATENCY_FEATURES)} weights"
            )
        lw, ew = _fit(part)
        lat_w[int(batch)], en_w[int(batch)] = lw.tolist(), (ew.tolist() if ew is not None else None)
        lat_in, en_in = _predict(part, lw, ew)
        held_lat = np.full(len(part), np.nan)
        held_en = np.full(len(part), np.nan)
        if len(part) >= 10:
            folds = family_folds(d["family"] for d in part["spec"])
            for fold in folds:
                keep = np.setdiff1d(np.arange(len(part)), fold)
                flw, few = _fit(part.iloc[keep])
                held_lat[fold], held_en[fold] = _predict(part.iloc[fold], flw, few)
        b = {
            "n": len(part),
            "latency": {
                "in_sample": _errors(lat_in, part["latency_ms"]),
                "uncalibrated": _errors(part["analytic_latency_ms"], part["latency_ms"]),
            },
        }
        if np.isfinite(held_lat).all():
            b["latency"]["held_out_5fold"] = _errors(held_lat, part["latency_ms"])
            b["latency"]["held_out_by_family"] = _by_family(part, held_lat)
            pooled["lat"].append((held_lat, part["latency_ms"].to_numpy()))
        pooled["lat_in"].append((lat_in, part["latency_ms"].to_numpy()))
        if ew is not None:
            b["energy"] = {
                "in_sample": _errors(en_in, part["energy_mj"]),
                "uncalibrated": _errors(part["analytic_energy_mj"], part["energy_mj"]),
            }
            if np.isfinite(held_en).all():
                b["energy"]["held_out_5fold"] = _errors(held_en, part["energy_mj"])
                pooled["en"].append((held_en, part["energy_mj"].to_numpy()))
        else:
            b["energy"] = {"unavailable": "no energy was metered for these runs"}
        rep["by_batch"][str(int(batch))] = b

    def cat(pairs):
        return np.concatenate([p for p, _ in pairs]), np.concatenate([m for _, m in pairs])

    rep["in_sample"] = _errors(*cat(pooled["lat_in"]))
    if pooled["lat"]:
        rep["held_out_5fold"] = _errors(*cat(pooled["lat"]))
    if pooled["en"]:
        rep["energy_held_out_5fold"] = _errors(*cat(pooled["en"]))
    return lat_w, en_w, rep


def calibrate_gpu(profile, measurements, *, mode: str | None = None, note: str = "") -> GpuCalibration:
    """Fit the per-batch GPU latency (and energy) model to ``measurements`` (Measurements of
    ``torch-cuda`` or ``tensorrt`` runs, or any with ``spec``, round medians and ``energy_mj`` per
    image) for ``profile`` (a name or :class:`~edgespace.profiles.HardwareProfile`); at least seven
    networks per batch, ten for a held-out report."""
    from edgespace.profiles import HardwareProfile, load_profile

    prof = profile if isinstance(profile, HardwareProfile) else load_profile(profile)
    pm = prof.mode(mode)
    measurements = list(measurements)
    frame = _runs_frame(measurements, prof, pm.name)
    lat_w, en_w, rep = _report(frame)
    first = measurements[0]
    provenance = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "backend": getattr(first, "backend", ""),
        "runtime": getattr(first, "runtime_version", ""),
        "device": getattr(first, "device_name", "") or getattr(first, "provider", ""),
        "execution": getattr(first, "execution", ""),
        "precision": getattr(first, "precision", ""),
        "meter": getattr(first, "meter", ""),
        "networks": int(frame["network"].str.replace(r"_b\d+$", "", regex=True).nunique()),
        "batches": sorted(int(b) for b in frame["batch"].unique()),
        "base_profile": prof.name,
        "note": note,
    }
    return GpuCalibration(prof.name, pm.name, provenance, frame, lat_w, en_w, rep)
