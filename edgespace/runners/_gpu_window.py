"""The measurement window of the GPU runners (``torch-cuda``, ``tensorrt``): idle power once the
board has settled, the timed calls inside one energy window, per-second telemetry, and the check
that the timed calls were not host-bound.

Idle: a GPU keeps its clocks (and power) up for a while after its last kernel; reading the idle
power 0.2 s after a load reads part of the load. :func:`settled_idle_power` reads the meter in
short windows until two in a row agree (within 3%, or 2 W) and do not fall further, then
measures the idle power over ``idle_s`` (with a limit on the wait, and a note when the board had
not settled by then).

Host-bound: CUDA events time the stream, and the stream waits for the host when the host cannot
enqueue the next call before the GPU finishes the last. Then the "GPU time" between two events
is the host's time (Python, guards, CUDA-graph-tree bookkeeping of ``torch.compile``), not the
network's. :func:`host_bound_check` compares the event median with the host's enqueue time per
call (taken on the first calls after each synchronisation, before a full launch queue can block
the host) and with the wall time per call; the Measurement carries the figures and the flag.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from edgespace.meters import NullMeter, PowerMeter
from edgespace.runners._timing import (
    TelemetrySampler,
    TimedRun,
    _pace,
    latency_summary,
    throughput_windows,
    time_calls,
)

__all__ = ["HOST_BOUND_SHARE", "HOST_BOUND_WALL", "host_bound_check", "settled_idle_power", "timed_and_metered"]

#: The run is host-bound when the host needs at least this share of the event median to enqueue a
#: call: a GPU that finishes a call before the host has enqueued the next waits for the host, and
#: the events then span the host's time too (event ~ host + GPU, so a host share of 1/2 or more).
HOST_BOUND_SHARE = 0.5
#: ... or when the wall time per call exceeds the event median by this factor (the host's time
#: falls between the calls: the GPU idles there).
HOST_BOUND_WALL = 1.25
#: Calls after each synchronisation whose enqueue time is counted (a launch queue holds ~1,000
#: entries, three per timed call: two events and the work).
_UNBLOCKED_CALLS = 100


def settled_idle_power(
    meter: PowerMeter,
    seconds: float,
    sync=None,
    *,
    step_s: float = 0.5,
    max_wait_s: float = 15.0,
    rel_tol: float = 0.03,
    abs_tol_w: float = 2.0,
    notes: list | None = None,
) -> tuple[float | None, float]:
    """``(idle_power_w, settle_s)``: the meter's average power over ``seconds`` of doing nothing,
    read once the board has settled (two windows of ``step_s`` in a row within ``rel_tol`` or
    ``abs_tol_w`` of each other, the later not lower by more than that), after at most
    ``max_wait_s``; ``settle_s`` is how long the wait took. ``(None, 0.0)`` without a meter."""
    if isinstance(meter, NullMeter) or seconds <= 0:
        return None, 0.0
    if sync is not None:
        sync()
    t0 = time.perf_counter()
    last = None
    settled = False
    while time.perf_counter() - t0 < max_wait_s:
        token = meter.begin_window()
        time.sleep(step_s)
        p = meter.end_window(token).avg_power_w
        if p is None:
            return None, time.perf_counter() - t0
        if last is not None and abs(p - last) <= max(rel_tol * last, abs_tol_w):
            settled = True
            break
        last = p
    settle_s = time.perf_counter() - t0
    if not settled and notes is not None:
        notes.append(f"idle power read before the board settled (still changing after {max_wait_s:.0f} s)")
    token = meter.begin_window()
    time.sleep(seconds)
    return meter.end_window(token).avg_power_w, settle_s


def host_bound_check(run: TimedRun, latency_p50_ms: float) -> dict:
    """``host_call_ms`` (median host time to enqueue one call, first calls after each sync),
    ``wall_per_call_ms`` (timed wall clock per call) and ``host_bound`` (the enqueue time at least
    :data:`HOST_BOUND_SHARE` of the event median, or the wall time per call above
    :data:`HOST_BOUND_WALL` times it: the events then time the host, not only the GPU)."""
    if not len(run.host_ms) or latency_p50_ms <= 0:
        return {"host_call_ms": None, "wall_per_call_ms": None, "host_bound": None}
    starts = np.concatenate([[0], np.cumsum(run.chunk_calls)[:-1]]).astype(int)
    first = np.concatenate(
        [run.host_ms[a : a + min(int(k), _UNBLOCKED_CALLS)] for a, k in zip(starts, run.chunk_calls, strict=True)]
    )
    host = float(np.median(first))
    wall = float(run.wall_s * 1e3 / max(1, len(run.latency_ms)))
    bound = host >= HOST_BOUND_SHARE * latency_p50_ms or wall > HOST_BOUND_WALL * latency_p50_ms
    return {"host_call_ms": host, "wall_per_call_ms": wall, "host_bound": bool(bound)}


def timed_and_metered(
    call,
    timer,
    meter: PowerMeter,
    *,
    batch: int,
    warmup: int,
    runs: int | None,
    duration_s: float | None,
    rounds: int,
    idle_s: float = 2.0,
    energy_min_s: float = 2.0,
    notes: list | None = None,
) -> dict:
    """Idle power (``idle_s``, once the board has settled), then :func:`~edgespace.runners._timing.time_calls` inside
    one energy window (at least ``energy_min_s`` when a meter is there) with per-second
    telemetry: the Measurement fields for latency, throughput, energy and telemetry, by their
    agreed names, and the host-bound check for an asynchronous ``timer``. Shared by the
    torch-cuda and TensorRT runners."""
    notes = notes if notes is not None else []
    idle_w, settle_s = settled_idle_power(meter, idle_s, timer.synchronize, notes=notes)
    metered = not isinstance(meter, NullMeter)
    telemetry = getattr(meter, "telemetry", None)
    sampler = TelemetrySampler(telemetry) if telemetry is not None else None
    # Warm-up and the chunk-size probe stay outside the energy window: it counts only timed calls.
    for _ in range(max(0, warmup)):
        call()
    # the pace (seconds per call) sizes the chunks or the rounds; probed before the window opens
    pace = _pace(call, timer)
    chunk = int(min(2000, max(1, round(0.05 / max(pace, 1e-6))))) if duration_s is not None else None
    timer.synchronize()
    token = meter.begin_window()
    with sampler if sampler is not None else contextlib.nullcontext():
        run = time_calls(
            call,
            timer,
            warmup=0,
            runs=runs,
            duration_s=duration_s,
            rounds=rounds,
            min_s=energy_min_s if metered else 0.0,
            chunk_calls=chunk,
            pace_s=pace,
        )
    window = meter.end_window(token)
    stats = latency_summary(run, rounds)
    host = (
        host_bound_check(run, stats["latency_p50_ms"])
        if getattr(timer, "asynchronous", False)
        else {"host_call_ms": None, "wall_per_call_ms": None, "host_bound": None}
    )
    if host["host_bound"]:
        notes.append(
            f"host-bound: the host took {host['host_call_ms']:.3f} ms to enqueue a call and "
            f"{host['wall_per_call_ms']:.3f} ms of wall time per call against an event median of "
            f"{stats['latency_p50_ms']:.3f} ms: the events time the host, the GPU's own time is lower"
        )
    series, peak_fps, sustained_fps = throughput_windows(run, batch) if duration_s is not None else ((), None, None)
    images = len(run.latency_ms) * batch
    energy = window.energy_mj / images if window.energy_mj is not None else None
    above = (energy - idle_w * window.duration_s * 1e3 / images) if energy is not None and idle_w is not None else None
    telem = tuple(tuple(float(v) for v in s) for s in sampler.samples) if sampler is not None else ()
    if sampler is not None:
        tele_reason = sampler.error or (None if telem else "no telemetry sample was taken")
    else:
        tele_reason = (
            f"no telemetry: {window.energy_unavailable_reason or 'meter ' + meter.name + ' reads energy only'}"
        )
    peak_w = sustained_w = peak_temp = sustained_clock = None
    if telem:
        arr = np.array(telem)
        tail = arr[-max(1, len(arr) // 3) :]
        peak_w, sustained_w = float(arr[:, 3].max()), float(np.median(tail[:, 3]))
        peak_temp, sustained_clock = float(arr[:, 1].max()), float(np.median(tail[:, 2]))
    if metered and window.duration_s < energy_min_s:
        notes.append(f"energy window {window.duration_s:.2f} s is shorter than {energy_min_s} s")
    return dict(
        runs=len(run.latency_ms),
        **stats,
        throughput_fps=float(images / run.wall_s),
        duration_s=float(run.wall_s) if duration_s is not None else None,
        throughput_series=series,
        peak_fps=peak_fps,
        sustained_fps=sustained_fps,
        energy_mj=energy,
        energy_per_inference_mj=energy,
        energy_above_idle_mj=above,
        energy_unavailable_reason=window.energy_unavailable_reason,
        energy_window_mj=window.energy_mj,
        energy_window_s=float(window.duration_s) if metered else None,
        avg_power_w=window.avg_power_w,
        idle_power_w=idle_w,
        idle_settle_s=settle_s if idle_w is not None else None,
        **host,
        meter=window.meter,
        meter_domain=getattr(meter, "domain", "") if metered else "",
        telemetry_series=telem,
        telemetry_unavailable_reason=tele_reason,
        peak_power_w=peak_w,
        sustained_power_w=sustained_w,
        peak_temperature_c=peak_temp,
        sustained_sm_clock_mhz=sustained_clock,
    )
