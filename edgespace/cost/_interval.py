"""Prediction intervals on calibrated latencies: each calibration states, from its own
network-held-out errors, a band ``[low_factor, high_factor]`` around its prediction and the share
of networks it covers (see :meth:`~edgespace.cost.CalibrationBase.latency_band`); an estimate
carries ``latency_low_ms`` / ``latency_high_ms`` and ``interval_coverage`` where its latency is
calibrated and the calibration states a band, NaN elsewhere (analytic numbers have no measured
error to draw an interval from)."""

from __future__ import annotations

import numpy as np

__all__ = ["INTERVAL_COLUMNS", "interval_columns"]

#: The interval fields of an Estimate (per call, as ``latency_ms``), and the coverage they state.
INTERVAL_COLUMNS = ("latency_low_ms", "latency_high_ms", "interval_coverage")


def interval_columns(cal, latency_ms, calibrated: bool) -> dict[str, np.ndarray]:
    """The :data:`INTERVAL_COLUMNS` for rows of ``latency_ms`` (all calibrated by ``cal``, or
    none of them)."""
    lat = np.asarray(latency_ms, dtype=np.float64)
    band = cal.latency_band() if calibrated and cal is not None else None
    if band is None:
        nan = np.full(lat.shape, np.nan)
        return {"latency_low_ms": nan, "latency_high_ms": nan.copy(), "interval_coverage": nan.copy()}
    lo, hi, coverage = band
    return {
        "latency_low_ms": lat * float(lo),
        "latency_high_ms": lat * float(hi),
        "interval_coverage": np.full(lat.shape, float(coverage)),
    }
