"""Phone capture sets: LiteRT (.tflite) and ExecuTorch (.pte) files exported here, timed on a phone
with each runtime's standard tool, read back here into a calibration.

The manifest (``manifest.json``, ``format: edgespace-captures/1``, ``runtime``: ``litert`` or
``executorch``) lists every model with its spec and the command that captures it on the device:

* LiteRT: TensorFlow Lite's / LiteRT's ``benchmark_model`` with operator profiling, its output
  saved as ``NAME.benchmark_model.txt`` (LiteRT 2.x's tool takes ``--use_profiler=true`` for
  ``--enable_op_profiling=true``);
* ExecuTorch: ``executor_runner`` built with the event tracer (``-DEXECUTORCH_BUILD_DEVTOOLS=ON
  -DEXECUTORCH_ENABLE_EVENT_TRACER=ON``) and the XNNPACK backend, writing ``NAME.etdp``.

Optionally ``NAME.latency.json`` (``{"latency_ms": ...}``) holds a latency timed without the
profiler; otherwise the tool's own end-to-end figure is used (and the provenance says which).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from edgespace._errors import SpecError

__all__ = ["PHONE_RUNTIMES", "capture_command", "write_phone_models", "phone_capture_files", "read_phone_capture"]

#: runtime -> (model suffix, capture file suffix, the tool's name)
PHONE_RUNTIMES = {
    "litert": (".tflite", ".benchmark_model.txt", "benchmark_model"),
    "executorch": (".pte", ".etdp", "executor_runner"),
}


def capture_command(runtime: str, name: str, threads: int) -> str:
    """The device-side command that captures ``name``'s per-operator profile."""
    if runtime == "litert":
        return (
            f"benchmark_model --graph={name}.tflite --num_threads={threads} --num_runs=50 "
            f"--enable_op_profiling=true > {name}.benchmark_model.txt 2>&1"
        )
    return (
        f"executor_runner --model_path={name}.pte --cpu_threads={threads} --num_executions=20 --etdump_path={name}.etdp"
    )


def write_phone_models(specs, names, out: Path, runtime: str, precision: str, threads: int) -> list[dict]:
    """Export ``specs`` for ``runtime`` (cached, in a child process), copy them into ``out`` and
    return their manifest entries."""
    from edgespace.exporters import cached_phone_models

    if runtime not in PHONE_RUNTIMES:
        raise SpecError(f"capture set format {runtime!r}: allowed: onnx, {', '.join(PHONE_RUNTIMES)}")
    suffix, _, tool = PHONE_RUNTIMES[runtime]
    entries = []
    for spec, name, src in zip(specs, names, cached_phone_models(specs, runtime, precision), strict=True):
        dst = out / f"{name}{suffix}"
        if not dst.is_file():
            tmp = dst.with_suffix(".tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        r = spec.resolution
        entries.append(
            {
                "name": name,
                "model": dst.name,
                "spec": dict(spec.to_dict(), precision=precision),
                "input": {"dtype": "uint8", "shape": [1, r, r, 3] if runtime == "litert" else [1, 3, r, r]},
                "capture": {"tool": tool, "command": capture_command(runtime, name, threads)},
            }
        )
    return entries


def phone_capture_files(directory: Path, name: str) -> tuple[str, Path] | None:
    """(runtime, capture file) for model ``name`` where one was saved, else None."""
    for runtime, (_, capture_suffix, _) in PHONE_RUNTIMES.items():
        p = directory / f"{name}{capture_suffix}"
        if p.is_file():
            return runtime, p
    return None


def read_phone_capture(runtime: str, path: Path, latency_json: Path, read_latency):
    """(NodeProfile, end-to-end ms, where the latency came from) of one phone capture."""
    from edgespace.runners import read_benchmark_model, read_etdump

    prof = read_benchmark_model(path) if runtime == "litert" else read_etdump(path)
    if latency_json.is_file():
        e2e, _ = read_latency(latency_json)
        return prof, e2e, latency_json.name
    if "latency_ms" in prof.meta:
        return prof, float(prof.meta["latency_ms"]), f"{path.name} ({prof.meta.get('latency_from')}, profiled)"
    return prof, None, "node total"
