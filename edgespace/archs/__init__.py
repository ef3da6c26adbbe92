"""Architecture families: arch-def decoding and the family registry."""

from edgespace.archs import _families  # noqa: F401  (registers the shipped families)
from edgespace.archs._arch_def import (
    BlockSpec,
    decode_arch_def,
    decode_block_str,
    make_divisible,
    round_channels,
    scale_stage_depth,
)
from edgespace.archs._registry import FamilyDef, SEDef, get_family, list_families, register_family, unregister_family

__all__ = [
    "BlockSpec",
    "FamilyDef",
    "SEDef",
    "decode_arch_def",
    "decode_block_str",
    "get_family",
    "list_families",
    "make_divisible",
    "register_family",
    "round_channels",
    "scale_stage_depth",
    "unregister_family",
]
