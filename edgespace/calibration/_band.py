"""A calibration's latency band for each network: wider the farther the network lies from the
networks measured.

Cross-validated errors over-state the error of a new network when the calibration networks were
chosen to fill the space: the design puts networks at the corners, and a held-out corner is an
extrapolation for the model that did not see it, while a new network is usually between measured
ones. A band of one width for every network then covers far more than it states (medians of
96-100% of 72 held-out networks for a stated 90% in ``benchmarks/few_shot.py``), and less than it
states far from the measured networks. So the band is normalised
split-conformal (locally weighted: Lei et al., "Distribution-free predictive inference for
regression", JASA 2018, section 5.2): each held-out error is divided by a difficulty
``w(d) = 1 + a · d / d_typ`` of the network's distance ``d`` to the nearest network its fold's
model saw, in the space of :func:`~edgespace.calibration._design.design_features` (standardised
over the calibration networks); ``d_typ`` is the median of those distances and ``a`` is
:data:`DIFFICULTY_SLOPE`. A new network's band is ``exp(c ± q · w(d))`` times the prediction,
``d`` its distance to the nearest calibration network, ``c`` the median log error (the fit's
bias on unseen networks) and ``q`` the quantile of the normalised scores at rank
``coverage · (n + 1)``, interpolated between neighbouring ranks: a new network exchangeable with
the held-out ones falls inside with probability ``coverage`` in expectation (the next rank up,
which conformal prediction takes for a guarantee of at least ``coverage``, covers
``ceil(coverage·(n+1)) / (n+1)``: 94% for 16 networks, and more in practice).
"""

from __future__ import annotations

import numpy as np

__all__ = ["INTERVAL_COVERAGE", "network_band", "band_factors", "conformal_band"]

#: Share of networks a calibration's latency band is to cover (in expectation).
INTERVAL_COVERAGE = 0.9

#: ``a`` in the difficulty ``1 + a · d / d_typ``: how fast a held-out error grows with the
#: distance to the nearest network the model saw, in units of its value on a measured network
#: per typical distance. From the calibrations' own held-out errors, not from any test set: a
#: least-absolute-deviation line of |error| on ``d / d_typ`` per calibration of the stored
#: few-shot runs (23 calibrations of 16-36 host networks) has a median slope of 2.6 (10th-90th
#: percentile 0-8; a line in logs gives 1.3); a single calibration's 16 points fix it too
#: loosely to fit per calibration, so one value serves all.
DIFFICULTY_SLOPE = 2.0


def _nearest(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Each row of ``points``' Euclidean distance to its nearest row of ``others``."""
    if not len(others):
        return np.full(len(points), np.inf)
    return np.sqrt(((points[:, None, :] - others[None, :, :]) ** 2).sum(axis=2)).min(axis=1)


def network_band(predicted, measured, features, folds, coverage: float = INTERVAL_COVERAGE) -> dict | None:
    """The band of a calibration from its networks' held-out ``predicted`` and ``measured``
    latencies (each predicted by the model of the fold that held it out), their
    :func:`design_features` rows ``features`` and the ``folds`` (arrays of row positions). None
    when too few networks for the rank (``coverage · (n + 1) > n``: fewer than 9 at 90%)."""
    p, m = np.asarray(predicted, float), np.asarray(measured, float)
    x = np.asarray(features, float).reshape(len(p), -1)
    ok = (p > 0) & (m > 0) & np.isfinite(p) & np.isfinite(m)
    n = int(ok.sum())
    rank = coverage * (n + 1)
    if n == 0 or rank > n:
        return None
    mean = x[ok].mean(axis=0)
    scale = x[ok].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale
    held_out_distance = np.empty(len(p))
    for fold in folds:
        rest = np.setdiff1d(np.arange(len(p)), fold)
        held_out_distance[fold] = _nearest(z[fold], z[rest[ok[rest]]])
    d = held_out_distance[ok]
    typical = float(np.median(d[np.isfinite(d)])) if np.isfinite(d).any() else 0.0
    typical = typical if typical > 0 else 1.0
    log_error = np.log(m[ok] / p[ok])
    center = float(np.median(log_error))
    scores = np.sort(np.abs(log_error - center) / (1.0 + DIFFICULTY_SLOPE * np.minimum(d, 1e9) / typical))
    lo = int(np.floor(rank))
    q = float(scores[lo - 1] + (rank - lo) * (scores[min(lo, n - 1)] - scores[lo - 1]))
    band = {
        "coverage": float(coverage),
        "center_log": center,
        "quantile": q,
        "typical_distance": typical,
        "difficulty_slope": DIFFICULTY_SLOPE,
        "feature_mean": mean.tolist(),
        "feature_scale": scale.tolist(),
        "features": z[ok].tolist(),
        "n": n,
        "method": "normalised conformal over the 5-fold held-out predictions (each family spread over the "
        "folds): |log(measured/predicted)| about its median, divided by 1 + a·d/d_typ (d: distance in the "
        "design features to the nearest network the predicting model saw); rank coverage·(n+1), interpolated",
    }
    # what a reader of the summary sees: the factors on a measured network and at the median
    # held-out distance
    for key, dist in (("at_measured", 0.0), ("at_typical", typical)):
        low, high = band_factors(band, None, distance=np.array([dist]))
        band[key] = [float(low[0]), float(high[0])]
    return band


def band_factors(band: dict, features, distance=None) -> tuple[np.ndarray, np.ndarray]:
    """``(low_factors, high_factors)`` of ``band`` (from :func:`network_band`) for networks with
    :func:`design_features` rows ``features`` (or their standardised ``distance`` to the nearest
    calibration network, given directly)."""
    if distance is None:
        x = np.atleast_2d(np.asarray(features, float))
        z = (x - np.asarray(band["feature_mean"])) / np.asarray(band["feature_scale"])
        distance = _nearest(z, np.asarray(band["features"], float))
    slope = float(band["difficulty_slope"])
    half = float(band["quantile"]) * (1.0 + slope * np.asarray(distance, float) / float(band["typical_distance"]))
    c = float(band["center_log"])
    return np.exp(c - half), np.exp(c + half)


def conformal_band(predicted, measured, coverage: float = INTERVAL_COVERAGE) -> dict | None:
    """One band ``[low_factor, high_factor]`` for every prediction (the power model's: energy at
    the measured latency, whose error does not grow with the distance from the networks metered
    the way a latency extrapolation's does), from their errors on networks from their errors on networks
    held out of the fit (cross-validated: each network predicted by a model that never saw it).
    Scores are ``|log(measured / predicted) - c|`` about the median log ratio ``c`` (the fit's
    bias on unseen networks); the band is ``exp(c ± q)`` with ``q`` the ``ceil(coverage·(n+1))``-th
    smallest score, the split-conformal quantile, which covers a new network exchangeable with
    the held-out ones with probability at least ``coverage``. None when too few networks for it
    (``ceil(coverage·(n+1)) > n``)."""
    p, m = np.asarray(predicted, float), np.asarray(measured, float)
    ok = (p > 0) & (m > 0)
    s = np.log(m[ok] / p[ok])
    n = len(s)
    k = int(np.ceil(coverage * (n + 1)))
    if n == 0 or k > n:
        return None
    c = float(np.median(s))
    q = float(np.sort(np.abs(s - c))[k - 1])
    return {
        "coverage": float(coverage),
        "low_factor": float(np.exp(c - q)),
        "high_factor": float(np.exp(c + q)),
        "n": n,
        "method": "conformal over the 5-fold held-out predictions (each family spread over the folds): "
        "|log(measured/predicted)| about its median",
    }
