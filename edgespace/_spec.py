"""ArchSpec, the one description of a design point, and the spec constructors.

Compound scaling lives here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from edgespace._errors import SpecError
from edgespace.archs import get_family, list_families

__all__ = [
    "ArchSpec",
    "ARCH_COLUMNS",
    "POINT_COLUMNS",
    "PRECISIONS",
    "BYTES_PER_ELEMENT",
    "BATCH_RANGE",
    "EFFICIENTNET_PRESETS",
    "efficientnet",
    "efficientnet_preset",
    "EFFICIENTNETV2_PRESETS",
    "efficientnetv2_preset",
    "mobilenet",
]

PRECISIONS = ("fp32", "fp16", "int8")
#: Storage size of one tensor element at each precision, in bytes.
BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "int8": 1}

# Allowed ranges: wide enough for every published variant (MobileNet ×0.35, EfficientNet-B7
# at 600 px) and for searches somewhat beyond them; narrow enough to catch unit slips
# (a width of 35 meant as 0.35, a resolution of 2.24).
WIDTH_RANGE = (0.1, 4.0)
DEPTH_RANGE = (0.1, 6.0)
RESOLUTION_RANGE = (32, 1024)
NUM_CLASSES_RANGE = (1, 100_000)
#: Images per inference call. 4096 covers server batching (throughput saturates on an H100/H200
#: well below it) and catches a slip such as a pixel count passed as a batch.
BATCH_RANGE = (1, 4096)

#: EfficientNet B0–B7 as published: (width, depth, resolution). Source: Tan & Le, 2019,
#: https://arxiv.org/abs/1905.11946, and the reference implementation's parameter table
#: (tensorflow/tpu models/official/efficientnet/efficientnet_builder.py, efficientnet_params).
EFFICIENTNET_PRESETS: dict[str, tuple[float, float, int]] = {
    "b0": (1.0, 1.0, 224),
    "b1": (1.0, 1.1, 240),
    "b2": (1.1, 1.2, 260),
    "b3": (1.2, 1.4, 300),
    "b4": (1.4, 1.8, 380),
    "b5": (1.6, 2.2, 456),
    "b6": (1.8, 2.6, 528),
    "b7": (2.0, 3.1, 600),
}

#: EfficientNetV2 B0–B3: (width, depth, resolution), the coefficients timm's
#: ``tf_efficientnetv2_b0..b3`` pass to ``_gen_efficientnetv2_base`` (the same as EfficientNet's
#: B0–B3) and the evaluation resolution of their released weights (timm ``test_input_size``).
#: Source: Tan & Le, 2021, https://arxiv.org/abs/2104.00298; timm/models/efficientnet.py.
EFFICIENTNETV2_PRESETS: dict[str, tuple[float, float, int]] = {
    "b0": (1.0, 1.0, 224),
    "b1": (1.0, 1.1, 240),
    "b2": (1.1, 1.2, 260),
    "b3": (1.2, 1.4, 300),
}

#: Families :func:`mobilenet` builds specs for (width multiplier × resolution).
MOBILENET_SPEC_FAMILIES = (
    "mobilenetv2",
    "mobilenetv3_large",
    "mobilenetv3_small",
    "mobilenetv4_conv_small",
    "mobilenetv4_conv_medium",
    "mobilenetv4_conv_large",
    "mobilenetv4_hybrid_medium",
    "mobilenetv4_hybrid_large",
)

#: Families that compound scaling (:func:`efficientnet`) applies to: a B0 base network scaled
#: in width, depth and resolution together.
COMPOUND_FAMILIES = ("efficientnet", "efficientnetv2")


#: Ambient temperatures an estimate accepts (°C): the span of outdoor weather and enclosures
#: (the same lower bound as the profile schema's temperatures).
AMBIENT_RANGE_C = (-60.0, 100.0)


def brief(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for one-line messages (an int of thousands of
    digits, or one past Python's int-to-text limit, is shown by its size)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plain(value):
    """A numpy scalar as the Python number it holds (``np.float32(1.0)`` → ``1.0``,
    ``np.int64(224)`` → ``224``, ``np.bool_`` → ``bool``); anything else unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_number(
    name: str,
    value,
    lo: float | None = None,
    hi: float | None = None,
    *,
    integer: bool = False,
    lo_open: bool = False,
    error: type[Exception] = SpecError,
    allowed: str | None = None,
):
    """``value`` as a Python number, or ``error`` naming ``name``, the value and what is allowed:
    numpy scalars are accepted, bools and text are not, NaN and infinities are not, and where
    ``integer`` a float must be whole (``10.0`` is 10, ``10.5`` is refused)."""
    v = plain(value)
    lo_txt = "" if lo is None else (f"> {lo:g}" if lo_open else f">= {lo:g}")
    span = " and ".join(t for t in (lo_txt, "" if hi is None else f"<= {hi:g}") if t)
    what = allowed or (f"{'an integer' if integer else 'a finite number'}" + (f" {span}" if span else ""))
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise error(f"{name}={brief(value)}: not allowed; allowed: {what}")
    if isinstance(v, float):
        if not math.isfinite(v):
            raise error(f"{name}={brief(value)}: not allowed; allowed: {what}")
        if integer:
            if not v.is_integer():
                raise error(f"{name}={brief(value)}: not a whole number; allowed: {what}")
            v = int(v)
    if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
        raise error(f"{name}={brief(value)}: out of range; allowed: {what}")
    return v


def check_ambient_c(value, name: str = "ambient_c", *, error: type[Exception] = SpecError) -> float | None:
    """An ambient temperature in °C within :data:`AMBIENT_RANGE_C` (None passes: the profile's)."""
    if value is None:
        return None
    lo, hi = AMBIENT_RANGE_C
    return float(check_number(name, value, lo, hi, error=error, allowed=f"a temperature in °C from {lo:g} to {hi:g}"))


def _check_range(field: str, value, lo, hi) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"ArchSpec.{field}={value!r} is not a finite number; allowed: {lo} to {hi}")
    if not lo <= value <= hi:
        raise SpecError(f"ArchSpec.{field}={value!r} is out of range; allowed: {lo} to {hi}")


@dataclass(frozen=True)
class ArchSpec:
    """One design point.

    ``width``: channel multiplier (timm's ``channel_multiplier``); ``depth``: per-stage repeat
    multiplier (timm's ``depth_multiplier``, ceil-rounded per stage); ``resolution``: square
    input side in pixels; ``precision``: storage and compute precision of weights and
    activations; ``batch``: images per inference call (activations, MACs and element operations
    scale with it; the weights are read once per call). ``batch`` appears in :meth:`to_dict`
    and :meth:`short_name` only when it is not 1, so batch-1 specs keep their ids and caches.
    """

    family: str
    width: float = 1.0
    depth: float = 1.0
    resolution: int = 224
    precision: str = "fp32"
    num_classes: int = 1000
    batch: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.family, str) or self.family not in list_families():
            get_family(self.family)  # raises SpecError naming the allowed families
        for name in ("width", "depth", "resolution", "num_classes"):  # numpy scalars → Python numbers
            object.__setattr__(self, name, plain(getattr(self, name)))
        _check_range("width", self.width, *WIDTH_RANGE)
        _check_range("depth", self.depth, *DEPTH_RANGE)
        if self.depth != 1.0 and not get_family(self.family).depth_knob:
            raise SpecError(
                f"ArchSpec.depth={self.depth!r}: family {self.family!r} has no depth multiplier "
                "(its timm generator takes none); allowed: 1.0"
            )
        if isinstance(self.resolution, float) and self.resolution.is_integer():
            object.__setattr__(self, "resolution", int(self.resolution))
        if not isinstance(self.resolution, int) or isinstance(self.resolution, bool):
            raise SpecError(
                f"ArchSpec.resolution={self.resolution!r} must be an integer number of pixels; "
                f"allowed: {RESOLUTION_RANGE[0]} to {RESOLUTION_RANGE[1]}"
            )
        _check_range("resolution", self.resolution, *RESOLUTION_RANGE)
        if self.precision not in PRECISIONS:
            raise SpecError(f"ArchSpec.precision={self.precision!r} is not allowed; allowed: {', '.join(PRECISIONS)}")
        if isinstance(self.num_classes, float) and self.num_classes.is_integer():
            object.__setattr__(self, "num_classes", int(self.num_classes))
        if not isinstance(self.num_classes, int) or isinstance(self.num_classes, bool):
            raise SpecError(f"ArchSpec.num_classes={self.num_classes!r} must be an integer; allowed: 1 to 100000")
        _check_range("num_classes", self.num_classes, *NUM_CLASSES_RANGE)
        if isinstance(self.batch, float) and self.batch.is_integer():
            object.__setattr__(self, "batch", int(self.batch))
        if not isinstance(self.batch, (int, np.integer)) or isinstance(self.batch, bool):
            raise SpecError(
                f"ArchSpec.batch={self.batch!r} must be an integer number of images; "
                f"allowed: {BATCH_RANGE[0]} to {BATCH_RANGE[1]}"
            )
        object.__setattr__(self, "batch", int(self.batch))
        _check_range("batch", self.batch, *BATCH_RANGE)
        object.__setattr__(self, "width", float(self.width))
        object.__setattr__(self, "depth", float(self.depth))

    @property
    def bytes_per_element(self) -> int:
        return BYTES_PER_ELEMENT[self.precision]

    def to_dict(self) -> dict:
        return {
            "family": self.family,
            "width": self.width,
            "depth": self.depth,
            "resolution": self.resolution,
            "precision": self.precision,
            "num_classes": self.num_classes,
            **({"batch": self.batch} if self.batch != 1 else {}),
        }

    def short_name(self) -> str:
        """A readable id, e.g. ``efficientnet_w1.1_d1.2_r260_fp16`` (``..._fp16_b32`` at batch 32)."""
        name = f"{self.family}_w{self.width:g}_d{self.depth:g}_r{self.resolution}_{self.precision}"
        return name if self.batch == 1 else f"{name}_b{self.batch}"


#: The columns that name a network in a frame (``estimate_many``'s input, a study's trials, a
#: report's front): the fields of :class:`ArchSpec` but the label count and the batch.
ARCH_COLUMNS = tuple(f.name for f in dataclasses.fields(ArchSpec) if f.name not in ("num_classes", "batch"))
#: A design point's columns, in order: the network, its batch, the power mode and the placement.
POINT_COLUMNS = (*ARCH_COLUMNS, "batch", "mode", "placement")


def efficientnet(
    phi: float,
    alpha: float = 1.2,
    beta: float = 1.1,
    gamma: float = 1.15,
    *,
    resolution_divisor: int = 8,
    precision: str = "fp32",
    num_classes: int = 1000,
    family: str = "efficientnet",
) -> ArchSpec:
    """EfficientNet compound scaling on the B0 base (Tan & Le, 2019, eq. 3).

    ``family``: ``"efficientnet"`` or ``"efficientnetv2"`` (whose B0–B3 are scaled with the same
    coefficients; Tan & Le, 2021).

    depth = α^φ, width = β^φ, resolution = 224·γ^φ. Rounding rule: depth and width are kept
    to 4 decimals (timm then applies its own ceil-per-stage depth and divisible-by-8 channel
    rounding); the resolution is rounded to the nearest multiple of ``resolution_divisor``
    (default 8, so that every stride-2 stage's feature map stays a whole number of 8-pixel
    tiles; pass 1 for the unrounded value). The paper's published B1–B7 do not follow the
    formula exactly; use :func:`efficientnet_preset` for those.
    """
    phi, alpha, beta, gamma = (
        check_number(f"efficientnet({name})", value, allowed="a finite number")
        for name, value in (("phi", phi), ("alpha", alpha), ("beta", beta), ("gamma", gamma))
    )
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not 1.0 <= value <= 2.0:
            raise SpecError(f"efficientnet({name}={brief(value)}) is out of range; allowed: 1.0 to 2.0")
    if not -4.0 <= phi <= 8.0:
        raise SpecError(f"efficientnet(phi={brief(phi)}) is out of range; allowed: -4.0 to 8.0")
    if not isinstance(resolution_divisor, int) or not 1 <= resolution_divisor <= 64:
        raise SpecError(f"efficientnet(resolution_divisor={resolution_divisor!r}): allowed: an integer 1 to 64")
    if family not in COMPOUND_FAMILIES:
        raise SpecError(f"efficientnet(family={brief(family)}) is not allowed; allowed: {', '.join(COMPOUND_FAMILIES)}")
    depth = round(alpha**phi, 4)
    width = round(beta**phi, 4)
    resolution = int(resolution_divisor * round(224 * gamma**phi / resolution_divisor))
    return ArchSpec(family, width, depth, resolution, precision, num_classes)


def efficientnet_preset(name: str, *, precision: str = "fp32", num_classes: int = 1000) -> ArchSpec:
    """A published EfficientNet variant, ``"b0"`` … ``"b7"`` (case-insensitive)."""
    key = str(name).lower().removeprefix("efficientnet").lstrip("-_")
    if key not in EFFICIENTNET_PRESETS:
        raise SpecError(f"efficientnet preset {name!r} is unknown; allowed: {', '.join(EFFICIENTNET_PRESETS)}")
    width, depth, resolution = EFFICIENTNET_PRESETS[key]
    return ArchSpec("efficientnet", width, depth, resolution, precision, num_classes)


def efficientnetv2_preset(name: str, *, precision: str = "fp32", num_classes: int = 1000) -> ArchSpec:
    """A published EfficientNetV2 variant, ``"b0"`` … ``"b3"`` (case-insensitive; a leading
    ``efficientnetv2``/``tf_efficientnetv2`` is accepted)."""
    key = str(name).lower().removeprefix("tf_").removeprefix("efficientnetv2").lstrip("-_")
    if key not in EFFICIENTNETV2_PRESETS:
        raise SpecError(f"efficientnetv2 preset {name!r} is unknown; allowed: {', '.join(EFFICIENTNETV2_PRESETS)}")
    width, depth, resolution = EFFICIENTNETV2_PRESETS[key]
    return ArchSpec("efficientnetv2", width, depth, resolution, precision, num_classes)


def mobilenet(
    family: str,
    width: float = 1.0,
    resolution: int = 224,
    *,
    depth: float = 1.0,
    precision: str = "fp32",
    num_classes: int = 1000,
) -> ArchSpec:
    """MobileNetV2/V3/V4 width-multiplier × resolution (``family`` = one of
    :data:`MOBILENET_SPEC_FAMILIES`; MobileNetV4's have no depth knob: keep ``depth`` 1.0)."""
    if family not in MOBILENET_SPEC_FAMILIES:
        raise SpecError(
            f"mobilenet(family={family!r}) is not a MobileNet family; allowed: {', '.join(MOBILENET_SPEC_FAMILIES)}"
        )
    return ArchSpec(family, width, depth, resolution, precision, num_classes)
