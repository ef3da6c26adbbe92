"""Runners: real networks on real backends, measured: ONNX Runtime (CPU), the phone runtimes
``litert`` and ``executorch`` (XNNPACK on this CPU), ``torch-cuda`` (the timm module on an NVIDIA
GPU) and ``tensorrt`` (where its Python package imports); others register by name.

>>> from edgespace.runners import confirm
>>> m = confirm(ArchSpec("mobilenetv3_small", 0.35, resolution=96), threads=1, runs=50)
>>> m.latency_p50_ms, m.energy_mj, m.energy_unavailable_reason
"""

from __future__ import annotations

from edgespace._precision import Fp16UnavailableError, calibration_images
from edgespace.runners._confirm import confirm, prepare_onnx
from edgespace.runners._export import export_many
from edgespace.runners._gpu_window import settled_idle_power
from edgespace.runners._interleaved import REFERENCE_SPEC, measure_interleaved
from edgespace.runners._ort_profile import NodeProfile, NodeTime, read_ort_profile
from edgespace.runners._phone_interleaved import measure_phone_interleaved
from edgespace.runners._phone_profile import read_benchmark_model, read_etdump
from edgespace.runners._timing import TimingPlan
from edgespace.runners.common import (
    Measurement,
    Runner,
    calibration_latency_ms,
    get_runner,
    list_runners,
    register_runner,
)
from edgespace.runners.ort import OnnxRuntimeRunner
from edgespace.runners.phone import ExecuTorchRunner, LiteRTRunner
from edgespace.runners.tensorrt import TensorRTRunner
from edgespace.runners.torch_cuda import CudaMeasurement, TorchCudaRunner

__all__ = [
    "CudaMeasurement",
    "ExecuTorchRunner",
    "LiteRTRunner",
    "NodeProfile",
    "NodeTime",
    "REFERENCE_SPEC",
    "Fp16UnavailableError",
    "Measurement",
    "OnnxRuntimeRunner",
    "Runner",
    "TensorRTRunner",
    "TimingPlan",
    "TorchCudaRunner",
    "calibration_images",
    "calibration_latency_ms",
    "confirm",
    "export_many",
    "measure_interleaved",
    "measure_phone_interleaved",
    "prepare_onnx",
    "read_ort_profile",
    "read_benchmark_model",
    "read_etdump",
    "get_runner",
    "list_runners",
    "register_runner",
    "settled_idle_power",
]
