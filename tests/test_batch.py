"""Batch size as a spec field: the layer table, liveness, the cost models and estimate_many."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from edgespace import (
    ArchSpec,
    SpecError,
    estimate,
    estimate_many,
    layer_table,
    simulate_thermal,
)
from edgespace._liveness import peak_activation_bytes
from edgespace.layers import CONV_OPS

ACTIVATION_COLUMNS = ("macs", "elem_ops", "input_bytes", "output_bytes")
PER_IMAGE_COLUMNS = ("params", "weight_bytes", "in_c", "in_h", "in_w", "out_c", "out_h", "out_w", "kernel", "stride")


def test_batch_defaults_to_one_and_keeps_batch_one_ids():
    a = ArchSpec("efficientnet", 1.1, 1.2, 260, "fp16")
    assert a.batch == 1
    assert "batch" not in a.to_dict()
    assert a.short_name() == "efficientnet_w1.1_d1.2_r260_fp16"
    b = ArchSpec("efficientnet", 1.1, 1.2, 260, "fp16", batch=32)
    assert b.to_dict()["batch"] == 32
    assert b.short_name() == "efficientnet_w1.1_d1.2_r260_fp16_b32"
    assert ArchSpec(**b.to_dict()) == b and ArchSpec(**a.to_dict()) == a
    assert a != b and ArchSpec("efficientnet", 1.1, 1.2, 260, "fp16", batch=32.0) == b


@pytest.mark.parametrize("bad", [0, -1, 4097, 2.5, "8", True, None, float("nan")])
def test_batch_out_of_range_is_a_one_line_error(bad):
    with pytest.raises(SpecError, match=r"ArchSpec\.batch=.*allowed: 1 to 4096") as info:
        ArchSpec("mobilenetv2", batch=bad)
    assert "\n" not in str(info.value)


def test_onnx_cache_key_ignores_batch(tmp_path):
    from edgespace.runners._export import cached_onnx_path

    spec = ArchSpec("mobilenetv2", 0.5, 1.0, 128)
    assert cached_onnx_path(spec, tmp_path) == cached_onnx_path(
        ArchSpec("mobilenetv2", 0.5, 1.0, 128, batch=8), tmp_path
    )


@pytest.mark.parametrize(
    "spec",
    [ArchSpec("efficientnet", 1.1, 1.2, 260, "fp16"), ArchSpec("mobilenetv3_small", 0.75, 1.0, 160)],
    ids=lambda s: s.family,
)
def test_batch_8_table_scales_activations_and_keeps_weights(spec):
    one = layer_table(spec)
    eight = layer_table(ArchSpec(**{**spec.to_dict(), "batch": 8}))
    assert len(one) == len(eight)
    for col in ACTIVATION_COLUMNS:
        assert (eight[col].to_numpy() == 8 * one[col].to_numpy()).all(), col
    for col in PER_IMAGE_COLUMNS:
        assert (eight[col].to_numpy() == one[col].to_numpy()).all(), col
    assert list(eight["reads"]) == list(one["reads"])
    # Liveness over the batch-8 table: eight images' tensors are live at once.
    assert peak_activation_bytes(eight) == 8 * peak_activation_bytes(one)
    assert eight.attrs["spec"]["batch"] == 8


def test_batch_4_macs_match_fvcore_on_the_real_module():
    torch = pytest.importorskip("torch")
    from fvcore.nn import FlopCountAnalysis

    from edgespace import build

    spec = ArchSpec("mobilenetv3_small", 0.5, 1.0, 96, batch=4)
    torch.manual_seed(0)
    model = build(spec)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    counts = FlopCountAnalysis(model, torch.zeros(spec.batch, 3, spec.resolution, spec.resolution))
    counts.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_operator = dict(counts.by_operator())
    table = layer_table(spec)
    conv = table["op"].isin(CONV_OPS) & (table["op"] != "linear")
    assert int(table.loc[conv, "macs"].sum()) == by_operator["conv"]
    assert int(table.loc[table["op"] == "linear", "macs"].sum()) == by_operator["linear"]
    # ... and the module's parameters are the batch-1 table's (read once per call).
    assert int(table["params"].sum()) == sum(p.numel() for p in model.parameters())


def _at(spec: ArchSpec, batch: int) -> ArchSpec:
    return ArchSpec(**{**spec.to_dict(), "batch": batch})


def test_gpu_energy_per_image_falls_and_throughput_rises_with_batch():
    spec = ArchSpec("efficientnet", 1.0, 1.0, 224, "fp16")
    ests = [estimate(_at(spec, b), "nvidia-h100") for b in (1, 8, 32, 128)]
    lat = np.array([e.latency_ms for e in ests])
    energy = np.array([e.energy_mj for e in ests])
    tput = np.array([e.throughput_fps for e in ests])
    assert (np.diff(lat) > 0).all()  # a bigger call takes longer ...
    assert (np.diff(tput) > 0).all()  # ... but moves more images per second
    assert (np.diff(energy) < 0).all()  # and the fixed costs are shared: less energy per image
    assert energy[-1] < 0.5 * energy[0]
    for e, b in zip(ests, (1, 8, 32, 128), strict=True):
        assert e.throughput_fps == pytest.approx(b / e.latency_ms * 1e3)
        assert e.fps == e.throughput_fps
        assert e.inferences_per_joule == pytest.approx(1e3 / e.energy_mj)
        assert e.weights_mb == ests[0].weights_mb
        assert e.peak_activation_mb == pytest.approx(b * ests[0].peak_activation_mb)
        assert e.macs == b * ests[0].macs
    # Back-to-back power is energy per call over the call's time, whatever the batch.
    for e, b in zip(ests, (1, 8, 32, 128), strict=True):
        assert e.avg_power_w == pytest.approx(e.energy_mj * b / e.latency_ms)


def test_memory_fits_at_each_batch():
    spec = ArchSpec("efficientnet", 2.0, 3.1, 600, "fp16")
    assert estimate(spec, "jetson-nano-4gb").fits_memory
    big = estimate(_at(spec, 256), "jetson-nano-4gb")
    assert not big.fits_memory and big.total_memory_mb > 4000


def test_sustained_figures_are_per_image_and_per_call():
    spec = ArchSpec("mobilenetv2", 1.0, 1.0, 224, "fp16", batch=16)
    e = estimate(spec, "jetson-orin-nano-8gb")
    assert e.sustained_fps <= e.fps * (1 + 1e-9)
    assert e.sustained_latency_ms == pytest.approx(1e3 * 16 / e.sustained_fps)
    assert e.sustained_energy_mj == pytest.approx(e.sustained_power_w / e.sustained_fps * 1e3)
    series = simulate_thermal(spec, "jetson-orin-nano-8gb", duration_s=5, dt_s=1.0)
    assert series["fps"].iloc[0] == pytest.approx(e.fps)


def test_estimate_many_batch_column_matches_estimate():
    specs = [ArchSpec("efficientnet", 1.0, 1.0, r, "fp16", batch=b) for r in (192, 224) for b in (1, 8, 32)]
    specs.append(ArchSpec("mobilenetv3_large", 0.75, 1.0, 160, "fp32", batch=4))
    frame = estimate_many(specs, "nvidia-h100", "700W")
    assert list(frame["batch"]) == [s.batch for s in specs]
    for spec, row in zip(specs, frame.itertuples(), strict=True):
        e = estimate(spec, "nvidia-h100")
        for col in (
            "latency_ms",
            "energy_mj",
            "throughput_fps",
            "peak_activation_mb",
            "fits_memory",
            "macs",
            "sustained_fps",
            "sustained_energy_mj",
        ):
            assert getattr(row, col) == pytest.approx(getattr(e, col)), (spec.short_name(), col)
    # No batch column: batch 1, and the frame gains no column it was not given.
    plain = pd.DataFrame(
        [{"family": "mobilenetv2", "width": 1.0, "depth": 1.0, "resolution": 224, "precision": "fp16"}]
    )
    out = estimate_many(plain, "nvidia-h100", "700W")
    assert "batch" not in out.columns
    assert out["latency_ms"].iloc[0] == pytest.approx(
        estimate(ArchSpec("mobilenetv2", precision="fp16"), "nvidia-h100").latency_ms
    )


@pytest.mark.parametrize("bad", [0, 5000, 1.5, "x"])
def test_estimate_many_rejects_a_bad_batch(bad):
    frame = pd.DataFrame(
        [{"family": "mobilenetv2", "width": 1.0, "depth": 1.0, "resolution": 224, "precision": "fp16", "batch": bad}]
    )
    with pytest.raises(SpecError, match=r"row 0: batch=.*allowed: an integer 1 to 4096"):
        estimate_many(frame, "nvidia-h100")


# --- batch as a search dimension ----------------------------------------------------------------------


def _small_space(batches=(1, 8, 32)):
    from edgespace.study import MobileNetSpace

    return MobileNetSpace(
        families=("mobilenetv2",),
        widths=(0.5, 1.0),
        width_step=0.25,
        resolutions=(160, 224),
        resolution_step=64,
        precisions=("fp16",),
        batches=batches,
    )


def test_space_batches_dimension_and_its_record():
    from edgespace.profiles import load_profile
    from edgespace.study import MobileNetSpace, SearchError
    from edgespace.study._named_space import space_from_dict

    prof = load_profile("nvidia-h200")
    s = _small_space()
    assert s.size(prof) == 3 * 2 * 3 and len(s.grid(prof)) == 18
    assert sorted(set(s.grid(prof)["batch"])) == [1, 8, 32]
    assert "batch" in s.distributions(prof) and space_from_dict(s.to_dict()) == s
    assert (
        s.decode(
            {"family": "mobilenetv2", "width": 0.5, "resolution": 160, "precision": "fp16", "batch": 8, "mode": "700W"}
        )["batch"]
        == 8
    )
    # batch 1 only: no new parameter and the same record as before, so stored studies keep their names
    plain = MobileNetSpace()
    assert "batch" not in plain.distributions(prof) and "batches" not in plain.to_dict()
    assert (
        plain.decode({"family": "mobilenetv2", "width": 0.5, "resolution": 160, "precision": "fp16", "mode": "700W"})[
            "batch"
        ]
        == 1
    )
    assert (s | plain).batches == (1, 8, 32)
    for bad in ((), (0,), (1, 5000), (2.5,), ("8",)):
        with pytest.raises(SearchError, match=r"MobileNetSpace\(batches\)"):
            MobileNetSpace(batches=bad)


def test_screen_over_batches_costs_per_image_and_constrains_on_batch():
    from edgespace.study import screen

    frame = screen(
        _small_space(),
        "nvidia-h200",
        objectives=["accuracy", "energy_mj"],
        constraints=["batch <= 8", "throughput_fps >= 1000"],
    )
    assert len(frame) == 18
    for _, group in frame.groupby(["width", "resolution"]):
        g = group.sort_values("batch")
        assert list(g["batch"]) == [1, 8, 32]
        assert (np.diff(g["energy_mj"]) < 0).all() and (np.diff(g["throughput_fps"]) > 0).all()
        assert g["accuracy"].nunique() == 1  # batch changes the cost, not the accuracy
        one = estimate(
            ArchSpec("mobilenetv2", g["width"].iloc[2], 1.0, int(g["resolution"].iloc[2]), "fp16", batch=32),
            "nvidia-h200",
        )
        assert g["latency_ms"].iloc[2] == pytest.approx(one.latency_ms)
    assert not frame.loc[frame["batch"] == 32, "feasible"].any()
    assert frame.loc[frame["batch"] <= 8, "feasible"].any()


def test_search_samples_the_batch_dimension():
    from edgespace.study import search

    result = search(
        _small_space(),
        "nvidia-h200",
        ["accuracy", "energy_mj"],
        ["latency_ms <= 5"],
        n_trials=24,
        sampler="random",
        seed=1,
        population_size=8,
    )
    trials = result.trials_frame()
    assert set(trials["batch"]) <= {1, 8, 32} and trials["batch"].nunique() > 1
    assert set(trials["params_batch"]) == set(trials["batch"])
    front = result.pareto_front()
    assert len(front) >= 1 and "batch" in front.columns


def test_cli_batch_options_reject_bad_values(capsys):
    from edgespace.cli import main

    assert (
        main(["search", "--profile", "nvidia-h200", "--space", "mobilenetv2", "--batches", "1,x", "--trials", "5"]) == 2
    )
    assert "--batches '1,x': allowed: comma-separated integers 1 to 4096" in capsys.readouterr().err
    assert (
        main(["search", "--profile", "nvidia-h200", "--space", "mobilenetv2", "--batches", "0", "--trials", "5"]) == 2
    )
    assert "batches" in capsys.readouterr().err
    assert main(["estimate", "--profile", "nvidia-h200", "--family", "mobilenetv2", "--batch", "5000"]) == 2
    assert "ArchSpec.batch=5000 is out of range" in capsys.readouterr().err


@pytest.mark.parametrize("profile", ["nvidia-h200", "jetson-orin-nano-8gb"])
def test_memory_traffic_is_per_call_at_batch(profile):
    """Each kernel moves its activations for every image of the call (and its weights once): the
    roofline's memory time and the bytes it reports scale together with the batch."""
    from edgespace.cost._params import compile_mode
    from edgespace.profiles import load_profile

    prof = load_profile(profile)
    bw = compile_mode(prof.mode()).bandwidth_bytes_per_s
    spec = ArchSpec("mobilenetv2", 1.0, 1.0, 224, "fp16")
    one = estimate(spec, prof).layers
    eight = estimate(_at(spec, 8), prof).layers
    active = (one["bound"] != "fused").to_numpy()
    for layers in (one, eight):
        assert np.allclose(
            layers["memory_ms"].to_numpy()[active] * 1e-3 * bw, layers["bytes"].to_numpy()[active], rtol=1e-9
        )
    w = estimate(spec, prof).weights_mb * 1e6
    assert eight["bytes"].sum() == pytest.approx(8 * one["bytes"].sum() - 7 * w, rel=0.02)
