"""A power mode: what one setting of a device is made of (engines, memory, power, placement,
thermal, standby), self-contained so that a cost model needs only ``LayerTable + PowerMode``."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edgespace._errors import ProfileError
from edgespace._ops import PLACEMENTS
from edgespace.profiles._schema import Celsius, Engine, Fraction, NonNegative, Positive, _Model

__all__ = [
    "MemorySpec",
    "PowerDomain",
    "PowerSpec",
    "PlacementSpec",
    "ModeOrderException",
    "ThermalSpec",
    "StandbySpec",
    "PowerMode",
]


class MemorySpec(_Model):
    """Main memory as a mode sees it. ``usable_fraction`` is the share of capacity a model may
    take (OS, display and runtime take the rest; unified memory is shared with the CPU)."""

    capacity_gb: Positive
    usable_fraction: Fraction
    peak_bandwidth_gb_s: Positive
    achievable_fraction: Fraction
    energy_pj_per_byte: Positive

    @property
    def usable_bytes(self) -> float:
        return self.capacity_gb.value * 1e9 * self.usable_fraction.value

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Achievable bandwidth: peak × achievable fraction, in bytes per second."""
        return self.peak_bandwidth_gb_s.value * 1e9 * self.achievable_fraction.value

    @property
    def energy_j_per_byte(self) -> float:
        return self.energy_pj_per_byte.value * 1e-12


class PowerDomain(_Model):
    """A separately supplied part of a mode (e.g. a USB accelerator's bus-powered domain) with
    its own static draw and cap: ``engines`` in it may together draw at most
    ``budget_w - static_w`` of dynamic power. ``static_w`` is part of the mode's ``static_w``."""

    engines: tuple[str, ...]
    static_w: NonNegative
    budget_w: Positive
    description: str = ""


class PowerSpec(_Model):
    """Power of the device in one mode.

    ``idle_w``: powered on, in this mode, doing nothing (between frames of a duty cycle).
    ``static_w``: drawn while inferring, beyond the engines' dynamic power (leakage, uncore,
    memory controller, rails) — average power while busy ≈ static_w + engine active power; a
    busy device draws at least its idle power, so ``static_w >= idle_w``.
    ``budget_w``: the mode's power cap (nvpmodel budget, TDP or PSU limit) over everything.
    ``domains``: caps that apply to a part of the mode only (see :class:`PowerDomain`).
    """

    idle_w: NonNegative
    static_w: NonNegative
    budget_w: Positive
    domains: dict[str, PowerDomain] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _busy_at_least_idle(self) -> PowerSpec:
        if self.static_w.value < self.idle_w.value:
            raise ValueError(
                f"static_w {self.static_w.value:g} is below idle_w {self.idle_w.value:g}: "
                "a device inferring draws at least its idle power"
            )
        for name, d in self.domains.items():
            if d.static_w.value > self.static_w.value:
                raise ValueError(f"domains.{name}.static_w exceeds the mode's static_w (it is a part of it)")
            if d.static_w.value >= d.budget_w.value:
                raise ValueError(f"domains.{name}: static_w must be below budget_w")
        return self


class PlacementSpec(_Model):
    """Another way to place a network on a mode (e.g. ``dla``: the DLA first, GPU fallback)."""

    primary_engine: str
    fallback_engine: str | None = None
    fallback_sync_us: NonNegative | None = None
    description: str = ""


class ModeOrderException(_Model):
    """This mode may be slower than the named lower modes, because the published caps say so."""

    modes: tuple[str, ...]
    source: str


class ThermalSpec(_Model):
    """Lumped RC thermal model of the hot spot against ambient, and its throttle trip.

    T(t) = T_amb + P·R·(1 − e^(−t/RC)); the governor steps down DVFS levels when T reaches
    ``trip_c`` and steps up again ``hysteresis_c`` below it.
    """

    thermal_resistance_c_per_w: Positive
    heat_capacity_j_per_c: Positive
    trip_c: Celsius
    hysteresis_c: NonNegative
    ambient_c: Celsius
    cooling: Literal["fan", "passive", "none"]

    @property
    def time_constant_s(self) -> float:
        return self.thermal_resistance_c_per_w.value * self.heat_capacity_j_per_c.value


class StandbySpec(_Model):
    """Device-level sleep state (suspend-to-RAM / SC7 / halt) for duty-cycled budgets."""

    sleep_w: NonNegative
    wake_s: NonNegative | None = None
    description: str = ""


class PowerMode(_Model):
    """A named power mode: engines, memory, power, thermal and where operators run.

    ``primary_engine`` runs the model; an operator or precision it lacks runs on
    ``fallback_engine`` and pays ``fallback_sync_us`` plus the transfer of its input and output
    both ways, at ``interconnect_gb_s`` (e.g. USB for a plug-in accelerator) or, where that is not
    given (unified memory), at the achievable main-memory bandwidth.
    """

    name: str = ""
    description: str = ""
    engines: dict[str, Engine]
    primary_engine: str
    fallback_engine: str | None = None
    fallback_sync_us: NonNegative | None = None
    interconnect_gb_s: Positive | None = None
    memory: MemorySpec
    power: PowerSpec
    thermal: ThermalSpec
    placements: dict[str, PlacementSpec] = Field(default_factory=dict)
    slower_than: ModeOrderException | None = None

    @field_validator("engines")
    @classmethod
    def _has_engines(cls, v: dict[str, Engine]) -> dict[str, Engine]:
        if not v:
            raise ValueError("a mode needs at least one engine (e.g. gpu: {...}, cpu: {...})")
        for key in v:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                raise ValueError(f"engine name {key!r}: use lower-case letters, digits and _")
        return v

    @model_validator(mode="after")
    def _engines_exist(self) -> PowerMode:
        names = ", ".join(self.engines)
        if self.primary_engine not in self.engines:
            raise ValueError(f"primary_engine {self.primary_engine!r} is not an engine of this mode; engines: {names}")
        if self.fallback_engine is not None:
            if self.fallback_engine not in self.engines:
                raise ValueError(
                    f"fallback_engine {self.fallback_engine!r} is not an engine of this mode; engines: {names}"
                )
            if self.fallback_engine == self.primary_engine:
                raise ValueError("fallback_engine must differ from primary_engine")
            if self.fallback_sync_us is None:
                raise ValueError("a mode with a fallback_engine needs fallback_sync_us")
        for name, d in self.power.domains.items():
            for e in d.engines:
                if e not in self.engines:
                    raise ValueError(
                        f"power.domains.{name}.engines: {e!r} is not an engine of this mode; engines: {names}"
                    )
        allowed = [p for p in PLACEMENTS if p != "auto"]
        for key, pl in self.placements.items():
            if key not in allowed:
                raise ValueError(f"placements.{key}: unknown placement; allowed: {', '.join(allowed)}")
            for role, e in (("primary_engine", pl.primary_engine), ("fallback_engine", pl.fallback_engine)):
                if e is not None and e not in self.engines:
                    raise ValueError(f"placements.{key}.{role} {e!r} is not an engine of this mode; engines: {names}")
            if pl.fallback_engine is not None and pl.fallback_sync_us is None:
                raise ValueError(f"placements.{key}: a fallback_engine needs fallback_sync_us")
        return self

    # -- accessors ------------------------------------------------------------------------
    def engine(self, name: str | None = None) -> Engine:
        """An engine by name (default: the primary engine); ProfileError lists the engines."""
        key = self.primary_engine if name is None else name
        try:
            return self.engines[key]
        except KeyError:
            raise ProfileError(
                f"mode {self.name!r}: engine {key!r}: unknown; engines: {', '.join(self.engines)}"
            ) from None

    @property
    def primary(self) -> Engine:
        return self.engines[self.primary_engine]

    @property
    def fallback(self) -> Engine | None:
        return None if self.fallback_engine is None else self.engines[self.fallback_engine]

    @property
    def placement_names(self) -> list[str]:
        """Placements this mode accepts: ``auto`` (the primary engine) and any listed in
        ``placements``; the primary engine's kind names ``auto`` too (``gpu`` on a Jetson)."""
        out = ["auto"]
        kind = self.primary.kind
        if kind in PLACEMENTS and kind not in out:
            out.append(kind)
        return out + [p for p in self.placements if p not in out]

    @property
    def fallback_sync_s(self) -> float:
        return 0.0 if self.fallback_sync_us is None else self.fallback_sync_us.value * 1e-6

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Achievable main-memory bandwidth (peak × achievable fraction), bytes per second."""
        return self.memory.bandwidth_bytes_per_s

    @property
    def interconnect_bytes_per_s(self) -> float:
        """Bandwidth for fallback transfers between engines, bytes per second."""
        if self.interconnect_gb_s is None:
            return self.memory.bandwidth_bytes_per_s
        return self.interconnect_gb_s.value * 1e9

    @property
    def usable_memory_bytes(self) -> float:
        return self.memory.usable_bytes

    @property
    def budget_w(self) -> float:
        return self.power.budget_w.value

    @property
    def idle_w(self) -> float:
        return self.power.idle_w.value

    @property
    def static_w(self) -> float:
        return self.power.static_w.value
