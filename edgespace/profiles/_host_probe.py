"""The probes behind the measured ``host`` profile: this CPU's model, clock and memory, and short
timed runs (numpy and ONNX Runtime matrix products, a memory copy, ONNX Runtime's per-call and
per-node overheads) that give its peaks and overheads."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from edgespace._timing import best_seconds

#: The host profile's measurements; nothing else uses them.
__all__ = [
    "_copy_bandwidth_gb_s",
    "_cpu_mhz",
    "_cpu_model",
    "_memory_bytes",
    "_numpy_fp32_gflops",
    "_ort_matmul_gops",
    "_ort_overheads_us",
    "_threads",
]


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _numpy_fp32_gflops(n: int = 512, repeats: int = 8) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    t = best_seconds(lambda: np.matmul(a, b, out=out), repeats, warmup=2)
    return 2 * n**3 / t / 1e9


def _ort_session(model, threads: int):
    from edgespace._ort_session import make_session

    # log severity 4: a missing fp16 kernel is an expected outcome of a probe, not a warning
    return make_session(model, threads, log_severity=4)


def _onnx_model(nodes, inputs, outputs, initializers=()):
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "edgespace_probe", inputs, outputs, list(initializers))
    # opset 13 and IR 8: old enough for every onnxruntime that edgespace supports
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _ort_matmul_gops(kind: str, threads: int, n: int = 512, repeats: int = 8) -> float | None:
    """GOP/s of an n×n×n GEMM in ONNX Runtime: ``int8`` (MatMulInteger), ``fp32``/``fp16`` (MatMul);
    None when the CPU execution provider has no kernel for it."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    if kind == "int8":
        a = rng.integers(0, 255, (n, n), dtype=np.uint8)
        b = rng.integers(-127, 127, (n, n), dtype=np.int8)
        node = helper.make_node("MatMulInteger", ["A", "B"], ["Y"])
        types_ = (TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32)
    elif kind == "fp32":
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        node = helper.make_node("MatMul", ["A", "B"], ["Y"])
        types_ = (TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT)
    elif kind == "fp16":
        a = rng.standard_normal((n, n)).astype(np.float16)
        b = rng.standard_normal((n, n)).astype(np.float16)
        node = helper.make_node("MatMul", ["A", "B"], ["Y"])
        types_ = (TensorProto.FLOAT16, TensorProto.FLOAT16, TensorProto.FLOAT16)
    else:
        raise ValueError(kind)
    model = _onnx_model(
        [node],
        [helper.make_tensor_value_info("A", types_[0], [n, n]), helper.make_tensor_value_info("B", types_[1], [n, n])],
        [helper.make_tensor_value_info("Y", types_[2], [n, n])],
    )
    try:
        sess = _ort_session(model, threads)
        feed = {"A": a, "B": b}
        sess.run(None, feed)
    except Exception:  # noqa: BLE001 - ORT raises its own exception types for a missing kernel
        return None
    t = best_seconds(lambda: sess.run(None, feed), repeats, warmup=1)
    return 2 * n**3 / t / 1e9


def _copy_bandwidth_gb_s(mib: int = 64, repeats: int = 6) -> float:
    src = np.ones(mib * 2**20 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    t = best_seconds(lambda: np.copyto(dst, src), repeats, warmup=1)
    return 2 * src.nbytes / t / 1e9  # read + write


def _ort_overheads_us(threads: int) -> tuple[float, float]:
    """(per-node dispatch µs, per-call µs) of ONNX Runtime on the CPU."""
    from onnx import TensorProto, helper

    def chain(k: int):
        nodes = [helper.make_node("Add", [f"x{i}", "one"], [f"x{i + 1}"]) for i in range(k)]
        one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
        model = _onnx_model(
            nodes,
            [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info(f"x{k}", TensorProto.FLOAT, [1])],
            [one],
        )
        return _ort_session(model, threads)

    x = {"x0": np.zeros(1, dtype=np.float32)}

    def median_call_s(sess, calls: int) -> float:
        for _ in range(20):
            sess.run(None, x)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            sess.run(None, x)
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    single, long = chain(1), chain(64)
    t1 = median_call_s(single, 400)
    t64 = median_call_s(long, 200)
    per_node = max((t64 - t1) / 63, 0.0)
    return per_node * 1e6, t1 * 1e6


def _memory_bytes() -> tuple[float | None, float | None]:
    total = avail = None
    try:
        total = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        avail = float(info["MemAvailable"].split()[0]) * 1024
        total = float(info["MemTotal"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        pass
    return total, avail


def _cpu_mhz() -> float | None:
    paths = sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq"))
    try:
        if paths:
            return max(float(p.read_text()) for p in paths) / 1000
        mhz = [
            float(line.split(":")[1])
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("cpu MHz")
        ]
        return max(mhz) if mhz else None
    except (OSError, ValueError):
        return None
