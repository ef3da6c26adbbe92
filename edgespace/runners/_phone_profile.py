"""Per-operator times from the phone runtimes' own profilers, as :class:`NodeProfile` objects.

* **LiteRT** ``benchmark_model --enable_op_profiling=true`` (TensorFlow Lite's and LiteRT's
  benchmark tool; LiteRT 2.x spells the flag ``--use_profiler=true``) prints a ``Run Order``
  table, one row per operator in execution order::

      [node type]  [start]  [first]  [avg ms]  [%]  [cdf%]  [mem KB]  [times called]  [Name]

  (``[start]`` only in older releases). With the XNNPACK delegate the rows are XNNPACK's own
  operators (``Convolution (NHWC, F32) IGEMM`` named ``Delegate/Convolution (NHWC, F32)
  IGEMM:0``); builtin kernels keep their op code (``CONV_2D``, ``HARD_SWISH``) and a tensor name.
  ``avg ms`` is per call, so a row's time per run is ``avg ms × times called`` (0 in old
  releases: one call). Rows of the runtime itself (``AllocateTensors``,
  ``ModifyGraphWithDelegate``, ``LiteRT::Run[...]``) are not operators and are left out. The
  tool's end-to-end latency comes from its summary (``Inference (avg)`` or the
  ``count=... median=...`` line of the timed runs).
* **ExecuTorch** ETDump (``executor_runner --etdump_path``, or the Python runtime's
  ``write_etdump_result_to_file``), read with ``executorch.devtools.Inspector``: the ``Execute``
  block's events in order; the XNNPACK delegate reports each of its operators
  (``Convolution (NHWC, F32) IGEMM #1``), the portable kernels their ``native_call_*`` name.
  Wrapper events (``OPERATOR_CALL``, ``DELEGATE_CALL``, ``Method::execute``) are not operators;
  ``Method::execute`` gives the profiled end-to-end time.

Neither names the torch module an operator came from: calibration maps these operators onto
layer rows by their order (see ``edgespace.calibration`` ``map_ordered_ops``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edgespace._errors import IngestError, UnavailableError
from edgespace._paths import read_input
from edgespace.runners._ort_profile import NodeProfile, NodeTime

__all__ = ["read_benchmark_model", "read_etdump", "etdump_profile", "NOT_OPERATORS"]

#: Run Order rows that are the runtime's own work, not an operator of the model.
NOT_OPERATORS = ("AllocateTensors", "ModifyGraphWithDelegate", "LiteRT::", "TfLiteXNNPackDelegate")
_ETDUMP_WRAPPERS = ("OPERATOR_CALL", "DELEGATE_CALL", "Method::", "Program::")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?%?$")
_COUNT_LINE = re.compile(r"count=(\d+).*?\bavg=([\d.]+)(?:.*?\bmedian=([\d.]+))?")


def _text(path_or_text) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or (isinstance(path_or_text, str) and "\n" not in path_or_text):
        p = Path(path_or_text)
        try:
            return read_input(p, IngestError), str(p)
        except FileNotFoundError:
            raise IngestError(f"{p}: no such file (benchmark_model output expected)") from None
        except UnicodeDecodeError:
            raise IngestError(f"{p}: not text (benchmark_model output expected)") from None
    return str(path_or_text), "<text>"


def _tables(lines: list[str]) -> list[tuple[int, list[str], bool]]:
    """(line of the header, header columns, after an initialization heading) of each Run Order table."""
    out, init = [], False
    for i, line in enumerate(lines):
        if "Profiling Info for Benchmark Initialization" in line:
            init = True
        elif "Operator-wise Profiling Info for Regular Benchmark Runs" in line:
            init = False
        elif "Run Order" in line and i + 1 < len(lines) and "[node type]" in lines[i + 1]:
            out.append((i + 1, re.findall(r"\[([^\]]+)\]", lines[i + 1]), init))
    return out


def _row(line: str, n_numbers: int) -> tuple[str, list[str], str] | None:
    """(node type, numeric fields, name) of one table row; None for a line that is not one."""
    parts = [p for p in re.split(r"\t+|\s{2,}", line.strip()) if p]
    if len(parts) >= n_numbers + 2:
        nums = parts[1 : 1 + n_numbers]
        if all(_NUMBER.match(x) for x in nums):
            return parts[0], nums, " ".join(parts[1 + n_numbers :])
    tokens = line.split()  # single-space separated rows: the numbers are the run of number tokens
    for k in range(1, len(tokens) - n_numbers):
        nums = tokens[k : k + n_numbers]
        if all(_NUMBER.match(x) for x in nums) and not _NUMBER.match(tokens[k - 1]):
            return " ".join(tokens[:k]), nums, " ".join(tokens[k + n_numbers :])
    return None


def read_benchmark_model(path_or_text) -> NodeProfile:
    """Parse ``benchmark_model`` output with operator profiling (a file path or the text).

    Node times are each operator's time per run (µs) in the tool's run order; ``meta`` holds
    ``latency_ms`` (the tool's own end-to-end figure of the timed runs), ``latency_from`` (which
    line it came from), ``times_called`` (per operator) and ``tool``."""
    text, src = _text(path_or_text)
    lines = text.splitlines()
    tables = [t for t in _tables(lines) if not t[2]]
    if not tables:
        raise IngestError(
            f"{src}: no 'Run Order' table of the benchmark runs; run benchmark_model with "
            "--enable_op_profiling=true (LiteRT 2.x: --use_profiler=true)"
        )
    header_at, cols, _ = tables[-1]
    low = [c.lower() for c in cols]
    for need in ("node type", "avg ms", "times called", "name"):
        if need not in low:
            raise IngestError(f"{src}: line {header_at + 1}: Run Order header has no [{need}] column: {cols}")
    n_numbers = len(cols) - 2
    i_avg, i_called = low.index("avg ms") - 1, low.index("times called") - 1
    nodes, called = [], []
    for j in range(header_at + 1, len(lines)):
        line = lines[j]
        if not line.strip() or "=====" in line:
            break
        row = _row(line.replace("INFO:", " ", 1) if line.startswith("INFO:") else line, n_numbers)
        if row is None:
            raise IngestError(
                f"{src}: line {j + 1}: not a Run Order row ({n_numbers} numbers expected): {line[:100]!r}"
            )
        kind, nums, name = row
        if kind.startswith(NOT_OPERATORS) or name.startswith(NOT_OPERATORS):
            continue
        n = int(float(nums[i_called]))
        nodes.append(NodeTime(name, kind, float(nums[i_avg]) * max(n, 1) * 1e3))
        called.append(n)
    if not nodes:
        raise IngestError(f"{src}: the Run Order table lists no operators (only the runtime's own rows)")
    latency, how = _latency(lines)
    meta = {"tool": "benchmark_model", "times_called": called, "latency_from": how}
    if latency is not None:
        meta["latency_ms"] = latency
    return NodeProfile(tuple(nodes), (), None, src, 1, meta=meta)


def _latency(lines: list[str]) -> tuple[float | None, str]:
    """The tool's end-to-end latency (ms) of the timed runs, and the line it came from."""
    for line in reversed(lines):
        m = re.search(r"Inference \(avg\):\s*([\d.]+)\s*ms", line)  # LiteRT 2.x summary
        if m:
            return float(m.group(1)), "Inference (avg)"
        m = re.search(r"[Ii]nference timings in us:.*Inference(?: \(avg\))?:\s*([\d.]+)", line)
        if m:  # TensorFlow Lite's summary (older releases: "Average inference timings in us")
            return float(m.group(1)) / 1e3, "Inference timings in us"
    counts = [m for x in lines if "Timings (microseconds)" not in x and (m := _COUNT_LINE.search(x))]
    if counts:  # the last count= line is the timed runs (the first, the warm-up)
        m = counts[-1]
        return float(m.group(3) or m.group(2)) / 1e3, "median" if m.group(3) else "avg"
    return None, "none"


def read_etdump(path) -> NodeProfile:
    """Parse an ExecuTorch ETDump file (``.etdp``) with ``executorch.devtools.Inspector``.

    Node times are each operator's median over the profiled executions (µs), in execution order;
    ``meta["latency_ms"]`` is the median of ``Method::execute`` (profiled: includes the tracer's
    overhead)."""
    p = Path(path)
    if not p.is_file():
        raise IngestError(f"{p}: no such file (an ETDump, .etdp, expected)")
    try:
        import warnings

        from executorch.devtools import Inspector
    except ImportError as exc:
        raise UnavailableError(
            f"reading an ETDump needs the executorch package (pip install 'edgespace[phone]'): {exc}"
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Output Buffer not found": no tensor debug data asked for
            frame = Inspector(etdump_path=str(p)).to_dataframe()
    except Exception as exc:  # the flatbuffer reader raises many kinds
        raise IngestError(f"{p}: not an ETDump ExecuTorch's Inspector can read: {type(exc).__name__}: {exc}") from None
    return etdump_profile(frame, str(p))


def etdump_profile(frame, src: str) -> NodeProfile:
    """:class:`NodeProfile` from ``Inspector.to_dataframe()`` (columns ``event_block_name``,
    ``event_name``, ``raw`` in ms, ``is_delegated_op``)."""
    ex = frame[frame["event_block_name"] == "Execute"]
    if ex.empty:
        raise IngestError(f"{src}: the ETDump has no 'Execute' events (was the method executed with the tracer on?)")
    if "start_time" in ex.columns:  # the frame groups repeated names: execution order is by start time
        first = [float(t[0]) if len(t) else np.inf for t in ex["start_time"]]
        ex = ex.iloc[np.argsort(first, kind="stable")]
    nodes, total, runs = [], None, 0
    for name, raw, delegated in zip(ex["event_name"], ex["raw"], ex["is_delegated_op"], strict=True):
        name = str(name)
        times = np.asarray(raw, dtype=float)
        if name == "Method::execute":
            total, runs = float(np.median(times)), len(times)
        if name.startswith(_ETDUMP_WRAPPERS) or not len(times):
            continue
        kind = re.sub(r"\s+#\d+$", "", name) if bool(delegated) else name.replace("native_call_", "", 1)
        nodes.append(NodeTime(name, kind, float(np.median(times)) * 1e3))
    if not nodes:
        raise IngestError(f"{src}: the ETDump's 'Execute' block holds no operator events")
    meta = {"tool": "etdump", "latency_from": "Method::execute (profiled)"}
    if total is not None:
        meta["latency_ms"] = total
    return NodeProfile(tuple(nodes), (), None, src, runs, meta=meta)
