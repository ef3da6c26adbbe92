"""Search: spaces, objectives, constraints, fronts, hypervolume, resume, CLI (in-process, fast)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import edgespace as es
from edgespace.cli import main
from edgespace.study import (
    OBJECTIVES,
    EfficientNetSpace,
    MobileNetSpace,
    SearchError,
    UnionSpace,
    hypervolume,
    named_space,
    screen,
    search,
    space_from_dict,
)
from edgespace.study._objectives import parse_constraints, parse_objectives
from edgespace.study._pareto import nondominated

PROFILE = "jetson-orin-nano-8gb"
SMALL = MobileNetSpace(
    families=("mobilenetv2",), widths=(0.5, 1.0), width_step=0.25, resolutions=(128, 224), resolution_step=32
)


@pytest.fixture(scope="module")
def profile():
    return es.load_profile(PROFILE)


# ----------------------------------------------------------------------------- spaces


def test_space_grid_sizes_and_dimensions(profile):
    assert SMALL.size(profile) == 3 * 4 * 3 * len(profile.modes)
    grid = SMALL.grid(profile)
    assert len(grid) == SMALL.size(profile)
    assert set(grid["mode"]) == set(profile.modes) and set(grid["precision"]) == {"fp32", "fp16", "int8"}
    assert sorted(grid["resolution"].unique()) == [128, 160, 192, 224]
    eff = EfficientNetSpace(phi=(0.0, 1.0), phi_step=0.5, precisions=("int8",), modes=("15W",))
    g = eff.grid(profile)
    assert len(g) == 3 and list(g["resolution"]) == [224, 240, 256]  # 224·1.15^φ rounded to 8
    assert np.allclose(g["width"], [1.0, 1.1**0.5, 1.1], atol=1e-4)
    free = EfficientNetSpace(
        phi=None, widths=(1.0, 1.2), width_step=0.1, depths=(1.0, 1.0), resolutions=(224, 256), resolution_step=16
    )
    assert free.size(profile) == 3 * 1 * 3 * 3 * len(profile.modes)


def test_union_space_static_params_and_roundtrip(profile):
    u = EfficientNetSpace(phi=(0, 1), phi_step=0.5) | SMALL
    assert isinstance(u, UnionSpace) and u.size(profile) == EfficientNetSpace(phi=(0, 1), phi_step=0.5).size(
        profile
    ) + SMALL.size(profile)
    d = u.distributions(profile)
    assert "space" in d and "efficientnet.phi" in d and "mobilenetv2.width" in d and "mobilenetv2.mode" in d
    point = u.decode(
        {
            "space": "mobilenetv2",
            "efficientnet.phi": 0.5,
            "efficientnet.precision": "fp32",
            "efficientnet.mode": "7W",
            "mobilenetv2.family": "mobilenetv2",
            "mobilenetv2.width": 0.75,
            "mobilenetv2.resolution": 160,
            "mobilenetv2.precision": "int8",
            "mobilenetv2.mode": "25W",
        }
    )
    assert (
        point["family"] == "mobilenetv2"
        and point["width"] == 0.75
        and point["precision"] == "int8"
        and point["mode"] == "25W"
    )
    assert space_from_dict(json.loads(json.dumps(u.to_dict()))) == u
    assert space_from_dict(EfficientNetSpace(phi=None).to_dict()) == EfficientNetSpace(phi=None)
    assert (
        named_space("all").size(profile)
        > named_space("mobilenet").size(profile)
        > named_space("mobilenetv2").size(profile)
    )


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MobileNetSpace(families=("resnet50",)), "allowed: mobilenetv2"),
        (lambda: MobileNetSpace(widths=(0.5, 9.0)), "widths"),
        (lambda: MobileNetSpace(resolutions=(96, 200), resolution_step=0), "step"),
        (lambda: EfficientNetSpace(precisions=("int4",)), "int4"),
        (lambda: named_space("resnet"), "allowed: efficientnet"),
    ],
)
def test_bad_space_errors(make, match):
    with pytest.raises(SearchError, match=match):
        make()


def test_bad_mode_names_the_profile_modes(profile):
    with pytest.raises(SearchError, match="allowed: 7W, 15W"):
        search(MobileNetSpace(modes=("99W",)), profile, n_trials=1, storage="memory")


# ----------------------------------------------------------------------------- objectives and constraints


def test_objectives_and_directions():
    objs = parse_objectives("accuracy,energy_mj,sustained_fps,sustained_latency_ms")
    assert [o.direction for o in objs] == ["maximize", "minimize", "maximize", "minimize"]
    for name in ("accuracy", "accuracy_per_joule", "sustained_fps"):
        assert OBJECTIVES[name] == "maximize"
    for name in ("energy_mj", "latency_ms", "sustained_latency_ms", "total_memory_mb"):
        assert OBJECTIVES[name] == "minimize"
    with pytest.raises(SearchError, match="allowed: accuracy"):
        parse_objectives("accuracy,flops")
    with pytest.raises(SearchError):
        parse_objectives("")


def test_study_directions_follow_objectives(profile):
    r = search(
        SMALL, profile, ["accuracy_per_joule", "latency_ms"], n_trials=20, sampler="random", storage="memory", seed=0
    )
    assert [d.name for d in r.study.directions] == ["MAXIMIZE", "MINIMIZE"]
    done = r.trials_frame(complete_only=True)
    values = np.array([t.values for t in r.study.trials])
    assert np.allclose(values[:, 0], done["accuracy_per_joule"]) and np.allclose(values[:, 1], done["latency_ms"])


def test_constraint_parsing():
    c = parse_constraints(
        ["sustained_latency_ms<=33", "33 >= latency_ms", "fits_memory", "not fits_memory", "energy_mj < 7e1"]
    )
    assert [str(x) for x in c] == [
        "sustained_latency_ms <= 33",
        "latency_ms <= 33",
        "fits_memory",
        "not fits_memory",
        "energy_mj < 70",
    ]
    frame = pd.DataFrame(
        {
            "sustained_latency_ms": [10.0, 40.0, np.inf],
            "latency_ms": [1.0, 1.0, 1.0],
            "fits_memory": [True, False, True],
            "energy_mj": [69.0, 71.0, np.nan],
        }
    )
    assert list(c[0].violation(frame) <= 0) == [True, False, False]  # inf latency is infeasible
    assert list(c[2].violation(frame) <= 0) == [True, False, True]
    assert list(c[3].violation(frame) <= 0) == [False, True, False]
    assert list(c[4].violation(frame) <= 0) == [True, False, False]  # NaN energy is infeasible
    for bad in ("__import__('os').system('true')", "flops <= 3", "energy_mj <= abc", "fits_memory <= 1", "energy_mj"):
        with pytest.raises(SearchError, match="allowed"):
            parse_constraints(bad)


def test_constraints_exclude_infeasible_trials_from_the_front(profile):
    full = screen(SMALL, profile, ["accuracy", "energy_mj"])
    limit = float(full["energy_mj"].median())
    r = search(
        SMALL,
        profile,
        ["accuracy", "energy_mj"],
        [f"energy_mj <= {limit}", lambda row: row["resolution"] >= 160],
        n_trials=150,
        sampler="nsga2",
        population_size=30,
        storage="memory",
        seed=3,
    )
    frame = r.trials_frame()
    assert len(frame) == 150 and (~frame["feasible"]).sum() > 0  # infeasible trials are recorded
    assert {"constraint_0", "constraint_1", "constraint_2"} <= set(frame.columns)
    front = r.pareto_front()
    assert len(front) > 0 and front["feasible"].all()
    assert (front["energy_mj"] <= limit).all() and (front["resolution"] >= 160).all()
    # Optuna knows the trials' feasibility too (Trial.set_constraint): best_trials are feasible.
    assert {t.number for t in r.study.best_trials} <= set(frame.loc[frame["feasible"], "number"])
    # the exhaustive front under the same constraints dominates or equals the found one
    ex = screen(
        SMALL, profile, ["accuracy", "energy_mj"], [f"energy_mj <= {limit}", lambda row: row["resolution"] >= 160]
    )
    ref = [float(ex["accuracy"].min()), float(ex["energy_mj"].max())]
    assert r.hypervolume(ref) <= hypervolume(ex, ["accuracy", "energy_mj"], ref) + 1e-9


def test_trials_frame_has_every_estimate_field(profile):
    r = search(
        SMALL,
        profile,
        "accuracy,energy_mj",
        "sustained_latency_ms <= 33",
        n_trials=10,
        sampler="random",
        storage="memory",
        seed=1,
    )
    frame = r.trials_frame()
    for col in (
        *es.cost.ESTIMATE_COLUMNS,
        "accuracy",
        "accuracy_std",
        "accuracy_per_joule",
        "feasible",
        "family",
        "mode",
        "precision",
    ):
        assert col in frame.columns, col
    row = frame.iloc[0]
    est = es.estimate(
        es.ArchSpec(row["family"], row["width"], row["depth"], int(row["resolution"]), row["precision"]),
        profile,
        row["mode"],
    )
    assert row["energy_mj"] == pytest.approx(est.energy_mj) and row["sustained_latency_ms"] == pytest.approx(
        est.sustained_latency_ms
    )
    assert row["accuracy"] == pytest.approx(es.predict_accuracy(est.spec).top1)


def test_grid_sampler_visits_every_point_once(profile):
    space = MobileNetSpace(
        families=("mobilenetv2",),
        widths=(0.5, 1.0),
        width_step=0.5,
        resolutions=(160, 224),
        resolution_step=64,
        precisions=("int8", "fp16"),
        modes=("7W", "25W"),
    )
    r = search(space, profile, ["accuracy", "energy_mj"], sampler="grid", storage="memory", seed=0)
    frame = r.trials_frame()
    assert len(frame) == space.size(profile) == 16
    assert not frame.duplicated(subset=["family", "width", "resolution", "precision", "mode"]).any()


def test_search_front_matches_screen_on_a_small_space(profile):
    ex = screen(SMALL, profile, ["accuracy", "energy_mj"], ["sustained_latency_ms <= 33"])
    ref = [float(ex["accuracy"].min()), float(ex["energy_mj"].max())]
    exact = hypervolume(ex, ["accuracy", "energy_mj"], ref)
    r = search(
        SMALL,
        profile,
        ["accuracy", "energy_mj"],
        ["sustained_latency_ms <= 33"],
        n_trials=400,
        population_size=40,
        storage="memory",
        seed=0,
    )
    assert r.hypervolume(ref) >= 0.97 * exact


def test_hypervolume_and_nondominated_closed_form():
    y = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0], [2.0, 2.0]])
    assert list(nondominated(y)) == [True, True, True, False, True]
    frame = pd.DataFrame({"energy_mj": [1.0, 2.0, 3.0, 3.0], "latency_ms": [3.0, 2.0, 1.0, 3.0]})
    # staircase against (4, 4): 3·1 + 2·1 + 1·1 = 6
    assert hypervolume(frame, ["energy_mj", "latency_ms"], [4, 4], feasible_column=None) == pytest.approx(6.0)
    # a maximised objective: accuracy 80 / energy 2 against (70, 4): 10 · 2 = 20
    f2 = pd.DataFrame({"accuracy": [80.0], "energy_mj": [2.0]})
    assert hypervolume(
        f2, ["accuracy", "energy_mj"], {"accuracy": 70, "energy_mj": 4}, feasible_column=None
    ) == pytest.approx(20.0)
    # 3-D: unit cube corners
    f3 = pd.DataFrame({"energy_mj": [0.0, 1.0], "latency_ms": [1.0, 0.0], "total_memory_mb": [0.0, 0.0]})
    assert hypervolume(
        f3, ["energy_mj", "latency_ms", "total_memory_mb"], [2, 2, 1], feasible_column=None
    ) == pytest.approx(3.0)
    with pytest.raises(SearchError, match="one per objective"):
        hypervolume(frame, ["energy_mj", "latency_ms"], [4], feasible_column=None)


# ----------------------------------------------------------------------------- storage: resume by name


def test_resume_by_name_and_definition_mismatch(tmp_path, monkeypatch, profile):
    monkeypatch.setenv("EDGESPACE_RUN_DIR", str(tmp_path))
    a = search(
        SMALL, profile, ["accuracy", "energy_mj"], n_trials=60, population_size=20, study_name="resume-me", seed=1
    )
    assert (tmp_path / "resume-me.journal").is_file() and a.told == 60
    before = a.trials_frame()[["number", "energy_mj"]]
    b = search(
        SMALL, profile, ["accuracy", "energy_mj"], n_trials=100, population_size=20, study_name="resume-me", seed=1
    )
    assert b.told == 40 and len(b.trials_frame(complete_only=True)) == 100
    pd.testing.assert_frame_equal(b.trials_frame().iloc[:60][["number", "energy_mj"]], before)
    again = search(
        SMALL, profile, ["accuracy", "energy_mj"], n_trials=100, population_size=20, study_name="resume-me", seed=1
    )
    assert again.told == 0
    with pytest.raises(SearchError, match="another definition"):
        search(SMALL, profile, ["accuracy", "energy_mj"], ["fits_memory"], n_trials=100, study_name="resume-me")
    with pytest.raises(SearchError, match="directions"):
        search(SMALL, profile, ["energy_mj", "accuracy"], n_trials=100, study_name="resume-me")
    # the default name is derived from the definition, so the same call resumes
    c1 = search(SMALL, profile, ["accuracy", "energy_mj"], n_trials=20, population_size=20, seed=5)
    c2 = search(SMALL, profile, ["accuracy", "energy_mj"], n_trials=20, population_size=20, seed=5)
    assert c1.study_name == c2.study_name and c2.told == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sampler": "cmaes"}, "allowed: nsga2, tpe, random, grid"),
        ({"n_trials": -1}, "n_trials"),
        ({"storage": "ftp://x"}, "cannot open|not understood"),
        ({"storage": "nonsense"}, "not understood"),
        ({"study_name": "a b"}, "study name"),
        ({"n_jobs": 0}, "n_jobs"),
    ],
)
def test_bad_search_input(kwargs, match, profile):
    with pytest.raises(SearchError, match=match):
        search(SMALL, profile, ["accuracy", "energy_mj"], **{"n_trials": 5, "storage": "memory", **kwargs})


def test_top_level_exports(profile):
    import edgespace.study

    # the function edgespace.search is not shadowed by a package of the same name
    assert es.search is edgespace.study.search and callable(es.search)
    r = es.search(SMALL, profile, "accuracy,energy_mj", n_trials=3, sampler="random", storage="memory")
    assert isinstance(r, es.SearchResult) and len(r.trials_frame()) == 3
    assert es.screen is screen and es.EfficientNetSpace is EfficientNetSpace and es.MobileNetSpace is MobileNetSpace


def test_search_is_a_function_and_no_package(profile):
    import importlib

    with pytest.raises(ModuleNotFoundError, match="edgespace.search"):
        importlib.import_module("edgespace.search")
    assert callable(es.search) and es.search is search


# ----------------------------------------------------------------------------- CLI


def test_cli_search_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDGESPACE_RUN_DIR", str(tmp_path))
    rc = main(
        [
            "search",
            "--profile",
            PROFILE,
            "--space",
            "mobilenetv3_small",
            "--objectives",
            "accuracy,energy_mj",
            "--constraint",
            "sustained_latency_ms<=33",
            "--trials",
            "60",
            "--population-size",
            "20",
            "--seed",
            "1",
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["complete"] == 60 and doc["front"]
    assert [o["direction"] for o in doc["objectives"]] == ["maximize", "minimize"]
    for row in doc["front"]:
        assert row["sustained_latency_ms"] <= 33 and {"accuracy", "energy_mj", "mode", "precision"} <= set(row)
    assert list(tmp_path.glob("*.journal"))
    rc = main(
        [
            "search",
            "--profile",
            PROFILE,
            "--space",
            "mobilenetv3_small",
            "--trials",
            "60",
            "--population-size",
            "20",
            "--seed",
            "1",
            "--constraint",
            "sustained_latency_ms<=33",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "Pareto front" in out and "0 evaluated now" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "--profile", PROFILE, "--objectives", "accuracy,flops"], "objective 'flops' is unknown"),
        (["search", "--profile", PROFILE, "--constraint", "import os"], "cannot be parsed"),
        (["search", "--profile", PROFILE, "--space", "resnet"], "allowed: efficientnet"),
        (["search", "--profile", "no-such-board"], "no-such-board"),
        (["search", "--profile", PROFILE, "--trials", "x"], "invalid int"),
        (["worker", "--storage", "memory", "--study", "nope"], "not found"),
    ],
)
def test_cli_bad_input_exits_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGESPACE_RUN_DIR", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgespace: error:") and message in err and "Traceback" not in err


def test_budget_constraint_keeps_only_deployable_designs():
    """search(..., budget=Budget(...), constraints=["days_autonomy >= 7"]): each
    candidate's sustained energy per inference is checked against the battery, and the front
    holds only designs that meet the autonomy."""
    from edgespace import Budget

    # A 1 Wh battery, no harvest, 80,000 frames a day: the energy per inference decides.
    budget = Budget(battery_wh=1.0, frames_per_day=80_000)
    space = es.MobileNetSpace()
    result = es.search(
        space,
        "jetson-orin-nano-8gb",
        ["accuracy", "energy_mj"],
        ["days_autonomy >= 7"],
        n_trials=120,
        storage="memory",
        seed=3,
        budget=budget,
    )
    trials = result.trials_frame()
    assert {"days_autonomy", "budget_feasible", "budget_margin_fraction"} <= set(trials.columns)
    # autonomy = usable energy / daily load, by hand, for every runnable trial
    ok = trials["runnable"]
    expected = 3600.0 / (80_000 * trials.loc[ok, "sustained_energy_mj"] / 1e3)
    assert np.allclose(trials.loc[ok, "days_autonomy"], expected, rtol=1e-9)
    assert (~trials["feasible"]).any() and trials["feasible"].any()
    front = result.pareto_front()
    assert len(front) and (front["days_autonomy"] >= 7).all()
    assert (trials.loc[trials["days_autonomy"] < 7, "feasible"] == False).all()  # noqa: E712
    # without the budget, the front reaches designs the battery cannot carry
    free = es.search(space, "jetson-orin-nano-8gb", ["accuracy", "energy_mj"], n_trials=120, storage="memory", seed=3)
    assert free.pareto_front()["sustained_energy_mj"].max() > front["sustained_energy_mj"].max()
    with pytest.raises(es.EdgespaceError, match="needs an energy budget"):
        es.search(space, "jetson-orin-nano-8gb", ["accuracy"], ["days_autonomy >= 7"], n_trials=5, storage="memory")


def test_budget_floors_from_a_profile_follow_the_mode(tmp_path):
    from edgespace import Budget, load_profile

    budget = Budget.from_profile("jetson-orin-nano-8gb", "7W", battery_wh=50, frames_per_day=2000, sleep_w=0.05)
    frame = es.screen(
        es.MobileNetSpace(families=("mobilenetv2",), widths=(1.0, 1.0), resolutions=(224, 224)),
        "jetson-orin-nano-8gb",
        budget=budget,
    )
    profile = load_profile("jetson-orin-nano-8gb")
    by_mode = frame.groupby("mode")["budget_daily_margin_j"].max()
    idle = {m: profile.mode(m).idle_w for m in by_mode.index}
    # a mode with a higher idle floor leaves less margin (always-on: idle all day)
    order = sorted(idle, key=idle.get)
    assert list(by_mode[order]) == sorted(by_mode[order], reverse=True)
    assert (
        Budget.from_dict(budget.to_dict()) == budget
        and Budget.from_dict(budget.to_dict()).provenance == budget.provenance
    )
    # the study stores it as JSON; a worker rebuilds the same budget, and its per-mode floors
    assert Budget.from_dict(json.loads(json.dumps(budget.to_dict()))) == budget
    assert (
        budget.for_mode(profile, "15W").idle_w == profile.mode("15W").idle_w
        and budget.for_mode(profile, "15W").sleep_w == 0.05
    )


def test_cli_search_with_an_energy_budget(capsys):
    """Always on, the awake floor decides: 100 Wh lasts 1.39 days at the 7W mode's 3 W idle and
    less in the modes that idle higher, so 'days_autonomy>=1.3' keeps only 7W designs."""
    argv = [
        "search",
        "--profile",
        "jetson-orin-nano-8gb",
        "--space",
        "mobilenetv2",
        "--trials",
        "60",
        "--storage",
        "memory",
        "--seed",
        "1",
        "--battery-wh",
        "100",
        "--frames-per-day",
        "2000",
        "--policy",
        "always-on",
        "--constraint",
        "days_autonomy>=1.3",
        "--json",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["front"] and all(r["days_autonomy"] >= 1.3 and r["mode"] == "7W" for r in doc["front"])
    assert doc["feasible"] < doc["complete"]
    no_frames = [a for a in argv if a not in ("--frames-per-day", "2000")]
    assert main(no_frames) == 2
    assert "--battery-wh needs --frames-per-day" in capsys.readouterr().err
    # one spelling: the old --duty-policy is refused like any unknown option
    assert main([("--duty-policy" if a == "--policy" else a) for a in argv]) == 2
    assert "--duty-policy" in capsys.readouterr().err


def test_cli_search_and_budget_share_one_set_of_budget_options():
    """One function adds the budget options to both commands: same flags, same defaults."""
    import argparse

    from edgespace.cli import _make_parser

    parser = _make_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    def budget_opts(cmd):
        opts = {}
        for a in sub.choices[cmd]._actions:
            for flag in a.option_strings:
                opts[flag] = (a.dest, a.default)
        return opts

    search_opts, budget_opts_ = budget_opts("search"), budget_opts("budget")
    shared = {
        "--battery-wh",
        "--usable-fraction",
        "--charge-efficiency",
        "--solar-wh-per-day",
        "--cloudy-days",
        "--cloudy-fraction",
        "--frames-per-day",
        "--capture-j",
        "--idle-w",
        "--sleep-w",
        "--wake-j",
        "--wake-s",
        "--policy",
        "--idle-timeout-s",
        "--wake-period-s",
    }
    assert shared <= set(search_opts) and shared <= set(budget_opts_)
    assert {k: search_opts[k] for k in shared} == {k: budget_opts_[k] for k in shared}
    assert search_opts["--policy"] == ("policy", "always-on") and "--duty-policy" not in search_opts
