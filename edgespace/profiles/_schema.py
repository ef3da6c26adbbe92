"""The hardware-profile schema (pydantic v2): a device, its named power modes, and every number
with its source.

A profile is plain data that the cost models read: :class:`HardwareProfile` holds named
:class:`PowerMode` objects, and a mode is self-contained (engines, memory, power, thermal,
operator support), so a cost model needs only ``LayerTable + PowerMode``. Shared blocks are
written once in YAML with anchors (``&gpu`` / ``<<: *gpu``), not inherited in code.

A top-level ``_shared:`` mapping may hold anchored blocks; it is dropped after YAML resolves
the aliases.

**Every number is a** :class:`Sourced` **value**, written in YAML as one of::

    peak_gflops_fp16: {value: 17000, source: "[tb] GPU section: ..."}
    achievable_fraction: {value: 0.7, estimate: "STREAM copy reaches ~70% of LPDDR5 peak"}

``source`` cites a datasheet, developer guide, paper, configuration file or "measured by
edgespace on DATE: METHOD"; a ``[key]`` anywhere in it cites the profile's ``references`` table
(an unknown key is an error).
``estimate`` is a one-line rationale for a number nobody published. A bare number, or one with
neither (or both), is rejected when the profile is loaded.

Units live in field names: ``_mhz``, ``_gflops_*``/``_gops_int8`` (10^9 operations per second),
``_gb_s`` (10^9 bytes per second), ``_w``, ``_c``, ``_c_per_w``, ``_j_per_c``, ``_us``,
``_pj_per_byte``, ``_gb`` (10^9 bytes). Accessors convert to SI (hertz, operations per second,
bytes per second, seconds, joules) so cost models never see a prefix.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from edgespace._errors import ProfileError
from edgespace._ops import ACTIVATIONS, ENGINE_KINDS, OP_CLASSES, PLACEMENTS
from edgespace._spec import PRECISIONS

__all__ = [
    "ACTIVATIONS",
    "DvfsLevel",
    "Engine",
    "HardwareProfile",
    "MemorySpec",
    "OP_CLASSES",
    "OpSupport",
    "PlacementSpec",
    "PowerDomain",
    "PowerMode",
    "PowerSpec",
    "PROFILE_KINDS",
    "Sourced",
    "StandbySpec",
    "ThermalSpec",
]

PROFILE_KINDS = ("jetson", "phone-soc", "sbc", "usb-accelerator", "server-gpu", "host")

# Unit words for error messages, keyed by field-name suffix (longest first).
_UNIT_SUFFIXES = (
    ("_c_per_w", "°C/W"),
    ("_j_per_c", "J/°C"),
    ("_pj_per_byte", "pJ/byte"),
    ("_gb_s", "GB/s"),
    ("_gflops_fp32", "GFLOP/s"),
    ("_gflops_fp16", "GFLOP/s"),
    ("_gops_int8", "GOP/s"),
    ("_mhz", "MHz"),
    ("_us", "µs"),
    ("_ms", "ms"),
    ("_s", "s"),
    ("_w", "W"),
    ("_c", "°C"),
    ("_gb", "GB"),
)


def unit_of(field_name: str) -> str | None:
    """The unit a field's name carries (``"bandwidth_gb_s"`` → ``"GB/s"``), or None."""
    for suffix, unit in _UNIT_SUFFIXES:
        if field_name.endswith(suffix):
            return unit
    return None


class _Model(BaseModel):
    # Unknown keys are errors (a typo must not silently drop a number); models are frozen so a
    # loaded profile can be shared and cached.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class Sourced(_Model):
    """One number and where it comes from: exactly one of ``source`` or ``estimate``."""

    value: float
    source: str | None = None
    estimate: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if isinstance(data, bool) or data is None:
            raise ValueError("expected {value: NUMBER, source: '...'} or {value: NUMBER, estimate: '...'}")
        if isinstance(data, (int, float)):
            raise ValueError(
                "a bare number has no source; write {value: N, source: 'datasheet §...'} "
                "or {value: N, estimate: 'one-line rationale'}"
            )
        if isinstance(data, str):
            raise ValueError(
                "expected {value: NUMBER, source|estimate: '...'}, not text; the unit belongs in the field name"
            )
        return data

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError("expected a plain number (the unit is in the field name, e.g. power_w, bandwidth_gb_s)")
        try:
            finite = math.isfinite(float(v))
        except OverflowError:  # an integer of hundreds of digits
            finite = False
        if not finite:
            raise ValueError("expected a finite number (at most about 1.8e308 in size)")
        return v

    @model_validator(mode="after")
    def _one_provenance(self) -> Sourced:
        has_source = bool(self.source and self.source.strip())
        has_estimate = bool(self.estimate and self.estimate.strip())
        if has_source == has_estimate:
            raise ValueError(
                "needs exactly one of source: '<datasheet, guide, paper or measurement>' "
                "or estimate: '<one-line rationale>'"
            )
        return self

    @property
    def provenance(self) -> str:
        """``"source: ..."`` or ``"estimate: ..."``, for reports."""
        return f"source: {self.source}" if self.source else f"estimate: {self.estimate}"

    @property
    def is_estimate(self) -> bool:
        return self.estimate is not None and bool(self.estimate.strip())

    @property
    def kind(self) -> str:
        """``estimate``, ``calibrated`` (a source starting "calibrated"), ``measured`` (one
        starting "measured") or ``source`` (a datasheet, guide, paper or configuration file)."""
        if self.is_estimate:
            return "estimate"
        text = (self.source or "").lstrip().lower()
        return (
            "calibrated" if text.startswith("calibrated") else "measured" if text.startswith("measured") else "source"
        )


def _bounded(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, what: str = ""):
    def check(s: Sourced) -> Sourced:
        v = s.value
        bad = (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi)
        if bad:
            raise ValueError(f"{v:g} is not allowed; {what}")
        return s

    return AfterValidator(check)


#: A rate, clock, capacity, resistance, ...: strictly positive.
Positive = Annotated[Sourced, _bounded(0, lo_open=True, what="must be > 0 (a rate, clock, capacity or size)")]
#: A power or energy that may be zero (e.g. a powered-off sleep state): >= 0.
NonNegative = Annotated[Sourced, _bounded(0, what="must be >= 0")]
#: A fraction in (0, 1].
Fraction = Annotated[Sourced, _bounded(0, 1, lo_open=True, what="must be a fraction in (0, 1]")]
#: A temperature in °C, within what silicon and weather allow.
Celsius = Annotated[Sourced, _bounded(-60, 200, what="must be a temperature in °C within [-60, 200]")]


def _whole(s: Sourced) -> Sourced:
    if s.value != int(s.value):
        raise ValueError(f"{s.value:g} is not allowed; must be a whole number (cores, SMs or NPU cores)")
    return s


#: A count (cores, SMs, NPU cores): a whole number >= 1, with its provenance like any other.
Count = Annotated[
    Sourced, _bounded(1, what="must be a whole number >= 1 (cores, SMs or NPU cores)"), AfterValidator(_whole)
]

Precision = Literal[PRECISIONS]
OpClass = Literal[OP_CLASSES]
Activation = Literal[ACTIVATIONS]


class DvfsLevel(_Model):
    """One operating point of an engine's DVFS table: its clock and the engine's power at full
    load there (so a thermal governor can trade clock for power)."""

    clock_mhz: Positive
    power_w: NonNegative


class OpSupport(_Model):
    """What an engine runs, from the runtime's own documentation: the operator classes and
    activations it lacks, what it does with a precision it has no kernels for, and how the
    compiler partitions a graph around an unsupported operator.

    ``precision_fallback``: a precision the engine has no peak for, mapped to the precision its
    compiler builds instead on the same engine (TensorRT on a Maxwell GPU builds fp16 kernels for
    an int8 request; ONNX Runtime's QNN EP runs an fp32 graph at fp16 on the HTP). Only where that
    is not possible does a layer move to the fallback engine.

    ``partitioning``: ``any`` — unsupported operators fall back one by one (QNN, Core ML, ONNX
    Runtime execution providers, TensorRT DLA with GPU fallback); ``prefix`` — the graph is cut
    once at the first unsupported operator and everything after it runs on the fallback engine
    (the Edge TPU compiler).

    Exactly one of ``source`` (the documentation it was read from; ``[key]`` cites the
    profile's references) or ``estimate`` (where the vendor publishes nothing, a one-line
    rationale) — like every number of a profile.
    """

    unsupported_ops: tuple[OpClass, ...] = ()
    unsupported_acts: tuple[Activation, ...] = ()
    precision_fallback: dict[Precision, Precision] = Field(default_factory=dict)
    partitioning: Literal["any", "prefix"] = "any"
    source: str | None = None
    estimate: str | None = None

    @model_validator(mode="after")
    def _one_provenance(self) -> OpSupport:
        if bool(self.source and self.source.strip()) == bool(self.estimate and self.estimate.strip()):
            raise ValueError(
                "op_support needs exactly one of source: '<runtime documentation>' or estimate: '<one-line rationale>'"
            )
        for asked, runs_as in self.precision_fallback.items():
            if asked == runs_as:
                raise ValueError(f"precision_fallback {asked} -> {runs_as}: a precision cannot fall back to itself")
        return self

    @property
    def is_estimate(self) -> bool:
        return bool(self.estimate and self.estimate.strip())

    @property
    def provenance(self) -> str:
        return f"source: {self.source}" if self.source else f"estimate: {self.estimate}"


class Engine(_Model):
    """A compute engine in one power mode (GPU, CPU cluster, NPU, DLA, TPU).

    Peaks are **dense** (no structured-sparsity doubling) at this mode's maximum clock, in
    10^9 operations per second; ``None`` means the engine cannot run that precision.
    ``local_memory_mb`` is on-chip memory (the Edge TPU's SRAM, Hexagon's VTCM) read at
    ``local_bandwidth_gb_s``: a kernel's activations that fit stay on chip, and weights stay on
    chip when all of the engine's weights fit; otherwise they come from DRAM (a discrete
    accelerator streams its weights over the interconnect on every inference). Without
    ``local_bandwidth_gb_s`` the on-chip memory is not modelled.
    ``dispatch_overhead_us`` is paid per operator (kernel launch), ``call_overhead_us`` once per
    inference call; ``dispatch_overhead_us_int8`` (optional) replaces the per-operator cost when
    the engine runs int8 kernels, for engines whose fixed per-operator time is measured to
    shrink with the element size (the phone NPUs' published fp16/int8 pairs). ``active_power_w`` is the engine's power at full load at that clock (the dynamic energy per
    operation is ``active_power_w / peak``); ``dvfs_levels`` lists lower operating points the
    thermal governor may fall back to.

    ``efficiency`` gives every operator class (:data:`edgespace._ops.OP_CLASSES`) the fraction of
    peak it reaches compute-bound and ``busy_power_fraction`` the share of ``active_power_w``
    drawn whenever the engine executes a kernel; both are required, with their provenance
    (labelled estimates until calibration or a published measurement replaces them; see
    ``profiles/_defaults.py``). ``units`` (cores, SMs) is sourced like any other number.
    ``op_support`` says what the engine runs, from which documentation.
    """

    kind: Literal[ENGINE_KINDS]
    description: str = ""
    clock_mhz: Positive
    units: Count | None = None
    peak_gflops_fp32: Positive | None = None
    peak_gflops_fp16: Positive | None = None
    peak_gops_int8: Positive | None = None
    active_power_w: Positive
    dispatch_overhead_us: NonNegative
    dispatch_overhead_us_int8: NonNegative | None = None
    call_overhead_us: NonNegative | None = None
    local_memory_mb: Positive | None = None
    local_bandwidth_gb_s: Positive | None = None
    efficiency: dict[OpClass, Fraction]
    busy_power_fraction: Fraction
    dvfs_levels: tuple[DvfsLevel, ...] = ()
    op_support: OpSupport

    @model_validator(mode="after")
    def _some_precision(self) -> Engine:
        if not any(self.peak(p) for p in PRECISIONS):
            raise ValueError("an engine needs at least one of peak_gflops_fp32, peak_gflops_fp16, peak_gops_int8")
        missing = [op for op in OP_CLASSES if op not in self.efficiency]
        if missing:
            raise ValueError(
                f"efficiency lacks {', '.join(missing)}: give every operator class ({', '.join(OP_CLASSES)}) "
                "a fraction of peak with its source or estimate"
            )
        for asked, runs_as in self.op_support.precision_fallback.items():
            if self.peak(asked) is not None:
                raise ValueError(
                    f"op_support.precision_fallback {asked}: the engine has a {asked} peak, so it needs no fallback"
                )
            if self.peak(runs_as) is None:
                raise ValueError(
                    f"op_support.precision_fallback {asked} -> {runs_as}: the engine has no {runs_as} peak"
                )
        return self

    # -- accessors (SI units) -------------------------------------------------------------
    def peak(self, precision: str) -> Sourced | None:
        """The sourced dense peak for ``precision`` (fp32/fp16/int8), or None if unsupported."""
        _check_precision(precision)
        return {"fp32": self.peak_gflops_fp32, "fp16": self.peak_gflops_fp16, "int8": self.peak_gops_int8}[precision]

    def peak_ops_per_s(self, precision: str) -> float | None:
        """Dense peak in operations per second (a MAC counts 2), or None if unsupported."""
        p = self.peak(precision)
        return None if p is None else p.value * 1e9

    def efficiency_for(self, op: str) -> float:
        """Fraction of peak that operator class ``op`` reaches compute-bound (the profile's value)."""
        if op not in OP_CLASSES:
            raise ProfileError(f"efficiency: {op!r}: unknown operator class; allowed: {', '.join(OP_CLASSES)}")
        return self.efficiency[op].value

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz.value * 1e6

    @property
    def dispatch_overhead_s(self) -> float:
        """Fixed cost per kernel launch / operator dispatch, in seconds."""
        return self.dispatch_overhead_us.value * 1e-6

    def dispatch_input(self, runs_as: str | None) -> Sourced:
        """The per-operator cost input used when the engine runs ``runs_as`` kernels."""
        if runs_as == "int8" and self.dispatch_overhead_us_int8 is not None:
            return self.dispatch_overhead_us_int8
        return self.dispatch_overhead_us

    def dispatch_overhead_s_for(self, runs_as: str | None) -> float:
        """Fixed cost per operator (s) when the engine runs ``runs_as`` kernels."""
        return self.dispatch_input(runs_as).value * 1e-6

    @property
    def call_overhead_s(self) -> float:
        """Fixed cost per inference call (runtime entry/exit, synchronisation), in seconds; 0 if not given."""
        return 0.0 if self.call_overhead_us is None else self.call_overhead_us.value * 1e-6

    def energy_per_op_j(self, precision: str) -> float | None:
        """Dynamic energy per operation at full load: ``active_power_w / peak`` (J/op)."""
        ops = self.peak_ops_per_s(precision)
        return None if ops is None else self.active_power_w.value / ops

    def dvfs_table(self) -> list[tuple[float, float]]:
        """``[(clock_hz, power_w), ...]`` from the highest clock down, always including this
        mode's maximum (``clock_mhz`` at ``active_power_w``)."""
        levels = {self.clock_mhz.value: self.active_power_w.value}
        for lvl in self.dvfs_levels:
            levels.setdefault(lvl.clock_mhz.value, lvl.power_w.value)
        return [(mhz * 1e6, w) for mhz, w in sorted(levels.items(), reverse=True)]


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
        if self.budget_w.value <= self.static_w.value:
            raise ValueError(
                f"budget_w {self.budget_w.value:g} is not above static_w {self.static_w.value:g} "
                f"(idle_w {self.idle_w.value:g}): a power cap at or below what the device draws idle or busy "
                "leaves nothing to infer with; allowed: budget_w > static_w >= idle_w"
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


class HardwareProfile(_Model):
    """A device and its named power modes. Load with :func:`edgespace.load_profile`."""

    schema_version: Literal[1] = 1
    name: str
    device: str
    kind: Literal["jetson", "phone-soc", "sbc", "usb-accelerator", "server-gpu", "host"]
    description: str = ""
    references: dict[str, str] = Field(default_factory=dict)
    default_mode: str
    standby: StandbySpec
    modes: dict[str, PowerMode]
    notes: tuple[str, ...] = ()

    # where the profile was read from (set by the loader; not part of the YAML)
    _origin: str = PrivateAttr(default="")

    @property
    def origin(self) -> str:
        """The file this profile was read from ("" when built in code)."""
        return self._origin

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", v):
            raise ValueError("use lower-case letters, digits, '.', '_' and '-' (e.g. jetson-orin-nano-8gb)")
        return v

    @model_validator(mode="before")
    @classmethod
    def _name_modes(cls, data: Any) -> Any:
        # ``_shared`` holds YAML anchors (blocks reused with ``<<: *name``); it is not data itself.
        if isinstance(data, dict) and "_shared" in data:
            data = {k: v for k, v in data.items() if k != "_shared"}
        # A mode knows its own name, so cost models that receive only a PowerMode can report it.
        if isinstance(data, dict) and isinstance(data.get("modes"), dict):
            modes = {}
            for key, mode in data["modes"].items():
                if isinstance(mode, dict) and "name" not in mode:
                    mode = {**mode, "name": str(key)}
                modes[key] = mode
            data = {**data, "modes": modes}
        return data

    @model_validator(mode="after")
    def _check(self) -> HardwareProfile:
        if not self.modes:
            raise ValueError("a profile needs at least one power mode under modes:")
        if self.default_mode not in self.modes:
            raise ValueError(f"default_mode {self.default_mode!r} is not a mode; modes: {', '.join(self.modes)}")
        for key, mode in self.modes.items():
            if mode.name != key:
                raise ValueError(f"modes.{key}.name is {mode.name!r}; it must equal its key {key!r} or be left out")
        cited = [(f"{path}.source", s.source) for path, s in self.sourced_values()]
        for key, mode in self.modes.items():
            for name, engine in mode.engines.items():
                cited.append((f"modes.{key}.engines.{name}.op_support.source", engine.op_support.source))
            if mode.slower_than is not None:
                cited.append((f"modes.{key}.slower_than.source", mode.slower_than.source))
                for other in mode.slower_than.modes:
                    if other not in self.modes:
                        raise ValueError(
                            f"modes.{key}.slower_than.modes: {other!r} is not a mode; modes: {', '.join(self.modes)}"
                        )
        for path, text in cited:
            for ref in _REF.findall(text or ""):
                if ref not in self.references:
                    known = ", ".join(self.references) or "(none)"
                    raise ValueError(f"{path} cites [{ref}], which is not in references; known: {known}")
        return self

    # -- accessors ------------------------------------------------------------------------
    def mode(self, name: str | None = None) -> PowerMode:
        """A power mode by name (default: ``default_mode``); ProfileError lists the modes."""
        key = self.default_mode if name is None else name
        try:
            return self.modes[key]
        except (KeyError, TypeError):  # TypeError: an unhashable name (a list, a dict)
            raise ProfileError(f"{self.name}: mode {key!r}: unknown; modes: {', '.join(self.modes)}") from None

    @property
    def mode_names(self) -> list[str]:
        return list(self.modes)

    @property
    def sleep_w(self) -> float:
        return self.standby.sleep_w.value

    def sourced_values(self) -> list[tuple[str, Sourced]]:
        """Every number in the profile with its dotted field path, for audits and reports."""
        out: list[tuple[str, Sourced]] = []
        _collect(self, "", out)
        return out

    def resolve_source(self, s: Sourced) -> str:
        """A value's provenance with every ``[key]`` it cites spelled out from ``references``."""
        keys = list(dict.fromkeys(_REF.findall(s.source or "")))
        if not keys:
            return s.provenance
        cited = "; ".join(f"[{k}] = {self.references[k]}" for k in keys)
        return f"{s.provenance} — {cited}"


#: A citation of the profile's ``references`` table inside a source text: ``[key]``.
_REF = re.compile(r"\[([a-z][a-z0-9_]*)\]")


def _collect(obj: Any, path: str, out: list) -> None:
    if isinstance(obj, Sourced):
        out.append((path, obj))
    elif isinstance(obj, BaseModel):
        for key in type(obj).model_fields:
            _collect(getattr(obj, key), f"{path}.{key}" if path else key, out)
    elif isinstance(obj, dict):
        for key, v in obj.items():
            _collect(v, f"{path}.{key}", out)
    elif isinstance(obj, tuple):
        for i, v in enumerate(obj):
            _collect(v, f"{path}.{i}", out)


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ProfileError(f"precision: {precision!r}: unknown; allowed: {', '.join(PRECISIONS)}")
