"""The GPU runners where there is no GPU: their unavailable errors, and the device-neutral parts
(timing, statistics, telemetry, the CUDA runner's CPU path, TensorRT's layer-time mapping) for real."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest

import edgespace as es
from edgespace import ArchSpec, SpecError, UnavailableError
from edgespace.layers import CONV_OPS
from edgespace.meters import MeterInitError, NullMeter, NvmlMeter, get_meter
from edgespace.runners import confirm, get_runner, list_runners
from edgespace.runners._timing import (
    TelemetrySampler,
    WallTimer,
    latency_summary,
    throughput_windows,
    time_calls,
)
from edgespace.runners.torch_cuda import (
    CudaMeasurement,
    TorchCudaRunner,
    cuda_unavailable_reason,
    measure_module,
)

TINY = ArchSpec("mobilenetv3_small", 0.35, resolution=64)
DATA = Path(__file__).parent / "data"


def _has_cuda() -> bool:
    return cuda_unavailable_reason() is None


# --- unavailable here -----------------------------------------------------------------------------


def test_gpu_runners_are_registered():
    assert {"onnxruntime", "torch-cuda", "tensorrt"} <= set(list_runners())


@pytest.mark.skipif(_has_cuda(), reason="this machine has a CUDA device")
def test_torch_cuda_unavailable_error_names_what_is_missing():
    reason = cuda_unavailable_reason()
    assert reason and (
        "no CUDA device visible" in reason or "built without CUDA" in reason or "not importable" in reason
    )
    assert not TorchCudaRunner.is_available()
    assert "torch-cuda" not in list_runners(available_only=True)
    with pytest.raises(UnavailableError, match="backend='torch-cuda' is unavailable: ") as info:
        confirm(TINY, backend="torch-cuda", runs=5)
    assert reason in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UnavailableError, match="torch-cuda"):
        get_runner("torch-cuda")


def test_confirm_checks_precision_and_batch_per_backend():
    with pytest.raises(
        SpecError,
        match=r"confirm\(precision='int8'\) is not allowed for backend 'torch-cuda'; allowed: fp32, fp16, bf16",
    ):
        confirm(TINY, backend="torch-cuda", precision="int8")
    with pytest.raises(SpecError, match=r"confirm\(precision='bf16'\) is not allowed for backend 'onnxruntime'"):
        confirm(TINY, precision="bf16")
    with pytest.raises(SpecError, match=r"confirm\(batch=4\): backend 'onnxruntime' runs one image per call"):
        confirm(TINY, batch=4, runs=3)
    with pytest.raises(SpecError, match=r"ArchSpec\.batch=0"):
        confirm(TINY, backend="torch-cuda", batch=0)
    with pytest.raises(SpecError, match="not known to backend 'onnxruntime'"):
        confirm(TINY, runs=3, compile=False)


def test_nvml_meter_says_why_it_is_unavailable():
    try:
        meter = NvmlMeter()
    except MeterInitError as exc:
        msg = str(exc)
        assert msg.startswith("NVML: ") and ("nvidia-ml-py" in msg or "energy counter" in msg)
        null = get_meter("nvml")
        assert isinstance(null, NullMeter) and "NVML" in null.reason
        window = null.end_window(null.begin_window())
        assert window.energy_mj is None and "NVML" in window.energy_unavailable_reason
    else:  # a machine with an NVIDIA GPU and the package: the counter and telemetry read
        temp, clock, power = meter.telemetry()
        assert 0 < temp < 120 and clock > 0 and power > 0 and meter.domain == "gpu-board"


# --- timing and statistics, device-neutral, for real -----------------------------------------------


def _sleeper(seconds: float):
    def call():
        time.sleep(seconds)

    return call


def test_time_calls_runs_mode_rounds_and_statistics():
    run = time_calls(_sleeper(0.002), WallTimer(), warmup=1, runs=12, rounds=3)
    assert len(run.latency_ms) == 12 and list(run.chunk_calls) == [4, 4, 4]
    assert (run.latency_ms >= 2.0).all()
    stats = latency_summary(run, 3)
    assert stats["rounds"] == 3 and len(stats["round_medians_ms"]) == 3
    assert stats["latency_robust_ms"] == min(stats["round_medians_ms"])
    assert stats["latency_min_ms"] <= stats["latency_p50_ms"] <= stats["latency_p90_ms"] <= stats["latency_p99_ms"]
    assert stats["latency_p50_ms"] >= 2.0 and stats["latency_spread_pct"] >= 0
    # wall clock covers the calls
    assert run.wall_s * 1e3 >= run.latency_ms.sum() * 0.99


def test_time_calls_fills_the_energy_window_with_the_rounds_asked_for():
    run = time_calls(_sleeper(0.004), WallTimer(), warmup=0, runs=4, rounds=2, min_s=0.06)
    assert len(np.unique(run.round_of_call)) == 2 and len(run.chunk_calls) == 2  # the rounds asked for
    assert run.chunk_end_s[-1] >= 0.06 * 0.9 and len(run.latency_ms) >= 8  # each longer, to fill the window


def test_time_calls_duration_mode_and_throughput_windows():
    run = time_calls(_sleeper(0.003), WallTimer(), warmup=1, duration_s=2.2, runs=None, chunk_s=0.03)
    assert run.chunk_end_s[-1] >= 2.2
    series, peak, sustained = throughput_windows(run, images_per_call=8, window_s=1.0)
    assert len(series) == int(run.chunk_end_s[-1] // 1.0) >= 2 and series[-1][0] == pytest.approx(run.chunk_end_s[-1])
    images = sum(f * (series[0][0]) for _, f in series)
    assert images == pytest.approx(len(run.latency_ms) * 8, rel=1e-9)
    assert peak >= sustained > 0
    assert peak <= 8 / 0.003  # no window beats the call's own floor
    with pytest.raises(ValueError, match="exactly one of runs or duration_s"):
        time_calls(_sleeper(0.001), WallTimer(), runs=3, duration_s=1.0)


def test_telemetry_sampler_samples_and_survives_a_failing_sensor():
    values = iter(range(1000))
    with TelemetrySampler(lambda: (next(values), 1.0, 2.0), period_s=0.02) as s:
        time.sleep(0.15)
    assert len(s.samples) >= 3 and s.error is None
    assert all(len(x) == 4 for x in s.samples) and s.samples[0][1] == 0

    def broken():
        raise OSError("sensor gone")

    with TelemetrySampler(broken, period_s=0.01) as s:
        time.sleep(0.05)
    assert s.samples == [] and "sensor gone" in s.error


# --- the CUDA runner's measurement path, run on the CPU ---------------------------------------------


def test_measure_module_cpu_path_real_module():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    m = measure_module(es.build(TINY), TINY, device="cpu", batch=2, runs=6, rounds=3, warmup=1, compile=True)
    assert isinstance(m, CudaMeasurement)
    assert m.spec == dataclasses.replace(TINY, batch=2) and m.batch == 2 and m.backend == "torch-cuda"
    assert m.runs == 6 and m.rounds == 3 and m.execution == "eager"
    assert m.latency_p50_ms <= m.latency_p99_ms
    assert m.latency_robust_ms == min(m.round_medians_ms)
    # images per second: two images per call
    # synchronous calls back to back: images over the summed call times (the wall clock adds only marks)
    assert m.throughput_fps == pytest.approx(2 * 1e3 / m.latency_mean_ms, rel=0.1)
    assert m.clean_process is False  # torch is loaded in this process
    assert m.energy_mj is None and m.energy_unavailable_reason and m.idle_power_w is None
    assert m.telemetry_series == () and m.telemetry_unavailable_reason
    assert "compile ignored on the CPU path (eager)" in m.notes
    doc = json.loads(json.dumps(m.to_dict()))
    assert doc["spec"]["batch"] == 2 and doc["execution"] == "eager"
    with pytest.raises(SpecError, match="precision='int8' is not allowed for torch-cuda"):
        measure_module(es.build(TINY), TINY, device="cpu", precision="int8")
    with pytest.raises(SpecError, match="batch=0 is not allowed"):
        measure_module(es.build(TINY), TINY, device="cpu", batch=0)


def test_measure_module_cpu_duration_run():
    pytest.importorskip("torch")
    m = measure_module(es.build(TINY), TINY, device="cpu", duration_s=1.2, warmup=1, rounds=3)
    assert m.duration_s >= 1.2 and m.throughput_series and m.peak_fps >= m.sustained_fps > 0
    assert m.rounds == min(3, m.runs)  # a duration run is split into rounds of consecutive calls


def test_measurement_takes_the_fields_and_leaves_out_derived_names():
    from edgespace.runners.torch_cuda import _measurement

    base = {
        "spec": TINY,
        "backend": "torch-cuda",
        "provider": "x",
        "precision": "fp16",
        "threads": 1,
        "warmup": 1,
        "runs": 1,
        "rounds": 1,
        "latency_p50_ms": 1.0,
        "latency_p90_ms": 2.0,
        "latency_p99_ms": 3.0,
        "latency_mean_ms": 1.5,
        "latency_min_ms": 0.5,
        "latency_robust_ms": 0.9,
        "latency_spread_pct": 0.0,
        "throughput_fps": 1000.0,
        "peak_activation_bytes": 123,
        "energy_mj": 7.0,
        "energy_per_inference_mj": 7.0,
    }
    m = _measurement(**base)
    assert m.latency_p90_ms == 2.0 and m.latency_robust_ms == 0.9 and m.peak_activation_bytes == 123
    assert m.energy_mj == 7.0  # the Measurement's per-inference property (per image at batch > 1)


@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA device")
def test_torch_cuda_on_a_gpu():  # pragma: no cover - runs where a GPU is
    m = confirm(TINY, backend="torch-cuda", precision="fp16", batch=4, runs=50, compile=False)
    assert m.execution.startswith("cuda-graph") and m.batch == 4 and m.latency_p50_ms > 0


# --- TensorRT ---------------------------------------------------------------------------------------


def test_tensorrt_unavailable_error_before_any_export(tmp_path):
    from edgespace.runners.tensorrt import TensorRTRunner, tensorrt_unavailable_reason

    reason = tensorrt_unavailable_reason()
    if reason is None:
        pytest.skip("TensorRT and a CUDA device are present here")
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert reason.startswith("tensorrt not importable; ")
        assert "edgespace export -> trtexec -> edgespace calibrate --from" in reason
    assert not TensorRTRunner.is_available()
    with pytest.raises(UnavailableError, match="backend='tensorrt' is unavailable: ") as info:
        confirm(TINY, backend="tensorrt", precision="int8", cache_dir=tmp_path)
    assert reason in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing was exported for a backend that cannot run
    with pytest.raises(
        SpecError, match=r"confirm\(precision='bf16'\) is not allowed for backend 'tensorrt'; allowed: fp32, fp16, int8"
    ):
        confirm(TINY, backend="tensorrt", precision="bf16")


def test_tensorrt_layer_times_map_to_layer_rows():
    """IProfiler reports (layer name, ms) once per layer per run; the names are TensorRT's fused
    layer names, as in trtexec's profile (the fixture), and map to layer-table rows."""
    from edgespace.calibration import map_nodes
    from edgespace.runners.tensorrt import LayerTimeRecorder

    layers = [row["name"] for row in json.loads((DATA / "trtexec_profile_mnv3s_w035_r64.json").read_text())[1:]]
    rec = LayerTimeRecorder()
    for run in range(3):
        for i, name in enumerate(layers):
            rec.report_layer_time(name, 0.01 * (i % 7 + 1) * (1 + run))  # run 1 is the median
    prof = rec.node_profile()
    assert prof.runs == 3 and [n.name for n in prof.nodes] == layers
    assert prof.nodes[3].time_us == pytest.approx(0.01 * 4 * 2 * 1e3)
    table = es.layer_table(TINY)
    mapped = map_nodes(list(prof.nodes), table)
    conv_rows = set(np.flatnonzero(table["op"].isin(CONV_OPS).to_numpy()))
    assert conv_rows <= {i for r in mapped["rows"] for i in r}
    with pytest.raises(Exception, match="no layer times"):
        LayerTimeRecorder().node_profile()


def test_tensorrt_calibration_batches_and_engine_cache_key(tmp_path):
    from edgespace._precision import calibration_images
    from edgespace.runners.tensorrt import calibration_batches, engine_cache_path, onnx_digest

    images = calibration_images(None, 64, count=5)  # the same images ONNX Runtime calibrates on
    batches = calibration_batches(images, 2)
    assert len(batches) == 3 and all(b.shape == (2, 3, 64, 64) and b.flags.c_contiguous for b in batches)
    assert (batches[2][1] == images[0]).all() and (batches[1][0] == images[2]).all()
    with pytest.raises(SpecError, match="calibration images must be"):
        calibration_batches(images[:, :2], 2)
    onnx = tmp_path / "mobilenetv3_small_w0.35_d1_r64_abc.onnx"
    onnx.write_bytes(b"an onnx file")
    key = "NVIDIA H200-sm90-trt10.13"
    a = engine_cache_path(onnx, "fp16", 1, key, cache_dir=tmp_path)
    assert a == engine_cache_path(onnx, "fp16", 1, key, cache_dir=tmp_path)
    others = {
        engine_cache_path(onnx, "fp32", 1, key, cache_dir=tmp_path),
        engine_cache_path(onnx, "fp16", 32, key, cache_dir=tmp_path),
        engine_cache_path(onnx, "fp16", 1, "Orin-sm87-trt10.3", cache_dir=tmp_path),
        engine_cache_path(onnx, "int8", 1, key, calibration_digest="d1", cache_dir=tmp_path),
        engine_cache_path(onnx, "int8", 1, key, calibration_digest="d2", cache_dir=tmp_path),
    }
    assert len(others) == 5 and a not in others
    digest = onnx_digest(onnx)
    assert a.name == f"mobilenetv3-small-w0.35-d1-r64-abc_{digest}_fp16_b1_nvidia-h200-sm90-trt10.13.engine"


def test_inductor_cache_goes_to_the_edgespace_cache(monkeypatch, tmp_path):
    from edgespace.runners.torch_cuda import _inductor_cache

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("EDGESPACE_CACHE_DIR", str(tmp_path))
    assert _inductor_cache() == str(tmp_path / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert _inductor_cache() == str(tmp_path / "mine")  # the user's choice wins


def test_tensorrt_builds_from_the_cached_fp32_onnx_file(tmp_path):
    """TensorRT's input is the batch-1 fp32 export (dynamic batch), whatever the precision and
    batch asked for: its builder makes the fp16/int8 engine. Exported for real here."""
    from edgespace.runners._export import cached_onnx_path
    from edgespace.runners.tensorrt import TensorRTRunner

    path, notes = TensorRTRunner().prepare_input(dataclasses.replace(TINY, batch=4), "int8", cache_dir=tmp_path)
    assert Path(path) == cached_onnx_path(TINY, tmp_path) and Path(path).is_file()
    assert notes[-1] == "TensorRT builds the int8 engine from the fp32 ONNX file"


class _ConstantPowerMeter:
    """A device drawing exactly 10 W: its cumulative counter is 10 W × elapsed time (mJ)."""

    name = "constant-10w"
    domain = "gpu-board"

    def __new__(cls):
        from edgespace.meters import PowerMeter

        class Meter(PowerMeter):
            name, domain = cls.name, cls.domain

            @classmethod
            def unavailable_reason(cls, **probe) -> str | None:
                return None

            def _read_mj(self) -> float:
                return time.perf_counter() * 10.0 * 1e3

        return Meter()


def test_energy_window_counts_only_the_timed_calls_and_idle_is_apart():
    from edgespace.runners._gpu_window import timed_and_metered

    notes: list = []
    fields = timed_and_metered(
        _sleeper(0.005),
        WallTimer(),
        _ConstantPowerMeter(),
        batch=4,
        warmup=40,
        runs=10,
        duration_s=None,
        rounds=2,
        idle_s=0.1,
        energy_min_s=0.2,
        notes=notes,
    )
    assert fields["idle_power_w"] == pytest.approx(10.0, rel=0.05)
    assert fields["energy_window_s"] >= 0.2 and fields["avg_power_w"] == pytest.approx(10.0, rel=0.05)
    images = fields["runs"] * 4
    # 10 W over the timed window only: the 40 warm-up calls (~0.2 s) are not in it
    assert fields["energy_mj"] == pytest.approx(10.0 * fields["energy_window_s"] * 1e3 / images, rel=1e-3)
    assert fields["energy_window_mj"] == pytest.approx(10.0 * fields["energy_window_s"] * 1e3, rel=0.01)
    assert fields["energy_window_s"] < 0.2 + 0.2  # warm-up excluded: the window is the timed rounds
    assert fields["energy_above_idle_mj"] == pytest.approx(0.0, abs=0.05 * fields["energy_mj"])
    assert fields["meter_domain"] == "gpu-board" and fields["telemetry_series"] == ()
    assert "reads energy only" in fields["telemetry_unavailable_reason"] and notes == []
