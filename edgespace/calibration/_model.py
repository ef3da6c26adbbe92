"""The per-operator latency model, fitted to profiler node times.

**Unit.** A *segment* of the layer table: a conv-like row and the non-conv rows after it (see
:mod:`edgespace.calibration._mapping`), plus segment ``-1`` for the folded preprocessing.
Runtimes fuse within segments (BN folding, conv + activation, conv + residual add), never across
conv-like rows, so segment times are well defined on every runtime and predictable from the layer
table alone.

**Model class, and why.** Two stages, both fitted on log time:

1. a log-linear base per segment — ``log t = w · [log MACs, log bytes in/out/weights,
   log element-wise bytes, one-hot op class and activation, ...]`` (ridge least squares) —
   which follows the power laws of compute and traffic and extrapolates sensibly to sizes
   outside the calibration set;
2. gradient-boosted trees (scikit-learn ``HistGradientBoostingRegressor``) on the base's
   residual, which learn what a power law cannot: kernel-selection thresholds, cache-size cliffs,
   vector-width padding of odd channel counts. Trees alone were the best per-node model in
   earlier experiments (nn-Meter's idea) but predict a constant outside the training range; the
   base carries the extrapolation and the trees the detail.

**End to end.** ``latency = a · Σ segment times + b``: ``a`` and ``b`` are fitted by least
squares between the profiled node totals and the clean (unprofiled, interleaved, robust)
end-to-end latencies of the calibration networks; they absorb the profiler's own overhead and the
per-run cost of the session outside the kernels.

The fitted state is small and portable: the calibration file stores the training samples
(segment features and times) and refits on load (well under a second), instead of pickling
estimators that break across library versions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgespace._layer_table import CONV_OPS
from edgespace.calibration._mapping import INPUT_SEGMENT, segment_ids

__all__ = ["segment_features", "SegmentLatencyModel", "FEATURES"]

_OPS = CONV_OPS  # conv, depthwise, pointwise, linear
_ACTS = ("", "relu", "relu6", "silu", "swish", "hard_swish", "sigmoid", "hard_sigmoid", "gelu")

#: Numeric segment features (taken in log1p for both stages).
NUMERIC = ("macs", "in_c", "out_c", "in_h", "out_h", "kernel", "stride", "weight_bytes", "input_bytes",
           "output_bytes", "elem_bytes", "pool_bytes", "mul_bytes", "add_bytes", "act_bytes", "n_rows")  # fmt: skip
CATEGORICAL = ("op_code", "act_code", "is_se")
FEATURES = NUMERIC + CATEGORICAL


def segment_features(table: pd.DataFrame) -> pd.DataFrame:
    """One row per segment of ``table`` (index: segment id, ``-1`` = preprocessing), with the
    columns in :data:`FEATURES`. Pure: layer table in, features out."""
    seg = segment_ids(table)
    op = table["op"].to_numpy().astype(str)
    act = table["act"].to_numpy().astype(str)
    name = table["name"].to_numpy().astype(str)
    out_b = table["output_bytes"].to_numpy(np.float64)
    in_b = table["input_bytes"].to_numpy(np.float64)
    conv_rows = np.flatnonzero(np.isin(op, _OPS))
    rows = []
    for c in conv_rows:
        members = np.flatnonzero(seg == c)
        tail = members[members != c]
        tail_ops = op[tail]
        acts = [a for a in act[tail][tail_ops == "act"]]
        first_act = acts[0] if acts else ""
        rows.append({
            "segment": int(c),
            "macs": float(table["macs"].iat[c]),
            "in_c": float(table["in_c"].iat[c]),
            "out_c": float(table["out_c"].iat[c]),
            "in_h": float(table["in_h"].iat[c]),
            "out_h": float(table["out_h"].iat[c]),
            "kernel": float(table["kernel"].iat[c]),
            "stride": float(table["stride"].iat[c]),
            "weight_bytes": float(table["weight_bytes"].iat[c]),
            "input_bytes": in_b[c],
            "output_bytes": out_b[c],
            "elem_bytes": float(out_b[tail][tail_ops != "bn"].sum()),
            "pool_bytes": float(in_b[tail][tail_ops == "pool"].sum()),
            "mul_bytes": float(in_b[tail][tail_ops == "mul"].sum()),
            "add_bytes": float(in_b[tail][tail_ops == "add"].sum()),
            "act_bytes": float(out_b[tail][tail_ops == "act"].sum()),
            "n_rows": float(len(members)),
            "op_code": float(_OPS.index(op[c])),
            "act_code": float(_ACTS.index(first_act) if first_act in _ACTS else len(_ACTS)),
            "is_se": float(".se." in name[c]),
        })  # fmt: skip
    res = int(table["in_h"].iat[0]) if len(table) else 0
    pix_bytes = 3.0 * res * res
    pre = {k: 0.0 for k in FEATURES}
    pre.update(segment=INPUT_SEGMENT, in_h=res, out_h=res, in_c=3, out_c=3, input_bytes=pix_bytes,
               output_bytes=4 * pix_bytes, elem_bytes=3 * 4 * pix_bytes, n_rows=3, op_code=-1.0)  # fmt: skip
    rows.insert(0, pre)
    return pd.DataFrame(rows).set_index("segment")


def _one_thread():
    """scikit-learn's OpenMP threads spin on a small shared machine (a fit took 10x longer on
    two busy cores than on one); the trees are small, one thread is fastest."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _design(feats: pd.DataFrame) -> np.ndarray:
    """Base-stage design matrix: log features, op one-hot and op × log(MACs), act one-hot."""
    x = np.log1p(feats[list(NUMERIC)].to_numpy(np.float64))
    op = feats["op_code"].to_numpy()
    act = feats["act_code"].to_numpy()
    cols = [np.ones(len(feats)), *x.T]
    for k in range(-1, len(_OPS)):
        onehot = (op == k).astype(float)
        cols += [onehot, onehot * np.log1p(feats["macs"].to_numpy()), onehot * np.log1p(feats["output_bytes"].to_numpy())]
    for k in range(len(_ACTS) + 1):
        cols.append((act == k).astype(float))
    cols.append(feats["is_se"].to_numpy(float))
    return np.column_stack(cols)


def _tree_x(feats: pd.DataFrame) -> np.ndarray:
    x = np.log1p(feats[list(NUMERIC)].to_numpy(np.float64))
    return np.column_stack([x, feats[list(CATEGORICAL)].to_numpy(np.float64)])


class SegmentLatencyModel:
    """Segment time model (log-linear base + boosted residual trees) and the end-to-end map.

    ``fit(samples, runs)``: ``samples`` has the :data:`FEATURES` columns plus ``time_us`` and
    ``run`` (which network it came from); ``runs`` is indexed by ``run`` with ``e2e_ms`` (clean
    measured latency) and ``node_ms`` (profiled node total).
    """

    def __init__(self, *, ridge: float = 1e-3, trees: bool = True, max_iter: int = 300, learning_rate: float = 0.05,
                 max_leaf_nodes: int = 15, min_samples_leaf: int = 10, random_state: int = 0) -> None:  # fmt: skip
        self.ridge = ridge
        self.trees = trees
        self.tree_params = dict(max_iter=max_iter, learning_rate=learning_rate, max_leaf_nodes=max_leaf_nodes,
                                min_samples_leaf=min_samples_leaf, random_state=random_state)  # fmt: skip
        self.coef_: np.ndarray | None = None
        self.tree_ = None
        self.e2e_: tuple[float, float] = (1.0, 0.0)

    def fit(self, samples: pd.DataFrame, runs: pd.DataFrame) -> "SegmentLatencyModel":
        y = np.log(np.maximum(samples["time_us"].to_numpy(np.float64), 0.05))
        a = _design(samples)
        reg = self.ridge * len(y) * np.eye(a.shape[1])
        reg[0, 0] = 0.0
        self.coef_ = np.linalg.solve(a.T @ a + reg, a.T @ y)
        resid = y - a @ self.coef_
        if self.trees and len(y) >= 4 * self.tree_params["min_samples_leaf"]:
            from sklearn.ensemble import HistGradientBoostingRegressor

            cat = np.zeros(len(FEATURES), dtype=bool)
            self.tree_ = HistGradientBoostingRegressor(categorical_features=cat, **self.tree_params)
            with _one_thread():
                self.tree_.fit(_tree_x(samples), resid)
        else:
            self.tree_ = None
        # end to end: e2e = a * node_total + b, fitted on the measured node totals
        node = runs["node_ms"].to_numpy(np.float64)
        e2e = runs["e2e_ms"].to_numpy(np.float64)
        if len(node) >= 3 and np.ptp(node) > 0:
            # relative least squares (each network's error counts alike, small or large)
            w = 1.0 / e2e
            m = np.column_stack([node * w, w])
            sol = np.linalg.lstsq(m, np.ones_like(e2e), rcond=None)[0]
            self.e2e_ = (float(sol[0]), float(sol[1]))
        else:
            self.e2e_ = (float(np.median(e2e / node)) if len(node) else 1.0, 0.0)
        return self

    def predict_segments_us(self, feats: pd.DataFrame) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("SegmentLatencyModel: fit() first")
        y = _design(feats) @ self.coef_
        if self.tree_ is not None:
            with _one_thread():
                y = y + self.tree_.predict(_tree_x(feats))
        return np.exp(y)

    def predict_latency_ms(self, table: pd.DataFrame) -> float:
        """End-to-end latency of the network whose layer table is ``table``."""
        node_ms = float(self.predict_segments_us(segment_features(table)).sum()) / 1e3
        a, b = self.e2e_
        return a * node_ms + b
