"""Power meters: RAPL (Linux powercap), NVML (NVIDIA GPUs), Jetson INA3221 rails.

:func:`get_meter` tries them in order and falls back to :class:`NullMeter`, whose windows report
``energy_mj=None`` with the reason each meter was unavailable. Nothing here ever estimates energy.
"""

from __future__ import annotations

from edgespace._errors import NotFoundError
from edgespace.meters.common import EnergyWindow, MeterInitError, NullMeter, PowerMeter
from edgespace.meters.jetson_ina3221 import JetsonMeter
from edgespace.meters.nvml import NvmlMeter
from edgespace.meters.rapl import RaplMeter

__all__ = [
    "EnergyWindow",
    "MeterInitError",
    "NullMeter",
    "PowerMeter",
    "get_meter",
    "METERS",
    "JetsonMeter",
    "NvmlMeter",
    "RaplMeter",
]

#: Tried in this order by :func:`get_meter` (name → class).
METERS: dict[str, type[PowerMeter]] = {"jetson": JetsonMeter, "rapl": RaplMeter, "nvml": NvmlMeter}


def get_meter(name: str = "auto") -> PowerMeter:
    """The first meter that works (``"auto"``), or the named one; :class:`NullMeter` with the
    reasons when none does (``"none"`` asks for it directly)."""
    if name == "none":
        return NullMeter("power metering switched off (meter='none')")
    if not isinstance(name, str) or (name != "auto" and name not in METERS):
        raise NotFoundError(
            f"meter={name!r} is unavailable: no meter of that name; meters: auto, none, "
            f"{', '.join(METERS)} (each says why it cannot read power when it cannot)"
        )
    reasons = []
    for key, cls in METERS.items():
        if name not in ("auto", key):
            continue
        reason = cls.unavailable_reason()
        if reason is not None:
            reasons.append(reason)
            continue
        try:
            return cls()
        except MeterInitError as exc:
            reasons.append(str(exc))
        except Exception as exc:  # a meter must never break a measurement
            reasons.append(f"{key}: {exc}")
    return NullMeter("no power meter available: " + "; ".join(reasons))
