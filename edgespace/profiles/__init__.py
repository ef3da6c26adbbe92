"""Hardware profiles: devices, their named power modes, and every number with its source.

>>> from edgespace.profiles import load_profile, list_profiles
>>> p = load_profile("jetson-orin-nano-8gb")
>>> gpu = p.mode("15W").engine("gpu")
>>> gpu.peak_ops_per_s("int8")          # dense, operations per second

Shipped profiles live in the package's ``hwprofiles/`` folder; add your own by path or in a
directory named by ``EDGESPACE_PROFILE_PATH``. ``host`` is this machine, measured.
"""

from __future__ import annotations

from edgespace._ops import ACTIVATIONS, OP_CLASSES
from edgespace.profiles._host import CACHE_DIR_ENV, host_cache_path, measure_host
from edgespace.profiles._loader import (
    PROFILE_PATH_ENV,
    builtin_profile_dir,
    list_profiles,
    load_profile,
    load_profile_file,
    parse_profile,
    profile_dirs,
    validate_profile,
)
from edgespace.profiles._schema import (
    DvfsLevel,
    Engine,
    HardwareProfile,
    MemorySpec,
    OpSupport,
    PlacementSpec,
    PowerDomain,
    PowerMode,
    PowerSpec,
    Sourced,
    StandbySpec,
    ThermalSpec,
)

__all__ = [
    "ACTIVATIONS",
    "CACHE_DIR_ENV",
    "DvfsLevel",
    "Engine",
    "HardwareProfile",
    "MemorySpec",
    "OP_CLASSES",
    "OpSupport",
    "PROFILE_PATH_ENV",
    "PlacementSpec",
    "PowerDomain",
    "PowerMode",
    "PowerSpec",
    "Sourced",
    "StandbySpec",
    "ThermalSpec",
    "builtin_profile_dir",
    "host_cache_path",
    "list_profiles",
    "load_profile",
    "load_profile_file",
    "measure_host",
    "parse_profile",
    "profile_dirs",
    "validate_profile",
]
