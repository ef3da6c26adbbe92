"""Runners: real networks on real backends, measured: ONNX Runtime (CPU), the phone runtimes
``litert`` and ``executorch`` (XNNPACK on this CPU), ``torch-cuda`` (the timm module on an NVIDIA
GPU) and ``tensorrt`` (where its Python package imports); others register by name.

>>> from edgespace.runners import confirm
>>> m = confirm(ArchSpec("mobilenetv3_small", 0.35, resolution=96), threads=1, runs=50)
>>> m.latency_p50_ms, m.energy_mj, m.energy_unavailable_reason
"""

from __future__ import annotations

from edgespace._lazy import lazy_getattr
from edgespace.runners._confirm import confirm
from edgespace.runners._precision import Fp16UnavailableError
from edgespace.runners.common import (
    Measurement,
    Runner,
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
    "Fp16UnavailableError",
    "Measurement",
    "OnnxRuntimeRunner",
    "Runner",
    "TensorRTRunner",
    "TorchCudaRunner",
    "confirm",
    "get_runner",
    "list_runners",
    "register_runner",
]

#: Names that left this package's public surface in 0.2 (issue 17): still importable for one
#: release, with a DeprecationWarning naming their home. name -> (module, name there).
_MOVED = {
    "cached_onnx_path": ("edgespace.runners._export", "cached_onnx_path"),
    "calibration_images": ("edgespace.runners._precision", "calibration_images"),
    "export_many": ("edgespace.runners._export", "export_many"),
    "fp16_supported": ("edgespace.runners._precision", "fp16_supported"),
    "prepare_onnx": ("edgespace.runners._confirm", "prepare_onnx"),
}
__getattr__ = lazy_getattr("edgespace.runners", {}, _MOVED)
