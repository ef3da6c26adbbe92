"""ExecuTorch (.pte): torch.export, lowered through the XNNPACK partitioner; int8 by PT2E with the
XNNPACK quantizer (symmetric, per-channel weights, static activations)."""

from __future__ import annotations

from pathlib import Path

from edgespace._errors import UnavailableError
from edgespace.exporters import Exporter, calibration_frames, preprocessed_module, register_exporter


def _require():
    try:
        import executorch  # noqa: F401
    except ImportError as exc:
        raise UnavailableError(
            f"ExecuTorch export needs the executorch package (pip install 'edgespace[phone]'): {exc}"
        ) from None


def quantize_pt2e(wrapped, example, frames, quantizer):
    """PT2E int8: prepare with ``quantizer``, run the calibration frames, convert."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    graph = torch.export.export(wrapped, (example,)).module()
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for frame in frames:
            prepared(torch.from_numpy(frame[None]))
    return convert_pt2e(prepared)


def exported_program(spec, precision: str, calibration_data=None, checkpoint=None):
    """``torch.export`` of the preprocessed module (PT2E-quantized with the XNNPACK quantizer at int8)."""
    _require()
    import torch

    wrapped, example = preprocessed_module(spec, "nchw", checkpoint)
    if precision == "int8":
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )

        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        wrapped = quantize_pt2e(wrapped, example, calibration_frames(spec, "nchw", calibration_data), quantizer)
    with torch.no_grad():
        return torch.export.export(wrapped, (example,))


def lowered_program(spec, precision: str, calibration_data=None, checkpoint=None):
    """The edge program lowered to XNNPACK (before serialisation), for export and coverage."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = exported_program(spec, precision, calibration_data, checkpoint)
    return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])


def _export(spec, path: Path, precision: str, calibration_data, checkpoint) -> Path:
    edge = lowered_program(spec, precision, calibration_data, checkpoint)
    path.write_bytes(edge.to_executorch().buffer)
    return path


register_exporter(Exporter("executorch", ".pte", "nchw", ("fp32", "int8"), _export, "XNNPACK delegate"))
