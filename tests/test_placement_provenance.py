"""DLA placement on Jetson Orin modes, and the provenance count every estimate carries."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from edgespace import ArchSpec, ProfileError, layer_table
from edgespace.cli import main
from edgespace.cost import estimate, estimate_many
from edgespace.profiles import builtin_profile_dir, load_profile, validate_profile

NX = "jetson-orin-nx-16gb"


def test_dla_placement_runs_on_the_dla_with_gpu_fallback():
    spec = ArchSpec("mobilenetv2", 1.0, 1.0, 224, "int8")
    gpu = estimate(spec, NX, "40W")
    dla = estimate(spec, NX, "40W", placement="dla")
    assert gpu.placement == "auto" and dla.placement == "dla"
    engines = dla.layers.loc[dla.layers["bound"] != "fused", "engine"]
    assert (engines == "dla").mean() > 0.9
    # TensorRT does not map the global average pool to the DLA: it (and what follows) runs on the GPU
    assert dla.fallback_ops == ("global_pool",)
    # the DLA draws less power; at the highest clocks it also spends less energy per frame
    assert dla.avg_power_w < gpu.avg_power_w and dla.energy_mj < gpu.energy_mj
    assert dla.latency_ms > gpu.latency_ms  # ... and is slower than the 8-SM GPU
    assert estimate(spec, NX, "40W", placement="gpu").latency_ms == pytest.approx(gpu.latency_ms)


def test_dla_lacks_fp32_and_hard_activations():
    fp32 = estimate(ArchSpec("mobilenetv2", 1.0, 1.0, 224, "fp32"), NX, "40W", placement="dla")
    assert set(fp32.layers["engine"]) == {"gpu"}  # no FP32 on the DLA: everything falls back
    spec = ArchSpec("mobilenetv3_large", 1.0, 1.0, 224, "fp16")
    v3 = estimate(spec, NX, "40W", placement="dla")
    table = layer_table(spec)
    hard = v3.layers[(table["act"].isin(["hard_swish", "hard_sigmoid"]) & (table["op"] == "act")).to_numpy()]
    assert len(hard) > 10 and set(hard["engine"]) == {"gpu"}
    assert "dla" in set(v3.layers["engine"])  # the convolutions stay on the DLA


def test_estimate_many_over_placements_and_unavailable_placements():
    frame = pd.DataFrame(
        {"family": ["mobilenetv2", "efficientnet"], "width": 1.0, "depth": 1.0, "resolution": 224, "precision": "int8"}
    )
    out = estimate_many(frame, NX, modes=["15W", "40W"], placements=["auto", "dla"])
    assert len(out) == 2 * 2 * 2 and set(out["placement"]) == {"auto", "dla"}
    for row in out.itertuples():
        e = estimate(ArchSpec(row.family, 1.0, 1.0, 224, "int8"), NX, row.mode, placement=row.placement)
        assert row.latency_ms == pytest.approx(e.latency_ms, rel=1e-12)
        assert row.n_estimated_inputs == e.n_estimated_inputs
    with pytest.raises(ProfileError, match=r"mode '15W': placement 'dla': not available; allowed: auto, gpu"):
        estimate_many(frame, "jetson-orin-nano-8gb", modes=["15W"], placements=["dla"])
    with pytest.raises(ProfileError, match="allowed: auto"):
        estimate(ArchSpec("mobilenetv2", 1.0, 1.0, 224, "int8"), "raspberry-pi-5", placement="dla")


def test_estimate_counts_the_estimates_it_used():
    spec = ArchSpec("mobilenetv2", 1.0, 1.0, 224, "fp16")
    e = estimate(spec, "raspberry-pi-5", "active-cooler")
    assert 0 < e.n_estimated_inputs < e.n_inputs
    data = yaml.safe_load((builtin_profile_dir() / "raspberry-pi-5.yaml").read_text())
    cpu = data["modes"]["active-cooler"]["engines"]["cpu"]
    cpu["efficiency"] = {**cpu["efficiency"], "conv": {"value": 0.6, "source": "calibrated from published: a test"}}
    sourced = estimate(spec, validate_profile(data, origin="t.yaml"), "active-cooler")
    assert sourced.n_estimated_inputs == e.n_estimated_inputs - 1 and sourced.n_inputs == e.n_inputs
    assert sourced.to_dict()["n_estimated_inputs"] == sourced.n_estimated_inputs


def test_profiles_show_prints_every_input_with_its_kind(capsys):
    assert main(["profiles", "show", "snapdragon-8-gen-3"]) == 0
    out = capsys.readouterr().out
    p = load_profile("snapdragon-8-gen-3")
    n = len(p.sourced_values())
    assert f"every input ({n} numbers:" in out
    assert out.count("    [estimate] ") + out.count("    [source] ") + out.count("    [calibrated] ") == n
    assert "htp.busy_power_fraction" in out and "htp.efficiency.conv" in out and "htp.units" not in out
    assert "runs: lacks nothing; fp32 runs as fp16" in out and "[hsig] = microsoft/onnxruntime PR #20508" in out


def _with_primary(name: str, mode: str, **fields):
    data = load_profile(name).model_dump(mode="json")
    m = data["modes"][mode]
    eng = dict(m["engines"][m["primary_engine"]])
    eng.update(fields)
    m["engines"] = {**m["engines"], m["primary_engine"]: eng}
    return validate_profile(data, origin=f"{name} (test)")


def test_int8_per_operator_cost_applies_to_int8_kernels_only():
    spec16, spec8 = ArchSpec("mobilenetv2", precision="fp16"), ArchSpec("mobilenetv2", precision="int8")
    kernels = int((estimate(spec8, load_profile("snapdragon-8-gen-3"), "sustained").layers["bound"] != "fused").sum())
    base = _with_primary("snapdragon-8-gen-3", "sustained", dispatch_overhead_us_int8=None)
    cheap = _with_primary(
        "snapdragon-8-gen-3", "sustained", dispatch_overhead_us_int8={"value": 0.0, "estimate": "test"}
    )
    # fp16 kernels keep dispatch_overhead_us; int8 kernels lose exactly their per-operator cost
    assert estimate(spec16, cheap, "sustained").latency_ms == pytest.approx(
        estimate(spec16, base, "sustained").latency_ms
    )
    d_us = base.mode("sustained").engines["htp"].dispatch_overhead_us.value
    saved_ms = estimate(spec8, base, "sustained").latency_ms - estimate(spec8, cheap, "sustained").latency_ms
    assert saved_ms == pytest.approx(kernels * d_us * 1e-3, rel=1e-6)
    # the layer table shows the per-operator cost each int8 kernel paid
    layers = estimate(spec8, load_profile("snapdragon-8-gen-3"), "sustained").layers
    paid = layers.loc[layers["engine"] == "htp", "dispatch_ms"].max() * 1e3
    assert paid == pytest.approx(
        load_profile("snapdragon-8-gen-3").mode("sustained").engines["htp"].dispatch_overhead_us_int8.value
    )


def test_int8_per_operator_cost_is_shown_with_its_provenance(capsys):
    assert main(["profiles", "show", "snapdragon-8-gen-3"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "dispatch_overhead_us_int8" in ln)
    assert "[calibrated]" in line
