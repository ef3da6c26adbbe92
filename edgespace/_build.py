"""The real models: timm modules for a spec, and ONNX files with preprocessing folded in.

torch and timm are imported here, inside the functions, so that the analytic path
(``layer_table`` and the cost models) never pays for them.
"""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from edgespace._errors import SpecError, SpecTypeError
from edgespace._spec import ArchSpec
from edgespace.archs import get_family

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["build", "export_onnx", "INPUT_LAYOUTS", "INPUT_DTYPES"]

INPUT_LAYOUTS = ("nchw", "nhwc")
INPUT_DTYPES = ("uint8", "float32")


def _generator(spec: ArchSpec):
    family = get_family(spec.family)
    module_name, _, fn_name = family.timm_generator.partition(":")
    return family, getattr(importlib.import_module(module_name), fn_name)


def build(spec: ArchSpec, checkpoint: str | os.PathLike | None = None) -> torch.nn.Module:
    """The real timm module for ``spec``, in eval mode.

    Built by timm's own generator for the family (``_gen_efficientnet``, ``_gen_mobilenet_v2``,
    ``_gen_mobilenet_v3``, ``_gen_mobilenet_v4``, ...) with ``channel_multiplier=spec.width`` and,
    where the generator has one, ``depth_multiplier=spec.depth``, so timm's channel rounding and
    depth scaling apply. EfficientViT's generator (``edgespace.archs._efficientvit``) hands timm's
    ``EfficientVit`` class the preset's arguments with the stage widths scaled.
    Weights are random (timm's own initialisation) unless ``checkpoint`` names a local file
    holding a state dict (plain, or under a ``"state_dict"`` / ``"model"`` key); nothing is
    ever downloaded. The precision of the spec does not change the module (fp32): precision is
    applied at export or by the runtime.
    """
    import torch

    if not isinstance(spec, ArchSpec):
        raise SpecTypeError(f"build() takes an ArchSpec, got {type(spec).__name__}")
    family, gen = _generator(spec)
    depth = {"depth_multiplier": spec.depth} if family.depth_knob else {}
    model = gen(
        family.timm_variant,
        channel_multiplier=spec.width,
        pretrained=False,
        num_classes=spec.num_classes,
        **depth,
    )
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise SpecError(f"checkpoint={str(path)!r}: no such file; pass a local state-dict file (.pt/.pth)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a corrupt file
            raise SpecError(f"checkpoint={str(path)!r}: cannot be read as a torch state dict ({exc})") from None
        if isinstance(state, dict):
            for key in ("state_dict", "model", "state_dict_ema"):
                if key in state and isinstance(state[key], dict):
                    state = state[key]
                    break
        try:
            model.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise SpecError(f"checkpoint={str(path)!r} does not match {spec.short_name()}: {first}") from None
    return model.eval()


class _Preprocess:
    """Factory for the preprocessing wrapper (a class built lazily to keep torch out of import)."""

    @staticmethod
    def wrap(model, mean, std, layout: str):
        import torch

        class Preprocessed(torch.nn.Module):
            """uint8/float 0–255 image → the model's normalised input, then the model.

            ``(x / 255 - mean) / std`` is folded into one multiply-add per channel.
            """

            def __init__(self) -> None:
                super().__init__()
                self.model = model
                m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
                s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
                self.register_buffer("scale", 1.0 / (255.0 * s))
                self.register_buffer("shift", -m / s)

            def forward(self, x):
                if layout == "nhwc":
                    x = x.permute(0, 3, 1, 2)
                x = x.to(torch.float32) * self.scale + self.shift
                return self.model(x)

        return Preprocessed().eval()


def export_onnx(
    spec: ArchSpec,
    path: str | os.PathLike,
    opset: int = 17,
    *,
    checkpoint: str | os.PathLike | None = None,
    model=None,
    layout: str = "nchw",
    input_dtype: str = "uint8",
    dynamic_batch: bool = True,
) -> Path:
    """Export ``spec`` to ONNX with preprocessing folded into the graph.

    Input ``"image"``: an RGB image batch of values 0–255, layout ``layout`` (``"nchw"``:
    ``[N, 3, R, R]``, or ``"nhwc"``: ``[N, R, R, 3]`` as image decoders return it), dtype
    ``input_dtype`` (``uint8``, or ``float32`` holding 0–255). The graph casts to float32,
    scales by 1/255, subtracts the model's mean and divides by its std (ImageNet statistics
    from the timm config), then runs the network. Resizing stays outside the graph. Output
    ``"logits"``: ``[N, num_classes]`` float32. ``N`` is dynamic when ``dynamic_batch``.
    The file is checked with ``onnx.checker``. Pass ``model`` to export an already built
    module (e.g. with trained weights) instead of building one.
    """
    import onnx
    import torch

    if layout not in INPUT_LAYOUTS:
        raise SpecError(f"export_onnx(layout={layout!r}) is not allowed; allowed: {', '.join(INPUT_LAYOUTS)}")
    if input_dtype not in INPUT_DTYPES:
        raise SpecError(f"export_onnx(input_dtype={input_dtype!r}) is not allowed; allowed: {', '.join(INPUT_DTYPES)}")
    if not isinstance(opset, int) or not 13 <= opset <= 21:
        raise SpecError(f"export_onnx(opset={opset!r}) is not allowed; allowed: 13 to 21")
    family = get_family(spec.family)
    net = model if model is not None else build(spec, checkpoint=checkpoint)
    wrapped = _Preprocess.wrap(net.eval(), family.mean, family.std, layout)
    r = spec.resolution
    shape = (1, 3, r, r) if layout == "nchw" else (1, r, r, 3)
    dtype = torch.uint8 if input_dtype == "uint8" else torch.float32
    example = torch.randint(0, 256, shape, dtype=torch.int32).to(dtype)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter, not the torch.export one: here it takes ~1 s per network where
    # torch.export takes ~18 s (efficientnet_b0), and it writes the opset asked for (the new
    # exporter produced opset 18 when asked for 17). Its deprecation notice is silenced.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapped,
            (example,),
            str(out),
            input_names=["image"],
            output_names=["logits"],
            opset_version=opset,
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None,
            dynamo=False,
        )
    onnx.checker.check_model(str(out))
    return out
