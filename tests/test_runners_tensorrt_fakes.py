"""The TensorRT runner where TensorRT cannot be installed: a fake ``tensorrt`` module that keeps the
API's contract (builder, config flags, engine, execution context, profiler) and a fake CUDA side,
driving the real runner code; plus the real ONNX Runtime quantization TensorRT 10 builds from."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from edgespace import ArchSpec
from edgespace.meters import NullMeter
from edgespace.runners import TimingPlan

TINY = ArchSpec("mobilenetv3_small", 0.35, resolution=64)
_ptr = itertools.count(1 << 20)


# --- fake CUDA ------------------------------------------------------------------------------------


class FakeStream:
    handles = itertools.count(100)

    def __init__(self, device=None, handle=None) -> None:
        self.device = device
        self.cuda_stream = next(self.handles) if handle is None else handle

    def wait_stream(self, other) -> None:
        pass

    def synchronize(self) -> None:
        pass


class FakeTensor:
    def __init__(self, dims, dtype=None) -> None:
        self.dims, self.dtype, self.ptr = tuple(dims), dtype, next(_ptr)

    def to(self, dtype):
        return FakeTensor(self.dims, dtype)

    def data_ptr(self) -> int:
        return self.ptr


def fake_torch(events: list, current: list):
    default = FakeStream(handle=0)  # the legacy default stream

    class Event:
        def __init__(self, enable_timing=False) -> None:
            self.stream, self.n = None, len(events)
            events.append(self)

        def record(self, stream=None) -> None:
            self.stream = stream

        def elapsed_time(self, end) -> float:
            return 0.25

    @contextlib.contextmanager
    def device_ctx(dev):
        current.append(dev)
        yield
        current.pop()

    cuda = types.SimpleNamespace(
        Stream=lambda dev=None: FakeStream(dev),
        current_stream=lambda dev=None: default,
        Event=Event,
        synchronize=lambda dev=None: None,
        get_device_name=lambda dev=None: "Fake GPU",
        get_device_capability=lambda dev=None: (9, 0),
        device=device_ctx,
    )
    mod = types.SimpleNamespace(
        cuda=cuda,
        device=lambda d: types.SimpleNamespace(type="cuda", index=1 if str(d).endswith(":1") else 0, name=str(d)),
        randint=lambda lo, hi, dims, device=None: FakeTensor(dims),
        empty=lambda dims, dtype=None, device=None: FakeTensor(dims, dtype),
        default_stream=default,
    )
    for name in ("float32", "float16", "int32", "int8", "uint8", "bfloat16"):
        setattr(mod, name, f"torch.{name}")
    return mod


# --- fake TensorRT --------------------------------------------------------------------------------


def fake_tensorrt(version: str, log: dict):
    trt = types.SimpleNamespace(__version__=version)
    for name in ("float32", "float16", "int32", "int8", "uint8", "bfloat16"):
        setattr(trt, name, f"trt.{name}")
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, sev=None: None})
    trt.BuilderFlag = types.SimpleNamespace(FP16="FP16", INT8="INT8")
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(EXPLICIT_BATCH=0)
    trt.ProfilingVerbosity = types.SimpleNamespace(DETAILED="DETAILED")
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")

    class IInt8EntropyCalibrator2:
        def __init__(self) -> None:
            pass

    class IProfiler:
        def __init__(self) -> None:
            pass

    trt.IInt8EntropyCalibrator2, trt.IProfiler = IInt8EntropyCalibrator2, IProfiler

    class Config:
        def __init__(self) -> None:
            self.flags, self.int8_calibrator, self.calibration_profile = [], None, None
            log["config"] = self

        def set_flag(self, flag) -> None:
            self.flags.append(flag)

        def add_optimization_profile(self, profile) -> None:
            pass

        def set_calibration_profile(self, profile) -> None:
            self.calibration_profile = profile

    class Network:
        def get_input(self, i):
            return types.SimpleNamespace(name="image")

    class Builder:
        def __init__(self, logger) -> None:
            pass

        def create_network(self, flags):
            return Network()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return types.SimpleNamespace(set_shape=lambda *a: None)

        def build_serialized_network(self, network, config):
            return b"plan"

    class OnnxParser:
        def __init__(self, network, logger) -> None:
            pass

        def parse(self, data) -> bool:
            log["parsed"] = data
            return True

    class Context:
        def __init__(self) -> None:
            self.profiler = None

        def set_input_shape(self, name, shape) -> None:
            self.shape = shape

        def set_tensor_address(self, name, ptr) -> None:
            pass

        def get_tensor_shape(self, name):
            return (self.shape[0], 1000)

        def execute_async_v3(self, stream_handle) -> bool:
            log.setdefault("execute", []).append((stream_handle, log["current"][-1] if log["current"] else None))
            if self.profiler is not None:
                self.profiler.report_layer_time("/features/conv", 0.01)
            return True

    class Engine:
        num_io_tensors = 2
        device_memory_size_v2 = 4096

        def get_tensor_name(self, i):
            return ("image", "logits")[i]

        def get_tensor_mode(self, name):
            return "INPUT" if name == "image" else "OUTPUT"

        def get_tensor_dtype(self, name):
            return trt.uint8 if name == "image" else trt.float32

        def create_execution_context(self):
            return Context()

    trt.Builder, trt.OnnxParser = Builder, OnnxParser
    trt.Runtime = type(
        "Runtime", (), {"__init__": lambda self, lg: None, "deserialize_cuda_engine": lambda self, p: Engine()}
    )
    return trt


@pytest.fixture
def fakes(monkeypatch):
    events: list = []
    log: dict = {"current": []}

    def install(version: str):
        monkeypatch.setitem(sys.modules, "torch", fake_torch(events, log["current"]))
        monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt(version, log))
        return events, log

    return install


def _onnx(tmp_path, name="model.onnx", content=b"graph-a") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_tensorrt_runs_on_a_created_stream_shared_with_its_events(fakes, tmp_path):
    from edgespace.runners.tensorrt import TensorRTRunner

    events, log = fakes("10.3.0")
    m = TensorRTRunner(device="cuda:1", cache_dir=tmp_path / "engines").measure(
        _onnx(tmp_path),
        TINY,
        precision="fp16",
        batch=4,
        timing=TimingPlan(warmup=2, runs=10, rounds=2, profile_runs=3),
        meter=NullMeter("none"),
        idle_s=0.0,
    )
    handles = {h for h, _ in log["execute"]}
    assert handles and 0 not in handles  # never the legacy default stream
    assert len(handles) == 1  # the timed and the profiled contexts share the created stream
    (handle,) = handles
    timed = [e for e in events if e.stream is not None]
    assert timed and all(e.stream.cuda_stream == handle for e in timed)  # the events are on that stream
    assert {str(dev.name) for _, dev in log["execute"]} == {"cuda:1"}  # with the runner's device current
    assert m.clean_process is False and m.batch == 4 and m.latency_p50_ms == pytest.approx(0.25)
    assert m.node_profile is not None and m.node_profile.runs == 3


def test_engine_cache_is_keyed_by_the_onnx_content(tmp_path):
    from edgespace.runners.tensorrt import engine_cache_path

    key = "Fake GPU-sm90-trt10.3.0"
    a = _onnx(tmp_path / "user1", content=b"network one")
    b = _onnx(tmp_path / "user2", content=b"network two")  # the same name: every user model= is model.onnx
    same = _onnx(tmp_path / "elsewhere", name="renamed.onnx", content=b"network one")
    pa, pb = (engine_cache_path(p, "fp16", 1, key, cache_dir=tmp_path) for p in (a, b))
    assert pa != pb
    digest = lambda p: engine_cache_path(p, "fp16", 1, key, cache_dir=tmp_path).name.split("_")[1]  # noqa: E731
    assert digest(a) == digest(same) and digest(a) != digest(b)


def test_tensorrt_10_int8_is_explicit_quantization_and_older_calibrates(fakes, tmp_path):
    from edgespace._precision import calibration_images
    from edgespace.runners._trt_build import build_engine

    images = calibration_images(None, 64, count=4)
    onnx = _onnx(tmp_path)
    _, log = fakes("10.3.0")
    build_engine(onnx, "int8", 1, 64, images=images, engine_path=tmp_path / "ten.engine")
    config = log["config"]
    assert config.int8_calibrator is None and config.calibration_profile is None  # the Q/DQ scales rule
    assert "INT8" in config.flags and "FP16" in config.flags
    _, log = fakes("8.6.1")
    build_engine(onnx, "int8", 1, 64, images=images, engine_path=tmp_path / "eight.engine")
    assert log["config"].int8_calibrator is not None and log["config"].calibration_profile is not None


def test_tensorrt_10_int8_builds_from_a_symmetric_qdq_network(fakes, tmp_path):
    """Exported and quantized for real here (ONNX Runtime); only TensorRT and CUDA are fakes."""
    import onnx

    from edgespace.runners.tensorrt import TensorRTRunner

    runner = TensorRTRunner(device="cuda", cache_dir=tmp_path / "engines")
    fp32, _ = runner.prepare_input(TINY, "int8", cache_dir=tmp_path)  # before the fakes: a real export
    _, log = fakes("10.3.0")
    m = runner.measure(
        fp32,
        TINY,
        precision="int8",
        timing=TimingPlan(warmup=1, runs=4, rounds=2, profile=False),
        meter=NullMeter("none"),
        idle_s=0.0,
    )
    assert "explicit quantization" in " ".join(m.notes)
    qdq = onnx.load_from_string(log["parsed"])
    zero_points = [t for t in qdq.graph.initializer if t.name.endswith("zero_point")]
    assert zero_points and all(not np.any(onnx.numpy_helper.to_array(t)) for t in zero_points)  # symmetric
    kinds = {onnx.numpy_helper.to_array(t).dtype for t in zero_points}
    assert np.dtype(np.int8) in kinds and np.dtype(np.uint8) not in kinds  # int8 activations (int32: biases)
    assert dataclasses.replace(TINY, batch=1) == m.spec
