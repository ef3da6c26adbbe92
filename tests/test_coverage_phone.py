"""Operator coverage read from the phone toolchains: ExecuTorch's XNNPACK and Core ML
partitioners, LiteRT's XNNPACK delegate and model analyzer, Core ML's MIL program. One small
network (MobileNetV3-Small, width and depth 0.5, 64 px); each program is converted once per module."""

from __future__ import annotations

import pytest

from edgespace import ArchSpec, SpecError, coverage, layer_table
from edgespace._layer_table import CONV_OPS
from edgespace.exporters import COVERAGE_COLUMNS, list_coverage_runtimes
from edgespace.exporters._coverage import rows_for

pytest.importorskip("executorch", reason="the phone extra is not installed (pip install 'edgespace[phone]')")

SPEC = ArchSpec("mobilenetv3_small", 0.5, 0.5, 64)


def conv_rows_covered(frame, table) -> set[str]:
    """Conv-like layer-table rows that no delegated operator implements."""
    convs = set(table.loc[table["op"].isin(CONV_OPS), "name"])
    taken = {r for rows in frame.loc[frame["delegated"], "layer_rows"] for r in rows}
    return convs - taken


@pytest.fixture(scope="module")
def table():
    return layer_table(SPEC)


@pytest.fixture(scope="module")
def et_xnnpack():
    return coverage(SPEC, "executorch", "fp32")


def test_executorch_xnnpack_rows_come_from_the_lowered_program(et_xnnpack, table):
    f = et_xnnpack
    assert tuple(f.columns) == COVERAGE_COLUMNS
    assert f.attrs["delegate"] == "xnnpack" and f["source"].str.startswith("observed: executorch").all()
    assert set(f.loc[f["delegated"], "delegate"]) == {"XNNPACK"}
    # every conv of the network is inside the XNNPACK delegate, mapped to its layer-table row
    assert conv_rows_covered(f, table) == set()
    # the uint8 frame's cast to float is not taken (XNNPACK has no uint8 input), and the partitioner says why
    pre = f[f["part"] == "preprocessing"]
    cast = pre[pre["op"].str.contains("to_dim_order_copy|_to_copy")]
    assert len(cast) and not cast["delegated"].any()
    assert (f.loc[~f["delegated"], "reason"].str.len() > 0).all()
    # the residual adds and SE means land on their operator-less rows
    rows = {r for rows in f["layer_rows"] for r in rows}
    assert {n for n in table["name"] if n.endswith(("skip_add", "se.mean"))} <= rows


def test_executorch_coreml_partitioner_checks_run_without_macos(table):
    f = coverage(SPEC, "executorch", "fp32", delegate="coreml")
    assert f["source"].iloc[0].startswith("observed: executorch") and "CoreMLPartitioner" in f.attrs["source"]
    assert set(f.loc[f["delegated"], "delegate"]) == {"CoreMLBackend"}
    assert conv_rows_covered(f, table) == set()


def test_coreml_program_lists_its_mil_operations(table):
    f = coverage(SPEC, "coreml", "fp32")
    assert f["delegated"].all() and (f["delegate"] == "Core ML").all()
    assert "device" in f["reason"].iloc[0]  # the compute unit is chosen on the device, and it says so
    assert {"conv", "linear"} <= set(f["op"])
    # conv weights (named or folded) map every conv-like row; the frame's normalisation is preprocessing
    assert conv_rows_covered(f, table) == set()
    assert (f["part"] == "preprocessing").sum() >= 1


@pytest.fixture(scope="module")
def litert_int8(litert_converter):
    pytest.importorskip("ai_edge_litert")
    return coverage(SPEC, "litert", "int8")


def test_litert_int8_xnnpack_leaves_out_int8_hard_swish(litert_int8, table):
    f = litert_int8
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgespace.exporters import cached_phone_model

    # one row per operator of the .tflite, as the interpreter without delegates lists them
    plain = Interpreter(
        model_path=str(cached_phone_model(SPEC, "litert", "int8")),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    plain.allocate_tensors()
    assert list(f["op"]) == [o["op_name"] for o in plain._get_ops_details()]
    assert conv_rows_covered(f, table) == set()
    left = f[~f["delegated"]]
    assert "HARD_SWISH" in set(left["op"])  # XNNPACK has no int8 hard-swish here
    assert f["delegated"].sum() > len(f) / 2


def test_litert_gpu_compatibility_from_the_analyzer(litert_int8):
    f = coverage(SPEC, "litert", "int8", delegate="gpu")
    assert "analyzer" in f.attrs["source"] and len(f) == len(litert_int8)


def test_bad_runtime_delegate_and_precision_name_what_is_allowed():
    assert set(list_coverage_runtimes()) == {"executorch", "litert", "coreml"}
    with pytest.raises(SpecError, match="allowed: coreml, executorch, litert"):
        coverage(SPEC, "tensorrt")
    with pytest.raises(SpecError, match="allowed: xnnpack, coreml, qnn"):
        coverage(SPEC, "executorch", delegate="gpu")
    with pytest.raises(SpecError, match="allowed: fp32, int8"):
        coverage(SPEC, "litert", "fp16")


def test_module_paths_map_to_layer_rows(table):
    assert rows_for(table, ["blocks.1.1"], "aten.add.Tensor") == ("blocks.1.1.skip_add",)
    assert rows_for(table, ["blocks.0.0.se"], "MEAN") == ("blocks.0.0.se.mean",)
    assert rows_for(table, ["blocks.0.0.se"], "MUL") == ("blocks.0.0.se",)
    assert rows_for(table, ["blocks.0.0.conv_dw"], "CONV_2D", folds_bn=True) == (
        "blocks.0.0.conv_dw",
        "blocks.0.0.bn1",
    )
    assert rows_for(table, ["not.a.module"], "ADD") == ()


def test_cli_coverage_bad_input_exits_2(capsys):
    from edgespace.cli import main

    assert main(["coverage", "--family", "mobilenetv3_small", "--runtime", "tensorrt"]) == 2
    assert "allowed: coreml, executorch, litert" in capsys.readouterr().err


def test_cli_coverage_prints_the_left_out_operators_and_json(litert_int8, capsys):
    import json

    from edgespace.cli import main

    argv = ["coverage", "--family", "mobilenetv3_small", "--width", "0.5", "--depth", "0.5", "--resolution", "64"]
    argv += ["--runtime", "litert", "--precision", "int8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{int(litert_int8['delegated'].sum())} of {len(litert_int8)} operators delegated" in out
    assert "HARD_SWISH" in out
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_operators"] == len(doc["operators"]) == len(litert_int8)
    assert doc["source"].startswith("observed: ai-edge-litert")
