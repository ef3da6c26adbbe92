"""Peak activation memory from tensor liveness over a layer table (a pure function).

A tensor lives from the row that writes it to the last row that reads it (``reads`` holds the
row indices each row reads; ``-1`` is the network input). While row ``i`` runs, every tensor
written at or before ``i`` and read at or after ``i`` is held, and so is row ``i``'s output; the
peak over rows is the peak activation memory. A residual ``add`` reads its block's input, so the
input stays live across the whole block, as on a device.

Rows in ``alias_ops`` (by default batch norm, activations and reshapes, which a deployed graph
folds into the conv before them or runs in place) write no new tensor: their output *is* their
input's buffer, which then lives until the alias's last reader; so does a one-operand ``mul`` (a
per-channel constant scale, which ONNX Runtime's Conv-Mul fusion folds into the conv). An activation whose ``act`` is in
``unfused_acts`` is the exception: the runtime runs it as a kernel of its own writing a new
tensor. ONNX Runtime's CPU provider fuses ReLU, ReLU6 (Clip), hard-swish and the sigmoid gates
into the conv before them, but runs SiLU/Swish as a separate ``QuickGelu`` kernel
(:data:`ORT_CPU_UNFUSED_ACTS`); with that set the prediction matched ORT's own first-run
accounting to the byte on the networks we measured.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["peak_activation_bytes", "live_bytes", "DEFAULT_ALIAS_OPS", "ORT_CPU_UNFUSED_ACTS"]

DEFAULT_ALIAS_OPS = ("bn", "act", "reshape")
#: Activations ONNX Runtime's CPU provider does not fuse into the conv before them.
ORT_CPU_UNFUSED_ACTS = ("silu", "swish", "gelu")


def live_bytes(
    table: pd.DataFrame, *, input_bytes: int | None = None, alias_ops=DEFAULT_ALIAS_OPS, unfused_acts=()
) -> np.ndarray:
    """Bytes held while each row runs (see the module docstring). ``input_bytes`` is the network
    input's size (default: the first row's ``input_bytes``)."""
    n = len(table)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ops = table["op"].to_numpy()
    out_b = table["output_bytes"].to_numpy(np.int64)
    reads = table["reads"].to_numpy()
    in0 = int(table["input_bytes"].iloc[0]) if input_bytes is None else int(input_bytes)
    # buffer id of each row's output: itself, or (for an alias) its first input's buffer
    buf = np.arange(n)
    alias = np.isin(ops, list(alias_ops)) & ~((ops == "act") & np.isin(table["act"].to_numpy(), list(unfused_acts)))
    # a one-operand mul (a per-channel constant scale) is folded into the conv before it
    alias |= (ops == "mul") & np.array([len(r) == 1 for r in reads], dtype=bool)
    for i in range(n):
        if alias[i] and len(reads[i]):
            src = reads[i][0]
            buf[i] = buf[src] if src >= 0 else -1
    size = {-1: in0}
    born = {-1: 0}
    for i in range(n):
        if buf[i] == i:
            size[i] = int(out_b[i])
            born[i] = i
    last = dict(born)
    for i in range(n):
        for r in reads[i]:
            b = buf[r] if r >= 0 else -1
            last[b] = max(last[b], i)
    last[buf[n - 1]] = n - 1  # the network output is held to the end
    delta = np.zeros(n + 1, dtype=np.int64)
    for b, s in size.items():
        delta[born[b]] += s
        delta[last[b] + 1] -= s
    return np.cumsum(delta)[:n]


def peak_activation_bytes(
    table: pd.DataFrame, *, input_bytes: int | None = None, alias_ops=DEFAULT_ALIAS_OPS, unfused_acts=()
) -> int:
    """Peak activation memory in bytes: the maximum of :func:`live_bytes` over the rows."""
    lb = live_bytes(table, input_bytes=input_bytes, alias_ops=alias_ops, unfused_acts=unfused_acts)
    return int(lb.max()) if len(lb) else 0
