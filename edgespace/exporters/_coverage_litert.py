"""LiteRT coverage: the .tflite's operators, and which of them a delegate takes.

The file is the one :func:`edgespace.export` writes (cached). ``xnnpack``: LiteRT's interpreter
applies its default XNNPACK delegate when the tensors are allocated; each delegate node then
stands for a part of the graph, bounded by its input and output tensors, and the original
operators inside it are those reached walking back from its outputs to its inputs. The rest run
on LiteRT's builtin kernels (the delegate gives no reason; the reason column says so).
``gpu``: LiteRT's model analyzer with its GPU delegate compatibility check (``GPU
COMPATIBILITY WARNING`` lines name the operator and the cause).

Module paths come from the tensor names litert-torch writes: the torch module scopes joined by
``/``, each ``<module class>_<attribute>``; a fused operator joins two such names with ``;``.
"""

from __future__ import annotations

import re
from importlib.metadata import version

from edgespace._errors import UnavailableError
from edgespace.exporters._coverage import CoverageReader, OpRow, register_coverage

_CONV = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def tensor_paths(name: str) -> tuple[bool, tuple[str, ...]]:
    """(preprocessing?, module paths below the network) of a litert-torch tensor name such as
    ``...Preprocessed/timm.models.mobilenetv3.MobileNetV3_model/torch.nn.modules.conv.Conv2d_conv_stem;2``."""
    paths, pre = [], False
    for part in (p for p in name.split(";") if p and not p.isdigit()):
        scopes = part.split("/")
        if "Preprocessed" not in scopes[0]:
            continue  # a tensor the quantizer or the export wrapper added: no module path
        attrs = [s.rsplit(".", 1)[-1].partition("_")[2] for s in scopes[1:]]
        if not attrs:
            pre = True
        elif attrs[0] == "model":
            paths.append(".".join(a for a in attrs[1:] if a))
    return pre and not paths, tuple(dict.fromkeys(p for p in paths if p))


def _interpreter(path: str, **kw):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path, num_threads=1, **kw)
    it.allocate_tensors()
    return it


def _inside(delegate: dict, producer: dict[int, int], inputs: dict[int, list]) -> set[int]:
    """Original operators inside a delegate node: walk back from its outputs to its inputs."""
    stop = {int(t) for t in delegate["inputs"] if t >= 0}
    todo = [int(t) for t in delegate["outputs"]]
    seen_t, found = set(), set()
    while todo:
        t = todo.pop()
        if t in seen_t or t in stop or t not in producer:
            continue
        seen_t.add(t)
        node = producer[t]
        found.add(node)
        todo.extend(int(x) for x in inputs[node] if x >= 0)
    return found


def _rows(path: str, delegate: str) -> list[OpRow]:
    it = _interpreter(path)
    ops = it._get_ops_details()
    names = {d["index"]: d["name"] for d in it.get_tensor_details()}
    original = [o for o in ops if o["op_name"] != "DELEGATE"]
    inputs = {o["index"]: list(o["inputs"]) for o in original}
    producer = {int(t): o["index"] for o in original for t in o["outputs"]}
    inside: set[int] = set()
    if delegate == "xnnpack":
        for d in (o for o in ops if o["op_name"] == "DELEGATE"):
            inside |= _inside(d, producer, inputs)
    else:
        gpu_reasons = _gpu_warnings(path)
    rows = []
    for o in original:
        pre, paths = tensor_paths(names.get(int(o["outputs"][0]), "")) if len(o["outputs"]) else (False, ())
        if delegate == "xnnpack":
            taken = o["index"] in inside
            why = "" if taken else "left to LiteRT's builtin kernel by the XNNPACK delegate (it reports no reason)"
            rows.append(OpRow(o["op_name"], paths, taken, "XNNPACK" if taken else "", why, pre, o["op_name"] in _CONV))
        else:
            why = gpu_reasons.get(o["index"], "")
            rows.append(OpRow(o["op_name"], paths, not why, "" if why else "GPU", why, pre, o["op_name"] in _CONV))
    return rows


def _gpu_warnings(path: str) -> dict[int, str]:
    """Operator index -> the analyzer's GPU compatibility warning for it."""
    from ai_edge_litert import _pywrap_analyzer_wrapper

    text = _pywrap_analyzer_wrapper.ModelAnalyzer(path, True, True)
    out: dict[int, str] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"\s*Op#(\d+)\s", line)
        if m:
            current = int(m.group(1))
        if "GPU COMPATIBILITY WARNING" in line:
            nodes = re.search(r"at nodes? ([\d, ]+)", line)
            reason = line.split("GPU COMPATIBILITY WARNING:", 1)[-1].strip()
            for k in [int(x) for x in re.findall(r"\d+", nodes.group(1))] if nodes else [current]:
                if k is not None:
                    out.setdefault(k, reason)
    return out


def _read(spec, precision: str, delegate: str, calibration_data):
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError as exc:
        raise UnavailableError(
            f"LiteRT coverage needs ai-edge-litert (pip install 'edgespace[phone]'): {exc}"
        ) from None
    from edgespace.exporters._cached import cached_phone_model

    path = cached_phone_model(spec, "litert", precision, calibration_data=calibration_data)
    tool = f"ai-edge-litert {version('ai-edge-litert')}"
    what = (
        "interpreter's default XNNPACK delegate (nodes it replaced)"
        if delegate == "xnnpack"
        else "model analyzer, GPU delegate compatibility"
    )
    return _rows(str(path), delegate), f"observed: {tool}, {what}; .tflite from litert-torch"


register_coverage(CoverageReader("litert", ("xnnpack", "gpu"), ("fp32", "int8"), _read))
