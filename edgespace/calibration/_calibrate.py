"""A :class:`Calibration` (what ``calibrate(profile, measurements)`` in ``_fitting`` returns): a
fitted per-operator latency model with its provenance, what it applies to, its predictions, and
the JSON it is saved as (read back by ``_calibration_file``).

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

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from edgespace._errors import CalibrationError, ProfileError
from edgespace._layer_table import layer_table
from edgespace._spec import ArchSpec
from edgespace.calibration._band import band_factors
from edgespace.calibration._design import design_features
from edgespace.calibration._mapping import INPUT_SEGMENT
from edgespace.calibration._model import FEATURES, SegmentLatencyModel, segment_columns
from edgespace.cost import APPLIES_KEYS, CalibrationBase

__all__ = [
    "Calibration",
    "CalibrationError",
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


@dataclass
class Calibration(CalibrationBase):
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

    def with_runs(self, measurements, *, note: str = "") -> Calibration:
        """This calibration refitted on its runs plus ``measurements`` (see
        :func:`~edgespace.calibration._refit.fold_runs`): a new calibration with a new ``id``."""
        from edgespace.calibration._refit import fold_runs

        return fold_runs(self, measurements, note=note)

    def latency_band(self, specs) -> tuple[np.ndarray, np.ndarray, float] | None:
        """``(low_factors, high_factors, coverage)`` for ``specs`` from the network-held-out
        errors of the fit (``report["interval"]``, see :mod:`edgespace.calibration._band`): each
        network's band is wider the farther it lies from the networks measured. None when too
        few networks were measured for folds."""
        band = self.report.get("interval")
        if not band:
            return None
        specs = list(specs)
        todo = [s for s in dict.fromkeys(specs) if ("band", s) not in self._cache]
        if todo:
            low, high = band_factors(band, np.array([design_features(s) for s in todo]))
            for s, lo, hi in zip(todo, low, high, strict=True):
                self._cache[("band", s)] = (float(lo), float(hi))
        pairs = np.array([self._cache[("band", s)] for s in specs], dtype=np.float64).reshape(len(specs), 2)
        return pairs[:, 0], pairs[:, 1], float(band["coverage"])

    def energy_band(self, mode: str, specs) -> tuple[np.ndarray, np.ndarray, float] | None:
        """``(low_factors, high_factors, coverage)`` for ``specs`` around the metered energy of
        ``mode``: the power model's own band (its held-out networks' energy at their measured
        latency) times each network's latency band, each widened to contain 1. Energy at a
        latency ``c`` times another is at most ``c`` times the energy for ``c >= 1`` (and at
        least for ``c <= 1``), so the product covers whenever both bands do: with probability at
        least the sum of their coverages minus 1 (0.8 for two 90% bands). None without either
        band."""
        model = self.power.get(mode)
        band = (model.report or {}).get("interval") if model is not None else None
        lat = self.latency_band(specs) if band else None
        if lat is None:
            return None
        lo = min(float(band["low_factor"]), 1.0) * np.minimum(lat[0], 1.0)
        hi = max(float(band["high_factor"]), 1.0) * np.maximum(lat[1], 1.0)
        return lo, hi, max(0.0, float(band["coverage"]) + lat[2] - 1.0)

    def summary(self) -> dict:
        """What a study stores (and a report shows): id, applicability, provenance, the error on
        networks held out of the fit (``held_out``: None when too few networks were measured for
        folds) and the error on the networks fitted (``in_sample``), each under its own name."""
        return {
            "id": self.id,
            "applies_to": self.applies_to,
            "date": self.provenance.get("date"),
            "device": self.provenance.get("machine"),
            "runtime": self.provenance.get("runtime"),
            "provider": self.provenance.get("provider"),
            "threads": self.provenance.get("threads"),
            "networks": self.provenance.get("networks"),
            "held_out": self.report.get("held_out_5fold"),
            "in_sample": self.report.get("in_sample"),
            "interval": _shown(self.report.get("interval")),
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
                    "profiled_ms": None if pd.isna(r.profiled_ms) else r.profiled_ms,
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


def _shown(band: dict | None) -> dict | None:
    """The band as a summary shows it: without the calibration networks' feature rows."""
    if not band:
        return band
    return {k: v for k, v in band.items() if k not in ("features", "feature_mean", "feature_scale")}


_ = (INPUT_SEGMENT, ProfileError)
