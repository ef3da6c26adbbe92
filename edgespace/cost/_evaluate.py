"""The cost models: roofline latency, liveness memory, energy, DVFS and thermal throttling.

One vectorised evaluation over many resolutions of one network structure in one mode and
precision; :func:`~edgespace.cost.estimate` and :func:`~edgespace.cost.estimate_many` both
call it, so single and batch answers are the same numbers. Pure numpy: no I/O, no torch.

Equations (SI units; n = design point, r = layer row, j = DVFS level of the primary engine,
s_j = f_j / f_max its clock ratio):

* ops_r = 2·MACs (conv-like and attention matmul) or element operations (bn, act, pool, mul,
  add, softmax); fused rows 0. Attention rows scale with the query pixels times the key/value
  pixels (the layer skeleton's token levels), so their share grows with the resolution.
* bytes_r = (weights + inputs + outputs)·element size; fused rows 0 (see ``_graph``).
* t_r,j = max(ops_r / (peak_e · eff_e,op · s_j), t_mem,r) + dispatch_e  (roofline, one
  kernel per unfused row; s_j applies to rows on the primary engine; dispatch_e at the
  precision the engine runs: an NPU's fixed per-operator time can shrink at int8). t_mem,r moves a kernel's
  activations at the engine's on-chip bandwidth when they fit its ``local_memory_mb`` and at
  DRAM bandwidth otherwise; weights likewise when all weights on the engine fit (else from
  DRAM, or over the interconnect for a discrete accelerator). Only DRAM bytes cost e_byte.
* T_j = Σ_r t_r,j + crossing bytes / interconnect BW + syncs · t_sync + call overhead.
* E_dyn,j = Σ_r ops_r · e_op,e · κ_j + (Σ bytes + crossing bytes) · e_byte, with
  e_op = active power / peak (J per op at full load, profile) and κ_j = (P_j / s_j) / P_max
  the energy per op at level j relative to the maximum (from the DVFS table's full-load powers).
* Precision: each engine runs the precision it has kernels for (its same-engine precision
  fallback, ``_params``); peak, energy per op and bytes per element are those of that precision.
* Power caps: a mode cannot draw more than its budget: T_j ← max(T_j, E_dyn,j / (budget − static));
  a power domain (e.g. a USB accelerator's bus power) caps the dynamic power of its own engines:
  T_j ← max(T_j, E_dyn,j(domain engines) / (budget_d − static_d)).
* Engines also draw a share β_e (the profile's ``busy_power_fraction``, an estimate) of their
  full-load power P_j whenever they execute a kernel (memory-bound or not): E_dyn,j += β · P_j ·
  (busy time at level j); the switching term above is scaled by (1 − β) so that a compute-bound
  kernel at full efficiency draws P_j.
* Energy per inference E_j = static · T_j + E_dyn,j; average power while inferring back to
  back P_j = E_j / T_j (≤ budget by the cap).
* Thermal (lumped RC, profile): the hot spot settles at T_amb + P·R with time constant R·C;
  time to throttle from a cold start t = −RC·ln(1 − (T_trip − T_amb) / (P·R)). The governor
  holds the average temperature at T_trip − hysteresis/2, so the sustainable power is
  P_s = (T_trip − h/2 − T_amb) / R; sustained operation mixes the two DVFS levels around P_s
  (time fraction α at the higher one, α·P_a + (1 − α)·P_b = P_s), or, below the lowest level,
  duty-cycles it with idle.
* Peak activation memory: a materialised tensor lives from the kernel that writes it to the
  last kernel that reads it (a residual's input thus stays live across its block); the peak
  over kernels of the live bytes. Total memory = deployed weights + peak activations.
* Batch B (images per call): ops, activation bytes, crossings and peak activations scale with
  B; weight bytes, dispatch, call overhead and syncs do not (one call reads the weights and
  launches each kernel once). T is per call; energy is reported per image (E / B), throughput
  and sustained throughput in images per second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgespace._layer_table import LayerSkeleton
from edgespace._spec import BYTES_PER_ELEMENT, PRECISIONS, check_ambient_c
from edgespace.cost._graph import Placement, place, structure_of
from edgespace.cost._params import FALLBACK, PRIMARY, ModeParams, compile_mode
from edgespace.profiles import PowerMode

__all__ = ["evaluate", "Evaluation", "sustainable_power_w", "time_to_throttle_s"]


def sustainable_power_w(mode: ModeParams | PowerMode, ambient_c: float | None = None) -> float:
    """Average power (W) the lumped RC model sustains with the governor cycling at the trip:
    (T_trip − hysteresis/2 − T_ambient) / R. The one definition: ``profiles show`` and every
    cost model use it. ``ambient_c`` defaults to the profile's ambient temperature."""
    mp = compile_mode(mode) if isinstance(mode, PowerMode) else mode
    amb = mp.ambient_c if ambient_c is None else float(ambient_c)
    headroom = mp.trip_c - 0.5 * mp.hysteresis_c - amb
    return max(0.0, headroom) / mp.thermal_resistance_c_per_w


def time_to_throttle_s(power_w: np.ndarray, mp: ModeParams, ambient_c: float) -> np.ndarray:
    """Closed-form time from a cold start (at ambient) until the hot spot reaches the trip."""
    power_w = np.asarray(power_w, dtype=float)
    margin = mp.trip_c - ambient_c
    rise = power_w * mp.thermal_resistance_c_per_w
    tau = mp.thermal_resistance_c_per_w * mp.heat_capacity_j_per_c
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -tau * np.log1p(-margin / rise)
    t = np.where(rise <= margin, np.inf, t)
    return np.where(margin <= 0, 0.0, t)


@dataclass(frozen=True)
class Evaluation:
    """Arrays over design points (shape (N,)), SI units, plus the per-level tables that the
    thermal simulation needs. ``latency_s`` (and ``level_latency_s``) is per call of ``batch``
    images; ``energy_j`` and ``sustained_energy_j`` are per image; ``sustained_fps`` is images
    per second; ``macs`` and ``peak_activation_bytes`` are per call."""

    runnable: bool
    latency_s: np.ndarray
    energy_j: np.ndarray
    avg_power_w: np.ndarray
    sustained_fps: np.ndarray
    sustained_energy_j: np.ndarray
    sustained_power_w: np.ndarray
    sustained_clock_hz: np.ndarray
    time_to_throttle_s: np.ndarray
    weights_bytes: np.ndarray
    peak_activation_bytes: np.ndarray
    macs: np.ndarray
    params: int
    # per DVFS level (N, J): latency and average power while inferring back to back
    level_latency_s: np.ndarray
    level_power_w: np.ndarray
    placement: Placement
    domain_power_w: np.ndarray  # (N, D) average power of each power domain of the mode
    layers: pd.DataFrame | None = None
    batch: np.ndarray | None = None  # (N,) images per call; None = 1


def evaluate(
    sk: LayerSkeleton,
    mp: ModeParams,
    precision: str,
    resolutions: np.ndarray,
    *,
    ambient_c: float | None = None,
    keep_layers: bool = False,
    batch: int | np.ndarray = 1,
    latency_s: np.ndarray | None = None,
    energy_j: np.ndarray | None = None,
) -> Evaluation:
    """All cost models for ``len(resolutions)`` design points that share ``sk``'s structure;
    ``batch`` (images per call) is one number or one per resolution.

    ``latency_s`` (shape (N,), per call, from a calibration measured in this mode at its top
    clock) replaces the roofline latency at the mode's top DVFS level; every level's latency and
    the engines' busy time scale by the same ratio, so fps, sustained fps under the thermal model,
    energy and power all follow it. ``energy_j`` (shape (N,), per image, from a metered power
    model) replaces the energy at the top level, the other levels scaled alike."""
    st = structure_of(sk)
    pl = place(sk, mp, precision)
    p = PRECISIONS.index(precision)
    bpe = BYTES_PER_ELEMENT[precision]
    amb = mp.ambient_c if ambient_c is None else check_ambient_c(ambient_c)
    res = np.atleast_1d(np.asarray(resolutions, dtype=np.int64))
    n = len(res)
    b = np.broadcast_to(np.asarray(batch, dtype=np.float64), (n,)).copy()
    bb = b[:, None]

    sizes = sk.level_sizes(res)  # (N, L)
    ex_hw = sizes[:, sk.extra_in_level]
    # output and input pixels (times attention's token pixels), and the pixels MACs scale with
    out_px, mac_px, in_px = sk.px_factors(sizes)
    active = ~pl.fused

    macs = np.where(st.conv_like, sk.macs_per_px * mac_px, 0.0) * bb
    ops = np.where(st.conv_like, 2.0 * macs, sk.elem_ops_per_px * np.where(st.is_pool, in_px, out_px) * bb) * active
    elems_out = sk.out_c * out_px  # per image
    elems_in = sk.in_c * in_px + sk.extra_in_c * (ex_hw * ex_hw)
    engine = pl.engine
    # bytes at the precision each row's engine runs (its same-engine precision fallback)
    bpe_row = np.where(active, mp.exec_bytes[engine, p], 0.0)

    with np.errstate(invalid="ignore"):
        rate = mp.peak_ops_per_s[engine, p] * mp.efficiency[engine, st.op_idx]  # (R,)
    rate = np.where(active, rate, np.inf)  # fused rows: no compute of their own
    t_comp = ops / rate
    # Memory traffic: an engine with on-chip memory (Edge TPU SRAM, Hexagon VTCM, ...) keeps a
    # kernel's activations there when they fit, and its weights when all of the weights it runs
    # fit; the rest goes to DRAM (weights of a discrete accelerator: over its interconnect).
    act_bytes = (elems_in + elems_out) * bb * bpe_row  # (N, R): every image of the call
    w_bytes = sk.params * bpe_row  # (R,): weights once per call
    w_dram_bw = np.where(
        (engine == PRIMARY) & mp.discrete_accelerator, mp.interconnect_bytes_per_s, mp.bandwidth_bytes_per_s
    )
    local_bytes = mp.local_bytes[engine]  # (R,)
    if (local_bytes > 0).any():
        local_bw = mp.local_bytes_per_s[engine]
        w_total = np.array([(w_bytes * (engine == k)).sum() for k in (PRIMARY, FALLBACK)])
        weights_on_chip = (w_total <= mp.local_bytes)[engine] & (local_bytes > 0)
        act_on_chip = (act_bytes <= local_bytes) & (local_bytes > 0)
        t_mem = np.where(act_on_chip, act_bytes / local_bw, act_bytes / mp.bandwidth_bytes_per_s) + np.where(
            weights_on_chip, w_bytes / local_bw, w_bytes / w_dram_bw
        )
        dram_bytes = np.where(act_on_chip, 0.0, act_bytes) + np.where(weights_on_chip, 0.0, w_bytes)
    else:  # no on-chip memory (most GPUs and CPUs here): every byte goes to DRAM
        t_mem = act_bytes / mp.bandwidth_bytes_per_s + w_bytes / w_dram_bw
        dram_bytes = act_bytes + w_bytes
    dispatch = float(mp.dispatch_s[engine[active], p].sum())

    src = pl.cross_src[:, 1]
    cross_elems = np.zeros(n)
    if len(src):
        inp = src == -1
        cross_elems += inp.sum() * 3.0 * res.astype(np.float64) ** 2
        if (~inp).any():
            cross_elems += elems_out[:, src[~inp]].sum(axis=1)
    cross_elems *= b
    cross_s = cross_elems * bpe / mp.interconnect_bytes_per_s + pl.n_sync * mp.sync_s

    on_primary = (engine == PRIMARY) & active
    ratio = mp.dvfs_ratio
    level_layers = np.stack(
        [np.maximum(t_comp * np.where(on_primary, 1.0 / s, 1.0), t_mem).sum(axis=1) for s in ratio], axis=1
    )  # (N, J)
    # The primary's per-call cost is paid only if it runs something (an int8-only accelerator
    # given an fp32 network is never invoked: the runtime calls the fallback engine alone).
    call_s = mp.call_s if (active & (engine == PRIMARY)).any() else mp.fallback_call_s
    level_t = level_layers + (dispatch + call_s) + cross_s[:, None]

    on_fallback = (engine == FALLBACK) & active
    e_op = np.nan_to_num(mp.energy_per_op_j[:, p])  # an engine that runs no row adds nothing
    # Switching energy of the arithmetic, plus the floor an engine burns whenever it is busy
    # (clocks, control, SRAM at the raised voltage), memory-bound kernels included.
    busy_primary = np.stack(
        [(np.maximum(t_comp * np.where(on_primary, 1.0 / s, 0.0), t_mem) * on_primary).sum(axis=1) for s in ratio],
        axis=1,
    )  # (N, J) seconds the primary engine is busy at each level
    busy_fallback = (np.maximum(t_comp, t_mem) * on_fallback).sum(axis=1)
    beta_p, beta_f = mp.busy_fraction
    e_primary = (ops * on_primary).sum(axis=1) * e_op[PRIMARY] * (1 - beta_p)
    e_fallback = (ops * on_fallback).sum(axis=1) * e_op[FALLBACK] * (1 - beta_f)
    e_fallback += busy_fallback * beta_f * mp.fallback_power_w
    e_mem = (dram_bytes.sum(axis=1) + cross_elems * bpe) * mp.energy_j_per_byte
    kappa = (mp.dvfs_power_w / ratio) / mp.dvfs_power_w[0]
    e_dyn_primary = e_primary[:, None] * kappa[None, :] + busy_primary * (beta_p * mp.dvfs_power_w)[None, :]
    e_dyn = e_dyn_primary + (e_fallback + e_mem)[:, None]  # (N, J)
    headroom = mp.budget_w - mp.static_w
    if headroom > 0:
        level_t = np.maximum(level_t, e_dyn / headroom)
    for members, room in zip(mp.domain_members, mp.domain_headroom_w, strict=True):
        # A domain's own cap (e.g. USB bus power) bounds the dynamic power of its engines only.
        e_dom = e_dyn_primary * members[PRIMARY] + e_fallback[:, None] * members[FALLBACK]
        level_t = np.maximum(level_t, e_dom / room)
    if latency_s is not None:
        # calibrated: a measured latency includes whatever cap the mode imposed already; the
        # engines are busy for the same share of it, so their busy-power energy scales alike
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.asarray(latency_s, dtype=np.float64) / level_t[:, 0]
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        level_t = level_t * scale[:, None]
        e_fallback = e_fallback + busy_fallback * beta_f * mp.fallback_power_w * (scale - 1.0)
        e_dyn_primary = (
            e_primary[:, None] * kappa[None, :] + busy_primary * scale[:, None] * (beta_p * mp.dvfs_power_w)[None, :]
        )
        e_dyn = e_dyn_primary + (e_fallback + e_mem)[:, None]
    level_e = mp.static_w * level_t + e_dyn
    if energy_j is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            e_scale = np.asarray(energy_j, dtype=np.float64) * b / level_e[:, 0]
        level_e = level_e * np.where(np.isfinite(e_scale) & (e_scale > 0), e_scale, 1.0)[:, None]
    level_p = level_e / level_t
    # average power drawn from each power domain at the highest level (N, D)
    domain_power = (
        np.stack(
            [
                (e_dyn_primary[:, 0] * m[PRIMARY] + e_fallback * m[FALLBACK]) / level_t[:, 0] + (room_static)
                for m, room_static in zip(mp.domain_members, mp.domain_static_w, strict=True)
            ],
            axis=1,
        )
        if len(mp.domain_headroom_w)
        else np.zeros((n, 0))
    )

    latency = level_t[:, 0]
    energy = level_e[:, 0]
    power = level_p[:, 0]

    # Sustained operation under the thermal governor. The RC body is the package holding the
    # primary engine: for a discrete accelerator (its own interconnect) the mode's static power
    # outside the accelerator's own domain is the host's and does not heat it.
    heat_offset = mp.static_w - mp.body_static_w if mp.discrete_accelerator else 0.0
    p_s = sustainable_power_w(mp, amb) + heat_offset
    ok = level_p <= p_s
    # A device whose steady state stays below the trip never throttles at all.
    never = level_p[:, 0] - heat_offset <= max(0.0, mp.trip_c - amb) / mp.thermal_resistance_c_per_w
    any_ok = ok.any(axis=1) | never
    first = np.where(never, 0, np.argmax(ok, axis=1))
    rows = np.arange(n)
    hi = np.maximum(first - 1, 0)
    p_hi, p_lo = level_p[rows, hi], level_p[rows, first]
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(first > 0, (p_s - p_lo) / (p_hi - p_lo), 1.0)
    alpha = np.clip(np.nan_to_num(alpha, nan=1.0), 0.0, 1.0)
    fps_mix = alpha / level_t[rows, hi] + (1 - alpha) / level_t[rows, first]
    clock_mix = alpha * mp.dvfs_clock_hz[hi] + (1 - alpha) * mp.dvfs_clock_hz[first]
    power_mix = np.where(first > 0, p_s, level_p[rows, 0])
    # Below the lowest level: run it with a duty cycle d and idle the rest of the time.
    p_low, t_low = level_p[:, -1], level_t[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        duty = np.clip((p_s - mp.idle_w) / (p_low - mp.idle_w), 0.0, 1.0)
    duty = np.nan_to_num(duty)
    sustained_fps = np.where(any_ok, fps_mix, duty / t_low) * b  # images per second
    sustained_power = np.where(any_ok, power_mix, duty * p_low + (1 - duty) * mp.idle_w)
    sustained_clock = np.where(any_ok, clock_mix, mp.dvfs_clock_hz[-1])
    with np.errstate(divide="ignore"):
        sustained_energy = sustained_power / sustained_fps

    # Memory: deployed weights + liveness peak of materialised tensors.
    heads = np.flatnonzero(active)
    head_sizes = elems_out[:, pl.tail[heads]]  # (N, H)
    delta = np.zeros((n, len(st.op_idx) + 1))
    delta[:, heads] += head_sizes
    np.add.at(delta.T, pl.last_use[heads] + 1, -head_sizes.T)
    input_elems = 3.0 * res.astype(np.float64) ** 2
    delta[:, 0] += input_elems
    delta[:, pl.input_last_use + 1] -= input_elems
    peak_act = np.cumsum(delta, axis=1)[:, :-1].max(axis=1) * bpe * b
    weights = np.full(n, pl.weight_elems * bpe, dtype=np.float64)

    if not pl.runnable:
        nan = np.full(n, np.nan)
        inf = np.full(n, np.inf)
        latency, energy, power = inf, nan, nan
        sustained_fps, sustained_energy, sustained_power, sustained_clock = np.zeros(n), nan, nan, nan
        level_t = np.full_like(level_t, np.inf)
        level_p = np.full_like(level_p, np.nan)

    layers = None
    if keep_layers:
        layers = _layers_frame(sk, mp, pl, precision, t_comp[0], t_mem[0], ops[0], act_bytes[0] + w_bytes, active)
    return Evaluation(
        runnable=pl.runnable,
        latency_s=latency,
        energy_j=energy / b,  # per image
        avg_power_w=power,
        sustained_fps=sustained_fps,
        sustained_energy_j=sustained_energy,
        sustained_power_w=sustained_power,
        sustained_clock_hz=sustained_clock,
        time_to_throttle_s=time_to_throttle_s(power - heat_offset, mp, amb) if pl.runnable else np.full(n, np.nan),
        weights_bytes=weights,
        peak_activation_bytes=peak_act,
        macs=macs.sum(axis=1),
        params=int(sk.params.sum()),
        level_latency_s=level_t,
        level_power_w=level_p,
        placement=pl,
        domain_power_w=domain_power,
        layers=layers,
        batch=b,
    )


def _layers_frame(sk, mp: ModeParams, pl: Placement, precision, t_comp, t_mem, ops, bytes_, active) -> pd.DataFrame:
    p = PRECISIONS.index(precision)
    engine_names = np.array([mp.engine_names[0], mp.engine_names[1] or ""], dtype=object)
    dispatch = np.where(active, mp.dispatch_s[pl.engine, p], 0.0)
    time_s = np.where(active, np.maximum(t_comp, t_mem) + dispatch, 0.0)
    e_op = np.nan_to_num(mp.energy_per_op_j[pl.engine, p])
    bound = np.where(~active, "fused", np.where(t_comp >= t_mem, "compute", "memory"))
    fused_into = np.where(pl.fused, np.asarray(sk.name, dtype=object)[pl.group], "")
    return pd.DataFrame(
        {
            "name": np.asarray(sk.name, dtype=object),
            "op": np.asarray(sk.op, dtype=object),
            "engine": engine_names[pl.engine],
            "precision": [{v: k for k, v in BYTES_PER_ELEMENT.items()}.get(b, "") for b in mp.exec_bytes[pl.engine, p]],
            "bound": bound,
            "fused_into": fused_into,
            "time_ms": time_s * 1e3,
            "compute_ms": np.where(active, t_comp, 0.0) * 1e3,
            "memory_ms": t_mem * 1e3,
            "dispatch_ms": dispatch * 1e3,
            "ops": ops,
            "bytes": bytes_,
            "energy_mj": (ops * e_op + bytes_ * mp.energy_j_per_byte) * 1e3,
        }
    )
