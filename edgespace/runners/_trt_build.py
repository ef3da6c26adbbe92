"""Building a TensorRT engine from an ONNX file, and where it is cached (see
:mod:`edgespace.runners.tensorrt` for what is built and why)."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import numpy as np

from edgespace._errors import EdgespaceError, SpecError, UnavailableError

__all__ = [
    "TensorRTError",
    "build_engine",
    "calibration_batches",
    "engine_cache_path",
    "explicit_quantization",
    "onnx_digest",
]


class TensorRTError(EdgespaceError, RuntimeError):
    """TensorRT could not parse the ONNX file or build the engine."""


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
    """Where the engine for (ONNX file, precision, batch, device) is cached: keyed by the file's
    content (:func:`onnx_digest`; the name only makes the cache readable). ``device_key`` names the
    GPU, its compute capability and the TensorRT version (an engine runs only where built)."""
    from edgespace.runners._export import onnx_cache_dir

    root = Path(cache_dir) if cache_dir is not None else onnx_cache_dir().parent / "tensorrt"
    stem = _slug(Path(onnx_path).stem)[:48]
    content = onnx_digest(onnx_path)
    cal = f"_cal{calibration_digest}" if precision == "int8" and calibration_digest else ""
    return root / f"{stem}_{content}_{precision}_b{int(batch)}_{_slug(device_key)}{cal}.engine"


def onnx_digest(onnx_path) -> str:
    """The first 16 hex digits of the SHA-256 of the ONNX file's bytes: what an engine is built
    from, whatever the file is called (every user ``model=`` is exported as ``model.onnx``)."""
    h = hashlib.sha256()
    with open(onnx_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def explicit_quantization(trt) -> bool:
    """Whether int8 engines are built from a Q/DQ network (TensorRT 10 and later, where implicit
    quantization and ``IInt8EntropyCalibrator2`` are deprecated) rather than by calibration."""
    try:
        return int(str(trt.__version__).split(".")[0]) >= 10
    except ValueError:
        return True


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
    if precision == "int8" and explicit_quantization(trt):
        # the network carries its own Q/DQ scales (see TensorRTRunner.measure): no calibrator
        if hasattr(trt.BuilderFlag, "INT8"):
            config.set_flag(trt.BuilderFlag.INT8)
    elif precision == "int8":
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
