"""Calibration: per-node profiler times mapped to layer-table rows, a per-operator latency model
fitted to them, and readers for profiles captured on other devices (ONNX Runtime, TensorRT,
LiteRT's benchmark_model, ExecuTorch's ETDump).

>>> from edgespace.calibration import calibrate
>>> from edgespace.cost import load_calibration
>>> cal = calibrate("host", measurements)      # Measurements from edgespace.runners, profiled
>>> cal.save("host-1t.json"); load_calibration("host-1t.json").predict_latency_ms(spec)
"""

from __future__ import annotations

from edgespace._errors import IngestError
from edgespace.calibration._calibrate import FORMAT, Calibration, CalibrationError, latency_errors
from edgespace.calibration._calibration_file import calibration_from_doc
from edgespace.calibration._captures import CaptureSet, read_capture_set, write_capture_set
from edgespace.calibration._draw import DEFAULT_FAMILIES, draw_specs
from edgespace.calibration._fitting import calibrate
from edgespace.calibration._gpu import GPU_FORMAT, GpuCalibration
from edgespace.calibration._gpu_file import gpu_calibration_from_doc, load_gpu_calibration
from edgespace.calibration._ingest import read_trtexec_profile, read_trtexec_times
from edgespace.calibration._loop import (
    calibrate_from_captures,
    default_calibration_path,
    run_calibration,
    run_gpu_calibration,
)
from edgespace.calibration._mapping import map_nodes
from edgespace.calibration._mode_tag import tag_mode
from edgespace.calibration._op_order import map_ordered_ops
from edgespace.calibration._phone_captures import PHONE_RUNTIMES
from edgespace.cost import register_calibration_format

__all__ = [
    # fit, load, apply
    "Calibration",
    "GpuCalibration",
    "CalibrationError",
    "IngestError",
    "calibrate",
    "load_gpu_calibration",
    "latency_errors",
    # the measuring loops (what `edgespace calibrate` runs)
    "run_calibration",
    "calibrate_from_captures",
    "run_gpu_calibration",
    "default_calibration_path",
    "draw_specs",
    "DEFAULT_FAMILIES",
    # capture sets and profiles taken on other devices
    "CaptureSet",
    "read_capture_set",
    "write_capture_set",
    "read_trtexec_profile",
    "read_trtexec_times",
    "map_nodes",
    "map_ordered_ops",
    "PHONE_RUNTIMES",
    "tag_mode",
]

register_calibration_format(FORMAT, calibration_from_doc)
register_calibration_format(GPU_FORMAT, gpu_calibration_from_doc)
