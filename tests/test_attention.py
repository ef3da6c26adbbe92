"""MobileNetV4 Hybrid (Mobile MQA attention): exact layer tables against timm and fvcore, attention
rows whose work grows with the square of the token count, and their placement and fusion in the
cost model. Random widths and resolutions are checked against the built module (matmuls included)
in tests/test_layers.py."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import timm
import torch
from fvcore.nn import FlopCountAnalysis

import edgespace as es
from edgespace._layer_table import layer_skeleton
from edgespace.calibration._mapping import map_nodes, segment_ids
from edgespace.cost._graph import place
from edgespace.cost._params import FALLBACK, PRIMARY, compile_mode

HYBRIDS = ("mobilenetv4_hybrid_medium", "mobilenetv4_hybrid_large")


def _fvcore(model, resolution: int) -> dict:
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    counts = FlopCountAnalysis(model, torch.zeros(1, 3, resolution, resolution))
    counts.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return dict(counts.by_operator())


def _unfused(model):
    """timm's attention through explicit ``q @ kᵀ``, softmax and ``attn @ v`` (which fvcore counts
    as ``matmul``) instead of ``scaled_dot_product_attention`` (which fvcore does not count)."""
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = False
    return model


def _by_op(spec: es.ArchSpec) -> dict:
    table = es.layer_table(spec)
    return {op: int(table.loc[table["op"] == op, "macs"].sum()) for op in ("conv", "linear", "matmul")} | {
        "conv": int(table.loc[table["op"].isin(["conv", "depthwise", "pointwise"]), "macs"].sum()),
        "params": int(table["params"].sum()),
    }


@pytest.mark.parametrize(
    "timm_name, family, resolution",
    [("mobilenetv4_hybrid_medium", HYBRIDS[0], 224), ("mobilenetv4_hybrid_large", HYBRIDS[1], 256)],
)
def test_timm_presets_are_exact_and_attention_matches_an_independent_count(timm_name, family, resolution):
    ours = _by_op(es.mobilenet(family, 1.0, resolution))
    model = _unfused(timm.create_model(timm_name, pretrained=False).eval())
    assert ours["params"] == sum(p.numel() for p in model.parameters())
    counted = _fvcore(model, resolution)
    assert ours["conv"] == counted["conv"] and ours["linear"] == counted["linear"]
    # attention: heads x queries x keys x d for the scores and again for the context
    assert ours["matmul"] == counted["matmul"] > 0
    assert ours["matmul"] < 0.05 * ours["conv"]


def test_fvcore_does_not_count_fused_attention_so_the_table_does():
    spec = es.ArchSpec(HYBRIDS[0], 0.35, 1.0, 64)
    counted = _fvcore(es.build(spec).eval(), spec.resolution)  # timm's default: fused attention
    assert "matmul" not in counted  # aten::scaled_dot_product_attention is not an fvcore op
    ours = _by_op(spec)
    assert ours["conv"] == counted["conv"] and ours["matmul"] > 0


def test_attention_work_grows_with_the_square_of_the_token_count():
    small, big = (es.layer_table(es.ArchSpec(HYBRIDS[0], 1.0, 1.0, r)) for r in (128, 256))
    rows = small["block"] == "blocks.2.4"  # a Mobile MQA block with key/value stride 2
    ops = list(small.loc[rows, "op"])
    assert ops.count("matmul") == 2 and ops.count("softmax") == 1 and ops.count("transpose") == 4
    expected = {  # (row, column): growth from 128 to 256 px (4x the pixels, 4x the key/value tokens)
        ("attn.scores", "macs"): 16,
        ("attn.scores", "output_bytes"): 16,
        ("attn.softmax", "elem_ops"): 16,
        ("attn.context", "macs"): 16,
        ("attn.context", "output_bytes"): 4,
        ("attn.query.proj", "macs"): 4,
    }
    for (name, column), want in expected.items():
        pick = small["name"].str.endswith(name) & rows
        assert big.loc[pick, column].item() == want * small.loc[pick, column].item(), (name, column)
    scores = big[big["name"] == "blocks.2.4.attn.scores"].iloc[0]
    heads, queries, keys, dim = 4, 16 * 16, 8 * 8, 64
    assert scores["macs"] == heads * queries * keys * dim
    assert scores["output_bytes"] == heads * queries * keys * 4  # fp32 scores


def test_layer_scale_folds_into_its_conv_and_attention_kernels_stay():
    sk = layer_skeleton(HYBRIDS[0], 1.0, 1.0, 1000)
    mp = compile_mode(es.load_profile("snapdragon-8-gen-3").mode())
    pl = place(sk, mp, "int8")
    ops, names = np.asarray(sk.op, dtype=object), np.asarray(sk.name, dtype=object)
    scale = np.array([n.endswith("layer_scale") for n in names])
    assert scale.sum() == 30 and pl.fused[scale].all()
    attention = np.isin(ops, ["matmul", "softmax", "transpose"])
    assert attention.sum() == 8 * 7 and not pl.fused[attention].any()
    assert pl.runnable and (pl.engine == PRIMARY).all()  # the HTP runs every attention operator
    # params: the folded scale leaves no weights of its own
    assert pl.weight_elems < int(sk.params.sum())


def test_unsupported_attention_falls_back_and_pays_the_crossings():
    spec = es.ArchSpec(HYBRIDS[1], 1.0, 1.0, 256, "int8")
    dla = es.estimate(spec, "jetson-orin-nx-16gb", placement="dla")
    # the DLA has no activation-by-activation MatrixMultiply and no GELU: the GPU runs them
    on_gpu = {name.rsplit(".", 1)[-1] for name in dla.fallback_ops}
    assert {"scores", "context", "query_heads", "act"} <= on_gpu and dla.runnable
    sk = layer_skeleton(HYBRIDS[1], 1.0, 1.0, 1000)
    orin = es.load_profile("jetson-orin-nx-16gb")
    mp = compile_mode(orin.mode(), placement="dla")
    pl = place(sk, mp, "int8")
    ops = np.asarray(sk.op, dtype=object)
    assert (pl.engine[ops == "matmul"] == FALLBACK).all() and (pl.engine[ops == "softmax"] == PRIMARY).any()
    assert len(pl.cross_src) > 2 * 8 and pl.n_sync > 0
    # the Edge TPU compiler cuts once, at the first attention matmul: everything after is the CPU's
    # (Hybrid-Medium: ReLU; Hybrid-Large's GELU would already stop it at the stem)
    sk = layer_skeleton(HYBRIDS[0], 1.0, 1.0, 1000)
    ops = np.asarray(sk.op, dtype=object)
    coral = es.load_profile("coral-edge-tpu")
    pl = place(sk, compile_mode(coral.mode()), "int8")
    first = int(np.flatnonzero(ops == "matmul")[0])
    assert (pl.engine[:first] == PRIMARY).all() and (pl.engine[first:] == FALLBACK).all()
    # on a profile whose primary runs attention, the same network is one partition
    conv = es.estimate(
        es.ArchSpec("mobilenetv4_conv_large", 1.0, 1.0, 256, "int8"), "jetson-orin-nx-16gb", placement="dla"
    )
    assert not any(name.endswith(("scores", "context")) for name in conv.fallback_ops)


@pytest.mark.parametrize("family", HYBRIDS)
def test_hybrids_estimate_on_every_shipped_profile(family):
    for profile in es.list_profiles():
        for precision in ("fp32", "int8"):
            est = es.estimate(es.ArchSpec(family, 0.75, 1.0, 192, precision), profile)
            assert np.isfinite(est.latency_ms) and est.latency_ms > 0, (profile, precision)
            assert est.total_memory_mb > 0 and est.macs > 0


def test_profiler_nodes_of_a_real_export_land_on_the_attention_rows(tmp_path):
    from edgespace.runners.ort import OnnxRuntimeRunner

    spec = es.ArchSpec(HYBRIDS[0], 0.35, 1.0, 64)
    path = es.export_onnx(spec, tmp_path / "hybrid.onnx")  # in this process: node names, not timings
    prof = OnnxRuntimeRunner().profile(path, spec, threads=1, runs=1)
    table = es.layer_table(spec)
    mapped = map_nodes(list(prof.nodes), table)
    assert {i for rows in mapped["rows"] for i in rows} == set(range(len(table)))  # every row covered
    seg = segment_ids(table)
    assert all(seg[r] == s for rows, s in zip(mapped["rows"], mapped["segment"], strict=True) for r in rows)
    names = table["name"].to_numpy()
    block = mapped[mapped["node"].str.contains("/blocks.2.4/attn/")]
    anchored = {
        (n.rsplit("/", 1)[-1].split("_kernel")[0], names[a])
        for n, a in zip(block["node"], block["anchor"], strict=True)
    }
    want = {
        ("MatMul", "blocks.2.4.attn.scores"),
        ("Softmax", "blocks.2.4.attn.softmax"),
        ("MatMul_1", "blocks.2.4.attn.context"),
        ("Reshape", "blocks.2.4.attn.query_heads"),
        ("Reshape_1", "blocks.2.4.attn.key_tokens"),
        ("Reshape_2", "blocks.2.4.attn.value_tokens"),
        ("Reshape_3", "blocks.2.4.attn.merge_heads"),
    }
    assert want <= anchored, sorted(anchored)
    # the layer scale runs inside the output projection's kernel (ONNX Runtime's Conv-Mul fusion)
    scale = mapped[mapped["node"].str.contains("/blocks.2.4/layer_scale/")]
    assert not (scale["op_type"] == "Mul").any()
