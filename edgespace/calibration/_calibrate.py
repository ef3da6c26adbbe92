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

import datetime as _dt
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from edgespace._errors import CalibrationError, ProfileError
from edgespace._layer_table import layer_table
from edgespace._spec import ArchSpec
from edgespace.calibration._ingest import NodeProfile, load_format_json
from edgespace.calibration._mapping import INPUT_SEGMENT, map_nodes
from edgespace.calibration._model import FEATURES, SegmentLatencyModel, segment_features

__all__ = ["calibrate", "CalibratedProfile", "load_calibration", "CalibrationError", "training_samples", "FORMAT",
           "latency_errors"]  # fmt: skip

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
            raise CalibrationError(f"measurement {k} ({spec.short_name()}) has no node times; measure with profile=True")
        table = layer_table(spec)
        mapped = map_nodes(list(prof.nodes), table)
        seg_t = mapped.groupby("segment")["time_us"].sum()
        feats = segment_features(table)
        feats["time_us"] = seg_t.reindex(feats.index).fillna(0.0).to_numpy()
        if normalize and e2e is not None and prof.node_total_ms > 0:
            feats["time_us"] *= float(e2e) / prof.node_total_ms
        feats["run"] = k
        sample_frames.append(feats[feats["time_us"] > 0].reset_index())
        runs.append({"run": k, "spec": spec.to_dict(), "e2e_ms": float(e2e if e2e is not None else prof.node_total_ms),
                     "node_ms": float(feats["time_us"].sum()) / 1e3, "profiled_ms": prof.node_total_ms,
                     "spread_pct": spread})  # fmt: skip
    if not sample_frames:
        raise CalibrationError("calibrate(): no measurements given")
    return pd.concat(sample_frames, ignore_index=True), pd.DataFrame(runs).set_index("run")


@dataclass
class CalibratedProfile:
    """A fitted latency model with its provenance. ``predict_latency_ms(spec)`` for a spec."""

    profile: str
    provenance: dict
    samples: pd.DataFrame
    runs: pd.DataFrame
    report: dict = field(default_factory=dict)
    model: SegmentLatencyModel = field(default_factory=SegmentLatencyModel)

    @property
    def threads(self) -> int:
        return int(self.provenance.get("threads") or 0)

    def predict_latency_ms(self, spec_or_table) -> float:
        table = layer_table(spec_or_table) if isinstance(spec_or_table, ArchSpec) else spec_or_table
        return self.model.predict_latency_ms(table)

    def predict_many_ms(self, specs) -> np.ndarray:
        return np.array([self.predict_latency_ms(s) for s in specs])

    def to_dict(self) -> dict:
        s = self.samples
        return {
            "format": FORMAT,
            "profile": self.profile,
            "provenance": self.provenance,
            "model": {"class": "SegmentLatencyModel", "e2e": {"scale": self.model.e2e_[0], "offset_ms": self.model.e2e_[1]},
                      "params": {"ridge": self.model.ridge, "trees": self.model.trees, **self.model.tree_params}},  # fmt: skip
            "report": self.report,
            "runs": [{"spec": r.spec, "e2e_ms": r.e2e_ms, "node_ms": r.node_ms, "profiled_ms": r.profiled_ms,
                      "spread_pct": None if pd.isna(r.spread_pct) else r.spread_pct} for r in self.runs.itertuples()],  # fmt: skip
            "samples": {c: s[c].tolist() for c in ("run", "segment", *FEATURES, "time_us")},
        }

    def save(self, path: str | os.PathLike) -> Path:
        from edgespace._paths import output_file

        p = output_file(path, "calibration file", CalibrationError)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False, default=float))
        os.replace(tmp, p)
        return p


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


def calibrate(profile, measurements, *, threads: int | None = None, precision: str | None = None,
              model_params: dict | None = None, normalize: bool = True, note: str = "") -> CalibratedProfile:  # fmt: skip
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
    model = _fit(samples, runs, model_params)
    prov = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "runtime": runtime,
        "provider": provider,
        "threads": int(threads) if threads is not None else None,
        "precision": precision,
        "networks": int(len(runs)),
        "segments": int(len(samples)),
        "families": sorted({r["family"] for r in runs["spec"]}),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores",
        "base_profile": getattr(profile, "name", None),
        "normalized_to_e2e": bool(normalize),
    }
    if note:
        prov["note"] = note
    return CalibratedProfile(
        profile=getattr(profile, "name", "custom"), provenance=prov, samples=samples, runs=runs,
        report=_report(samples, runs, model, model_params),
        model=model,
    )  # fmt: skip


def load_calibration(path: str | os.PathLike) -> CalibratedProfile:
    """Read a calibration file written by :meth:`CalibratedProfile.save` and refit its model."""
    p = Path(path)
    data = load_format_json(p, FORMAT, CalibrationError, missing="no such calibration file")
    for key in ("provenance", "runs", "samples", "model"):
        if key not in data:
            raise CalibrationError(f"{p}: {key}: missing")
    samples = pd.DataFrame(data["samples"])
    missing = [c for c in ("run", *FEATURES, "time_us") if c not in samples.columns]
    if missing:
        raise CalibrationError(f"{p}: samples: missing columns {missing}")
    runs = pd.DataFrame([{"run": k, **r} for k, r in enumerate(data["runs"])]).set_index("run")
    params = {k: v for k, v in data["model"].get("params", {}).items()}
    model = _fit(samples, runs, params)
    return CalibratedProfile(profile=data.get("profile", "custom"), provenance=data["provenance"], samples=samples,
                             runs=runs, report=data.get("report", {}),
                             model=model)  # fmt: skip


_ = (INPUT_SEGMENT, ProfileError)
