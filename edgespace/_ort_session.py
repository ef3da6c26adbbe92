"""The one way edgespace builds an ONNX Runtime session (the runners, the host probe and the
precision converters all use it), with the thread pinning that steadies its timings.

It sits at the bottom of the stage order: a hardware profile's host probe builds sessions too,
without loading the runners.
"""

from __future__ import annotations

import contextlib
import os

from edgespace._errors import UnavailableError

__all__ = ["make_session", "check_provider", "pinned_threads"]


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
