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

This module holds the sourced number and an engine (its clocks, peaks, DVFS levels and operator
support); a power mode's other parts are in ``_mode`` and the whole profile in ``_profile``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from edgespace._errors import ProfileError
from edgespace._ops import ACTIVATIONS, ENGINE_KINDS, OP_CLASSES
from edgespace._spec import PRECISIONS

__all__ = [
    "DvfsLevel",
    "Engine",
    "OpSupport",
    "PROFILE_KINDS",
    "Sourced",
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


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ProfileError(f"precision: {precision!r}: unknown; allowed: {', '.join(PRECISIONS)}")
