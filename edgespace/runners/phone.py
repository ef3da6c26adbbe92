"""Phone runtimes on this CPU: LiteRT (``.tflite``) and ExecuTorch (``.pte``), both through
XNNPACK, the CPU path phones themselves use. These are real runs of the phone runtimes' CPU
kernels on this machine's x86 cores; not a phone, and not a phone's NPU.

Models come from :func:`edgespace.export` (uint8 frame in, preprocessing in the graph), exported
in a child process and cached by spec, format and precision, so that the converters (torch,
litert-torch) do not run in the timing process.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path

import numpy as np

from edgespace._errors import SpecError
from edgespace._ort_session import pinned_threads
from edgespace._spec import ArchSpec
from edgespace.runners._timing import DEFAULT_TIMING, TimingPlan, call_latency_fields
from edgespace.runners.common import Measurement, Runner, register_runner, torch_never_imported
from edgespace.runners.ort import rss_bytes

__all__ = ["LiteRTRunner", "ExecuTorchRunner"]

NO_MEMORY = (
    "not reported: the runtime's Python API exposes no arena accounting (rss_delta_bytes is the process's growth)"
)


def _time_invocations(invoke, timing: TimingPlan, meter) -> dict:
    """Time ``invoke()`` back to back: latency statistics, round medians, energy window."""
    runs, duration_s = timing.runs, timing.duration_s
    for _ in range(timing.warmup):
        invoke()
    lat: list[float] = []
    token = meter.begin_window()
    t_start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        invoke()
        t1 = time.perf_counter()
        lat.append(t1 - t0)
        if (duration_s is not None and t1 - t_start >= duration_s) or (duration_s is None and len(lat) >= runs):
            break
    wall = time.perf_counter() - t_start
    window = meter.end_window(token)
    lat_ms = np.array(lat) * 1e3
    medians = np.array(
        [np.median(g) for g in np.array_split(lat_ms, max(1, min(timing.rounds, len(lat_ms)))) if len(g)]
    )
    per_inf = window.energy_mj / len(lat_ms) if window.energy_mj is not None else None
    return dict(
        **call_latency_fields(lat_ms, medians, wall, duration_s),
        round_medians_ms=tuple(float(m) for m in medians),
        energy_per_inference_mj=per_inf,
        energy_window_mj=window.energy_mj,
        energy_window_s=float(window.duration_s) if window.energy_mj is not None else None,
        energy_unavailable_reason=window.energy_unavailable_reason,
        avg_power_w=window.avg_power_w,
        meter=window.meter,
        meter_domain=window.domain,
    )


class _PhoneRunner(Runner):
    """Shared by the phone runtimes: export (cached), open, time, report."""

    format = ""
    module = ""
    precisions = ("fp32", "int8")
    takes_threads = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        import importlib.util

        if importlib.util.find_spec(cls.module) is None:
            return f"backend {cls.name!r} needs the {cls.module} package (pip install 'edgespace[phone]')"
        return None

    def prepare_input(self, spec: ArchSpec, precision: str, *, model=None, calibration_data=None, cache_dir=None):
        if model is not None:
            raise SpecError(
                f"confirm(backend={self.name!r}) exports from the spec; model= is not supported (use export(..., checkpoint=))"
            )
        from edgespace.exporters import cached_phone_model

        path = cached_phone_model(spec, self.format, precision, calibration_data=calibration_data, cache_dir=cache_dir)
        return str(path), (f"{self.format} model from edgespace.export ({precision}), cached",)

    def _open(self, path: str, spec: ArchSpec, threads: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _profile(self, path: str, spec: ArchSpec, runs: int):
        """Per-operator times from the runtime's own profiler (a NodeProfile), or None where its
        Python API has none."""
        return None

    def measure(
        self,
        path,
        spec: ArchSpec,
        *,
        precision: str = "fp32",
        threads: int = 1,
        timing: TimingPlan = DEFAULT_TIMING,
        meter=None,
        notes: tuple[str, ...] = (),
        model=None,
        calibration_data=None,
        pin_threads: bool = True,
    ) -> Measurement:
        from edgespace.meters import get_meter

        if spec.batch != 1:
            raise SpecError(f"confirm(batch={spec.batch}): backend {self.name!r} runs one frame per call")
        meter = meter if meter is not None else get_meter("auto")
        rss0 = rss_bytes()
        with pinned_threads(threads, pin_threads) as affinity:
            invoke, version = self._open(str(path), spec, int(threads))
            stats = _time_invocations(invoke, timing, meter)
            del invoke
            rss1 = rss_bytes()
            prof = self._profile(str(path), spec, timing.profile_runs) if timing.profile else None
        extra = ("threads pinned to this process's first CPUs",) if affinity is not None else ()
        if timing.profile and prof is None:
            extra += (
                f"no per-operator profile: {self.name}'s Python API has none (its benchmark tool on a phone does)",
            )
        elif prof is not None:
            extra += (f"per-operator times: {prof.meta.get('tool')} of a separate profiled pass ({prof.runs} runs)",)
        return Measurement(
            spec=spec,
            backend=self.name,
            provider="XNNPACK",
            precision=precision,
            threads=int(threads),
            warmup=timing.warmup,
            peak_activation_bytes=None,
            memory_source=NO_MEMORY,
            rss_delta_bytes=(rss1 - rss0) if rss0 is not None and rss1 is not None else None,
            model_path=str(path),
            runtime_version=version,
            clean_process=torch_never_imported(),
            date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            notes=tuple(notes) + extra,
            node_profile=prof,
            **stats,
        )


@register_runner
class LiteRTRunner(_PhoneRunner):
    """LiteRT's interpreter with its default XNNPACK delegate; uint8 NHWC frame in."""

    name = "litert"
    format = "litert"
    module = "ai_edge_litert"

    def _open(self, path: str, spec: ArchSpec, threads: int):
        from importlib.metadata import version

        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=path, num_threads=threads)
        interp.allocate_tensors()
        inp = interp.get_input_details()[0]
        frame = np.random.default_rng(0).integers(0, 256, size=tuple(inp["shape"]), dtype=np.uint8)
        interp.set_tensor(inp["index"], frame.astype(inp["dtype"]))
        return interp.invoke, f"ai-edge-litert {version('ai-edge-litert')} (XNNPACK)"


@register_runner
class ExecuTorchRunner(_PhoneRunner):
    """ExecuTorch's runtime with the program's XNNPACK delegate; uint8 NCHW frame in."""

    name = "executorch"
    format = "executorch"
    module = "executorch"

    def _open(self, path: str, spec: ArchSpec, threads: int):
        from importlib.metadata import version

        import torch
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
        from executorch.runtime import Runtime

        _unsafe_reset_threadpool(threads)  # XNNPACK's thread pool
        method = Runtime.get().load_program(path).load_method("forward")
        r = spec.resolution
        frame = [torch.from_numpy(np.random.default_rng(0).integers(0, 256, size=(1, 3, r, r), dtype=np.uint8))]
        return (lambda: method.execute(frame)), f"executorch {version('executorch')} (XNNPACK)"

    def _profile(self, path: str, spec: ArchSpec, runs: int):
        """ETDump of ``runs`` executions (the runtime's event tracer, XNNPACK's per-operator
        times included), read back with ExecuTorch's Inspector."""
        import tempfile

        import torch
        from executorch.extension.pybindings.portable_lib import _load_for_executorch

        from edgespace.runners._phone_profile import read_etdump

        module = _load_for_executorch(path, enable_etdump=True, debug_buffer_size=0)
        r = spec.resolution
        frame = [torch.from_numpy(np.random.default_rng(0).integers(0, 256, size=(1, 3, r, r), dtype=np.uint8))]
        for _ in range(runs):  # the first (cold) run is one of them: each operator's time is its median
            module.forward(frame)
        with tempfile.TemporaryDirectory() as tmp:
            etdp = Path(tmp) / "run.etdp"
            module.write_etdump_result_to_file(str(etdp))
            return read_etdump(etdp)
