"""The one operator vocabulary shared by the layer table, the profile schema and the cost models.

A layer-table row has an operator class (``op``) and, for ``act`` rows and conv-like rows with a
fused activation, an activation kind (``act``). Profiles say which classes and activations an
engine runs in these words, so a new operator is added here once.
"""

from __future__ import annotations

__all__ = ["ACTIVATIONS", "CONV_OPS", "ENGINE_KINDS", "OP_CLASSES", "PLACEMENTS"]

#: Operator classes of the layer table (``op`` column), used by op support and efficiency.
OP_CLASSES = ("conv", "depthwise", "pointwise", "linear", "bn", "act", "pool", "mul", "add", "reshape")
#: Conv-like operator classes: the rows whose MACs fvcore counts (matrix-unit work).
CONV_OPS = ("conv", "depthwise", "pointwise", "linear")
#: Activation kinds of the layer table (``act`` column).
ACTIVATIONS = ("silu", "relu", "relu6", "hard_swish", "sigmoid", "hard_sigmoid")
#: Kinds of compute engine a profile may describe.
ENGINE_KINDS = ("gpu", "cpu", "npu", "dla", "tpu")
#: Where a network is placed on a mode with several accelerators: ``auto`` is the profile's
#: primary engine; ``gpu`` / ``dla`` put the network on that engine (with its declared fallback).
PLACEMENTS = ("auto", "gpu", "dla")

assert set(CONV_OPS) <= set(OP_CLASSES)
