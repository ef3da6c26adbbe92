"""Vectorised evaluation of design points: every Estimate field, accuracy, and derived metrics.

One call per batch of trials (a generation of NSGA-II): :func:`~edgespace.cost.estimate_many`
once per power mode present, and the accuracy model once over the distinct architectures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from edgespace._spec import ARCH_COLUMNS, ArchSpec
from edgespace.cost import ESTIMATE_COLUMNS, SOURCE_COLUMNS, estimate_many
from edgespace.study._errors import SearchError

__all__ = ["evaluate_points", "accuracy_ref", "BUDGET_COLUMNS"]

#: Columns added when a search runs under an energy budget (constraints may name them).
BUDGET_COLUMNS = ("days_autonomy", "budget_daily_margin_j", "budget_margin_fraction", "budget_feasible")

_INT = ("macs", "params", "n_fallback_ops", "n_estimated_inputs")
_BOOL = ("fits_memory", "runnable")


def accuracy_ref(accuracy: Any) -> str:
    """How a study records its accuracy model (a worker can rebuild only ``published:*``)."""
    from edgespace.accuracy import PublishedAccuracy

    if accuracy is None:
        return "published:ptq"
    if isinstance(accuracy, PublishedAccuracy):
        return f"published:{accuracy.quantization}"
    name = getattr(accuracy, "name", None)
    version = getattr(accuracy, "version", None)
    return f"custom:{type(accuracy).__name__}" + (f":{name}" if name else "") + (f":{version}" if version else "")


def _predict_accuracy(frame: pd.DataFrame, accuracy: Any) -> pd.DataFrame:
    """top1/top1_std/in_range for the distinct (family, width, depth, resolution, precision)."""
    from edgespace.accuracy import predict_many

    if accuracy is None:
        return predict_many(frame)
    if hasattr(accuracy, "predict_many"):
        return accuracy.predict_many(frame)
    if not hasattr(accuracy, "predict"):
        raise SearchError(f"accuracy={accuracy!r}: give an AccuracyModel (an object with predict(spec)) or None")
    rows = []
    for r in frame.itertuples(index=False):
        est = accuracy.predict(ArchSpec(r.family, float(r.width), float(r.depth), int(r.resolution), r.precision))
        top1 = getattr(est, "top1", est)
        rows.append(
            {
                "top1": float(top1),
                "top1_std": float(getattr(est, "top1_std", np.nan)),
                "in_range": bool(getattr(est, "in_range", True)),
            }
        )
    return pd.DataFrame(rows, index=frame.index)


def _budget_columns(out: pd.DataFrame, profile, budget) -> None:
    from edgespace.budget import budget_metrics

    n = len(out)
    days = np.full(n, np.nan)
    margin_j = np.full(n, np.nan)
    margin = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    modes = out["mode"].to_numpy()
    energy_j = out["sustained_energy_mj"].to_numpy(dtype=float) / 1e3
    runnable = out["runnable"].to_numpy(dtype=bool) & np.isfinite(energy_j)
    for mode in pd.unique(modes):
        idx = np.flatnonzero((modes == mode) & runnable)
        if len(idx) == 0:
            continue
        m = budget_metrics(budget.for_mode(profile, mode), energy_j[idx])
        days[idx] = m["days_autonomy"].to_numpy()
        margin_j[idx] = m["daily_margin_j"].to_numpy()
        margin[idx] = m["margin_fraction"].to_numpy()
        ok[idx] = m["feasible"].to_numpy()
    out["days_autonomy"] = days
    out["budget_daily_margin_j"] = margin_j
    out["budget_margin_fraction"] = margin
    out["budget_feasible"] = ok


def evaluate_points(
    points: pd.DataFrame,
    profile,
    *,
    accuracy: Any = None,
    ambient_c: float | None = None,
    budget: Any = None,
    calibration: Any = None,
) -> pd.DataFrame:
    """``points`` (family, width, depth, resolution, precision, mode, [batch], [placement], ...) plus every scalar
    Estimate field, ``accuracy``, ``accuracy_std``, ``accuracy_in_range`` and
    ``accuracy_per_joule`` (top-1 points × inferences per joule), on the same row order. With a
    ``budget`` (:class:`~edgespace.budget.Budget`), each candidate's sustained energy per
    inference in its mode is checked against it: :data:`BUDGET_COLUMNS`. With a
    ``calibration``, latency (and what follows from it) comes from it where it applies;
    ``latency_source`` / ``energy_source`` say where each row's numbers came from."""
    out = points.reset_index(drop=True).copy()
    n = len(out)
    cols = {
        k: np.empty(n, dtype=bool if k in _BOOL else np.int64 if k in _INT else np.float64) for k in ESTIMATE_COLUMNS
    }
    cols.update({k: np.full(n, "analytic", dtype=object) for k in SOURCE_COLUMNS})
    spec = out[list(ARCH_COLUMNS)].astype({"width": float, "depth": float, "resolution": np.int64})
    # Batch changes the cost (per call, per image), not the accuracy: only the cost model sees it.
    cost_spec = spec.assign(batch=out["batch"].to_numpy()) if "batch" in out.columns else spec
    if "placement" not in out.columns:
        out["placement"] = "auto"
    for (mode, placement), idx in out.groupby(["mode", "placement"], sort=False).indices.items():
        est = estimate_many(
            cost_spec.iloc[idx],
            profile,
            modes=[mode],
            ambient_c=ambient_c,
            placements=[placement],
            calibration=calibration,
        )
        for k in (*ESTIMATE_COLUMNS, *SOURCE_COLUMNS):
            cols[k][idx] = est[k].to_numpy()
    for k in (*ESTIMATE_COLUMNS, *SOURCE_COLUMNS):
        out[k] = cols[k]
    uniq = spec.drop_duplicates(ignore_index=True)
    acc = _predict_accuracy(uniq, accuracy)
    uniq = uniq.assign(
        accuracy=acc["top1"].to_numpy(dtype=float),
        accuracy_std=acc["top1_std"].to_numpy(dtype=float),
        accuracy_in_range=acc["in_range"].to_numpy(dtype=bool),
    )
    merged = spec.merge(uniq, on=list(ARCH_COLUMNS), how="left")
    for k in ("accuracy", "accuracy_std", "accuracy_in_range"):
        out[k] = merged[k].to_numpy()
    with np.errstate(invalid="ignore"):
        out["accuracy_per_joule"] = np.where(out["runnable"], out["accuracy"] * out["inferences_per_joule"], np.nan)
    if budget is not None:
        _budget_columns(out, profile, budget)
    return out
