"""Interleaved measuring with ONNX Runtime: many networks timed in rounds in one process, each
paired with a reference network timed back to back, so that a slow spell of a shared core shows in
the reference too (what calibration and confirmation measure with)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import time

import numpy as np

from edgespace._ort_session import make_session, pinned_threads
from edgespace._spec import ArchSpec
from edgespace.runners.common import Measurement, torch_never_imported
from edgespace.runners.ort import MEMORY_SOURCE, OnnxRuntimeRunner, _percentiles, _pin_note, input_for

__all__ = ["REFERENCE_SPEC", "measure_interleaved", "time_interleaved"]


#: The network every calibration measurement is paired with (timed back to back, see
#: :func:`measure_interleaved`): mid-sized for the calibration range
#: (~4 ms on one core here), so that it feels a slow spell of the core as the others do.
REFERENCE_SPEC = ArchSpec("mobilenetv2", 0.75, 1.0, 160)


def measure_interleaved(
    paths: list,
    specs: list[ArchSpec],
    *,
    threads: int,
    rounds: int = 5,
    round_s: float = 0.08,
    warmup: int = 3,
    profile_runs: int = 10,
    provider: str = "CPUExecutionProvider",
    progress=None,
    reference_path=None,
    reference_name: str = "",
    pin_threads: bool = True,
) -> list[Measurement]:
    """Time many networks fairly on a shared machine: one session each, then ``rounds`` rounds
    that each run every network for about ``round_s`` seconds in turn, so that a slow spell hits
    all of them alike. ``latency_robust_ms`` is the minimum of each network's per-round medians.
    Each network is then profiled (``profile_runs`` runs) for node times and memory.

    With ``reference_path`` (an ONNX file), every timed batch of a network is preceded by one run
    of the reference network, back to back, and ``latency_paired_ms`` is the median of the
    (network batch median / reference run) ratios times the reference's median over the whole
    measurement. Why: on a shared virtual machine the speed of a core changes by up to ~40% from
    one second to the next (a neighbour on the physical core); interleaving spreads that over all
    networks, but only a ratio taken milliseconds apart cancels it. Measured here at 1 thread, a
    repeat measurement agreed with the first within ±10% for 100% of 16 networks with the paired
    ratio (median error 0.8%), against 65% for the minimum of round medians.
    Threads are pinned to CPUs (:func:`pinned_threads`) unless ``pin_threads=False``.
    ``progress(step, total)`` is called after every unit of work."""
    with pinned_threads(threads, pin_threads) as affinity:
        out = _measure_interleaved(
            paths,
            specs,
            threads=threads,
            rounds=rounds,
            round_s=round_s,
            warmup=warmup,
            profile_runs=profile_runs,
            provider=provider,
            progress=progress,
            reference_path=reference_path,
            reference_name=reference_name,
            affinity=affinity,
        )
    if affinity is not None:
        out = [dataclasses.replace(m, notes=m.notes + (_pin_note(threads),)) for m in out]
    return out


def _measure_interleaved(
    paths,
    specs,
    *,
    threads,
    rounds,
    round_s,
    warmup,
    profile_runs,
    provider,
    progress,
    reference_path,
    reference_name,
    affinity,
) -> list[Measurement]:
    import onnxruntime as ort

    runner = OnnxRuntimeRunner(provider)
    total = len(specs) * (rounds + 2)
    step = 0

    def tick() -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, total)

    def round_done() -> None:  # a round is one step per network
        nonlocal step
        step += len(specs) - 1
        tick()

    ref_run = None
    if reference_path is not None:
        ref = make_session(reference_path, threads, provider=provider, worker_affinity=affinity)
        ref_feed = input_for(ref, int(ref.get_inputs()[0].shape[2]))
        ref_run = functools.partial(ref.run, None, ref_feed)
    sessions, runs = [], []
    for path, spec in zip(paths, specs, strict=True):
        s = make_session(path, threads, provider=provider, worker_affinity=affinity)
        sessions.append(s)
        runs.append(functools.partial(s.run, None, input_for(s, spec.resolution)))
    lat, ratios, ref_times = time_interleaved(
        runs, ref_run, rounds=rounds, round_s=round_s, warmup=warmup, tick=round_done, opened=tick
    )
    del sessions, runs, ref_run
    ref_level_ms = float(np.median(ref_times)) * 1e3 if ref_times else None
    out = []
    for i, (path, spec) in enumerate(zip(paths, specs, strict=True)):
        prof = runner.profile(path, spec, threads=threads, runs=profile_runs, worker_affinity=affinity)
        tick()
        all_ms = np.concatenate([np.array(r) for r in lat[i]]) * 1e3
        medians = np.array([np.median(r) for r in lat[i]]) * 1e3
        p50, p90, p99 = _percentiles(all_ms)
        paired = float(np.median(ratios[i])) * ref_level_ms if ref_level_ms is not None and ratios[i] else None
        out.append(
            Measurement(
                spec=spec,
                backend=runner.name,
                provider=provider,
                precision=spec.precision,
                threads=int(threads),
                warmup=warmup,
                runs=len(all_ms),
                rounds=rounds,
                latency_p50_ms=p50,
                latency_p90_ms=p90,
                latency_p99_ms=p99,
                latency_mean_ms=float(all_ms.mean()),
                latency_min_ms=float(all_ms.min()),
                latency_robust_ms=float(medians.min()),
                latency_spread_pct=float((medians.max() - medians.min()) / medians.min() * 100),
                throughput_fps=float(1e3 / all_ms.mean()),
                peak_activation_bytes=prof.peak_memory_bytes,
                memory_source=MEMORY_SOURCE,
                energy_unavailable_reason="not metered in interleaved calibration runs",
                node_profile=prof,
                model_path=str(path),
                runtime_version=f"onnxruntime {ort.__version__}",
                clean_process=torch_never_imported(),
                date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                round_medians_ms=tuple(float(m) for m in medians),
                latency_paired_ms=paired,
                reference=(reference_name or str(reference_path)) if paired is not None else "",
            )
        )
    return out


def time_interleaved(runs, ref_run=None, *, rounds: int, round_s: float, warmup: int, tick=None, opened=None):
    """The timing loop of :func:`measure_interleaved`, over plain callables (one inference each), so
    that every runtime measures alike: ``(lat, ratios, ref_times)`` with ``lat[i]`` the per-round
    call times (s) of ``runs[i]``, ``ratios[i]`` its (batch median / reference run) ratios, and
    ``ref_times`` every reference run's time (s). ``opened()`` is called once per network after its
    warm-up, ``tick()`` once per round."""

    def warm(run) -> float:
        t0 = time.perf_counter()
        for _ in range(warmup):
            run()
        return (time.perf_counter() - t0) / max(1, warmup)

    ref_s = warm(ref_run) if ref_run is not None else 0.0
    counts, batch = [], []
    for run in runs:
        per = max(warm(run), 1e-5)
        counts.append(int(min(50, max(3, round(round_s / per)))))
        # runs per reference run: the batch lasts about as long as one reference run
        batch.append(int(min(20, max(1, round(ref_s / per)))) if ref_run is not None else 1)
        if opened is not None:
            opened()
    lat: list[list[list[float]]] = [[] for _ in runs]
    ratios: list[list[float]] = [[] for _ in runs]
    ref_times: list[float] = []
    for _ in range(rounds):
        for i, run in enumerate(runs):
            one = []
            while len(one) < counts[i]:
                if ref_run is not None:
                    t0 = time.perf_counter()
                    ref_run()
                    t_ref = time.perf_counter() - t0
                    ref_times.append(t_ref)
                times = []
                for _ in range(batch[i]):
                    t0 = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - t0)
                if ref_run is not None:
                    ratios[i].append(float(np.median(times)) / t_ref)
                one += times
            lat[i].append(one)
        if tick is not None:
            tick()
    return lat, ratios, ref_times
