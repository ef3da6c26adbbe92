"""The shipped table of published ImageNet-1k results, one row per checkpoint, with its source.

Columns: ``family``, ``variant``, ``width``, ``depth``, ``resolution`` (pixels), ``macs_m``
(million multiply-accumulates, as published; empty where the source gives none), ``params_m``
(million), ``precision`` (fp32 or int8), ``quantization`` (for int8 rows: ``qat``, ``ptq`` or
``unstated``), ``top1``/``top5`` (percent), ``recipe`` (``reference``: the authors' own release;
``timm_eval``: timm's evaluation of the authors' released weights; ``timm_train``: timm's own
training recipe), ``in_fit`` (1 if the accuracy fit uses the row), ``latency_ms`` /
``latency_device`` (where the source gives a phone latency), ``source`` and ``note``.
"""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd

__all__ = ["load_published", "RECIPES"]

RECIPES = ("reference", "timm_eval", "timm_train")

_DTYPES = {
    "family": "str",
    "variant": "str",
    "width": "float64",
    "depth": "float64",
    "resolution": "int64",
    "macs_m": "float64",
    "params_m": "float64",
    "precision": "str",
    "quantization": "str",
    "top1": "float64",
    "top5": "float64",
    "recipe": "str",
    "in_fit": "int64",
    "latency_ms": "float64",
    "latency_device": "str",
    "source": "str",
    "note": "str",
}


@functools.lru_cache(maxsize=1)
def _load() -> pd.DataFrame:
    with resources.files("edgespace.data").joinpath("published_imagenet.csv").open("r", encoding="utf-8") as f:
        frame = pd.read_csv(
            f,
            dtype={k: v for k, v in _DTYPES.items() if v == "str"},
            keep_default_na=False,
            na_values={k: [""] for k, v in _DTYPES.items() if v != "str"},
        )
    missing = [c for c in _DTYPES if c not in frame.columns]
    if missing:  # a packaging slip, not user input
        raise RuntimeError(f"published_imagenet.csv lacks columns {missing}")
    frame = frame.astype({k: v for k, v in _DTYPES.items() if v != "str"})
    bad = frame.loc[frame["source"].str.strip() == "", "variant"].tolist()
    if bad:
        raise RuntimeError(f"published_imagenet.csv rows without a source: {bad}")
    frame["in_fit"] = frame["in_fit"].astype(bool)
    return frame


def load_published() -> pd.DataFrame:
    """The published-results table as a DataFrame (a copy; see the module docstring for the
    columns). Every row names its source."""
    return _load().copy()
