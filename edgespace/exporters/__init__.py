"""Deployable files for a spec, with the preprocessing in the graph: one exporter per format.

Each format is one module registered here by name (``onnx``, ``litert``, ``executorch``,
``coreml``). Every exported model takes the camera's frame as its runtime expects it (uint8 RGB
values 0–255; NCHW, or NHWC for LiteRT) and scales, normalises and reorders it in the graph, as
:func:`edgespace.export_onnx` does. int8 goes through each toolchain's own quantizer, calibrated
on the same images as ONNX Runtime's int8 (:func:`edgespace._precision.calibration_images`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgespace._errors import SpecError
from edgespace._spec import ArchSpec

__all__ = [
    "Exporter",
    "register_exporter",
    "get_exporter",
    "list_formats",
    "export",
    "cached_phone_model",
    "cached_phone_models",
    "coverage",
    "list_coverage_runtimes",
    "COVERAGE_COLUMNS",
]


@dataclass(frozen=True)
class Exporter:
    """One output format: its file suffix, input layout, precisions, and the function writing it.

    ``fn(spec, path, precision, calibration_data, checkpoint)`` writes the file and returns its path.
    """

    name: str
    suffix: str
    layout: str
    precisions: tuple[str, ...]
    fn: Callable[..., Path]
    note: str = ""


_REGISTRY: dict[str, Exporter] = {}
_BUILTIN = ("onnx", "executorch", "litert", "coreml")


def register_exporter(exporter: Exporter) -> Exporter:
    """Add (or replace) the exporter for ``exporter.name``."""
    _REGISTRY[exporter.name] = exporter
    return exporter


def _load_builtins() -> None:
    if all(name in _REGISTRY for name in _BUILTIN):
        return
    from edgespace.exporters import _coreml, _executorch, _litert, _onnx  # noqa: F401 - they register themselves


def list_formats() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_exporter(fmt: str) -> Exporter:
    _load_builtins()
    if fmt not in _REGISTRY:
        raise SpecError(f"export(format={fmt!r}) is not a known format; allowed: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[fmt]


def export(
    spec: ArchSpec,
    path: str | os.PathLike,
    format: str = "onnx",
    precision: str | None = None,
    *,
    calibration_data=None,
    checkpoint: str | os.PathLike | None = None,
) -> Path:
    """Write ``spec`` as a deployable ``format`` file at ``path`` and return its path.

    ``precision`` defaults to ``spec.precision``; each format accepts the precisions its
    toolchain produces (see :func:`get_exporter`). ``calibration_data`` (int8 only): an image
    folder, a uint8 array, or ``None`` for the seeded generated images ONNX Runtime's int8 uses.
    ``checkpoint``: a local state-dict file for the weights (as :func:`edgespace.build`); without
    it the weights are timm's random initialisation.
    """
    if not isinstance(spec, ArchSpec):
        raise SpecError(f"export() takes an ArchSpec, got {type(spec).__name__}")
    exporter = get_exporter(format)
    precision = spec.precision if precision is None else precision
    if precision not in exporter.precisions:
        raise SpecError(
            f"export(format={format!r}, precision={precision!r}) is not supported; "
            f"{format} exports {', '.join(exporter.precisions)}{' (' + exporter.note + ')' if exporter.note else ''}"
        )
    out = Path(path)
    if out.suffix != exporter.suffix:
        raise SpecError(f"export(path={str(out)!r}, format={format!r}): a {format} file must end in {exporter.suffix}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return exporter.fn(spec, out, precision, calibration_data, None if checkpoint is None else Path(checkpoint))


def preprocessed_module(spec: ArchSpec, layout: str, checkpoint=None):
    """The real timm module for ``spec`` behind the uint8-frame preprocessing wrapper, and an example input."""
    import torch

    from edgespace._build import _Preprocess, build
    from edgespace.archs import get_family

    family = get_family(spec.family)
    wrapped = _Preprocess.wrap(build(spec, checkpoint=checkpoint), family.mean, family.std, layout)
    r = spec.resolution
    shape = (1, 3, r, r) if layout == "nchw" else (1, r, r, 3)
    example = torch.randint(0, 256, shape, dtype=torch.int32).to(torch.uint8)
    return wrapped, example


def calibration_frames(spec: ArchSpec, layout: str, calibration_data=None):
    """uint8 frames (one per calibration step) in ``layout``: the images ONNX Runtime's int8 uses."""
    from edgespace._precision import calibration_images

    images = calibration_images(calibration_data, spec.resolution)  # [N, 3, R, R] uint8
    return images.transpose(0, 2, 3, 1).copy() if layout == "nhwc" else images


# cached phone files and operator coverage use the exporters above (their heavy imports are inside functions)
from edgespace.exporters._cached import cached_phone_model, cached_phone_models  # noqa: E402
from edgespace.exporters._coverage import COVERAGE_COLUMNS, coverage, list_coverage_runtimes  # noqa: E402
