"""Device-neutral timing for runners that enqueue work (CUDA graphs, TensorRT, or plain CPU calls).

A *timer* marks points in a device's stream: on the CPU a wall-clock reading after a
synchronous call, on a CUDA device a ``torch.cuda.Event`` recorded in the stream (the time the
GPU reached that point, not the time Python enqueued it). :func:`time_calls` runs a callable in
chunks, marking before and after every call, synchronising only at the end of a chunk so the
device never waits for Python; per-call latencies come from the marks and throughput from the
wall clock at chunk ends. :func:`latency_summary` and :func:`throughput_windows` turn the raw
times into the statistics every :class:`~edgespace.runners.Measurement` carries.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Self

import numpy as np

__all__ = [
    "CudaEventTimer",
    "TelemetrySampler",
    "TimedRun",
    "TimingPlan",
    "WallTimer",
    "chunk_size",
    "call_latency_fields",
    "latency_summary",
    "throughput_windows",
    "time_calls",
]


class WallTimer:
    """Marks are ``time.perf_counter()`` readings; right for calls that return when done."""

    kind = "wall clock (time.perf_counter), synchronous calls"
    asynchronous = False

    def mark(self) -> float:
        return time.perf_counter()

    @staticmethod
    def elapsed_ms(start, end) -> float:
        return (end - start) * 1e3

    def synchronize(self) -> None:
        return None


class CudaEventTimer:
    """Marks are CUDA events recorded in ``stream`` (default: the current stream of ``device``,
    looked up once): the stream the timed work is enqueued on, on the runner's device, whatever
    the current device of the calling thread is."""

    kind = "CUDA events (torch.cuda.Event, enable_timing=True) around each call"
    asynchronous = True

    def __init__(self, device, stream=None) -> None:
        import torch

        self._torch = torch
        self._device = torch.device(device)
        self.stream = stream if stream is not None else torch.cuda.current_stream(self._device)

    def mark(self):
        event = self._torch.cuda.Event(enable_timing=True)
        event.record(self.stream)
        return event

    @staticmethod
    def elapsed_ms(start, end) -> float:
        return float(start.elapsed_time(end))

    def synchronize(self) -> None:
        self._torch.cuda.synchronize(self._device)


@dataclass(frozen=True)
class TimingPlan:
    """How a runner times a network, whatever the backend: ``warmup`` discarded calls, then either
    ``runs`` calls in ``rounds`` rounds or calls for ``duration_s`` seconds (exactly one of the two);
    ``profile``: also a per-operator profile of ``profile_runs`` runs where the backend has one.
    Checked when made, so every runner gets a valid plan."""

    warmup: int = 10
    runs: int | None = 100
    duration_s: float | None = None
    rounds: int = 5
    profile: bool = True
    profile_runs: int = 10

    def __post_init__(self) -> None:
        from edgespace._errors import SpecError

        if (self.runs is None) == (self.duration_s is None):
            raise SpecError("give exactly one of runs=N or duration_s=S")
        for name, least in (("warmup", 0), ("runs", 1), ("rounds", 1), ("profile_runs", 1)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise SpecError(f"{name}={value!r}: allowed: an integer >= {least}")
        if self.duration_s is not None and not (
            isinstance(self.duration_s, (int, float)) and 0 < self.duration_s <= 86400
        ):
            raise SpecError(f"duration_s={self.duration_s!r}: allowed: 0 < seconds <= 86400")

    @property
    def calls(self) -> dict:
        """The keywords :func:`time_calls` takes."""
        return {"warmup": self.warmup, "runs": self.runs, "duration_s": self.duration_s, "rounds": self.rounds}


#: The plan a runner uses when given none.
DEFAULT_TIMING = TimingPlan()


@dataclass
class TimedRun:
    """Per-call latencies (ms), in the order run, and the chunk structure of the run."""

    latency_ms: np.ndarray
    chunk_end_s: np.ndarray  # wall clock at the end of each chunk, from the start of timing
    chunk_calls: np.ndarray  # calls in each chunk
    wall_s: float
    round_of_call: np.ndarray  # round index of every call (runs mode); empty in duration mode
    notes: list[str] = field(default_factory=list)
    host_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))  # host time of each call() (enqueue)


def chunk_size(call, timer, target_s: float) -> int:
    """Calls per chunk so that a chunk lasts about ``target_s`` (measured on a few calls)."""
    per = max(_pace(call, timer), 1e-6)
    return int(min(2000, max(1, round(target_s / per))))


def _pace(call, timer) -> float:
    """Seconds per call, from a few calls (at least 20 ms of them)."""
    timer.synchronize()
    t0, n = time.perf_counter(), 0
    while n < 3 or time.perf_counter() - t0 < 0.02:
        call()
        n += 1
        if n >= 1000:
            break
    timer.synchronize()
    return (time.perf_counter() - t0) / n


def time_calls(
    call,
    timer,
    *,
    warmup: int = 10,
    runs: int | None = 100,
    duration_s: float | None = None,
    rounds: int = 5,
    chunk_s: float = 0.05,
    min_s: float = 0.0,
    chunk_calls: int | None = None,
    pace_s: float | None = None,
) -> TimedRun:
    """Run ``call`` ``warmup`` times, then time it: ``runs`` calls in ``rounds`` rounds (a round
    is synchronised at its end), or calls for ``duration_s`` seconds in chunks of about
    ``chunk_s`` (measured with a few calls first, unless ``chunk_calls`` gives the count).
    ``min_s``: in runs mode, make each of the ``rounds`` rounds long enough that together they last
    at least this long (an energy window needs seconds, not milliseconds), from ``pace_s`` (seconds
    per call, measured before; probed here when None); the number of rounds never changes.
    ``host_ms`` of the result: how long each ``call()`` took to return on the host (for an
    asynchronous timer, the enqueue time)."""
    if (runs is None) == (duration_s is None):
        raise ValueError("time_calls: give exactly one of runs or duration_s")
    for _ in range(max(0, warmup)):
        call()
    timer.synchronize()
    lat: list[float] = []
    host: list[float] = []
    ends: list[float] = []
    counts: list[int] = []
    round_of: list[int] = []
    t_start = time.perf_counter()
    clock = time.perf_counter

    def chunk(k: int) -> None:
        marks = []
        for _ in range(k):
            a = timer.mark()
            h0 = clock()
            call()
            host.append(clock() - h0)
            marks.append((a, timer.mark()))
        timer.synchronize()
        ends.append(time.perf_counter() - t_start)
        counts.append(k)
        lat.extend(timer.elapsed_ms(a, b) for a, b in marks)

    if duration_s is not None:
        k = chunk_calls if chunk_calls is not None else chunk_size(call, timer, chunk_s)
        t_start = time.perf_counter()
        while True:
            chunk(k)
            if ends[-1] >= duration_s:
                break
    else:
        rounds = max(1, min(int(rounds), int(runs)))
        sizes = [len(a) for a in np.array_split(np.arange(int(runs)), rounds)]
        if min_s > 0:
            # Exactly `rounds` rounds: when an energy window needs `min_s`, the rounds grow, never
            # their number, so that the spread of the round medians stays comparable across runs.
            per = pace_s if pace_s is not None else _pace(call, timer)
            sizes = [max(k, math.ceil(min_s / max(per, 1e-9) / rounds * 1.05)) for k in sizes]
        t_start = time.perf_counter()
        for r, k in enumerate(sizes):
            if r and min_s > 0 and ends[-1] < min_s * r / rounds:  # behind the pace probed: grow the rest
                k = max(k, math.ceil((min_s - ends[-1]) / (ends[-1] / sum(counts)) / (rounds - r) * 1.05))
            chunk(k)
            round_of.extend([r] * k)
    wall = time.perf_counter() - t_start
    return TimedRun(
        np.array(lat, dtype=np.float64),
        np.array(ends),
        np.array(counts),
        wall,
        np.array(round_of, dtype=np.int64),
        host_ms=np.array(host, dtype=np.float64) * 1e3,
    )


def latency_summary(run: TimedRun, rounds: int) -> dict:
    """p50/p90/p99, mean, min, the robust latency (minimum of the round medians) and the spread
    of the round medians (``(max - min) / min``, %), in ms. Duration runs are split into
    ``rounds`` consecutive groups of calls."""
    lat = run.latency_ms
    if len(run.round_of_call):
        groups = [lat[run.round_of_call == r] for r in np.unique(run.round_of_call)]
    else:
        groups = np.array_split(lat, max(1, min(rounds, len(lat))))
    medians = np.array([np.median(g) for g in groups if len(g)])
    return {
        **_latency_stats(lat, medians),
        "round_medians_ms": tuple(float(m) for m in medians),
        "rounds": len(medians),
    }


def _latency_stats(lat_ms: np.ndarray, medians: np.ndarray) -> dict:
    """Percentiles, mean and minimum of per-call times (ms), the robust figure (the fastest
    round's median) and the spread of the round medians (%)."""
    p50, p90, p99 = (float(v) for v in np.percentile(lat_ms, [50, 90, 99]))
    robust = float(medians.min())
    return {
        "latency_p50_ms": p50,
        "latency_p90_ms": p90,
        "latency_p99_ms": p99,
        "latency_mean_ms": float(lat_ms.mean()),
        "latency_min_ms": float(lat_ms.min()),
        "latency_robust_ms": robust,
        "latency_spread_pct": float((medians.max() - robust) / robust * 100),
    }


def throughput_windows(run: TimedRun, images_per_call: int = 1, window_s: float = 1.0):
    """``(series, peak_fps, sustained_fps)``: images per second in consecutive windows of about
    ``window_s`` (from the chunk ends), the best window and the median of the last third."""
    if len(run.chunk_end_s) == 0 or run.wall_s <= 0:
        return (), None, None
    n_win = int(max(1, math.floor(run.chunk_end_s[-1] / window_s)))
    edges = np.linspace(0.0, run.chunk_end_s[-1], n_win + 1)
    images = np.histogram(run.chunk_end_s, bins=edges, weights=run.chunk_calls * images_per_call)[0]
    width = edges[1] - edges[0]
    series = tuple((float(edges[i + 1]), float(images[i] / width)) for i in range(n_win))
    fps = np.array([f for _, f in series])
    return series, float(fps.max()), float(np.median(fps[-max(1, n_win // 3) :]))


class TelemetrySampler:
    """Calls ``read()`` (returning a tuple of numbers) every ``period_s`` on a background thread
    while active; ``samples`` holds ``(t_s, *values)``. A reader that raises stops the sampling
    and leaves the reason in ``error``."""

    def __init__(self, read, period_s: float = 1.0) -> None:
        self._read = read
        self._period = float(period_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples: list[tuple[float, ...]] = []
        self.error: str | None = None

    def _loop(self) -> None:
        t0 = time.perf_counter()
        while True:
            try:
                self.samples.append((time.perf_counter() - t0, *self._read()))
            except Exception as exc:  # noqa: BLE001 - a sensor that fails must not break the measurement
                self.error = f"telemetry stopped: {exc}"
                return
            if self._stop.wait(self._period):
                return

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._loop, name="edgespace-telemetry", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def call_latency_fields(lat_ms: np.ndarray, medians: np.ndarray, wall_s: float, duration_s: float | None) -> dict:
    """The latency fields of a Measurement from per-call times ``lat_ms`` (ms), the medians of
    its rounds (ms), the wall time of the timed window (s) and the requested duration (s, or None
    for a count of runs): percentiles, the robust figure (the fastest round's median) and its
    spread, and the throughput over the window."""
    return {
        "runs": len(lat_ms),
        "rounds": len(medians),
        **_latency_stats(lat_ms, medians),
        "throughput_fps": float(len(lat_ms) / wall_s),
        "duration_s": float(wall_s) if duration_s is not None else None,
    }
