"""A power model per power mode, fitted to metered runs: what a network costs in joules.

**Model.** A meter counts everything the domain draws over a timed window of back-to-back
inferences, so the energy of one inference of latency ``t`` is

    E = P_idle · t + P_busy · t + Σ_c e_c · ops_c + e_byte · bytes

* ``P_idle`` (W): the domain's power doing nothing, *measured* just before each window
  (``Measurement.idle_power_w``; the median over the runs), not fitted;
* ``P_busy`` (W): the floor the engines draw above idle whenever they run a kernel (clock tree,
  instruction issue, caches at the raised voltage), whatever the arithmetic;
* ``e_c`` (J per op): switching energy per operation of each operator class ``c`` (conv,
  depthwise, pointwise, linear: 2 ops per MAC; ``elementwise``: batch norm, activations, adds,
  pooling, one op per element);
* ``e_byte`` (J per byte): energy per byte moved to and from DRAM (the layer table's weight,
  input and output bytes, an upper bound on the traffic: caches only lower it).

The fitted terms are non-negative (scipy's ``nnls`` on ``E − P_idle · t``, columns scaled to
unit norm so that watts, joules per op and joules per byte are fitted alike). The latency ``t``
of a new network comes from the calibration's latency model, its ops and bytes from its layer
table. ``report['held_out_5fold']``: error of networks held out of the fit, five folds.

**Identifiability.** On real runs latency grows with the work done, so the busy-power column
(``t``) and the per-op columns are nearly collinear: the fit predicts a network's energy well
while splitting it between ``P_busy`` and ``e_c`` almost arbitrarily. ``report['terms']`` says,
per fitted term, how far it moved between the five fold fits and the share of the energy it
carries, and its variance inflation factor (VIF: how well the other columns reproduce its own
column over these runs, 1 / (1 − R²)). A term that carries a share of the energy yet has a VIF
above :data:`MAX_VIF`, or moves by more than :data:`IDENTIFIABLE_SPREAD` between folds, is listed
in ``report['not_identifiable']``: its value is one split among many that fit equally well, not
a measurement of that term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edgespace._layer_table import CONV_OPS, layer_table
from edgespace._spec import ArchSpec
from edgespace.calibration._band import conformal_band
from edgespace.calibration._folds import family_folds

__all__ = [
    "PowerModel",
    "fit_power_model",
    "power_features",
    "OP_TERMS",
    "MIN_METERED_NETWORKS",
    "IDENTIFIABLE_SPREAD",
]

#: Operator classes with an energy per op of their own.
OP_TERMS = (*CONV_OPS, "elementwise")
#: Fewest metered networks of a mode for which a power model is fitted.
MIN_METERED_NETWORKS = 10
_COEFS = ("busy_w", *(f"{c}_j_per_op" for c in OP_TERMS), "dram_j_per_byte")
#: Largest relative spread ((max - min) / fitted value) of a term across the fold fits for which
#: the term is called identifiable from the runs.
IDENTIFIABLE_SPREAD = 0.25
#: Largest variance inflation factor of a term called identifiable (10: the usual rule of thumb).
MAX_VIF = 10.0
#: Smallest share of the fitted (above-idle) energy for which a term's identifiability matters.
MATERIAL_SHARE = 0.05


def power_features(spec_or_table) -> dict:
    """Ops per operator class and DRAM bytes of one network (from its layer table)."""
    t = layer_table(spec_or_table) if isinstance(spec_or_table, ArchSpec) else spec_or_table
    op = t["op"].to_numpy().astype(str)
    macs = t["macs"].to_numpy(np.float64)
    elem = t["elem_ops"].to_numpy(np.float64)
    out = {f"{c}_ops": float(2.0 * macs[op == c].sum()) for c in CONV_OPS}
    out["elementwise_ops"] = float(elem[~np.isin(op, CONV_OPS)].sum())
    out["dram_bytes"] = float((t["weight_bytes"] + t["input_bytes"] + t["output_bytes"]).sum())
    return out


def _design(feats: pd.DataFrame, latency_s: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [
            latency_s,
            *(feats[f"{c}_ops"].to_numpy(np.float64) for c in OP_TERMS),
            feats["dram_bytes"].to_numpy(np.float64),
        ]
    )


def _nnls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    scale = np.linalg.norm(x, axis=0)
    scale[scale == 0] = 1.0
    coef, _ = nnls(x / scale, y)
    return coef / scale


def _errors(pred: np.ndarray, meas: np.ndarray) -> dict:
    from edgespace.calibration._calibrate import latency_errors

    return latency_errors(pred, meas)


@dataclass
class PowerModel:
    """Fitted power model of one mode (see the module docstring). ``data``: the metered runs it
    was fitted on (spec, latency_ms, energy_mj per inference, idle_power_w, meter domain)."""

    mode: str
    idle_w: float
    coef: dict
    domain: str = ""
    data: list = field(default_factory=list)
    report: dict = field(default_factory=dict)

    def predict_energy_mj(self, specs, latency_ms) -> np.ndarray:
        """Energy per inference (mJ) of ``specs`` running at ``latency_ms`` each."""
        feats = pd.DataFrame([power_features(s) for s in specs])
        t = np.asarray(latency_ms, dtype=np.float64) / 1e3
        x = _design(feats, t)
        c = np.array([self.coef[k] for k in _COEFS])
        return (self.idle_w * t + x @ c) * 1e3

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "idle_w": self.idle_w,
            "coef": dict(self.coef),
            "domain": self.domain,
            "data": self.data,
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, d: dict) -> PowerModel:
        return cls(
            mode=d["mode"],
            idle_w=float(d["idle_w"]),
            coef={k: float(d["coef"][k]) for k in _COEFS},
            domain=d.get("domain", ""),
            data=list(d.get("data", [])),
            report=dict(d.get("report", {})),
        )


def fit_power_model(runs, mode: str, *, domain: str = "", folds: int = 5) -> PowerModel:
    """Fit a :class:`PowerModel` to ``runs``: dicts (or objects) with ``spec``, ``latency_ms``
    (the run's latency), ``energy_mj`` (metered, per inference) and ``idle_power_w`` (measured
    before its window). Needs :data:`MIN_METERED_NETWORKS` runs; reports the held-out error."""
    from edgespace.calibration._calibrate import CalibrationError

    rows = []
    for r in runs:
        get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k))
        spec = get("spec")
        spec = spec if isinstance(spec, ArchSpec) else ArchSpec(**spec)
        rows.append(
            {
                "spec": spec.to_dict(),
                "latency_ms": float(get("latency_ms")),
                "energy_mj": float(get("energy_mj")),
                "idle_power_w": None if get("idle_power_w") is None else float(get("idle_power_w")),
            }
        )
    if len(rows) < MIN_METERED_NETWORKS:
        raise CalibrationError(
            f"power model for mode {mode!r}: {len(rows)} metered network(s); need at least {MIN_METERED_NETWORKS}"
        )
    idle = [r["idle_power_w"] for r in rows if r["idle_power_w"] is not None]
    if not idle:
        raise CalibrationError(f"power model for mode {mode!r}: no run measured its idle power")
    idle_w = float(np.median(idle))
    feats = pd.DataFrame([power_features(ArchSpec(**r["spec"])) for r in rows])
    t = np.array([r["latency_ms"] for r in rows]) / 1e3
    e = np.array([r["energy_mj"] for r in rows]) / 1e3
    x = _design(feats, t)
    y = e - idle_w * t
    coef = _nnls(x, y)
    model = PowerModel(
        mode=mode, idle_w=idle_w, coef=dict(zip(_COEFS, map(float, coef), strict=True)), domain=domain, data=rows
    )
    pred_in = (idle_w * t + x @ coef) * 1e3
    report = {"in_sample": _errors(pred_in, e * 1e3)}
    ids = np.arange(len(rows))
    pred = np.empty(len(rows))
    fold_coefs = []
    for fold in family_folds((r["spec"]["family"] for r in rows), k=folds):
        keep = np.setdiff1d(ids, fold)
        c = _nnls(x[keep], y[keep])
        fold_coefs.append(c)
        pred[fold] = (idle_w * t[fold] + x[fold] @ c) * 1e3
    report["held_out_5fold"] = _errors(pred, e * 1e3)
    band = conformal_band(pred, e * 1e3)
    if band is not None:
        band["method"] = "conformal over the 5-fold held-out energies at the measured latency"
        report["interval"] = band
    report.update(_identifiability(x, coef, np.array(fold_coefs)))
    model.report = report
    return model


def _identifiability(x: np.ndarray, coef: np.ndarray, fold_coefs: np.ndarray) -> dict:
    """Per term: its share of the fitted energy, its range over the fold fits and whether the runs
    pin it down (see the module docstring)."""
    energy = x * coef  # J per run and term
    vif = _vif(x)
    total = float(energy.sum()) or 1.0
    terms, loose = {}, []
    for j, name in enumerate(_COEFS):
        lo, hi = float(fold_coefs[:, j].min()), float(fold_coefs[:, j].max())
        share = float(energy[:, j].sum()) / total
        ref = max(abs(float(coef[j])), hi, 1e-300)
        spread = (hi - lo) / ref
        material = share >= MATERIAL_SHARE or hi * x[:, j].sum() >= MATERIAL_SHARE * total
        # collinear with the others: any value fits (also one fitted at zero); else it must hold still
        ok = bool(vif[j] <= MAX_VIF) and ((not material) or spread <= IDENTIFIABLE_SPREAD)
        terms[name] = {
            "vif": float(vif[j]),
            "value": float(coef[j]),
            "fold_min": lo,
            "fold_max": hi,
            "spread": spread,
            "energy_share": share,
            "identifiable": ok,
        }
        if not ok:
            loose.append(name)
    return {"terms": terms, "not_identifiable": loose}


def _vif(x: np.ndarray) -> np.ndarray:
    """Variance inflation factor of each column of ``x`` (columns scaled to unit norm, no
    intercept: every term of the model is proportional to its column); inf where the others
    reproduce a column exactly, nan for an all-zero column (a class the runs never used)."""
    scale = np.linalg.norm(x, axis=0)
    out = np.full(x.shape[1], np.nan)
    for j in range(x.shape[1]):
        if scale[j] == 0:
            continue
        others = [k for k in range(x.shape[1]) if k != j and scale[k] > 0]
        xs = x[:, others] / scale[others]
        yj = x[:, j] / scale[j]
        beta, *_ = np.linalg.lstsq(xs, yj, rcond=None)
        resid = float(np.sum((yj - xs @ beta) ** 2))  # of a unit-norm column: 1 - R^2 (no intercept)
        out[j] = np.inf if resid <= 1e-12 else 1.0 / resid
    return out
