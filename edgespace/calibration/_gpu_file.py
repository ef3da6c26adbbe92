"""The GPU calibration's file: read a file written by ``GpuCalibration.save`` (format
``edgespace-gpu-calibration/1``), or the same document from a study's store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from edgespace.calibration._calibrate import CalibrationError
from edgespace.calibration._gpu import GPU_FORMAT, GpuCalibration

__all__ = ["load_gpu_calibration", "gpu_calibration_from_doc"]


def load_gpu_calibration(path: str | os.PathLike) -> GpuCalibration:
    """Read a file written by :meth:`GpuCalibration.save`."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{p}: cannot be read as a GPU calibration file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != GPU_FORMAT:
        raise CalibrationError(f"{p}: not a GPU calibration file (format {GPU_FORMAT!r})")
    return gpu_calibration_from_doc(doc, p)


def gpu_calibration_from_doc(doc: dict, p) -> GpuCalibration:
    """The GPU calibration a :data:`GPU_FORMAT` document holds (``doc``, read from ``p``).
    Registered with the calibration door under :data:`GPU_FORMAT`."""
    cal = GpuCalibration(
        doc["profile"],
        doc["mode"],
        doc["provenance"],
        pd.DataFrame(doc["runs"]),
        {int(b): w for b, w in doc["latency_weights"].items()},
        {int(b): w for b, w in doc["energy_weights"].items()},
        doc.get("report", {}),
    )
    cal.check_stored_id(p, doc.get("id"))
    return cal
