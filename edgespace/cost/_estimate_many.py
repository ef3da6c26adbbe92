"""``estimate_many``: the vectorised estimate over a frame of design points (what search and
screening call), with the frame's columns checked first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from edgespace._errors import SpecError
from edgespace._layer_table import layer_skeleton
from edgespace._spec import (
    ARCH_COLUMNS,
    BATCH_RANGE,
    PRECISIONS,
    RESOLUTION_RANGE,
    ArchSpec,
    check_ambient_c,
    check_number,
    plain,
)
from edgespace.archs import list_families
from edgespace.cost._calibration_door import as_calibration
from edgespace.cost._estimate import ESTIMATE_COLUMNS, _calibrated, _columns, _profile
from edgespace.cost._evaluate import evaluate
from edgespace.cost._interval import interval_columns
from edgespace.cost._params import compile_mode
from edgespace.profiles import HardwareProfile

__all__ = ["estimate_many"]


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        if isinstance(frame, Iterable):
            specs = list(frame)
            if not specs:
                raise SpecError("estimate_many: no design points; give at least one ArchSpec or DataFrame row")
            if all(isinstance(s, ArchSpec) for s in specs):
                out = pd.DataFrame([s.to_dict() for s in specs])
                if "batch" in out.columns:  # to_dict leaves batch 1 out
                    out["batch"] = out["batch"].fillna(1).astype(np.int64)
                return out
        raise TypeError(
            "estimate_many() takes a DataFrame with columns family, width, depth, resolution, precision "
            "(num_classes optional) or a list of ArchSpec"
        )
    missing = [c for c in ARCH_COLUMNS if c not in frame.columns]
    if missing:
        raise SpecError(f"estimate_many: column(s) {', '.join(missing)} missing; required: {', '.join(ARCH_COLUMNS)}")
    out = frame.reset_index(drop=True)
    if "num_classes" not in out.columns:
        out = out.assign(num_classes=1000)
    if "batch" in out.columns:
        out = out.assign(batch=_batch_column(out))
    bad_family = ~out["family"].isin(list_families())
    if bad_family.any():
        i = int(np.flatnonzero(bad_family)[0])
        raise SpecError(f"estimate_many: row {i}: family={out['family'][i]!r}; allowed: {', '.join(list_families())}")
    bad_precision = ~out["precision"].isin(PRECISIONS)
    if bad_precision.any():
        i = int(np.flatnonzero(bad_precision)[0])
        raise SpecError(f"estimate_many: row {i}: precision={out['precision'][i]!r}; allowed: {', '.join(PRECISIONS)}")
    if len(out) == 0:
        raise SpecError("estimate_many: no rows; give at least one design point")
    lo, hi = RESOLUTION_RANGE
    res = np.empty(len(out), dtype=np.int64)
    for i, r in enumerate(out["resolution"].tolist()):  # text, None, bools and fractions refused by name
        res[i] = check_number(f"estimate_many: row {i}: resolution", r, lo, hi, integer=True)
    out["resolution"] = res
    # Width/depth/num_classes: validated once per distinct structure by ArchSpec itself, with the
    # values as given (a bool width or a num_classes of 10.5 is refused, not cast).
    seen: set = set()
    for i, key in enumerate(out[["family", "width", "depth", "num_classes"]].itertuples(index=False)):
        k = tuple((type(v), v) for v in key)
        try:
            hash(k)
        except TypeError:
            k = repr(k)
        if k in seen:
            continue
        seen.add(k)
        try:
            ArchSpec(key.family, key.width, key.depth, 224, "fp32", key.num_classes)
        except SpecError as exc:
            raise SpecError(f"estimate_many: row {i}: {exc}") from None
    out["width"] = out["width"].map(lambda v: float(plain(v)))
    out["depth"] = out["depth"].map(lambda v: float(plain(v)))
    out["num_classes"] = out["num_classes"].map(lambda v: int(plain(v)))
    return out.astype({"resolution": np.int64})


def _batch_column(frame: pd.DataFrame) -> np.ndarray:
    """The optional ``batch`` column (images per call; missing or empty = 1), validated."""
    if "batch" not in frame.columns:
        return np.ones(len(frame), dtype=np.int64)
    raw = pd.to_numeric(frame["batch"], errors="coerce").fillna(1).to_numpy(np.float64)
    lo, hi = BATCH_RANGE
    bad = ~np.isfinite(raw) | (raw < lo) | (raw > hi) | (raw != np.round(raw))
    bad |= pd.to_numeric(frame["batch"], errors="coerce").isna().to_numpy() & frame["batch"].notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpecError(f"estimate_many: row {i}: batch={frame['batch'].iloc[i]!r}; allowed: an integer {lo} to {hi}")
    return raw.astype(np.int64)


#: Rows of one structure evaluated at once by :func:`estimate_many` (bounds its working memory).
CHUNK_ROWS = 32_768


def estimate_many(
    specs_frame: pd.DataFrame | Sequence[ArchSpec],
    profile: str | HardwareProfile,
    modes: Sequence[str] | str | None = None,
    *,
    ambient_c: float | None = None,
    placements: Sequence[str] | str | None = None,
    calibration=None,
) -> pd.DataFrame:
    """:func:`estimate` for many design points at once: one row per (input row, mode,
    placement), with the input columns, ``mode``, ``placement`` and every scalar Estimate field
    (:data:`ESTIMATE_COLUMNS`). ``modes`` defaults to all modes of the profile, ``placements``
    to ``["auto"]`` (a placement a mode lacks is an error naming the ones it has). Rows sharing
    a network structure (family, width, depth) are evaluated together, vectorised over
    resolution and batch (the optional ``batch`` column, images per call, default 1; see
    :class:`Estimate` for what is per call and what per image). ``latency_source`` and
    ``energy_source`` say where each row's numbers came from; a ``calibration`` (see
    :func:`estimate`) predicts each structure's resolutions in one call of its model."""
    ambient_c = check_ambient_c(ambient_c, "estimate_many(ambient_c)")
    prof = _profile(profile)
    if modes is not None and not isinstance(modes, (str, Sequence, np.ndarray, pd.Index)):
        raise SpecError(
            f"estimate_many(modes={modes!r}): expected a mode name, a list of them, or None for all "
            f"({', '.join(prof.modes)})"
        )
    cal = as_calibration(calibration)
    mode_names = list(prof.modes) if modes is None else [modes] if isinstance(modes, str) else list(modes)
    if not mode_names:
        raise SpecError(f"estimate_many(modes=[]): no modes; give mode names ({', '.join(prof.modes)}) or None for all")
    placement_names = (
        ["auto"] if placements is None else [placements] if isinstance(placements, str) else list(placements)
    )
    if not placement_names:
        raise SpecError("estimate_many(placements=[]): no placements; give placement names or None for 'auto'")
    pms = [(prof.mode(m), pl) for m in mode_names for pl in placement_names]
    frame = _validated(specs_frame)
    n = len(frame)
    blocks = []
    groups = frame.groupby(["family", "width", "depth", "num_classes", "precision"], sort=False).indices
    res_all = frame["resolution"].to_numpy()
    batch_all = frame["batch"].to_numpy() if "batch" in frame.columns else np.ones(n, dtype=np.int64)
    for pm, placement in pms:
        mp = compile_mode(pm, placement)
        cols = {
            k: np.empty(
                n,
                dtype=bool
                if k in ("fits_memory", "runnable")
                else np.int64
                if k in ("macs", "params", "n_fallback_ops", "n_estimated_inputs")
                else np.float64,
            )
            for k in ESTIMATE_COLUMNS
        }
        lat_src = np.full(n, "analytic", dtype=object)
        energy_src = np.full(n, "analytic", dtype=object)
        for (family, width, depth, num_classes, precision), idx in groups.items():
            sk = layer_skeleton(family, float(width), float(depth), int(num_classes))
            # a calibration applies per batch: with one, each batch of the group is its own call
            parts = [idx] if cal is None else [idx[batch_all[idx] == b] for b in np.unique(batch_all[idx])]
            # in chunks: the per-layer intermediates (rows x layers) stay proportional to the chunk
            chunks = (p[i : i + CHUNK_ROWS] for p in parts for i in range(0, len(p), CHUNK_ROWS))
            for part in chunks:
                lat_s, energy_j, sources = _calibrated(
                    cal,
                    prof.name,
                    pm.name,
                    placement,
                    family,
                    width,
                    depth,
                    num_classes,
                    precision,
                    res_all[part],
                    batch_all[part][0],
                )
                ev = evaluate(
                    sk,
                    mp,
                    precision,
                    res_all[part],
                    ambient_c=ambient_c,
                    batch=batch_all[part],
                    latency_s=lat_s,
                    energy_j=energy_j,
                )
                for k, v in _columns(ev, mp, precision).items():
                    cols[k][part] = v
                for k, v in interval_columns(
                    cal,
                    _band_specs(lat_s, family, width, depth, num_classes, precision, res_all[part]),
                    cols["latency_ms"][part],
                    lat_s is not None,
                    cols["energy_mj"][part],
                    pm.name,
                    energy_j is not None,
                ).items():
                    cols[k][part] = v
                lat_src[part], energy_src[part] = sources
        block = frame.copy()
        block.insert(len(block.columns), "profile", prof.name)
        block.insert(len(block.columns), "mode", pm.name)
        block.insert(len(block.columns), "placement", placement)
        for k in ESTIMATE_COLUMNS:
            block[k] = cols[k]
        block["latency_source"] = lat_src
        block["energy_source"] = energy_src
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True) if len(blocks) > 1 else blocks[0]


def _band_specs(lat_s, family, width, depth, num_classes, precision, resolutions) -> list[ArchSpec]:
    """The networks of a calibrated chunk, for their latency bands (none where not calibrated)."""
    if lat_s is None:
        return []
    return [ArchSpec(family, float(width), float(depth), int(r), precision, int(num_classes)) for r in resolutions]
