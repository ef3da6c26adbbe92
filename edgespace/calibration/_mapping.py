"""Profiler node → layer-table rows.

Both ONNX Runtime and TensorRT name the kernels they run after the ONNX nodes of the exported
graph, and the TorchScript exporter names those nodes after the torch module path
(``/model/blocks/blocks.1/blocks.1.0/conv_dw/Conv``). After graph optimisation the names are
mangled but keep the path: ORT's NCHWc transformer renames a node after its output
(``.../bn1/act/Clip_output_0_nchwc`` is a Conv with its BN folded and its ReLU6 fused in),
activation fusions append their own suffix (``.../act/Mul/QuickGeluFusion/`` is a SiLU), and
TensorRT joins the names of fused layers with ``" + "``.

The mapping rule (tested on real exports in tests/test_measure.py):

1. **Module path.** Drop the profiler's suffixes (``_kernel_time``, ``_nchwc``, ``_token_N``) and
   the leading ``/model/`` scope; join the scopes, where a scope that starts with the scope before
   it plus ``"."`` replaces it (``blocks`` → ``blocks.1`` → ``blocks.1.0``; EfficientViT's
   ``stages/stages.2/blocks/blocks.1`` is ``stages.2.blocks.1``) and any other scope is appended
   (``conv_dw``). A name outside ``/model/`` is either the folded preprocessing (``/Cast``,
   ``/Mul``, ``/Add``: the *input* group) or a layout node ORT inserted (``ReorderInput``,
   ``ReorderOutput``: no path).
2. **Anchor row.** The layer-table row whose name is the longest dotted prefix of the path. Where
   the path names a module with operator-less children (a block's ``skip_add``, an SE module's
   ``mean``), the node's op type picks among them (Add/Sum → ``add``, ReduceMean /
   GlobalAveragePool → ``pool``). Inside an attention module (operator-less ``matmul``,
   ``softmax`` and ``transpose`` rows; EfficientViT's linear attention adds ``act``, ``concat``,
   ``pad`` and ``div`` ones), the op type picks the class and the exporter's node number
   (``Transpose_2``, ``MatMul_1``, ``kernel_func_1/Relu``) the row of that class, in order; shape
   arithmetic, slices and the scale go with the first matmul.
3. **Rows covered.** Rows are cut into *segments*, one per conv-like row (``conv``,
   ``depthwise``, ``pointwise``, ``linear``) holding it and the non-conv rows after it up to the
   next conv-like row. Within a segment, a node covers the rows after the previous node's rows
   up to its own anchor, plus the ``bn`` rows right after its anchor (batch norm is folded into
   the conv at export); rows after the last anchor (a skip ``add`` or activation fused into the
   conv before it) belong to the segment's last node. So a Conv named after its fused activation
   covers conv + bn + act, and a Conv named after itself with the skip add fused in covers
   conv + bn + add.
4. **Time.** A node's time goes to the segment of its anchor. A node without a path (layout
   reorders) is charged to the next node that has one (it feeds that node), or to the last segment
   if none follows; the preprocessing nodes form segment ``-1``. A node whose path matches no row
   (not expected from an edgespace export) is charged to the last segment.

Segments, not single rows, are what the latency model learns from: their boundaries do not depend
on which fusions a runtime happens to apply, so they can be predicted from the layer table alone.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from edgespace._layer_table import CONV_OPS
from edgespace.runners import NodeTime

__all__ = ["module_path", "segment_ids", "map_nodes", "NodeTime", "INPUT_SEGMENT"]

#: Segment id of the preprocessing folded into the exported graph (Cast, Mul, Add before the stem).
INPUT_SEGMENT = -1

_SUFFIXES = re.compile(r"(_kernel_time|_fence_before|_fence_after)$")
_MANGLE = re.compile(r"(_nchwc|_token_\d+)")
_POOL_OPS = {"ReduceMean", "GlobalAveragePool", "AveragePool"}
_ADD_OPS = {"Add", "Sum"}
#: Attention nodes by op type: the layer-table operator class they run. Any other node inside an
#: attention module (the 1/sqrt(d) scale, shape arithmetic, slices) belongs with its first matmul.
_ATTENTION_OPS = {
    "MatMul": "matmul",
    "FusedMatMul": "matmul",
    "Softmax": "softmax",
    "Transpose": "transpose",
    "Reshape": "transpose",
    "Relu": "act",
    "Concat": "concat",
    "Pad": "pad",
    "Div": "div",
}
_EXPORT_INDEX = re.compile(r"_(\d+)$")


def _clean(name: str) -> str:
    return _MANGLE.sub("", _SUFFIXES.sub("", name))


def module_path(node_name: str) -> str | None:
    """The torch module path a profiler node name points at, ``""`` for the preprocessing
    (a node outside the ``/model/`` scope), or ``None`` for a node with no path (ORT's
    ``ReorderInput``/``ReorderOutput``). Accepts ORT and TensorRT names (one part of a TensorRT
    ``" + "``-joined name at a time)."""
    s = _clean(node_name.strip())
    if not s.startswith("/"):
        return None
    if not s.startswith("/model/"):
        return ""
    parts = s[len("/model/") :].split("/")
    scopes: list[str] = []
    for seg in parts:
        if not seg:
            continue
        if scopes and seg.startswith(scopes[-1] + "."):
            scopes[-1] = seg  # a numbered child of a container: its name includes the container's
        else:
            scopes.append(seg)
    return ".".join(scopes)


def segment_ids(table: pd.DataFrame) -> np.ndarray:
    """Segment of each row: the index of the last conv-like row at or before it (rows before the
    first conv-like row, if any, join the first segment)."""
    is_conv = table["op"].isin(CONV_OPS).to_numpy()
    idx = np.where(is_conv, np.arange(len(table)), -1)
    seg = np.maximum.accumulate(idx)
    first = int(np.argmax(is_conv)) if is_conv.any() else 0
    seg[seg < 0] = first
    return seg


class _RowIndex:
    def __init__(self, table: pd.DataFrame) -> None:
        self.names = table["name"].astype(str).tolist()
        self.ops = table["op"].astype(str).tolist()
        self.is_module = table["is_module"].to_numpy(bool)
        self.by_name = {n: i for i, n in enumerate(self.names)}
        # operator-less children (skip_add, se.mean) by their parent path
        self.children: dict[str, list[int]] = {}
        for i, n in enumerate(self.names):
            if not self.is_module[i]:
                parent = n.rsplit(".", 1)[0]
                self.children.setdefault(parent, []).append(i)

    def anchor(self, path: str, op_type: str) -> int | None:
        parts = path.split(".")
        for k in range(len(parts), 0, -1):
            prefix = ".".join(parts[:k])
            want = "pool" if op_type in _POOL_OPS else "add" if op_type in _ADD_OPS else None
            if want is not None:
                for i in self.children.get(prefix, []):
                    if self.ops[i] == want:
                        return i
            if prefix in self.by_name:
                return self.by_name[prefix]
            kids = self.children.get(prefix, [])
            if any(self.ops[i] == "matmul" for i in kids):
                # An attention module: its operator-less rows by class, the exporter's node number
                # (Transpose, Transpose_1, ...: queries, keys, values, then the merge) picking
                # among rows of one class in order.
                same = [i for i in kids if self.ops[i] == _ATTENTION_OPS.get(op_type, "matmul")]
                number = _EXPORT_INDEX.search(parts[k]) if k < len(parts) and op_type in _ATTENTION_OPS else None
                if same:
                    return same[min(int(number.group(1)) if number else 0, len(same) - 1)]
            for i in kids:  # a block path with one child row
                if want is None or self.ops[i] == want:
                    return i
        return None


def map_nodes(nodes: list[NodeTime], table: pd.DataFrame) -> pd.DataFrame:
    """Map profiler nodes (in execution order) onto ``table``'s rows by the module rule.

    Returns one row per node: ``node``, ``op_type``, ``time_us``, ``path``, ``anchor`` (row index,
    -1 for none), ``rows`` (tuple of row indices covered), ``segment`` (segment id,
    :data:`INPUT_SEGMENT` for the preprocessing).
    """
    index = _RowIndex(table)
    seg_of = segment_ids(table)
    n = len(nodes)
    paths: list[str | None] = []
    anchors = np.full(n, -1, dtype=np.int64)
    for k, node in enumerate(nodes):
        parts = [p for p in node.name.split(" + ")]
        best = None
        path_k = None
        for part in parts:
            p = module_path(part)
            if p is None:
                continue
            if p == "":
                path_k = path_k if path_k is not None else ""
                continue
            a = index.anchor(p, node.op_type)
            if a is not None and (best is None or a > best):
                best, path_k = a, p
            elif path_k is None:
                path_k = p
        paths.append(path_k)
        if best is not None:
            anchors[k] = best
    segment = np.full(n, INPUT_SEGMENT, dtype=np.int64)
    for k in range(n):
        if anchors[k] >= 0:
            segment[k] = seg_of[anchors[k]]
    # Nodes with no path: charged to the next anchored node's segment (or the last segment).
    last_seg = int(seg_of[-1]) if len(seg_of) else 0
    nxt = None
    for k in range(n - 1, -1, -1):
        if anchors[k] >= 0 or paths[k] == "":
            nxt = segment[k]
        elif paths[k] is None:
            segment[k] = nxt if nxt is not None else last_seg
    # Rows covered: within a segment, from after the previous anchor up to this node's anchor.
    covered: list[tuple[int, ...]] = [() for _ in range(n)]
    by_seg: dict[int, list[int]] = {}
    for k in np.argsort(anchors, kind="stable"):
        if anchors[k] >= 0:
            by_seg.setdefault(int(seg_of[anchors[k]]), []).append(int(k))
    seg_end: dict[int, int] = {}
    for i, s in enumerate(seg_of):
        seg_end[int(s)] = i
    ops = table["op"].to_numpy().astype(str)
    anchored = set(int(a) for a in anchors if a >= 0)
    for s, ks in by_seg.items():
        start = s
        ks = sorted(ks, key=lambda k: (anchors[k], k))
        for j, k in enumerate(ks):
            a = int(anchors[k])
            if a < start:  # a second node anchored on the same row: shares it
                covered[k] = (a,)
                continue
            end = a
            while end + 1 <= seg_end[s] and ops[end + 1] == "bn" and end + 1 not in anchored:
                end += 1  # batch norm is folded into the conv before it at export
            stop = seg_end[s] if j == len(ks) - 1 else end
            covered[k] = tuple(range(start, stop + 1))
            start = stop + 1
    return pd.DataFrame(
        {
            "node": [nd.name for nd in nodes],
            "op_type": [nd.op_type for nd in nodes],
            "time_us": np.array([nd.time_us for nd in nodes], dtype=float),
            "path": paths,
            "anchor": anchors,
            "rows": covered,
            "segment": segment,
        }
    )


def segment_times(mapped: pd.DataFrame) -> pd.Series:
    """Total node time per segment (µs), indexed by segment id (``-1`` = preprocessing)."""
    return mapped.groupby("segment")["time_us"].sum()
