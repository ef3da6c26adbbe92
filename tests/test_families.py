"""The newer families (EfficientNetV2): timm's named models, ONNX Runtime at fp32 and int8,
published accuracy with its leave-one-out error, and the search spaces that hold them."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
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
from edgespace.spec import efficientnet, efficientnetv2_preset
from edgespace.study import named_space, search, space_from_dict

NEW_FAMILIES = ("efficientnetv2",)


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
    spec = es.ArchSpec(family, 0.5, 0.5, 96)
    torch.manual_seed(0)
    model = es.build(spec)
    path = es.export_onnx(spec, tmp_path / "model.onnx", model=model)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(8, 3, 96, 96)).astype(np.uint8)
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


def test_efficientnetv2_accuracy_leave_one_out_within_one_point():
    table = load_published()
    rows = fit_published(table).rows
    fam = rows[rows["family"] == "efficientnetv2"]
    assert len(fam) >= 4
    errors = []
    for idx in fam.index:
        fit = fit_published(table, exclude=[idx])
        t = fit.top1
        offset = t.family_offset["efficientnetv2"] + t.recipe_offset[rows.at[idx, "recipe"]]
        pred = _curve(t.shape, np.array([offset]), rows.loc[[idx], "lm"].to_numpy(), rows.loc[[idx], "lp"].to_numpy())
        errors.append(abs(float(pred[0]) - rows.at[idx, "top1"]))
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


def test_search_over_the_default_space_visits_efficientnetv2():
    result = search("all", "snapdragon-8-gen-3", ["accuracy", "sustained_latency_ms"], n_trials=60, seed=0)
    assert "efficientnetv2" in set(result.trials_frame(complete_only=True)["family"])
