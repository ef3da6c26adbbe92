"""Calibration from end-to-end latencies only: runs whose runtime reports no per-operator times
(the LiteRT and ExecuTorch Python APIs), fitted per network through the same segment model.

Each such network's measured latency is split over its segments — first in proportion to a CPU
roofline (the ``raspberry-pi-5`` profile's per-row analytic times: compute against memory, a
shape of the work, not a figure of this machine), then in proportion to the segment times the
model fitted to all the networks predicts, twice. The split only says how a network's time
divides; the level comes from its measured latency, and the error reported is on whole
networks held out of the fit (each fold repeats the splitting on its own training networks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgespace._layer_table import layer_table
from edgespace.calibration._mapping import INPUT_SEGMENT, segment_ids
from edgespace.calibration._model import SegmentLatencyModel, segment_features

__all__ = ["E2E_BACKENDS", "SPLIT_PROFILE", "SPLIT_ROUNDS", "e2e_samples", "fit_resplit", "is_e2e_only"]

#: Backends whose Python runtimes report end-to-end times only.
E2E_BACKENDS = ("litert", "executorch")
#: The profile whose analytic per-row times give the first split.
SPLIT_PROFILE = "raspberry-pi-5"
#: Times the split is redone from the fitted model.
SPLIT_ROUNDS = 2


def is_e2e_only(item) -> bool:
    return not isinstance(item, tuple) and item.node_profile is None and item.backend in E2E_BACKENDS


def e2e_samples(spec, e2e_ms: float, run: int) -> pd.DataFrame:
    """Segment features of ``spec`` with ``e2e_ms`` split over them by the roofline shares."""
    from edgespace.cost import estimate
    from edgespace.profiles import load_profile

    table = layer_table(spec)
    est = estimate(spec, SPLIT_PROFILE)
    seg = segment_ids(table)
    per_row = est.layers.set_index("name")["time_ms"].reindex(table["name"]).fillna(0.0).to_numpy()
    shares = pd.Series(per_row).groupby(seg).sum()
    feats = segment_features(table)
    # the preprocessing (segment -1) is not in the estimate's rows: one memory-bound pass over the frame
    mem = load_profile(SPLIT_PROFILE).mode(None).memory
    bw = mem.peak_bandwidth_gb_s.value * mem.achievable_fraction.value * 1e9
    if INPUT_SEGMENT in feats.index:
        pre = feats.loc[INPUT_SEGMENT]
        shares.loc[INPUT_SEGMENT] = (pre["input_bytes"] + pre["output_bytes"]) / bw * 1e3
    w = shares.reindex(feats.index).fillna(0.0).to_numpy()
    if w.sum() <= 0:
        w = np.ones(len(feats))
    feats["time_us"] = w / w.sum() * float(e2e_ms) * 1e3
    feats["run"] = run
    return feats[feats["time_us"] > 0].reset_index()


def resplit(samples: pd.DataFrame, runs: pd.DataFrame, model: SegmentLatencyModel, e2e_runs) -> pd.DataFrame:
    """``samples`` with the e2e-only runs' times split again by ``model``'s predicted segment times."""
    out = samples.copy()
    pred = model.predict_segments_us(out)
    for r in e2e_runs:
        mask = (out["run"] == r).to_numpy()
        if mask.any():
            p = pred[mask]
            out.loc[mask, "time_us"] = p / p.sum() * float(runs.loc[r, "e2e_ms"]) * 1e3
    return out


def fit_resplit(samples: pd.DataFrame, runs: pd.DataFrame, params: dict | None, e2e_runs) -> tuple:
    """(model, final samples): fit, split the e2e-only runs again by the model, refit,
    :data:`SPLIT_ROUNDS` times. The model is the plain fit of the final samples, so a calibration
    file (which stores them) refits to the same model."""
    model = SegmentLatencyModel(**(params or {})).fit(samples, runs)
    e2e_runs = [r for r in e2e_runs if r in set(runs.index)]
    if not e2e_runs:
        return model, samples
    for _ in range(SPLIT_ROUNDS):
        samples = resplit(samples, runs, model, e2e_runs)
        model = SegmentLatencyModel(**(params or {})).fit(samples, runs)
    return model, samples
