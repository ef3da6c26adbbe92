"""``calibrate(profile, measurements)`` → a :class:`CalibratedProfile`, saved as JSON with provenance.

The file (``format: edgespace-calibration/1``) holds:

* ``provenance``: date, the runtime and its version, provider, threads, precision, number of
  networks and segments, the machine, and the base profile's name;
* ``runs``: each calibration network (spec, clean end-to-end latency, profiled node total,
  the spread of its repeated rounds);
* ``samples``: per-segment features and measured times (what the model is fitted on; loading
  refits the model from them, deterministically);
* ``report``: in-sample and network-held-out (5-fold) error of the fit.
"""

from __future__ import annotations

import abc
import datetime as _dt
import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from edgespace._errors import CalibrationError, ProfileError
from edgespace._layer_table import layer_table
from edgespace._paths import read_input
from edgespace._spec import ArchSpec
from edgespace.calibration._checks import check_calibration_numbers
from edgespace.calibration._ingest import NodeProfile, load_format_json
from edgespace.calibration._mapping import INPUT_SEGMENT, map_nodes
from edgespace.calibration._model import FEATURES, SegmentLatencyModel, segment_columns, segment_features
from edgespace.calibration._power import MIN_METERED_NETWORKS, fit_power_model

__all__ = [
    "calibrate",
    "CalibrationBase",
    "CalibratedProfile",
    "Calibration",
    "as_calibration",
    "APPLIES_KEYS",
    "load_calibration",
    "CalibrationError",
    "training_samples",
    "FORMAT",
    "latency_errors",
]

FORMAT = "edgespace-calibration/1"


def latency_errors(predicted, measured) -> dict:
    """Fraction within ±10%, MAPE (%), Kendall τ and the worst error (%) of predictions."""
    from scipy.stats import kendalltau

    p = np.asarray(predicted, float)
    m = np.asarray(measured, float)
    rel = (p - m) / m
    tau = float(kendalltau(p, m).statistic) if len(p) > 2 else float("nan")
    return {
        "n": int(len(p)),
        "within_10pct": float(np.mean(np.abs(rel) <= 0.10)) if len(p) else float("nan"),
        "mape_pct": float(np.mean(np.abs(rel)) * 100) if len(p) else float("nan"),
        "kendall_tau": tau,
        "worst_pct": float(np.max(np.abs(rel)) * 100) if len(p) else float("nan"),
    }


def training_samples(items, *, normalize: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(samples, runs) from measurements: each item is a :class:`~edgespace.runners.Measurement`
    with a node profile, or a ``(spec, NodeProfile, e2e_ms)`` triple (times captured elsewhere;
    ``e2e_ms`` may be None, then the node total stands in).

    With ``normalize`` (the default), each network's segment times are scaled so that they sum to
    its clean end-to-end latency: the profiler's per-node overhead (about a quarter of the total
    on small networks here) and a noisy spell during the profiled pass then do not leak into the
    model, and the clean timing (interleaved, robust) sets the level while the profile only says
    how it splits over the segments."""
    sample_frames, runs = [], []
    for k, item in enumerate(items):
        if isinstance(item, tuple):
            spec, prof, e2e = item
            spread = float("nan")
        else:
            spec, prof, e2e, spread = item.spec, item.node_profile, item.latency_calibration_ms, item.latency_spread_pct
        if not isinstance(prof, NodeProfile) or not prof.nodes:
            raise CalibrationError(
                f"measurement {k} ({spec.short_name()}) has no node times; measure with profile=True"
            )
        table = layer_table(spec)
        mapped = map_nodes(list(prof.nodes), table)
        seg_t = mapped.groupby("segment")["time_us"].sum()
        feats = segment_features(table)
        feats["time_us"] = seg_t.reindex(feats.index).fillna(0.0).to_numpy()
        if normalize and e2e is not None and prof.node_total_ms > 0:
            feats["time_us"] *= float(e2e) / prof.node_total_ms
        feats["run"] = k
        sample_frames.append(feats[feats["time_us"] > 0].reset_index())
        runs.append(
            {
                "run": k,
                "spec": spec.to_dict(),
                "e2e_ms": float(e2e if e2e is not None else prof.node_total_ms),
                "node_ms": float(feats["time_us"].sum()) / 1e3,
                "profiled_ms": prof.node_total_ms,
                "spread_pct": spread,
            }
        )
    if not sample_frames:
        raise CalibrationError("calibrate(): no measurements given")
    return pd.concat(sample_frames, ignore_index=True), pd.DataFrame(runs).set_index("run")


#: The keys a calibration applies to (what a measurement was taken on): an estimate uses the
#: calibrated model only where profile, mode and precision match; the others are recorded so
#: that a GPU (trtexec, NVML) or Jetson (tegrastats) calibration goes through the same door.
APPLIES_KEYS = ("profile", "mode", "precision", "runtime", "provider", "threads", "batch")


class CalibrationBase(abc.ABC):
    """The door every calibration goes through (per-operator CPU/ONNX Runtime fits,
    :class:`~edgespace.calibration._gpu.GpuCalibration` from CUDA-graph / TensorRT runs): cost
    asks only :meth:`applies`, :meth:`predict_resolutions_ms` and :meth:`predict_energy_mj`;
    studies store :meth:`to_dict` (reloaded by :func:`load_calibration`, which dispatches on the
    file's ``format``) and show :meth:`summary`. ``id`` is a short hash of the content."""

    id: str
    applies_to: dict

    @property
    def source(self) -> str:
        """How latencies from this calibration are labelled: ``calibrated:<id>``."""
        return f"calibrated:{self.id}"

    @abc.abstractmethod
    def applies(self, profile: str, mode: str, precision: str, batch: int = 1) -> bool:
        """Whether this calibration describes ``profile``'s ``mode`` at ``precision`` and ``batch``."""

    @abc.abstractmethod
    def predict_resolutions_ms(
        self, family: str, width: float, depth: float, num_classes: int, precision: str, resolutions, batch: int = 1
    ) -> np.ndarray:
        """Latency per call of ``batch`` images (ms) of one structure at each of ``resolutions``."""

    @abc.abstractmethod
    def predict_energy_mj(self, mode: str, specs) -> np.ndarray | None:
        """Metered-model energy per image (mJ) of ``specs`` in ``mode``, or None where it has none."""

    @abc.abstractmethod
    def summary(self) -> dict:
        """What a study stores in its definition and a report shows."""

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """The file's JSON (with ``format`` and ``id``)."""

    def check_stored_id(self, path, stored) -> None:
        """Refuse a file whose stored ``id`` is not the hash of what it holds (it was edited); a
        file without an id keeps the recomputed one, labelled ``<id>-edited``."""
        if stored is None or stored == f"{self.id}-edited":
            self.id = f"{self.id}-edited"
            return
        if stored is not None and stored != self.id:
            raise CalibrationError(
                f"{path}: id: stored {stored!r}, content hashes to {self.id!r}: the file was edited; "
                "calibrate again (or remove the id to accept the edit)"
            )


@dataclass
class CalibratedProfile(CalibrationBase):
    """A calibration: a fitted latency model (and, where metered, a power model per mode) with
    its provenance, for one (profile, mode, precision, runtime, provider, threads, batch).

    Accepted wherever a profile is (``estimate``, ``estimate_many``, ``search``, ``screen``,
    ``Budget.from_profile``, CLI ``--calibration FILE``): where :meth:`applies` the latency
    comes from :meth:`predict_latency_ms` and everything derived follows; elsewhere the
    analytic value stays. ``id`` is a short hash of the content; numbers it produced say
    ``calibrated:<id>``."""

    profile: str
    provenance: dict
    samples: pd.DataFrame
    runs: pd.DataFrame
    report: dict = field(default_factory=dict)
    model: SegmentLatencyModel = field(default_factory=SegmentLatencyModel)
    applies_to: dict = field(default_factory=dict)
    power: dict = field(default_factory=dict)  # mode -> fitted PowerModel (metered runs)
    id: str = ""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        base = {k: None for k in APPLIES_KEYS}
        base.update(
            profile=self.profile,
            precision=self.provenance.get("precision"),
            runtime=self.provenance.get("runtime"),
            provider=self.provenance.get("provider"),
            threads=self.provenance.get("threads"),
            batch=1,
            mode=self.provenance.get("mode"),
        )
        base.update({k: v for k, v in (self.applies_to or {}).items() if k in APPLIES_KEYS})
        self.applies_to = base
        if not self.id:
            self.id = self._content_hash()

    def _content_hash(self) -> str:
        d = self.to_dict(with_id=False)
        key = json.dumps({k: d[k] for k in ("applies_to", "runs", "samples", "power")}, sort_keys=True, default=float)
        return hashlib.sha1(key.encode()).hexdigest()[:10]

    @property
    def threads(self) -> int:
        return int(self.provenance.get("threads") or 0)

    def applies(self, profile: str, mode: str, precision: str, batch: int = 1) -> bool:
        """Whether this calibration describes ``profile``'s power mode ``mode`` at ``precision``
        and ``batch`` (a calibration whose mode is not recorded applies to every mode of its
        profile)."""
        a = self.applies_to
        return (
            a["profile"] == profile
            and a["precision"] in (None, precision)
            and a["mode"] in (None, mode)
            and int(batch) == int(a.get("batch") or 1)
        )

    def predict_latency_ms(self, spec_or_table) -> float:
        if isinstance(spec_or_table, ArchSpec):
            s = spec_or_table
            return float(
                self.predict_resolutions_ms(s.family, s.width, s.depth, s.num_classes, s.precision, [s.resolution])[0]
            )
        return self.model.predict_latency_ms(spec_or_table)

    def predict_many_ms(self, specs) -> np.ndarray:
        return np.array([self.predict_latency_ms(s) for s in specs])

    def predict_resolutions_ms(
        self, family: str, width: float, depth: float, num_classes: int, precision: str, resolutions, batch: int = 1
    ) -> np.ndarray:
        """End-to-end latency (ms) of one network structure at many resolutions (at the batch
        the calibration was measured at, which :meth:`applies` checks): the segment
        features of every resolution not seen before go through the model in one call (the
        trees' per-call cost dominates a single prediction), and each answer is cached by
        (structure, resolution), since searches revisit the same points."""
        key = (str(family), float(width), float(depth), int(num_classes), str(precision))
        res = [int(r) for r in np.atleast_1d(resolutions)]
        todo = [r for r in dict.fromkeys(res) if (key, r) not in self._cache]
        if todo:
            parts = [segment_columns(layer_table(ArchSpec(key[0], key[1], key[2], r, key[4], key[3]))) for r in todo]
            feats = pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in FEATURES})
            which = np.repeat(np.arange(len(todo)), [len(p["segment"]) for p in parts])
            node_ms = np.bincount(which, weights=self.model.predict_segments_us(feats), minlength=len(todo)) / 1e3
            a, b = self.model.e2e_
            for r, ms in zip(todo, node_ms, strict=True):
                self._cache[(key, r)] = a * float(ms) + b
        return np.array([self._cache[(key, r)] for r in res])

    def predict_energy_mj(self, mode: str, specs) -> np.ndarray | None:
        """Energy per inference (mJ) from the metered power model of ``mode`` at the calibrated
        latency, or None where this calibration has none for that mode."""
        model = self.power.get(mode)
        if model is None:
            return None
        specs = list(specs)
        return model.predict_energy_mj(specs, [self.predict_latency_ms(s) for s in specs])

    def summary(self) -> dict:
        """What a study stores (and a report shows): id, applicability, provenance, held-out error."""
        held = self.report.get("held_out_5fold") or self.report.get("in_sample") or {}
        return {
            "id": self.id,
            "applies_to": self.applies_to,
            "date": self.provenance.get("date"),
            "device": self.provenance.get("machine"),
            "runtime": self.provenance.get("runtime"),
            "provider": self.provenance.get("provider"),
            "threads": self.provenance.get("threads"),
            "networks": self.provenance.get("networks"),
            "held_out": held,
            "power_modes": sorted(self.power),
        }

    def to_dict(self, *, with_id: bool = True) -> dict:
        s = self.samples
        out = {
            "format": FORMAT,
            "profile": self.profile,
            "applies_to": self.applies_to,
            "provenance": self.provenance,
            "model": {
                "class": "SegmentLatencyModel",
                "e2e": {"scale": self.model.e2e_[0], "offset_ms": self.model.e2e_[1]},
                "params": {"ridge": self.model.ridge, "trees": self.model.trees, **self.model.tree_params},
            },
            "power": {m: pm.to_dict() for m, pm in self.power.items()},
            "report": self.report,
            "runs": [
                {
                    "spec": r.spec,
                    "e2e_ms": r.e2e_ms,
                    "node_ms": r.node_ms,
                    "profiled_ms": r.profiled_ms,
                    "spread_pct": None if pd.isna(r.spread_pct) else r.spread_pct,
                }
                for r in self.runs.itertuples()
            ],
            "samples": {c: s[c].tolist() for c in ("run", "segment", *FEATURES, "time_us")},
        }
        if with_id:
            out["id"] = self.id
        return out

    def save(self, path: str | os.PathLike) -> Path:
        from edgespace._paths import output_file

        p = output_file(path, "calibration file", CalibrationError)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False, default=float))
        os.replace(tmp, p)
        return p


#: The name the rest of the library uses for a calibration.
Calibration = CalibratedProfile


def as_calibration(obj, *, what: str = "calibration") -> CalibrationBase | None:
    """None, a calibration (:class:`CalibratedProfile` or a GPU calibration), or the path of a
    calibration file of either kind (loaded)."""
    if obj is None or isinstance(obj, CalibrationBase):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return load_calibration(obj)
    raise CalibrationError(
        f"{what}={obj!r}: give a calibration (edgespace.calibrate(...)) or the path of a calibration file"
    )


def _fit(samples: pd.DataFrame, runs: pd.DataFrame, params: dict | None = None) -> SegmentLatencyModel:
    return SegmentLatencyModel(**(params or {})).fit(samples, runs)


def _report(samples: pd.DataFrame, runs: pd.DataFrame, model: SegmentLatencyModel, params: dict | None) -> dict:
    def predict(m: SegmentLatencyModel, run_ids) -> np.ndarray:
        out = []
        for r in run_ids:
            seg = samples[samples["run"] == r]
            node = float(m.predict_segments_us(seg).sum()) / 1e3
            out.append(m.e2e_[0] * node + m.e2e_[1])
        return np.array(out)

    ids = runs.index.to_numpy()
    rep = {"in_sample": latency_errors(predict(model, ids), runs["e2e_ms"].to_numpy())}
    if len(ids) >= 10:
        rng = np.random.default_rng(0)
        folds = np.array_split(rng.permutation(ids), 5)
        pred = pd.Series(index=ids, dtype=float)
        for fold in folds:
            keep = ~runs.index.isin(fold)
            m = _fit(samples[~samples["run"].isin(fold)], runs[keep], params)
            pred.loc[fold] = predict(m, fold)
        rep["held_out_5fold"] = latency_errors(pred.loc[ids].to_numpy(), runs["e2e_ms"].to_numpy())
    return rep


def calibrate(
    profile,
    measurements,
    *,
    mode: str | None = None,
    threads: int | None = None,
    precision: str | None = None,
    model_params: dict | None = None,
    normalize: bool = True,
    note: str = "",
) -> CalibratedProfile:
    """Fit the per-operator latency model to ``measurements`` (see :func:`training_samples`) for
    ``profile`` (a :class:`~edgespace.HardwareProfile`, a profile name, or None).

    Returns a :class:`CalibratedProfile`; ``.save(path)`` writes it, :func:`load_calibration`
    reads it back. Needs at least 3 networks (10 or more for the held-out error report)."""
    items = list(measurements)
    if len(items) < 3:
        raise CalibrationError(f"calibrate(): {len(items)} measurement(s) given; need at least 3 networks")
    if isinstance(profile, str):
        from edgespace.profiles import load_profile

        profile = load_profile(profile)
    samples, runs = training_samples(items, normalize=normalize)
    first = items[0]
    if not isinstance(first, tuple):
        threads = first.threads if threads is None else threads
        precision = first.precision if precision is None else precision
        runtime = first.runtime_version
        provider = first.provider
    else:
        runtime, provider = "unknown (ingested)", "unknown"
    precision = precision or "fp32"
    mode_name = mode
    if profile is not None and hasattr(profile, "mode"):
        mode_name = profile.mode(mode).name  # a bad mode fails here, naming the allowed ones
    model = _fit(samples, runs, model_params)
    prov = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "runtime": runtime,
        "provider": provider,
        "threads": int(threads) if threads is not None else None,
        "precision": precision,
        "networks": int(len(runs)),
        "segments": int(len(samples)),
        "families": sorted({r["family"] for r in runs["spec"]}),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores",
        "base_profile": getattr(profile, "name", None),
        "mode": mode_name,
        "normalized_to_e2e": bool(normalize),
    }
    if note:
        prov["note"] = note
    power = {}
    metered = [m for m in items if not isinstance(m, tuple) and m.energy_per_inference_mj is not None]
    if mode_name is not None and len(metered) >= MIN_METERED_NETWORKS:
        runs_e = [
            {
                "spec": m.spec,
                "latency_ms": m.latency_p50_ms,
                "energy_mj": m.energy_per_inference_mj,
                "idle_power_w": m.idle_power_w,
            }
            for m in metered
        ]
        power[mode_name] = fit_power_model(runs_e, mode_name, domain=metered[0].meter_domain)
        prov["metered_networks"] = len(metered)
        prov["meter"] = f"{metered[0].meter} ({metered[0].meter_domain})"
    elif metered:
        prov["metered_networks"] = len(metered)
        prov["power_model"] = (
            f"not fitted: {len(metered)} metered network(s), at least {MIN_METERED_NETWORKS} needed"
            if mode_name is not None
            else "not fitted: no profile mode to attach it to"
        )
    return CalibratedProfile(
        profile=getattr(profile, "name", "custom"),
        provenance=prov,
        samples=samples,
        runs=runs,
        report=_report(samples, runs, model, model_params),
        model=model,
        power=power,
    )


#: Models refitted on load, by the hash of what they were fitted on: the fit is deterministic,
#: and a search, its workers and its confirmations load the same file more than once.
_FITTED: dict[str, SegmentLatencyModel] = {}


def load_calibration(path: str | os.PathLike) -> CalibrationBase:
    """Read a calibration file of either kind, by its ``format``: one written by
    :meth:`CalibratedProfile.save` (its model refitted; deterministic, and a file already loaded
    in this process reuses its fitted model) or by ``GpuCalibration.save``."""
    p = Path(path)
    try:
        head = json.loads(read_input(p, CalibrationError))
    except (OSError, ValueError):
        head = None  # load_format_json below names what is wrong
    if isinstance(head, dict) and head.get("format") != FORMAT:
        from edgespace.calibration._gpu import GPU_FORMAT, load_gpu_calibration

        if head.get("format") == GPU_FORMAT:
            return load_gpu_calibration(p)
        raise CalibrationError(f"{p}: format: {head.get('format')!r}: expected {FORMAT!r} or {GPU_FORMAT!r}")
    data = load_format_json(p, FORMAT, CalibrationError, missing="no such calibration file")
    check_calibration_numbers(p, data, CalibrationError)
    for key in ("provenance", "runs", "samples", "model"):
        if key not in data:
            raise CalibrationError(f"{p}: {key}: missing")
    samples = pd.DataFrame(data["samples"])
    missing = [c for c in ("run", *FEATURES, "time_us") if c not in samples.columns]
    if missing:
        raise CalibrationError(f"{p}: samples: missing columns {missing}")
    runs = pd.DataFrame([{"run": k, **r} for k, r in enumerate(data["runs"])]).set_index("run")
    params = {k: v for k, v in data["model"].get("params", {}).items()}
    key = hashlib.sha1(
        json.dumps([data["samples"], data["runs"], params], sort_keys=True, default=float).encode()
    ).hexdigest()
    model = _FITTED.get(key)
    if model is None:
        model = _fit(samples, runs, params)
        _FITTED[key] = model
        while len(_FITTED) > 8:
            _FITTED.pop(next(iter(_FITTED)))
    power = {}
    if data.get("power"):
        from edgespace.calibration._power import PowerModel

        try:
            power = {m: PowerModel.from_dict(d) for m, d in data["power"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{p}: power: {type(exc).__name__}: {exc}") from None
    cal = CalibratedProfile(
        profile=data.get("profile", "custom"),
        provenance=data["provenance"],
        samples=samples,
        runs=runs,
        report=data.get("report", {}),
        model=model,
        applies_to=data.get("applies_to") or {},
        power=power,
    )
    cal.check_stored_id(p, data.get("id"))
    return cal


_ = (INPUT_SEGMENT, ProfileError)
