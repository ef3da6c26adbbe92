"""Operator coverage observed from the phone toolchains themselves, not transcribed from docs.

``coverage(spec, runtime, precision)`` converts ``spec`` with the runtime's own converter and
reads back one row per operator of the converted program: the runtime's op name, the
layer-table row(s) it implements where the converter kept the torch module path, whether the
runtime's delegate takes it, which delegate, and the tool's reason where it gives one.

Each runtime is one reader registered by name (``executorch``, ``litert``, ``coreml``), each
with the delegates whose decision can be read here:

* ``executorch``: ``xnnpack`` (the XNNPACK partitioner, lowered; reasons from its
  ``WhyNoPartition`` log), ``coreml`` (the Core ML partitioner's op checks, which run without
  macOS), ``qnn`` (Qualcomm's partitioner; it needs the QNN SDK and says so);
* ``litert``: ``xnnpack`` (the nodes the interpreter's default XNNPACK delegate replaced),
  ``gpu`` (LiteRT's model analyzer, GPU delegate compatibility);
* ``coreml``: the ML program's MIL ops (every op is in the Core ML program; which unit runs
  each is decided when the model loads on the device).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from edgespace._errors import SpecError
from edgespace._spec import ArchSpec

__all__ = ["COVERAGE_COLUMNS", "CoverageReader", "coverage", "list_coverage_runtimes", "register_coverage", "OpRow"]

#: Columns of a coverage frame, in order.
COVERAGE_COLUMNS = (
    "op_index",
    "op",
    "layer_rows",
    "op_classes",
    "part",
    "delegated",
    "delegate",
    "reason",
    "runtime",
    "precision",
    "source",
)


@dataclass
class OpRow:
    """One operator of a converted program, as a reader reports it."""

    op: str
    paths: tuple[str, ...]  # torch module paths (dotted, below the network: "blocks.0.0.conv_dw")
    delegated: bool
    delegate: str = ""
    reason: str = ""
    preprocessing: bool = False
    folds_bn: bool = False  # a conv-like operator; the converter folded the batch norm after it into it


@dataclass(frozen=True)
class CoverageReader:
    """A runtime's coverage reader: ``fn(spec, precision, delegate, calibration_data)`` returns
    ``(rows, source)`` — the operators in program order and a line naming the tool and version."""

    runtime: str
    delegates: tuple[str, ...]
    precisions: tuple[str, ...]
    fn: Callable[..., tuple[list[OpRow], str]]


_READERS: dict[str, CoverageReader] = {}


def register_coverage(reader: CoverageReader) -> CoverageReader:
    _READERS[reader.runtime] = reader
    return reader


def _load_builtins() -> None:
    if {"executorch", "litert", "coreml"} <= set(_READERS):
        return
    from edgespace.exporters import _coverage_coreml, _coverage_executorch, _coverage_litert  # noqa: F401


def list_coverage_runtimes() -> dict[str, tuple[str, ...]]:
    """Runtime -> the delegates whose decisions :func:`coverage` reads (the first is the default)."""
    _load_builtins()
    return {name: r.delegates for name, r in sorted(_READERS.items())}


# -- torch module path -> layer-table rows ------------------------------------------------------

_CHILD_KIND = (("mean", "pool"), ("pool", "pool"), ("add", "add"), ("mul", "mul"))


def _kind(op: str) -> str | None:
    low = op.lower()
    for key, kind in _CHILD_KIND:
        if key in low:
            return kind
    return None


def rows_for(table: pd.DataFrame, paths, op: str, folds_bn: bool = False) -> tuple[str, ...]:
    """Layer-table rows an operator implements, from the torch module paths the converter kept:
    per path the row whose name is the longest dotted prefix of it; where the path names a
    module whose operator-less children include one of the op's kind (an SE module's ``mean``,
    a block's ``skip_add``), that child. ``folds_bn`` adds the batch norm row right after a
    conv-like row (converters fold it into the conv)."""
    names = table["name"].tolist()
    index = {n: i for i, n in enumerate(names)}
    kind = _kind(op)
    out: list[str] = []
    for path in paths:
        if not path:
            continue
        anchor = next((path[: m.start()] for m in _prefixes(path) if path[: m.start()] in index), None)
        if kind is not None and (anchor is None or table.at[index[anchor], "op"] != kind):
            # an operator-less child of the module the path names (a block's skip_add, an SE's mean)
            child = table[(~table["is_module"]) & table["name"].str.startswith(path + ".") & (table["op"] == kind)]
            if len(child):
                anchor = str(child["name"].iloc[0])
        if anchor is None:
            continue
        out.append(anchor)
        i = index[anchor]
        if folds_bn and i + 1 < len(names) and table.at[i + 1, "op"] == "bn":
            out.append(names[i + 1])
    return tuple(dict.fromkeys(out))


def _by_order(table: pd.DataFrame, rows: list[OpRow], mapped: list[tuple]) -> None:
    """Conv-like operators the converter left without a module path (Core ML renames folded
    weights ``const_N``; LiteRT names the classifier after the output): where the program holds
    exactly as many conv-like operators as the layer table has conv-like rows, and every one that
    has a path agrees with its position, the k-th takes the k-th row (and the batch norm after it)."""
    from edgespace._layer_table import CONV_OPS

    convs = [k for k, r in enumerate(rows) if r.folds_bn]
    names = table["name"].tolist()
    conv_rows = [i for i, op in enumerate(table["op"]) if op in CONV_OPS]
    if len(convs) != len(conv_rows):
        return
    if any(mapped[k] and names[i] not in mapped[k] for k, i in zip(convs, conv_rows, strict=True)):
        return
    for k, i in zip(convs, conv_rows, strict=True):
        if not mapped[k]:
            bn = (names[i + 1],) if i + 1 < len(names) and table.at[i + 1, "op"] == "bn" else ()
            mapped[k] = (names[i], *bn)


def _prefixes(path: str):
    """Match objects at the end of the path and before each dot, longest first."""
    return sorted(re.finditer(r"(\.|$)", path), key=lambda m: -m.start())


# -- the public function ------------------------------------------------------------------------


def coverage(
    spec: ArchSpec,
    runtime: str = "executorch",
    precision: str | None = None,
    *,
    delegate: str | None = None,
    calibration_data=None,
) -> pd.DataFrame:
    """One row per operator of ``spec`` converted for ``runtime`` (:data:`COVERAGE_COLUMNS`):
    ``op`` (the runtime's name), ``layer_rows`` (the layer-table rows it implements; empty where
    the converter kept no module path, e.g. an inserted quantize), ``op_classes`` (their
    operator classes), ``part`` (``preprocessing``, ``network`` or ``""``), ``delegated``,
    ``delegate``, ``reason`` (the tool's, where it gives one), and ``source`` (the tool and its
    version: every row is observed, none transcribed).

    ``delegate`` picks whose decision is read (see :func:`list_coverage_runtimes`); ``precision``
    defaults to ``spec.precision``. Raises :class:`~edgespace.SpecError` for an unknown runtime,
    delegate or precision, :class:`~edgespace.UnavailableError` where the tool is missing."""
    if not isinstance(spec, ArchSpec):
        raise SpecError(f"coverage() takes an ArchSpec, got {type(spec).__name__}")
    _load_builtins()
    if runtime not in _READERS:
        raise SpecError(f"coverage(runtime={runtime!r}) is not a known runtime; allowed: {', '.join(sorted(_READERS))}")
    reader = _READERS[runtime]
    delegate = reader.delegates[0] if delegate is None else delegate
    if delegate not in reader.delegates:
        raise SpecError(f"coverage(runtime={runtime!r}, delegate={delegate!r}): allowed: {', '.join(reader.delegates)}")
    precision = spec.precision if precision is None else precision
    if precision not in reader.precisions:
        raise SpecError(
            f"coverage(runtime={runtime!r}, precision={precision!r}): allowed: {', '.join(reader.precisions)}"
        )
    from edgespace._layer_table import layer_table

    rows, source = reader.fn(spec, precision, delegate, calibration_data)
    table = layer_table(spec)
    op_of = dict(zip(table["name"], table["op"], strict=True))
    cols: dict[str, list] = {c: [] for c in COVERAGE_COLUMNS}
    mapped = [() if r.preprocessing else rows_for(table, r.paths, r.op, r.folds_bn) for r in rows]
    _by_order(table, rows, mapped)
    for k, r in enumerate(rows):
        layer_rows = mapped[k]
        cols["op_index"].append(k)
        cols["op"].append(r.op)
        cols["layer_rows"].append(layer_rows)
        cols["op_classes"].append(tuple(dict.fromkeys(op_of[n] for n in layer_rows)))
        cols["part"].append("preprocessing" if r.preprocessing else ("network" if layer_rows else ""))
        cols["delegated"].append(bool(r.delegated))
        cols["delegate"].append(r.delegate)
        cols["reason"].append(r.reason)
        cols["runtime"].append(runtime)
        cols["precision"].append(precision)
        cols["source"].append(source)
    frame = pd.DataFrame(cols, columns=list(COVERAGE_COLUMNS))
    frame["delegated"] = frame["delegated"].astype(bool)
    frame.attrs.update(spec=spec.to_dict(), runtime=runtime, precision=precision, delegate=delegate, source=source)
    return frame
