"""``confirm(spec, ...)``: export (in a child process, cached), derive the precision, run, measure."""

from __future__ import annotations

import os
import sys

from edgespace._errors import SpecError, SpecTypeError
from edgespace._spec import PRECISIONS, ArchSpec
from edgespace.meters import get_meter
from edgespace.runners._timing import TimingPlan
from edgespace.runners.common import RUNNERS, Measurement, get_runner

__all__ = ["confirm", "prepare_onnx"]


def prepare_onnx(
    spec: ArchSpec,
    precision: str,
    *,
    provider: str = "CPUExecutionProvider",
    model=None,
    calibration_data=None,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[str, tuple[str, ...]]:
    """The ONNX file to run for ``spec`` at ``precision`` (and notes on how it was made)."""
    from edgespace._precision import calibration_images, convert_fp16, quantize_int8
    from edgespace.runners._export import export_many

    notes: list[str] = []
    if model is not None:
        # The caller's own module: torch is loaded in this process already, so export here.
        import tempfile

        from edgespace._build import export_onnx

        path = export_onnx(spec, os.path.join(tempfile.mkdtemp(prefix="edgespace-onnx-"), "model.onnx"), model=model)
        notes.append("exported in-process from the given model (torch threads may slow the timing)")
    else:
        path = export_many([spec], cache_dir)[0]
    if precision == "int8":
        images = calibration_images(calibration_data, spec.resolution)
        path = quantize_int8(path, images)
        src = "generated images" if calibration_data is None else f"{len(images)} calibration images"
        notes.append(f"int8: ONNX Runtime static quantization (QDQ, per-channel, MinMax) calibrated on {src}")
    elif precision == "fp16":
        path = convert_fp16(path, provider)
    return str(path), tuple(notes)


def confirm(
    spec: ArchSpec,
    backend: str = "onnxruntime",
    *,
    precision: str | None = None,
    threads: int | None = None,
    warmup: int = 10,
    runs: int | None = 100,
    duration_s: float | None = None,
    rounds: int = 5,
    model=None,
    calibration_data=None,
    profile: bool = True,
    profile_runs: int = 10,
    meter: str = "auto",
    provider: str = "CPUExecutionProvider",
    cache_dir: str | os.PathLike | None = None,
    batch: int | None = None,
    **runner_options,
) -> Measurement:
    """Run ``spec``'s real network and return what was measured (see :class:`Measurement`).

    ``precision`` defaults to the spec's: ``fp32``; ``int8`` (ONNX Runtime static QDQ
    quantization, calibrated on ``calibration_data``: an image folder, an array of images, or
    ``None`` for generated images); ``fp16`` where the provider computes in fp16 (otherwise
    :class:`~edgespace.UnavailableError`). Give either ``runs`` (count, in ``rounds`` rounds) or
    ``duration_s`` (a sustained run, with throughput over time). ``threads`` defaults to the
    machine's core count. The export runs in a child process and is cached, so this process
    never loads torch (unless ``model`` is given: it is exported here). Energy is measured only
    where a power meter exists (``meter``: ``auto``, ``none`` or a name from
    :data:`edgespace.meters.METERS`); otherwise ``energy_mj`` is None and
    ``energy_unavailable_reason`` says why.

    GPU backends: ``backend="torch-cuda"`` runs the timm module itself (no ONNX file;
    ``precision`` also ``bf16``; ``compile=False`` for unfused CUDA graphs, ``tf32=True`` to allow
    TF32 at fp32), ``backend="tensorrt"`` builds a TensorRT engine from the exported fp32 ONNX file
    (fp32/fp16/int8; int8 calibrated on ``calibration_data``). ``batch`` (default: the spec's)
    is images per call; their ``meter="auto"`` is NVML. Phone runtimes: ``backend="litert"`` and
    ``backend="executorch"`` export the spec with :func:`edgespace.export` (cached, in a child
    process) and run it with XNNPACK on this CPU at ``threads`` threads (fp32/int8). A backend that cannot run here raises
    :class:`~edgespace.UnavailableError` naming what is missing, before any export.
    """
    if not isinstance(spec, ArchSpec):
        raise SpecTypeError(f"confirm() takes an ArchSpec, got {type(spec).__name__}")
    precision = spec.precision if precision is None else precision
    allowed = getattr(RUNNERS.get(backend), "precisions", PRECISIONS)
    if precision not in allowed:
        raise SpecError(
            f"confirm(precision={precision!r}) is not allowed for backend {backend!r}; allowed: {', '.join(allowed)}"
        )
    if batch is not None:
        import dataclasses

        spec = dataclasses.replace(spec, batch=batch)  # validated by ArchSpec
    timing = TimingPlan(
        warmup=warmup, runs=runs, duration_s=duration_s, rounds=rounds, profile=profile, profile_runs=profile_runs
    )
    threads = threads if threads is not None else (os.cpu_count() or 1)
    if not isinstance(threads, int) or threads < 1:
        raise SpecError(f"confirm(threads={threads!r}): allowed: an integer >= 1")
    runner = get_runner(backend, provider=provider) if backend == "onnxruntime" else get_runner(backend)
    if not getattr(runner, "needs_onnx", True) or hasattr(runner, "prepare_input"):
        path, notes = (
            runner.prepare_input(spec, precision, model=model, calibration_data=calibration_data, cache_dir=cache_dir)
            if hasattr(runner, "prepare_input")
            else (None, ())
        )
        if getattr(runner, "takes_threads", False):
            runner_options["threads"] = threads
        auto = getattr(runner, "default_meter", "auto") if meter == "auto" else meter
        return runner.measure(
            path,
            spec,
            precision=precision,
            timing=timing,
            model=model,
            calibration_data=calibration_data,
            meter=get_meter(auto),
            notes=notes,
            **runner_options,
        )
    if runner_options:
        raise SpecError(
            f"confirm(): option(s) {', '.join(sorted(runner_options))} are not known to backend {backend!r}"
        )
    if spec.batch != 1:
        raise SpecError(
            f"confirm(batch={spec.batch}): backend {backend!r} runs one image per call; "
            "batches are measured with backend='torch-cuda' or 'tensorrt'"
        )
    path, notes = prepare_onnx(
        spec, precision, provider=provider, model=model, calibration_data=calibration_data, cache_dir=cache_dir
    )
    if "torch" in sys.modules:
        notes += ("torch is loaded in this process; its idle OpenMP threads can slow ORT timings",)
    return runner.measure(
        path,
        spec,
        precision=precision,
        threads=threads,
        timing=timing,
        meter=get_meter(meter, device="cpu"),  # a CPU run: a CPU-domain meter or none
        notes=notes,
    )
