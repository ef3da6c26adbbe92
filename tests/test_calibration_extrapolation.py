"""A calibration fitted to a handful of networks predicts networks far outside them within a sane
factor: its power-law part is bounded by the measured segments' times and by how much more work
a segment does (the unbounded power law put an EfficientNet at 1e10 ms from three MobileNetV2s)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import edgespace as es
from edgespace.calibration._fitting import _fit
from edgespace.calibration._model import _conv_design, segment_features


def _law_us(f: pd.DataFrame) -> pd.Series:
    return 0.002 * (1 + f["macs"]) ** 0.8 * (1 + f["output_bytes"]) ** 0.1


@pytest.fixture(scope="module")
def corners_model():
    """Three small MobileNetV2s (times from a known law with per-segment noise), no trees."""
    rng = np.random.default_rng(0)
    frames, runs = [], []
    for k, (w, r) in enumerate(((0.35, 96), (0.5, 96), (0.35, 112))):
        spec = es.ArchSpec("mobilenetv2", w, 1.0, r)
        f = segment_features(es.layer_table(spec))
        f["time_us"] = _law_us(f) * np.exp(rng.normal(0, 0.15, len(f)))
        f["run"] = k
        frames.append(f.reset_index())
        t = float(f["time_us"].sum()) / 1e3
        runs.append({"run": k, "spec": spec.to_dict(), "e2e_ms": t, "node_ms": t, "profiled_ms": t, "spread_pct": 0.0})
    return _fit(pd.concat(frames, ignore_index=True), pd.DataFrame(runs).set_index("run"), {"trees": False})


@pytest.mark.parametrize(
    "spec",
    [
        es.ArchSpec("efficientnet", 1.6, 2.2, 380),
        es.ArchSpec("mobilenetv3_large", 1.0, 1.0, 224),
        es.ArchSpec("mobilenetv2", 1.4, 1.0, 224),
    ],
    ids=lambda s: s.short_name(),
)
def test_far_extrapolation_stays_within_a_sane_factor(corners_model, spec):
    f = segment_features(es.layer_table(spec))
    truth_ms = float(_law_us(f).sum()) / 1e3
    pred_ms = corners_model.predict_latency_ms(es.layer_table(spec))
    assert np.isfinite(pred_ms) and truth_ms / 3 < pred_ms < truth_ms * 3


def test_the_bound_binds_where_the_power_law_runs_away(corners_model):
    spec = es.ArchSpec("efficientnet", 1.6, 2.2, 380)
    f = segment_features(es.layer_table(spec))
    unbounded_us = np.exp(np.clip(_conv_design(f) @ corners_model.coef_, -30, 30)).sum()
    assert unbounded_us / 1e3 > 1e3 * float(_law_us(f).sum()) / 1e3  # what the guard is for
    assert corners_model._conv_us(f).sum() < 3 * float(_law_us(f).sum())
