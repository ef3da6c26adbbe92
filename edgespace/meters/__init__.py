"""Power meters: RAPL (Linux powercap), NVML (NVIDIA GPUs), Jetson INA3221 rails.

:func:`get_meter` picks them by the device that ran and falls back to :class:`NullMeter`, whose windows report
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
    "AUTO_METERS",
    "JetsonMeter",
    "NvmlMeter",
    "RaplMeter",
]

#: Every meter by name (name → class).
METERS: dict[str, type[PowerMeter]] = {"jetson": JetsonMeter, "rapl": RaplMeter, "nvml": NvmlMeter}
#: Meters tried by ``get_meter("auto")`` for a run on each kind of device, in order: a CPU run is
#: read by a CPU-domain meter (RAPL's package, or a Jetson's module input, which feeds its CPU)
#: and never by a GPU board's; a CUDA run by its Jetson module or the NVML device it ran on.
AUTO_METERS: dict[str, tuple[str, ...]] = {"cpu": ("jetson", "rapl"), "cuda": ("jetson", "nvml")}


def get_meter(name: str = "auto", device=None) -> PowerMeter:
    """The first meter that works for a run on ``device`` (``"auto"``), or the named one;
    :class:`NullMeter` with the reasons when none does (``"none"`` asks for it directly).

    ``device``: ``"cpu"`` or a CUDA device (``"cuda:1"``, a torch.device or an index); the NVML
    meter of a CUDA device is the GPU it runs on (matched by UUID or PCI bus id, not by index). A
    named meter that cannot read ``device`` is refused with the reason. Without a device,
    ``"auto"`` reads as for a CPU run and a named meter opens its default device."""
    if name == "none":
        return NullMeter("power metering switched off (meter='none')")
    if not isinstance(name, str) or (name != "auto" and name not in METERS):
        raise NotFoundError(
            f"meter={name!r} is unavailable: no meter of that name; meters: auto, none, "
            f"{', '.join(METERS)} (each says why it cannot read power when it cannot)"
        )
    kind = "cpu" if device is None else _device_kind(device)
    if device is not None and name != "auto" and name not in AUTO_METERS[kind]:
        raise NotFoundError(
            f"meter={name!r} cannot measure a run on {device!s}: it reads {METERS[name].domain}; "
            f"meters for a {kind} run: auto, none, {', '.join(AUTO_METERS[kind])}"
        )
    reasons = []
    for key in AUTO_METERS[kind] if name == "auto" else (name,):
        if not (key == "nvml" and device is not None):  # a torch device's GPU is found below
            reason = METERS[key].unavailable_reason()
            if reason is not None:
                reasons.append(reason)
                continue
        try:
            if key == "nvml" and device is not None:
                return METERS[key].for_torch_device(device)
            return METERS[key]()
        except MeterInitError as exc:
            reasons.append(str(exc))
        except Exception as exc:  # a meter must never break a measurement
            reasons.append(f"{key}: {exc}")
    return NullMeter(f"no power meter available for a {kind} run: " + "; ".join(reasons))


def _device_kind(device) -> str:
    if isinstance(device, int) and not isinstance(device, bool):
        return "cuda"
    text = str(device)
    if text == "cpu":
        return "cpu"
    if text.startswith("cuda"):
        return "cuda"
    raise NotFoundError(f"get_meter(device={device!r}): allowed: 'cpu', 'cuda', 'cuda:N', a torch.device or an index")
