"""Precision variants of an exported fp32 ONNX file: int8 (ONNX Runtime static quantization,
QDQ format) and fp16 (only where the execution provider has fp16 kernels).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from edgespace._errors import SpecError, UnavailableError

__all__ = ["calibration_images", "quantize_int8", "fp16_supported", "convert_fp16", "Fp16UnavailableError"]

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm")


class Fp16UnavailableError(UnavailableError):
    """The execution provider has no fp16 kernels for the network."""


def calibration_images(calibration_data, resolution: int, count: int = 8, seed: int = 0) -> np.ndarray:
    """uint8 NCHW images for int8 calibration.

    ``calibration_data``: ``None`` (generated: smooth random images, seeded, so that activation
    ranges are not those of white noise), a folder of images (searched recursively; resized to
    ``resolution`` after a centre crop; needs Pillow), or an array ``[N, 3, R, R]`` / ``[N, R, R, 3]``
    of 0–255 values.
    """
    if calibration_data is None:
        rng = np.random.default_rng(seed)
        low = rng.uniform(0, 255, size=(count, 3, 8, 8))
        reps = -(-resolution // 8)
        img = np.kron(low, np.ones((1, 1, reps, reps)))[:, :, :resolution, :resolution]
        img += rng.normal(0, 12, size=img.shape)
        return np.clip(img, 0, 255).astype(np.uint8)
    if isinstance(calibration_data, np.ndarray):
        a = calibration_data
        if a.ndim != 4 or 3 not in (a.shape[1], a.shape[3]):
            raise SpecError(f"calibration_data: an array must be [N, 3, R, R] or [N, R, R, 3], got shape {a.shape}")
        if a.shape[1] != 3:
            a = a.transpose(0, 3, 1, 2)
        if a.shape[2:] != (resolution, resolution):
            raise SpecError(
                f"calibration_data: images are {a.shape[2]}x{a.shape[3]}, the spec wants {resolution}x{resolution}"
            )
        return np.clip(a, 0, 255).astype(np.uint8)
    root = Path(calibration_data)
    if not root.is_dir():
        raise SpecError(f"calibration_data={str(root)!r}: no such directory; pass an image folder, an array, or None")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in _IMAGE_EXTS)[:count]
    if not files:
        raise SpecError(f"calibration_data={str(root)!r}: no images ({', '.join(_IMAGE_EXTS)}) found")
    from PIL import Image

    out = []
    for f in files:
        im = Image.open(f).convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.BILINEAR)
        out.append(np.asarray(im, dtype=np.uint8).transpose(2, 0, 1))
    return np.stack(out)


def quantize_int8(
    fp32_path: Path, images: np.ndarray, out_path: Path | None = None, *, symmetric: bool = False
) -> Path:
    """Static QDQ int8 quantization of ``fp32_path`` with ``images`` as calibration inputs
    (per-channel weights, MinMax calibration). Cached next to the fp32 file by calibration-data hash.
    ``symmetric``: int8 activations with zero point 0 (what TensorRT's explicit quantization
    accepts) instead of ONNX Runtime's default asymmetric uint8 activations."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    digest = hashlib.sha1(images.tobytes()).hexdigest()[:8]
    kind = "int8sym" if symmetric else "int8"
    out = Path(out_path) if out_path is not None else fp32_path.with_name(f"{fp32_path.stem}_{kind}_{digest}.onnx")
    if out.is_file():
        return out

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(images[i : i + 1] for i in range(len(images)))

        def get_next(self):
            batch = next(self._it, None)
            return None if batch is None else {"image": batch}

    pre = out.with_suffix(".pre.onnx")
    tmp = out.with_suffix(".tmp.onnx")
    try:
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(tmp),
            _Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True} if symmetric else None,
        )
        os.replace(tmp, out)
    finally:
        for p in (pre, tmp):
            p.unlink(missing_ok=True)
    return out


def fp16_supported(provider: str) -> bool:
    """Whether ``provider`` computes a Conv in float16: a one-node probe, profiled. ONNX Runtime
    accepts an fp16 graph on any provider by inserting casts around the nodes it has no fp16 kernel
    for, and then computes them in fp32 (slower than plain fp32); that is not fp16 support, so the
    probe checks the type the Conv kernel actually ran on. A probe that cannot run (ONNX Runtime
    missing, the provider not available, a broken install) raises :class:`UnavailableError`
    with the real error: that says nothing about fp16 support."""
    import json
    import tempfile

    import onnxruntime as ort

    if provider not in ort.get_available_providers():
        # ONNX Runtime would fall back to the CPU with a warning, and the probe answer for the CPU
        raise UnavailableError(
            f"fp16 probe on {provider}: the provider is not available here; "
            f"available: {', '.join(ort.get_available_providers())}"
        )
    try:
        from onnx import TensorProto, helper

        x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 8, 8, 8])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)
        w = helper.make_tensor("w", TensorProto.FLOAT16, [8, 8, 1, 1], np.ones(64, np.float16).tobytes(), raw=True)
        g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="probe_conv")], "probe", [x], [y], [w])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        with tempfile.TemporaryDirectory() as tmp:
            from edgespace._ort_session import make_session

            s = make_session(m, 1, provider=provider, profile_prefix=str(Path(tmp) / "probe"))
            s.run(None, {"x": np.ones((1, 8, 8, 8), np.float16)})
            events = json.loads(Path(s.end_profiling()).read_text())
        convs = [
            e for e in events if e.get("cat") == "Node" and e.get("args", {}).get("op_name") in ("Conv", "FusedConv")
        ]
        if not convs:  # a provider that does not report kernels (TensorRT runs its own engine)
            return provider != "CPUExecutionProvider"
        return all("float16" in json.dumps(e["args"].get("input_type_shape", "")) for e in convs)
    except Exception as exc:
        raise UnavailableError(f"fp16 probe on {provider}: could not run: {type(exc).__name__}: {exc}") from exc


def convert_fp16(fp32_path: Path, provider: str) -> Path:
    """An fp16 copy of the network (inputs and outputs kept as exported), or
    :class:`Fp16UnavailableError` when ``provider`` has no fp16 kernels."""
    if not fp16_supported(provider):
        raise Fp16UnavailableError(
            f"fp16 unsupported on {provider} (it has no float16 Conv kernel on this machine: ONNX Runtime would cast to fp32 around it); "
            "use fp32 or int8, or a CUDA/TensorRT provider"
        )
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    out = fp32_path.with_name(f"{fp32_path.stem}_fp16.onnx")
    if not out.is_file():
        model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
        onnx.save(model, str(out))
    return out
