"""``tensorrt``: an engine built from the exported ONNX file with the TensorRT Python API.

For machines where ``import tensorrt`` works (JetPack on Jetson ships it; NVIDIA's CUDA
containers too). The registry's ``tensorrt-cu12``/``-cu13`` packages are small stubs that fetch
the libraries from NVIDIA at install time, so where that cannot happen, the TensorRT
confirmation is the capture-set path: ``edgespace export`` → ``trtexec`` on the device →
``edgespace calibrate --from``.

The engine: the cached fp32 ONNX file (uint8 NCHW image input, preprocessing folded in, dynamic
batch) parsed by ``trt.OnnxParser``; an optimisation profile from batch 1 to ``batch`` (tuned for
``batch``); ``fp16`` sets ``BuilderFlag.FP16``; ``int8`` sets ``BuilderFlag.INT8`` (and FP16, for
the layers TensorRT keeps out of int8) with an ``IInt8EntropyCalibrator2`` fed the same
calibration images as ONNX Runtime's static quantization
(``calibration_images`` in ``runners/_precision.py``: a folder, an array, or generated images), its
scale cache next to the engine. Engines are cached under the cache directory, keyed by the
ONNX file (which is keyed by the spec), the precision, the batch, the device (GPU name and
compute capability) and the TensorRT version, plus the calibration images for int8.
``ProfilingVerbosity.DETAILED`` keeps the ONNX node names in the engine's layer names.

Timing: ``execute_async_v3`` on the current torch CUDA stream, CUDA events around every call
(:func:`~edgespace.runners.torch_cuda.timed_and_metered`: the same statistics, NVML energy and
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
import re
import time
from pathlib import Path

import numpy as np

from edgespace._errors import EdgespaceError, SpecError, UnavailableError
from edgespace._spec import ArchSpec
from edgespace.meters import PowerMeter, get_meter
from edgespace.runners.common import Measurement, Runner, register_runner

__all__ = [
    "TRT_PRECISIONS",
    "LayerTimeRecorder",
    "TensorRTError",
    "TensorRTRunner",
    "calibration_batches",
    "engine_cache_path",
    "tensorrt_unavailable_reason",
]

TRT_PRECISIONS = ("fp32", "fp16", "int8")


class TensorRTError(EdgespaceError, RuntimeError):
    """TensorRT could not parse the ONNX file or build the engine."""


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


def calibration_batches(images: np.ndarray, batch: int) -> list[np.ndarray]:
    """``images`` (uint8 ``[N, 3, R, R]``) as whole batches of ``batch`` images, contiguous;
    the last batch is filled by wrapping around to the first images (a calibrator must hand out
    full batches of the calibration shape)."""
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise SpecError(f"calibration images must be [N, 3, R, R] with N >= 1, got shape {images.shape}")
    n = -(-len(images) // batch)
    idx = np.arange(n * batch) % len(images)
    return [np.ascontiguousarray(images[idx[i * batch : (i + 1) * batch]]) for i in range(n)]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def engine_cache_path(
    onnx_path,
    precision: str,
    batch: int,
    device_key: str,
    *,
    calibration_digest: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Where the engine for (ONNX file, precision, batch, device) is cached. ``device_key`` names
    the GPU, its compute capability and the TensorRT version (an engine runs only where built)."""
    from edgespace.runners._export import onnx_cache_dir

    root = Path(cache_dir) if cache_dir is not None else onnx_cache_dir().parent / "tensorrt"
    stem = Path(onnx_path).stem
    cal = f"_cal{calibration_digest}" if precision == "int8" and calibration_digest else ""
    return root / f"{stem}_{precision}_b{int(batch)}_{_slug(device_key)}{cal}.engine"


def _device_key(trt, torch, dev) -> str:
    major, minor = torch.cuda.get_device_capability(dev)
    return f"{torch.cuda.get_device_name(dev)}-sm{major}{minor}-trt{trt.__version__}"


def _torch_dtype(trt, torch, dt):
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32, trt.int8: torch.int8}
    if hasattr(trt, "uint8"):
        table[trt.uint8] = torch.uint8
    if hasattr(trt, "bfloat16"):
        table[trt.bfloat16] = torch.bfloat16
    if dt not in table:
        raise TensorRTError(f"engine tensor dtype {dt} has no torch counterpart here")
    return table[dt]


def build_engine(
    onnx_path,
    precision: str,
    batch: int,
    resolution: int,
    *,
    images: np.ndarray | None = None,
    engine_path: Path,
    log_severity=None,
) -> tuple[bytes, float]:
    """Build (or read from ``engine_path``) the serialized engine; returns ``(plan, build_s)``
    (``build_s`` 0.0 when it came from the cache)."""
    import tensorrt as trt
    import torch

    if engine_path.is_file():
        return engine_path.read_bytes(), 0.0
    t0 = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING if log_severity is None else log_severity)
    builder = trt.Builder(logger)
    major = int(str(trt.__version__).split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise TensorRTError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    name = network.get_input(0).name
    shape = (batch, 3, resolution, resolution)
    profile = builder.create_optimization_profile()
    profile.set_shape(name, (1, 3, resolution, resolution), shape, shape)
    config.add_optimization_profile(profile)
    calibrator = None
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        if not hasattr(trt, "IInt8EntropyCalibrator2"):
            raise UnavailableError(
                f"tensorrt {trt.__version__} has no IInt8EntropyCalibrator2 (implicit int8 "
                "calibration); confirm int8 with onnxruntime's QDQ model instead"
            )
        batches = calibration_batches(images, min(8, len(images)))
        cal_shape = batches[0].shape
        cache_file = engine_path.with_suffix(".calib")
        dev = torch.device("cuda")

        class _Calibrator(trt.IInt8EntropyCalibrator2):
            def __init__(self) -> None:
                trt.IInt8EntropyCalibrator2.__init__(self)
                self.i = 0
                self.buffer = None  # kept alive while TensorRT reads it

            def get_batch_size(self) -> int:
                return int(cal_shape[0])

            def get_batch(self, names):
                if self.i >= len(batches):
                    return None
                self.buffer = torch.from_numpy(batches[self.i]).to(dev)
                self.i += 1
                return [int(self.buffer.data_ptr())]

            def read_calibration_cache(self):
                return cache_file.read_bytes() if cache_file.is_file() else None

            def write_calibration_cache(self, cache) -> None:
                cache_file.write_bytes(bytes(cache))

        calibrator = _Calibrator()
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
        cal_profile = builder.create_optimization_profile()
        cal_profile.set_shape(name, cal_shape, cal_shape, cal_shape)
        config.set_calibration_profile(cal_profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise TensorRTError(f"TensorRT failed to build an engine from {onnx_path} at {precision}, batch {batch}")
    data = bytes(plan)
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = engine_path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, engine_path)
    return data, time.perf_counter() - t0


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

    def measure(
        self,
        onnx_path,
        spec: ArchSpec,
        *,
        precision: str = "fp16",
        batch: int | None = None,
        warmup: int = 10,
        runs: int | None = 100,
        duration_s: float | None = None,
        rounds: int = 5,
        profile: bool = True,
        profile_runs: int = 10,
        meter: PowerMeter | None = None,
        calibration_data=None,
        idle_s: float = 2.0,
        energy_min_s: float = 2.0,
        notes: tuple[str, ...] = (),
        **_ignored,
    ) -> Measurement:
        import tensorrt as trt
        import torch

        from edgespace.runners._precision import calibration_images
        from edgespace.runners._timing import CudaEventTimer
        from edgespace.runners.torch_cuda import _measurement, timed_and_metered

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
        stream = torch.cuda.current_stream(dev).cuda_stream

        def call():
            timed.execute_async_v3(stream)

        timer = CudaEventTimer(dev)
        fields = timed_and_metered(
            call,
            timer,
            meter if meter is not None else get_meter("nvml"),
            batch=batch,
            warmup=warmup,
            runs=runs,
            duration_s=duration_s,
            rounds=rounds,
            idle_s=idle_s,
            energy_min_s=energy_min_s,
            notes=notes,
        )
        node_profile = None
        if profile:
            recorder = LayerTimeRecorder()

            class _Profiler(trt.IProfiler):
                def __init__(self) -> None:
                    trt.IProfiler.__init__(self)

                def report_layer_time(self, layer_name, ms) -> None:
                    recorder.report_layer_time(layer_name, ms)

            prof_ctx = context()
            prof_ctx.profiler = _Profiler()
            for _ in range(max(1, profile_runs)):
                prof_ctx.execute_async_v3(stream)
                torch.cuda.synchronize(dev)
            node_profile = recorder.node_profile(f"tensorrt {trt.__version__} IProfiler, {profile_runs} runs")
        notes.append(f"timing: {timer.kind}")
        return _measurement(
            spec=spec,
            backend=self.name,
            provider=f"{dev} {torch.cuda.get_device_name(dev)}",
            precision=precision,
            threads=1,
            warmup=int(warmup),
            **fields,
            node_profile=node_profile,
            onnx_path=str(onnx_path),
            peak_activation_bytes=_device_memory(engine),
            memory_source="TensorRT ICudaEngine.device_memory_size(_v2): the execution context's activation and "
            "scratch memory at the profile's largest shape (weights excluded)",
            runtime_version=f"tensorrt {trt.__version__}",
            clean_process=True,
            date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            notes=tuple(notes),
            batch=batch,
            execution=f"TensorRT engine ({precision}), execute_async_v3",
            compile_s=build_s,
            device_name=torch.cuda.get_device_name(dev),
        )
