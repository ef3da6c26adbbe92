"""Core ML coverage: the MIL operations of the ML program :func:`edgespace.export` writes.

Every operation is in the Core ML program (the converter fails on one it cannot express, so
``delegated`` is true throughout); which compute unit runs each one (Neural Engine, GPU or CPU)
Core ML decides when the model loads on the device, and only macOS (``MLComputePlan``, macOS
14.4+) reports it. Layer rows come from the names of the weight constants an operation reads
(``p_model_blocks_0_0_conv_dw_weight``: torch.export's parameter names) or, for convolutions
whose folded weights lost their names, from their order; operations without weights have no row.
"""

from __future__ import annotations

from importlib.metadata import version

from edgespace.exporters._coverage import CoverageReader, OpRow, register_coverage

_CONSTS = ("const", "constexpr_")
_PLACEMENT = (
    "the Core ML program holds it; its unit (Neural Engine, GPU or CPU) is chosen when the model loads on "
    "the device, and only macOS reports it (MLComputePlan)"
)


def _weight_paths(op, producers: dict[str, str], underscored: dict[str, str]) -> tuple[str, ...]:
    """Module paths of the weight constants ``op`` reads (``p_model_<row with _ for .>_weight``)."""
    out = []
    arg = op.inputs.get("weight")  # only the weight: equal constants (biases) are shared after dedup
    if arg is not None:
        for a in arg.arguments:
            name = producers.get(a.name, a.name)
            if not name.startswith("p_model_"):
                continue
            stem = name[len("p_model_") :]
            for key in sorted(underscored, key=len, reverse=True):
                if stem.startswith(key + "_"):
                    out.append(underscored[key])
                    break
    return tuple(dict.fromkeys(out))


def _read(spec, precision: str, delegate: str, calibration_data):
    from edgespace._layer_table import layer_table
    from edgespace.exporters._coreml import convert

    model = convert(spec, precision)
    fn = model.get_spec().mlProgram.functions["main"]
    block = fn.block_specializations[fn.opset]
    underscored = {n.replace(".", "_"): n for n in layer_table(spec)["name"]}
    # a quantized weight is read through constexpr_affine_dequantize: follow it to the stored name
    producers = {}
    for op in block.operations:
        if op.type.startswith("constexpr_"):
            for out in op.outputs:
                producers[out.name] = out.name.removesuffix("_quantized")
    inputs = {i.name for i in fn.inputs}
    rows = []
    for op in block.operations:
        if op.type.startswith(_CONSTS):
            continue
        paths = _weight_paths(op, producers, underscored)
        reads = {a.name for arg in op.inputs.values() for a in arg.arguments}
        pre = bool(reads & inputs) and op.type in ("batch_norm", "mul", "add", "sub")  # the frame's scale/shift
        rows.append(OpRow(op.type, paths, True, "Core ML", _PLACEMENT, pre, folds_bn=op.type in ("conv", "linear")))
    src = f"observed: coremltools {version('coremltools')}, ML program ({fn.opset}) MIL operations"
    return rows, src


register_coverage(CoverageReader("coreml", ("coreml",), ("fp32", "fp16", "int8"), _read))
