"""The public surface: what ``edgespace`` exports (each name in one place, no deprecated alias),
and the one JSON converter."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import edgespace as es
from edgespace._json import jsonable

ROOT = Path(__file__).resolve().parents[1]
#: The names of the API table in the design document, all at the top level (``report`` joins
#: them with the report package).
DESIGN_TABLE = {
    "ArchSpec",
    "efficientnet",
    "mobilenet",
    "build",
    "export_onnx",
    "layer_table",
    "load_profile",
    "list_profiles",
    "estimate",
    "estimate_many",
    "predict_accuracy",
    "simulate_thermal",
    "EfficientNetSpace",
    "MobileNetSpace",
    "search",
    "screen",
    "confirm",
    "calibrate",
    "Budget",
    "feasibility",
}


def test_top_level_all_resolves_and_holds_the_design_table():
    assert DESIGN_TABLE <= set(es.__all__)
    assert len(es.__all__) == len(set(es.__all__)) <= 30
    for name in es.__all__:
        assert getattr(es, name) is not None, name
    for err in ("EdgespaceError", "SpecError", "ProfileError", "UnavailableError", "BudgetError", "SearchError"):
        assert issubclass(getattr(es, err), es.EdgespaceError)
    assert es.search is __import__("edgespace.study", fromlist=["search"]).search


def test_importing_edgespace_loads_no_heavy_package():
    code = "import sys, edgespace; print(sorted(m for m in ('torch', 'timm', 'onnxruntime', 'optuna') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "package, name",
    [
        ("edgespace", "CONV_OPS"),
        ("edgespace", "table_totals"),
        ("edgespace", "PRECISIONS"),
        ("edgespace", "Calibration"),
        ("edgespace", "load_calibration"),
        ("edgespace.budget", "daylight_profile"),
        ("edgespace.profiles", "OP_CLASSES"),
        ("edgespace.cost", "evaluate"),
        ("edgespace.accuracy", "fit_published"),
        ("edgespace.calibration", "training_samples"),
    ],
)
def test_names_have_one_home_and_no_deprecated_alias(package, name):
    import importlib

    mod = importlib.import_module(package)
    assert name not in mod.__all__
    with pytest.raises(AttributeError, match=f"no attribute '{name}'"):
        getattr(mod, name)


def test_jsonable_makes_every_value_json_safe():
    doc = {
        1: np.float32(1.5),
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "i": np.int64(7),
        "b": np.bool_(True),
        "arr": np.array([[1, 2], [3, 4]]),
        "tuple": (np.float64(-np.inf), "x"),
        "set": {3},
        "none": None,
        "when": datetime.date(2026, 1, 2),
        "path": Path("a") / "b.json",
        "na": pd.NA,
        "nat": pd.NaT,
        "nested": [{"k": np.float16(0.25)}],
    }
    out = jsonable(doc)
    assert out == {
        "1": 1.5,
        "nan": None,
        "inf": None,
        "i": 7,
        "b": True,
        "arr": [[1, 2], [3, 4]],
        "tuple": [None, "x"],
        "set": [3],
        "none": None,
        "when": "2026-01-02",
        "path": str(Path("a") / "b.json"),
        "na": None,
        "nat": None,
        "nested": [{"k": 0.25}],
    }
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert type(out["i"]) is int and type(out["b"]) is bool
    with pytest.raises(TypeError, match="object"):
        json.dumps(jsonable({"x": object()}))  # an unknown type still fails loudly
