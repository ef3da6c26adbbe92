"""Hardware profiles: devices, their named power modes, and every number with its source.

>>> from edgespace.profiles import load_profile, list_profiles
>>> p = load_profile("jetson-orin-nano-8gb")
>>> gpu = p.mode("15W").engine("gpu")
>>> gpu.peak_ops_per_s("int8")          # dense, operations per second

Shipped profiles live in the package's ``hwprofiles/`` folder; add your own by path or in a
directory named by ``EDGESPACE_PROFILE_PATH``. ``host`` is this machine, measured.
"""

from __future__ import annotations

from edgespace.profiles._host import measure_host
from edgespace.profiles._loader import (
    builtin_profile_dir,
    list_profiles,
    load_profile,
    load_profile_file,
    parse_profile,
    validate_profile,
)
from edgespace.profiles._mode import (
    MemorySpec,
    PlacementSpec,
    PowerDomain,
    PowerMode,
    PowerSpec,
    StandbySpec,
    ThermalSpec,
)
from edgespace.profiles._profile import HardwareProfile
from edgespace.profiles._schema import DvfsLevel, Engine, OpSupport, Sourced

__all__ = [
    "DvfsLevel",
    "Engine",
    "HardwareProfile",
    "MemorySpec",
    "OpSupport",
    "PlacementSpec",
    "PowerDomain",
    "PowerMode",
    "PowerSpec",
    "Sourced",
    "StandbySpec",
    "ThermalSpec",
    "builtin_profile_dir",
    "list_profiles",
    "load_profile",
    "load_profile_file",
    "measure_host",
    "parse_profile",
    "validate_profile",
]
