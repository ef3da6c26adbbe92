"""The power-meter contract: one ABC, a measurement dataclass, and the stand-in for "no meter".

A meter measures energy over a window: ``begin_window()`` then ``end_window()`` returns an
:class:`EnergyWindow` with units in its field names. ``is_available()`` is a classmethod that
never raises; constructing a meter that is not available raises :class:`MeterInitError` saying
why and how to fix it. :class:`NullMeter` is what :func:`edgespace.meters.get_meter` returns when
no meter works: its windows carry ``energy_mj=None`` and the reason, never a made-up number.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass

from edgespace._errors import UnavailableError

__all__ = ["EnergyWindow", "PowerMeter", "NullMeter", "MeterInitError"]


class MeterInitError(UnavailableError):
    """A power meter cannot be opened here (missing device, driver or permission)."""


@dataclass(frozen=True)
class EnergyWindow:
    """Energy over one measurement window. ``energy_mj`` is None when nothing measured it, and
    ``unavailable_reason`` then says why."""

    duration_s: float
    energy_mj: float | None
    meter: str
    unavailable_reason: str | None = None

    @property
    def avg_power_w(self) -> float | None:
        if self.energy_mj is None or self.duration_s <= 0:
            return None
        return self.energy_mj / 1e3 / self.duration_s


class PowerMeter(abc.ABC):
    """A source of energy readings. Subclasses implement :meth:`is_available`, :meth:`_read_mj`
    (a cumulative energy counter in millijoules) and set :attr:`name`."""

    name: str = "meter"

    @classmethod
    @abc.abstractmethod
    def is_available(cls) -> bool:
        """Whether this meter can be read here. Never raises."""

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
        return EnergyWindow(time.perf_counter() - t0, self._delta_mj(e0, e1), self.name)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device (threads, handles); does nothing by default."""


class NullMeter(PowerMeter):
    """No power meter: every window reports ``energy_mj=None`` with the reason."""

    name = "none"

    def __init__(self, reason: str = "no power meter found") -> None:
        self.reason = reason

    @classmethod
    def is_available(cls) -> bool:
        return True

    def _read_mj(self) -> float:  # pragma: no cover - never used
        return 0.0

    def begin_window(self) -> tuple[float, float]:
        return time.perf_counter(), 0.0

    def end_window(self, token: tuple[float, float]) -> EnergyWindow:
        return EnergyWindow(time.perf_counter() - token[0], None, self.name, self.reason)
