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

**Identifiability.** In real runs latency grows with the ops, so the busy-power column
(``t``) and the op columns are nearly collinear: the data then fix their sum along the runs, not
each term (a fit can trade busy watts for joules per op and predict as well). Each term's
variance inflation factor (VIF: 1 / (1 − R²) of its column regressed on the others) and its 90%
interval over bootstrap refits are reported in ``report['identifiability']``; a term the runs
do not pin down (VIF above :data:`MAX_VIF`, or an interval wider than :data:`MAX_CI_WIDTH` times
its value) is listed in ``report['not_identifiable']`` with the reason, and its fitted value must
not be read as a physical figure (predictions inside the range of the runs remain valid).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edgespace._layer_table import CONV_OPS, layer_table
from edgespace._spec import ArchSpec

__all__ = [
    "PowerModel",
    "fit_power_model",
    "power_features",
    "identifiability",
    "OP_TERMS",
    "MIN_METERED_NETWORKS",
    "MAX_VIF",
    "MAX_CI_WIDTH",
]

#: Operator classes with an energy per op of their own.
OP_TERMS = (*CONV_OPS, "elementwise")
#: Fewest metered networks of a mode for which a power model is fitted.
MIN_METERED_NETWORKS = 10
_COEFS = ("busy_w", *(f"{c}_j_per_op" for c in OP_TERMS), "dram_j_per_byte")
#: Variance inflation above which a term is reported as not identifiable from the runs (R² of
#: its column on the others above 0.99: the customary VIF threshold of 10 is for inference on
#: noisy survey data; 100 keeps only terms the runs cannot separate at all).
MAX_VIF = 100.0
#: Widest 90% bootstrap interval (as a fraction of the fitted value) of a term reported as
#: determined by the runs: 1.0 is "known to within about ±50%".
MAX_CI_WIDTH = 1.0


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


def _bootstrap(x: np.ndarray, y: np.ndarray, n: int = 200, seed: int = 0) -> np.ndarray:
    """Coefficients refitted on ``n`` resamples of the runs (rows: resamples)."""
    rng = np.random.default_rng(seed)
    return np.array([_nnls(x[idx], y[idx]) for idx in rng.integers(0, len(y), size=(n, len(y)))])


def identifiability(x: np.ndarray, y: np.ndarray | None = None, coef: np.ndarray | None = None) -> dict:
    """Per fitted term: its VIF over the runs' design matrix ``x`` and, with the fit's target
    ``y`` and coefficients ``coef``, its 90% interval over 200 bootstrap refits (``ci90``). A
    term is ``identifiable`` when its VIF is at most :data:`MAX_VIF` and that interval is at most
    :data:`MAX_CI_WIDTH` times its fitted value; otherwise ``why`` names the terms it is
    confounded with. A column of zeros (no such operator in any run) is not identifiable either."""
    scale = np.linalg.norm(x, axis=0)
    boot = _bootstrap(x, y) if y is not None and coef is not None else None
    out = {}
    for j, name in enumerate(_COEFS):
        if scale[j] == 0:
            out[name] = {"vif": None, "identifiable": False, "why": "no run has this term (its column is zero)"}
            continue
        others = [k for k in range(x.shape[1]) if k != j and scale[k] > 0]
        col = x[:, j] / scale[j]
        z = x[:, others] / scale[others]
        w, *_ = np.linalg.lstsq(z, col, rcond=None)
        resid = col - z @ w
        r2 = 1.0 - float(resid @ resid) / float(col @ col)  # uncentred: the model has no intercept
        vif = None if r2 >= 1.0 - 1e-12 else 1.0 / (1.0 - r2)  # None: exactly collinear (JSON has no inf)
        entry = {"vif": vif, "identifiable": vif is not None and vif <= MAX_VIF}
        top = [_COEFS[others[k]] for k in np.argsort(-np.abs(w))[:2]]
        if not entry["identifiable"]:
            entry["why"] = f"its column is {r2:.2%} explained by the others (mostly {', '.join(top)})"
        if boot is not None:
            lo, hi = (float(v) for v in np.percentile(boot[:, j], [5, 95]))
            entry["ci90"] = [lo, hi]
            fitted = float(coef[j])
            if entry["identifiable"] and not (fitted > 0 and hi - lo <= MAX_CI_WIDTH * fitted):
                entry["identifiable"] = False
                entry["why"] = (
                    f"resampling the runs moves it from {lo:.3g} to {hi:.3g} (90%) around {fitted:.3g}: "
                    f"the runs do not separate it from {', '.join(top)}"
                )
        out[name] = entry
    return out


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
    ids = np.random.default_rng(0).permutation(len(rows))
    pred = np.empty(len(rows))
    for fold in np.array_split(ids, folds):
        keep = np.setdiff1d(ids, fold)
        c = _nnls(x[keep], y[keep])
        pred[fold] = (idle_w * t[fold] + x[fold] @ c) * 1e3
    report["held_out_5fold"] = _errors(pred, e * 1e3)
    report["identifiability"] = identifiability(x, y, coef)
    report["not_identifiable"] = {k: v["why"] for k, v in report["identifiability"].items() if not v["identifiable"]}
    model.report = report
    return model
