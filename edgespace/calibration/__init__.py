"""Calibration: per-node profiler times mapped to layer-table rows, a per-operator latency model
fitted to them, and readers for profiles captured on other devices (ONNX Runtime, TensorRT).

>>> from edgespace.calibration import calibrate, load_calibration
>>> cal = calibrate("host", measurements)      # Measurements from edgespace.runners, profiled
>>> cal.save("host-1t.json"); load_calibration("host-1t.json").predict_latency_ms(spec)
"""

from __future__ import annotations

from edgespace.calibration._calibrate import (
    APPLIES_KEYS,
    FORMAT,
    CalibratedProfile,
    Calibration,
    CalibrationBase,
    CalibrationError,
    as_calibration,
    calibrate,
    latency_errors,
    load_calibration,
    training_samples,
)
from edgespace.calibration._captures import CAPTURE_FORMAT, CaptureSet, read_capture_set, write_capture_set
from edgespace.calibration._draw import DEFAULT_FAMILIES, DEFAULT_RANGES, draw_specs
from edgespace.calibration._gpu import GpuCalibration, load_gpu_calibration
from edgespace.calibration._ingest import (
    IngestError,
    NodeProfile,
    read_ort_profile,
    read_trtexec_profile,
    read_trtexec_times,
)
from edgespace.calibration._mapping import INPUT_SEGMENT, NodeTime, map_nodes, module_path, segment_ids, segment_times
from edgespace.calibration._model import FEATURES, SegmentLatencyModel, segment_features
from edgespace.calibration._power import MIN_METERED_NETWORKS, PowerModel, fit_power_model, power_features

__all__ = [
    "APPLIES_KEYS", "Calibration", "CalibrationBase", "GpuCalibration", "load_gpu_calibration", "as_calibration", "MIN_METERED_NETWORKS", "PowerModel", "fit_power_model",
    "power_features",
    "CAPTURE_FORMAT", "CaptureSet", "read_capture_set", "write_capture_set",
    "CalibratedProfile", "CalibrationError", "DEFAULT_FAMILIES", "DEFAULT_RANGES", "FEATURES", "FORMAT",
    "INPUT_SEGMENT", "IngestError", "NodeProfile", "NodeTime", "SegmentLatencyModel", "calibrate", "draw_specs",
    "latency_errors", "load_calibration", "map_nodes", "module_path", "read_ort_profile", "read_trtexec_profile",
    "read_trtexec_times", "segment_features", "segment_ids", "segment_times", "training_samples",
]  # fmt: skip
