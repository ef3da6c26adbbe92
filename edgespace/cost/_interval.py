"""Prediction intervals on calibrated latencies: each calibration states, from its own
network-held-out errors, a band ``[low_factor, high_factor]`` around its prediction and the share
of networks it covers (see :meth:`~edgespace.cost.CalibrationBase.latency_band`); an estimate
carries ``latency_low_ms`` / ``latency_high_ms`` and ``interval_coverage`` where its latency is
calibrated and the calibration states a band, NaN elsewhere (analytic numbers have no measured
error to draw an interval from). The band is each network's own: wider the farther it lies
from the networks the calibration measured. Likewise ``energy_low_mj`` / ``energy_high_mj`` and
``energy_interval_coverage`` where the energy is metered (see
:meth:`~edgespace.cost.CalibrationBase.energy_band`)."""

from __future__ import annotations

import numpy as np

__all__ = ["INTERVAL_COLUMNS", "interval_columns"]

#: The interval fields of an Estimate (per call, as ``latency_ms``; energy per image, as
#: ``energy_mj``), and the coverage each states.
INTERVAL_COLUMNS = (
    "latency_low_ms",
    "latency_high_ms",
    "interval_coverage",
    "energy_low_mj",
    "energy_high_mj",
    "energy_interval_coverage",
)


def _band(values, band, names) -> dict[str, np.ndarray]:
    v = np.asarray(values, dtype=np.float64)
    if band is None:
        return {n: np.full(v.shape, np.nan) for n in names}
    lo, hi, coverage = band
    return dict(zip(names, (v * lo, v * hi, np.full(v.shape, float(coverage))), strict=True))


def interval_columns(
    cal, specs, latency_ms, calibrated: bool, energy_mj=None, mode: str | None = None, metered: bool = False
) -> dict[str, np.ndarray]:
    """The :data:`INTERVAL_COLUMNS` for rows of ``latency_ms`` (one per network of ``specs``;
    all calibrated by ``cal``, or none of them) and ``energy_mj`` (all metered by ``cal``'s power
    model of ``mode``, or none). Each network's band is its own (see
    :meth:`~edgespace.cost.CalibrationBase.latency_band`)."""
    lat_band = cal.latency_band(specs) if calibrated and cal is not None else None
    out = _band(latency_ms, lat_band, INTERVAL_COLUMNS[:3])
    e_band = cal.energy_band(mode, specs) if metered and cal is not None and mode is not None else None
    energy = latency_ms if energy_mj is None else energy_mj
    out.update(_band(energy, e_band, INTERVAL_COLUMNS[3:]))
    return out
