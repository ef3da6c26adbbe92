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
            out.append(_Run(s, b, (lat * 0.99, lat, lat * 1.01), e_call / b if energy else None))
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
    assert doc["format"] == "edgespace-gpu-fidelity/1" and doc["path"] == "cpu"
    assert doc["backend"] == "onnxruntime" and doc["profile"] == "host" and doc["batches"] == [1, 4]
    assert doc["networks"] == 10 and len(doc["runs"]) == 20
    assert {r["batch"] for r in doc["runs"]} == {1, 4} and all(r["latency_ms"] > 0 for r in doc["runs"])
    for b in ("1", "4"):
        lat = doc["latency"][b]
        for key in ("held_out", "uncalibrated", "in_sample"):
            assert lat[key]["n"] == 10 and 0.0 <= lat[key]["within_10pct"] <= 1.0 and lat[key]["mape_pct"] >= 0
        assert doc["energy"][b] == {"unavailable": "no energy was metered for these runs"}
        assert isinstance(doc["meets"][f"latency_b{b}"], bool) and doc["meets"][f"energy_b{b}"] is None
    assert doc["targets"] == {"latency_within_10pct": 0.9, "energy_within_15pct": 0.9}
    assert doc["timing_s"]["total"] > 0 and "held-out (5-fold)" in proc.stdout


def _kernel_roofline_gpu_ms(spec: ArchSpec, fused: bool) -> float:
    """A GPU of another form than the model's: every kernel costs the largest of a 4 µs floor,
    its arithmetic at a per-class efficiency of 990 TFLOP/s and its bytes at 4.3 TB/s; unfused,
    every bn and act is a kernel of its own. 15 µs per call."""
    from edgespace.layers import CONV_OPS

    t = layer_table(spec)
    op = t["op"].to_numpy()
    rows = (op != "reshape") & (~np.isin(op, ("bn", "act")) if fused else True)
    flops = np.where(np.isin(op, CONV_OPS), 2 * t["macs"], t["elem_ops"]).astype(float)
    eff = np.where(op == "depthwise", 0.02, np.where(np.isin(op, CONV_OPS), 0.5, 0.01))
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
