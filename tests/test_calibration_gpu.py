"""GPU calibration from end-to-end runs: the fit on a GPU with known behaviour, the file, the CLI's
unavailable error, and the fidelity benchmark's CPU path (run for real, its JSON checked)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgespace import ArchSpec, layer_table
from edgespace.calibration import CalibrationError, draw_specs, load_gpu_calibration
from edgespace.calibration._gpu import LATENCY_FEATURES, calibrate_gpu, gpu_features
from edgespace.cli import main
from edgespace.runners.torch_cuda import cuda_unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
#: A GPU with known behaviour, per batch: latency = weights · (t_dense, t_dw, t_elem, fused-tail GB,
#: fused kernels, eager kernels, 1) in ms, energy per call = 180 W · latency + 40 mJ/GFLOP + 15 mJ/GB.
TRUE_LATENCY = {
    1: np.array([0.9, 2.5, 1.2, 0.3, 0.0, 0.004, 0.02]),
    32: np.array([1.4, 1.8, 1.1, 0.25, 0.004, 0.0, 0.03]),
}


@dataclasses.dataclass(frozen=True)
class _Run:
    """The fields calibration reads from a Measurement, as a GPU with known behaviour gives them."""

    spec: ArchSpec
    batch: int
    round_medians_ms: tuple[float, ...]
    energy_mj: float | None
    backend: str = "torch-cuda"
    precision: str = "fp16"


def _runs(specs, batches, rng, noise=0.0, energy=True):
    out = []
    for spec in specs:
        for b in batches:
            s = dataclasses.replace(spec, batch=b)
            f = gpu_features(s, "nvidia-h200")
            lat = float(np.array([f[k] for k in LATENCY_FEATURES]) @ TRUE_LATENCY[b])
            e_call = 180 * lat + 40 * f["gflop"] + 15 * f["gbyte"]
            lat *= 1 + noise * rng.standard_normal()
            out.append(_Run(s, b, (lat * 0.99, lat, lat * 1.01), e_call / b if energy else None, precision=s.precision))
    return out


def test_gpu_calibration_recovers_a_known_gpu_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    specs = draw_specs(14, cover=True, precision="fp16")
    cal = calibrate_gpu("nvidia-h200", _runs(specs, (1, 32), rng), note="test")
    assert cal.batches == [1, 32] and cal.provenance["networks"] == 14
    for b in (1, 32):
        rep = cal.report["by_batch"][str(b)]
        assert rep["n"] == 14
        assert rep["latency"]["held_out_5fold"]["within_10pct"] == 1.0
        assert rep["latency"]["held_out_5fold"]["mape_pct"] < 1.0
        assert rep["energy"]["held_out_5fold"]["within_15pct"] == 1.0
        by_family = rep["latency"]["held_out_by_family"]  # one entry per family drawn, its networks counted
        assert set(by_family) == {s.family for s in specs}
        assert sum(f["n"] for f in by_family.values()) == 14
        # the uncalibrated profile's error on the same networks sits beside it
        assert rep["latency"]["uncalibrated"]["mape_pct"] > rep["latency"]["held_out_5fold"]["mape_pct"]
    assert cal.report["held_out_5fold"]["n"] == 28
    new = dataclasses.replace(draw_specs(1, seed=7, precision="fp16")[0], batch=32)
    f = gpu_features(new, "nvidia-h200")
    truth = float(np.array([f[k] for k in LATENCY_FEATURES]) @ TRUE_LATENCY[32])
    assert cal.predict_latency_ms(new) == pytest.approx(truth, rel=0.01)
    assert cal.predict_energy_mj(cal.mode, [new])[0] == pytest.approx(
        (180 * truth + 40 * f["gflop"] + 15 * f["gbyte"]) / 32, rel=0.01
    )
    path = cal.save(tmp_path / "h200.json")
    again = load_gpu_calibration(path)
    assert again.predict_latency_ms(new) == pytest.approx(cal.predict_latency_ms(new))
    assert again.report == json.loads(json.dumps(cal.report))
    assert list(again.runs["e2e_ms"]) == pytest.approx(list(cal.runs["e2e_ms"]))
    with pytest.raises(CalibrationError, match="batch 8 was not calibrated for nvidia-h200; calibrated batches: 1, 32"):
        cal.predict_latency_ms(dataclasses.replace(new, batch=8))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(CalibrationError, match="not a GPU calibration file"):
        load_gpu_calibration(tmp_path / "bad.json")


def test_gpu_calibration_without_a_meter_fits_latency_only():
    rng = np.random.default_rng(1)
    runs = _runs(draw_specs(7, precision="fp16"), (1,), rng, noise=0.02, energy=False)
    cal = calibrate_gpu("nvidia-h200", runs)
    rep = cal.report["by_batch"]["1"]
    assert rep["energy"] == {"unavailable": "no energy was metered for these runs"}
    assert "held_out_5fold" not in rep["latency"]  # fewer than 10 networks: in-sample only
    assert cal.summary()["held_out"] is None and cal.summary()["in_sample"]["n"] == 7
    assert cal.predict_energy_mj(cal.mode, [runs[0].spec]) is None
    with pytest.raises(CalibrationError, match="batch 1: 3 networks measured; need at least 7"):
        calibrate_gpu("nvidia-h200", runs[:3])


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="this machine has a CUDA device")
def test_cli_gpu_calibration_says_what_is_missing(capsys):
    assert main(["calibrate", "--profile", "nvidia-h200", "--backend", "torch-cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgespace: error: backend='torch-cuda' is unavailable: ") and "\n" not in err
    assert main(["calibrate", "--profile", "no-such-device", "--backend", "torch-cuda"]) == 2
    assert "no-such-device" in capsys.readouterr().err


def test_gpu_fidelity_benchmark_cpu_path_writes_its_json(tmp_path):
    out = tmp_path / "fidelity.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_fidelity.py"), "--quick", "--cpu", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["format"] == "edgespace-gpu-fidelity/2" and doc["path"] == "cpu"
    assert doc["machine"]["python"] and "gpu_fidelity.py --quick --cpu" in doc["command"]
    runs_file = out.with_name(doc["runs_file"])
    assert len(runs_file.read_text().splitlines()) == 20  # every run, as it completed
    assert doc["backend"] == "onnxruntime" and doc["profile"] == "host" and doc["batches"] == [1, 4]
    assert doc["networks"] == 10 and len(doc["runs"]) == 20
    assert {r["batch"] for r in doc["runs"]} == {1, 4} and all(r["latency_ms"] > 0 for r in doc["runs"])
    for b in ("1", "4"):
        lat = doc["latency"][b]
        for key in ("held_out", "uncalibrated", "in_sample"):
            assert lat[key]["n"] == 10 and 0.0 <= lat[key]["within_10pct"] <= 1.0 and lat[key]["mape_pct"] >= 0
        assert doc["energy"][b] == {"unavailable": "no energy was metered for these runs"}
        assert isinstance(doc["meets"][f"latency_b{b}"], bool) and doc["meets"][f"energy_b{b}"] is None
        assert "of 10 networks" in doc["meets_why"][f"latency_b{b}"]
        assert doc["meets_why"][f"energy_b{b}"].startswith("energy not measured: ")
    assert doc["targets"] == {"latency_within_10pct": 0.9, "energy_within_15pct": 0.9}
    assert doc["timing_s"]["total"] > 0 and "held-out (5-fold)" in proc.stdout


def _kernel_roofline_gpu_ms(spec: ArchSpec, fused: bool) -> float:
    """A GPU of another form than the model's: every kernel costs the largest of a 4 µs floor,
    its arithmetic at a per-class efficiency of 990 TFLOP/s and its bytes at 4.3 TB/s; unfused,
    every bn, act and layer scale is a kernel of its own. 15 µs per call."""
    from edgespace._ops import MAC_OPS  # conv-like rows and attention matmuls: matrix-unit work

    t = layer_table(spec)
    op = t["op"].to_numpy()
    scale = (op == "mul") & np.array([len(r) == 1 for r in t["reads"]])  # a per-channel layer scale
    rows = (op != "reshape") & (~(np.isin(op, ("bn", "act")) | scale) if fused else True)
    flops = np.where(np.isin(op, MAC_OPS), 2 * t["macs"], t["elem_ops"]).astype(float)
    eff = np.where(op == "depthwise", 0.02, np.where(np.isin(op, MAC_OPS), 0.5, 0.01))
    nbytes = (t["input_bytes"] + t["output_bytes"] + t["weight_bytes"]).to_numpy(float)
    per = np.maximum.reduce([np.full(len(t), 4e-6), flops / (990e12 * eff), nbytes / 4.3e12])
    return float(per[rows].sum() * 1e3 + 0.015)


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_gpu_calibration_generalises_to_a_gpu_of_another_form(fused):
    rng = np.random.default_rng(3)
    runs = []
    for spec in draw_specs(24, cover=True, precision="fp16"):
        for b in (1, 32):
            s = dataclasses.replace(spec, batch=b)
            v = _kernel_roofline_gpu_ms(s, fused) * (1 + 0.02 * rng.standard_normal())
            runs.append(_Run(s, b, (v, v, v), None))
    cal = calibrate_gpu("nvidia-h200", runs)
    for b in ("1", "32"):
        rep = cal.report["by_batch"][b]["latency"]
        assert rep["held_out_5fold"]["within_10pct"] >= 0.9, (b, rep)
        assert rep["held_out_5fold"]["mape_pct"] <= rep["uncalibrated"]["mape_pct"]


# --- the precision calibrated is the precision measured ------------------------------------------------


def test_gpu_calibration_refuses_runs_measured_at_another_precision_than_their_spec():
    rng = np.random.default_rng(4)
    runs = _runs(draw_specs(8, precision="fp16"), (1,), rng)
    bad = [dataclasses.replace(r, precision="fp32") for r in runs]  # fp16 features, an fp32 run
    with pytest.raises(CalibrationError, match=r"ran at precision 'fp32' but its spec is 'fp16'"):
        calibrate_gpu("nvidia-h200", bad)


def test_gpu_collection_refuses_specs_drawn_at_another_precision():
    from edgespace.calibration._gpu_collect import collect_gpu

    with pytest.raises(CalibrationError, match=r"collect_gpu\(precision='fp32'\): specs drawn at fp16"):
        collect_gpu(draw_specs(3, precision="fp16"), precision="fp32")


def test_gpu_calibration_draws_its_specs_at_the_precision_it_measures(monkeypatch, tmp_path):
    """The loop with the GPU runner replaced by a GPU of known behaviour: the specs it is handed
    and the calibration it writes are at the precision asked for, and apply there only."""
    import edgespace.calibration._gpu_collect as collect_mod
    import edgespace.runners as runners_mod
    from edgespace import SpecError
    from edgespace.calibration import run_gpu_calibration

    seen = []

    def known_gpu(specs, *, batches, precision, **_):
        seen.extend(specs)
        return _runs(specs, batches, np.random.default_rng(5)), 77.0

    monkeypatch.setattr(collect_mod, "collect_gpu", known_gpu)
    monkeypatch.setattr(runners_mod, "get_runner", lambda name, **kw: None)
    cal, _ = run_gpu_calibration("nvidia-h200", 10, precision="fp32", out=tmp_path / "cal.json")
    assert {s.precision for s in seen} == {"fp32"}
    assert cal.applies("nvidia-h200", cal.mode, "fp32", 1) and not cal.applies("nvidia-h200", cal.mode, "fp16", 1)
    with pytest.raises(SpecError, match=r"precision='bf16': .* the analytic specs have fp32, fp16, int8 only"):
        run_gpu_calibration("nvidia-h200", 10, precision="bf16", out=tmp_path / "bf16.json")


# --- the fidelity benchmark's runs file, recomputed anywhere ----------------------------------------


def _records(rng) -> list[dict]:
    """Runs-file lines as the GPU path writes them (a GPU of known behaviour, metered), with the
    idle head line and one fused network."""
    lines = [{"phase": "idle", "idle": {"power_w": 77.0}, "machine": {"device": "NVIDIA H200"}, "command": "x"}]
    for r in _runs(draw_specs(12, cover=True, precision="fp16"), (1, 32), rng, noise=0.03):
        lines.append(
            {
                "phase": "unfused",
                "spec": r.spec.to_dict(),
                "batch": r.batch,
                "round_medians_ms": list(r.round_medians_ms),
                "energy_mj": r.energy_mj,
                "backend": "torch-cuda",
                "device_name": "NVIDIA H200",
                "precision": "fp16",
                "host_bound": False,
                "avg_power_w": 150.0,
                "telemetry_series": [[0.0, 40.0, 1980.0, 150.0]],
            }
        )
    fused = dataclasses.replace(draw_specs(1, seed=9, precision="fp16")[0], batch=1)
    lines.append(
        {
            "phase": "fused",
            "spec": fused.to_dict(),
            "batch": 1,
            "round_medians_ms": [0.5, 0.5, 0.5],
            "precision": "fp16",
            "device_name": "NVIDIA H200",
            "host_bound": True,
            "energy_mj": 1.0,
        }
    )
    return lines


def test_gpu_fidelity_recomputes_and_checks_a_runs_file(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_fidelity as bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    runs = tmp_path / "gpu_fidelity_runs.jsonl"
    text = "".join(json.dumps(r) + "\n" for r in _records(np.random.default_rng(6)))
    runs.write_text(text + '{"phase": "unfused", "spec": {"fam')  # a run killed mid-line
    out = tmp_path / "result.json"
    assert bench.main(["--from-runs", str(runs), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["path"] == "from-runs" and doc["profile"] == "nvidia-h200" and doc["networks"] == 12
    assert doc["idle"] == {"power_w": 77.0} and doc["machine"] == {"device": "NVIDIA H200"}
    assert doc["batches"] == [1, 32] and doc["host_bound_runs"] == 1
    for b in ("1", "32"):
        held = doc["latency"][b]["held_out"]
        assert held["n"] == 12 and set(doc["energy"][b]) == {"held_out", "in_sample", "uncalibrated"}
        assert doc["meets"][f"latency_b{b}"] == (held["within_10pct"] >= 0.9)
        assert f"of 12 networks ({held['within_10pct']:.0%})" in doc["meets_why"][f"latency_b{b}"]
    (row,) = doc["fused_check"]
    assert row["host_bound"] is True and row["measured_ms"] == 0.5 and row["uncalibrated_predicted_ms"] > 0
    assert len(doc["telemetry"]) == 24 and "not a complete JSON line" in capsys.readouterr().out
    # the check: the same runs give the same figures; a stored result that differs is caught
    assert bench.main(["--from-runs", str(runs), "--check", str(out), "--out", str(tmp_path / "again.json")]) == 0
    stored = json.loads(out.read_text())
    stored["latency"]["32"]["held_out"]["mape_pct"] *= 1.01
    (tmp_path / "stored.json").write_text(json.dumps(stored))
    assert (
        bench.main(
            ["--from-runs", str(runs), "--check", str(tmp_path / "stored.json"), "--out", str(tmp_path / "3.json")]
        )
        == 1
    )
    assert "latency batch 32 held_out" in capsys.readouterr().out
