"""Accuracy models: ImageNet top-1 from published results, or from the user's own evaluator.

The search takes any :class:`AccuracyModel` (an object with ``predict(spec)``). edgespace ships
:class:`PublishedAccuracy` (a fit to published ImageNet results, :func:`predict_accuracy`),
:class:`EvaluatorAccuracy` (calls a user's ``fn(model, spec) -> float`` on the built model and
caches the result on disk) and :class:`ImageFolderProxy` (briefly fine-tunes a built model on a
local ImageFolder and reports held-out accuracy). The last two import torch when used.
"""

from __future__ import annotations

from edgespace._lazy import lazy_getattr
from edgespace.accuracy._data import load_published
from edgespace.accuracy._published import (
    AccuracyEstimate,
    AccuracyModel,
    PublishedAccuracy,
    predict_accuracy,
    predict_many,
)
from edgespace.accuracy._quant import QUANTIZATION_MODES

__all__ = [
    "AccuracyEstimate",
    "AccuracyModel",
    "EvaluatorAccuracy",
    "ImageFolderProxy",
    "PublishedAccuracy",
    "QUANTIZATION_MODES",
    "load_published",
    "predict_accuracy",
    "predict_many",
]

# torch loads only when these are used
_LAZY = {"EvaluatorAccuracy": "edgespace.accuracy._evaluator", "ImageFolderProxy": "edgespace.accuracy._evaluator"}

__getattr__ = lazy_getattr("edgespace.accuracy", _LAZY, globals())
