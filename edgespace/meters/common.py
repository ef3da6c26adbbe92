"""The power-meter contract: one ABC, a measurement dataclass, and the stand-in for "no meter".

A meter measures energy over a window: ``begin_window()`` then ``end_window()`` returns an
:class:`EnergyWindow` with units in its field names. ``unavailable_reason()`` is a classmethod
probe that never raises and leaves nothing initialised (``is_available()`` is derived from it);
constructing a meter that is not available raises :class:`MeterInitError` with that reason. :class:`NullMeter` is what :func:`edgespace.meters.get_meter` returns when
no meter works: its windows carry ``energy_mj=None`` and the reason, never a made-up number.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass

from edgespace._errors import UnavailableError

__all__ = ["EnergyWindow", "PowerMeter", "NullMeter", "MeterInitError", "window_too_short"]


class MeterInitError(UnavailableError):
    """A power meter cannot be opened here (missing device, driver or permission)."""


#: What a meter's reading covers (``PowerMeter.domain``).
METER_DOMAINS = ("cpu-package", "gpu-board", "module-input")


@dataclass(frozen=True)
class EnergyWindow:
    """Energy over one measurement window. ``energy_mj`` (the window's total) is None when
    nothing measured it, and ``energy_unavailable_reason`` then says why. ``domain``: what the
    meter covers (:data:`METER_DOMAINS`); ``samples``: readings taken (sampling meters)."""

    duration_s: float
    energy_mj: float | None
    meter: str
    energy_unavailable_reason: str | None = None
    domain: str = ""
    samples: int | None = None

    @property
    def avg_power_w(self) -> float | None:
        if self.energy_mj is None or self.duration_s <= 0:
            return None
        return self.energy_mj / 1e3 / self.duration_s


class PowerMeter(abc.ABC):
    """A source of energy readings. Subclasses implement :meth:`unavailable_reason` (one cheap
    probe), :meth:`_read_mj` (a cumulative energy counter in millijoules) and set :attr:`name`."""

    name: str = "meter"
    #: What the reading covers: one of :data:`METER_DOMAINS` ("" when nothing is measured).
    domain: str = ""
    #: How often the reading changes (s): a window shorter than this reports no energy.
    update_period_s: float = 0.0

    @classmethod
    @abc.abstractmethod
    def unavailable_reason(cls, **probe) -> str | None:
        """Why this meter cannot be read here, or None where it can: one cheap probe that never
        raises and leaves nothing initialised (``probe``: where to look, as the constructor takes it)."""

    @classmethod
    def is_available(cls, **probe) -> bool:
        """Whether this meter can be read here: :meth:`unavailable_reason` is None."""
        return cls.unavailable_reason(**probe) is None

    @abc.abstractmethod
    def _read_mj(self) -> float:
        """Cumulative energy in millijoules (monotonic apart from counter wraparound)."""

    def _delta_mj(self, start: float, end: float) -> float:
        return end - start

    def begin_window(self) -> tuple[float, float]:
        return time.perf_counter(), self._read_mj()

    def end_window(self, token: tuple[float, float]) -> EnergyWindow:
        t0, e0 = token
        e1 = self._read_mj()
        return self._window(time.perf_counter() - t0, e0, e1, self._delta_mj(e0, e1))

    def _window(self, duration_s: float, e0, e1, delta_mj: float | None) -> EnergyWindow:
        """The window's energy, or None with the reason when the counter cannot have measured it:
        a window shorter than :attr:`update_period_s`, or a counter read the same at both ends
        (fewer than two distinct readings: 0.0 would be a repeated reading, not a measurement)."""
        why = window_too_short(self, duration_s)
        if why is None and e1 == e0:
            why = (
                f"{self.name}: the energy counter read {e0} at both ends of the {duration_s:.4g} s window "
                "(fewer than two distinct readings: it updates more slowly than the window)"
            )
        if why is not None:
            return EnergyWindow(duration_s, None, self.name, why, domain=self.domain)
        return EnergyWindow(duration_s, delta_mj, self.name, domain=self.domain)

    def idle_power_w(self, seconds: float = 0.5) -> float | None:
        """Average power over ``seconds`` of doing nothing, measured now (None where the meter
        measures nothing). Taken just before a timed window, reported beside it."""
        token = self.begin_window()
        time.sleep(seconds)
        return self.end_window(token).avg_power_w

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device (threads, handles); does nothing by default."""


def window_too_short(meter: PowerMeter, duration_s: float) -> str | None:
    """The reason a window of ``duration_s`` is below ``meter``'s update period, or None."""
    if duration_s < meter.update_period_s:
        return (
            f"{meter.name}: the window lasted {duration_s:.4g} s, shorter than the meter's update period "
            f"({meter.update_period_s:g} s); run longer (duration_s=...) for a measured energy"
        )
    return None


class NullMeter(PowerMeter):
    """No power meter: every window reports ``energy_mj=None`` with the reason."""

    name = "none"

    def __init__(self, reason: str = "no power meter found") -> None:
        self.reason = reason

    @classmethod
    def unavailable_reason(cls, **probe) -> str | None:
        return None

    def _read_mj(self) -> float:  # pragma: no cover - never used
        return 0.0

    def begin_window(self) -> tuple[float, float]:
        return time.perf_counter(), 0.0

    def end_window(self, token: tuple[float, float]) -> EnergyWindow:
        return EnergyWindow(time.perf_counter() - token[0], None, self.name, self.reason)

    def idle_power_w(self, seconds: float = 0.5) -> float | None:
        return None  # nothing to measure: no need to wait
