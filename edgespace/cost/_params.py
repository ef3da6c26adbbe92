"""A power mode compiled into plain numpy arrays for the cost models.

The profile schema (pydantic) is the edge; cost models read only :class:`ModeParams`, so they
stay pure numpy and are compiled once per mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgespace._spec import PRECISIONS
from edgespace.profiles import ACTIVATIONS, OP_CLASSES, PowerMode

__all__ = ["ModeParams", "compile_mode", "OP_INDEX", "ACT_INDEX", "PRIMARY", "FALLBACK"]

OP_INDEX = {op: i for i, op in enumerate(OP_CLASSES)}
ACT_INDEX = {act: i for i, act in enumerate(ACTIVATIONS)}
PRIMARY, FALLBACK = 0, 1


@dataclass(frozen=True, eq=False)  # identity hash: compiled once per mode, used as a cache key
class ModeParams:
    """One power mode as arrays, SI units. Engine axis: 0 = primary, 1 = fallback (absent:
    ``has_fallback`` False, its rows NaN / False). Precision axis: ``PRECISIONS`` order."""

    name: str
    engine_names: tuple[str, str | None]
    has_fallback: bool
    peak_ops_per_s: np.ndarray  # (2, P) dense peak, NaN where unsupported
    efficiency: np.ndarray  # (2, n_ops) fraction of peak per operator class
    energy_per_op_j: np.ndarray  # (2, P) active power / peak
    dispatch_s: np.ndarray  # (2,) per operator
    fallback_power_w: float  # full-load power of the fallback engine (0 if none)
    call_s: float  # per inference, primary engine
    op_ok: np.ndarray  # (2, n_ops) operator class supported
    act_ok: np.ndarray  # (2, n_acts) activation supported
    prefix_partitioning: bool  # the primary's compiler cuts the graph once (Edge TPU)
    bandwidth_bytes_per_s: float
    interconnect_bytes_per_s: float
    discrete_accelerator: bool  # input/output cross an interconnect (e.g. USB) each inference
    sync_s: float
    energy_j_per_byte: float
    static_w: float
    idle_w: float
    budget_w: float
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


_CACHE: dict[int, tuple[PowerMode, ModeParams]] = {}


def compile_mode(mode: PowerMode) -> ModeParams:
    """Compile (and memoise, per mode object) a :class:`PowerMode` into :class:`ModeParams`."""
    hit = _CACHE.get(id(mode))
    if hit is not None and hit[0] is mode:
        return hit[1]
    engines = [mode.primary, mode.fallback]
    n_ops, n_acts, n_p = len(OP_CLASSES), len(ACTIVATIONS), len(PRECISIONS)
    peak = np.full((2, n_p), np.nan)
    e_op = np.full((2, n_p), np.nan)
    eff = np.ones((2, n_ops))
    dispatch = np.zeros(2)
    op_ok = np.zeros((2, n_ops), dtype=bool)
    act_ok = np.zeros((2, n_acts), dtype=bool)
    for k, engine in enumerate(engines):
        if engine is None:
            continue
        for j, precision in enumerate(PRECISIONS):
            ops = engine.peak_ops_per_s(precision)
            if ops is not None:
                peak[k, j] = ops
                e_op[k, j] = engine.energy_per_op_j(precision)
        eff[k] = [engine.efficiency_for(op) for op in OP_CLASSES]
        dispatch[k] = engine.dispatch_overhead_s
        op_ok[k] = [op not in engine.op_support.unsupported_ops for op in OP_CLASSES]
        act_ok[k] = [act not in engine.op_support.unsupported_acts for act in ACTIVATIONS]
    table = mode.primary.dvfs_table()
    clocks = np.array([f for f, _ in table])
    powers = np.array([w for _, w in table])
    t = mode.thermal
    params = ModeParams(
        name=mode.name,
        engine_names=(mode.primary_engine, mode.fallback_engine),
        has_fallback=mode.fallback is not None,
        peak_ops_per_s=peak,
        efficiency=eff,
        energy_per_op_j=e_op,
        dispatch_s=dispatch,
        fallback_power_w=0.0 if mode.fallback is None else mode.fallback.active_power_w.value,
        call_s=mode.primary.call_overhead_s,
        op_ok=op_ok,
        act_ok=act_ok,
        prefix_partitioning=mode.primary.op_support.partitioning == "prefix",
        bandwidth_bytes_per_s=mode.bandwidth_bytes_per_s,
        interconnect_bytes_per_s=mode.interconnect_bytes_per_s,
        discrete_accelerator=mode.interconnect_gb_s is not None,
        sync_s=mode.fallback_sync_s,
        energy_j_per_byte=mode.memory.energy_j_per_byte,
        static_w=mode.static_w,
        idle_w=mode.idle_w,
        budget_w=mode.budget_w,
        usable_memory_bytes=mode.usable_memory_bytes,
        dvfs_ratio=clocks / clocks[0],
        dvfs_clock_hz=clocks,
        dvfs_power_w=powers,
        thermal_resistance_c_per_w=t.thermal_resistance_c_per_w.value,
        heat_capacity_j_per_c=t.heat_capacity_j_per_c.value,
        trip_c=t.trip_c.value,
        hysteresis_c=t.hysteresis_c.value,
        ambient_c=t.ambient_c.value,
    )
    _CACHE[id(mode)] = (mode, params)
    return params
