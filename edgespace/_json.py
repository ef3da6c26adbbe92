"""One way to make values JSON-safe, for every JSON document edgespace writes or prints."""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["jsonable"]


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON data, recursively: mappings with string keys, lists for tuples,
    sets and numpy arrays, Python numbers for numpy scalars, ``None`` for NaN and ±inf (JSON has
    neither; in edgespace a non-finite metric means "cannot run" or "unbounded", which the
    surrounding fields say), ISO text for dates and times, text for paths. Anything else is
    returned as it is, so ``json.dumps`` still names a type it cannot write."""
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if type(obj).__name__ in (
        "NAType",
        "NaTType",
    ):  # pandas' missing values (NaT is a datetime), without importing pandas
        return None
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj
