"""The family registry: one entry per architecture family, filled by :func:`register_family`.

Like timm's ``register_model``, a new family is one new :class:`FamilyDef` registered by name;
everything downstream (spec validation, layer tables, building, export) looks it up here.
"""

from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass, field

from edgespace._errors import SpecError

__all__ = [
    "EfficientViTDef",
    "FamilyDef",
    "SEDef",
    "register_family",
    "unregister_family",
    "get_family",
    "list_families",
]


@dataclass(frozen=True)
class SEDef:
    """Squeeze-excite settings as timm's generator passes them.

    ``rd_round``: how the reduced channel count is rounded: ``"round"`` (Python's ``round``,
    timm's default for EfficientNet) or ``"make_divisible"`` (MobileNetV3's ``round_channels``).
    ``from_exp``: ratio taken of the expanded channels (MobileNetV3) or of the block input
    (EfficientNet, where timm divides the ratio by the expansion ratio).
    ``act``: forced activation inside SE (MobileNetV3 forces ReLU); ``None`` means the block's.
    """

    gate: str = "sigmoid"
    act: str | None = None
    rd_round: str = "round"
    from_exp: bool = False


@dataclass(frozen=True)
class EfficientViTDef:
    """An EfficientViT (MIT) B-series network as timm's ``EfficientVit`` class takes it: the stem
    and four stage widths, the stem's residual DSConv count and each stage's depth (stages 3 and
    4 count their EfficientViT blocks after the strided MBConv), the linear attention's head
    dimension, the classifier head's two widths and the MBConv expansion ratio."""

    widths: tuple[int, int, int, int, int]
    depths: tuple[int, int, int, int, int]
    head_dim: int
    head_widths: tuple[int, int]
    expand_ratio: float = 4.0


@dataclass(frozen=True)
class FamilyDef:
    """Everything needed to decode, count, build and export one family.

    ``head``: ``"conv_pool"`` = 1×1 conv → BN → act → global pool → linear (EfficientNet,
    MobileNetV2); ``"pool_conv"`` = global pool → 1×1 conv with bias → act → flatten → linear
    (MobileNetV3); ``"pool_conv_norm"`` = global pool → 1×1 conv without bias → BN → act →
    flatten → linear (MobileNetV4's ``head_norm``). ``num_features_rule``: ``"round"`` scales the head width with the
    multiplier, ``"max_round"`` takes ``max(num_features, round(...))`` (MobileNetV2),
    ``"fixed"`` keeps it (MobileNetV3). ``fix_stem_below_width``: stem channels are not scaled
    for widths below this (MobileNetV3's ``fix_stem = multiplier < 0.75``).
    ``timm_generator``: ``"module:function"`` of timm's private generator (EfficientViT: edgespace's
    wrapper of timm's ``_create_efficientvit``), called with
    ``(timm_variant, channel_multiplier=width, depth_multiplier=depth)``; without
    ``depth_multiplier`` when ``depth_knob`` is false (MobileNetV4's generator has no depth
    knob: a spec of such a family must keep depth 1.0).
    ``round_limit``: the ``round_limit`` of the generator's channel rounding (timm's default 0.9:
    never more than 10 % below the scaled width; EfficientNetV2's generator passes 0).
    """

    name: str
    arch_def: tuple[tuple[str, ...], ...]
    stem_size: int
    num_features: int
    num_features_rule: str
    act: str
    head: str
    timm_generator: str
    timm_variant: str
    se: SEDef = field(default_factory=SEDef)
    fix_stem_below_width: float = 0.0
    channel_divisor: int = 8
    round_limit: float = 0.9
    depth_knob: bool = True
    #: timm ``layer_scale_init_value`` set (MobileNetV4 hybrids): every ``uir`` and ``mqa`` block
    #: ends with a learned per-channel scale (``layer_scale.gamma``, C parameters).
    layer_scale: bool = False
    #: Set for a network that is not an arch-def of blocks (EfficientViT): the layer table walks
    #: it whole and ``arch_def`` stays empty.
    efficientvit: EfficientViTDef | None = None
    #: The family whose fitted accuracy terms (offset, parameter slope) this one shares, where the
    #: published rows describe one design scaled into several registered families (EfficientViT
    #: B0–B3, as EfficientNet's B0–B7 are one family); empty: its own.
    accuracy_family: str = ""
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    description: str = ""


_FAMILIES: dict[str, FamilyDef] = {}


def register_family(family: FamilyDef) -> FamilyDef:
    """Add a family to the registry (warns when it replaces one of the same name)."""
    if family.name in _FAMILIES:
        warnings.warn(f"Overwriting family {family.name!r} in the edgespace registry.", stacklevel=2)
    _FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> FamilyDef:
    """Remove a family (for plug-ins and tests that register temporary ones)."""
    family = get_family(name)
    del _FAMILIES[name]
    return family


def get_family(name: str) -> FamilyDef:
    """The registered family called ``name``; a :class:`SpecError` lists the known ones."""
    try:
        return _FAMILIES[name]
    except (KeyError, TypeError):
        raise SpecError(f"family={name!r} is not registered; allowed: {', '.join(sorted(_FAMILIES))}") from None


def list_families(pattern: str = "*") -> list[str]:
    """Registered family names matching an ``fnmatch`` pattern, sorted."""
    return sorted(n for n in _FAMILIES if fnmatch.fnmatch(n, pattern))
