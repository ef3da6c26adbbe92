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
from edgespace._spec import ArchSpec, efficientnet, efficientnet_preset, mobilenet
from edgespace._version import __version__ as __version__
from edgespace.accuracy import AccuracyModel, PublishedAccuracy, predict_accuracy
from edgespace.archs import list_families, register_family
from edgespace.budget import Budget, FeasibilityResult, feasibility

__all__ = [
    # the design point and its layers
    "ArchSpec",
    "efficientnet",
    "efficientnet_preset",
    "mobilenet",
    "list_families",
    "register_family",
    "layer_table",
    "build",
    "export_onnx",
    # devices and the cost model
    "HardwareProfile",
    "PowerMode",
    "list_profiles",
    "load_profile",
    "Estimate",
    "estimate",
    "estimate_many",
    "simulate_thermal",
    # accuracy
    "AccuracyModel",
    "PublishedAccuracy",
    "EvaluatorAccuracy",
    "predict_accuracy",
    # studies
    "EfficientNetSpace",
    "MobileNetSpace",
    "SearchResult",
    "search",
    "screen",
    # real runs and the loop back
    "Measurement",
    "confirm",
    "CalibratedProfile",
    "Calibration",
    "calibrate",
    "load_calibration",
    # energy budgets
    "Budget",
    "FeasibilityResult",
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
    "HardwareProfile": "edgespace.profiles",
    "PowerMode": "edgespace.profiles",
    "list_profiles": "edgespace.profiles",
    "load_profile": "edgespace.profiles",
    "EvaluatorAccuracy": "edgespace.accuracy._evaluator",
    "Estimate": "edgespace.cost",
    "estimate": "edgespace.cost",
    "estimate_many": "edgespace.cost",
    "simulate_thermal": "edgespace.cost",
    # measuring and calibrating (these import onnxruntime)
    "confirm": "edgespace.runners",
    "Measurement": "edgespace.runners",
    "calibrate": "edgespace.calibration",
    "load_calibration": "edgespace.cost",
    "CalibratedProfile": "edgespace.calibration",
    "Calibration": "edgespace.calibration",
    # studies import optuna
    "EfficientNetSpace": "edgespace.study",
    "MobileNetSpace": "edgespace.study",
    "SearchResult": "edgespace.study",
    "screen": "edgespace.study",
    "search": "edgespace.study",
}

#: Names that left the top level in 0.2 (issue 17): still importable for one release, with a
#: DeprecationWarning naming their home. name -> (module, name there).
_MOVED = {
    "CONV_OPS": ("edgespace.layers", "CONV_OPS"),
    "table_totals": ("edgespace.layers", "table_totals"),
    "peak_activation_bytes": ("edgespace.layers", "peak_activation_bytes"),
    "EFFICIENTNET_PRESETS": ("edgespace.spec", "EFFICIENTNET_PRESETS"),
    "PRECISIONS": ("edgespace.spec", "PRECISIONS"),
    "predict_accuracy_many": ("edgespace.accuracy", "predict_many"),
    "AccuracyEstimate": ("edgespace.accuracy", "AccuracyEstimate"),
    "ImageFolderProxy": ("edgespace.accuracy", "ImageFolderProxy"),
}

__getattr__ = lazy_getattr("edgespace", _LAZY, _MOVED, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
