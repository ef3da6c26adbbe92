"""One calibration door: a GPU calibration (end-to-end CUDA-graph / TensorRT runs, NVML energy)
goes where a per-operator calibration goes: estimate, estimate_many, search (stored in the study,
reloaded by a worker), ``load_calibration`` and the CLI's ``--calibration FILE``.

No GPU was run for these tests: the runs are generated from a known GPU model (latency and energy
per call a fixed combination of the profile's own roofline terms, the law the fit assumes), so
what is checked is that each path uses the calibration's prediction exactly where it applies."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import edgespace as es
from edgespace.calibration import CalibrationError, GpuCalibration, draw_specs
from edgespace.calibration._gpu import LATENCY_FEATURES, calibrate_gpu, gpu_features
from edgespace.cli import main
from edgespace.cost import CalibrationBase, load_calibration
from edgespace.study import MobileNetSpace, run_worker, search

PROFILE = "nvidia-h200"
#: The known (synthetic, not measured) GPU, per batch: latency weights over LATENCY_FEATURES (ms),
#: energy per call = 180 W x latency + 40 mJ/GFLOP + 15 mJ/GB.
TRUE_LATENCY = {
    1: np.array([0.9, 2.5, 1.2, 0.3, 0.0, 0.004, 0.02]),
    32: np.array([1.4, 1.8, 1.1, 0.25, 0.004, 0.0, 0.03]),
}


@dataclasses.dataclass(frozen=True)
class _Run:
    """The fields calibration reads from a Measurement, as the known GPU above gives them."""

    spec: es.ArchSpec
    batch: int
    round_medians_ms: tuple[float, ...]
    energy_mj: float | None
    backend: str = "torch-cuda"
    precision: str = "fp16"


def _runs(specs, batches, *, energy=True):
    out = []
    for spec in specs:
        for b in batches:
            s = dataclasses.replace(spec, batch=b)
            f = gpu_features(s, PROFILE)
            lat = float(np.array([f[k] for k in LATENCY_FEATURES]) @ TRUE_LATENCY[b])
            e_call = 180 * lat + 40 * f["gflop"] + 15 * f["gbyte"]
            out.append(_Run(s, b, (lat * 0.99, lat, lat * 1.01), e_call / b if energy else None))
    return out


SPECS = draw_specs(8, families=("mobilenetv2", "mobilenetv3_small"), precision="fp16", seed=3)


@pytest.fixture(scope="module")
def gpu_cal() -> GpuCalibration:
    return calibrate_gpu(PROFILE, _runs(SPECS, (1, 32)), note="synthetic GPU law (test)")


@pytest.fixture(scope="module")
def gpu_file(gpu_cal, tmp_path_factory):
    return gpu_cal.save(tmp_path_factory.mktemp("gpu") / "h200.json")


def _spec(batch=1, precision="fp16", resolution=160):
    return es.ArchSpec("mobilenetv2", 0.75, 1.0, resolution, precision, batch=batch)


def test_both_kinds_implement_the_door(gpu_cal):
    assert isinstance(gpu_cal, CalibrationBase)
    assert gpu_cal.applies_to["profile"] == PROFILE and gpu_cal.applies_to["batch"] == [1, 32]
    assert gpu_cal.applies_to["precision"] == "fp16" and gpu_cal.applies_to["provider"] == "torch-cuda"
    assert gpu_cal.applies(PROFILE, gpu_cal.mode, "fp16", 32)
    assert not gpu_cal.applies(PROFILE, gpu_cal.mode, "fp16", 8)
    assert not gpu_cal.applies(PROFILE, gpu_cal.mode, "fp32", 1)
    assert not gpu_cal.applies("nvidia-h100", gpu_cal.mode, "fp16", 1)
    assert len(gpu_cal.id) == 10 and gpu_cal.summary()["id"] == gpu_cal.id
    # 8 networks a batch: too few to hold any out, so the summary shows no held-out figure and
    # names the in-sample one as such
    assert gpu_cal.summary()["held_out"] is None and gpu_cal.summary()["energy_held_out"] is None
    assert gpu_cal.summary()["in_sample"]["n"] == 16 and gpu_cal.summary()["in_sample"]["within_10pct"] == 1.0


@pytest.mark.parametrize("batch", [1, 32])
def test_estimate_takes_latency_and_metered_energy_where_it_applies(gpu_cal, batch):
    spec = _spec(batch)
    e = es.estimate(spec, PROFILE, gpu_cal.mode, calibration=gpu_cal)
    lat = gpu_cal.predict_latency_ms(spec)
    energy = gpu_cal.predict_energy_mj(gpu_cal.mode, [spec])[0]
    assert e.latency_ms == pytest.approx(lat, rel=1e-9)
    assert e.energy_mj == pytest.approx(energy, rel=1e-9)
    assert e.throughput_fps == pytest.approx(batch * 1e3 / lat, rel=1e-9)
    assert (e.latency_source, e.energy_source) == (f"calibrated:{gpu_cal.id}", f"metered:{gpu_cal.id}")
    # and it is the known GPU's figure, not the profile's
    f = gpu_features(spec, PROFILE)
    truth = float(np.array([f[k] for k in LATENCY_FEATURES]) @ TRUE_LATENCY[batch])
    assert lat == pytest.approx(truth, rel=0.02)
    assert abs(es.estimate(spec, PROFILE, gpu_cal.mode).latency_ms / truth - 1) > 0.05


@pytest.mark.parametrize("batch,precision", [(8, "fp16"), (1, "fp32"), (32, "int8")])
def test_elsewhere_the_analytic_value_stays(gpu_cal, batch, precision):
    spec = _spec(batch, precision)
    e = es.estimate(spec, PROFILE, gpu_cal.mode, calibration=gpu_cal)
    plain = es.estimate(spec, PROFILE, gpu_cal.mode)
    assert (e.latency_source, e.energy_source) == ("analytic", "analytic")
    assert e.latency_ms == plain.latency_ms and e.energy_mj == plain.energy_mj


def test_without_a_meter_latency_is_calibrated_and_energy_estimated():
    cal = calibrate_gpu(PROFILE, _runs(SPECS[:7], (1,), energy=False))
    e = es.estimate(_spec(1), PROFILE, cal.mode, calibration=cal)
    assert (e.latency_source, e.energy_source) == (cal.source, "estimated")
    assert e.latency_ms == pytest.approx(cal.predict_latency_ms(_spec(1)), rel=1e-9)


def test_estimate_many_agrees_with_estimate_row_by_row(gpu_cal):
    rows = [
        dict(family="mobilenetv2", width=w, depth=1.0, resolution=r, precision=p, batch=b)
        for w in (0.5, 0.75)
        for r in (128, 160)
        for p in ("fp16", "fp32")
        for b in (1, 8, 32)
    ]
    out = es.estimate_many(pd.DataFrame(rows), PROFILE, gpu_cal.mode, calibration=gpu_cal)
    assert len(out) == len(rows)
    assert set(out["latency_source"]) == {"analytic", gpu_cal.source}
    for row in out.itertuples():
        spec = es.ArchSpec(row.family, row.width, row.depth, int(row.resolution), row.precision, batch=int(row.batch))
        e = es.estimate(spec, PROFILE, gpu_cal.mode, calibration=gpu_cal)
        assert (row.latency_source, row.energy_source) == (e.latency_source, e.energy_source)
        assert row.latency_ms == pytest.approx(e.latency_ms, rel=1e-9)
        assert row.energy_mj == pytest.approx(e.energy_mj, rel=1e-9)
        assert row.throughput_fps == pytest.approx(e.throughput_fps, rel=1e-9)


def test_load_calibration_reads_the_gpu_file(gpu_cal, gpu_file, tmp_path):
    again = load_calibration(gpu_file)
    assert isinstance(again, GpuCalibration) and again.id == gpu_cal.id
    spec = _spec(32)
    assert again.predict_latency_ms(spec) == pytest.approx(gpu_cal.predict_latency_ms(spec), rel=1e-12)
    e = es.estimate(spec, PROFILE, gpu_cal.mode, calibration=str(gpu_file))  # a path goes through the door too
    assert e.latency_source == gpu_cal.source
    doc = json.loads(gpu_file.read_text())
    doc["latency_weights"]["1"][0] *= 2
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match="the file was edited"):
        load_calibration(tmp_path / "edited.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something/1"}))
    with pytest.raises(CalibrationError, match="edgespace-gpu-calibration/1"):
        load_calibration(tmp_path / "other.json")


def test_search_stores_the_gpu_calibration_and_a_worker_reloads_it(gpu_cal, gpu_file, tmp_path):
    space = MobileNetSpace(
        families=("mobilenetv2",),
        widths=(0.5, 1.0),
        width_step=0.25,
        resolutions=(128, 160),
        resolution_step=32,
        precisions=("fp16", "fp32"),
        modes=(gpu_cal.mode,),
        batches=(1, 8, 32),
    )
    storage = f"journal:{tmp_path / 'gpu.journal'}"
    r = search(
        space,
        PROFILE,
        "accuracy,latency_ms",
        n_trials=16,
        sampler="random",
        storage=storage,
        study_name="gpu",
        seed=0,
        calibration=gpu_cal,
    )
    assert r.calibration.id == gpu_cal.id
    assert r.study.user_attrs["edgespace"]["calibration"]["id"] == gpu_cal.id
    t = r.trials_frame(complete_only=True)
    w = run_worker(storage, "gpu", n_trials=32, seed=1)
    assert isinstance(w.calibration, GpuCalibration) and w.calibration.id == gpu_cal.id
    t2 = w.trials_frame(complete_only=True)
    assert len(t2) == 32
    calibrated = 0
    for row in t2.itertuples():
        spec = es.ArchSpec(row.family, row.width, row.depth, int(row.resolution), row.precision, batch=int(row.batch))
        applies = gpu_cal.applies(PROFILE, row.mode, row.precision, int(row.batch))
        assert row.latency_source == (gpu_cal.source if applies else "analytic")
        if applies:
            calibrated += 1
            assert row.latency_ms == pytest.approx(gpu_cal.predict_latency_ms(spec), rel=1e-6)
            assert row.energy_source == f"metered:{gpu_cal.id}"
    assert calibrated > 0 and calibrated < len(t2)
    assert set(t.number) <= set(t2.number)
    # the same file is accepted by a worker (same id)
    run_worker(storage, "gpu", n_trials=32, calibration=str(gpu_file))


def test_cli_calibration_option_takes_a_gpu_file(gpu_cal, gpu_file, capsys):
    assert (
        main(
            [
                "estimate",
                "--profile",
                PROFILE,
                "--mode",
                gpu_cal.mode,
                "--family",
                "mobilenetv2",
                "--width",
                "0.75",
                "--resolution",
                "160",
                "--precision",
                "fp16",
                "--batch",
                "32",
                "--calibration",
                str(gpu_file),
                "--json",
            ]
        )
        == 0
    )
    docs = json.loads(capsys.readouterr().out)
    doc = docs[0] if isinstance(docs, list) else docs
    assert (doc["latency_source"], doc["energy_source"]) == (gpu_cal.source, f"metered:{gpu_cal.id}")
    assert doc["latency_ms"] == pytest.approx(gpu_cal.predict_latency_ms(_spec(32)), rel=1e-9)


def test_budget_and_report_take_a_gpu_calibration(gpu_cal):
    from edgespace.report._data import calibration_frame

    # no per-mode power model in a GPU calibration: the budget's idle floor stays the profile's, and says so
    b = es.Budget.from_profile(PROFILE, gpu_cal.mode, calibration=gpu_cal, battery_wh=10, frames_per_day=1000)
    assert b.idle_w == es.Budget.from_profile(PROFILE, gpu_cal.mode, battery_wh=10, frames_per_day=1000).idle_w
    assert "metered" not in b.provenance["idle_w"]
    f = calibration_frame(gpu_cal)
    assert len(f) == len(SPECS) * 2 and f["latency_error_pct"].abs().max() < 2.0
