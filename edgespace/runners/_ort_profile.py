"""ONNX Runtime's profiler trace → per-node times and its memory accounting.

The reader belongs with the runner that writes the trace (:mod:`edgespace.runners.ort`);
calibration reads the same traces captured on other devices and imports it from here.

ONNX Runtime profile JSON (``SessionOptions.enable_profiling = True``; the file
``InferenceSession.end_profiling()`` writes): a Chrome-trace list of events. Kernel events have
``"cat": "Node"``, a name ending in ``_kernel_time``, ``dur`` in µs and ``args.op_name``;
``"cat": "Session"`` events named ``model_run`` bracket each run. Node ``args`` also carry
ORT's allocator accounting (``mem_bytes_requested_in_use``, ``mem_in_use_peak``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgespace._errors import IngestError
from edgespace._json_input import json_number as _num
from edgespace._json_input import read_json_source as _load

__all__ = ["NodeTime", "NodeProfile", "read_ort_profile"]


@dataclass(frozen=True)
class NodeTime:
    """One kernel's time as a profiler reported it (median over the profiled runs)."""

    name: str
    op_type: str
    time_us: float


@dataclass(frozen=True)
class NodeProfile:
    """Per-node times of one model as a profiler saw them.

    ``nodes``: median time of each kernel over the profiled runs, in execution order;
    ``run_ms``: the profiler's end-to-end time of each run (empty where the format has none);
    ``peak_memory_bytes``: the allocator's peak where the profiler reports it (ORT), else None.
    """

    nodes: tuple[NodeTime, ...]
    run_ms: tuple[float, ...] = ()
    peak_memory_bytes: int | None = None
    source: str = ""
    runs: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def node_total_ms(self) -> float:
        return float(sum(n.time_us for n in self.nodes)) / 1e3


def read_ort_profile(path_or_events, *, skip_first: bool = True) -> NodeProfile:
    """Parse an ONNX Runtime profile (path or the loaded event list).

    Node times are the per-node median over the runs (the first run is dropped as warm-up when
    there are several, unless ``skip_first=False``).

    ``peak_memory_bytes`` is ORT's own accounting of activation memory, from the *first* run of
    the session: during it ORT allocates every intermediate tensor separately from its arena (it
    is tracing the memory pattern it will reuse as one block afterwards), so the largest
    ``mem_bytes_requested_in_use`` minus the amount in use before the run's first kernel is the
    peak of live intermediate tensors, kernel workspace included. The baseline subtracted is what
    the arena held already: weights prepacked at session start (e.g. the classifier's GEMM
    weights). Later runs show one flat pattern block and are not used for memory.
    """
    events, src = _load(path_or_events, "an ONNX Runtime profile")
    if isinstance(events, dict) and "traceEvents" in events:
        events = events["traceEvents"]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise IngestError(f"{src}: an ONNX Runtime profile is a JSON list of trace events")

    def where(i: int, e: dict) -> str:
        return f"event {i} ({str(e.get('name', '?'))[:60]})"

    runs = []
    kernels = []
    for i, e in enumerate(events):
        is_run = e.get("cat") == "Session" and e.get("name") == "model_run"
        if is_run or (e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time")):
            ts = _num(src, where(i, e), e, "ts", positive=True)
            dur = _num(src, where(i, e), e, "dur", positive=True)
            if is_run:
                runs.append((ts, ts + dur))
            else:
                args = e.get("args", {})
                if not isinstance(args, dict):
                    raise IngestError(f"{src}: {where(i, e)}: args: expected a JSON object, got {type(args).__name__}")
                mem = {
                    k: int(_num(src, where(i, e), args, k, positive=k != "mem_requested_in_use_delta"))
                    for k in ("mem_bytes_requested_in_use", "mem_requested_in_use_delta")
                    if k in args
                }
                kernels.append(
                    {
                        "name": str(e["name"]),
                        "ts": ts,
                        "dur": dur,
                        "op": str(args.get("op_name", "")),
                        "mem": mem,
                        "provider": str(args.get("provider", "")),
                    }
                )
    runs.sort()
    if not kernels:
        raise IngestError(f"{src}: no kernel events (cat 'Node', name '*_kernel_time'); was profiling enabled?")
    starts = np.array([r[0] for r in runs]) if runs else np.zeros(0)
    per_run: dict[int, list[dict]] = {}
    for e in kernels:
        k = int(np.searchsorted(starts, e["ts"], side="right") - 1) if len(starts) else 0
        per_run.setdefault(max(k, 0), []).append(e)
    keys = sorted(per_run)
    if skip_first and len(keys) > 1:
        keys = keys[1:]
    peak = 0
    first = sorted(per_run[min(per_run)], key=lambda e: e["ts"])
    if first and "mem_bytes_requested_in_use" in first[0]["mem"]:
        a0 = first[0]["mem"]
        base = a0["mem_bytes_requested_in_use"] - a0.get("mem_requested_in_use_delta", 0)
        peak = max(e["mem"].get("mem_bytes_requested_in_use", 0) for e in first) - base
    order: dict[str, str] = {}
    times: dict[str, list[float]] = {}
    counts: dict[str, int] | None = None
    for k in keys:
        seen: dict[str, float] = {}
        n_of: dict[str, int] = {}
        for e in sorted(per_run[k], key=lambda e: e["ts"]):
            # a name that repeats within a run (very old profiles name every kernel
            # "_kernel_time"; a node run twice) is kept apart by its order: name, name#1, ...
            j = n_of.get(e["name"], 0)
            n_of[e["name"]] = j + 1
            name = e["name"] if j == 0 else f"{e['name']}#{j}"
            seen[name] = float(e["dur"])
            order.setdefault(name, e["op"])
        if counts is not None and n_of != counts:
            diff = sorted(n for n in set(n_of) | set(counts) if n_of.get(n) != counts.get(n))
            raise IngestError(
                f"{src}: kernel name(s) {', '.join(diff[:3])} occur a different number of times in "
                "different runs, so repeated names cannot be told apart by their order; profile "
                "with a newer ONNX Runtime (it names each node)"
            )
        counts = n_of
        for name, d in seen.items():
            times.setdefault(name, []).append(d)
    nodes = tuple(NodeTime(name, op, float(np.median(times[name]))) for name, op in order.items())
    run_ms = tuple((b - a) / 1e3 for a, b in runs[1:] if skip_first and len(runs) > 1) or tuple(
        (b - a) / 1e3 for a, b in runs
    )
    # which execution provider ran the kernels (µs over the kept runs): what actually ran, whatever was asked
    provider_us: dict[str, float] = {}
    for k in keys:
        for e in per_run[k]:
            if e["provider"]:
                provider_us[e["provider"]] = provider_us.get(e["provider"], 0.0) + float(e["dur"])
    return NodeProfile(
        nodes, run_ms, peak or None, src, len(keys), meta={"provider_us": provider_us} if provider_us else {}
    )
