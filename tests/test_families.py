"""The newer families (EfficientNetV2, MobileNetV4 Conv): timm's named models, ONNX Runtime at fp32
and int8, every shipped profile, published accuracy with its leave-one-out error, and the search
spaces that hold them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import timm
import torch
from fvcore.nn import FlopCountAnalysis

import edgespace as es
from edgespace._precision import quantize_int8
from edgespace.accuracy import load_published
from edgespace.accuracy._published_fit import _curve, fit_published
from edgespace.archs import get_family
from edgespace.layers import table_totals
from edgespace.report._data import arch_label
from edgespace.spec import efficientnet, efficientnetv2_preset, mobilenet
from edgespace.study import named_space, search, space_from_dict

MNV4 = ("mobilenetv4_conv_small", "mobilenetv4_conv_medium", "mobilenetv4_conv_large")
HYBRIDS = ("mobilenetv4_hybrid_medium", "mobilenetv4_hybrid_large")
NEW_FAMILIES = ("efficientnetv2", *MNV4, *HYBRIDS)


def _conv_linear_flops(model, resolution: int) -> int:
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    counts = FlopCountAnalysis(model, torch.zeros(1, 3, resolution, resolution))
    counts.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_operator = counts.by_operator()
    return int(by_operator["conv"] + by_operator["linear"])


@pytest.mark.parametrize("preset, timm_name", [("b0", "tf_efficientnetv2_b0"), ("b3", "tf_efficientnetv2_b3")])
def test_efficientnetv2_presets_equal_timms_named_models(preset, timm_name):
    # timm's named model adds TF "same" padding and BN eps 1e-3 to the generator edgespace calls:
    # the parameters and the conv/linear MACs (padding is not a MAC) are the same.
    spec = efficientnetv2_preset(preset)
    model = timm.create_model(timm_name, pretrained=False).eval()
    totals = table_totals(es.layer_table(spec))
    assert totals["params"] == sum(p.numel() for p in model.parameters())
    assert totals["macs"] == _conv_linear_flops(model, spec.resolution)


def test_efficientnetv2_preset_names_and_errors():
    assert efficientnetv2_preset("tf_efficientnetv2_b2") == es.ArchSpec("efficientnetv2", 1.1, 1.2, 260)
    assert efficientnetv2_preset("B1").depth == 1.1
    with pytest.raises(es.SpecError, match=r"preset 'b7' is unknown; allowed: b0, b1, b2, b3"):
        efficientnetv2_preset("b7")
    assert efficientnet(1.0, family="efficientnetv2").family == "efficientnetv2"
    with pytest.raises(es.SpecError, match=r"family='mobilenetv2'.*allowed: efficientnet, efficientnetv2"):
        efficientnet(1.0, family="mobilenetv2")


def test_fused_mbconv_rows_are_dense_convolutions():
    table = es.layer_table(efficientnetv2_preset("b0"))
    exp = table[table["name"].str.endswith(".conv_exp")]
    assert len(exp) == 4 and (exp["op"] == "conv").all() and (exp["groups"] == 1).all()
    assert (exp["kernel"] == 3).all() and set(exp["stage"]) == {1, 2}


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_exports_and_runs_in_onnx_runtime_at_fp32_and_int8(tmp_path, family):
    # smallest networks that keep every block type: export time grows with the node count
    spec = es.ArchSpec(family, 0.5, 0.5, 96) if get_family(family).depth_knob else es.ArchSpec(family, 0.35, 1.0, 64)
    torch.manual_seed(0)
    model = es.build(spec)
    path = es.export_onnx(spec, tmp_path / "model.onnx", model=model)
    rng = np.random.default_rng(0)
    r = spec.resolution
    images = rng.integers(0, 256, size=(8, 3, r, r)).astype(np.uint8)
    with torch.no_grad():
        x = torch.from_numpy(images[:2]).float() / 255.0
        mean = torch.tensor(get_mean(family)).view(1, 3, 1, 1)
        std = torch.tensor(get_std(family)).view(1, 3, 1, 1)
        reference = model((x - mean) / std).numpy()
    fp32 = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = fp32.run(None, {"image": images[:2]})[0]
    assert np.abs(logits - reference).max() <= 1e-4 * max(1.0, np.abs(reference).max())

    int8_path = quantize_int8(path, images, tmp_path / "model_int8.onnx")
    int8 = ort.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
    q_logits = int8.run(None, {"image": images[:2]})[0]
    assert q_logits.shape == (2, spec.num_classes) and np.isfinite(q_logits).all()
    # a real int8 graph: quantize nodes, and outputs close to, but not bit-equal with, fp32
    import onnx

    assert sum(n.op_type == "QuantizeLinear" for n in onnx.load(str(int8_path)).graph.node) > 10
    assert not np.array_equal(q_logits, logits)


def get_mean(family):
    return get_family(family).mean


def get_std(family):
    return get_family(family).std


def _leave_one_out_errors(family: str) -> list[float]:
    table = load_published()
    rows = fit_published(table).rows
    fam = rows[rows["family"] == family]
    assert len(fam) >= 4
    errors = []
    for idx in fam.index:
        fit = fit_published(table, exclude=[idx])
        t = fit.top1
        offset = t.family_offset[family] + t.recipe_offset[rows.at[idx, "recipe"]]
        lm, lp = rows.loc[[idx], "lm"].to_numpy(), rows.loc[[idx], "lp"].to_numpy()
        pred = _curve(t.shape, np.array([offset]), lm, lp, t.params_slope[family])
        errors.append(abs(float(pred[0]) - rows.at[idx, "top1"]))
    return errors


@pytest.mark.parametrize("family", (*MNV4, *HYBRIDS))
def test_mobilenetv4_accuracy_leave_one_out(family):
    errors = _leave_one_out_errors(family)
    assert np.mean(errors) <= 1.0, errors
    resolution = 384 if family == "mobilenetv4_hybrid_large" else 256  # inside each family's rows
    est = es.predict_accuracy(es.ArchSpec(family, 1.0, 1.0, resolution))
    assert est.source == "published" and est.in_range
    assert es.predict_accuracy(es.ArchSpec(family, 1.0, 1.0, resolution, "int8")).top1 < est.top1


def test_efficientnetv2_accuracy_leave_one_out_within_one_point():
    errors = _leave_one_out_errors("efficientnetv2")
    assert np.mean(errors) <= 1.0, errors
    est = es.predict_accuracy(efficientnetv2_preset("b0"))
    assert est.source == "published" and est.in_range and 76.0 < est.top1 < 80.0
    # int8 drop is the labelled EfficientNet estimate, not zero
    assert es.predict_accuracy(efficientnetv2_preset("b0", precision="int8")).top1 < est.top1


def test_new_families_are_in_their_own_space_and_in_all():
    own = named_space("efficientnetv2")
    assert own.name == "efficientnetv2"
    assert set(own._arch_grid()["family"]) == {"efficientnetv2"}
    assert "efficientnetv2" in {s.name for s in named_space("all").spaces}
    point = own.decode({"phi": 1.0, "precision": "fp32", "mode": "sustained"})
    assert point["family"] == "efficientnetv2" and point["resolution"] == 256 and point["width"] == 1.1
    assert space_from_dict(own.to_dict()) == own
    assert space_from_dict(named_space("efficientnet").to_dict()) != own


def test_mobilenetv4_spaces():
    own = named_space("mobilenetv4")
    assert own.name == "mobilenetv4" and set(own._arch_grid()["family"]) == set(MNV4 + HYBRIDS)
    assert set(named_space("mobilenetv4_hybrid_large")._arch_grid()["family"]) == {"mobilenetv4_hybrid_large"}
    assert set(named_space("mobilenetv4_conv_large")._arch_grid()["family"]) == {"mobilenetv4_conv_large"}
    assert "mobilenetv4" in {s.name for s in named_space("all").spaces}
    assert space_from_dict(own.to_dict()).to_dict() == own.to_dict()
    point = own.decode(
        {"family": "mobilenetv4_conv_small", "width": 0.5, "resolution": 160, "precision": "int8", "mode": "sustained"}
    )
    assert point["depth"] == 1.0 and point["family"] == "mobilenetv4_conv_small"
    assert arch_label(point | {"precision": "int8"}) == "MobileNetV4-Conv-S w0.5 d1 160px int8"


def test_search_over_the_default_space_visits_the_new_families():
    result = search(
        "all", "snapdragon-8-gen-3", ["accuracy", "sustained_latency_ms"], n_trials=60, seed=0, storage="memory"
    )
    visited = set(result.trials_frame(complete_only=True)["family"])
    assert len(visited & set(NEW_FAMILIES)) >= 3, visited


# --- MobileNetV4 Conv (timm _gen_mobilenet_v4): width and resolution, no depth knob ---------------


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "timm_name, family, width",
    [
        ("mobilenetv4_conv_small_035", "mobilenetv4_conv_small", 0.35),
        ("mobilenetv4_conv_small_050", "mobilenetv4_conv_small", 0.5),
        ("mobilenetv4_conv_small", "mobilenetv4_conv_small", 1.0),
        ("mobilenetv4_conv_medium", "mobilenetv4_conv_medium", 1.0),
        ("mobilenetv4_conv_large", "mobilenetv4_conv_large", 1.0),
    ],
)
def test_mobilenetv4_equals_timms_named_models(timm_name, family, width):
    spec = es.mobilenet(family, width, 224)
    model = timm.create_model(timm_name, pretrained=False).eval()
    totals = table_totals(es.layer_table(spec))
    assert totals["params"] == _params(model)
    assert totals["macs"] == _conv_linear_flops(model, spec.resolution)


def test_mobilenetv4_has_no_depth_knob():
    with pytest.raises(es.SpecError, match=r"depth=1\.2: family 'mobilenetv4_conv_medium' has no depth multiplier"):
        es.ArchSpec("mobilenetv4_conv_medium", 1.0, 1.2, 224)
    with pytest.raises(es.SpecError, match=r"allowed: 1\.0"):
        mobilenet("mobilenetv4_conv_small", 1.0, 224, depth=0.5)
    assert not get_family("mobilenetv4_conv_small").depth_knob and get_family("efficientnetv2").depth_knob
    frame = pd.DataFrame({"family": ["mobilenetv4_conv_large"], "width": [1.0], "depth": [1.5], "resolution": [256]})
    with pytest.raises(es.SpecError, match=r"depth=1\.5 for family 'mobilenetv4_conv_large'.*allowed: 1\.0"):
        es.accuracy.PublishedAccuracy().predict_many(frame)


def test_mobilenetv4_stem_is_fixed_below_width_one_and_uib_rows():
    # timm: fix_stem = channel_multiplier < 1.0, so the stem keeps 32 channels at 0.75 (timm's
    # round_channels would give 24) and scales above 1.0.
    for width, stem in ((0.75, 32), (0.99, 32), (1.0, 32), (1.25, 40)):
        table = es.layer_table(es.ArchSpec("mobilenetv4_conv_small", width, 1.0, 64))
        assert table.loc[table["name"] == "conv_stem", "out_c"].item() == stem
    model = es.build(es.ArchSpec("mobilenetv4_conv_small", 0.75, 1.0, 64))
    assert model.conv_stem.out_channels == 32
    table = es.layer_table(es.ArchSpec("mobilenetv4_conv_medium", 1.0, 1.0, 224))
    block = table[table["block"] == "blocks.1.0"]  # uir_a3_k5_s2: ExtraDW, stride on the middle dw
    assert list(block["op"][block["op"].isin(["depthwise", "pointwise"])]) == [
        "depthwise",
        "pointwise",
        "depthwise",
        "pointwise",
    ]
    assert list(block.loc[block["op"] == "depthwise", "stride"]) == [1, 2]
    ffn = table[table["block"] == "blocks.2.6"]  # uir_a0_k0: FFN, two pointwise convs and a skip
    assert list(ffn["op"]) == ["pointwise", "bn", "act", "pointwise", "bn", "add"]
    head = table[table["block"] == "head"]
    assert list(head["name"]) == ["global_pool", "conv_head", "norm_head", "norm_head.act", "flatten", "classifier"]


@pytest.mark.parametrize("family", MNV4)
def test_mobilenetv4_estimates_on_every_shipped_profile(family):
    shipped = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "hwprofiles").glob("*.yaml"))
    assert len(shipped) >= 10
    for profile in shipped:
        for precision in ("fp32", "int8"):
            est = es.estimate(es.ArchSpec(family, 0.75, 1.0, 192, precision), profile)
            assert np.isfinite(est.latency_ms) and est.latency_ms > 0, (profile, precision)
            assert est.total_memory_mb > 0


def test_calibration_draws_keep_mobilenetv4_at_depth_one():
    from edgespace.calibration import draw_specs

    for design in ("lhs", "random", "spread"):
        specs = draw_specs(6, families=("mobilenetv4_conv_small", "efficientnetv2"), design=design, seed=1)
        mnv4 = [s for s in specs if s.family == "mobilenetv4_conv_small"]
        assert mnv4 and all(s.depth == 1.0 for s in mnv4), design
        if design == "lhs":  # a Latin hypercube: the other family's depths still differ
            assert len({s.depth for s in specs if s.family == "efficientnetv2"}) == 3
