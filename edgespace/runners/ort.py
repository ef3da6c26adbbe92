"""ONNX Runtime runner: timed runs, a separate profiled pass for per-node times and memory.

Sessions run one inference at a time (sequential executor, ``intra_op_num_threads = threads``,
``inter_op_num_threads = 1``) on a fixed uint8 image. The timed session is not profiled (the
profiler adds per-node overhead); the profiled pass is a second session of ``profile_runs`` runs.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from edgespace._errors import UnavailableError
from edgespace._ort_session import check_provider, make_session, pinned_threads
from edgespace._spec import ArchSpec
from edgespace.meters import NullMeter, PowerMeter, get_meter
from edgespace.runners._ort_profile import read_ort_profile
from edgespace.runners._timing import DEFAULT_TIMING, TimingPlan, call_latency_fields
from edgespace.runners.common import Measurement, Runner, register_runner, torch_never_imported

__all__ = ["OnnxRuntimeRunner", "input_for", "rss_bytes"]


MEMORY_SOURCE = (
    "onnxruntime profiler, first run of a profiled session: peak mem_bytes_requested_in_use "
    "minus the arena's use before the first kernel (live intermediate tensors + workspace; "
    "weights excluded)"
)


def rss_bytes() -> int | None:
    """This process's resident set size (Linux ``/proc/self/statm``), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def input_for(session, resolution: int, seed: int = 0) -> dict:
    inp = session.get_inputs()[0]
    dtype = np.uint8 if "uint8" in inp.type else np.float32
    x = np.random.default_rng(seed).integers(0, 256, size=(1, 3, resolution, resolution)).astype(dtype)
    return {inp.name: x}


def _percentiles(lat_ms: np.ndarray) -> tuple[float, float, float]:
    p50, p90, p99 = np.percentile(lat_ms, [50, 90, 99])
    return float(p50), float(p90), float(p99)


@register_runner
class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"

    def __init__(self, provider: str = "CPUExecutionProvider") -> None:
        check_provider(provider)  # before any export or quantisation work
        self.provider = provider

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import onnxruntime  # noqa: F401
        except Exception as exc:
            return f"backend 'onnxruntime' needs the onnxruntime package (pip install onnxruntime): {exc}"
        return None

    def profile(self, onnx_path, spec: ArchSpec, *, threads: int, runs: int = 10, worker_affinity: str | None = None):
        """Per-node times and ORT's memory accounting from a profiled session (``runs`` runs
        after one discarded warm-up run). Returns a :class:`~edgespace.runners.NodeProfile`."""
        with tempfile.TemporaryDirectory(prefix="edgespace-prof-") as tmp:
            sess = make_session(
                onnx_path,
                threads,
                provider=self.provider,
                profile_prefix=str(Path(tmp) / "ort"),
                worker_affinity=worker_affinity,
            )
            feed = input_for(sess, spec.resolution)
            for _ in range(runs + 1):
                sess.run(None, feed)
            prof = read_ort_profile(sess.end_profiling())
        ran = prof.meta.get("provider_us", {})
        if self.provider != "CPUExecutionProvider" and ran and self.provider not in ran:
            # The session accepted the provider but it ran no kernel (ORT assigned every node to
            # another one): a timing labelled with it would be a timing of the others.
            raise UnavailableError(
                f"provider {self.provider!r} ran none of the network's kernels here: ONNX Runtime "
                f"placed them all on {', '.join(sorted(ran))}; nothing is labelled with a provider "
                "that did not run it"
            )
        return prof

    def measure(
        self, onnx_path, spec: ArchSpec, *, threads: int = 1, pin_threads: bool = True, **kwargs
    ) -> Measurement:
        """Time ``onnx_path`` (see :meth:`_measure` for the arguments) with its threads pinned
        to CPUs (:func:`pinned_threads`) unless ``pin_threads=False``."""
        with pinned_threads(threads, pin_threads) as affinity:
            m = self._measure(onnx_path, spec, threads=threads, worker_affinity=affinity, **kwargs)
        if affinity is not None:
            m = dataclasses.replace(m, notes=m.notes + (_pin_note(threads),))
        return m

    def _measure(
        self,
        onnx_path,
        spec: ArchSpec,
        *,
        worker_affinity: str | None = None,
        precision: str = "fp32",
        threads: int = 1,
        timing: TimingPlan = DEFAULT_TIMING,
        meter: PowerMeter | None = None,
        idle_s: float = 0.5,
        notes: tuple[str, ...] = (),
    ) -> Measurement:
        import onnxruntime as ort

        meter = meter if meter is not None else get_meter(device="cpu")
        rss0 = rss_bytes()
        sess = make_session(onnx_path, threads, provider=self.provider, worker_affinity=worker_affinity)
        feed = input_for(sess, spec.resolution)
        duration_s = timing.duration_s
        for _ in range(timing.warmup):
            sess.run(None, feed)
        lat: list[float] = []
        ends: list[float] = []
        # idle power just before the window, reported apart (never subtracted)
        idle_w = meter.idle_power_w(idle_s) if idle_s > 0 else None
        token = meter.begin_window()
        t_start = time.perf_counter()
        if duration_s is not None:
            while True:
                t0 = time.perf_counter()
                sess.run(None, feed)
                t1 = time.perf_counter()
                lat.append(t1 - t0)
                ends.append(t1 - t_start)
                if t1 - t_start >= duration_s:
                    break
        else:
            for _ in range(int(timing.runs)):
                t0 = time.perf_counter()
                sess.run(None, feed)
                t1 = time.perf_counter()
                lat.append(t1 - t0)
                ends.append(t1 - t_start)
        wall = time.perf_counter() - t_start
        window = meter.end_window(token)
        rss1 = rss_bytes()
        lat_ms = np.array(lat) * 1e3
        ends_a = np.array(ends)
        series: tuple[tuple[float, float], ...] = ()
        peak_fps = sustained_fps = None
        if duration_s is not None:
            n_win = int(min(20, max(2, math.floor(duration_s))))
            edges = np.linspace(0, ends_a[-1], n_win + 1)
            counts = np.histogram(ends_a, bins=edges)[0]
            width = edges[1] - edges[0]
            series = tuple((float(edges[i + 1]), float(counts[i] / width)) for i in range(n_win))
            fps = np.array([f for _, f in series])
            peak_fps = float(fps.max())
            sustained_fps = float(np.median(fps[-max(1, n_win // 3) :]))
            groups = np.array_split(lat_ms, n_win)
        else:
            groups = np.array_split(lat_ms, max(1, min(timing.rounds, len(lat_ms))))
        medians = np.array([np.median(g) for g in groups if len(g)])
        prof = (
            self.profile(onnx_path, spec, threads=threads, runs=timing.profile_runs, worker_affinity=worker_affinity)
            if timing.profile
            else None
        )
        energy_reason = window.energy_unavailable_reason
        per_inf = window.energy_mj / len(lat_ms) if window.energy_mj is not None else None
        return Measurement(
            spec=spec,
            backend=self.name,
            provider=self.provider,
            precision=precision,
            threads=int(threads),
            warmup=timing.warmup,
            **call_latency_fields(lat_ms, medians, wall, duration_s),
            throughput_series=series,
            peak_fps=peak_fps,
            sustained_fps=sustained_fps,
            peak_activation_bytes=prof.peak_memory_bytes if prof is not None else None,
            memory_source=MEMORY_SOURCE
            if prof is not None and prof.peak_memory_bytes is not None
            else "not profiled (profile=False)",
            rss_delta_bytes=(rss1 - rss0) if rss0 is not None and rss1 is not None else None,
            energy_per_inference_mj=per_inf,
            energy_window_mj=window.energy_mj,
            energy_window_s=float(window.duration_s) if window.energy_mj is not None else None,
            idle_power_w=idle_w,
            energy_unavailable_reason=energy_reason,
            avg_power_w=window.avg_power_w,
            meter=window.meter,
            meter_domain=window.domain,
            node_profile=prof,
            model_path=str(onnx_path),
            runtime_version=f"onnxruntime {ort.__version__}",
            clean_process=torch_never_imported(),
            date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            notes=tuple(notes)
            + (
                ()
                if timing.profile or self.provider == "CPUExecutionProvider"
                else (f"not profiled: which provider ran each kernel was not checked ({self.provider} asked)",)
            ),
            round_medians_ms=tuple(float(m) for m in medians),
        )


_ = NullMeter  # re-exported for type checkers


def _pin_note(threads: int) -> str:
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    return f"threads pinned: the calling thread on CPU {cpus[0]}" + (
        f", ORT's workers on CPU {', '.join(map(str, cpus[1:]))}" if threads > 1 else ""
    )
