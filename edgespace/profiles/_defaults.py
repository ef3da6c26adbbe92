"""Labelled starting estimates for the numbers nobody publishes per engine: the fraction of peak
each operator class reaches, and the share of full-load power an engine draws while busy.

These are the values a new profile starts from (the shipped YAML files carry them, each with
this rationale as its ``estimate:`` text, and the measured ``host`` profile writes them out);
the cost models never fall back to them silently. Calibration (``edgespace calibrate``) or a
published measurement replaces them with ``source:`` values.
"""

from __future__ import annotations

from edgespace._ops import ENGINE_KINDS, OP_CLASSES

__all__ = ["BUSY_POWER_FRACTION", "EFFICIENCY_RATIONALE", "ESTIMATED_EFFICIENCY", "estimated_engine_fields"]

#: Fraction of an engine's dense peak each operator class reaches compute-bound. Dense convs
#: and GEMMs reach roughly half to two thirds of peak in vendor libraries (cuDNN/TensorRT,
#: XNNPACK, NPU compilers) at batch 1; depthwise convolutions have no reuse across channels;
#: element-wise operators run on vector units, a few percent of a matrix-unit peak; reshape
#: moves no arithmetic.
ESTIMATED_EFFICIENCY: dict[str, dict[str, float]] = {
    "gpu": {
        "conv": 0.55,
        "pointwise": 0.55,
        "linear": 0.45,
        "depthwise": 0.08,
        "bn": 0.03,
        "act": 0.03,
        "pool": 0.03,
        "mul": 0.03,
        "add": 0.03,
        "matmul": 0.3,
        "softmax": 0.02,
        "transpose": 1.0,
        "concat": 1.0,
        "pad": 1.0,
        "div": 0.03,
        "layernorm": 0.02,
        "reshape": 1.0,
    },
    "cpu": {
        "conv": 0.6,
        "pointwise": 0.6,
        "linear": 0.5,
        "depthwise": 0.25,
        "bn": 0.15,
        "act": 0.1,
        "pool": 0.15,
        "mul": 0.15,
        "add": 0.15,
        "matmul": 0.4,
        "softmax": 0.05,
        "transpose": 1.0,
        "concat": 1.0,
        "pad": 1.0,
        "div": 0.1,
        "layernorm": 0.05,
        "reshape": 1.0,
    },
    "npu": {
        "conv": 0.6,
        "pointwise": 0.6,
        "linear": 0.4,
        "depthwise": 0.15,
        "bn": 0.05,
        "act": 0.05,
        "pool": 0.05,
        "mul": 0.05,
        "add": 0.05,
        "matmul": 0.3,
        "softmax": 0.03,
        "transpose": 1.0,
        "concat": 1.0,
        "pad": 1.0,
        "div": 0.03,
        "layernorm": 0.03,
        "reshape": 1.0,
    },
}
#: A deep-learning accelerator (NVDLA) is estimated as an NPU whose fully connected layers reach less.
ESTIMATED_EFFICIENCY["dla"] = {**ESTIMATED_EFFICIENCY["npu"], "linear": 0.3, "matmul": 0.2}
#: An Edge TPU is estimated as an NPU (a systolic matrix unit with vector units beside it).
ESTIMATED_EFFICIENCY["tpu"] = dict(ESTIMATED_EFFICIENCY["npu"])

EFFICIENCY_RATIONALE = {
    "conv": "dense convs reach ~1/2-2/3 of peak in vendor libraries at batch 1",
    "pointwise": "1x1 convs are GEMMs: ~1/2-2/3 of peak at batch 1",
    "linear": "a batch-1 GEMV/GEMM reuses weights less than a conv",
    "depthwise": "no reuse across channels; usually memory-bound anyway",
    "bn": "element-wise on vector units: a few % of a matrix-unit peak",
    "act": "element-wise on vector units: a few % of a matrix-unit peak",
    "pool": "element-wise reduction on vector units",
    "mul": "element-wise on vector units",
    "add": "element-wise on vector units",
    "reshape": "moves no arithmetic",
    "matmul": "attention's batched matmul: small inner dimension (key/value dim 48-64), both operands activations (nothing stays resident): about half a conv GEMM's fraction",
    "softmax": "exp and a row reduction on vector units: below other element-wise operators",
    "transpose": "moves every element and no arithmetic: bound by its bytes",
    "concat": "copies every element and no arithmetic: bound by its bytes",
    "pad": "copies every element and writes the constant: bound by its bytes",
    "div": "element-wise division on vector units: a reciprocal and a multiply, below the other element-wise operators on a CPU's vectors",
    "layernorm": "a mean and a variance reduction over the channels, then element-wise scale and shift: like softmax, a reduction on vector units",
}

#: Share of an engine's full-load power it draws whenever it executes a kernel, whatever the
#: arithmetic intensity (clock tree, issue, on-chip SRAM at the raised DVFS voltage). GPU power
#: models put the constant part of an active SM's power at a third to a half (Hong & Kim, ISCA
#: 2010; Leng et al., GPUWattch, ISCA 2013).
BUSY_POWER_FRACTION = 0.4
BUSY_POWER_RATIONALE = (
    "constant share of an active engine's power (clocks, issue, SRAM): 1/3-1/2 in GPU power models "
    "(Hong & Kim ISCA 2010; GPUWattch ISCA 2013)"
)


def estimated_engine_fields(kind: str) -> dict:
    """``efficiency`` and ``busy_power_fraction`` for an engine of ``kind``, as profile data
    (every value an ``estimate:`` with its rationale)."""
    if kind not in ENGINE_KINDS:
        raise ValueError(f"engine kind {kind!r}; allowed: {', '.join(ENGINE_KINDS)}")
    eff = {
        op: {"value": ESTIMATED_EFFICIENCY[kind][op], "estimate": f"{kind}: {EFFICIENCY_RATIONALE[op]}"}
        for op in OP_CLASSES
    }
    return {"efficiency": eff, "busy_power_fraction": {"value": BUSY_POWER_FRACTION, "estimate": BUSY_POWER_RATIONALE}}
