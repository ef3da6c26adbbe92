"""ONNX: the existing export (uint8 NCHW frame in), int8 through ONNX Runtime's static quantizer."""

from __future__ import annotations

from pathlib import Path

from edgespace.exporters import Exporter, calibration_frames, register_exporter


def _export(spec, path: Path, precision: str, calibration_data, checkpoint) -> Path:
    from edgespace._build import export_onnx

    fp32 = path if precision == "fp32" else path.with_suffix(".fp32.onnx")
    export_onnx(spec, fp32, checkpoint=checkpoint)
    if precision == "fp32":
        return path
    from edgespace._precision import quantize_int8

    path.unlink(missing_ok=True)  # the quantizer reuses an existing output file
    try:
        quantize_int8(fp32, calibration_frames(spec, "nchw", calibration_data), path)
    finally:
        fp32.unlink(missing_ok=True)
    return path


register_exporter(
    Exporter("onnx", ".onnx", "nchw", ("fp32", "int8"), _export, "fp16 is converted per provider by confirm()")
)
