"""``tensorrt``: an engine built from the exported ONNX file with the TensorRT Python API.

For machines where ``import tensorrt`` works (JetPack on Jetson ships it; NVIDIA's CUDA
containers too). The registry's ``tensorrt-cu12``/``-cu13`` packages are small stubs that fetch
the libraries from NVIDIA at install time, so where that cannot happen, the TensorRT
confirmation is the capture-set path: ``edgespace export`` → ``trtexec`` on the device →
``edgespace calibrate --from``.

The engine: the cached fp32 ONNX file (uint8 NCHW image input, preprocessing folded in, dynamic
batch) parsed by ``trt.OnnxParser``; an optimisation profile from batch 1 to ``batch`` (tuned for
``batch``); ``fp16`` sets ``BuilderFlag.FP16``; ``int8`` on TensorRT 10 and later is explicit
quantization: the engine is built (FP16 and INT8 flags, no calibrator) from a Q/DQ copy of the
ONNX file, quantized by ONNX Runtime's static quantization with symmetric int8 activations; before
TensorRT 10 it sets ``BuilderFlag.INT8`` (and FP16, for the layers TensorRT keeps out of int8) with
an ``IInt8EntropyCalibrator2``; both are fed the same calibration images as ONNX Runtime's static
quantization
(``calibration_images`` in ``edgespace/_precision.py``: a folder, an array, or generated images), its
scale cache next to the engine. Engines are cached under the cache directory, keyed by the
ONNX file (which is keyed by the spec), the precision, the batch, the device (GPU name and
compute capability) and the TensorRT version, plus the calibration images for int8.
``ProfilingVerbosity.DETAILED`` keeps the ONNX node names in the engine's layer names.

Timing: ``execute_async_v3`` on a CUDA stream created for the run (not the legacy default stream,
where TensorRT synchronises more), CUDA events recorded on that same stream around every call
(:func:`~edgespace.runners._gpu_window.timed_and_metered`: the same statistics, NVML energy and
telemetry as ``torch-cuda``). Per-layer times: a second execution context with an
``IProfiler`` (called once per layer for every ``execute_async_v3``), so the timed context
pays no profiling overhead; the medians become a
:class:`~edgespace.runners.NodeProfile` whose names map to layer-table rows through
:func:`~edgespace.calibration.map_nodes`, exactly as a ``trtexec --exportProfile`` file does.

API used (TensorRT 8.6 and 10.x Python docs): ``Builder.create_network``,
``Builder.create_builder_config``, ``Builder.create_optimization_profile`` /
``IOptimizationProfile.set_shape``, ``IBuilderConfig.set_flag`` / ``add_optimization_profile`` /
``int8_calibrator`` / ``set_calibration_profile`` / ``profiling_verbosity``,
``Builder.build_serialized_network``, ``Runtime.deserialize_cuda_engine``,
``ICudaEngine.num_io_tensors`` / ``get_tensor_name`` / ``get_tensor_mode`` /
``get_tensor_dtype``, ``IExecutionContext.set_input_shape`` / ``set_tensor_address`` /
``get_tensor_shape`` / ``execute_async_v3(stream_handle)`` / ``profiler``,
``IProfiler.report_layer_time(layer_name, ms)``, ``IInt8EntropyCalibrator2.get_batch_size`` /
``get_batch(names)`` / ``read_calibration_cache`` / ``write_calibration_cache(cache)``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import os
from pathlib import Path

import numpy as np

from edgespace._errors import SpecError
from edgespace._spec import ArchSpec
from edgespace.meters import PowerMeter, get_meter
from edgespace.runners._timing import DEFAULT_TIMING, TimingPlan
from edgespace.runners._trt_build import (
    TensorRTError,
    _device_key,
    _torch_dtype,
    build_engine,
    calibration_batches,
    engine_cache_path,
    explicit_quantization,
    onnx_digest,
)
from edgespace.runners.common import Measurement, Runner, register_runner

__all__ = [
    "TRT_PRECISIONS",
    "LayerTimeRecorder",
    "TensorRTError",
    "TensorRTRunner",
    "calibration_batches",
    "engine_cache_path",
    "explicit_quantization",
    "onnx_digest",
    "tensorrt_unavailable_reason",
]

TRT_PRECISIONS = ("fp32", "fp16", "int8")


def tensorrt_unavailable_reason() -> str | None:
    """Why the TensorRT runner cannot run here (None when it can). Never raises."""
    try:
        import tensorrt as trt
    except Exception as exc:  # noqa: BLE001 - ImportError, or a stub package that fails at import
        return (
            f"tensorrt not importable; {type(exc).__name__}: {exc}. TensorRT's Python package ships with "
            "JetPack and NVIDIA's CUDA containers (the registry's tensorrt-cu12/-cu13 stubs download it from "
            "NVIDIA at install time); without it, confirm on the device with the capture-set path: "
            "edgespace export -> trtexec -> edgespace calibrate --from"
        )
    from edgespace.runners.torch_cuda import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is not None:
        return (
            f"tensorrt {getattr(trt, '__version__', '?')} imports, but its buffers live in torch CUDA tensors: {reason}"
        )
    return None


class LayerTimeRecorder:
    """Collects ``report_layer_time(layer_name, ms)`` calls (TensorRT's ``IProfiler`` contract:
    one call per engine layer per inference) and summarises them as a
    :class:`~edgespace.runners.NodeProfile` of per-layer medians in first-seen order."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def report_layer_time(self, layer_name: str, ms: float) -> None:
        self.times.setdefault(str(layer_name), []).append(float(ms))

    def node_profile(self, source: str = "tensorrt IProfiler"):
        from edgespace.runners._ort_profile import NodeProfile, NodeTime

        if not self.times:
            raise TensorRTError("the TensorRT profiler reported no layer times")
        nodes = tuple(NodeTime(name, "", float(np.median(ms)) * 1e3) for name, ms in self.times.items())
        runs = max(len(ms) for ms in self.times.values())
        return NodeProfile(nodes, (), None, source, runs)


def _device_memory(engine) -> int | None:
    for attr in ("device_memory_size_v2", "device_memory_size"):  # v2 from TensorRT 10
        value = getattr(engine, attr, None)
        if value is not None:
            return int(value)
    return None


@register_runner
class TensorRTRunner(Runner):
    """A TensorRT engine from the exported ONNX file (see the module docstring)."""

    name = "tensorrt"
    precisions = TRT_PRECISIONS
    default_meter = "nvml"

    def __init__(self, device: str = "cuda", cache_dir: str | os.PathLike | None = None) -> None:
        self.device = device
        self.cache_dir = cache_dir

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return tensorrt_unavailable_reason()

    def prepare_input(
        self, spec: ArchSpec, precision: str, *, model=None, calibration_data=None, cache_dir=None
    ) -> tuple[str, tuple[str, ...]]:
        """The fp32 ONNX file TensorRT builds from (its precision is the builder's business)."""
        from edgespace.runners._confirm import prepare_onnx

        path, notes = prepare_onnx(dataclasses.replace(spec, batch=1), "fp32", model=model, cache_dir=cache_dir)
        return path, notes + (f"TensorRT builds the {precision} engine from the fp32 ONNX file",)

    def measure(self, onnx_path, spec: ArchSpec, **options) -> Measurement:
        """Build (or read from the cache) the engine for ``onnx_path`` and time it (see the module
        docstring; keywords as :meth:`_measure`). Runs with the runner's device as the current CUDA
        device (TensorRT puts the engine and its context on the current device)."""
        import torch

        with torch.cuda.device(torch.device(self.device)):
            return self._measure(onnx_path, spec, **options)

    def _measure(
        self,
        onnx_path,
        spec: ArchSpec,
        *,
        precision: str = "fp16",
        batch: int | None = None,
        timing: TimingPlan = DEFAULT_TIMING,
        meter: PowerMeter | None = None,
        calibration_data=None,
        idle_s: float = 2.0,
        energy_min_s: float = 2.0,
        notes: tuple[str, ...] = (),
        **_ignored,
    ) -> Measurement:
        import tensorrt as trt
        import torch

        from edgespace._precision import calibration_images
        from edgespace.runners._gpu_window import timed_and_metered
        from edgespace.runners._timing import CudaEventTimer
        from edgespace.runners.torch_cuda import _measurement

        if precision not in TRT_PRECISIONS:
            raise SpecError(
                f"precision={precision!r} is not allowed for tensorrt; allowed: {', '.join(TRT_PRECISIONS)}"
            )
        batch = spec.batch if batch is None else int(batch)
        spec = dataclasses.replace(spec, batch=batch)
        notes = list(notes)
        dev = torch.device(self.device)
        images = digest = None
        if precision == "int8":
            images = calibration_images(calibration_data, spec.resolution)
            digest = hashlib.sha1(images.tobytes()).hexdigest()[:8]
            src = "generated images" if calibration_data is None else f"{len(images)} calibration images"
            if explicit_quantization(trt):
                from edgespace._precision import quantize_int8

                onnx_path = quantize_int8(Path(onnx_path), images, symmetric=True)
                notes.append(
                    f"int8: explicit quantization, a Q/DQ network (ONNX Runtime static quantization, symmetric "
                    f"int8, per-channel weights) calibrated on {src}; TensorRT {trt.__version__} builds from its scales"
                )
            else:
                notes.append(f"int8: TensorRT IInt8EntropyCalibrator2 on {src} (the images ONNX Runtime calibrates on)")
        path = engine_cache_path(
            onnx_path,
            precision,
            batch,
            _device_key(trt, torch, dev),
            calibration_digest=digest,
            cache_dir=self.cache_dir,
        )
        plan, build_s = build_engine(onnx_path, precision, batch, spec.resolution, images=images, engine_path=path)
        notes.append(f"engine {f'built in {build_s:.1f} s' if build_s else 'from the cache'}: {path.name}")
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(plan)
        if engine is None:
            raise TensorRTError(f"TensorRT could not deserialize {path}; delete it to rebuild")
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        shape = (batch, 3, spec.resolution, spec.resolution)
        buffers = {}

        def context():
            ctx = engine.create_execution_context()
            for n in inputs:
                ctx.set_input_shape(n, shape)
            for n in names:
                if n not in buffers:
                    dt = _torch_dtype(trt, torch, engine.get_tensor_dtype(n))
                    dims = shape if n in inputs else tuple(ctx.get_tensor_shape(n))
                    buffers[n] = (
                        torch.randint(0, 256, dims, device=dev).to(dt)
                        if n in inputs
                        else torch.empty(dims, dtype=dt, device=dev)
                    )
                ctx.set_tensor_address(n, int(buffers[n].data_ptr()))
            return ctx

        timed = context()
        # A stream of our own, shared by execute_async_v3 and the timing events: on the legacy
        # default stream TensorRT adds synchronisations of its own that land inside the timings.
        created = torch.cuda.Stream(dev)
        created.wait_stream(torch.cuda.current_stream(dev))  # the buffers were filled on the default one
        stream = created.cuda_stream

        def call():
            timed.execute_async_v3(stream)

        timer = CudaEventTimer(dev, created)
        fields = timed_and_metered(
            call,
            timer,
            meter if meter is not None else get_meter("nvml", device=dev),
            batch=batch,
            **timing.calls,
            idle_s=idle_s,
            energy_min_s=energy_min_s,
            notes=notes,
        )
        node_profile = None
        if timing.profile:
            recorder = LayerTimeRecorder()

            class _Profiler(trt.IProfiler):
                def __init__(self) -> None:
                    trt.IProfiler.__init__(self)

                def report_layer_time(self, layer_name, ms) -> None:
                    recorder.report_layer_time(layer_name, ms)

            prof_ctx = context()
            prof_ctx.profiler = _Profiler()
            for _ in range(timing.profile_runs):
                prof_ctx.execute_async_v3(stream)
                created.synchronize()
            node_profile = recorder.node_profile(f"tensorrt {trt.__version__} IProfiler, {timing.profile_runs} runs")
        notes.append(f"timing: {timer.kind}")
        return _measurement(
            spec=spec,
            backend=self.name,
            provider=f"{dev} {torch.cuda.get_device_name(dev)}",
            precision=precision,
            threads=1,
            warmup=timing.warmup,
            **fields,
            node_profile=node_profile,
            model_path=str(onnx_path),
            peak_activation_bytes=_device_memory(engine),
            memory_source="TensorRT ICudaEngine.device_memory_size(_v2): the execution context's activation and "
            "scratch memory at the profile's largest shape (weights excluded)",
            runtime_version=f"tensorrt {trt.__version__}",
            clean_process=False,  # torch is loaded here: its CUDA tensors hold the engine's buffers
            date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            notes=tuple(notes),
            batch=batch,
            execution=f"TensorRT engine ({precision}), execute_async_v3",
            compile_s=build_s,
            device_name=torch.cuda.get_device_name(dev),
        )
