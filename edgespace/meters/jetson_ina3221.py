"""NVIDIA Jetson module power from its INA3221 rail monitors, sampled and integrated.

The rails appear in sysfs as the L4T documentation describes ("Software-Based Power Consumption
Modeling" in each module's power pages):

* JetPack 5/6 (Orin, and Xavier on L4T 35): ``/sys/bus/i2c/drivers/ina3221/<bus>/hwmon/hwmon<N>/``
  with ``in<K>_label`` (the rail name, e.g. ``VDD_IN``), ``in<K>_input`` (mV) and
  ``curr<K>_input`` (mA);
* L4T 32 (Nano, TX2, Xavier): ``/sys/bus/i2c/drivers/ina3221x/<bus>/iio:device<N>/`` with
  ``rail_name_<K>`` (e.g. ``POM_5V_IN``, ``VDD_IN``), ``in_power<K>_input`` (mW),
  ``in_voltage<K>_input`` (mV) and ``in_current<K>_input`` (mA).

The meter reads the **module input** rail, picked by its label (``VDD_IN``, ``POM_5V_IN``; not
the first rail found: channel order differs between modules). A window samples it at its start,
every ``interval_s`` in a background thread, and at its end, and integrates (trapezoid rule); a
window with fewer than two samples (one shorter than ``interval_s``: only its start was read)
reports None with the reason; the end reading is added only to a window already sampled twice.

Why not Zeus's Jetson monitor (``zeus.device.soc.jetson``)? It reads the same files, but it
fixes the sysfs root (no test on documented trees), polls in a separate process and reports
cumulative energy without the number of samples behind it, so a too-short window cannot be told
apart from a measured one; jetson-stats (``jtop``) needs its service on the device. This reader
is a few dozen lines over the documented files.
"""

from __future__ import annotations

import glob
import platform
import threading
import time
from pathlib import Path

from edgespace.meters.common import EnergyWindow, MeterInitError, PowerMeter

__all__ = ["JetsonMeter", "jetson_rails", "MODULE_INPUT_LABELS", "I2C_DRIVERS"]

_TEGRA_RELEASE = Path("/etc/nv_tegra_release")
I2C_DRIVERS = "/sys/bus/i2c/drivers"
#: Labels of the module-input rail, in order of preference (Orin/Xavier NX, Nano).
MODULE_INPUT_LABELS = ("VDD_IN", "POM_5V_IN")


def _read_int(p: Path) -> int:
    return int(p.read_text().strip())


def jetson_rails(root: str | Path = I2C_DRIVERS) -> dict[str, callable]:
    """``{label: read_power_w}`` for every INA3221 rail under ``root``; empty when there are none."""
    rails: dict[str, callable] = {}
    for hw in sorted(glob.glob(f"{root}/ina3221*/*/hwmon/hwmon*")):
        for label in sorted(glob.glob(f"{hw}/in*_label")):
            k = Path(label).name[2:].split("_")[0]
            v, i = Path(hw) / f"in{k}_input", Path(hw) / f"curr{k}_input"
            if v.exists() and i.exists():
                rails.setdefault(Path(label).read_text().strip(), lambda v=v, i=i: _read_int(v) * _read_int(i) / 1e6)
    for dev in sorted(glob.glob(f"{root}/ina3221*/*/iio:device*")):
        for name in sorted(glob.glob(f"{dev}/rail_name_*")):
            k = Path(name).name.rsplit("_", 1)[1]
            p = Path(dev) / f"in_power{k}_input"
            v, i = Path(dev) / f"in_voltage{k}_input", Path(dev) / f"in_current{k}_input"
            label = Path(name).read_text().strip()
            if p.exists():
                rails.setdefault(label, lambda p=p: _read_int(p) / 1e3)
            elif v.exists() and i.exists():
                rails.setdefault(label, lambda v=v, i=i: _read_int(v) * _read_int(i) / 1e6)
    return rails


class JetsonMeter(PowerMeter):
    """Module-input power of a Jetson (see the module docstring). ``root``: the i2c drivers
    directory (a test points it at a tree laid out as documented)."""

    name = "jetson-ina3221"
    domain = "module-input"

    def __init__(
        self, interval_s: float = 0.01, *, root: str | Path = I2C_DRIVERS, check_platform: bool = True
    ) -> None:
        reason = self.unavailable_reason(root=root, check_platform=check_platform)
        if reason is not None:
            raise MeterInitError(reason)
        rails = jetson_rails(root)
        label = next(lb for lb in MODULE_INPUT_LABELS if lb in rails)
        self.rail = label
        self._read = rails[label]
        self.interval_s = float(interval_s)
        self.update_period_s = self.interval_s

    @staticmethod
    def _on_jetson() -> bool:
        return platform.system() == "Linux" and platform.machine() == "aarch64" and _TEGRA_RELEASE.exists()

    @classmethod
    def unavailable_reason(cls, *, root: str | Path = I2C_DRIVERS, check_platform: bool = True) -> str | None:
        if check_platform and not cls._on_jetson():
            return "Jetson: not a Jetson (no /etc/nv_tegra_release on Linux aarch64)"
        try:
            rails = jetson_rails(root)
        except OSError as exc:
            return f"Jetson: cannot read the INA3221 rails under {root} ({exc})"
        if not rails:
            return f"Jetson: no INA3221 power rails under {root} (sysfs not readable, or not a Jetson)"
        if not any(lb in rails for lb in MODULE_INPUT_LABELS):
            return (
                f"Jetson: no module-input rail ({' or '.join(MODULE_INPUT_LABELS)}) under {root}; rails: "
                f"{', '.join(sorted(rails))} (per-subsystem rails are not summed into a module figure)"
            )
        return None

    def _read_mj(self) -> float:  # pragma: no cover - windows integrate instead
        raise NotImplementedError

    def power_w(self) -> float:
        return self._read()

    def begin_window(self):
        state = {"stop": threading.Event(), "samples": [(time.perf_counter(), self._read())], "lock": threading.Lock()}

        def sample() -> None:
            while not state["stop"].wait(self.interval_s):
                s = (time.perf_counter(), self._read())
                with state["lock"]:
                    state["samples"].append(s)

        thread = threading.Thread(target=sample, daemon=True)
        state["thread"] = thread
        thread.start()
        return state["samples"][0][0], state

    def end_window(self, token) -> EnergyWindow:
        t0, state = token
        state["stop"].set()
        state["thread"].join()
        t1 = time.perf_counter()
        samples = list(state["samples"])
        if len(samples) < 2:
            # only the start reading: the window was shorter than the sampling interval, and an
            # end reading added now would make two samples out of one interval's guess
            return window_from_samples(samples, self.name, self.rail, t1 - t0)
        if t1 > samples[-1][0]:
            samples.append((t1, self._read()))  # the window's end
        return window_from_samples(samples, self.name, self.rail)


def window_from_samples(
    samples, meter: str = "jetson-ina3221", rail: str = "VDD_IN", duration_s: float | None = None
) -> EnergyWindow:
    """Energy (trapezoid rule) over ``(t_s, power_w)`` samples; None below two samples taken at
    distinct times. ``duration_s``: the window's length where it is not the samples' span."""
    duration = samples[-1][0] - samples[0][0] if samples else 0.0
    distinct = len({t for t, _ in samples})
    if distinct < 2 or duration <= 0:
        return EnergyWindow(
            max(duration if duration_s is None else duration_s, 0.0),
            None,
            meter,
            f"{meter}: {distinct} {rail} sample(s) at distinct times in the window (at least 2 needed; "
            "the window was shorter than the sampling interval)",
            domain="module-input",
            samples=len(samples),
        )
    energy_j = sum(0.5 * (p0 + p1) * (t1 - t0) for (t0, p0), (t1, p1) in zip(samples, samples[1:], strict=False))
    return EnergyWindow(duration, energy_j * 1e3, meter, domain="module-input", samples=len(samples))
