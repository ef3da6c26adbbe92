"""edgespace: analytical design-space exploration of efficient vision models on edge devices.

The public surface is small; heavy parts (torch, timm, onnx) load only when a function that
needs them is called.
"""

from __future__ import annotations

from edgespace._errors import EdgespaceError, ProfileError, SpecError, UnavailableError
from edgespace._layer_table import CONV_OPS, layer_table, table_totals
from edgespace._spec import (
    EFFICIENTNET_PRESETS,
    PRECISIONS,
    ArchSpec,
    efficientnet,
    efficientnet_preset,
    mobilenet,
)
from edgespace.accuracy import AccuracyEstimate, AccuracyModel, PublishedAccuracy, predict_accuracy
from edgespace.accuracy import predict_many as predict_accuracy_many
from edgespace.archs import list_families, register_family
from edgespace.budget import Budget, BudgetError, FeasibilityResult, feasibility

__version__ = "0.1.0"

__all__ = [
    "AccuracyEstimate",
    "AccuracyModel",
    "ArchSpec",
    "Budget",
    "BudgetError",
    "CalibratedProfile",
    "Calibration",
    "CONV_OPS",
    "EFFICIENTNET_PRESETS",
    "EdgespaceError",
    "EfficientNetSpace",
    "Estimate",
    "EvaluatorAccuracy",
    "FeasibilityResult",
    "HardwareProfile",
    "Measurement",
    "ImageFolderProxy",
    "MobileNetSpace",
    "PRECISIONS",
    "PowerMode",
    "PublishedAccuracy",
    "SearchResult",
    "ProfileError",
    "SpecError",
    "UnavailableError",
    "build",
    "calibrate",
    "confirm",
    "efficientnet",
    "efficientnet_preset",
    "estimate",
    "estimate_many",
    "export_onnx",
    "feasibility",
    "layer_table",
    "list_families",
    "list_profiles",
    "load_calibration",
    "load_profile",
    "mobilenet",
    "peak_activation_bytes",
    "predict_accuracy",
    "predict_accuracy_many",
    "register_family",
    "screen",
    "search",
    "simulate_thermal",
    "table_totals",
]

# name -> module that defines it; imported on first use (torch and timm are slow to import).
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
    "ImageFolderProxy": "edgespace.accuracy._evaluator",
    # measuring and calibrating (these import onnxruntime)
    "confirm": "edgespace.runners",
    "Measurement": "edgespace.runners",
    "calibrate": "edgespace.calibration",
    "load_calibration": "edgespace.calibration",
    "CalibratedProfile": "edgespace.calibration",
    "Calibration": "edgespace.calibration",
    "peak_activation_bytes": "edgespace._liveness",
    # studies import optuna
    "EfficientNetSpace": "edgespace.study",
    "MobileNetSpace": "edgespace.study",
    "SearchResult": "edgespace.study",
    "screen": "edgespace.study",
    "search": "edgespace.study",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgespace' has no attribute {name!r}")
