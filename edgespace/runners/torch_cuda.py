"""``torch-cuda``: the real timm module on an NVIDIA GPU, timed with CUDA events.

What runs: :func:`edgespace.build`'s module (random weights unless a model is given), in
channels-last layout, at ``fp32`` (TF32 off unless ``tf32=True``: fp32 then means fp32
arithmetic), ``fp16`` or ``bf16``, on a batch of ``batch`` images (preprocessing is not part
of the timed graph; the ONNX runners fold it in, which costs one element-wise pass).

How it runs: by default through ``torch.compile(mode="reduce-overhead")`` — Inductor fuses the
element-wise tails into the convolutions and the result is replayed as a CUDA graph, the closest
to a TensorRT engine that plain PyTorch gives (measured on an H200 with torch 2.11 on 2026-12-04,
fp16, batch 1: EfficientNet-B0 / MobileNetV2 / MobileNetV3-Large 0.519 / 0.302 / 0.404 ms against
the ``nvidia-h200`` profile's 0.528 / 0.284 / 0.392 ms; unfused CUDA graphs about twice as slow;
stored in ``benchmarks/results/h200_first_run/``, by ``benchmarks/gpu_fidelity.py``). Compiling takes tens of
seconds per network; Inductor's on-disk cache (under edgespace's cache directory unless
``TORCHINDUCTOR_CACHE_DIR`` is set) makes a repeat cheap, and the time is reported apart in
``compile_s``. ``compile=False`` captures the eager module into a ``torch.cuda.CUDAGraph``
instead: launch overhead removed, no fusion (about twice the fused latency there).

What is measured: per-call latency from CUDA events recorded around every replay (the GPU's
time, not Python's), synchronised once per round; throughput in images/s from the wall clock;
with NVML (``nvidia-ml-py``), the board's idle power over ``idle_s`` before the run (once the
board has settled after its last load: ``idle_settle_s``), then the
energy counter over the timed window (at least ``energy_min_s`` = 2 s: the counter and the power
sensor are averaged over tens of milliseconds, so short windows are noise), divided by the
images run: ``energy_mj`` is per image, board total, idle included; ``energy_above_idle_mj`` is
the same less the idle power over the window. Temperature, SM clock and board power are sampled
once a second (``telemetry_series``), peak vs sustained beside them. ``host_bound`` flags a run
whose events timed the host rather than the GPU (``host_call_ms``, ``wall_per_call_ms``: see
:mod:`edgespace.runners._gpu_window`); small compiled batch-1 networks are where to expect it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import os
import time
from dataclasses import dataclass

import numpy as np

from edgespace._errors import SpecError
from edgespace._spec import BATCH_RANGE, ArchSpec
from edgespace.meters import NullMeter, PowerMeter, get_meter
from edgespace.runners._gpu_window import timed_and_metered
from edgespace.runners._timing import DEFAULT_TIMING, CudaEventTimer, TimingPlan, WallTimer
from edgespace.runners.common import Measurement, Runner, register_runner

__all__ = [
    "TORCH_PRECISIONS",
    "CudaMeasurement",
    "TorchCudaRunner",
    "cuda_unavailable_reason",
    "measure_module",
]

#: Precisions the torch runner computes in (bf16 is a GPU precision the analytic specs lack).
TORCH_PRECISIONS = ("fp32", "fp16", "bf16")

MEMORY_SOURCE = (
    "torch CUDA caching allocator: torch.cuda.max_memory_allocated over one eager forward pass "
    "minus the memory allocated before it (live activations + cuDNN workspace; weights and "
    "input excluded)"
)


@dataclass(frozen=True)
class CudaMeasurement(Measurement):
    """A :class:`~edgespace.runners.Measurement` of the torch-cuda runner, with what a GPU adds.

    ``batch``: images per call (latencies are per call; ``throughput_fps`` is images/s;
    ``energy_mj`` per image). ``execution``: ``torch.compile reduce-overhead`` (fused + CUDA
    graph), ``cuda-graph (unfused)`` or ``eager`` (the CPU path). ``compile_s``: seconds to
    compile (or capture) and warm the graph, not part of any latency. ``energy_mj`` (=
    ``energy_per_inference_mj``) is per image; ``energy_above_idle_mj`` the same less the idle
    power (``idle_power_w``, over ``idle_s`` before the run) over the window. ``telemetry_series``:
    ``(t_s, temperature_c, sm_clock_mhz, power_w)`` each second of the timed window;
    ``peak_power_w`` the highest sample and ``sustained_power_w`` the median of the last third.
    """

    batch: int = 1
    execution: str = ""
    compile_s: float | None = None
    tf32: bool = False
    device_name: str = ""
    energy_above_idle_mj: float | None = None
    telemetry_series: tuple[tuple[float, float, float, float], ...] = ()
    telemetry_unavailable_reason: str | None = None
    peak_power_w: float | None = None
    sustained_power_w: float | None = None
    peak_temperature_c: float | None = None
    sustained_sm_clock_mhz: float | None = None
    idle_settle_s: float | None = None
    host_call_ms: float | None = None
    wall_per_call_ms: float | None = None
    host_bound: bool | None = None


def _measurement(**values) -> CudaMeasurement:
    """A CudaMeasurement from the values given, leaving out derived names that are properties on
    a Measurement (``energy_mj`` is ``energy_per_inference_mj``)."""
    names = {f.name for f in dataclasses.fields(CudaMeasurement)}
    return CudaMeasurement(**{k: v for k, v in values.items() if k in names})


def cuda_unavailable_reason() -> str | None:
    """Why the torch-cuda runner cannot run here (None when it can). Never raises."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken install
        return f"torch is not importable ({exc}); install torch with CUDA support"
    if getattr(torch.version, "cuda", None) is None:
        return (
            f"torch {torch.__version__} was built without CUDA (torch.version.cuda is None); "
            "install a CUDA build of torch"
        )
    try:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception as exc:  # noqa: BLE001 - a driver error must become the reason, not a crash
        return f"no CUDA device usable: {exc}"
    if count == 0:
        return (
            f"no CUDA device visible (torch {torch.__version__}, built for CUDA {torch.version.cuda}: "
            "torch.cuda.is_available() is False; check the NVIDIA driver and CUDA_VISIBLE_DEVICES)"
        )
    return None


def _dtype(torch, precision: str):
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


@contextlib.contextmanager
def _tf32(torch, enabled: bool):
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    torch.backends.cudnn.benchmark = True  # pick the fastest conv algorithm for these shapes, as TensorRT does
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark) = (
            before
        )


def _inductor_cache() -> str:
    """Point Inductor's on-disk compile cache into edgespace's cache directory (unless the user
    chose one with ``TORCHINDUCTOR_CACHE_DIR``), so a network compiled once compiles fast again."""
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        from edgespace._cache import cache_dir

        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir() / "inductor")
    return os.environ["TORCHINDUCTOR_CACHE_DIR"]


def measure_module(
    model,
    spec: ArchSpec,
    *,
    device: str = "cuda",
    precision: str = "fp32",
    batch: int = 1,
    compile: bool = True,
    tf32: bool = False,
    warmup: int = 10,
    runs: int | None = 100,
    duration_s: float | None = None,
    rounds: int = 5,
    meter: PowerMeter | None = None,
    idle_s: float = 2.0,
    energy_min_s: float = 2.0,
    notes: tuple[str, ...] = (),
    backend: str = "torch-cuda",
) -> CudaMeasurement:
    """Time ``model`` (a torch module for ``spec``) on ``device`` and return a
    :class:`CudaMeasurement` (see the module docstring). On ``device="cpu"`` it runs eagerly,
    timed by the wall clock (no graph, no compile, no GPU meter): the same statistics path, used
    to test it where there is no GPU."""
    import torch

    if precision not in TORCH_PRECISIONS:
        raise SpecError(f"precision={precision!r} is not allowed for {backend}; allowed: {', '.join(TORCH_PRECISIONS)}")
    if (
        isinstance(batch, bool)
        or not isinstance(batch, (int, np.integer))
        or not BATCH_RANGE[0] <= batch <= BATCH_RANGE[1]
    ):
        raise SpecError(f"batch={batch!r} is not allowed; allowed: an integer {BATCH_RANGE[0]} to {BATCH_RANGE[1]}")
    batch = int(batch)
    runs = None if duration_s is not None else runs  # a duration run replaces the count
    dev = torch.device(device)
    on_cuda = dev.type == "cuda"
    notes = list(notes)
    meter = (
        meter
        if meter is not None
        else (get_meter("nvml", device=dev) if on_cuda else NullMeter("no GPU meter on the CPU path"))
    )
    dtype = _dtype(torch, precision)
    r = spec.resolution
    timer = CudaEventTimer(dev) if on_cuda else WallTimer()
    sync = timer.synchronize
    # the runner's device is the current one while it runs: graph capture, replay, compiled code
    # and the events all go to that device's current stream, whatever device the caller had set
    on_device = torch.cuda.device(dev) if on_cuda else contextlib.nullcontext()
    with on_device, _tf32(torch, tf32) if on_cuda else contextlib.nullcontext(), torch.no_grad():
        net = model.eval().to(device=dev, dtype=dtype).to(memory_format=torch.channels_last)
        x = torch.randn(batch, 3, r, r, device=dev).to(dtype).contiguous(memory_format=torch.channels_last)
        peak = None
        if on_cuda:
            net(x)  # cuDNN's algorithm search (benchmark mode) allocates trial workspaces: not counted
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            before = torch.cuda.memory_allocated(dev)
            net(x)
            torch.cuda.synchronize(dev)
            peak = int(torch.cuda.max_memory_allocated(dev) - before)
        t0 = time.perf_counter()
        if on_cuda and compile:
            _inductor_cache()
            torch._dynamo.reset()  # a fresh cache per network: guards of earlier networks must not pile up
            fn = torch.compile(net, mode="reduce-overhead", dynamic=False)
            mark = torch.compiler.cudagraph_mark_step_begin

            def call():
                mark()
                fn(x)

            execution = 'torch.compile(mode="reduce-overhead"): Inductor-fused kernels replayed as a CUDA graph'
            for _ in range(3):  # compile, record the graph, replay once
                call()
        elif on_cuda:
            stream = torch.cuda.Stream(dev)
            stream.wait_stream(torch.cuda.current_stream(dev))
            with torch.cuda.stream(stream):
                for _ in range(3):  # cuDNN picks its algorithms before the capture
                    net(x)
            torch.cuda.current_stream(dev).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                net(x)
            call = graph.replay
            execution = "cuda-graph (unfused): the eager module captured into one torch.cuda.CUDAGraph"
        else:

            def call():
                net(x)

            execution = "eager"
            if compile:
                notes.append("compile ignored on the CPU path (eager)")
        sync()
        compile_s = time.perf_counter() - t0 if on_cuda else None
        metered_fields = timed_and_metered(
            call,
            timer,
            meter,
            batch=batch,
            warmup=warmup,
            runs=runs,
            duration_s=duration_s,
            rounds=rounds,
            idle_s=idle_s,
            energy_min_s=energy_min_s,
            notes=notes,
        )
    notes.append(f"timing: {timer.kind}")
    if on_cuda:
        name = torch.cuda.get_device_name(dev)
        runtime = f"torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()})"
        notes.append(
            "TF32 on for fp32 convolutions and matmuls"
            if tf32 and precision == "fp32"
            else "TF32 off"
            if precision == "fp32"
            else f"{precision} weights and activations"
        )
    else:
        name, runtime = "cpu", f"torch {torch.__version__} (CPU, eager)"
    return _measurement(
        spec=dataclasses.replace(spec, batch=batch),
        backend=backend,
        provider=f"{dev} {name}".strip(),
        precision=precision,
        threads=int(torch.get_num_threads()) if not on_cuda else 1,
        warmup=int(warmup),
        **metered_fields,
        peak_activation_bytes=peak,
        memory_source=MEMORY_SOURCE if peak is not None else "not measured on the CPU path",
        runtime_version=runtime,
        clean_process=False,  # torch is loaded in this process (its threads and allocator are live)
        date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        notes=tuple(notes),
        batch=batch,
        execution=execution,
        compile_s=compile_s,
        tf32=bool(tf32 and precision == "fp32"),
        device_name=name,
    )


@register_runner
class TorchCudaRunner(Runner):
    """The real timm module on an NVIDIA GPU (see the module docstring). Needs no ONNX file."""

    name = "torch-cuda"
    precisions = TORCH_PRECISIONS
    needs_onnx = False
    default_meter = "nvml"  # the board's counter, not the host CPU's RAPL

    def __init__(self, device: str = "cuda", compile: bool = True, tf32: bool = False) -> None:
        self.device = device
        self.compile = compile
        self.tf32 = tf32

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return cuda_unavailable_reason()

    def measure(
        self,
        onnx_path,
        spec: ArchSpec,
        *,
        model=None,
        precision: str = "fp32",
        batch: int | None = None,
        timing: TimingPlan = DEFAULT_TIMING,
        meter: PowerMeter | None = None,
        **kwargs,
    ) -> CudaMeasurement:
        """Build ``spec``'s module (or take ``model``) and time it by ``timing`` (no per-operator
        profile); ``onnx_path`` is not used. Other keywords as :func:`measure_module`; ``threads``
        and ``calibration_data`` (the ONNX runners') are accepted and ignored."""
        from edgespace._build import build

        for key in ("threads", "calibration_data"):
            kwargs.pop(key, None)
        kwargs.setdefault("compile", self.compile)
        kwargs.setdefault("tf32", self.tf32)
        net = model if model is not None else build(spec)
        return measure_module(
            net,
            spec,
            device=self.device,
            precision=precision,
            batch=spec.batch if batch is None else batch,
            meter=meter,
            **timing.calls,
            **kwargs,
        )
