"""Read per-node timings captured by ONNX Runtime or TensorRT (here or on another device).

* ONNX Runtime profile JSON: read by :func:`edgespace.runners.read_ort_profile`
  (it belongs with the runner that writes it), re-exported here.
* TensorRT ``trtexec --exportProfile=profile.json``: ``[{"count": N}, {"name": ..., "timeMs":
  ..., "averageMs": ..., "medianMs": ..., "percentage": ...}, ...]``, one entry per engine layer
  (fused layers' names joined with ``" + "``; ``Reformatting CopyNode ...`` layers have no path).
* TensorRT ``trtexec --exportTimes=times.json``: one entry per inference with ``latencyMs``,
  ``computeMs`` (and ``h2dMs``/``d2hMs``, start/end timestamps; older releases write
  ``inMs``/``outMs``/``endToEndMs``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgespace._errors import IngestError
from edgespace._json_input import json_number as _num
from edgespace._json_input import read_json_source as _load
from edgespace.runners import NodeProfile, NodeTime, read_ort_profile

__all__ = ["NodeProfile", "IngestError", "read_ort_profile", "read_trtexec_profile", "read_trtexec_times"]


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


def read_trtexec_profile(path_or_data) -> NodeProfile:
    """Parse ``trtexec --exportProfile`` JSON: per-layer ``averageMs`` (``medianMs`` when present)."""
    data, src = _load(path_or_data, "a trtexec --exportProfile file")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict) or "count" not in data[0]:
        raise IngestError(f'{src}: a trtexec --exportProfile file is a list starting with {{"count": N}}')
    count = _num(src, "entry 0", data[0], "count", positive=True)
    nodes = []
    for i, row in enumerate(data[1:], start=1):
        if not isinstance(row, dict) or "name" not in row or not ({"averageMs", "medianMs"} & row.keys()):
            got = sorted(map(str, row))[:8] if isinstance(row, dict) else type(row).__name__
            raise IngestError(f"{src}: entry {i}: expected 'name' and 'averageMs'/'medianMs', got {got}")
        ms = _num(
            src,
            f"entry {i} ({str(row['name'])[:60]})",
            row,
            "medianMs" if "medianMs" in row else "averageMs",
            positive=True,
        )
        nodes.append(NodeTime(str(row["name"]), "", ms * 1e3))
    return NodeProfile(tuple(nodes), (), None, src, int(count))


def read_trtexec_times(path_or_data) -> dict:
    """Parse ``trtexec --exportTimes`` JSON into end-to-end statistics (ms):
    ``latency_p50_ms``, ``latency_p90_ms``, ``latency_p99_ms``, ``compute_p50_ms``, ``runs``."""
    data, src = _load(path_or_data, "a trtexec --exportTimes file")
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise IngestError(f"{src}: a trtexec --exportTimes file is a non-empty list of per-inference entries")
    lat_key = "latencyMs" if "latencyMs" in data[0] else "endToEndMs" if "endToEndMs" in data[0] else None
    if lat_key is None or "computeMs" not in data[0]:
        raise IngestError(f"{src}: entries need 'latencyMs' (or 'endToEndMs') and 'computeMs'; got {sorted(data[0])}")
    lat = np.array([_num(src, f"entry {i}", r, lat_key, positive=True) for i, r in enumerate(data)])
    comp = np.array([_num(src, f"entry {i}", r, "computeMs", positive=True) for i, r in enumerate(data)])
    return {
        "latency_p50_ms": float(np.percentile(lat, 50)),
        "latency_p90_ms": float(np.percentile(lat, 90)),
        "latency_p99_ms": float(np.percentile(lat, 99)),
        "compute_p50_ms": float(np.percentile(comp, 50)),
        "runs": len(data),
        "source": src,
    }
