"""Which power mode of a profile a Jetson capture ran in: the mode ``nvpmodel -q`` named, checked
against the clocks tegrastats logged during the capture."""

from __future__ import annotations

import re

import numpy as np

from edgespace.meters.tegrastats import TegrastatsError, TegrastatsLog
from edgespace.profiles import load_profile

__all__ = ["tag_mode"]


def tag_mode(profile, nvpmodel: str, log: TegrastatsLog | None = None, *, tolerance: float = 0.02) -> str:
    """The power mode of ``profile`` a capture belongs to: the one ``nvpmodel -q`` named (by mode
    name, or the nvpmodel name its description starts with, e.g. ``MAXN``), checked against the
    clocks in ``log``: a CPU or GPU clock above the mode's maximum (by more than ``tolerance``)
    means the capture did not run in that mode, and it is refused (:class:`TegrastatsError`)."""
    prof = load_profile(profile) if isinstance(profile, str) else profile
    text = str(nvpmodel).strip()
    m = re.search(r"NV Power Mode:\s*(\S+)", text)
    name = m.group(1) if m else text.splitlines()[0].strip() if text else ""
    chosen = None
    for mode_name, mode in prof.modes.items():
        desc = (getattr(mode, "description", "") or "").upper()
        if (
            name == mode_name
            or name.upper() == mode_name.upper()
            or desc.startswith(name.upper() + ":")
            or desc.startswith(name.upper() + " ")
        ):
            chosen = mode_name
            break
    if chosen is None:
        raise TegrastatsError(
            f"nvpmodel mode {name!r} is not a mode of {prof.name}; its modes: {', '.join(prof.modes)}"
        )
    if log is None:
        return chosen
    mode = prof.mode(chosen)
    for kind, seen in (("cpu", log.cpu_mhz), ("gpu", log.gpu_mhz)):
        engine = next((e for e in mode.engines.values() if getattr(e, "kind", "") == kind), None)
        if engine is None or not np.isfinite(seen).any():
            continue
        cap = float(engine.clock_mhz.value)
        top = float(np.nanmax(seen))
        if top > cap * (1 + tolerance):
            raise TegrastatsError(
                f"{log.source}: {kind.upper()} ran at {top:g} MHz but mode {chosen} of {prof.name} caps it "
                f"at {cap:g} MHz: the clocks disagree with nvpmodel {name!r}; not tagging this capture"
            )
    return chosen
