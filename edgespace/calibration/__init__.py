"""Calibration: per-node profiler times mapped to layer-table rows, a per-operator latency model
fitted to them, and readers for profiles captured on other devices (ONNX Runtime, TensorRT).

>>> from edgespace.calibration import calibrate
>>> from edgespace.cost import load_calibration
>>> cal = calibrate("host", measurements)      # Measurements from edgespace.runners, profiled
>>> cal.save("host-1t.json"); load_calibration("host-1t.json").predict_latency_ms(spec)
"""

from __future__ import annotations

from edgespace._errors import IngestError
from edgespace._lazy import lazy_getattr
from edgespace.calibration._calibrate import (
    FORMAT,
    CalibratedProfile,
    Calibration,
    CalibrationError,
    calibrate,
    calibration_from_doc,
    latency_errors,
)
from edgespace.calibration._captures import CaptureSet, read_capture_set, write_capture_set
from edgespace.calibration._draw import DEFAULT_FAMILIES, draw_specs
from edgespace.calibration._gpu import GPU_FORMAT, GpuCalibration, gpu_calibration_from_doc, load_gpu_calibration
from edgespace.calibration._ingest import read_trtexec_profile, read_trtexec_times
from edgespace.calibration._loop import (
    calibrate_from_captures,
    default_calibration_path,
    run_calibration,
    run_gpu_calibration,
)
from edgespace.calibration._mapping import map_nodes
from edgespace.calibration._mode_tag import tag_mode
from edgespace.cost import register_calibration_format

__all__ = [
    # fit, load, apply
    "Calibration",
    "CalibratedProfile",
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
    "tag_mode",
]

register_calibration_format(FORMAT, calibration_from_doc)
register_calibration_format(GPU_FORMAT, gpu_calibration_from_doc)

#: Internals this package exported before 0.2 (issue 17): importable for one release, with a
#: DeprecationWarning naming their home.
_MOVED = {
    "APPLIES_KEYS": ("edgespace.calibration._calibrate", "APPLIES_KEYS"),
    "FORMAT": ("edgespace.calibration._calibrate", "FORMAT"),
    "training_samples": ("edgespace.calibration._calibrate", "training_samples"),
    "CAPTURE_FORMAT": ("edgespace.calibration._captures", "CAPTURE_FORMAT"),
    "DEFAULT_RANGES": ("edgespace.calibration._draw", "DEFAULT_RANGES"),
    "INPUT_SEGMENT": ("edgespace.calibration._mapping", "INPUT_SEGMENT"),
    "module_path": ("edgespace.calibration._mapping", "module_path"),
    "segment_ids": ("edgespace.calibration._mapping", "segment_ids"),
    "segment_times": ("edgespace.calibration._mapping", "segment_times"),
    "FEATURES": ("edgespace.calibration._model", "FEATURES"),
    "SegmentLatencyModel": ("edgespace.calibration._model", "SegmentLatencyModel"),
    "segment_features": ("edgespace.calibration._model", "segment_features"),
    "MIN_METERED_NETWORKS": ("edgespace.calibration._power", "MIN_METERED_NETWORKS"),
    "PowerModel": ("edgespace.calibration._power", "PowerModel"),
    "fit_power_model": ("edgespace.calibration._power", "fit_power_model"),
    "power_features": ("edgespace.calibration._power", "power_features"),
}

__getattr__ = lazy_getattr("edgespace.calibration", {}, _MOVED, globals())
