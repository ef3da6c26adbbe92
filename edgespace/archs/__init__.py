"""Architecture families: arch-def decoding and the family registry."""

from edgespace._lazy import lazy_getattr
from edgespace.archs import _families  # noqa: F401  (registers the shipped families)
from edgespace.archs._registry import FamilyDef, SEDef, get_family, list_families, register_family, unregister_family

__all__ = [
    "FamilyDef",
    "SEDef",
    "get_family",
    "list_families",
    "register_family",
    "unregister_family",
]

#: Names that left this package's public surface in 0.2 (issue 17): still importable for one
#: release, with a DeprecationWarning naming their home. name -> (module, name there).
_MOVED = {
    "BlockSpec": ("edgespace.archs._arch_def", "BlockSpec"),
    "decode_arch_def": ("edgespace.archs._arch_def", "decode_arch_def"),
    "decode_block_str": ("edgespace.archs._arch_def", "decode_block_str"),
    "make_divisible": ("edgespace.archs._arch_def", "make_divisible"),
    "round_channels": ("edgespace.archs._arch_def", "round_channels"),
    "scale_stage_depth": ("edgespace.archs._arch_def", "scale_stage_depth"),
}
__getattr__ = lazy_getattr("edgespace.archs", {}, _MOVED)
