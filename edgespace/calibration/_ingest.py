"""Read per-node timings captured by ONNX Runtime or TensorRT (here or on another device).

* ONNX Runtime profile JSON (``SessionOptions.enable_profiling = True``; the file
  ``InferenceSession.end_profiling()`` writes): a Chrome-trace list of events. Kernel events have
  ``"cat": "Node"``, a name ending in ``_kernel_time``, ``dur`` in µs and ``args.op_name``;
  ``"cat": "Session"`` events named ``model_run`` bracket each run. Node ``args`` also carry
  ORT's allocator accounting (``mem_bytes_requested_in_use``, ``mem_in_use_peak``, ...).
* TensorRT ``trtexec --exportProfile=profile.json``: ``[{"count": N}, {"name": ..., "timeMs":
  ..., "averageMs": ..., "medianMs": ..., "percentage": ...}, ...]``, one entry per engine layer
  (fused layers' names joined with ``" + "``; ``Reformatting CopyNode ...`` layers have no path).
* TensorRT ``trtexec --exportTimes=times.json``: one entry per inference with ``latencyMs``,
  ``computeMs`` (and ``h2dMs``/``d2hMs``, start/end timestamps; older releases write
  ``inMs``/``outMs``/``endToEndMs``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgespace._errors import CalibrationError
from edgespace.calibration._mapping import NodeTime

__all__ = ["NodeProfile", "IngestError", "read_ort_profile", "read_trtexec_profile", "read_trtexec_times"]


class IngestError(CalibrationError):
    """A profile file cannot be read or is not in the format its reader expects."""


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


def _load(path_or_data, what: str):
    if isinstance(path_or_data, (str, os.PathLike)):
        p = Path(path_or_data)
        try:
            return json.loads(p.read_text()), str(p)
        except FileNotFoundError:
            raise IngestError(f"{p}: no such file ({what} expected)") from None
        except OSError as exc:
            raise IngestError(f"{p}: cannot read: {exc.strerror or exc} ({what} expected)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IngestError(f"{p}: not JSON ({exc}); {what} expected") from None
        except RecursionError:
            raise IngestError(f"{p}: not JSON (nested too deeply); {what} expected") from None
    return path_or_data, "<data>"


def _num(src: str, where: str, entry, key: str, *, default=None, positive: bool = False) -> float:
    """``entry[key]`` as a finite float, or an :class:`IngestError` naming the file, the entry
    and the field (JSON's ``Infinity``/``NaN``, text, ``true`` and a missing key are refused)."""
    if not isinstance(entry, dict):
        raise IngestError(f"{src}: {where}: expected a JSON object, got {type(entry).__name__}")
    if key not in entry:
        if default is not None:
            return default
        raise IngestError(f"{src}: {where}: field {key!r} is missing")
    v = entry[key]
    if isinstance(v, str):  # ORT writes some numbers (allocator accounting) as text
        try:
            v = float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise IngestError(f"{src}: {where}: {key}: {str(v)[:40]!r}: expected a number")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f) or (positive and f < 0):
        raise IngestError(f"{src}: {where}: {key}: {v!r}: expected a finite number{' >= 0' if positive else ''}")
    return f


def load_format_json(path, fmt: str, error=None, *, missing: str = "no such file") -> dict:
    """A JSON object whose ``format`` is ``fmt`` (calibration files, capture-set manifests);
    ``error`` (default :class:`IngestError`) names the file and what is wrong."""
    error = error or IngestError
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise error(f"{p}: {missing}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{p}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise error(f"{p}: format: {got!r}: expected {fmt!r}")
    return doc


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
                mem = {k: int(_num(src, where(i, e), args, k, positive=k != "mem_requested_in_use_delta"))
                       for k in ("mem_bytes_requested_in_use", "mem_requested_in_use_delta") if k in args}  # fmt: skip
                kernels.append({"name": str(e["name"]), "ts": ts, "dur": dur, "op": str(args.get("op_name", "")), "mem": mem})
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
    for k in keys:
        seen: dict[str, float] = {}
        for e in sorted(per_run[k], key=lambda e: e["ts"]):
            name = e["name"]
            seen[name] = seen.get(name, 0.0) + float(e["dur"])  # a node run twice in one run: summed
            order.setdefault(name, e["op"])
        for name, d in seen.items():
            times.setdefault(name, []).append(d)
    nodes = tuple(NodeTime(name, op, float(np.median(times[name]))) for name, op in order.items())
    run_ms = tuple((b - a) / 1e3 for a, b in runs[1:] if skip_first and len(runs) > 1) or tuple((b - a) / 1e3 for a, b in runs)
    return NodeProfile(nodes, run_ms, peak or None, src, len(keys))


def read_trtexec_profile(path_or_data) -> NodeProfile:
    """Parse ``trtexec --exportProfile`` JSON: per-layer ``averageMs`` (``medianMs`` when present)."""
    data, src = _load(path_or_data, "a trtexec --exportProfile file")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict) or "count" not in data[0]:
        raise IngestError(f"{src}: a trtexec --exportProfile file is a list starting with {{\"count\": N}}")
    count = _num(src, "entry 0", data[0], "count", positive=True)
    nodes = []
    for i, row in enumerate(data[1:], start=1):
        if not isinstance(row, dict) or "name" not in row or not ({"averageMs", "medianMs"} & row.keys()):
            got = sorted(map(str, row))[:8] if isinstance(row, dict) else type(row).__name__
            raise IngestError(f"{src}: entry {i}: expected 'name' and 'averageMs'/'medianMs', got {got}")
        ms = _num(src, f"entry {i} ({str(row['name'])[:60]})", row, "medianMs" if "medianMs" in row else "averageMs", positive=True)
        nodes.append(NodeTime(str(row["name"]), "", ms * 1e3))
    return NodeProfile(tuple(nodes), (), None, src, int(count))


def read_trtexec_times(path_or_data) -> dict:
    """Parse ``trtexec --exportTimes`` JSON into end-to-end statistics (ms):
    ``latency_ms`` p50/p90/p99, ``compute_ms_p50``, ``runs``."""
    data, src = _load(path_or_data, "a trtexec --exportTimes file")
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise IngestError(f"{src}: a trtexec --exportTimes file is a non-empty list of per-inference entries")
    lat_key = "latencyMs" if "latencyMs" in data[0] else "endToEndMs" if "endToEndMs" in data[0] else None
    if lat_key is None or "computeMs" not in data[0]:
        raise IngestError(f"{src}: entries need 'latencyMs' (or 'endToEndMs') and 'computeMs'; got {sorted(data[0])}")
    lat = np.array([_num(src, f"entry {i}", r, lat_key, positive=True) for i, r in enumerate(data)])
    comp = np.array([_num(src, f"entry {i}", r, "computeMs", positive=True) for i, r in enumerate(data)])
    return {
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p90": float(np.percentile(lat, 90)),
        "latency_ms_p99": float(np.percentile(lat, 99)),
        "compute_ms_p50": float(np.percentile(comp, 50)),
        "runs": len(data),
        "source": src,
    }
