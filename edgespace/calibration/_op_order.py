"""Phone-runtime operators → layer-table segments, by their order.

LiteRT's ``benchmark_model`` and ExecuTorch's ETDump name the operators they ran after the
kernel (XNNPACK's ``Convolution (NHWC, F32) IGEMM``, LiteRT's ``CONV_2D``, ExecuTorch's
``native_call_convolution.out``), not after the torch module, so the module rule of
:mod:`edgespace.calibration._mapping` cannot place them. Their order can: every runtime here runs
a network's operators in graph order, and each convolution or fully connected layer of the layer
table becomes exactly one convolution-like operator (XNNPACK runs a 1×1 convolution, an SE
layer's convolutions and the classifier as ``Fully Connected``; batch norm is folded into it;
activations, adds, multiplies, pools and layout changes are separate, convolution-free operators).

The rule: the k-th convolution-like operator is the k-th conv-like row (``conv``, ``depthwise``,
``pointwise``, ``linear``) and starts that row's segment; every other operator belongs to the
segment of the convolution-like operator before it (an activation, the SE gate's multiply, the
residual add, the global pool), and those before the first one (the frame's cast, scale and
layout change) to the preprocessing segment. A profile whose count of convolution-like operators
differs from the layer table's conv-like rows is refused: it is not the network the spec
describes (or the runtime split or merged a layer), and a shifted mapping would be wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgespace._errors import CalibrationError
from edgespace._layer_table import CONV_OPS
from edgespace.calibration._mapping import INPUT_SEGMENT, segment_ids

__all__ = ["is_conv_op", "has_module_paths", "map_ordered_ops"]

_CONV_PREFIXES = (
    "Convolution",
    "Deconvolution",
    "Fully Connected",
    "Dynamic Fully Connected",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "TRANSPOSE_CONV",
)
_CONV_PORTABLE = ("convolution", "linear", "addmm", "mm.")


def is_conv_op(op_type: str) -> bool:
    """Whether a runtime's operator is a convolution or fully connected layer (one conv-like row)."""
    s = str(op_type).strip()
    return s.startswith(_CONV_PREFIXES) or s.lower().startswith(_CONV_PORTABLE)


def has_module_paths(nodes) -> bool:
    """Whether profiler node names carry the torch module path (ONNX Runtime and TensorRT name
    nodes ``/model/...``); the phone runtimes' names do not."""
    return any(str(n.name).lstrip().startswith("/") for n in nodes)


def map_ordered_ops(nodes, table: pd.DataFrame, *, source: str = "") -> pd.DataFrame:
    """Map operators (in execution order) onto ``table``'s segments by the order rule above.

    Returns the columns of :func:`~edgespace.calibration.map_nodes`: ``node``, ``op_type``,
    ``time_us``, ``path`` (None: no module path), ``anchor`` (the conv-like row of a
    convolution-like operator, else -1), ``rows`` and ``segment``."""
    conv_rows = np.flatnonzero(table["op"].isin(CONV_OPS).to_numpy())
    seg_of = segment_ids(table)
    is_conv = np.array([is_conv_op(n.op_type) for n in nodes], dtype=bool)
    if int(is_conv.sum()) != len(conv_rows):
        raise CalibrationError(
            f"{source or 'profile'}: {int(is_conv.sum())} convolution-like operators, but the layer table has "
            f"{len(conv_rows)} conv-like rows: the profile is not of this spec's network, or the runtime split or "
            "merged layers; its operators cannot be placed by order"
        )
    k = np.cumsum(is_conv) - 1  # index of the conv-like operator at or before each operator
    segment = np.where(k >= 0, seg_of[conv_rows[np.maximum(k, 0)]], INPUT_SEGMENT)
    seg_rows: dict[int, tuple[int, ...]] = {}
    for i, s in enumerate(seg_of):
        seg_rows.setdefault(int(s), ())
        seg_rows[int(s)] += (i,)
    anchors = np.where(is_conv, conv_rows[np.maximum(k, 0)], -1)
    return pd.DataFrame(
        {
            "node": [n.name for n in nodes],
            "op_type": [n.op_type for n in nodes],
            "time_us": np.array([n.time_us for n in nodes], dtype=float),
            "path": [None] * len(nodes),
            "anchor": anchors.astype(np.int64),
            "rows": [seg_rows[int(s)] if c else () for s, c in zip(segment, is_conv, strict=True)],
            "segment": segment.astype(np.int64),
        }
    )
