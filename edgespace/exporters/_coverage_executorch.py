"""ExecuTorch coverage: which edge operators a partitioner takes, read from the program itself.

``xnnpack``: the program is lowered exactly as :func:`edgespace.export` lowers it; the
operators inside each delegate call (``LoweredBackendModule.original_module``) are delegated,
the ones left in the top-level graph are not, and the partitioner's ``WhyNoPartition`` log
lines give the reason. ``coreml`` / ``qnn``: the partitioner tags the edge program (no
lowering, so nothing needs macOS); a tagged node would be delegated. The module path of each
operator comes from ``nn_module_stack``, which torch.export keeps on every node.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from importlib.metadata import version

from edgespace._errors import UnavailableError
from edgespace.exporters._coverage import CoverageReader, OpRow, register_coverage

_SKIP = ("getitem", "executorch_call_delegate")


def _op_name(node) -> str:
    name = getattr(node.target, "__name__", None) or str(node.target)
    return name.split("::")[-1]


def _paths(node) -> tuple[str, tuple[str, ...]]:
    """(``"preprocessing"`` / ``"network"``, module paths below the network) of a node."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [v[0] for v in stack.values() if isinstance(v, tuple) and v and isinstance(v[0], str)]
    deepest = max(paths, key=len, default="")
    if deepest == "model" or deepest.startswith("model."):
        return "network", (deepest[len("model.") :],)
    return "preprocessing", ()


class _Why(logging.Handler):
    """Collects the partitioners' ``WhyNoPartition`` records as they are emitted (the logged
    object is reused, so it is read at emit time)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reasons: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.msg
        node, reason = getattr(msg, "node", None), getattr(msg, "reason", None)
        if node is not None and reason and node.name not in self.reasons:
            self.reasons[node.name] = str(reason)


@contextmanager
def _why(logger_name: str):
    handler, log = _Why(), logging.getLogger(logger_name)
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False  # the debug lines are read here, not printed
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


def _row(node, delegated: bool, delegate: str = "", reason: str = "") -> OpRow:
    part, paths = _paths(node)
    return OpRow(_op_name(node), paths, delegated, delegate, reason, preprocessing=part == "preprocessing")


def _xnnpack(spec, precision: str, calibration_data) -> list[OpRow]:
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS

    from edgespace.exporters._executorch import lowered_program

    known = {c.target_name for c in ALL_PARTITIONER_CONFIGS}
    with _why("executorch.backends.xnnpack") as why:
        edge = lowered_program(spec, precision, calibration_data)
    gm = edge.exported_program().graph_module
    rows: list[OpRow] = []
    for node in gm.graph.nodes:
        if node.op != "call_function":
            continue
        if "executorch_call_delegate" in str(node.target):
            lowered = getattr(gm, node.args[0].target)
            for inner in lowered.original_module.graph.nodes:
                if inner.op == "call_function" and not any(s in str(inner.target) for s in _SKIP):
                    rows.append(_row(inner, True, "XNNPACK"))
            continue
        if any(s in str(node.target) for s in _SKIP):
            continue
        name = _op_name(node)
        short = ".".join(name.split(".")[-2:])
        reason = why.reasons.get(node.name) or (
            "the XNNPACK partitioner has no configuration for this operator"
            if short not in known
            else "not claimed by the XNNPACK partitioner (no reason logged)"
        )
        rows.append(_row(node, False, "", reason))
    return rows


def _tagging(spec, precision: str, calibration_data, delegate: str) -> list[OpRow]:
    from executorch.exir import to_edge

    from edgespace.exporters._executorch import exported_program

    edge = to_edge(exported_program(spec, precision, calibration_data))
    if delegate == "coreml":
        from executorch.backends.apple.coreml.partition import CoreMLPartitioner

        partitioner, logger_name, label = CoreMLPartitioner(), "executorch.backends.apple.coreml", "CoreMLBackend"
    else:
        partitioner, logger_name, label = _qnn_partitioner(), "executorch.backends.qualcomm", "QnnBackend"
    messages: list[str] = []

    class _Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler, log = _Lines(logging.DEBUG), logging.getLogger(logger_name)
    log.addHandler(handler)
    try:
        result = partitioner.partition(edge.exported_program())
    except Exception as exc:
        raise UnavailableError(f"the {label} partitioner could not run here: {type(exc).__name__}: {exc}") from None
    finally:
        log.removeHandler(handler)
    rows = []
    for node in result.tagged_exported_program.graph.nodes:
        if node.op != "call_function" or any(s in str(node.target) for s in _SKIP):
            continue
        tagged = "delegation_tag" in node.meta
        low = _op_name(node).lower()
        reason = (
            "" if tagged else next((m for m in messages if m.lower().endswith(low)), "not tagged by the partitioner")
        )
        rows.append(_row(node, tagged, label if tagged else "", reason))
    return rows


def _qnn_partitioner():
    try:
        from executorch.backends.qualcomm.partition.qnn_partitioner import QnnPartitioner
        from executorch.backends.qualcomm.serialization.qc_schema import QcomChipset
        from executorch.backends.qualcomm.utils.utils import (
            generate_htp_compiler_spec,
            generate_qnn_executorch_compiler_spec,
        )

        specs = generate_qnn_executorch_compiler_spec(
            soc_model=QcomChipset.SM8650, backend_options=generate_htp_compiler_spec(use_fp16=True)
        )
        return QnnPartitioner(specs)
    except Exception as exc:
        raise UnavailableError(
            "the QNN partitioner needs Qualcomm's AI Engine Direct SDK (QNN_SDK_ROOT) to check operators: "
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        ) from None


def _read(spec, precision: str, delegate: str, calibration_data):
    try:
        import executorch  # noqa: F401
    except ImportError as exc:
        raise UnavailableError(
            f"ExecuTorch coverage needs executorch (pip install 'edgespace[phone]'): {exc}"
        ) from None
    tool = f"executorch {version('executorch')}"
    if delegate == "xnnpack":
        return _xnnpack(spec, precision, calibration_data), f"observed: {tool}, XnnpackPartitioner (lowered program)"
    if delegate == "qnn":
        _qnn_partitioner()  # raises the clear error before any export where the SDK is missing
    rows = _tagging(spec, precision, calibration_data, delegate)
    name = {"coreml": "CoreMLPartitioner", "qnn": "QnnPartitioner (SM8650, HTP fp16)"}[delegate]
    return rows, f"observed: {tool}, {name} op checks (edge program tagged, not lowered)"


register_coverage(CoverageReader("executorch", ("xnnpack", "coreml", "qnn"), ("fp32", "int8"), _read))
