"""Refine: a calibrated search confirms its front with real ONNX Runtime runs, folds them into
the calibration, searches on with the refitted one, and stores every round with the study.

The starting calibration is the closed-loop tests' synthetic one (a known cost law, several times
slower than this machine), so the first round is far outside tolerance and the loop must refit."""

from __future__ import annotations

import json

import pytest
from test_closed_loop import synthetic_calibration

from edgespace import ArchSpec, load_profile
from edgespace.cli import main
from edgespace.cost import load_calibration
from edgespace.study import MobileNetSpace, SearchError, load_result, search

SPACE = MobileNetSpace(
    families=("mobilenetv3_small",),
    widths=(0.35, 0.5),
    width_step=0.15,
    resolutions=(96, 128),
    resolution_step=16,
    precisions=("fp32",),
)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """Every network of the space and the timing reference, exported in one child process."""
    from edgespace.runners import REFERENCE_SPEC, export_many

    root = tmp_path_factory.mktemp("edgespace-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGESPACE_CACHE_DIR", str(root))
    export_many(
        [
            *(
                ArchSpec(**p)
                for p in SPACE.grid(load_profile("host"))[["family", "width", "depth", "resolution"]].to_dict(
                    orient="records"
                )
            ),
            REFERENCE_SPEC,
        ]
    )
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def cal():
    return synthetic_calibration(n=6, params={"trees": False})


@pytest.fixture(scope="module")
def refined(onnx_cache, cal, tmp_path_factory):
    storage = f"journal:{tmp_path_factory.mktemp('refine') / 'study.journal'}"
    r = search(
        SPACE, "host", "accuracy,latency_ms", n_trials=12, population_size=6, seed=0, storage=storage,
        study_name="ref", calibration=cal,
    )  # fmt: skip
    calls = []
    conf = r.refine(
        top=2, max_rounds=2, confirm_rounds=2, meter="none", progress=lambda s, d, t: calls.append((s, d, t))
    )
    return r, conf, storage, calls


def test_refine_runs_two_rounds_refits_and_stores_them(refined, cal):
    r, conf, storage, calls = refined
    rounds = r.refine_rounds()
    # the synthetic law is several times off this machine: round 1 cannot hold, so it refits
    assert len(rounds) == 2 and list(rounds["round"]) == [1, 2]
    first, second = rounds.iloc[0], rounds.iloc[1]
    assert first.calibration_id == cal.id and first.confirmed == 2 and first.within_tolerance < 2
    assert first.median_abs_error_pct > 10 and first.stopped is None
    new_id = first.refit_to
    assert new_id and new_id != cal.id and second.calibration_id == new_id
    assert second.stopped in ("held", "rounds spent") and second.refit_to is None
    assert first.front_kept + first.front_left == first.front_size and first.trials_added >= 6
    # the refitted calibration: the study's own now, with the confirmed runs in it, and beside the study
    assert r.calibration.id == new_id and r.calibration.provenance["networks"] == 6 + 2
    assert r.calibration.provenance["refined"][0]["from"] == cal.id
    assert load_calibration(first.calibration_file).id == new_id
    # every confirmed row says its round; each round was predicted by the calibration of its round
    assert sorted(set(conf["round"])) == [1, 2] and set(conf.status) == {"ok"}
    assert set(conf[conf["round"] == 1].latency_source) == {f"calibrated:{cal.id}"}
    assert set(conf[conf["round"] == 2].latency_source) == {f"calibrated:{new_id}"}
    # the front is the refitted calibration's (earlier trials stay as history under the old id)
    assert set(r.pareto_front().latency_source) == {f"calibrated:{new_id}"}
    assert f"calibrated:{cal.id}" in set(r.trials_frame().latency_source)
    assert any(s.startswith("round 2") for s, _, _ in calls)
    # a reloaded study shows the same rounds, calibration and front
    again = load_result(storage, "ref")
    assert again.refine_rounds()["refit_to"].iloc[0] == new_id
    assert set(again.pareto_front().latency_source) == {f"calibrated:{new_id}"}
    assert len(again.confirmations()) == len(conf)
    # and resumes by name with its refit; the original calibration is refused
    resumed = search(SPACE, "host", "accuracy,latency_ms", n_trials=0, storage=storage, study_name="ref")
    assert resumed.calibration.id == new_id and resumed.told == 0
    with pytest.raises(SearchError, match="another definition"):
        search(SPACE, "host", "accuracy,latency_ms", n_trials=0, storage=storage, study_name="ref", calibration=cal)


def test_refine_refuses_what_it_cannot_do(refined, tmp_path):
    r = refined[0]
    with pytest.raises(SearchError, match="backends that do: onnxruntime"):
        r.refine(backend="tensorrt")
    with pytest.raises(SearchError, match="measured at 1 thread"):
        r.refine(threads=2)
    with pytest.raises(SearchError, match="allowed: an integer >= 1"):
        r.refine(top=0)
    plain = search(SPACE, "host", "accuracy,latency_ms", n_trials=4, population_size=4, storage="memory")
    with pytest.raises(SearchError, match="has no calibration"):
        plain.refine()


def test_report_shows_the_rounds(refined, tmp_path):
    from edgespace.report import report

    r = refined[0]
    html = report(r, tmp_path / "r.html").read_text()
    assert "Refine round 1: predicted by calibrated:" in html and "Refine round 2" in html
    assert "round 1, calibrated:" in html


def test_cli_refine_runs_and_refuses_bad_input(cal, tmp_path, capsys):
    # the calibration is for fp32: an int8 front has no calibrated point, so the one round ends
    # at once and says why (the real-run rounds are the test above)
    cal_file = cal.save(tmp_path / "cal.json")
    base = ["search", "--profile", "host", "--space", "mobilenetv3_small", "--precisions", "int8"]
    base += ["--objectives", "accuracy,latency_ms", "--trials", "6", "--population-size", "6", "--seed", "0"]
    base += ["--calibration", str(cal_file), "--storage", f"journal:{tmp_path / 's.journal'}"]
    assert main([*base, "--json", "--confirm", "1", "--refine", "2", "--tolerance-pct", "5"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (only,) = doc["refine_rounds"]
    assert only["calibration_id"] == cal.id and only["stopped"] == "no calibrated point on the front"
    assert only["tolerance_pct"] == 5.0 and doc["confirmations"] == []
    assert main([*base, "--confirm", "1", "--refine", "1"]) == 0  # resumed; the rounds table printed
    assert "refine rounds" in capsys.readouterr().out
    for bad, words in (
        (["--refine", "2"], "--refine R needs --confirm K"),
        (["--confirm", "1", "--refine", "0"], "allowed: an integer >= 1"),
        (["--tolerance-pct", "5"], "--tolerance-pct applies only with --refine"),
        (["--confirm", "1", "--refine", "1", "--confirm-proxy"], "leave out --confirm-by and --confirm-proxy"),
    ):
        assert main([*base, *bad]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_gpu_calibration_says_it_cannot_take_confirmed_runs():
    import numpy as np
    from test_calibration_gpu import _runs

    from edgespace.calibration import CalibrationError, draw_specs
    from edgespace.calibration._gpu import calibrate_gpu

    runs = _runs(draw_specs(7, precision="fp16"), (1,), np.random.default_rng(1), energy=False)
    gpu = calibrate_gpu("nvidia-h200", runs)
    with pytest.raises(CalibrationError, match="GpuCalibration .* cannot take confirmed runs"):
        gpu.with_runs(runs)


def test_points_that_decide_the_front_are_confirmed_first():
    import pandas as pd

    from edgespace.study import parse_objectives
    from edgespace.study._refine import _key, choose_refine_points

    def row(w, acc, lat, src="calibrated:c1", feasible=True):
        return dict(
            family="mobilenetv2", width=w, depth=1.0, resolution=96, precision="fp32", mode="m", batch=1,
            placement="auto", accuracy=acc, latency_ms=lat, latency_low_ms=0.9 * lat, latency_high_ms=1.1 * lat,
            latency_source=src, feasible=feasible,
        )  # fmt: skip

    objs = parse_objectives("accuracy,latency_ms")
    front = pd.DataFrame([row(0.3, 60, 1.0), row(0.5, 70, 2.0), row(0.7, 75, 4.0), row(0.9, 80, 8.0, "analytic")])
    # three trials dominated by the w0.5 point alone, one by the w0.7 point alone, one by both
    rest = pd.DataFrame([row(1.0 + i / 10, 65, 2.5) for i in range(3)] + [row(2.0, 74, 5.0), row(2.1, 69, 4.5)])
    trials = pd.concat([front, rest], ignore_index=True)
    picked = choose_refine_points(front, trials, objs, 3, "calibrated:c1", done=set())
    # the analytic point is never picked; w0.5 decides 3, w0.7 1, w0.3 none (then the wider interval)
    assert list(picked.width) == [0.5, 0.7, 0.3] and list(picked.decides_front) == [3, 1, 0]
    # a point an earlier round confirmed goes after those not yet confirmed
    done = {_key(front.iloc[1].to_dict())}
    picked = choose_refine_points(front, trials, objs, 2, "calibrated:c1", done=done)
    assert list(picked.width) == [0.7, 0.3]
