"""Intel/AMD RAPL package energy through Linux powercap (``/sys/class/powercap/intel-rapl:N``).

Reads ``energy_uj`` of every top-level package domain and sums them; handles the counter's
wraparound with ``max_energy_range_uj`` (a window in which a counter went down and that range
cannot be read reports no energy, with the reason, rather than a negative number; a window long
enough for a counter to wrap twice cannot be told apart: keep windows well under the wrap period,
range / package power, about an hour at 65 W for a 2^32 uJ range). Needs read permission on ``energy_uj`` (root on recent
kernels: ``sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj``). Package energy covers
the whole CPU socket, not only this process.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from edgespace.meters.common import MeterInitError, PowerMeter

__all__ = ["RaplMeter", "POWERCAP_ROOT"]

POWERCAP_ROOT = Path("/sys/class/powercap")
_PKG = re.compile(r"^intel-rapl:\d+$")


def _domains(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if _PKG.match(p.name) and (p / "energy_uj").exists())
    except OSError:
        return []


class RaplMeter(PowerMeter):
    domain = "cpu-package"
    name = "rapl"
    #: RAPL's energy status registers update about every millisecond (Intel SDM vol. 3B, 15.10.1:
    #: "updated approximately every 1 ms"; the energy unit itself is 2^-ESU J).
    update_period_s = 0.001

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else POWERCAP_ROOT
        reason = self.unavailable_reason(root=self.root)
        if reason is not None:
            raise MeterInitError(reason)
        self.domains = _domains(self.root)
        self.ranges_uj: list[int | None] = []
        for d in self.domains:
            try:
                rng = int((d / "max_energy_range_uj").read_text())
            except (OSError, ValueError):
                rng = None
            self.ranges_uj.append(rng if rng is not None and rng > 0 else None)

    @classmethod
    def unavailable_reason(cls, root: Path | None = None) -> str | None:
        root = Path(root) if root is not None else POWERCAP_ROOT
        domains = _domains(root)
        if not domains:
            return f"RAPL: no package domain under {root} (not Linux, no powercap driver, or a VM)"
        for d in domains:
            if not os.access(d / "energy_uj", os.R_OK):
                return (
                    f"RAPL: {d / 'energy_uj'} is not readable; run as root or "
                    "`sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj`"
                )
        return None

    def _read_each_uj(self) -> list[int]:
        return [int((d / "energy_uj").read_text()) for d in self.domains]

    def begin_window(self):
        import time

        return time.perf_counter(), self._read_each_uj()

    def end_window(self, token):
        import time

        from edgespace.meters.common import EnergyWindow

        t0, e0 = token
        e1 = self._read_each_uj()
        duration_s = time.perf_counter() - t0
        total = 0
        for d, a, b, rng in zip(self.domains, e0, e1, self.ranges_uj, strict=True):
            if b >= a:
                total += b - a
            elif rng is not None:
                total += b + rng - a  # wrapped once
            else:
                reason = (
                    f"RAPL: {d / 'energy_uj'} wrapped and {d / 'max_energy_range_uj'} is unreadable, "
                    "so the energy of this window is unknown"
                )
                return EnergyWindow(duration_s, None, self.name, energy_unavailable_reason=reason, domain=self.domain)
        return self._window(duration_s, e0, e1, total / 1e3)

    def _read_mj(self) -> float:
        return sum(self._read_each_uj()) / 1e3
