"""edgespace: analytical design-space exploration of efficient vision models on edge devices.

The public surface is small: the names in ``__all__``; everything else is reachable from its
subpackage (``edgespace.spec``, ``edgespace.layers``, ``edgespace.cost``, ``edgespace.study``,
``edgespace.budget``, ...). Heavy parts (torch, timm, onnx, optuna) load only when a function
that needs them is called.
"""

from __future__ import annotations

from edgespace._errors import (
    BudgetError,
    CalibrationError,
    EdgespaceError,
    ProfileError,
    SearchError,
    SpecError,
    UnavailableError,
)
from edgespace._layer_table import layer_table
from edgespace._lazy import lazy_getattr
from edgespace._spec import ArchSpec, efficientnet, mobilenet
from edgespace._version import __version__ as __version__
from edgespace.accuracy import predict_accuracy
from edgespace.budget import Budget, feasibility

__all__ = [
    # the design point and its layers
    "ArchSpec",
    "efficientnet",
    "mobilenet",
    "layer_table",
    "build",
    "export_onnx",
    "export",
    "coverage",
    # devices and the cost model
    "list_profiles",
    "load_profile",
    "estimate",
    "estimate_many",
    "simulate_thermal",
    # accuracy
    "predict_accuracy",
    # studies
    "EfficientNetSpace",
    "MobileNetSpace",
    "SearchResult",
    "search",
    "screen",
    # real runs and the loop back
    "confirm",
    "calibrate",
    # energy budgets
    "Budget",
    "feasibility",
    # errors
    "EdgespaceError",
    "SpecError",
    "ProfileError",
    "UnavailableError",
    "BudgetError",
    "SearchError",
    "CalibrationError",
]

# name -> module that defines it; imported on first use (torch, timm, onnxruntime and optuna are slow to import).
_LAZY = {
    "build": "edgespace._build",
    "export_onnx": "edgespace._build",
    "export": "edgespace.exporters",
    "coverage": "edgespace.exporters",
    "list_profiles": "edgespace.profiles",
    "load_profile": "edgespace.profiles",
    "estimate": "edgespace.cost",
    "estimate_many": "edgespace.cost",
    "simulate_thermal": "edgespace.cost",
    # measuring and calibrating (these import onnxruntime)
    "confirm": "edgespace.runners",
    "calibrate": "edgespace.calibration",
    # studies import optuna
    "EfficientNetSpace": "edgespace.study",
    "MobileNetSpace": "edgespace.study",
    "SearchResult": "edgespace.study",
    "screen": "edgespace.study",
    "search": "edgespace.study",
}

__getattr__ = lazy_getattr("edgespace", _LAZY, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
