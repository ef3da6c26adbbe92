"""The one operator vocabulary shared by the layer table, the profile schema and the cost models.

A layer-table row has an operator class (``op``) and, for ``act`` rows and conv-like rows with a
fused activation, an activation kind (``act``). Profiles say which classes and activations an
engine runs in these words, so a new operator is added here once.
"""

from __future__ import annotations

__all__ = ["ACTIVATIONS", "CONV_OPS", "ENGINE_KINDS", "MAC_OPS", "OP_CLASSES", "PLACEMENTS"]

#: Operator classes of the layer table (``op`` column), used by op support and efficiency.
#: ``matmul`` is attention's batched product of two activations (scores = Q·Kᵀ, context =
#: softmax·V): its work grows with the product of the query and key/value token counts.
#: ``transpose`` is a layout change that moves every element (the head split and merge around
#: attention); ``reshape`` moves nothing. EfficientViT's linear attention adds ``concat`` (tensors
#: joined along the channel axis: every element copied, no arithmetic), ``pad`` (a constant
#: appended along an axis: every element copied), ``div``
#: (element-wise division: its normaliser) and ``layernorm`` (its classifier head).
OP_CLASSES = (
    "conv",
    "depthwise",
    "pointwise",
    "linear",
    "matmul",
    "bn",
    "act",
    "pool",
    "mul",
    "add",
    "softmax",
    "transpose",
    "concat",
    "pad",
    "div",
    "layernorm",
    "reshape",
)
#: Conv-like operator classes: the rows whose MACs fvcore counts as conv/linear (weights times
#: activations).
CONV_OPS = ("conv", "depthwise", "pointwise", "linear")
#: Every operator class whose work is multiply-accumulates (matrix-unit work): the conv-like ones
#: and attention's activation-by-activation ``matmul``.
MAC_OPS = (*CONV_OPS, "matmul")
#: Activation kinds of the layer table (``act`` column).
ACTIVATIONS = ("silu", "relu", "relu6", "hard_swish", "sigmoid", "hard_sigmoid", "gelu")
#: Kinds of compute engine a profile may describe.
ENGINE_KINDS = ("gpu", "cpu", "npu", "dla", "tpu")
#: Where a network is placed on a mode with several accelerators: ``auto`` is the profile's
#: primary engine; ``gpu`` / ``dla`` put the network on that engine (with its declared fallback).
PLACEMENTS = ("auto", "gpu", "dla")

assert set(MAC_OPS) <= set(OP_CLASSES)
