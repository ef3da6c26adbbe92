"""Where each operator runs and what a runtime fuses: per (network structure, mode, precision).

Pure functions over a :class:`~edgespace._layer_table.LayerSkeleton` and
:class:`~edgespace.cost._params.ModeParams`; the results do not depend on the resolution, so
they are computed once and shared by every resolution of the same structure.

Fusion rule (what TensorRT, ONNX Runtime, TFLite and NPU compilers all do at inference): a
``bn`` that reads a conv-like row on the same engine is folded into that conv's weights and
bias, and so is a per-channel constant scale (a one-operand ``mul``: MobileNetV4's layer scale)
that reads a conv-like row or a folded ``bn``/scale (ONNX Runtime's Conv-Mul fusion, TensorRT's
scale fusion); an ``act`` that reads a conv-like row or a folded ``bn`` on the same engine runs in
the conv's epilogue; ``reshape`` moves no data. Attention's ``matmul``, ``softmax`` and
``transpose`` rows are kernels of their own: the head split/merge transposes are not fused; so are
EfficientViT's ``concat``, ``pad``, ``div`` and ``layernorm`` rows, and its linear attention's
ReLUs (they read a transpose, not a conv). A fused row costs no time, no traffic and no
dispatch of its own, and its tensor never exists in memory: the chain writes one tensor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from edgespace._layer_table import LayerSkeleton
from edgespace._ops import MAC_OPS
from edgespace._spec import PRECISIONS
from edgespace.cost._params import ACT_INDEX, FALLBACK, OP_INDEX, PRIMARY, ModeParams

__all__ = ["Structure", "Placement", "structure_of", "place"]


@dataclass(frozen=True)
class Structure:
    """Per-row index arrays derived once from a skeleton."""

    op_idx: np.ndarray
    act_idx: np.ndarray  # -1 where the row has no activation
    conv_like: np.ndarray
    is_bn: np.ndarray
    is_scale: np.ndarray  # a one-operand ``mul``: a per-channel constant scale (layer scale)
    is_act: np.ndarray
    is_reshape: np.ndarray
    is_pool: np.ndarray
    read_a: np.ndarray  # first operand row (-1 = network input)
    read_b: np.ndarray  # second operand row, -2 = none


@functools.lru_cache(maxsize=4096)
def structure_of(sk: LayerSkeleton) -> Structure:
    ops = np.asarray(sk.op, dtype=object)
    acts = np.asarray(sk.act, dtype=object)
    reads = list(sk.reads)
    return Structure(
        op_idx=np.array([OP_INDEX[o] for o in ops], dtype=np.int64),
        act_idx=np.array([ACT_INDEX.get(a, -1) for a in acts], dtype=np.int64),
        conv_like=np.isin(ops, MAC_OPS),
        is_bn=ops == "bn",
        is_scale=(ops == "mul") & np.array([len(r) == 1 for r in reads], dtype=bool),
        is_act=ops == "act",
        is_reshape=ops == "reshape",
        is_pool=ops == "pool",
        read_a=np.array([r[0] for r in reads], dtype=np.int64),
        read_b=np.array([r[1] if len(r) > 1 else -2 for r in reads], dtype=np.int64),
    )


@dataclass(frozen=True)
class Placement:
    """Where every row runs for one (structure, mode, precision), and what that implies."""

    runnable: bool
    unsupported: tuple[int, ...]  # rows no engine of the mode can run
    engine: np.ndarray  # PRIMARY / FALLBACK per row
    fused: np.ndarray  # row folded into its producer (no time, no traffic, no tensor)
    group: np.ndarray  # row index of the materialised tensor's producing kernel
    # Tensors that cross between engines: (reader row, source row); source -1 is the input.
    cross_src: np.ndarray
    n_sync: int  # engine switches that pay a synchronisation
    # liveness: for every group head, the last row that reads its tensor (itself if none)
    last_use: np.ndarray
    tail: np.ndarray  # for every group head, the row whose output is the group's tensor
    input_last_use: int
    weight_elems: int  # deployed parameters (BN folded: its 2·C become the conv's C biases)


def _supported(st: Structure, mp: ModeParams, p: int, k: int) -> np.ndarray:
    ok = mp.op_ok[k, st.op_idx] & ~np.isnan(mp.peak_ops_per_s[k, p])
    has_act = st.act_idx >= 0
    ok &= ~has_act | mp.act_ok[k, np.where(has_act, st.act_idx, 0)]
    return ok


def place(sk: LayerSkeleton, mp: ModeParams, precision: str) -> Placement:
    """Placement, fusion, tensor groups and engine crossings (memoised per arguments)."""
    return _place(sk, mp, PRECISIONS.index(precision))


@functools.lru_cache(maxsize=8192)
def _place(sk: LayerSkeleton, mp: ModeParams, p: int) -> Placement:
    st = structure_of(sk)
    n = len(st.op_idx)
    on_primary = _supported(st, mp, p, PRIMARY)
    on_fallback = _supported(st, mp, p, FALLBACK) if mp.has_fallback else np.zeros(n, dtype=bool)
    if mp.prefix_partitioning and not on_primary.all():
        # The compiler cuts the graph once: everything from the first unsupported row on runs
        # on the fallback engine (Edge TPU compiler behaviour).
        first = int(np.argmin(on_primary))
        on_primary = on_primary.copy()
        on_primary[first:] = False
    engine = np.where(on_primary, PRIMARY, FALLBACK)
    unsupported = tuple(int(i) for i in np.flatnonzero(~on_primary & ~on_fallback))

    fused = np.zeros(n, dtype=bool)
    group = np.arange(n)
    producer_is_conv_or_folded = np.zeros(n, dtype=bool)
    for r in range(n):
        src = st.read_a[r]
        if src < 0 or st.read_b[r] != -2 or engine[src] != engine[r]:
            continue
        if (
            st.is_reshape[r]
            or (st.is_bn[r] and st.conv_like[src])
            or (st.is_scale[r] and (st.conv_like[src] or ((st.is_bn[src] or st.is_scale[src]) and fused[src])))
            or (st.is_act[r] and (st.conv_like[src] or (st.is_bn[src] and fused[src])))
        ):
            fused[r] = True
            group[r] = group[src]
            producer_is_conv_or_folded[r] = True

    # Engine crossings: an operand produced on the other engine is copied over.
    host = FALLBACK if (mp.discrete_accelerator and mp.has_fallback) else PRIMARY
    cross = []
    n_sync = 0
    for r in np.flatnonzero(~fused):
        for src in (st.read_a[r], st.read_b[r]):
            if src == -2:
                continue
            src_engine = host if src == -1 else engine[group[src]]
            if src_engine != engine[r]:
                cross.append((r, src))
                n_sync += src != -1
    if mp.discrete_accelerator and engine[n - 1] != host:
        cross.append((n, n - 1))  # the logits return to the host

    # Liveness over materialised tensors (group heads).
    last_use = np.arange(n)
    tail = np.arange(n)
    input_last_use = 0
    for r in range(n):
        g_r = group[r]
        tail[g_r] = r  # rows run in order: the group's last row so far
        for src in (st.read_a[r], st.read_b[r]):
            if src == -1:
                input_last_use = max(input_last_use, r)
            elif src >= 0 and group[src] != g_r:
                last_use[group[src]] = max(last_use[group[src]], r)

    folded_bn = fused & st.is_bn
    folded_scale = fused & st.is_scale  # multiplied into the conv's weights: no parameters left
    weight_elems = int(sk.params[~folded_bn & ~folded_scale].sum() + sk.out_c[folded_bn].sum())
    return Placement(
        runnable=not unsupported,
        unsupported=unsupported,
        engine=engine,
        fused=fused,
        group=group,
        cross_src=np.array(cross, dtype=np.int64).reshape(-1, 2),
        n_sync=int(n_sync),
        last_use=last_use,
        tail=tail,
        input_last_use=int(input_last_use),
        weight_elems=weight_elems,
    )
