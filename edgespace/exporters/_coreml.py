"""Core ML (.mlpackage): an ML program (iOS 17 target) whose input is an RGB image (the 8-bit
pixel buffer a camera hands Core ML; its values 0–255 go into the graph unscaled, and the
graph scales and normalises them as the other formats do), fp32 or fp16
compute; int8 as coremltools' linear weight quantization (activation quantization calibrates by
running the model, which Core ML does only on macOS). Converting works on Linux; predicting does not."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from edgespace._errors import UnavailableError
from edgespace.exporters import Exporter, preprocessed_module, register_exporter

__all__ = ["convert", "require_macos_for_prediction"]


def convert(spec, precision: str, checkpoint=None):
    """The coremltools MLModel for ``spec`` (not saved)."""
    try:
        import coremltools as ct
    except ImportError as exc:
        raise UnavailableError(f"Core ML export needs coremltools (pip install 'edgespace[phone]'): {exc}") from None
    import torch

    wrapped, example = preprocessed_module(spec, "nchw", checkpoint)
    example = example.to(torch.float32)  # Core ML hands the model the pixel values as floats 0-255
    # torch.export, not TorchScript: a static-shape export folds the attention blocks' shape arithmetic
    # (EfficientViT, MobileNetV4 Hybrid), which coremltools 9.0's TorchScript frontend cannot cast to an
    # integer under NumPy 2.4; coremltools takes the ATen dialect, hence run_decompositions({}).
    with torch.no_grad():
        program = torch.export.export(wrapped.eval(), (example,)).run_decompositions({})
    model = ct.convert(
        program,
        inputs=[ct.ImageType(name="image", shape=tuple(example.shape), color_layout=ct.colorlayout.RGB)],
        outputs=[ct.TensorType(name="logits")],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS17,
        compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
    )
    if precision == "int8":
        from coremltools.optimize.coreml import OpLinearQuantizerConfig, OptimizationConfig, linear_quantize_weights

        config = OptimizationConfig(global_config=OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8"))
        model = linear_quantize_weights(model, config=config)
    return model


def require_macos_for_prediction() -> None:
    """Core ML runs models only on macOS/iOS: raise the clear error anywhere else."""
    if sys.platform != "darwin":
        raise UnavailableError(
            f"Core ML prediction runs only on macOS or iOS (this is {sys.platform}); the .mlpackage converts "
            "here, run it on a Mac or an Apple device"
        )


def _export(spec, path: Path, precision: str, calibration_data, checkpoint) -> Path:
    model = convert(spec, precision, checkpoint)
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    model.save(str(path))
    return path


register_exporter(
    Exporter(
        "coreml", ".mlpackage", "nchw", ("fp32", "fp16", "int8"), _export, "int8 = weight-only linear quantization"
    )
)
