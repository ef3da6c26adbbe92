"""The phone runtimes through the study and the calibration door: a front point confirmed with
LiteRT (XNNPACK on this CPU), and a calibration fitted to end-to-end-only runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from edgespace import ArchSpec, CalibrationError, estimate
from edgespace.calibration import calibrate
from edgespace.cost import load_calibration

pytest.importorskip("ai_edge_litert", reason="the phone extra is not installed (pip install 'edgespace[phone]')")

# the network the coverage tests convert (its .tflite is cached by spec, format and precision)
SPEC = ArchSpec("mobilenetv3_small", 0.5, 0.5, 64, "int8")


def _point(spec: ArchSpec, **kw) -> dict:
    row = dict(spec.to_dict(), mode=None, placement=None, latency_ms=1.0, energy_mj=None, latency_source="analytic")
    row.update(kw)
    return row


@pytest.fixture(scope="module")
def litert_run():
    """A real LiteRT run of the small int8 .tflite committed in tests/data/phone (made by edgespace's
    converter; no converter needed here)."""
    from pathlib import Path

    from edgespace.runners import TimingPlan, get_runner

    path = Path(__file__).parent / "data" / "phone" / "litert_mobilenetv3_small_w0.35_d0.5_r64_c10_int8.tflite"
    spec = ArchSpec("mobilenetv3_small", 0.35, 0.5, 64, "int8", 10)
    timing = TimingPlan(runs=20, rounds=2, profile=False)
    return get_runner("litert").measure(path, spec, precision="int8", threads=1, timing=timing)


def test_confirm_points_times_the_front_with_litert(litert_converter):
    from edgespace.study._confirm import CONFIRMATION_COLUMNS, confirm_points

    fp16 = dataclasses.replace(SPEC, precision="fp16")
    rows = confirm_points(pd.DataFrame([_point(SPEC), _point(fp16)]), backend="litert", rounds=2, profile="host")
    ok, bad = rows
    assert set(ok) == set(CONFIRMATION_COLUMNS)
    assert ok["status"] == "ok" and ok["backend"] == "litert" and ok["provider"] == "XNNPACK"
    assert ok["measured_latency_ms"] > 0 and ok["latency_error_pct"] is not None
    assert ok["measured_energy_mj"] is None and ok["energy_unavailable_reason"]  # no meter works here
    assert bad["status"].startswith("failed:") and "fp16" in bad["status"] and bad["measured_latency_ms"] is None


def test_calibrate_fits_end_to_end_phone_runs_per_network(litert_run, tmp_path):
    # Synthetic latencies: one real LiteRT measurement re-labelled with 10 specs, each given
    # 0.3x the raspberry-pi-5 profile's analytic latency (the door, not the figures, is tested).
    from edgespace.calibration import draw_specs

    specs = draw_specs(10, families=("efficientnet", "mobilenetv3_small", "mobilenetv3_large"), seed=1, design="lhs")
    runs = [
        dataclasses.replace(
            litert_run, spec=s, round_medians_ms=(0.3 * estimate(s, "raspberry-pi-5").latency_ms,), precision="fp32"
        )
        for s in specs
    ]
    cal = calibrate("host", runs, threads=1, model_params={"trees": False})  # the base model: seconds, not a minute
    assert "end to end only" in cal.provenance["segment_times"] and cal.provenance["runtime"].startswith(
        "ai-edge-litert"
    )
    assert cal.report["held_out_5fold"]["n"] == 10
    # the in-sample fit reproduces the whole-network latencies it was given
    assert cal.report["in_sample"]["within_10pct"] >= 0.9
    back = load_calibration(cal.save(tmp_path / "litert.json"))
    pred = [cal.predict_latency_ms(s) for s in specs[:3]]
    assert np.allclose(pred, [back.predict_latency_ms(s) for s in specs[:3]])
    assert np.allclose(pred, [r.latency_calibration_ms for r in runs[:3]], rtol=0.1)


def test_onnxruntime_runs_without_node_times_are_still_refused(litert_run):
    runs = [dataclasses.replace(litert_run, backend="onnxruntime") for _ in range(3)]
    with pytest.raises(CalibrationError, match="has no node times"):
        calibrate("host", runs)


def test_cli_refuses_unknown_confirm_backend_and_phone_backend_with_from(capsys, tmp_path):
    from edgespace.cli import main

    argv = ["search", "--profile", "host", "--space", "mobilenetv2", "--trials", "2", "--confirm", "1"]
    assert main([*argv, "--backend", "tflite"]) == 2
    assert "allowed: onnxruntime, litert, executorch" in capsys.readouterr().err
    assert main(["calibrate", "--profile", "host", "--backend", "litert", "--from", str(tmp_path)]) == 2
    assert "--from reads device captures" in capsys.readouterr().err


def test_phone_runs_are_interleaved_and_paired_with_a_reference():
    # the committed int8 .tflite timed twice over (two specs) and paired with itself as the reference:
    # the paired latency is the reference's level times a ratio near 1, and calibration fits to it
    from pathlib import Path

    from edgespace.runners import calibration_latency_ms, measure_phone_interleaved

    path = Path(__file__).parent / "data" / "phone" / "litert_mobilenetv3_small_w0.35_d0.5_r64_c10_int8.tflite"
    spec = ArchSpec("mobilenetv3_small", 0.35, 0.5, 64, "int8", 10)
    steps = []
    ms = measure_phone_interleaved(
        [path, path],
        [spec, dataclasses.replace(spec, width=0.4)],
        backend="litert",
        threads=1,
        precision="int8",
        rounds=3,
        round_s=0.01,
        reference_path=path,
        reference=spec,
        progress=lambda step, total: steps.append((step, total)),
    )
    assert [m.spec.width for m in ms] == [0.35, 0.4] and steps[-1] == (2 * 5, 2 * 5)
    for m in ms:
        assert m.backend == "litert" and m.precision == "int8" and m.reference == spec.short_name()
        assert len(m.round_medians_ms) == 3 and m.node_profile is None
        assert m.latency_paired_ms is not None and calibration_latency_ms(m) == m.latency_paired_ms
        assert 0.5 < m.latency_paired_ms / m.latency_p50_ms < 2.0  # the same model as its reference
        assert any("reference-paired" in n for n in m.notes)
