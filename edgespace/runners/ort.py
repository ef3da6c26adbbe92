"""ONNX Runtime runner: timed runs, a separate profiled pass for per-node times and memory.

Sessions run one inference at a time (sequential executor, ``intra_op_num_threads = threads``,
``inter_op_num_threads = 1``) on a fixed uint8 image. The timed session is not profiled (the
profiler adds per-node overhead); the profiled pass is a second session of ``profile_runs`` runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from edgespace._errors import UnavailableError
from edgespace._spec import ArchSpec
from edgespace.meters import NullMeter, PowerMeter, get_meter
from edgespace.runners._ort_profile import read_ort_profile
from edgespace.runners.common import Measurement, Runner, register_runner, torch_never_imported

__all__ = ["OnnxRuntimeRunner", "make_session", "input_for", "measure_interleaved", "pinned_threads", "rss_bytes"]


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


@contextlib.contextmanager
def pinned_threads(threads: int, enabled: bool = True):
    """Pin the calling thread to the first CPU this process may use and yield ONNX Runtime's
    ``session.intra_op_thread_affinities`` string for its ``threads - 1`` worker threads (one
    CPU each, the next ones; ORT numbers processors from 1), or None where pinning is off or not
    possible (not Linux, fewer CPUs than threads). The calling thread's affinity is restored on
    exit.

    Why: on a 2-core virtual machine an unpinned 2-thread run lets the scheduler move ORT's
    threads between cores mid-run; pinned, the same networks ran ~1.5x more inferences in the
    same time and a repeat measurement agreed with the first within ±10% for 88% of 16 networks
    (56-62% unpinned, two trials each, reference-paired). Benchmark tools pin for the same reason
    (MLPerf, TFLite's benchmark_model)."""
    getter, setter = getattr(os, "sched_getaffinity", None), getattr(os, "sched_setaffinity", None)
    cpus = sorted(getter(0)) if getter is not None else []
    if not enabled or setter is None or len(cpus) < threads:
        yield None
        return
    before = set(cpus)
    setter(0, {cpus[0]})
    try:
        yield ";".join(str(c + 1) for c in cpus[1:threads]) if threads > 1 else ""
    finally:
        setter(0, before)


def make_session(
    model,
    threads: int = 1,
    *,
    provider: str = "CPUExecutionProvider",
    profile_prefix: str | None = None,
    worker_affinity: str | None = None,
    log_severity: int = 3,
):
    """The one way edgespace builds an ONNX Runtime session: sequential executor, ``threads``
    intra-op threads, one inter-op thread. ``model``: a path, serialized bytes or an
    ``onnx.ModelProto``. ``worker_affinity`` (from :func:`pinned_threads`) pins its worker
    threads; ``profile_prefix`` turns the profiler on; ``log_severity`` 4 silences expected
    warnings (e.g. a probe for a kernel that may be missing).

    (The standalone capture script, :mod:`edgespace.calibration.capture`, keeps its own copy of
    these options: it runs on devices without edgespace installed.)"""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = int(log_severity)
    if worker_affinity:
        so.add_session_config_entry("session.intra_op_thread_affinities", worker_affinity)
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    source = model if isinstance(model, bytes) else str(model)
    check_provider(provider)
    session = ort.InferenceSession(source, so, providers=[provider])
    ran = session.get_providers()
    if not ran or ran[0] != provider:
        # ORT falls back to the CPU when a provider's libraries (CUDA, cuDNN, TensorRT) fail to
        # load; a timing labelled with the provider asked for would then be a CPU timing.
        raise UnavailableError(
            f"provider {provider!r} is unavailable: ONNX Runtime could not start it and would run on "
            f"{', '.join(ran) or 'nothing'} instead (its libraries or the device are missing)"
        )
    return session


def check_provider(provider: str) -> None:
    """:class:`~edgespace.UnavailableError` unless this onnxruntime build offers ``provider``,
    naming what it does offer."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if provider not in available:
        hint = {
            "CUDAExecutionProvider": " (needs the onnxruntime-gpu package, CUDA and an NVIDIA GPU)",
            "TensorrtExecutionProvider": " (needs onnxruntime-gpu built with TensorRT, and TensorRT)",
        }.get(provider, "")
        raise UnavailableError(
            f"provider {provider!r} is unavailable in this onnxruntime {ort.__version__}{hint}; "
            f"available: {', '.join(available)}"
        )


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
    def is_available(cls) -> bool:
        try:
            import onnxruntime  # noqa: F401

            return True
        except Exception:
            return False

    @classmethod
    def unavailable_reason(cls) -> str:
        return "backend 'onnxruntime' needs the onnxruntime package (pip install onnxruntime)"

    def profile(self, onnx_path, spec: ArchSpec, *, threads: int, runs: int = 10, worker_affinity: str | None = None):
        """Per-node times and ORT's memory accounting from a profiled session (``runs`` runs
        after one discarded warm-up run). Returns a :class:`~edgespace.calibration.NodeProfile`."""
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
        warmup: int = 10,
        runs: int | None = 100,
        duration_s: float | None = None,
        rounds: int = 5,
        profile: bool = True,
        profile_runs: int = 10,
        meter: PowerMeter | None = None,
        idle_s: float = 0.5,
        notes: tuple[str, ...] = (),
    ) -> Measurement:
        import onnxruntime as ort

        meter = meter if meter is not None else get_meter(device="cpu")
        rss0 = rss_bytes()
        sess = make_session(onnx_path, threads, provider=self.provider, worker_affinity=worker_affinity)
        feed = input_for(sess, spec.resolution)
        for _ in range(max(0, warmup)):
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
            for _ in range(int(runs)):
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
            groups = np.array_split(lat_ms, max(1, min(rounds, len(lat_ms))))
        medians = np.array([np.median(g) for g in groups if len(g)])
        robust = float(medians.min())
        prof = (
            self.profile(onnx_path, spec, threads=threads, runs=profile_runs, worker_affinity=worker_affinity)
            if profile
            else None
        )
        p50, p90, p99 = _percentiles(lat_ms)
        energy_reason = window.energy_unavailable_reason
        per_inf = window.energy_mj / len(lat_ms) if window.energy_mj is not None else None
        return Measurement(
            spec=spec,
            backend=self.name,
            provider=self.provider,
            precision=precision,
            threads=int(threads),
            warmup=int(warmup),
            runs=len(lat_ms),
            rounds=len(medians),
            latency_p50_ms=p50,
            latency_p90_ms=p90,
            latency_p99_ms=p99,
            latency_mean_ms=float(lat_ms.mean()),
            latency_min_ms=float(lat_ms.min()),
            latency_robust_ms=robust,
            latency_spread_pct=float((medians.max() - robust) / robust * 100),
            throughput_fps=float(len(lat_ms) / wall),
            duration_s=float(wall) if duration_s is not None else None,
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
            onnx_path=str(onnx_path),
            runtime_version=f"onnxruntime {ort.__version__}",
            clean_process=torch_never_imported(),
            date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            notes=tuple(notes)
            + (
                ()
                if profile or self.provider == "CPUExecutionProvider"
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

    def warm(session, feed) -> float:
        t0 = time.perf_counter()
        for _ in range(warmup):
            session.run(None, feed)
        return (time.perf_counter() - t0) / max(1, warmup)

    ref = ref_feed = None
    ref_s = 0.0
    if reference_path is not None:
        ref = make_session(reference_path, threads, provider=provider, worker_affinity=affinity)
        ref_inp = ref.get_inputs()[0]
        ref_feed = input_for(ref, int(ref_inp.shape[2]))
        ref_s = warm(ref, ref_feed)
    sessions, feeds, counts, batch = [], [], [], []
    for path, spec in zip(paths, specs, strict=True):
        s = make_session(path, threads, provider=provider, worker_affinity=affinity)
        f = input_for(s, spec.resolution)
        per = max(warm(s, f), 1e-5)
        sessions.append(s)
        feeds.append(f)
        counts.append(int(min(50, max(3, round(round_s / per)))))
        # runs per reference run: the batch lasts about as long as one reference run
        batch.append(int(min(20, max(1, round(ref_s / per)))) if ref is not None else 1)
        tick()
    lat: list[list[list[float]]] = [[] for _ in specs]
    ratios: list[list[float]] = [[] for _ in specs]
    ref_times: list[float] = []
    for _ in range(rounds):
        for i, (s, f) in enumerate(zip(sessions, feeds, strict=True)):
            one = []
            n = 0
            while n < counts[i]:
                if ref is not None:
                    t0 = time.perf_counter()
                    ref.run(None, ref_feed)
                    t_ref = time.perf_counter() - t0
                    ref_times.append(t_ref)
                times = []
                for _ in range(batch[i]):
                    t0 = time.perf_counter()
                    s.run(None, f)
                    times.append(time.perf_counter() - t0)
                if ref is not None:
                    ratios[i].append(float(np.median(times)) / t_ref)
                one += times
                n += len(times)
            lat[i].append(one)
        step += len(specs) - 1
        tick()
    del sessions, ref
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
                onnx_path=str(path),
                runtime_version=f"onnxruntime {ort.__version__}",
                clean_process=torch_never_imported(),
                date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                round_medians_ms=tuple(float(m) for m in medians),
                latency_paired_ms=paired,
                reference=(reference_name or str(reference_path)) if paired is not None else "",
            )
        )
    return out
