"""The fit of the published-results accuracy model (see :mod:`edgespace.accuracy._published` for its
form): each row's MACs and body parameters as edgespace builds the network, the least-squares fit
of the family and recipe offsets, the family parameter slopes and the shared terms, and the fit of
the shipped table made once."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgespace._layer_table import layer_skeleton
from edgespace._ops import MAC_OPS
from edgespace.accuracy._data import load_published
from edgespace.accuracy._quant import WIDTH_EXPONENT_DEFAULT

__all__ = ["K_OUT", "PublishedFit", "fit_width_exponent", "fit_published"]


#: Extra uncertainty per log2 unit of distance from the family's data, in top-1 points.
#: From benchmarks/accuracy_fit.py: holding out each family's extreme rows per axis gave 2.6 points
#: of error (beyond the interior LOO error) per log2 unit of distance to the nearest kept row
#: (2.4 before EfficientViT's rows joined the shared terms; 2.0 with one shared parameter slope:
#: the family slopes fit inside the data better and extrapolate a little worse).
K_OUT = 2.6


_M_REF = 300e6


_P_REF = 3.5e6


_RECIPES_FITTED = ("timm_eval", "timm_train")


# Families with fewer fitted rows than this get their residual RMS shrunk toward the global one.
_SHRINK_ROWS = 5.0

#: Weight of the penalty that pulls each family's parameter slope toward the shared one, in top-1
#: points per unit of slope: a family departs from the shared slope only as far as its own rows
#: (at more than one width) demand. Chosen by leave-one-out MAE over 3, 5, 10, 15, 20, 25, 30
#: (benchmarks/accuracy_fit.py, on the 99 rows before the hybrids'): at 20 no family's error grows
#: by more than 0.01 point over a single shared slope (EfficientNetV2 0.263 -> 0.265); 10 and 15
#: fit better overall but raise EfficientNetV2's, 25 and 30 raise MobileNetV2's.
_SLOPE_PULL = 20.0

# The layers after the global pool of the families edgespace does not build, which the body
# parameter count leaves out: (1x1 conv after the pool: (in, out) or None, classifier input
# channels as a function of width, classes of the published count). TF-slim's MobileNets count
# 1001 classes; the post-pool convolutions of MobileNetV3 carry a bias and no norm.
_HEAD_NOT_BUILT = {
    "mobilenetv1": (None, lambda w: int(1024 * w), 1001),
    "efficientnet_lite": (None, lambda w: 1280, 1000),
    "mobilenetv3_large_minimal": ((960, 1280), lambda w: 1280, 1001),
    "mobilenetv3_small_minimal": ((576, 1024), lambda w: 1024, 1001),
}


@functools.lru_cache(maxsize=4096)
def _conv_structure(family: str, width: float, depth: float) -> tuple[np.ndarray, np.ndarray, tuple, float]:
    """MACs per pixel factor of every MAC row (conv-like and attention matmul), which rows those
    are, the skeleton, and the body parameter count (every layer before the global pool), for an
    ImageNet (1000-class) head. Cached: a search revisits the same (family, width, depth) at many
    resolutions."""
    sk = layer_skeleton(family, float(width), float(depth), 1000)
    ops = np.asarray(sk.op, dtype=object)
    mac = np.isin(ops, MAC_OPS)
    body = np.arange(len(ops)) < int(np.flatnonzero(ops == "pool")[-1])
    return sk.macs_per_px[mac].astype(np.float64), mac, sk, float(sk.params[body].sum())


def _head_params_not_built(family: str, width: float, recipe: str) -> float:
    """Parameters after the global pool of a family edgespace does not build (its published
    count includes them); timm's own rows count 1000 classes."""
    post, cls_in, classes = _HEAD_NOT_BUILT[family]
    classes = classes if recipe == "reference" else 1000
    conv = post[0] * post[1] + post[1] if post is not None else 0
    return float(conv + cls_in(width) * classes + classes)


def _macs_params(family: str, width: float, depth: float, resolution) -> tuple[np.ndarray, float]:
    """Conv, linear and attention matmul MACs (one per resolution given) and body params (before the global pool),
    as edgespace's layer table counts them.

    The layers after the pool (the classifier, and the 1x1 conv of MobileNetV3/V4's head) are left
    out of the parameter count: their width is fixed (1280 in MobileNetV4 at every multiplier), so
    they hold most of a narrow network's parameters and none of what the multiplier removes
    (MobileNetV4-Conv-Small: 2.24 M parameters at width 0.5 against 3.77 M at 1.0, but 0.34 M
    against 1.26 M before the pool)."""
    macs_px, mac, sk, params = _conv_structure(family, width, depth)
    sizes = sk.level_sizes(np.asarray(resolution, dtype=np.int64))
    _, mac_px, _ = sk.px_factors(sizes)
    return mac_px[..., mac] @ macs_px, params


def _row_features(frame: pd.DataFrame, buildable: set[str], table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """MACs and params of every row: analytic for the families edgespace builds (so fit and
    prediction use the same counting), as published for the others (filled from the reference
    row of the same configuration where timm's row lacks them)."""
    macs = np.empty(len(frame))
    params = np.empty(len(frame))
    ref = table[table["recipe"] == "reference"]
    for i, row in enumerate(frame.itertuples(index=False)):
        if row.family in buildable:
            m, p = _macs_params(row.family, row.width, row.depth, row.resolution)
            macs[i], params[i] = float(m), p
            continue
        if row.family not in _HEAD_NOT_BUILT:  # a packaging slip, not user input
            raise RuntimeError(f"published table: family {row.family!r} has no head entry in _HEAD_NOT_BUILT")
        m, p = row.macs_m, row.params_m
        if math.isnan(m) or math.isnan(p):
            same = ref[
                (ref["family"] == row.family)
                & np.isclose(ref["width"], row.width)
                & np.isclose(ref["depth"], row.depth)
                & (ref["resolution"] == row.resolution)
            ]
            m = same["macs_m"].iloc[0] if len(same) else m
            p = p if not math.isnan(p) else (same["params_m"].iloc[0] if len(same) else p)
        macs[i], params[i] = m * 1e6, p * 1e6 - _head_params_not_built(row.family, row.width, row.recipe)
    if not (np.isfinite(macs).all() and np.isfinite(params).all()):
        raise RuntimeError(
            "published table: rows without MACs/params: "
            f"{frame['variant'][~(np.isfinite(macs) & np.isfinite(params))].tolist()}"
        )
    return macs, params


def _curve(theta_shape: np.ndarray, offset: np.ndarray, lm: np.ndarray, lp: np.ndarray, b) -> np.ndarray:
    """Top-1 from the shared shape (a, b, k, ceiling), the offsets and the features; ``b`` is the
    parameter slope of each row's family (scalar or array; the shared one is ``theta_shape[1]``)."""
    a, _, k, ceiling = theta_shape
    g = lm if k < 1e-9 else -np.expm1(-k * lm) / k
    return ceiling / (1.0 + np.exp(-(offset + a * g + b * lp)))


@dataclass(frozen=True)
class _Target:
    """One fitted target (top-1 or top-5)."""

    family_offset: dict[str, float]
    #: per family: the slope of ln(body params), pulled toward the shared ``shape[1]``
    params_slope: dict[str, float]
    recipe_offset: dict[str, float]
    shape: np.ndarray  # a, b, k, ceiling
    family_rms: dict[str, float]
    rms: float


@dataclass(frozen=True)
class PublishedFit:
    """Everything :class:`PublishedAccuracy` needs, fitted once from the table."""

    top1: _Target
    top5: _Target | None
    #: per family: fitted rows' log2 (width, depth, resolution), shape (n, 3)
    points: dict[str, np.ndarray]
    #: per family: (min, max) of width, depth, resolution over the fitted rows
    box: dict[str, tuple[np.ndarray, np.ndarray]]
    width_exponent: float
    rows: pd.DataFrame  # the fitted rows with features and residuals


def _fit_target(rows: pd.DataFrame, column: str) -> _Target:
    from scipy.optimize import least_squares

    rows = rows[rows[column].notna()]
    fams = sorted(rows["group"].unique())
    fi = np.array([fams.index(f) for f in rows["group"]])
    ri = np.array([_RECIPES_FITTED.index(r) + 1 if r in _RECIPES_FITTED else 0 for r in rows["recipe"]])
    lm, lp, y = rows["lm"].to_numpy(), rows["lp"].to_numpy(), rows[column].to_numpy()
    nf, nr = len(fams), len(_RECIPES_FITTED)

    def unpack(x):
        s = nf + nr
        return x[:nf], np.concatenate([[0.0], x[nf:s]]), x[s : s + 4], x[s + 4 :]

    def residuals(x):
        cf, cr, shape, bf = unpack(x)
        return _curve(shape, cf[fi] + cr[ri], lm, lp, bf[fi]) - y

    def penalised(x):
        _, _, shape, bf = unpack(x)
        return np.concatenate([residuals(x), _SLOPE_PULL * (bf - shape[1])])

    # Family slopes are bounded below by 0, as the shared one is: more parameters never predict less.
    x0 = np.concatenate([np.full(nf, 1.0), np.zeros(nr), [0.3, 0.1, 0.1, 92.0], np.full(nf, 0.1)])
    lo = np.concatenate([np.full(nf + nr, -np.inf), [1e-6, 0.0, 0.0, 60.0], np.zeros(nf)])
    hi = np.concatenate([np.full(nf + nr, np.inf), [np.inf, np.inf, 1.0, 100.0], np.full(nf, np.inf)])
    x = least_squares(penalised, x0, bounds=(lo, hi), method="trf").x
    res = residuals(x)
    # the family slopes count as full parameters (conservative: they are pulled, not free)
    dof = max(len(y) - len(x), 1)
    rms = float(np.sqrt((res**2).sum() / dof))
    # Per-family RMS, with dof spread evenly, shrunk toward the global one when rows are few.
    scale = len(y) / dof
    family_rms = {}
    for j, f in enumerate(fams):
        r = res[fi == j]
        n = len(r)
        family_rms[f] = float(np.sqrt((n * scale * np.mean(r**2) + _SHRINK_ROWS * rms**2) / (n + _SHRINK_ROWS)))
    cf, cr, shape, bf = unpack(x)
    return _Target(
        family_offset=_members(dict(zip(fams, cf.tolist(), strict=True))),
        params_slope=_members(dict(zip(fams, bf.tolist(), strict=True))),
        recipe_offset=dict(zip(("reference", *_RECIPES_FITTED), cr.tolist(), strict=True)),
        shape=np.asarray(shape, dtype=float),
        family_rms=_members(family_rms),
        rms=rms,
    )


def _group(family: str) -> str:
    """The accuracy family a family's rows are fitted in (``FamilyDef.accuracy_family``)."""
    from edgespace.archs import get_family, list_families

    return (get_family(family).accuracy_family or family) if family in list_families() else family


def _members(by_group: dict) -> dict:
    """A per-group dict with every registered family of a group given its group's value."""
    from edgespace.archs import list_families

    out = dict(by_group)
    for fam in list_families():
        group = _group(fam)
        if group != fam and group in by_group:
            out[fam] = by_group[group]
    return out


def fit_width_exponent(table: pd.DataFrame) -> float:
    """Exponent of the int8 drop's growth as width shrinks, fitted (least squares in log-log)
    to float/QAT pairs of one family at equal width and resolution (MobileNetV1)."""
    q = table[(table["precision"] == "int8") & (table["quantization"] == "qat")]
    f = table[(table["precision"] == "fp32") & (table["recipe"] == "reference")]
    pairs = q.merge(f, on=["family", "width", "depth", "resolution"], suffixes=("_q", "_f"))
    drop = (pairs["top1_f"] - pairs["top1_q"]).to_numpy()
    keep = drop > 0
    if keep.sum() < 4 or len(np.unique(pairs["width"][keep])) < 2:
        return WIDTH_EXPONENT_DEFAULT
    slope, _ = np.polyfit(np.log(pairs["width"].to_numpy()[keep]), np.log(drop[keep]), 1)
    return float(np.clip(-slope, 0.0, 1.0))


def fit_published(table: pd.DataFrame | None = None, *, exclude=None) -> PublishedFit:
    """Fit the model to ``table`` (default: the shipped one), leaving out the rows whose index
    is in ``exclude`` (used by the benchmark's cross-validation)."""
    from edgespace.archs import list_families

    table = load_published() if table is None else table
    buildable = set(list_families())
    rows = table[(table["precision"] == "fp32") & table["in_fit"]].copy()
    # Features first, on every row: a timm row borrows MACs from its reference twin, which a
    # cross-validation fold may leave out of the fit.
    macs, params = _row_features(rows, buildable, table)
    rows["macs"], rows["params"] = macs, params
    if exclude is not None:
        rows = rows.drop(index=[i for i in exclude if i in rows.index])
    rows["lm"], rows["lp"] = np.log(rows["macs"] / _M_REF), np.log(rows["params"] / _P_REF)
    rows["group"] = rows["family"].map(_group)
    families = sorted(rows["group"].unique())
    top1 = _fit_target(rows, "top1")
    # top-5 is published for fewer rows (none for the MobileNetV3 reference releases); fit it
    # only where enough rows carry it.
    top5 = _fit_target(rows, "top5") if rows["top5"].notna().sum() >= 20 else None
    logs = np.log2(rows[["width", "depth", "resolution"]].to_numpy(dtype=float))
    points, box = {}, {}
    for f in families:
        sel = (rows["group"] == f).to_numpy()
        points[f] = logs[sel]
        box[f] = (logs[sel].min(axis=0), logs[sel].max(axis=0))
    points, box = _members(points), _members(box)
    rows["top1_fit"] = _curve(
        top1.shape,
        rows["family"].map(top1.family_offset).to_numpy() + rows["recipe"].map(top1.recipe_offset).to_numpy(),
        rows["lm"].to_numpy(),
        rows["lp"].to_numpy(),
        rows["family"].map(top1.params_slope).to_numpy(),
    )
    return PublishedFit(top1, top5, points, box, fit_width_exponent(table), rows)


@functools.lru_cache(maxsize=1)
def _default_fit() -> PublishedFit:
    return fit_published()
