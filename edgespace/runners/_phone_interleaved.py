"""Interleaved, reference-paired measuring with the phone runtimes (LiteRT, ExecuTorch): the same
timing loop as ONNX Runtime's calibration runs (:func:`~edgespace.runners._interleaved.time_interleaved`),
over the runtimes' own invoke calls, so that a calibration from phone runs is measured as carefully
as one from ONNX Runtime's."""

from __future__ import annotations

import dataclasses
import datetime as _dt

import numpy as np

from edgespace._ort_session import pinned_threads
from edgespace._spec import ArchSpec
from edgespace.runners._interleaved import time_interleaved
from edgespace.runners.common import Measurement, get_runner, torch_never_imported
from edgespace.runners.ort import _percentiles, _pin_note
from edgespace.runners.phone import NO_MEMORY

__all__ = ["measure_phone_interleaved"]


def measure_phone_interleaved(
    paths: list,
    specs: list[ArchSpec],
    *,
    backend: str,
    threads: int,
    precision: str = "fp32",
    rounds: int = 10,
    round_s: float = 0.08,
    warmup: int = 3,
    reference_path=None,
    reference: ArchSpec | None = None,
    profile_runs: int = 0,
    progress=None,
    pin_threads: bool = True,
) -> list[Measurement]:
    """Time the ``backend`` models at ``paths`` (one per spec) in ``rounds`` interleaved rounds, each
    batch of a network preceded by one run of the reference model (``reference_path``, the same
    backend and precision; ``reference`` its spec), as :func:`~edgespace.runners.measure_interleaved` does for ONNX Runtime:
    ``latency_paired_ms`` is the median (batch median / reference run) ratio times the reference's
    median over the whole measurement. All models stay open for the whole measurement. With
    ``profile_runs`` and a runtime that has a per-operator profiler (ExecuTorch), each network is
    profiled after the timing. ``progress(step, total)`` is called after every unit of work."""
    runner = get_runner(backend)
    total = len(specs) * (rounds + 2)
    step = 0

    def tick(n: int = 1) -> None:
        nonlocal step
        step += n
        if progress is not None:
            progress(step, total)

    with pinned_threads(threads, pin_threads) as affinity:
        ref_run = None
        if reference_path is not None:
            ref_run = runner._open(str(reference_path), reference or specs[0], int(threads))[0]
        runs, version = [], ""
        for path, spec in zip(paths, specs, strict=True):
            run, version = runner._open(str(path), spec, int(threads))
            runs.append(run)
        lat, ratios, ref_times = time_interleaved(
            runs,
            ref_run,
            rounds=rounds,
            round_s=round_s,
            warmup=warmup,
            tick=lambda: tick(len(specs)),
            opened=tick,
        )
        del runs, ref_run
        profiles = []
        for path, spec in zip(paths, specs, strict=True):
            profiles.append(runner._profile(str(path), spec, profile_runs) if profile_runs else None)
            tick()
    ref_level_ms = float(np.median(ref_times)) * 1e3 if ref_times else None
    notes = ("interleaved rounds" + (", reference-paired" if ref_level_ms is not None else ""),)
    if affinity is not None:
        notes += (_pin_note(threads),)
    out = []
    for i, (path, spec) in enumerate(zip(paths, specs, strict=True)):
        all_ms = np.concatenate([np.array(r) for r in lat[i]]) * 1e3
        medians = np.array([np.median(r) for r in lat[i]]) * 1e3
        p50, p90, p99 = _percentiles(all_ms)
        paired = float(np.median(ratios[i])) * ref_level_ms if ref_level_ms is not None and ratios[i] else None
        out.append(
            Measurement(
                spec=dataclasses.replace(spec, precision=precision),
                backend=runner.name,
                provider="XNNPACK",
                precision=precision,
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
                memory_source=NO_MEMORY,
                energy_unavailable_reason="not metered in interleaved calibration runs",
                node_profile=profiles[i],
                model_path=str(path),
                runtime_version=version,
                clean_process=torch_never_imported(),
                date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                notes=notes,
                round_medians_ms=tuple(float(m) for m in medians),
                latency_paired_ms=paired,
                reference=(reference.short_name() if reference is not None else str(reference_path))
                if paired is not None
                else "",
            )
        )
    return out
