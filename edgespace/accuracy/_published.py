"""ImageNet top-1 from published results: a small saturating model fitted once to the shipped table.

Functional form (top-1 in percent; m = conv+linear MACs, p = body parameters (every layer before
the global pool), both of the network as edgespace builds it, so a prediction and the layer table
agree)::

    lm = ln(m / 300 M),  lp = ln(p / 3.5 M)
    g  = (1 - exp(-k * lm)) / k                 # concave in log-compute, strictly increasing
    z  = c_family + c_recipe + a * g + b_family * lp
    top1 = A / (1 + exp(-z))                    # logistic, saturating at A (<= 100)

Why this shape:

* Accuracy grows roughly linearly in log-compute at small scale and saturates at large scale
  (EfficientNet B0→B7: +7.2 points over ×95 MACs). A logistic in log-compute gives both ends;
  the concave ``g`` lets the returns shrink faster than the logistic alone (a quadratic in
  ``lm`` fitted slightly better but turned *down* above ~9 GMACs, inside the data).
* Width, depth and resolution enter through MACs and parameters: resolution moves only MACs,
  width and depth move both. The parameter term is what separates a narrow, high-resolution
  network from a wide, low-resolution one of equal MACs (MobileNetV1 0.25/224 vs 0.5/128:
  41 vs 49 MMACs, 49.8 vs 56.3%).
* The parameters after the global pool (classifier, and MobileNetV3/V4's post-pool 1x1 conv)
  are left out: their width is fixed, so in a narrow network they are most of the parameters and
  none of what the width multiplier took away.
* Each family has its own parameter slope ``b_family``, pulled toward a shared ``b`` by a penalty
  in the fit: a family whose rows span widths (MobileNetV3/V4-Small lose more top-1 per halving of
  width than a resolution cut of equal MACs costs them) departs from ``b`` as far as its rows
  demand; a family with one width keeps ``b``.
* ``a > 0``, ``b, b_family >= 0`` and ``k >= 0`` are bounds of the fit, so the prediction is smooth and
  monotone in width, depth and resolution everywhere, not only inside the data.
* Architecture enters as one offset per family (``c_family``); training recipe as one offset
  per recipe (``c_recipe``: 0 for the authors' own results, fitted for timm's evaluation of the
  released weights and for timm's own recipes). Predictions are for the authors' recipe.

The fit (``scipy.optimize.least_squares``) uses every fp32 row marked ``in_fit``, including
families edgespace does not build (MobileNetV1, EfficientNet-Lite, MobileNetV3-minimalistic,
with their published MACs/params): they share the slope and saturation terms, and their dense
width × resolution grids pin down how accuracy trades width against resolution. Measured
leave-one-out and leave-one-family-out errors: ``benchmarks/accuracy_fit.py``.

Uncertainty (1 sigma, top-1 points): ``sqrt(s_f^2 + (K_OUT * d)^2)`` where ``s_f`` is the
family's residual RMS (degrees-of-freedom corrected, shrunk toward the all-row RMS for families
with few rows) and ``d`` is the distance, in log2 units of width, depth and resolution, from
the spec to the nearest fitted row of its family. ``K_OUT`` (points per log2 unit) is
calibrated by the benchmark's hold-out-the-extremes test. int8 adds the per-family drop of
:mod:`edgespace.accuracy._quant` and its uncertainty in quadrature.

The fit lives in ``_published_fit``; this module predicts from it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from edgespace._errors import SpecError, SpecTypeError
from edgespace._spec import PRECISIONS, ArchSpec
from edgespace.accuracy._published_fit import _M_REF, _P_REF, K_OUT, PublishedFit, _curve, _default_fit, _macs_params
from edgespace.accuracy._quant import INT8_DROP, QUANTIZATION_MODES
from edgespace.archs import get_family

__all__ = [
    "AccuracyEstimate",
    "AccuracyModel",
    "PublishedAccuracy",
    "predict_accuracy",
    "predict_many",
]


@dataclass(frozen=True)
class AccuracyEstimate:
    """ImageNet-1k accuracy of one design point, in percent.

    ``top1_std``/``top5_std``: 1-sigma uncertainty in points (``None`` where the source gives
    none, e.g. a user's evaluator). ``in_range``: the spec's width, depth and resolution all lie
    within the range of the fitted rows of its family. ``source`` names the model that answered.
    """

    top1: float
    top1_std: float | None
    top5: float | None = None
    top5_std: float | None = None
    in_range: bool = True
    source: str = "published"


@runtime_checkable
class AccuracyModel(Protocol):
    """What the search needs: anything with ``predict(spec) -> AccuracyEstimate``."""

    def predict(self, spec: ArchSpec) -> AccuracyEstimate: ...


# ----------------------------------------------------------------------------- features


# ----------------------------------------------------------------------------- the model


# ----------------------------------------------------------------------------- prediction


def _check_quantization(quantization: str) -> None:
    if quantization not in QUANTIZATION_MODES:
        raise SpecError(f"quantization={quantization!r} is not allowed; allowed: {', '.join(QUANTIZATION_MODES)}")


def _features_many(family: str, width: np.ndarray, depth: np.ndarray, resolution: np.ndarray):
    """ln(MACs/300M) and ln(body params/3.5M) for arrays of specs of one family."""
    n = len(width)
    lm = np.empty(n)
    lp = np.empty(n)
    # Group by (width, depth): one cached skeleton per group, all its resolutions at once.
    pairs = pd.MultiIndex.from_arrays([width, depth])
    codes, uniq = pd.factorize(pairs)
    for j, (w, d) in enumerate(uniq):
        sel = codes == j
        m, p = _macs_params(family, float(w), float(d), resolution[sel])
        lm[sel] = np.log(m / _M_REF)
        lp[sel] = math.log(p / _P_REF)
    return lm, lp


@functools.lru_cache(maxsize=65536)
def _features_one(family: str, width: float, depth: float, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    m, p = _macs_params(family, width, depth, resolution)
    return np.array([math.log(float(m) / _M_REF)]), np.array([math.log(p / _P_REF)])


def _predict_arrays(
    fit: PublishedFit,
    family: str,
    width: np.ndarray,
    depth: np.ndarray,
    resolution: np.ndarray,
    precision: np.ndarray,
    quantization: str,
    features=None,
):
    """Vectorised core for one family: arrays in, (top1, top1_std, top5, top5_std, in_range) out."""
    if features is None:
        features = _features_many(family, width, depth, resolution)
    lm, lp = features
    n = len(width)
    t1 = fit.top1
    top1 = _curve(t1.shape, np.full(n, t1.family_offset[family]), lm, lp, t1.params_slope[family])
    logs = np.log2(np.stack([width, depth, resolution.astype(float)], axis=1))
    pts = fit.points[family]
    dist = np.sqrt(((logs[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    lo, hi = fit.box[family]
    eps = 1e-9
    in_range = ((logs >= lo - eps) & (logs <= hi + eps)).all(axis=1)
    extra = (K_OUT * dist) ** 2
    top1_std = np.sqrt(t1.family_rms[family] ** 2 + extra)
    top5 = top5_std = None
    if fit.top5 is not None and family in fit.top5.family_offset:
        t5 = fit.top5
        top5 = _curve(t5.shape, np.full(n, t5.family_offset[family]), lm, lp, t5.params_slope[family])
        top5_std = np.sqrt(t5.family_rms[family] ** 2 + extra)

    is_int8 = precision == "int8"
    if is_int8.any():
        drop = INT8_DROP[family]
        base, base_std = (drop.ptq, drop.ptq_std) if quantization == "ptq" else (drop.qat, drop.qat_std)
        # Narrower networks lose more (MobileNetV1 QAT pairs); capped so a far extrapolation in
        # width cannot make the drop explode or vanish.
        factor = np.clip(width**-fit.width_exponent, 0.5, 2.5)
        loss = np.where(is_int8, base * factor, 0.0)
        top1 = top1 - loss
        top1_std = np.sqrt(top1_std**2 + np.where(is_int8, (base_std * factor) ** 2, 0.0))
        if top5 is not None:
            # top-5 errors are roughly a third of top-1 errors on these networks (table rows);
            # the int8 top-5 loss is scaled the same way.
            top5 = top5 - loss / 3.0
            top5_std = np.sqrt(top5_std**2 + np.where(is_int8, (base_std * factor / 3.0) ** 2, 0.0))
    return top1, top1_std, top5, top5_std, in_range


class PublishedAccuracy:
    """The published-results accuracy model (see the module docstring for its form and sources).

    ``quantization``: ``"ptq"`` (default; post-training int8) or ``"qat"``
    (quantization-aware training) figures for int8 specs. The fit is made once per process and
    shared; ``predict`` then costs a few tens of microseconds.
    """

    def __init__(self, *, quantization: str = "ptq") -> None:
        _check_quantization(quantization)
        self.quantization = quantization

    @property
    def fit(self) -> PublishedFit:
        return _default_fit()

    def predict(self, spec: ArchSpec) -> AccuracyEstimate:
        if not isinstance(spec, ArchSpec):
            raise SpecTypeError(f"predict() takes an ArchSpec, got {type(spec).__name__}")
        fit = self.fit
        if spec.family not in fit.top1.family_offset or spec.family not in INT8_DROP:
            raise SpecError(
                f"ArchSpec.family={spec.family!r} has no published accuracy data; "
                f"allowed: {', '.join(sorted(set(fit.top1.family_offset) & set(INT8_DROP)))}"
            )
        out = _predict_arrays(
            fit,
            spec.family,
            np.array([spec.width]),
            np.array([spec.depth]),
            np.array([spec.resolution]),
            np.array([spec.precision]),
            self.quantization,
            _features_one(spec.family, spec.width, spec.depth, spec.resolution),
        )
        top1, top1_std, top5, top5_std, in_range = out
        return AccuracyEstimate(
            top1=float(top1[0]),
            top1_std=float(top1_std[0]),
            top5=None if top5 is None else float(top5[0]),
            top5_std=None if top5_std is None else float(top5_std[0]),
            in_range=bool(in_range[0]),
            source=f"published ({self.quantization})" if spec.precision == "int8" else "published",
        )

    def predict_many(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Vectorised :meth:`predict` over a frame with columns ``family``, ``width``, ``depth``,
        ``resolution`` and ``precision`` (missing ``depth``/``precision`` default to 1.0/fp32).
        Returns a frame on the same index with ``top1``, ``top1_std``, ``top5``, ``top5_std``,
        ``in_range``."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"predict_many() takes a pandas DataFrame, got {type(frame).__name__}")
        fit = self.fit
        missing = [c for c in ("family", "width", "resolution") if c not in frame.columns]
        if missing:
            raise SpecError(
                f"predict_many(): frame lacks columns {missing}; needs family, width, resolution "
                "(and optionally depth, precision)"
            )
        n = len(frame)
        family = frame["family"].astype(str).to_numpy()
        width = _numeric(frame, "width", None)
        depth = _numeric(frame, "depth", 1.0)
        resolution = _numeric(frame, "resolution", None)
        precision = frame["precision"].astype(str).to_numpy() if "precision" in frame.columns else np.full(n, "fp32")
        _validate_columns(fit, family, width, depth, resolution, precision)
        cols = {k: np.full(n, np.nan) for k in ("top1", "top1_std", "top5", "top5_std")}
        in_range = np.zeros(n, dtype=bool)
        for fam in np.unique(family):
            sel = family == fam
            t1, s1, t5, s5, inr = _predict_arrays(
                fit, fam, width[sel], depth[sel], resolution[sel].astype(np.int64), precision[sel], self.quantization
            )
            cols["top1"][sel], cols["top1_std"][sel], in_range[sel] = t1, s1, inr
            if t5 is not None:
                cols["top5"][sel], cols["top5_std"][sel] = t5, s5
        return pd.DataFrame({**cols, "in_range": in_range}, index=frame.index)


def _numeric(frame: pd.DataFrame, column: str, default) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), float(default))
    try:
        return frame[column].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise SpecError(f"predict_many(): column {column!r} must be numeric; got dtype {frame[column].dtype}") from None


def _validate_columns(fit, family, width, depth, resolution, precision) -> None:
    from edgespace._spec import DEPTH_RANGE, RESOLUTION_RANGE, WIDTH_RANGE

    allowed = sorted(set(fit.top1.family_offset) & set(INT8_DROP))
    bad = sorted(set(family) - set(allowed))
    if bad:
        raise SpecError(
            f"predict_many(): family={bad[0]!r} has no published accuracy data; allowed: {', '.join(allowed)}"
        )
    for name, values, (lo, hi) in (
        ("width", width, WIDTH_RANGE),
        ("depth", depth, DEPTH_RANGE),
        ("resolution", resolution, RESOLUTION_RANGE),
    ):
        bad_mask = ~np.isfinite(values) | (values < lo) | (values > hi)
        if bad_mask.any():
            raise SpecError(
                f"predict_many(): {name}={float(values[bad_mask][0])!r} is out of range; allowed: {lo} to {hi}"
            )
    if not np.array_equal(resolution, np.round(resolution)):
        raise SpecError("predict_many(): resolution must be whole pixels")
    for fam in np.unique(family):
        sel = family == fam
        if not get_family(fam).depth_knob and (depth[sel] != 1.0).any():
            raise SpecError(
                f"predict_many(): depth={float(depth[sel][depth[sel] != 1.0][0])!r} for family {fam!r}, "
                "which has no depth multiplier; allowed: 1.0"
            )
    bad = sorted(set(precision) - set(PRECISIONS))
    if bad:
        raise SpecError(f"predict_many(): precision={bad[0]!r} is not allowed; allowed: {', '.join(PRECISIONS)}")


@functools.lru_cache(maxsize=len(QUANTIZATION_MODES))
def _shared(quantization: str) -> PublishedAccuracy:
    return PublishedAccuracy(quantization=quantization)


def predict_accuracy(spec: ArchSpec, *, quantization: str = "ptq") -> AccuracyEstimate:
    """ImageNet-1k top-1 (and top-5) of ``spec`` in percent, with a 1-sigma uncertainty, from
    the published-results model (:class:`PublishedAccuracy`). fp16 = fp32; int8 subtracts the
    per-family drop for ``quantization`` = ``"ptq"`` or ``"qat"``. ``spec.num_classes`` is
    ignored: the figures are for the 1000-class ImageNet head."""
    _check_quantization(quantization)
    return _shared(quantization).predict(spec)


def predict_many(frame: pd.DataFrame, *, quantization: str = "ptq") -> pd.DataFrame:
    """Vectorised :func:`predict_accuracy` over columns family/width/depth/resolution/precision."""
    _check_quantization(quantization)
    return _shared(quantization).predict_many(frame)
