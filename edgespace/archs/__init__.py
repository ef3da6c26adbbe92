"""Architecture families: arch-def decoding and the family registry."""

from edgespace.archs import _efficientvit, _families, _mobilenetv4  # noqa: F401  (register the shipped families)
from edgespace.archs._arch_def import BlockSpec, decode_arch_def, make_divisible, round_channels
from edgespace.archs._efficientvit import efficientvit_widths
from edgespace.archs._registry import (
    EfficientViTDef,
    FamilyDef,
    SEDef,
    get_family,
    list_families,
    register_family,
    unregister_family,
)

__all__ = [
    "BlockSpec",
    "decode_arch_def",
    "make_divisible",
    "round_channels",
    "EfficientViTDef",
    "FamilyDef",
    "efficientvit_widths",
    "SEDef",
    "get_family",
    "list_families",
    "register_family",
    "unregister_family",
]
