"""The placement dimension of a search space (Jetson Orin: GPU or DLA with GPU fallback)."""

from __future__ import annotations

import pytest

from edgespace import ArchSpec
from edgespace.cost import estimate
from edgespace.profiles import load_profile
from edgespace.study import MobileNetSpace, search
from edgespace.study._errors import SearchError
from edgespace.study._evaluate import evaluate_points
from edgespace.study._named_space import space_from_dict

NX = "jetson-orin-nx-16gb"


def _space(**kw):
    return MobileNetSpace(
        families=("mobilenetv2",),
        widths=(0.5, 1.0),
        width_step=0.5,
        resolutions=(160, 224),
        resolution_step=64,
        precisions=("int8",),
        modes=("15W", "40W"),
        **kw,
    )


def test_placement_is_a_dimension_only_when_asked_for():
    profile = load_profile(NX)
    plain, placed = _space(), _space(placements=("auto", "dla"))
    assert "placement" not in plain.distributions(profile)
    assert set(plain.grid(profile)["placement"]) == {"auto"}
    assert placed.distributions(profile)["placement"].choices == ("auto", "dla")
    grid = placed.grid(profile)
    assert placed.size(profile) == len(grid) == 2 * plain.size(profile)
    assert space_from_dict(placed.to_dict()).placements == ("auto", "dla")
    assert "placements" not in plain.to_dict()  # studies stored before placements read back unchanged
    with pytest.raises(SearchError, match=r"placement 'dla' is not available in jetson-orin-nano-8gb mode '15W'"):
        MobileNetSpace(modes=("15W",), placements=("dla",)).grid(load_profile("jetson-orin-nano-8gb"))
    with pytest.raises(SearchError, match="allowed: auto, gpu, dla"):
        _space(placements=("npu",))


def test_evaluated_points_follow_their_placement():
    profile = load_profile(NX)
    grid = _space(placements=("auto", "dla")).grid(profile)
    out = evaluate_points(grid, profile)
    for row in out.sample(6, random_state=0).itertuples():
        e = estimate(
            ArchSpec(row.family, row.width, row.depth, row.resolution, row.precision),
            profile,
            row.mode,
            placement=row.placement,
        )
        assert row.latency_ms == pytest.approx(e.latency_ms, rel=1e-12)
        assert row.n_estimated_inputs == e.n_estimated_inputs
    dla = out[out["placement"] == "dla"]["avg_power_w"].to_numpy()
    gpu = out[out["placement"] == "auto"]["avg_power_w"].to_numpy()
    assert (dla < gpu).all()  # the DLA is the low-power placement


def test_a_search_over_placements_reports_them():
    r = search(
        _space(placements=("auto", "dla")), NX, ["accuracy", "energy_mj"], sampler="grid", storage="memory", seed=0
    )
    frame = r.trials_frame(complete_only=True)
    assert set(frame["placement"]) == {"auto", "dla"} and "n_estimated_inputs" in frame.columns
    assert set(r.pareto_front()["placement"]) <= {"auto", "dla"}
