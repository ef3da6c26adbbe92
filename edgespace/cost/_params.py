"""A power mode compiled into plain numpy arrays for the cost models, and where operators run.

The profile schema (pydantic) is the edge and holds data only; this module decides placement
(which engine runs what, at which precision) and cost models read only :class:`ModeParams`, so
they stay pure numpy and are compiled once per (mode, placement).

Placement rules, in the order compilers apply them:

1. **Precision on the same engine first**: an engine without kernels for the requested
   precision runs the precision its ``op_support.precision_fallback`` names (TensorRT on the
   Jetson Nano's Maxwell GPU builds fp16 kernels for an int8 request; ONNX Runtime's QNN EP runs
   an fp32 graph at fp16 on the HTP).
2. **Then another engine**: an operator class, activation or precision the primary engine still
   cannot run goes to the fallback engine, paying the crossing (see ``_graph``).
3. ``placement``: ``auto`` is the profile's primary engine; a mode's ``placements`` add others
   (``dla``: the DLA first, the GPU for what it lacks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgespace._errors import ProfileError
from edgespace._ops import ACTIVATIONS, OP_CLASSES
from edgespace._spec import BYTES_PER_ELEMENT, PRECISIONS
from edgespace.profiles import Engine, PowerMode, Sourced

__all__ = [
    "ModeParams",
    "compile_mode",
    "OP_INDEX",
    "ACT_INDEX",
    "PRIMARY",
    "FALLBACK",
    "execution_precision",
    "runs_on",
    "engine_for",
    "resolve_placement",
]

OP_INDEX = {op: i for i, op in enumerate(OP_CLASSES)}
ACT_INDEX = {act: i for i, act in enumerate(ACTIVATIONS)}
PRIMARY, FALLBACK = 0, 1


@dataclass(frozen=True, eq=False)  # identity hash: compiled once per mode, used as a cache key
class ModeParams:
    """One power mode (and placement) as arrays, SI units. Engine axis: 0 = primary, 1 =
    fallback (absent: ``has_fallback`` False, its rows NaN / False). Precision axis:
    ``PRECISIONS`` order, the precision *requested*; ``exec_bytes`` is the element size of the
    precision an engine actually runs for it (its same-engine precision fallback)."""

    name: str
    placement: str
    engine_names: tuple[str, str | None]
    has_fallback: bool
    peak_ops_per_s: np.ndarray  # (2, P) dense peak at the precision run, NaN where it cannot run
    exec_bytes: np.ndarray  # (2, P) bytes per element of the precision run
    efficiency: np.ndarray  # (2, n_ops) fraction of peak per operator class
    energy_per_op_j: np.ndarray  # (2, P) active power / peak
    busy_fraction: np.ndarray  # (2,) share of full-load power drawn whenever busy
    dispatch_s: np.ndarray  # (2, P) per operator, at the precision each engine runs
    fallback_power_w: float  # full-load power of the fallback engine (0 if none)
    call_s: float  # per inference, primary engine
    fallback_call_s: float  # per inference when only the fallback engine runs
    op_ok: np.ndarray  # (2, n_ops) operator class supported
    act_ok: np.ndarray  # (2, n_acts) activation supported
    prefix_partitioning: bool  # the primary's compiler cuts the graph once (Edge TPU)
    bandwidth_bytes_per_s: float
    local_bytes: np.ndarray  # (2,) on-chip memory of each engine (0: none)
    local_bytes_per_s: np.ndarray  # (2,) its bandwidth (DRAM bandwidth where none)
    interconnect_bytes_per_s: float
    discrete_accelerator: bool  # input/output cross an interconnect (e.g. USB) each inference
    sync_s: float
    energy_j_per_byte: float
    static_w: float
    idle_w: float
    budget_w: float
    # power domains with their own cap: (D, 2) which engines draw from each, (D,) headroom W
    domain_members: np.ndarray
    domain_headroom_w: np.ndarray
    domain_static_w: np.ndarray
    body_static_w: float  # static power of the domain holding the primary engine (heats its package)
    usable_memory_bytes: float
    # DVFS of the primary engine, highest clock first: clock ratio to the mode's maximum,
    # clock in Hz and full-load engine power in W.
    dvfs_ratio: np.ndarray
    dvfs_clock_hz: np.ndarray
    dvfs_power_w: np.ndarray
    # lumped RC thermal model
    thermal_resistance_c_per_w: float
    heat_capacity_j_per_c: float
    trip_c: float
    hysteresis_c: float
    ambient_c: float
    # provenance: profile inputs this (mode, placement, precision) uses, and how many are estimates
    n_inputs: np.ndarray  # (P,)
    n_estimated_inputs: np.ndarray  # (P,)


def execution_precision(engine: Engine, precision: str) -> str | None:
    """The precision ``engine`` runs for a ``precision`` request: itself if the engine has a peak
    for it, else its ``op_support.precision_fallback``, else None (another engine must)."""
    if engine.peak(precision) is not None:
        return precision
    return engine.op_support.precision_fallback.get(precision)


def runs_on(engine: Engine, op: str, precision: str, act: str | None = None) -> bool:
    """Whether ``engine`` runs operator class ``op`` (with activation ``act``) for a
    ``precision`` request (on the same engine, possibly at its fallback precision)."""
    if execution_precision(engine, precision) is None or op in engine.op_support.unsupported_ops:
        return False
    return not (act and act in engine.op_support.unsupported_acts)


def resolve_placement(mode: PowerMode, placement: str = "auto") -> tuple[str, str | None, Sourced | None]:
    """``(primary engine, fallback engine, fallback sync)`` of ``placement`` on ``mode``."""
    allowed = mode.placement_names
    if placement not in allowed:
        raise ProfileError(f"mode {mode.name!r}: placement {placement!r}: not available; allowed: {', '.join(allowed)}")
    if placement in mode.placements:
        pl = mode.placements[placement]
        return pl.primary_engine, pl.fallback_engine, pl.fallback_sync_us
    return mode.primary_engine, mode.fallback_engine, mode.fallback_sync_us


def engine_for(mode: PowerMode, op: str, precision: str, act: str | None = None, placement: str = "auto") -> str | None:
    """Engine name that runs ``op`` at ``precision`` under ``placement``: the primary if it can
    (at its own precision fallback if need be), else the fallback if it can, else None."""
    primary, fallback, _ = resolve_placement(mode, placement)
    if runs_on(mode.engines[primary], op, precision, act):
        return primary
    if fallback is not None and runs_on(mode.engines[fallback], op, precision, act):
        return fallback
    return None


def _engine_inputs(engine: Engine, precision: str | None) -> list[Sourced]:
    vals = [engine.clock_mhz, engine.active_power_w, engine.dispatch_input(precision), engine.busy_power_fraction]
    vals += [engine.call_overhead_us] if engine.call_overhead_us is not None else []
    vals += [engine.local_memory_mb] if engine.local_memory_mb is not None else []
    vals += [engine.local_bandwidth_gb_s] if engine.local_bandwidth_gb_s is not None else []
    vals += [engine.peak(precision)] if precision is not None else []
    vals += list(engine.efficiency.values())
    for lvl in engine.dvfs_levels:
        vals += [lvl.clock_mhz, lvl.power_w]
    return vals


_CACHE: dict[tuple[int, str], tuple[PowerMode, ModeParams]] = {}


def compile_mode(mode: PowerMode, placement: str = "auto") -> ModeParams:
    """Compile (and memoise, per mode object and placement) a :class:`PowerMode` into
    :class:`ModeParams`."""
    hit = _CACHE.get((id(mode), placement))
    if hit is not None and hit[0] is mode:
        return hit[1]
    primary_name, fallback_name, sync = resolve_placement(mode, placement)
    primary = mode.engines[primary_name]
    fallback = None if fallback_name is None else mode.engines[fallback_name]
    engines = [primary, fallback]
    n_ops, n_acts, n_p = len(OP_CLASSES), len(ACTIVATIONS), len(PRECISIONS)
    peak = np.full((2, n_p), np.nan)
    e_op = np.full((2, n_p), np.nan)
    exec_bytes = np.zeros((2, n_p))
    eff = np.ones((2, n_ops))
    busy = np.zeros(2)
    local = np.zeros(2)
    local_bw = np.full(2, mode.bandwidth_bytes_per_s)
    dispatch = np.zeros((2, n_p))
    op_ok = np.zeros((2, n_ops), dtype=bool)
    act_ok = np.zeros((2, n_acts), dtype=bool)
    for k, engine in enumerate(engines):
        if engine is None:
            continue
        for j, precision in enumerate(PRECISIONS):
            runs_as = execution_precision(engine, precision)
            if runs_as is not None:
                peak[k, j] = engine.peak_ops_per_s(runs_as)
                e_op[k, j] = engine.energy_per_op_j(runs_as)
                exec_bytes[k, j] = BYTES_PER_ELEMENT[runs_as]
            dispatch[k, j] = engine.dispatch_overhead_s_for(runs_as)
        eff[k] = [engine.efficiency_for(op) for op in OP_CLASSES]
        busy[k] = engine.busy_power_fraction.value
        if engine.local_memory_mb is not None and engine.local_bandwidth_gb_s is not None:
            local[k] = engine.local_memory_mb.value * 1e6
            local_bw[k] = engine.local_bandwidth_gb_s.value * 1e9
        op_ok[k] = [op not in engine.op_support.unsupported_ops for op in OP_CLASSES]
        act_ok[k] = [act not in engine.op_support.unsupported_acts for act in ACTIVATIONS]
    table = primary.dvfs_table()
    clocks = np.array([f for f, _ in table])
    powers = np.array([w for _, w in table])
    t = mode.thermal
    names = [primary_name, fallback_name]
    domains = list(mode.power.domains.values())
    members = np.array([[n in d.engines for n in names] for d in domains], dtype=bool).reshape(-1, 2)
    headroom = np.array([d.budget_w.value - d.static_w.value for d in domains], dtype=float)
    body_static = sum(d.static_w.value for d in domains if primary_name in d.engines)

    # Provenance of every profile number these arrays came from, per requested precision.
    common: list[Sourced] = [*(getattr(mode.memory, f) for f in type(mode.memory).model_fields)]
    common += [mode.power.idle_w, mode.power.static_w, mode.power.budget_w]
    for d in domains:
        common += [d.static_w, d.budget_w]
    common += [getattr(t, f) for f in type(t).model_fields if isinstance(getattr(t, f), Sourced)]
    common += [s for s in (sync, mode.interconnect_gb_s) if s is not None]
    n_in, n_est = np.zeros(n_p, dtype=np.int64), np.zeros(n_p, dtype=np.int64)
    for j, precision in enumerate(PRECISIONS):
        used = list(common)
        for engine in engines:
            if engine is not None:
                runs_as = execution_precision(engine, precision)
                used += _engine_inputs(engine, runs_as)
                used_support = engine.op_support
                n_in[j] += 1
                n_est[j] += used_support.is_estimate
        n_in[j] += len(used)
        n_est[j] += sum(s.is_estimate for s in used)

    params = ModeParams(
        name=mode.name,
        placement=placement,
        engine_names=(primary_name, fallback_name),
        has_fallback=fallback is not None,
        peak_ops_per_s=peak,
        exec_bytes=exec_bytes,
        efficiency=eff,
        energy_per_op_j=e_op,
        busy_fraction=busy,
        dispatch_s=dispatch,
        fallback_power_w=0.0 if fallback is None else fallback.active_power_w.value,
        call_s=primary.call_overhead_s,
        fallback_call_s=0.0 if fallback is None else fallback.call_overhead_s,
        op_ok=op_ok,
        act_ok=act_ok,
        prefix_partitioning=primary.op_support.partitioning == "prefix",
        bandwidth_bytes_per_s=mode.bandwidth_bytes_per_s,
        local_bytes=local,
        local_bytes_per_s=local_bw,
        interconnect_bytes_per_s=mode.interconnect_bytes_per_s,
        discrete_accelerator=mode.interconnect_gb_s is not None,
        sync_s=0.0 if sync is None else sync.value * 1e-6,
        energy_j_per_byte=mode.memory.energy_j_per_byte,
        static_w=mode.static_w,
        idle_w=mode.idle_w,
        budget_w=mode.budget_w,
        domain_members=members,
        domain_headroom_w=headroom,
        domain_static_w=np.array([d.static_w.value for d in domains], dtype=float),
        body_static_w=body_static,
        usable_memory_bytes=mode.usable_memory_bytes,
        dvfs_ratio=clocks / clocks[0],
        dvfs_clock_hz=clocks,
        dvfs_power_w=powers,
        thermal_resistance_c_per_w=t.thermal_resistance_c_per_w.value,
        heat_capacity_j_per_c=t.heat_capacity_j_per_c.value,
        trip_c=t.trip_c.value,
        hysteresis_c=t.hysteresis_c.value,
        ambient_c=t.ambient_c.value,
        n_inputs=n_in,
        n_estimated_inputs=n_est,
    )
    _CACHE[(id(mode), placement)] = (mode, params)
    return params
