"""EfficientViT (MIT) B0–B3, transcribed from timm (timm 1.0, ``timm/models/efficientvit_mit.py``:
``efficientvit_b0`` … ``efficientvit_b3`` and the ``EfficientVit`` class; Cai et al., 2023,
https://arxiv.org/abs/2205.14756). tests/test_efficientvit.py and tests/test_layers.py check every
family against the module timm builds.

timm's class takes the five stage widths, the five depths, the attention head dimension and the
classifier head's two widths; it has no width or depth multiplier. edgespace adds one knob of its
own, a width multiplier: every stage width is scaled and rounded to a multiple of 8 (timm's
``round_channels``; the presets' widths are already multiples of 8, so width 1.0 is timm's
network), and the scaled widths are handed to timm's class, so the built module and the layer table
are the same network at any width. The head dimension and the head widths are not scaled
(the attention keeps ``width // head_dim`` heads of ``head_dim``). No depth knob.
"""

from __future__ import annotations

from edgespace._errors import SpecError
from edgespace.archs._arch_def import round_channels
from edgespace.archs._registry import EfficientViTDef, FamilyDef, get_family, register_family

__all__ = ["efficientvit_widths", "gen_efficientvit"]

#: timm's ``efficientvit_b0..b3`` model arguments.
_B = {
    "efficientvit_b0": EfficientViTDef((8, 16, 32, 64, 128), (1, 2, 2, 2, 2), 16, (1024, 1280)),
    "efficientvit_b1": EfficientViTDef((16, 32, 64, 128, 256), (1, 2, 3, 3, 4), 16, (1536, 1600)),
    "efficientvit_b2": EfficientViTDef((24, 48, 96, 192, 384), (1, 3, 4, 4, 6), 32, (2304, 2560)),
    "efficientvit_b3": EfficientViTDef((32, 64, 128, 256, 512), (1, 4, 6, 6, 9), 32, (2304, 2560)),
}


def efficientvit_widths(family: FamilyDef, width: float) -> tuple[int, ...]:
    """The five stage widths of ``family`` at width multiplier ``width``; a :class:`SpecError`
    where an attention stage would be narrower than one head."""
    vit = family.efficientvit
    widths = tuple(round_channels(w, width, 8) for w in vit.widths)
    if min(widths[3:]) < vit.head_dim:
        raise SpecError(
            f"width={width!r}: {family.name}'s attention stages would have {min(widths[3:])} channels, fewer "
            f"than one head of {vit.head_dim}; allowed: a width that keeps at least {vit.head_dim}"
        )
    return widths


def gen_efficientvit(variant: str, channel_multiplier: float = 1.0, pretrained: bool = False, **kwargs):
    """timm's ``EfficientVit`` for ``variant`` (an ``efficientvit_b*`` name) with its stage widths
    scaled by ``channel_multiplier`` as :func:`efficientvit_widths` scales them (timm's own
    ``_create_efficientvit``; random weights unless ``pretrained``)."""
    from timm.models.efficientvit_mit import _create_efficientvit

    family = get_family(variant)
    vit = family.efficientvit
    return _create_efficientvit(
        variant,
        pretrained=pretrained,
        widths=efficientvit_widths(family, channel_multiplier),
        depths=vit.depths,
        head_dim=vit.head_dim,
        head_widths=vit.head_widths,
        **kwargs,
    )


def _register(name: str, vit: EfficientViTDef) -> FamilyDef:
    return register_family(
        FamilyDef(
            name=name,
            arch_def=(),
            stem_size=vit.widths[0],
            num_features=vit.head_widths[-1],
            num_features_rule="fixed",
            act="hard_swish",
            head="efficientvit",
            depth_knob=False,
            efficientvit=vit,
            accuracy_family="efficientvit",
            timm_generator="edgespace.archs._efficientvit:gen_efficientvit",
            timm_variant=name,
            description=(
                f"EfficientViT-{name[-2:].upper()} (MBConv + multi-scale ReLU linear attention) with width multiplier"
            ),
        )
    )


EFFICIENTVIT_B0, EFFICIENTVIT_B1, EFFICIENTVIT_B2, EFFICIENTVIT_B3 = (_register(n, v) for n, v in _B.items())
