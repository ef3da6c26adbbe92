"""Runners: real networks on real backends, measured (ONNX Runtime here; others register by name).

>>> from edgespace.runners import confirm
>>> m = confirm(ArchSpec("mobilenetv3_small", 0.35, resolution=96), threads=1, runs=50)
>>> m.latency_p50_ms, m.energy_mj, m.energy_unavailable_reason
"""

from __future__ import annotations

from edgespace.runners._confirm import confirm, prepare_onnx
from edgespace.runners._export import cached_onnx_path, export_many
from edgespace.runners._precision import Fp16UnavailableError, calibration_images, fp16_supported
from edgespace.runners.common import Measurement, Runner, get_runner, list_runners, register_runner
from edgespace.runners.ort import OnnxRuntimeRunner

__all__ = ["Fp16UnavailableError", "Measurement", "OnnxRuntimeRunner", "Runner", "cached_onnx_path",
           "calibration_images", "confirm", "export_many", "fp16_supported", "get_runner", "list_runners",
           "prepare_onnx", "register_runner"]  # fmt: skip
