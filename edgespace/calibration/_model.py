"""The per-operator latency model, fitted to profiler node times.

**Unit.** A *segment* of the layer table: a conv-like row and the non-conv rows after it (see
:mod:`edgespace.calibration._mapping`), plus segment ``-1`` for the folded preprocessing.
Runtimes fuse within segments (BN folding, conv + activation, conv + residual add), never across
conv-like rows, so segment times are well defined on every runtime and predictable from the layer
table alone.

**Model class, and why.** Two stages, both fitted on log time:

1. an *additive* base per segment, ``t = exp(θ · x_conv) + Σ_k α_k · z_k`` with ``α ≥ 0``:
   the conv-like kernel follows a power law in its MACs and bytes (``x_conv``: per op class an
   intercept and log MACs / input / output / weight bytes, plus log kernel, stride, spatial size
   and channels), and each element-wise row the runtime may run as its own kernel adds time
   linear in the bytes it touches (``z``: activation bytes per activation kind, multiply, add and
   pool bytes, plus a per-kernel constant for each kind present). Fitted by robust nonlinear least
   squares (scipy ``least_squares``, soft-L1 loss, on log time). The sum is the point: a fused
   activation costs nothing and gets ``α ≈ 0``; an unfused one (ONNX Runtime runs HardSwish on
   its own) costs per byte, and that extrapolates to wider layers of a family never seen. The
   earlier purely log-linear base (one product of powers, activation as a one-hot factor) put
   60% of a held-out family's networks within ±10%; the additive base with the same trees 100%
   (``benchmarks/fidelity.py``), because a family's wide hard-swish layers are a sum of a conv
   and a memory-bound pass, not a scaled conv;
2. gradient-boosted trees (scikit-learn ``HistGradientBoostingRegressor``) on the base's
   residual, which learn what the base cannot: kernel-selection thresholds, cache-size cliffs,
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

__all__ = ["segment_features", "segment_columns", "SegmentLatencyModel", "FEATURES"]

_OPS = CONV_OPS  # conv, depthwise, pointwise, linear
_ACTS = ("", "relu", "relu6", "silu", "swish", "hard_swish", "sigmoid", "hard_sigmoid", "gelu")

#: Numeric segment features (taken in log1p for both stages).
NUMERIC = (
    "macs",
    "in_c",
    "out_c",
    "in_h",
    "out_h",
    "kernel",
    "stride",
    "weight_bytes",
    "input_bytes",
    "output_bytes",
    "elem_bytes",
    "pool_bytes",
    "mul_bytes",
    "add_bytes",
    "act_bytes",
    "n_rows",
)
CATEGORICAL = ("op_code", "act_code", "is_se")
FEATURES = NUMERIC + CATEGORICAL


def segment_features(table: pd.DataFrame) -> pd.DataFrame:
    """One row per segment of ``table`` (index: segment id, ``-1`` = preprocessing), with the
    columns in :data:`FEATURES`. Pure: layer table in, features out; vectorised over rows
    (a search predicts many networks, so this runs once per candidate)."""
    return pd.DataFrame(segment_columns(table)).set_index("segment")


def segment_columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """:func:`segment_features` as plain numpy columns (``segment`` plus :data:`FEATURES`), the
    preprocessing segment first: what a batch prediction concatenates without pandas overhead."""
    seg = segment_ids(table)
    op = table["op"].to_numpy().astype(str)
    act = table["act"].to_numpy().astype(str)
    name = table["name"].to_numpy().astype(str)
    out_b = table["output_bytes"].to_numpy(np.float64)
    in_b = table["input_bytes"].to_numpy(np.float64)
    conv_rows = np.flatnonzero(np.isin(op, _OPS))
    n = len(conv_rows)
    pos = np.searchsorted(conv_rows, seg)  # segment position of every row
    tail = np.arange(len(op)) != seg

    def per_segment(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(pos[mask], weights=values[mask], minlength=n)[:n]

    is_act = tail & (op == "act")
    first_act = np.full(n, "", dtype=object)
    act_rows = np.flatnonzero(is_act)
    if len(act_rows):
        seg_of_act, first = np.unique(pos[act_rows], return_index=True)
        first_act[seg_of_act] = act[act_rows[first]]
    act_index = {a: i for i, a in enumerate(_ACTS)}
    res = float(table["in_h"].iat[0]) if len(table) else 0.0
    pix_bytes = 3.0 * res * res
    pre = {k: 0.0 for k in FEATURES}
    pre.update(
        in_h=res,
        out_h=res,
        in_c=3.0,
        out_c=3.0,
        input_bytes=pix_bytes,
        output_bytes=4 * pix_bytes,
        elem_bytes=3 * 4 * pix_bytes,
        n_rows=3.0,
        op_code=-1.0,
    )
    cols = {
        c: table[c].to_numpy(np.float64)[conv_rows]
        for c in ("macs", "in_c", "out_c", "in_h", "out_h", "kernel", "stride", "weight_bytes")
    }
    cols.update(
        {
            "input_bytes": in_b[conv_rows],
            "output_bytes": out_b[conv_rows],
            "elem_bytes": per_segment(out_b, tail & (op != "bn")),
            "pool_bytes": per_segment(in_b, tail & (op == "pool")),
            "mul_bytes": per_segment(in_b, tail & (op == "mul")),
            "add_bytes": per_segment(in_b, tail & (op == "add")),
            "act_bytes": per_segment(out_b, is_act),
            "n_rows": np.bincount(pos, minlength=n)[:n].astype(np.float64),
            "op_code": np.array([_OPS.index(o) for o in op[conv_rows]], dtype=np.float64),
            "act_code": np.array([act_index.get(a, len(_ACTS)) for a in first_act], dtype=np.float64),
            "is_se": (np.char.find(name[conv_rows].astype(str), ".se.") >= 0).astype(np.float64),
        }
    )
    out = {"segment": np.concatenate([[INPUT_SEGMENT], conv_rows]).astype(np.int64)}
    for c in FEATURES:
        out[c] = np.concatenate([[float(pre[c])], cols[c]])
    return out


def _one_thread():
    """scikit-learn's OpenMP threads and BLAS's threads spin on a small shared machine (a tree
    fit took 10x longer on two busy cores than on one; the base's least squares, 30x: 268 s
    against 8 s for six fits on a loaded 2-core machine); the problems are small, one thread is
    fastest. The fit's libraries are imported first: threadpoolctl limits only the thread pools
    loaded when it is entered, and a BLAS that scipy loads on first use inside the block would run
    that first fit multi-threaded, with a different rounding (a fit with fewer networks than
    columns then landed elsewhere than the same fit repeated in that process)."""
    import scipy.optimize  # noqa: F401 - loaded before the limit, see above
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _conv_design(feats: pd.DataFrame) -> np.ndarray:
    """Power-law part of the base: per op class (preprocessing, conv, depthwise, pointwise,
    linear) an intercept and log MACs / input / output / weight bytes; shared log kernel,
    stride > 1, log spatial size, log channels in and out."""

    def lg(col: str) -> np.ndarray:
        return np.log1p(feats[col].to_numpy(np.float64))

    op = feats["op_code"].to_numpy()
    macs, inb, outb, wb = lg("macs"), lg("input_bytes"), lg("output_bytes"), lg("weight_bytes")
    cols = []
    for k in range(-1, len(_OPS)):
        onehot = (op == k).astype(float)
        cols += [onehot, onehot * macs, onehot * inb, onehot * outb, onehot * wb]
    cols += [lg("kernel"), (feats["stride"].to_numpy() > 1).astype(float), lg("in_h"), lg("in_c"), lg("out_c")]
    return np.column_stack(cols)


def _elem_design(feats: pd.DataFrame) -> np.ndarray:
    """Additive part of the base: bytes of each element-wise kind in the segment's tail
    (activation bytes per activation kind, multiply, add, pool) and, per kind, 1 where present
    (a kernel launch of its own when the runtime does not fuse it)."""
    act = feats["act_code"].to_numpy()
    act_b = feats["act_bytes"].to_numpy(np.float64)
    other = [feats[c].to_numpy(np.float64) for c in ("mul_bytes", "add_bytes", "pool_bytes")]
    per_kind = [act_b * (act == k) for k in range(len(_ACTS) + 1)] + other
    return np.column_stack(per_kind + [(c > 0).astype(float) for c in per_kind])


#: How far outside the measured segments' times (as a factor) the power-law part of a segment
#: may go, besides what its extra work allows.
EXTRAPOLATION_FACTOR = 4.0


def _log_work(feats: pd.DataFrame) -> np.ndarray:
    """Per segment: log MACs and log bytes moved (input + output + weights)."""
    macs = feats["macs"].to_numpy(np.float64)
    moved = feats[["input_bytes", "output_bytes", "weight_bytes"]].to_numpy(np.float64).sum(axis=1)
    return np.column_stack([np.log1p(macs), np.log1p(moved)])


def _tree_x(feats: pd.DataFrame) -> np.ndarray:
    x = np.log1p(feats[list(NUMERIC)].to_numpy(np.float64))
    return np.column_stack([x, feats[list(CATEGORICAL)].to_numpy(np.float64)])


class SegmentLatencyModel:
    """Segment time model (additive base + boosted residual trees) and the end-to-end map.

    ``fit(samples, runs)``: ``samples`` has the :data:`FEATURES` columns plus ``time_us`` and
    ``run`` (which network it came from); ``runs`` is indexed by ``run`` with ``e2e_ms`` (clean
    measured latency) and ``node_ms`` (profiled node total).
    """

    def __init__(
        self,
        *,
        ridge: float = 1e-3,
        trees: bool = True,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 10,
        random_state: int = 0,
    ) -> None:
        self.ridge = ridge
        self.trees = trees
        self.tree_params = dict(
            max_iter=max_iter,
            learning_rate=learning_rate,
            max_leaf_nodes=max_leaf_nodes,
            min_samples_leaf=min_samples_leaf,
            random_state=random_state,
        )
        self.coef_: np.ndarray | None = None
        self.tree_ = None
        self.e2e_: tuple[float, float] = (1.0, 0.0)

    def fit(self, samples: pd.DataFrame, runs: pd.DataFrame) -> SegmentLatencyModel:
        with _one_thread():
            return self._fit(samples, runs)

    def _fit(self, samples: pd.DataFrame, runs: pd.DataFrame) -> SegmentLatencyModel:
        y = np.log(np.maximum(samples["time_us"].to_numpy(np.float64), 0.05))
        self._fit_base(samples, y)
        resid = y - np.log(self._base_us(samples))
        if self.trees and len(y) >= 4 * self.tree_params["min_samples_leaf"]:
            from sklearn.ensemble import HistGradientBoostingRegressor

            cat = np.zeros(len(FEATURES), dtype=bool)
            self.tree_ = HistGradientBoostingRegressor(categorical_features=cat, **self.tree_params)
            self.tree_.fit(_tree_x(samples), resid)
        else:
            self.tree_ = None
        # end to end: e2e = a * Σ predicted segments + b, fitted on the calibration networks. The
        # measured node totals would give a = 1, b = 0 when they are normalised to e2e; the
        # predicted totals let the map absorb what the per-segment fit leaves in the sum (the
        # log-space loss fits geometric, not arithmetic, means; overhead between kernels).
        e2e = runs["e2e_ms"].to_numpy(np.float64)
        run_of = samples["run"].to_numpy()
        seg_us = self.predict_segments_us(samples)
        node = np.array([seg_us[run_of == r].sum() for r in runs.index]) / 1e3
        if len(node) >= 3 and np.ptp(node) > 0:
            # relative least squares (each network's error counts alike, small or large)
            w = 1.0 / e2e
            m = np.column_stack([node * w, w])
            sol = np.linalg.lstsq(m, np.ones_like(e2e), rcond=None)[0]
            self.e2e_ = (float(sol[0]), float(sol[1]))
        else:
            self.e2e_ = (float(np.median(e2e / node)) if len(node) else 1.0, 0.0)
        return self

    def _fit_base(self, samples: pd.DataFrame, y: np.ndarray) -> None:
        """Robust nonlinear least squares on log time, started from a ridge fit of the power-law
        part alone; ``α = exp(β)`` keeps the element-wise costs non-negative."""
        from scipy.optimize import least_squares

        xc, xe = _conv_design(samples), _elem_design(samples)
        # columns scaled to [0, 1] so that one step size suits bytes and indicators alike
        self.elem_scale_ = np.maximum(xe.max(axis=0), 1.0)
        xe = xe / self.elem_scale_
        reg = self.ridge * len(y) * np.eye(xc.shape[1])
        theta0 = np.linalg.solve(xc.T @ xc + reg, xc.T @ y)
        nc = xc.shape[1]
        beta_lo, beta_hi = -40.0, 12.0  # α from ~0 to ~160,000 µs per full-scale column

        def parts(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            conv = np.exp(np.clip(xc @ p[:nc], -30, 30))
            alpha = np.exp(p[nc:])
            return conv, alpha, conv + xe @ alpha

        def residual(p: np.ndarray) -> np.ndarray:
            return np.log(parts(p)[2]) - y

        def jacobian(p: np.ndarray) -> np.ndarray:  # exact: the fit converges in a few dozen steps
            conv, alpha, total = parts(p)
            return np.hstack([xc * (conv / total)[:, None], xe * alpha[None, :] / total[:, None]])

        p0 = np.concatenate([theta0, np.full(xe.shape[1], -6.0)])
        lo = np.concatenate([np.full(nc, -np.inf), np.full(xe.shape[1], beta_lo)])
        hi = np.concatenate([np.full(nc, np.inf), np.full(xe.shape[1], beta_hi)])
        sol = least_squares(
            residual,
            p0,
            jac=jacobian,
            bounds=(lo, hi),
            loss="soft_l1",
            f_scale=0.2,
            method="trf",
            x_scale="jac",
            max_nfev=2000,
        )
        self.coef_ = sol.x[:nc]
        self.elem_coef_us_ = np.exp(sol.x[nc:])
        self.log_time_range_ = (float(y.min()), float(y.max()))
        work = _log_work(samples)
        self.log_work_range_ = (work.min(axis=0), work.max(axis=0))

    def _base_us(self, feats: pd.DataFrame) -> np.ndarray:
        return self._conv_us(feats) + (_elem_design(feats) / self.elem_scale_) @ self.elem_coef_us_

    def _conv_us(self, feats: pd.DataFrame) -> np.ndarray:
        """The power-law part, bounded: its log lies within the range of the measured segments'
        log times, widened by :data:`EXTRAPOLATION_FACTOR` and by how far the segment's work
        (log MACs, log bytes moved) lies beyond the measured segments' (time at most
        proportional to work outside the measured range). A power law fitted to a few networks
        can have exponents far from 1; unbounded, it put a segment twice as large as any
        measured at thousands of times the slowest measured time."""
        z = _conv_design(feats) @ self.coef_
        rng = getattr(self, "log_time_range_", None)
        if rng is None:  # a model fitted before the bound existed
            return np.exp(np.clip(z, -30, 30))
        work = _log_work(feats)
        lo_w, hi_w = self.log_work_range_
        beyond = np.clip(work - hi_w, 0.0, None).max(axis=1)
        below = np.clip(lo_w - work, 0.0, None).max(axis=1)
        slack = np.log(EXTRAPOLATION_FACTOR)
        return np.exp(np.clip(z, rng[0] - slack - below, rng[1] + slack + beyond))

    def predict_segments_us(self, feats: pd.DataFrame) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("SegmentLatencyModel: fit() first")
        with _one_thread():
            y = np.log(self._base_us(feats))
            if self.tree_ is not None:
                y = y + self.tree_.predict(_tree_x(feats))
        return np.exp(y)

    def predict_latency_ms(self, table: pd.DataFrame) -> float:
        """End-to-end latency of the network whose layer table is ``table``."""
        node_ms = float(self.predict_segments_us(segment_features(table)).sum()) / 1e3
        a, b = self.e2e_
        return a * node_ms + b
