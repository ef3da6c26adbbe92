"""The GPU runners' measurement window where no GPU exists: fake CUDA objects that keep a stream's
rules (an event completes when the stream reaches it, not before the host records it), fake
meters that behave like a board's energy counter, and the real timing code run against them."""

from __future__ import annotations

import math
import sys
import time
import types

import pytest

from edgespace.meters import PowerMeter
from edgespace.runners._gpu_window import host_bound_check, settled_idle_power, timed_and_metered
from edgespace.runners._timing import CudaEventTimer, WallTimer, time_calls

# --- fake CUDA: streams per device, events recorded on a stream -----------------------------------


class FakeStream:
    def __init__(self, device, handle: int) -> None:
        self.device, self.cuda_stream = device, handle


class FakeEvent:
    def __init__(self, enable_timing: bool = False) -> None:
        self.stream = None
        self.t = None

    def record(self, stream=None) -> None:
        self.stream = stream
        self.t = time.perf_counter()

    def elapsed_time(self, end) -> float:
        return (end.t - self.t) * 1e3


def fake_torch(current_device: int = 0):
    """A torch module with just what CudaEventTimer uses: devices, per-device current streams, events."""
    mod = types.SimpleNamespace()
    streams = {i: FakeStream(f"cuda:{i}", 1000 + i) for i in range(2)}

    def device(d):
        if isinstance(d, str):
            return types.SimpleNamespace(type="cuda", index=int(d.split(":")[1]) if ":" in d else current_device)
        return d

    def current_stream(dev=None):
        return streams[current_device if dev is None else dev.index]

    mod.device = device
    mod.cuda = types.SimpleNamespace(
        Event=FakeEvent, current_stream=current_stream, synchronize=lambda dev=None: None, streams=streams
    )
    return mod


def test_cuda_events_go_to_the_runners_device_not_the_callers(monkeypatch):
    torch = fake_torch(current_device=0)
    monkeypatch.setitem(sys.modules, "torch", torch)
    timer = CudaEventTimer("cuda:1")  # the caller's current device is 0
    assert timer.mark().stream is torch.cuda.streams[1]
    own = FakeStream("cuda:1", 77)
    assert CudaEventTimer("cuda:1", own).mark().stream is own  # a stream of the runner's own


# --- a simulated GPU queue: host enqueue time vs device time -------------------------------------------


class QueueTimer:
    """A stream with the semantics that matter: each call queues ``gpu_s`` of work; an event's time
    is when the stream reaches it (after the work queued before it, and not before it is recorded)."""

    asynchronous = True
    kind = "simulated stream"

    def __init__(self, host_s: float, gpu_s: float) -> None:
        self.host_s, self.gpu_s = host_s, gpu_s
        self.free_at = 0.0

    def call(self) -> None:
        t = time.perf_counter() + self.host_s
        while time.perf_counter() < t:  # host work: Python, guards, graph bookkeeping
            pass
        self.free_at = max(self.free_at, time.perf_counter()) + self.gpu_s

    def mark(self) -> float:
        return max(self.free_at, time.perf_counter())

    @staticmethod
    def elapsed_ms(a, b) -> float:
        return (b - a) * 1e3

    def synchronize(self) -> None:
        while time.perf_counter() < self.free_at:
            pass


def _window(timer):
    return timed_and_metered(
        timer.call, timer, _null(), batch=1, warmup=3, runs=60, duration_s=None, rounds=3, idle_s=0.0
    )


def test_host_bound_run_is_flagged_and_a_gpu_bound_one_is_not():
    host_bound = _window(QueueTimer(host_s=0.002, gpu_s=0.0005))
    assert host_bound["host_bound"] is True
    # the events span the host's 2 ms, four times the 0.5 ms of GPU work: that is what the flag is for
    assert host_bound["latency_p50_ms"] >= 2.0 and host_bound["host_call_ms"] >= 0.5 * host_bound["latency_p50_ms"]
    gpu_bound = _window(QueueTimer(host_s=0.0001, gpu_s=0.002))
    assert gpu_bound["host_bound"] is False
    assert gpu_bound["latency_p50_ms"] == pytest.approx(2.0, rel=0.25) and gpu_bound["host_call_ms"] < 0.5
    assert gpu_bound["wall_per_call_ms"] == pytest.approx(gpu_bound["latency_p50_ms"], rel=0.3)
    # a synchronous (wall-clock) timer has nothing to check
    sync = timed_and_metered(lambda: None, WallTimer(), _null(), batch=1, warmup=0, runs=5, duration_s=None, rounds=1)
    assert sync["host_bound"] is None and sync["host_call_ms"] is None


def test_host_bound_check_counts_only_the_first_calls_after_each_sync():
    """Deep in a long round a full launch queue blocks the host for a call's GPU time: those calls
    say nothing about the host's own cost and must not flag a GPU-bound run."""
    timer = QueueTimer(host_s=0.0, gpu_s=0.0005)
    run = time_calls(timer.call, timer, warmup=0, runs=600, rounds=2)
    run.host_ms[100:300] = 0.5  # blocked calls, as a full queue makes them
    run.host_ms[400:600] = 0.5
    assert host_bound_check(run, 0.5)["host_bound"] is False
    run.host_ms[:] = 0.5
    assert host_bound_check(run, 0.5)["host_bound"] is True


def _null():
    from edgespace.meters import NullMeter

    return NullMeter("none")


# --- the energy window keeps its rounds -----------------------------------------------------------


def test_energy_window_makes_rounds_longer_not_more():
    run = time_calls(lambda: time.sleep(0.004), WallTimer(), warmup=0, runs=4, rounds=2, min_s=0.12)
    assert sorted(set(run.round_of_call.tolist())) == [0, 1]  # exactly the rounds asked for
    assert len(run.chunk_calls) == 2 and run.chunk_end_s[-1] >= 0.12 * 0.9
    assert len(run.latency_ms) > 4  # the rounds grew to fill the window


# --- idle power once the board has settled --------------------------------------------------------


class DecayingBoard(PowerMeter):
    """A board whose power falls from 150 W to 77 W with a time constant of ``tau`` seconds after
    its last load (clocks and fans coming down): the counter integrates it exactly."""

    name = "decaying-board"
    domain = "gpu-board"

    def __init__(self, tau: float = 0.3, idle_w: float = 77.0, load_w: float = 150.0) -> None:
        self.t0, self.tau, self.idle, self.extra = time.perf_counter(), tau, idle_w, load_w - idle_w

    @classmethod
    def unavailable_reason(cls, **probe) -> str | None:
        return None

    def _read_mj(self) -> float:
        t = time.perf_counter() - self.t0
        return (self.idle * t + self.extra * self.tau * (1 - math.exp(-t / self.tau))) * 1e3


class RampingBoard(DecayingBoard):
    """A board whose power keeps rising (someone else's job starting): 77 W + 400 W/s."""

    def _read_mj(self) -> float:
        t = time.perf_counter() - self.t0
        return (77.0 * t + 200.0 * t * t) * 1e3


def test_idle_power_is_read_after_the_board_settles():
    notes: list = []
    fields = timed_and_metered(
        lambda: time.sleep(0.001),
        WallTimer(),
        DecayingBoard(tau=0.3),
        batch=1,
        warmup=0,
        runs=10,
        duration_s=None,
        rounds=2,
        idle_s=0.5,
        energy_min_s=0.0,
        notes=notes,
    )
    assert fields["idle_power_w"] == pytest.approx(77.0, rel=0.03)  # 0.2 s after the load it reads ~100 W
    assert fields["idle_settle_s"] >= 1.0
    idle, settle = settled_idle_power(RampingBoard(), 0.1, step_s=0.1, max_wait_s=0.5, notes=notes)
    assert idle > 200 and settle >= 0.5 and "still changing" in notes[-1]  # read, and said to be unsettled
    assert settled_idle_power(_null(), 1.0) == (None, 0.0)
