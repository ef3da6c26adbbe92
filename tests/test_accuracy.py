"""The accuracy models: published-results fit, int8 penalty, evaluator cache, ImageFolder proxy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import edgespace
from edgespace import ArchSpec, SpecError, mobilenet
from edgespace.accuracy import (
    AccuracyEstimate,
    AccuracyModel,
    EvaluatorAccuracy,
    ImageFolderProxy,
    PublishedAccuracy,
    load_published,
    predict_accuracy,
    predict_many,
)
from edgespace.accuracy._quant import INT8_DROP
from edgespace.spec import efficientnet_preset

BUILDABLE = ("efficientnet", "mobilenetv2", "mobilenetv3_large", "mobilenetv3_small")


# ----------------------------------------------------------------------------- the data


def test_every_row_has_a_source_and_plausible_numbers():
    table = load_published()
    assert (table["source"].str.len() > 10).all()
    assert table["top1"].between(30, 90).all()
    assert ((table["top5"] > table["top1"]) | table["top5"].isna()).all()
    assert set(table["recipe"]) <= {"reference", "timm_eval", "timm_train"}
    # the published figures this model is judged against are in the table verbatim
    ref = table[table["recipe"] == "reference"].set_index("variant")
    assert ref.loc["efficientnet-b0", "top1"] == 77.1
    assert ref.loc["mobilenet_v2_1.0_224", "top1"] == 71.8


def test_table_ships_as_package_data():
    from importlib import resources

    assert resources.files("edgespace.data").joinpath("published_imagenet.csv").is_file()


# ----------------------------------------------------------------------------- published model


@pytest.mark.parametrize(
    ("spec", "published"),
    [(efficientnet_preset("b0"), 77.1), (mobilenet("mobilenetv2", 1.0, 224), 71.8)],
    ids=["efficientnet-b0", "mobilenetv2-1.0-224"],
)
def test_published_anchors_within_half_a_point(spec, published):
    est = predict_accuracy(spec)
    assert isinstance(est, AccuracyEstimate)
    assert abs(est.top1 - published) <= 0.5
    assert est.in_range


def test_fit_follows_every_authors_row_of_buildable_families():
    table = load_published()
    ref = table[(table["recipe"] == "reference") & (table["precision"] == "fp32") & table["family"].isin(BUILDABLE)]
    errors = [
        predict_accuracy(ArchSpec(r.family, r.width, r.depth, r.resolution)).top1 - r.top1 for r in ref.itertuples()
    ]
    assert np.mean(np.abs(errors)) < 0.7
    assert np.max(np.abs(errors)) < 2.5


@pytest.mark.parametrize("family", BUILDABLE)
def test_monotone_in_resolution_and_width(family):
    resolutions = np.arange(96, 321, 8)
    top1 = [predict_accuracy(ArchSpec(family, 1.0, 1.0, int(r))).top1 for r in resolutions]
    assert np.all(np.diff(top1) > 0)
    widths = np.round(np.arange(0.35, 1.45, 0.05), 2)
    top1 = [predict_accuracy(ArchSpec(family, float(w), 1.0, 224)).top1 for w in widths]
    assert np.all(np.diff(top1) >= 0)  # equal only where timm's channel rounding gives the same net
    assert top1[-1] - top1[0] > 3


def test_monotone_in_depth_and_saturating_for_efficientnet():
    top1 = [predict_accuracy(ArchSpec("efficientnet", 1.0, float(d), 224)).top1 for d in (0.5, 1.0, 1.5, 2.0, 3.0)]
    assert np.all(np.diff(top1) > 0)
    b = [predict_accuracy(efficientnet_preset(f"b{i}")).top1 for i in range(8)]
    assert np.all(np.diff(b) > 0)
    assert b[1] - b[0] > b[7] - b[6]  # diminishing returns


def test_uncertainty_widens_outside_the_data():
    inside = predict_accuracy(mobilenet("mobilenetv2", 0.75, 192))
    beyond = predict_accuracy(mobilenet("mobilenetv2", 2.5, 448))
    far_below = predict_accuracy(mobilenet("mobilenetv2", 0.15, 64))
    assert inside.in_range and not beyond.in_range and not far_below.in_range
    assert beyond.top1_std > inside.top1_std + 1.0
    assert far_below.top1_std > inside.top1_std + 1.0
    # off the compound-scaling curve of the EfficientNet data: wide and shallow
    off_curve = predict_accuracy(ArchSpec("efficientnet", 2.0, 1.0, 224))
    assert off_curve.top1_std > predict_accuracy(efficientnet_preset("b3")).top1_std


def test_fp16_equals_fp32_and_int8_costs_more_for_silu_se_families():
    for family in BUILDABLE:
        fp32 = predict_accuracy(ArchSpec(family, 1.0, 1.0, 224))
        fp16 = predict_accuracy(ArchSpec(family, 1.0, 1.0, 224, precision="fp16"))
        int8 = predict_accuracy(ArchSpec(family, 1.0, 1.0, 224, precision="int8"))
        assert fp16.top1 == fp32.top1
        assert int8.top1 < fp32.top1
        assert int8.top1_std > fp32.top1_std
    drop = {
        f: predict_accuracy(ArchSpec(f, 1.0, 1.0, 224)).top1
        - predict_accuracy(ArchSpec(f, 1.0, 1.0, 224, precision="int8")).top1
        for f in BUILDABLE
    }
    # ReLU6 MobileNetV2 loses least; SiLU+SE EfficientNet and hard-swish+SE MobileNetV3 lose more
    assert drop["mobilenetv2"] < drop["efficientnet"]
    assert drop["mobilenetv2"] < drop["mobilenetv3_large"] < drop["mobilenetv3_small"]
    # the MobileNetV3 drops are the published 8-bit checkpoints'
    table = load_published().set_index("variant")
    for family, fl, q in (
        ("mobilenetv3_large", "Large dm=1 (float)", "Large dm=1 (8-bit)"),
        ("mobilenetv3_small", "Small dm=1 (float)", "Small dm=1 (8-bit)"),
    ):
        assert drop[family] == pytest.approx(table.loc[fl, "top1"] - table.loc[q, "top1"], abs=1e-9)


def test_qat_loses_no_more_than_ptq_and_narrow_nets_lose_more():
    for family in BUILDABLE:
        spec = ArchSpec(family, 1.0, 1.0, 224, precision="int8")
        assert predict_accuracy(spec, quantization="qat").top1 >= predict_accuracy(spec, quantization="ptq").top1
        assert INT8_DROP[family].qat <= INT8_DROP[family].ptq

    def drop(w):
        return (
            predict_accuracy(mobilenet("mobilenetv2", w, 224)).top1
            - predict_accuracy(mobilenet("mobilenetv2", w, 224, precision="int8")).top1
        )

    assert drop(0.35) > drop(1.0) > drop(1.4)


def test_predict_many_matches_predict_and_is_fast():
    specs = [
        mobilenet("mobilenetv2", 0.5, 160),
        efficientnet_preset("b2", precision="int8"),
        ArchSpec("mobilenetv3_small", 0.75, 1.0, 192, precision="fp16"),
        mobilenet("mobilenetv3_large", 1.0, 256),
    ]
    frame = pd.DataFrame([s.to_dict() for s in specs], index=list("abcd"))
    out = predict_many(frame)
    assert list(out.index) == list("abcd")
    for key, spec in zip("abcd", specs, strict=True):
        one = predict_accuracy(spec)
        assert out.loc[key, "top1"] == pytest.approx(one.top1, abs=1e-9)
        assert out.loc[key, "top1_std"] == pytest.approx(one.top1_std, abs=1e-9)
        assert bool(out.loc[key, "in_range"]) == one.in_range
    import time

    big = pd.DataFrame(
        {
            "family": "mobilenetv2",
            "width": np.repeat([0.5, 0.75, 1.0, 1.25], 250),
            "resolution": np.tile(np.arange(96, 346, 1), 4),
        }
    )
    predict_many(big)
    t = time.perf_counter()
    predict_many(big)
    assert (time.perf_counter() - t) / len(big) < 1e-3


def test_single_prediction_is_fast_after_the_first():
    import time

    spec = mobilenet("mobilenetv2", 0.75, 192)
    predict_accuracy(spec)
    t = time.perf_counter()
    for _ in range(200):
        predict_accuracy(spec)
    assert (time.perf_counter() - t) / 200 < 1e-3


def test_bad_input_names_the_field_value_and_allowed():
    with pytest.raises(SpecError, match=r"quantization='int4'.*allowed: ptq, qat"):
        predict_accuracy(efficientnet_preset("b0", precision="int8"), quantization="int4")
    with pytest.raises(TypeError, match="ArchSpec"):
        predict_accuracy("efficientnet_b0")
    with pytest.raises(SpecError, match=r"width=9\.0.*allowed"):
        predict_many(pd.DataFrame({"family": ["mobilenetv2"], "width": [9.0], "resolution": [224]}))
    with pytest.raises(SpecError, match=r"family='resnet50'.*allowed: efficientnet"):
        predict_many(pd.DataFrame({"family": ["resnet50"], "width": [1.0], "resolution": [224]}))
    with pytest.raises(SpecError, match=r"precision='bf16'.*allowed: fp32, fp16, int8"):
        predict_many(
            pd.DataFrame({"family": ["mobilenetv2"], "width": [1.0], "resolution": [224], "precision": ["bf16"]})
        )
    with pytest.raises(SpecError, match="lacks columns"):
        predict_many(pd.DataFrame({"family": ["mobilenetv2"]}))
    assert issubclass(SpecError, ValueError)


def test_public_names():
    import edgespace.accuracy

    assert "predict_accuracy" in edgespace.__all__ and edgespace.predict_accuracy is predict_accuracy
    # the rest of the accuracy vocabulary lives in its package
    for name in (
        "AccuracyModel",
        "PublishedAccuracy",
        "EvaluatorAccuracy",
        "ImageFolderProxy",
        "AccuracyEstimate",
        "predict_many",
    ):
        assert name in edgespace.accuracy.__all__ and getattr(edgespace.accuracy, name) is not None
    assert isinstance(PublishedAccuracy(), AccuracyModel)


# ----------------------------------------------------------------------------- evaluator


def _fake_build(spec):
    return {"built": spec.short_name()}


def test_evaluator_cache_hit_avoids_a_second_call(tmp_path):
    seen = []

    def fn(model, spec):
        seen.append((model["built"], spec))
        return 42.0 + spec.width

    cache = tmp_path / "acc.json"
    ev = EvaluatorAccuracy(fn, name="toy", version="1", cache_path=cache, build=_fake_build)
    assert isinstance(ev, AccuracyModel)
    spec = mobilenet("mobilenetv2", 0.5, 128)
    first = ev.predict(spec)
    assert first.top1 == 42.5 and len(seen) == 1
    assert seen[0][0] == spec.short_name()
    # a fresh object on the same file: answered from disk, fn not called
    again = EvaluatorAccuracy(fn, name="toy", version="1", cache_path=cache, build=_fake_build).predict(spec)
    assert again.top1 == 42.5 and len(seen) == 1 and "cached" in again.source
    stored = json.loads(cache.read_text())
    assert len(stored) == 1 and next(iter(stored.values()))["spec"] == spec.to_dict()
    # other spec, other version, other name: each is a miss
    ev.predict(mobilenet("mobilenetv2", 0.5, 160))
    EvaluatorAccuracy(fn, name="toy", version="2", cache_path=cache, build=_fake_build).predict(spec)
    EvaluatorAccuracy(fn, name="other", version="1", cache_path=cache, build=_fake_build).predict(spec)
    assert len(seen) == 4
    assert len(json.loads(cache.read_text())) == 4


def test_evaluator_rejects_bad_results_and_bad_cache(tmp_path):
    ev = EvaluatorAccuracy(lambda m, s: 0.93, name="fraction", cache_path=tmp_path / "c.json", build=_fake_build)
    assert ev.predict(mobilenet("mobilenetv2")).top1 == 0.93  # a fraction is still a valid percent
    bad = EvaluatorAccuracy(lambda m, s: 140.0, name="bad", cache_path=tmp_path / "c.json", build=_fake_build)
    with pytest.raises(ValueError, match=r"'bad' returned 140\.0.*0 to 100"):
        bad.predict(mobilenet("mobilenetv2"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SpecError, match="not valid JSON"):
        EvaluatorAccuracy(lambda m, s: 1.0, name="x", cache_path=broken, build=_fake_build).predict(
            mobilenet("mobilenetv2")
        )
    with pytest.raises(ValueError, match="name"):
        EvaluatorAccuracy(lambda m, s: 1.0, name="")


# ----------------------------------------------------------------------------- ImageFolder proxy


def _colour_folder(root, per_class=12, size=64, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}
    for name, rgb in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = np.clip(np.array(rgb)[None, None, :] + rng.normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root


def test_image_folder_proxy_learns_a_separable_task(tmp_path):
    torch = pytest.importorskip("torch")
    root = _colour_folder(tmp_path / "colours")
    threads = torch.get_num_threads()
    proxy = ImageFolderProxy(root, steps=40, batch_size=12, num_threads=1, seed=0)

    def seeded_build(spec):  # random initial weights, but the same ones on every run
        torch.manual_seed(0)
        return edgespace.build(spec)

    ev = EvaluatorAccuracy(proxy, name="colours", cache_path=tmp_path / "cache.json", build=seeded_build)
    spec = ArchSpec("mobilenetv3_small", 0.5, 1.0, 64, num_classes=3)
    est = ev.predict(spec)
    assert torch.get_num_threads() == threads  # restored
    # 3 classes: chance is 33%; the held-out set is 3 images per class
    assert est.top1 >= 66.0
    losses = np.array(proxy.last_losses)
    assert len(losses) == 40
    # medians: the switch to frozen batch-norm statistics makes a step or two spike
    assert np.median(losses[-10:]) < 0.5 * losses[0]
    assert ev.predict(spec).top1 == est.top1 and ev.calls == 1


def test_image_folder_proxy_bad_input(tmp_path):
    with pytest.raises(SpecError, match="no such directory"):
        ImageFolderProxy(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"steps=0.*allowed"):
        ImageFolderProxy(tmp_path, steps=0)


def test_evaluator_builds_the_real_model_by_default(tmp_path):
    pytest.importorskip("torch")
    seen = {}

    def fn(model, spec):
        seen["classes"] = model.num_classes
        seen["params"] = sum(p.numel() for p in model.parameters())
        return 50.0

    spec = ArchSpec("mobilenetv3_small", 0.5, 1.0, 96, num_classes=10)
    assert EvaluatorAccuracy(fn, name="count", cache_path=tmp_path / "c.json").predict(spec).top1 == 50.0
    assert seen["classes"] == 10
    assert seen["params"] == int(edgespace.layer_table(spec)["params"].sum())


@pytest.mark.parametrize(
    "family, width, timm_name",
    [
        ("mobilenetv4_conv_small", 0.5, "mobilenetv4_conv_small_050"),
        ("mobilenetv3_small", 1.0, "mobilenetv3_small_100"),
        ("efficientnet", 1.0, "efficientnet_b0"),
    ],
)
def test_the_parameter_feature_counts_the_layers_before_the_global_pool(family, width, timm_name):
    import timm
    from timm.models.mobilenetv3 import MobileNetV3

    from edgespace.accuracy._published_fit import _macs_params

    model = timm.create_model(timm_name)
    # timm's MobileNetV3 class applies its 1x1 conv head after the pool; EfficientNet before it
    after_pool = ("conv_head.", "norm_head.", "classifier.") if isinstance(model, MobileNetV3) else ("classifier.",)
    body = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(after_pool))
    assert _macs_params(family, width, 1.0, 224)[1] == body < sum(p.numel() for p in model.parameters())


def test_family_parameter_slopes_are_pulled_toward_the_shared_one():
    from edgespace.accuracy._published_fit import fit_published

    t = fit_published().top1
    shared = t.shape[1]
    # two widths in its rows: its own, steeper slope; one width only: the shared slope
    assert t.params_slope["mobilenetv4_conv_small"] > shared + 0.02
    assert abs(t.params_slope["mobilenetv4_conv_medium"] - shared) < 1e-3
    assert min(t.params_slope.values()) >= 0.0
