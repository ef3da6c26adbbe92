"""Pareto fronts and hypervolume, exact, over minimisation matrices (pure numpy)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from edgespace.study._errors import SearchError
from edgespace.study._objectives import Objective, parse_objectives

__all__ = ["nondominated", "pareto_mask", "hypervolume", "minimisation_matrix"]


def nondominated(y: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``y`` (n × d, minimise every column) that no other row
    dominates. Equal rows are all kept."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort(y.T[::-1])  # by the first column, ties by the next ones
    keep = np.zeros(n, dtype=bool)
    front: list[int] = []
    for i in order:
        row = y[i]
        if front:
            f = y[front]
            if np.any(np.all(f <= row, axis=1) & np.any(f < row, axis=1)):
                continue
        keep[i] = True
        front.append(i)
    return keep


def minimisation_matrix(frame: pd.DataFrame, objectives: Sequence[Objective]) -> np.ndarray:
    y = np.column_stack([frame[o.name].to_numpy(dtype=float) * o.sign for o in objectives])
    return np.where(np.isnan(y), np.inf, y)


def pareto_mask(frame: pd.DataFrame, objectives, *, feasible_column: str | None = "feasible") -> np.ndarray:
    """Rows of ``frame`` on the Pareto front of ``objectives`` (names or Objectives), among the
    rows whose ``feasible_column`` is true (all rows when it is None or absent)."""
    objs = objectives if objectives and isinstance(objectives[0], Objective) else parse_objectives(objectives)
    ok = np.ones(len(frame), dtype=bool)
    if feasible_column is not None and feasible_column in frame.columns:
        ok = np.array(frame[feasible_column].to_numpy(dtype=bool), copy=True)
    y = minimisation_matrix(frame, objs)
    ok &= np.all(np.isfinite(y), axis=1)
    mask = np.zeros(len(frame), dtype=bool)
    idx = np.flatnonzero(ok)
    mask[idx[nondominated(y[idx])]] = True
    return mask


def _hv(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume dominated by ``points`` (already better than ``ref`` in every
    column) and bounded by ``ref``; minimisation. 2-D by a sweep, more by slicing."""
    if len(points) == 0:
        return 0.0
    d = points.shape[1]
    if d == 1:
        return float(ref[0] - points[:, 0].min())
    if d == 2:
        p = points[np.lexsort((points[:, 1], points[:, 0]))]
        total, best_y = 0.0, ref[1]
        for x, y in p:
            if y < best_y:
                total += (ref[0] - x) * (best_y - y)
                best_y = y
        return float(total)
    p = points[np.argsort(points[:, -1])]
    total = 0.0
    for i in range(len(p)):
        upper = p[i + 1, -1] if i + 1 < len(p) else ref[-1]
        depth = upper - p[i, -1]
        if depth > 0:
            sl = p[: i + 1, :-1]
            total += depth * _hv(sl[nondominated(sl)], ref[:-1])
    return float(total)


def hypervolume(
    frame: pd.DataFrame,
    objectives,
    reference: Sequence[float] | Mapping[str, float],
    *,
    feasible_column: str | None = "feasible",
) -> float:
    """Hypervolume of the feasible rows of ``frame`` against ``reference`` (natural units, one
    value per objective, or a dict by name): the area (volume) of objective space that the front
    dominates and that is better than the reference point in every objective."""
    objs = objectives if objectives and isinstance(objectives[0], Objective) else parse_objectives(objectives)
    if isinstance(reference, Mapping):
        missing = [o.name for o in objs if o.name not in reference]
        if missing:
            raise SearchError(f"hypervolume(reference=...): no value for {', '.join(missing)}")
        reference = [reference[o.name] for o in objs]
    ref = np.asarray(list(reference), dtype=float)
    if ref.shape != (len(objs),) or not np.all(np.isfinite(ref)):
        raise SearchError(
            f"hypervolume(reference={list(reference)!r}): give {len(objs)} finite values, one per objective "
            f"({', '.join(o.name for o in objs)})"
        )
    ref = ref * np.array([o.sign for o in objs])
    mask = pareto_mask(frame, objs, feasible_column=feasible_column)
    y = minimisation_matrix(frame, objs)[mask]
    y = y[np.all(y < ref, axis=1)]
    y = np.unique(y, axis=0)
    return _hv(y, ref)
