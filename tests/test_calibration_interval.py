"""Prediction intervals: a calibration's band from its own network-held-out errors (conformal),
carried by calibrated estimates, estimate_many rows and trial rows, and kept in its file.

The calibration here is fitted by the real segment model to segment times from a known cost
law with per-network noise (fast, deterministic); real ONNX Runtime runs are in
``benchmarks/few_shot.py``."""

from __future__ import annotations

import numpy as np
import pytest
from test_closed_loop import synthetic_calibration

import edgespace as es
from edgespace.calibration import Calibration
from edgespace.calibration._band import conformal_band
from edgespace.cost import load_calibration


def _noisy_calibration(n: int, seed: int = 0) -> Calibration:
    """Host calibration on segment times from a power law in MACs and output bytes, each
    network's times scaled by its own lognormal factor (sigma 0.08): what no model can learn,
    so the held-out error is that noise."""
    return synthetic_calibration(n=n, seed=seed, noise_sigma=0.08, params={"trees": False})


def test_conformal_band_covers_its_stated_share_of_new_networks():
    rng = np.random.default_rng(0)
    hits = []
    for _ in range(400):  # many calibrations of 20 held-out networks, each judged on fresh ones
        bias = 1.05  # a fit that runs 5% slow on unseen networks
        pred = rng.uniform(1, 50, 20)
        band = conformal_band(pred, pred * bias * np.exp(rng.normal(0, 0.1, 20)))
        new = rng.uniform(1, 50, 50)
        meas = new * bias * np.exp(rng.normal(0, 0.1, 50))
        hits.append(np.mean((meas >= new * band["low_factor"]) & (meas <= new * band["high_factor"])))
    assert band["coverage"] == 0.9 and band["low_factor"] < bias < band["high_factor"]
    assert 0.88 <= np.mean(hits) <= 0.95  # at least the stated share, not much more
    assert conformal_band([1.0] * 8, [1.1] * 8) is None  # 8 scores cannot state 90%


def _extrapolating_errors(rng, n: int, far: float = 0.0):
    """``n`` networks on a line (their feature), 5 family-free folds, and log errors whose spread
    grows with the distance to the nearest network the predicting model saw: what a
    space-filling design's held-out corners look like."""
    x = np.sort(rng.uniform(0, 1, n))
    folds = [np.arange(k, n, 5) for k in range(5)]
    d = np.empty(n)
    for f in folds:
        rest = np.setdiff1d(np.arange(n), f)
        d[f] = np.abs(x[f][:, None] - x[rest][None, :]).min(axis=1)
    return x, folds, d


def test_network_band_covers_its_stated_share_where_errors_grow_with_distance():
    """Held-out errors that grow with the distance to the nearest network the model saw (a
    held-out corner is an extrapolation; a new network usually lies between measured ones): the
    band covers its stated share of new networks, the farthest ones too, narrower near measured
    ones; one width for every network (the conformal rank of the held-out scores) covers more
    than it states overall and less than it states far from the measured networks."""
    from edgespace.calibration._band import band_factors, conformal_band, network_band

    rng = np.random.default_rng(0)
    cover, cover_one_width, width_near, width_far = [], [], [], []
    for _ in range(300):
        x, folds, d = _extrapolating_errors(rng, 16)
        sigma = lambda dist: 0.03 * (1 + 40 * dist)  # noqa: E731
        pred = rng.uniform(1, 50, 16)
        meas = pred * np.exp(rng.normal(0, sigma(d)))
        band = network_band(pred, meas, x[:, None], folds)
        one = conformal_band(pred, meas)
        new = rng.uniform(0, 1, 40)
        dn = np.abs(new[:, None] - x[None, :]).min(axis=1)
        ratio = np.exp(rng.normal(0, sigma(dn)))  # measured / predicted of the new networks
        lo, hi = band_factors(band, new[:, None])
        inside = (ratio >= lo) & (ratio <= hi)
        inside_one = (ratio >= one["low_factor"]) & (ratio <= one["high_factor"])
        order = np.argsort(dn)
        cover.append([inside.mean(), inside[order[-10:]].mean()])
        cover_one_width.append([inside_one.mean(), inside_one[order[-10:]].mean()])
        width_near.append(np.median((hi / lo)[order[:10]]))
        width_far.append(np.median((hi / lo)[order[-10:]]))
    assert band["coverage"] == 0.9 and band["n"] == 16
    cover, cover_one_width = np.mean(cover, axis=0), np.mean(cover_one_width, axis=0)
    assert 0.85 <= cover[0] <= 0.95, cover  # the stated share, in expectation
    # the farthest quarter of new networks: covered as stated; one width leaves them out
    assert cover[1] >= 0.85 and cover_one_width[1] < 0.85, (cover, cover_one_width)
    assert np.median(width_far) > np.median(width_near)  # farther from the measured: wider
    assert network_band([1.0] * 8, [1.1] * 8, np.zeros((8, 1)), [np.arange(8)]) is None  # 8 < 0.9·9


def test_calibrated_estimates_carry_each_networks_band_and_analytic_ones_do_not(tmp_path):
    few = _noisy_calibration(6)
    spec = es.ArchSpec("mobilenetv2", 0.75, 1.0, 128)
    assert few.latency_band([spec]) is None  # no folds below 10 networks, so no held-out errors
    cal = _noisy_calibration(16, seed=1)
    lo, hi, cov = cal.latency_band([spec])
    assert cov == 0.9 and lo[0] < 1.0 < hi[0] and hi[0] / lo[0] > 1.05  # the noise is 8%: a real width
    assert cal.summary()["interval"]["n"] == 16 and "features" not in cal.summary()["interval"]
    # a network the calibration measured gets the narrowest band; one far outside its ranges a wider one
    measured = es.ArchSpec(**cal.runs["spec"].iloc[0])
    far = es.ArchSpec("mobilenetv2", 1.4, 1.0, 320)
    (lo_m, lo_f), (hi_m, hi_f), _ = cal.latency_band([measured, far])
    assert hi_m / lo_m == pytest.approx(np.divide(*cal.summary()["interval"]["at_measured"][::-1]))
    assert hi_f / lo_f > hi_m / lo_m
    est = es.estimate(spec, "host", calibration=cal)
    assert est.latency_source == f"calibrated:{cal.id}" and est.interval_coverage == 0.9
    assert est.latency_low_ms == pytest.approx(est.latency_ms * lo[0]) and est.latency_high_ms == pytest.approx(
        est.latency_ms * hi[0]
    )
    assert est.to_dict()["latency_high_ms"] == pytest.approx(est.latency_high_ms)
    analytic = es.estimate(spec, "host")
    assert np.isnan(analytic.latency_low_ms) and np.isnan(analytic.interval_coverage)
    specs = [spec, es.ArchSpec("mobilenetv3_small", 0.5, 1.0, 96), far]
    frame = es.estimate_many(specs, "host", calibration=cal)
    _, hi_all, _ = cal.latency_band(specs)
    assert frame["latency_high_ms"].to_numpy() == pytest.approx(frame["latency_ms"].to_numpy() * hi_all)
    elsewhere = es.estimate_many([spec], "raspberry-pi-5", calibration=cal)  # it does not apply: no interval
    assert elsewhere["latency_low_ms"].isna().all()
    back = load_calibration(cal.save(tmp_path / "cal.json"))
    again = back.latency_band(specs)
    assert np.allclose(again[1], hi_all) and again[2] == cov and back.id == cal.id


def test_a_file_with_one_band_for_every_network_gets_its_band_recomputed(tmp_path):
    import json

    cal = _noisy_calibration(12, seed=3)
    path = cal.save(tmp_path / "cal.json")
    doc = json.loads(path.read_text())
    doc["report"]["interval"] = {"coverage": 0.9, "low_factor": 0.8, "high_factor": 1.2, "n": 12}
    path.write_text(json.dumps(doc))
    back = load_calibration(path)
    spec = es.ArchSpec("mobilenetv2", 0.75, 1.0, 128)
    assert np.allclose(back.latency_band([spec])[1], cal.latency_band([spec])[1])


def test_trial_rows_carry_the_interval():
    from edgespace.study import MobileNetSpace, search

    cal = _noisy_calibration(12, seed=2)
    space = MobileNetSpace(families=("mobilenetv2",), widths=(0.5, 1.0), width_step=0.25, resolutions=(96, 160))
    r = search(
        space, "host", "accuracy,latency_ms", n_trials=6, sampler="random", storage="memory", seed=0, calibration=cal
    )
    rows = r.trials_frame()
    fp32 = rows[rows["latency_source"] != "analytic"]
    specs = [es.ArchSpec(t.family, t.width, t.depth, int(t.resolution), t.precision) for t in fp32.itertuples()]
    _, hi, _ = cal.latency_band(specs)
    assert len(fp32) and np.allclose(fp32["latency_high_ms"], fp32["latency_ms"] * hi)
    assert rows.loc[rows["latency_source"] == "analytic", "latency_high_ms"].isna().all()


def test_confirmations_carry_the_interval_and_the_figure_draws_it():
    from edgespace.report import predicted_vs_measured_figure
    from edgespace.study._confirm import CONFIRMATION_COLUMNS, confirmations_frame

    assert {"predicted_latency_low_ms", "predicted_latency_high_ms"} <= set(CONFIRMATION_COLUMNS)
    point = {"family": "mobilenetv2", "width": 0.5, "depth": 1.0, "resolution": 96, "precision": "fp32"}
    point |= {"mode": "measured", "batch": 1, "placement": "auto"}
    rows = [
        point
        | {"predicted_latency_ms": 10.0, "predicted_latency_low_ms": 9.0, "predicted_latency_high_ms": 12.0}
        | {"measured_latency_ms": 11.0, "latency_source": "calibrated:abc", "status": "ok"},
        point
        | {
            "resolution": 128,
            "predicted_latency_ms": 20.0,
            "measured_latency_ms": 19.0,
            "latency_source": "analytic",
            "status": "ok",
        },
    ]
    fig = predicted_vs_measured_figure(confirmations_frame(rows))
    bars = {t.name: t.error_y for t in fig.data if t.name and t.name.startswith("confirmed")}
    cal = bars["confirmed, predicted by calibrated:abc (1)"]
    assert list(cal.array) == [2.0] and list(cal.arrayminus) == [1.0]
    assert bars["confirmed, predicted by analytic (1)"].array is None  # no interval, no bar


def test_metered_energy_carries_a_band_from_both_held_out_errors():
    from test_closed_loop import _pi5_latency_s, _power_runs

    from edgespace.calibration._power import fit_power_model

    lat_cal = _noisy_calibration(16, seed=1)
    power = fit_power_model(_power_runs(_pi5_latency_s), "measured", domain="cpu-package")
    band = power.report["interval"]
    assert band["coverage"] == 0.9 and band["n"] == 40 and band["low_factor"] < 1 < band["high_factor"]
    # fresh metered runs (other scatter and meter noise) fall in the power band at their measured latency
    fresh = _power_runs(_pi5_latency_s, seed=7)
    pred = power.predict_energy_mj([r["spec"] for r in fresh], [r["latency_ms"] for r in fresh])
    meas = np.array([r["energy_mj"] for r in fresh])
    assert np.mean((meas >= pred * band["low_factor"]) & (meas <= pred * band["high_factor"])) >= 0.8
    cal = Calibration(
        profile=lat_cal.profile,
        provenance=lat_cal.provenance,
        samples=lat_cal.samples,
        runs=lat_cal.runs,
        report=lat_cal.report,
        model=lat_cal.model,
        power={"measured": power},
    )
    spec = es.ArchSpec("mobilenetv2", 0.75, 1.0, 128)
    (lo_l,), (hi_l,), _ = cal.latency_band([spec])
    (lo,), (hi,), cov = cal.energy_band("measured", [spec])
    assert cov == pytest.approx(0.8)  # two 90% bands: both hold at least 80% of the time
    assert lo == pytest.approx(min(band["low_factor"], 1) * min(lo_l, 1))
    assert hi == pytest.approx(max(band["high_factor"], 1) * max(hi_l, 1))
    est = es.estimate(spec, "host", calibration=cal)
    assert est.energy_source == f"metered:{cal.id}" and est.energy_interval_coverage == pytest.approx(0.8)
    assert est.energy_low_mj == pytest.approx(est.energy_mj * lo) and est.energy_high_mj == pytest.approx(
        est.energy_mj * hi
    )
    frame = es.estimate_many([spec], "host", calibration=cal)
    assert frame["energy_high_mj"].to_numpy() == pytest.approx(frame["energy_mj"].to_numpy() * hi)
    # the latency alone calibrated (no power model): the energy is estimated, with no band
    plain = es.estimate(spec, "host", calibration=lat_cal)
    assert (
        plain.energy_source == "estimated"
        and np.isnan(plain.energy_low_mj)
        and lat_cal.energy_band("measured", [spec]) is None
    )
