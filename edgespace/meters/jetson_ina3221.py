"""NVIDIA Jetson board power from its INA3221 rail monitors, sampled and integrated.

The rails appear under ``/sys/bus/i2c/drivers/ina3221*/*/hwmon/hwmon*/`` as ``in{N}_label``,
``in{N}_input`` (mV) and ``curr{N}_input`` (mA) on JetPack 5/6, and as
``iio:device*/in_power{N}_input`` (mW) on older releases. A background thread samples the total
power every ``interval_s`` and integrates it (trapezoid rule).
"""

from __future__ import annotations

import glob
import platform
import threading
import time
from pathlib import Path

from edgespace.meters.common import EnergyWindow, MeterInitError, PowerMeter

__all__ = ["JetsonMeter", "jetson_rails"]

_TEGRA_RELEASE = Path("/etc/nv_tegra_release")


def jetson_rails(root: str = "/sys/bus/i2c/drivers") -> list[tuple[str, callable]]:
    """(label, read_power_w) for every rail found; empty when there are none."""
    rails = []
    for hw in sorted(glob.glob(f"{root}/ina3221*/*/hwmon/hwmon*")):
        for label in sorted(glob.glob(f"{hw}/in*_label")):
            n = Path(label).name[2:].split("_")[0]
            v, i = Path(hw) / f"in{n}_input", Path(hw) / f"curr{n}_input"
            if v.exists() and i.exists():
                rails.append((Path(label).read_text().strip(),
                              lambda v=v, i=i: int(v.read_text()) * int(i.read_text()) / 1e6))  # fmt: skip
    if not rails:
        for p in sorted(glob.glob(f"{root}/ina3221*/*/iio:device*/in_power*_input")):
            rails.append((Path(p).name, lambda p=Path(p): int(p.read_text()) / 1e3))
    return rails


class JetsonMeter(PowerMeter):
    domain = "module-input"
    name = "jetson-ina3221"

    def __init__(self, interval_s: float = 0.01) -> None:
        if not self.is_available():
            raise MeterInitError("Jetson: no INA3221 power rails found (not a Jetson, or sysfs not readable)")
        self.rails = jetson_rails()
        self.interval_s = interval_s

    @classmethod
    def is_available(cls) -> bool:
        try:
            return (platform.system() == "Linux" and platform.machine() == "aarch64"
                    and _TEGRA_RELEASE.exists() and bool(jetson_rails()))  # fmt: skip
        except Exception:
            return False

    def _power_w(self) -> float:
        # The first rail on JetPack 5/6 modules is the module input (VDD_IN): total power.
        return self.rails[0][1]()

    def _read_mj(self) -> float:  # pragma: no cover - windows integrate instead
        raise NotImplementedError

    def begin_window(self):
        state = {"stop": threading.Event(), "energy_j": 0.0}

        def sample() -> None:
            t_prev, p_prev = time.perf_counter(), self._power_w()
            while not state["stop"].wait(self.interval_s):
                t, p = time.perf_counter(), self._power_w()
                state["energy_j"] += 0.5 * (p + p_prev) * (t - t_prev)
                t_prev, p_prev = t, p

        thread = threading.Thread(target=sample, daemon=True)
        state["thread"] = thread
        t0 = time.perf_counter()
        thread.start()
        return t0, state

    def end_window(self, token) -> EnergyWindow:
        t0, state = token
        state["stop"].set()
        state["thread"].join()
        return EnergyWindow(time.perf_counter() - t0, state["energy_j"] * 1e3, self.name)
