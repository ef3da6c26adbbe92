"""EfficientViT (MIT) B0–B3: exact layer tables against timm and fvcore at the presets and at
random widths and resolutions, the linear attention's rows that fvcore does not count checked on
the traced graph, their work growing linearly with the token count, their placement on every
shipped profile, published accuracy, the search spaces, and real ONNX Runtime runs at fp32 and int8.
The module names and output shapes of every row are checked in tests/test_layers.py."""

from __future__ import annotations

import functools
import logging

import numpy as np
import onnxruntime as ort
import pytest
import timm
import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import get_shape

import edgespace as es
from edgespace._layer_table import layer_skeleton
from edgespace._precision import quantize_int8
from edgespace.accuracy import load_published
from edgespace.accuracy._published_fit import _curve, fit_published
from edgespace.archs import get_family
from edgespace.cost._graph import place
from edgespace.cost._params import FALLBACK, PRIMARY, compile_mode
from edgespace.report._data import arch_label
from edgespace.study import named_space, space_from_dict

EVIT = ("efficientvit_b0", "efficientvit_b1", "efficientvit_b2", "efficientvit_b3")


def _numel(value) -> int:
    shape = get_shape(value)
    return int(np.prod(shape)) if shape is not None else 0


def _scalar_add(inputs, outputs) -> int:
    """Elements of an ``aten::add`` with a scalar (0-d) operand: the normaliser's ``+ eps``; tensor +
    tensor adds (the residuals) are counted 0 here."""
    return 0 if get_shape(inputs[1]) else _numel(outputs[0])


@functools.cache
def _counted(family: str, width: float, resolution: int) -> tuple[int, dict]:
    """Parameters of the module timm builds and fvcore's per-operator counts of one traced forward
    pass, with handles added for the operators fvcore does not count: output elements of
    ``relu``, ``cat``, the constant pad, ``div`` and scalar ``add``."""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    spec = es.ArchSpec(family, width, 1.0, resolution)
    model = timm.create_model(family, pretrained=False).eval() if width == 1.0 else es.build(spec)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    counts = FlopCountAnalysis(model, torch.zeros(1, 3, resolution, resolution))
    out_elems = lambda inputs, outputs: _numel(outputs[0])  # noqa: E731
    for op in ("aten::relu", "aten::cat", "aten::constant_pad_nd", "aten::pad", "aten::div"):
        counts.set_op_handle(op, out_elems)
    counts.set_op_handle("aten::add", _scalar_add)
    counts.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return sum(p.numel() for p in model.parameters()), dict(counts.by_operator())


def _ours(family: str, width: float, resolution: int) -> dict:
    t = es.layer_table(es.ArchSpec(family, width, 1.0, resolution))
    out = t["out_c"] * t["out_h"] * t["out_w"]
    return {
        "params": int(t["params"].sum()),
        "conv": int(t.loc[t["op"].isin(["conv", "depthwise", "pointwise"]), "macs"].sum()),
        "linear": int(t.loc[t["op"] == "linear", "macs"].sum()),
        "matmul": int(t.loc[t["op"] == "matmul", "macs"].sum()),
        "layer_norm": int(t.loc[t["op"] == "layernorm", "elem_ops"].sum()),
        "relu": int(t.loc[(t["op"] == "act") & (t["act"] == "relu"), "elem_ops"].sum()),
        "cat": int(out[t["op"] == "concat"].sum()),
        "pad": int(out[t["op"] == "pad"].sum()),
        "div": int(t.loc[t["op"] == "div", "elem_ops"].sum()),
    }


# B0 as timm names it, at its published 224 px, and random widths/resolutions (fixed seed) of the
# two head dimensions' smaller networks (B2/B3 trace several times slower and add no operator).
# tests/test_layers.py checks B0-B3 at width 1.0 against fvcore and every module's output shape.
_RNG = np.random.default_rng(20261204)
CASES = [("efficientvit_b0", 1.0, 224)]
CASES += [(f, round(float(_RNG.uniform(0.5, 0.9)), 3), int(_RNG.integers(64, 97))) for f in EVIT[:2]]


@pytest.mark.parametrize("family", EVIT)
def test_presets_have_timms_parameters(family):
    t = es.layer_table(es.ArchSpec(family, 1.0, 1.0, 224))
    assert int(t["params"].sum()) == sum(p.numel() for p in timm.create_model(family, pretrained=False).parameters())


@pytest.mark.parametrize("family, width, resolution", CASES, ids=lambda v: str(v))
def test_exact_against_timm_and_fvcore_and_the_traced_graph(family, width, resolution):
    ours = _ours(family, width, resolution)
    n_params, counted = _counted(family, width, resolution)
    assert ours["params"] == n_params
    # what fvcore counts: convs, the two linears, both attention matmuls, the head's LayerNorm
    for op in ("conv", "linear", "matmul", "layer_norm"):
        assert ours[op] == counted[op] > 0, op
    # what it does not (counted here on the traced graph): the ReLU kernel of q and k, the
    # multi-scale concat, v's column of ones, and the normaliser (a division per value and the
    # + eps per denominator)
    assert ours["relu"] == counted["relu"] > 0
    assert ours["cat"] == counted["cat"] > 0
    assert ours["pad"] == counted.get("constant_pad_nd", 0) + counted.get("pad", 0) > 0
    assert ours["div"] == counted["div"] + counted["add"] > counted["div"]


def test_width_knob_scales_stage_widths_and_refuses_less_than_a_head():
    t = es.layer_table(es.ArchSpec("efficientvit_b1", 0.5, 1.0, 128))
    qkv = t[t["name"] == "stages.3.blocks.1.context_module.main.qkv.conv"].iloc[0]
    assert (qkv["in_c"], qkv["out_c"]) == (128, 3 * 128)  # 256 x 0.5; 8 heads of 16
    with pytest.raises(es.SpecError, match="fewer than one head of 32"):
        es.layer_table(es.ArchSpec("efficientvit_b2", 0.1, 1.0, 128))
    with pytest.raises(es.SpecError, match="depth"):
        es.ArchSpec("efficientvit_b0", 1.0, 1.2, 128)


def test_linear_attention_work_grows_linearly_with_the_token_count():
    small, big = (es.layer_table(es.ArchSpec("efficientvit_b1", 1.0, 1.0, r)) for r in (128, 256))
    block = "stages.2.blocks.1"
    rows = small["block"] == block
    ops = list(small.loc[rows & small["name"].str.contains("context_module"), "op"])
    assert ops.count("matmul") == 2 and ops.count("pad") == 1 and ops.count("concat") == 1
    assert ops.count("div") == 1 and ops.count("transpose") == 3 and "softmax" not in ops
    growth = {  # 128 -> 256 px: 4x the tokens
        ("kv", "macs"): 4,
        ("kv", "output_bytes"): 1,  # heads x d x (d+1): no token axis left
        ("context", "macs"): 4,
        ("context", "output_bytes"): 4,
        ("normalize", "elem_ops"): 4,
    }
    for (name, column), want in growth.items():
        pick = small["name"] == f"{block}.context_module.main.{name}"
        assert big.loc[pick, column].item() == want * small.loc[pick, column].item(), (name, column)
    kv = big[big["name"] == f"{block}.context_module.main.kv"].iloc[0]
    heads, dim, tokens = 2 * (128 // 16), 16, 16 * 16  # two scales of 8 heads
    assert kv["macs"] == heads * dim * (dim + 1) * tokens
    assert kv["output_bytes"] == heads * dim * (dim + 1) * 4


def test_linear_attention_placement_and_fallback():
    sk = layer_skeleton("efficientvit_b1", 1.0, 1.0, 1000)
    ops = np.asarray(sk.op, dtype=object)
    new = np.isin(ops, ["matmul", "concat", "pad", "div", "layernorm", "transpose"])
    htp = place(sk, compile_mode(es.load_profile("snapdragon-8-gen-3").mode()), "int8")
    assert htp.runnable and (htp.engine == PRIMARY).all() and not htp.fused[new].any()
    # the DLA: no MatrixMultiply of two activations, no Padding, no Normalization layer -> the GPU;
    # the channel Concatenation and ElementWise Div are DLA layers and stay
    orin = compile_mode(es.load_profile("jetson-orin-nx-16gb").mode(), placement="dla")
    dla = place(sk, orin, "int8")
    for op in ("matmul", "pad", "layernorm", "transpose"):
        assert (dla.engine[ops == op] == FALLBACK).all(), op
    assert (dla.engine[ops == "concat"] == PRIMARY).all() and (dla.engine[ops == "div"] == PRIMARY).all()
    assert len(dla.cross_src) > 2 * 7 and dla.n_sync > 0
    # the Edge TPU: hard-swish in the stem already cuts the graph; everything runs on the CPU
    coral = place(sk, compile_mode(es.load_profile("coral-edge-tpu").mode()), "int8")
    assert list(sk.act[:3]) == ["", "", "hard_swish"]
    assert (coral.engine[:2] == PRIMARY).all() and (coral.engine[2:] == FALLBACK).all()


@pytest.mark.parametrize("family", EVIT)
def test_estimates_on_every_shipped_profile(family):
    for profile in es.list_profiles():
        for precision in ("fp32", "int8"):
            est = es.estimate(es.ArchSpec(family, 0.75, 1.0, 160, precision), profile)
            assert np.isfinite(est.latency_ms) and est.latency_ms > 0, (profile, precision)
            assert est.total_memory_mb > 0 and est.macs > 0


def test_published_accuracy_leave_one_out_within_one_point():
    """B0–B3 are one accuracy family (one offset and slope, the timm rows of all four): each row
    held out and predicted from the others, B0's single row included."""
    table = load_published()
    rows = fit_published(table).rows
    evit = rows[rows["family"].isin(EVIT)]
    assert len(evit) == 10 and set(evit["group"]) == {"efficientvit"}
    errors = {}
    for idx in evit.index:
        fam = rows.at[idx, "family"]
        t = fit_published(table, exclude=[idx]).top1
        offset = t.family_offset[fam] + t.recipe_offset[rows.at[idx, "recipe"]]
        lm, lp = rows.loc[[idx], "lm"].to_numpy(), rows.loc[[idx], "lp"].to_numpy()
        errors.setdefault(fam, []).append(
            abs(float(_curve(t.shape, np.array([offset]), lm, lp, t.params_slope[fam])[0]) - rows.at[idx, "top1"])
        )
    assert set(errors) == set(EVIT)
    assert all(np.mean(e) <= 1.0 for e in errors.values()), errors
    est = es.predict_accuracy(es.ArchSpec("efficientvit_b2", 1.0, 1.0, 256))
    assert abs(est.top1 - 82.712) < 1.0 and est.in_range
    assert es.predict_accuracy(es.ArchSpec("efficientvit_b2", 1.0, 1.0, 256, "int8")).top1 < est.top1
    narrow = es.predict_accuracy(es.ArchSpec("efficientvit_b2", 0.5, 1.0, 256))
    assert narrow.top1 < est.top1 and narrow.top1_std > est.top1_std and not narrow.in_range


def test_spaces():
    own = named_space("efficientvit")
    assert own.name == "efficientvit" and set(own._arch_grid()["family"]) == set(EVIT)
    assert set(named_space("efficientvit_b1")._arch_grid()["family"]) == {"efficientvit_b1"}
    assert "efficientvit" in {s.name for s in named_space("all").spaces}
    assert space_from_dict(own.to_dict()).to_dict() == own.to_dict()
    point = own.decode(
        {"family": "efficientvit_b1", "width": 0.75, "resolution": 224, "precision": "int8", "mode": "sustained"}
    )
    assert point["depth"] == 1.0
    assert arch_label(point | {"precision": "int8"}) == "EfficientViT-B1 w0.75 d1 224px int8"


@pytest.mark.parametrize(
    "family, int8", [("efficientvit_b0", True), ("efficientvit_b1", False), ("efficientvit_b2", False)]
)
def test_exports_and_runs_in_onnx_runtime(tmp_path, family, int8):
    """fp32 and int8 on B0; fp32 on B1 and B2 (head dimension 32). B1-B3 add no operator, only
    width and depth; their int8 calibrations (10-25 s each on two busy cores) are left out here."""
    spec = es.ArchSpec(family, 0.35, 1.0, 64)
    torch.manual_seed(0)
    model = es.build(spec)
    path = es.export_onnx(spec, tmp_path / "model.onnx", model=model)
    images = np.random.default_rng(0).integers(0, 256, size=(8, 3, 64, 64)).astype(np.uint8)
    fam = get_family(family)
    with torch.no_grad():
        x = torch.from_numpy(images[:2]).float() / 255.0
        x = (x - torch.tensor(fam.mean).view(1, 3, 1, 1)) / torch.tensor(fam.std).view(1, 3, 1, 1)
        reference = model(x).numpy()
    logits = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": images[:2]})[0]
    assert np.abs(logits - reference).max() <= 1e-4 * max(1.0, np.abs(reference).max())
    if int8:
        import onnx

        q_path = quantize_int8(path, images, tmp_path / "model_int8.onnx")
        q = ort.InferenceSession(str(q_path), providers=["CPUExecutionProvider"]).run(None, {"image": images[:2]})[0]
        assert q.shape == (2, 1000) and np.isfinite(q).all() and not np.array_equal(q, logits)
        graph = onnx.load(str(q_path)).graph
        assert sum(n.op_type == "QuantizeLinear" for n in graph.node) > 10
        assert {"MatMul", "Div", "Pad", "Concat"} <= {n.op_type for n in graph.node}


def test_profiler_nodes_of_a_real_export_land_on_the_linear_attention_rows(tmp_path):
    from edgespace.calibration._mapping import map_nodes, module_path, segment_ids
    from edgespace.runners.ort import OnnxRuntimeRunner

    # EfficientViT's scopes restart at each container: stages/stages.2/blocks/blocks.1
    node = "/model/stages/stages.2/blocks/blocks.1/context_module/main/aggreg.0/aggreg.0.1/Conv"
    assert module_path(node) == "stages.2.blocks.1.context_module.main.aggreg.0.1.Conv"
    spec = es.ArchSpec("efficientvit_b0", 0.35, 1.0, 64)
    path = es.export_onnx(spec, tmp_path / "evit.onnx")  # in this process: node names, not timings
    prof = OnnxRuntimeRunner().profile(path, spec, threads=1, runs=1)
    table = es.layer_table(spec)
    mapped = map_nodes(list(prof.nodes), table)
    assert {i for rows in mapped["rows"] for i in rows} == set(range(len(table)))  # every row covered
    seg = segment_ids(table)
    assert all(seg[r] == s for rows, s in zip(mapped["rows"], mapped["segment"], strict=True) for r in rows)
    names = table["name"].to_numpy()
    main = "stages.2.blocks.1.context_module.main"
    block = mapped[mapped["node"].str.contains("/blocks.1/context_module/main/")]
    anchored = {
        (n.split("/main/", 1)[1].split("_kernel")[0], names[a])
        for n, a in zip(block["node"], block["anchor"], strict=True)
    }
    want = {
        ("MatMul", f"{main}.kv"),
        ("MatMul_1", f"{main}.context"),
        ("Pad", f"{main}.value_pad"),
        ("Div_1", f"{main}.normalize"),
        ("kernel_func/Relu", f"{main}.kernel_q"),
        ("kernel_func_1/Relu", f"{main}.kernel_k"),
        ("Concat", f"{main}.concat"),
        ("Transpose", f"{main}.tokens"),
        ("Transpose_3", f"{main}.merge_heads"),
    }
    assert want <= anchored, sorted(anchored)
