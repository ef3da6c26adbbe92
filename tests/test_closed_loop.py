"""The closed loop: a calibration accepted everywhere a profile is (estimate, estimate_many,
screen, search, workers, budget, CLI), provenance columns on every row, and the calibration
stored with a study.

The calibrations here are fitted by the real segment model to segment times generated from a
known cost law (fast and deterministic); the real-run path (ORT measurements → calibrate) is
covered in tests/test_measure.py and by ``benchmarks/closed_loop.py --quick`` below."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import edgespace as es
from edgespace.calibration import Calibration, draw_specs
from edgespace.calibration._fitting import _fit, _report
from edgespace.calibration._model import segment_features
from edgespace.cli import main
from edgespace.cost import load_calibration
from edgespace.study import MobileNetSpace, SearchError, run_worker, screen, search

SPACE = MobileNetSpace(
    families=("mobilenetv2",),
    widths=(0.5, 1.0),
    width_step=0.25,
    resolutions=(96, 160),
    resolution_step=32,
    precisions=("fp32", "int8"),
)


def synthetic_calibration(
    scale: float = 1.0,
    n: int = 10,
    seed: int = 0,
    mode: str = "measured",
    *,
    report: bool = True,
    noise_sigma: float = 0.0,
    params: dict | None = None,
) -> Calibration:
    """A host calibration fitted to segment times from a known power law in each segment's MACs
    and output bytes (inside the model's class, so the fit converges fast), times ``scale``;
    ``noise_sigma`` > 0 scales each network's times by its own lognormal factor (what no model
    can learn). ``params``: the model's (for the fit and the held-out report)."""
    rng = np.random.default_rng(seed)
    specs = draw_specs(n, families=("mobilenetv2", "mobilenetv3_small"), seed=seed, ranges={"resolution": (96, 192)})
    frames, runs = [], []
    for k, spec in enumerate(specs):
        f = segment_features(es.layer_table(spec))
        f["time_us"] = scale * 0.002 * (1 + f["macs"]) ** 0.8 * (1 + f["output_bytes"]) ** 0.1
        if noise_sigma > 0:
            f["time_us"] *= np.exp(rng.normal(0, noise_sigma))
        f["run"] = k
        frames.append(f.reset_index())
        total = float(f["time_us"].sum()) / 1e3
        runs.append(
            {
                "run": k,
                "spec": spec.to_dict(),
                "e2e_ms": total,
                "node_ms": total,
                "profiled_ms": total,
                "spread_pct": float("nan"),
            }
        )
    samples = pd.concat(frames, ignore_index=True)
    runs = pd.DataFrame(runs).set_index("run")
    if params is None and not report:
        params = {"trees": False}  # no report: one quick fit
    model = _fit(samples, runs, params)
    prov = {
        "date": "2026-01-01T00:00:00+00:00",
        "runtime": "onnxruntime 1.x (synthetic law)",
        "provider": "CPUExecutionProvider",
        "threads": 1,
        "precision": "fp32",
        "networks": n,
        "segments": len(samples),
        "machine": "test",
        "base_profile": "host",
        "mode": mode,
    }
    return Calibration(
        profile="host",
        provenance=prov,
        samples=samples,
        runs=runs,
        report=_report(samples, runs, model, params) if report else {},
        model=model,
    )


@pytest.fixture(scope="module")
def cal():
    return synthetic_calibration()


@pytest.fixture(scope="module")
def cal_file(cal, tmp_path_factory):
    return cal.save(tmp_path_factory.mktemp("cal") / "host-1t.json")


def test_a_calibration_from_six_networks_shows_no_held_out_figure():
    few = synthetic_calibration(n=6)
    s = few.summary()
    assert s["held_out"] is None  # too few networks for folds: no held-out error is claimed
    assert s["in_sample"]["n"] == 6 and "held_out_5fold" not in few.report
    ten = synthetic_calibration(n=10).summary()
    assert ten["held_out"]["n"] == 10 and ten["in_sample"]["n"] == 10


def test_calibration_file_round_trips_with_its_id(cal, cal_file):
    back = load_calibration(cal_file)
    assert back.id == cal.id and len(cal.id) == 10 and back.source == f"calibrated:{cal.id}"
    assert back.applies_to == cal.applies_to
    assert back.applies_to["profile"] == "host" and back.applies_to["mode"] == "measured"
    assert back.applies_to["threads"] == 1 and back.applies_to["precision"] == "fp32" and back.applies_to["batch"] == 1
    spec = es.ArchSpec("mobilenetv2", 0.75, 1.0, 128)
    assert back.predict_latency_ms(spec) == pytest.approx(cal.predict_latency_ms(spec), rel=1e-6)
    other = synthetic_calibration(scale=2.0, report=False)
    assert other.id != cal.id
    # an edited file no longer matches its id: refused, naming the file
    doc = json.loads(cal_file.read_text())
    doc["runs"][0]["e2e_ms"] *= 2
    edited = cal_file.with_name("edited.json")
    edited.write_text(json.dumps(doc))
    with pytest.raises(es.EdgespaceError, match="edited.json: id"):
        load_calibration(edited)


def test_estimate_takes_latency_from_the_calibration_and_everything_follows(cal):
    spec = es.ArchSpec("mobilenetv2", 0.75, 1.0, 128)
    plain = es.estimate(spec, "host")
    calib = es.estimate(spec, "host", calibration=cal)
    assert plain.latency_source == "analytic" and plain.energy_source == "analytic"
    assert calib.latency_source == f"calibrated:{cal.id}" and calib.energy_source == "estimated"
    assert calib.latency_ms == pytest.approx(cal.predict_latency_ms(spec), rel=1e-9)
    assert calib.latency_ms != pytest.approx(plain.latency_ms, rel=0.01)
    assert calib.fps == pytest.approx(1e3 / calib.latency_ms)
    assert calib.energy_mj == pytest.approx(calib.avg_power_w * calib.latency_ms, rel=1e-9)
    # energy follows the latency: the static share scales with time
    assert (calib.energy_mj > plain.energy_mj) == (calib.latency_ms > plain.latency_ms)
    # memory does not depend on latency
    assert calib.peak_activation_mb == plain.peak_activation_mb
    # another precision: the calibration does not apply; the analytic value stays and says so
    int8 = es.ArchSpec("mobilenetv2", 0.75, 1.0, 128, "int8")
    e = es.estimate(int8, "host", calibration=cal)
    assert e.latency_source == "analytic" and e.latency_ms == es.estimate(int8, "host").latency_ms
    # another profile: likewise
    assert es.estimate(spec, "raspberry-pi-5", calibration=cal).latency_source == "analytic"
    assert calib.to_dict()["latency_source"] == calib.latency_source


def test_estimate_many_matches_estimate_with_a_calibration(cal):
    specs = [
        es.ArchSpec("mobilenetv2", w, 1.0, r, p) for w in (0.5, 1.0) for r in (96, 128, 160) for p in ("fp32", "int8")
    ]
    frame = es.estimate_many(specs, "host", calibration=cal)
    for spec, row in zip(specs, frame.itertuples(), strict=True):
        e = es.estimate(spec, "host", calibration=cal)
        assert row.latency_ms == pytest.approx(e.latency_ms, rel=1e-9)
        assert row.sustained_fps == pytest.approx(e.sustained_fps, rel=1e-9)
        assert row.energy_mj == pytest.approx(e.energy_mj, rel=1e-9)
        assert row.latency_source == e.latency_source and row.energy_source == e.energy_source
    assert set(frame.loc[frame.precision == "fp32", "latency_source"]) == {cal.source}
    assert set(frame.loc[frame.precision == "int8", "latency_source"]) == {"analytic"}


def test_six_networks_store_and_print_no_held_out_figure(tmp_path, capsys):
    six = synthetic_calibration(n=6)
    summary = six.summary()
    assert summary["held_out"] is None and summary["networks"] == 6
    assert summary["in_sample"]["n"] == 6 and summary["in_sample"] == six.report["in_sample"]
    # a study stores the summary as it is: no held-out figure in the definition either
    r = search(SPACE, "host", "accuracy,latency_ms", n_trials=2, calibration=six, storage="memory")
    stored = r.study.user_attrs["edgespace"]["calibration"]
    assert stored["held_out"] is None and stored["in_sample"]["n"] == 6
    # and the CLI says the printed figure is in-sample
    from edgespace.cli._calibrate import _report as print_report

    print_report(six, tmp_path / "six.json")
    out = capsys.readouterr().out
    assert "in_sample:" in out and "held_out_5fold: none (6 networks" in out and "is in-sample" in out
    ten = synthetic_calibration(n=10, report=True)
    assert ten.summary()["held_out"]["n"] == 10


def test_simulate_thermal_follows_the_calibrated_latency(cal):
    spec = es.ArchSpec("mobilenetv2", 1.0, 1.0, 160)
    sim = es.simulate_thermal(spec, "host", duration_s=5, calibration=cal)
    assert sim["fps"].iloc[0] == pytest.approx(es.estimate(spec, "host", calibration=cal).fps, rel=1e-9)


def test_screen_rows_say_where_their_latency_came_from(cal):
    frame = screen(SPACE, "host", "accuracy,latency_ms", calibration=cal)
    assert {"latency_source", "energy_source"} <= set(frame.columns)
    fp32 = frame[frame.precision == "fp32"]
    assert set(fp32.latency_source) == {cal.source} and set(fp32.energy_source) == {"estimated"}
    assert set(frame[frame.precision == "int8"].latency_source) == {"analytic"}


def test_calibration_file_round_trip_through_search_study_and_worker(cal, cal_file, tmp_path):
    storage = f"journal:{tmp_path / 'study.journal'}"
    r = search(
        SPACE,
        "host",
        "accuracy,latency_ms",
        n_trials=12,
        sampler="random",
        storage=storage,
        study_name="cal",
        seed=0,
        calibration=str(cal_file),
    )
    assert r.calibration.id == cal.id
    t = r.trials_frame(complete_only=True)
    assert len(t) == 12 and {"latency_source", "energy_source"} <= set(t.columns)
    assert set(t.loc[t.precision == "fp32", "latency_source"]) <= {cal.source}
    assert set(t.loc[t.precision == "int8", "latency_source"]) <= {"analytic"}
    attrs = r.study.user_attrs
    assert attrs["edgespace"]["calibration"]["id"] == cal.id
    assert attrs["edgespace"]["calibration"]["held_out"]["n"] == 10
    # a worker (no calibration given) loads the study's own and adds trials with it
    w = run_worker(storage, "cal", n_trials=24, seed=1)
    assert w.calibration.id == cal.id
    t2 = w.trials_frame(complete_only=True)
    assert len(t2) == 24
    new = t2[~t2.number.isin(t.number)]
    fp32 = new[new.precision == "fp32"]
    for row in fp32.itertuples():
        spec = es.ArchSpec(row.family, row.width, row.depth, int(row.resolution), row.precision)
        assert row.latency_source == cal.source
        assert row.latency_ms == pytest.approx(cal.predict_latency_ms(spec), rel=1e-6)  # refitted on load
    # the same file is accepted; a different calibration is refused with a clear error
    run_worker(storage, "cal", n_trials=24, calibration=str(cal_file))
    other = synthetic_calibration(scale=2.0, report=False).save(tmp_path / "other.json")
    with pytest.raises(SearchError, match=rf"uses calibration {cal.id}; the calibration \(.*other.json\) is"):
        run_worker(storage, "cal", n_trials=30, calibration=str(other))
    # resuming the search with another calibration is refused too; without one, the stored one is used
    with pytest.raises(SearchError, match="calibration"):
        search(
            SPACE,
            "host",
            "accuracy,latency_ms",
            n_trials=30,
            sampler="random",
            storage=storage,
            study_name="cal",
            calibration=str(other),
        )
    resumed = search(
        SPACE, "host", "accuracy,latency_ms", n_trials=30, sampler="random", storage=storage, study_name="cal"
    )
    assert resumed.calibration.id == cal.id


def test_cli_calibration_option_for_estimate_search_worker_budget(cal_file, tmp_path, capsys):
    assert (
        main(
            [
                "estimate",
                "--profile",
                "host",
                "--family",
                "mobilenetv2",
                "--width",
                "0.75",
                "--resolution",
                "128",
                "--calibration",
                str(cal_file),
                "--json",
            ]
        )
        == 0
    )
    docs = json.loads(capsys.readouterr().out)
    doc = docs[0] if isinstance(docs, list) else docs
    cal = load_calibration(cal_file)
    assert doc["latency_source"] == cal.source
    assert doc["latency_ms"] == pytest.approx(
        cal.predict_latency_ms(es.ArchSpec("mobilenetv2", 0.75, 1.0, 128)), rel=1e-9
    )
    storage = f"journal:{tmp_path / 'cli.journal'}"
    assert (
        main(
            [
                "search",
                "--space",
                "mobilenetv2",
                "--profile",
                "host",
                "--trials",
                "8",
                "--sampler",
                "random",
                "--storage",
                storage,
                "--study",
                "c",
                "--calibration",
                str(cal_file),
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    other = synthetic_calibration(scale=3.0, report=False).save(tmp_path / "other.json")
    assert main(["worker", "--storage", storage, "--study", "c", "--calibration", str(other), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and cal.id in err and "other.json" in err
    assert (
        main(
            [
                "budget",
                "--battery-wh",
                "10",
                "--frames-per-day",
                "1000",
                "--profile",
                "host",
                "--family",
                "mobilenetv2",
                "--width",
                "0.75",
                "--resolution",
                "128",
                "--calibration",
                str(cal_file),
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert cal.source in json.dumps(out)
    assert (
        main(
            [
                "search",
                "--space",
                "mobilenetv2",
                "--profile",
                "host",
                "--trials",
                "8",
                "--sampler",
                "random",
                "--storage",
                storage,
                "--study",
                "c",
                "--confirm",
                "0",
                "--quiet",
            ]
        )
        == 2
    )
    assert "--confirm" in capsys.readouterr().err
    assert (
        main(["estimate", "--profile", "host", "--family", "mobilenetv2", "--calibration", str(tmp_path / "nope.json")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope.json" in err


# ----------------------------------------------------------------------------- power model


_POWER_TRUTH = {
    "busy_w": 2.0,
    "conv_j_per_op": 40e-12,
    "depthwise_j_per_op": 120e-12,
    "pointwise_j_per_op": 30e-12,
    "linear_j_per_op": 50e-12,
    "elementwise_j_per_op": 200e-12,
    "dram_j_per_byte": 0.5e-9,
}
_OP_CLASSES = ("conv", "depthwise", "pointwise", "linear", "elementwise")


def _law_j(f: dict, lat_s: float, idle_w: float = 3.0) -> float:
    """Energy per inference (J) by the synthetic law: idle + busy power over the latency, energy per
    op per class, energy per DRAM byte."""
    t = _POWER_TRUTH
    ops = sum(t[f"{c}_j_per_op"] * f[f"{c}_ops"] for c in _OP_CLASSES)
    return (idle_w + t["busy_w"]) * lat_s + t["dram_j_per_byte"] * f["dram_bytes"] + ops


def _power_runs(latency_s, seed: int = 0, n: int = 40):
    """Synthetic but physical metered runs: a 3 W idle domain, a 2 W busy floor, 40 pJ/op on
    convolutions, 120 pJ/op depthwise, 30 pJ/op pointwise, 50 pJ/op linear, 200 pJ per element-wise
    op, 0.5 nJ per DRAM byte, 2% meter noise. ``latency_s(spec, features, rng)`` gives each run's
    latency: the latencies are drawn from a shipped profile, never from the machine running this."""
    from edgespace.calibration._power import power_features

    rng = np.random.default_rng(seed)
    runs = []
    for spec in draw_specs(n, seed=3):
        f = power_features(spec)
        lat_s = latency_s(spec, f, rng)
        runs.append(
            {
                "spec": spec,
                "latency_ms": lat_s * 1e3,
                "energy_mj": _law_j(f, lat_s) * 1e3 * rng.normal(1.0, 0.02),
                "idle_power_w": 3.0 * rng.normal(1.0, 0.01),
            }
        )
    return runs


def _pi5_latency_s(spec, f, rng) -> float:
    # as in real runs, latency follows the work (a fixed shipped profile's estimate), with the
    # +-20% scatter that memory behaviour and scheduling add
    return es.estimate(spec, "raspberry-pi-5").latency_ms / 1e3 * rng.uniform(0.8, 1.2)


def test_power_model_predicts_energy_and_says_which_terms_the_runs_pin_down():
    from edgespace.calibration._power import fit_power_model, power_features

    runs = _power_runs(_pi5_latency_s)
    model = fit_power_model(runs, "measured", domain="cpu-package")
    assert model.idle_w == pytest.approx(3.0, rel=0.02)
    held = model.report["held_out_5fold"]
    assert held["n"] == 40 and held["within_10pct"] >= 0.9 and held["mape_pct"] < 5
    # each term that carries energy is either recovered or reported as not pinned down by the runs
    terms = model.report["terms"]
    assert set(terms) == set(_POWER_TRUTH)
    for k, truth in _POWER_TRUTH.items():
        if terms[k]["energy_share"] >= 0.05 and terms[k]["identifiable"]:
            assert model.coef[k] == pytest.approx(truth, rel=0.25), k
        assert terms[k]["identifiable"] == (k not in model.report["not_identifiable"])
    # a new network: predicted within 10% of the law, whatever the split between the terms
    new = es.ArchSpec("efficientnet", 1.0, 1.0, 224)
    lat = es.estimate(new, "raspberry-pi-5").latency_ms
    law_mj = _law_j(power_features(new), lat / 1e3) * 1e3
    assert model.predict_energy_mj([new], [lat])[0] == pytest.approx(law_mj, rel=0.1)
    with pytest.raises(es.EdgespaceError, match="at least 10"):
        fit_power_model(runs[:9], "measured")


def test_power_model_reports_busy_power_as_not_identifiable_when_latency_is_proportional_to_ops():
    from edgespace.calibration._power import fit_power_model

    def proportional(spec, f, rng):  # 1 ns per op: the busy-power column is a sum of op columns
        return 1e-9 * sum(f[f"{c}_ops"] for c in _OP_CLASSES)

    model = fit_power_model(_power_runs(proportional), "measured", domain="cpu-package")
    assert model.report["held_out_5fold"]["mape_pct"] < 5  # the total is still predicted
    assert "busy_w" in model.report["not_identifiable"]
    assert model.report["terms"]["busy_w"]["identifiable"] is False


def test_a_calibration_with_a_power_model_gives_metered_energy_everywhere(cal, tmp_path):
    from edgespace.calibration._power import PowerModel

    coef = {
        "busy_w": 2.0,
        "conv_j_per_op": 4e-11,
        "depthwise_j_per_op": 1.2e-10,
        "pointwise_j_per_op": 3e-11,
        "linear_j_per_op": 5e-11,
        "elementwise_j_per_op": 2e-10,
        "dram_j_per_byte": 5e-10,
    }
    metered = Calibration(
        profile=cal.profile,
        provenance=cal.provenance,
        samples=cal.samples,
        runs=cal.runs,
        report=cal.report,
        model=cal.model,
        power={"measured": PowerModel("measured", 3.0, coef, "cpu-package")},
    )
    assert metered.id != cal.id
    spec = es.ArchSpec("mobilenetv2", 0.75, 1.0, 128)
    e = es.estimate(spec, "host", calibration=metered)
    assert e.energy_source == f"metered:{metered.id}" and e.latency_source == metered.source
    assert e.energy_mj == pytest.approx(metered.predict_energy_mj("measured", [spec])[0], rel=1e-9)
    assert e.avg_power_w == pytest.approx(e.energy_mj / e.latency_ms, rel=1e-9)
    back = load_calibration(metered.save(tmp_path / "metered.json"))
    assert back.id == metered.id and back.power["measured"].coef == coef
    # the budget's idle floor comes from the metered idle power
    b = es.Budget.from_profile("host", calibration=back, battery_wh=10, frames_per_day=100)
    assert b.idle_w == 3.0 and b.provenance["idle_w"].startswith(f"metered:{metered.id}")


# ----------------------------------------------------------------------------- confirm the front (real runs)

TINY_SPACE = MobileNetSpace(
    families=("mobilenetv3_small",),
    widths=(0.35, 0.5),
    width_step=0.15,
    resolutions=(96, 112),
    resolution_step=16,
    precisions=("fp32",),
)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("edgespace-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGESPACE_CACHE_DIR", str(root))
    yield root
    mp.undo()


def test_confirm_runs_front_points_and_the_study_keeps_them(onnx_cache, tmp_path, cal):
    from edgespace.study._confirm import CONFIRMATION_COLUMNS, confirm_points

    storage = f"journal:{tmp_path / 'confirm.journal'}"
    r = search(
        TINY_SPACE, "host", "accuracy,latency_ms", n_trials=8, sampler="grid", storage=storage, study_name="conf"
    )
    calls = []
    frame = r.confirm(2, threads=1, by="latency_ms", rounds=2, meter="none", progress=lambda d, t: calls.append((d, t)))
    assert list(frame.columns) == list(CONFIRMATION_COLUMNS)
    assert len(frame) == 2 and set(frame.status) == {"ok"} and calls and calls[-1][0] == calls[-1][1]
    for row in frame.itertuples():
        assert row.measured_latency_ms > 0 and row.predicted_latency_ms > 0 and row.latency_source == "analytic"
        assert row.latency_error_pct == pytest.approx(
            (row.predicted_latency_ms - row.measured_latency_ms) / row.measured_latency_ms * 100
        )
        # metering switched off: no energy, and the row says which meter and why
        assert row.measured_energy_mj is None and row.energy_error_pct is None
        assert row.meter == "none" and "meter='none'" in row.energy_unavailable_reason and row.profile == "host"
    # the two fastest points of the front, by predicted latency
    front = r.pareto_front().sort_values("latency_ms")
    assert sorted(frame.resolution) == sorted(front.resolution.head(2))
    # a reloaded study shows them
    again = search(
        TINY_SPACE, "host", "accuracy,latency_ms", n_trials=8, sampler="grid", storage=storage, study_name="conf"
    )
    assert again.told == 0
    pd.testing.assert_frame_equal(again.confirmations(), frame)
    # a point that cannot run here is a failed row; the others are measured
    points = front.head(1).assign(precision="fp16")
    rows = confirm_points(pd.concat([points, front.head(1)], ignore_index=True), threads=1, rounds=2)
    assert rows[0]["status"].startswith("failed: ") and "fp16" in rows[0]["status"]
    assert rows[0]["measured_latency_ms"] is None and rows[1]["status"] == "ok" and rows[1]["measured_latency_ms"] > 0


def test_closed_loop_benchmark_quick_runs_end_to_end(onnx_cache, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "closed_loop.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(root / "benchmarks" / "closed_loop.py"),
            "--quick",
            "--out",
            str(tmp_path),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert set(doc["results"]) == {"analytic", "calibrated"} and doc["networks"] == 8
    assert "within ±10%: calibrated" in proc.stdout
    cal_id = doc["calibration"]["id"]
    for label, res in doc["results"].items():
        assert res["confirmed"] == 3 and res["failed"] == 0
        for p in res["points"]:
            assert p["status"] == "ok" and p["measured_latency_ms"] > 0
            assert p["latency_source"] == ("analytic" if label == "analytic" else f"calibrated:{cal_id}")
    # on the measured points of both searches (six), even eight calibration networks predict closer
    # than the roofline: pooled, so that one point timed during a burst of load cannot decide it
    points = [p for res in doc["results"].values() for p in res["points"]]
    err = {
        k: [abs(p[k] / p["measured_latency_ms"] - 1) for p in points]
        for k in ("calibrated_latency_ms", "analytic_latency_ms")
    }
    assert len(points) == 6
    assert np.median(err["calibrated_latency_ms"]) < np.median(err["analytic_latency_ms"]), err
