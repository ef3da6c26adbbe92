"""Reports (edgespace.report): figure content against the frames they draw, the HTML file, the CLI.

The browser half (the page opened in headless Chromium) is tests/test_report_browser.py.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pandas as pd
import pytest

import edgespace as es
from edgespace.budget import Budget, feasibility
from edgespace.cli import main
from edgespace.cost import simulate_thermal
from edgespace.report import (
    PRECISION_SYMBOLS,
    WEBGL_THRESHOLD,
    ReportError,
    accuracy_per_joule_figure,
    battery_figure,
    calibration_frame,
    energy_balance_figure,
    front_modes_frame,
    front_table,
    mode_colors,
    pareto_figure,
    point_label,
    predicted_vs_measured_figure,
    report,
    roofline_figure,
    roofline_frame,
    thermal_frame,
    throttling_figure,
    write_png,
)
from edgespace.report._figures import INFEASIBLE_COLOR
from edgespace.study._confirm import CONFIRMATION_COLUMNS

PROFILE = "jetson-orin-nano-8gb"
MODES = ["7W", "15W", "25W", "MAXN_SUPER"]


@pytest.fixture(scope="module")
def result():
    # a tight latency bound so that some trials are infeasible
    return es.search(
        "mobilenet",
        PROFILE,
        ["accuracy", "energy_mj"],
        ["sustained_latency_ms <= 3"],
        n_trials=200,
        storage="memory",
        seed=0,
    )


def _close(a, b, rel=1e-3):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=rel, atol=0)


# ----------------------------------------------------------------------------- Pareto figures


def test_pareto_figure_front_is_pareto_front_and_colours_are_modes(result):
    trials, front = result.trials_frame(), result.pareto_front()
    fig = pareto_figure(trials, front, modes=MODES, constraints=result.constraints)
    names = [t.name for t in fig.data]
    assert [n.split(" (")[0] for n in names] == [*MODES, "infeasible", "Pareto front"]
    colors = mode_colors(MODES)
    assert len(set(colors.values())) == len(MODES)
    feasible = trials[trials["feasible"]]
    for trace, mode in zip(fig.data[:4], MODES, strict=True):
        part = feasible[feasible["mode"] == mode]
        assert trace.marker.color == colors[mode]
        assert len(trace.x) == len(part) and names[MODES.index(mode)] == f"{mode} ({len(part)})"
        assert sorted(trace.marker.symbol) == sorted(PRECISION_SYMBOLS[p] for p in part["precision"])
    bad = fig.data[4]
    assert bad.marker.color == INFEASIBLE_COLOR and len(bad.x) == int((~trials["feasible"]).sum()) > 0
    # every trial is drawn once (all are complete and finite here)
    assert sum(len(t.x) for t in fig.data[:5]) == len(trials)
    f = fig.data[5]
    expected = front.sort_values("energy_mj")
    assert len(f.x) == len(front) > 3
    assert _close(f.x, expected["energy_mj"]) and _close(f.y, expected["accuracy"])
    assert list(f.marker.color) == [colors[m] for m in expected["mode"]]
    assert list(f.marker.symbol) == [PRECISION_SYMBOLS[p] for p in expected["precision"]]
    # hover: the design point and its numbers, for every point
    assert [c[0] for c in f.customdata] == [point_label(r) for r in expected.to_dict(orient="records")]
    assert "%{customdata[0]}" in f.hovertemplate and "energy_mj" in f.hovertemplate
    assert fig.layout.xaxis.type == "log" and isinstance(f, type(fig.data[0])) is (len(trials) <= WEBGL_THRESHOLD)


def test_pareto_latency_figure_marks_the_constraint_on_the_log_axis(result):
    trials, front = result.trials_frame(), result.pareto_front()
    fig = pareto_figure(trials, front, x="sustained_latency_ms", modes=MODES, constraints=result.constraints)
    f = fig.data[-1]
    assert _close(f.x, front.sort_values("sustained_latency_ms")["sustained_latency_ms"])
    (line,) = [s for s in fig.layout.shapes if s.type == "line"]
    # plotly puts shapes on a log axis in log10 units: the bound (3 ms) must land at log10(3)
    assert line.x0 == pytest.approx(math.log10(3.0)) and "sustained_latency_ms <= 3" in fig.layout.annotations[0].text


def test_big_trial_clouds_use_webgl_and_front_stays_svg(result):
    trials, front = result.trials_frame(), result.pareto_front()
    fig = pareto_figure(trials, front, webgl=True)
    assert all(t.type == "scattergl" for t in fig.data[:-1]) and fig.data[-1].type == "scatter"


def test_pareto_figure_rejects_a_frame_without_the_metrics():
    with pytest.raises(
        ReportError, match=r"pareto_figure\(trials\): column\(s\) .*energy_mj, accuracy missing; required: family"
    ):
        pareto_figure(pd.DataFrame({"family": ["x"]}), pd.DataFrame())


# ----------------------------------------------------------------------------- accuracy per joule, table


def test_accuracy_per_joule_ranks_the_front_in_every_mode(result):
    front = result.pareto_front()
    mf = front_modes_frame(front, PROFILE, top=None)
    archs = front.drop_duplicates(subset=["family", "width", "depth", "resolution", "precision"])
    assert len(mf) == len(archs) * len(MODES)
    for row in mf.sample(8, random_state=0).to_dict(orient="records"):
        spec = es.ArchSpec(row["family"], row["width"], row["depth"], int(row["resolution"]), row["precision"])
        est = es.estimate(spec, PROFILE, row["mode"])
        assert row["accuracy_per_joule"] == pytest.approx(row["accuracy"] * est.inferences_per_joule, rel=1e-9)
        assert row["energy_mj"] == pytest.approx(est.energy_mj, rel=1e-9)
    # the mode marked "on the front" is the front's, and the front's own number is reproduced
    on = mf[mf["on_front"]]
    assert len(on) == len(front)
    merged = on.merge(
        front, on=["family", "width", "depth", "resolution", "precision", "mode"], suffixes=("", "_front")
    )
    assert np.allclose(merged["accuracy_per_joule"], merged["accuracy_per_joule_front"], rtol=1e-9)
    best = mf.groupby("rank")["accuracy_per_joule"].max().to_numpy()
    assert (np.diff(best) <= 0).all()  # rank 1 is the best
    fig = accuracy_per_joule_figure(front_modes_frame(front, PROFILE, top=5), modes=MODES)
    assert [t.name for t in fig.data] == MODES and all(len(t.y) == 5 for t in fig.data)
    assert [t.marker.color for t in fig.data] == [mode_colors(MODES)[m] for m in MODES]
    assert sum(txt == "◀ front" for t in fig.data for txt in t.text) == 5


def test_front_table_has_one_row_per_design_point(result):
    front = result.pareto_front()
    fig = front_table(front)
    cells = fig.data[0].cells.values
    assert len(cells[0]) == len(front) and list(cells[1]) == list(front["mode"])
    # no source columns in the frame: every number is from the analytic model, and the table says so
    assert set(cells[-1]) == {"analytic"} and set(cells[-2]) == {"analytic"}


# ----------------------------------------------------------------------------- throttling


def test_throttling_figure_draws_simulate_thermal_and_marks_the_throttle():
    prof = "google-tensor-g3"  # passive cooling: throttles within the hour, and the lower clocks are slower
    spec = es.efficientnet(2.0, precision="fp16")
    est = es.estimate(spec, prof)
    points = pd.DataFrame([{**spec.to_dict(), "mode": est.mode, "time_to_throttle_s": est.time_to_throttle_s}])
    therm = thermal_frame(points, prof)
    duration = min(max(600.0, 3 * est.time_to_throttle_s), 7200.0)
    sim = simulate_thermal(spec, prof, est.mode, duration_s=duration)
    assert np.array_equal(therm["fps"].to_numpy(), sim["fps"].to_numpy())
    assert np.array_equal(therm["temperature_c"].to_numpy(), sim["temperature_c"].to_numpy())
    first = float(sim["time_s"][(sim["level"] > 0).idxmax()])
    assert therm["time_to_throttle_s"].iloc[0] == first > 0
    # the simulation's throttle comes where the closed form says (within a step or two)
    assert first == pytest.approx(est.time_to_throttle_s, abs=2.0)
    assert therm["peak_fps"].iloc[0] == pytest.approx(est.fps, rel=1e-9)
    assert therm["sustained_fps"].iloc[0] < therm["peak_fps"].iloc[0]
    fig = throttling_figure(therm)
    assert len(fig.data) == 2 and _close(fig.data[0].y, sim["fps"]) and _close(fig.data[1].y, sim["temperature_c"])
    texts = [a.text for a in fig.layout.annotations]
    assert f"throttles at {first:.0f} s" in texts
    assert any(t.startswith("peak ") for t in texts) and any(t.startswith("sustained ") for t in texts)
    assert any(t.startswith("trip ") for t in texts)


# ----------------------------------------------------------------------------- battery


@pytest.fixture(scope="module")
def empty_budget():
    # always on at the 7W idle floor with 3 cloudy days: the battery runs empty
    return Budget.from_profile(
        PROFILE,
        "7W",
        battery_wh=50,
        solar_wh_per_day=8,
        frames_per_day=2000,
        cloudy_days=3,
        cloudy_start_day=1,
        policy="always_on",
    )


def test_battery_figure_is_the_hourly_simulation(empty_budget):
    r = feasibility(empty_budget, energy_per_frame_mj=70)
    hourly = r.to_frame()
    fig = battery_figure(hourly, usable_wh=r.usable_j / 3600)
    soc, empty = fig.data
    assert _close(soc.y, hourly["soc_fraction"] * 100)
    assert len(soc.x) == r.horizon_days * 24
    n_empty = int((hourly["unmet_wh"] > 1e-9).sum())
    assert n_empty > 0 and len(empty.x) == n_empty and empty.marker.color == "#D00000"
    shaded = sorted(int(s.x0) for s in fig.layout.shapes if s.type == "rect")
    assert shaded == [1, 2, 3]  # cloudy_start_day=1, 3 cloudy days


def test_energy_balance_figure_has_every_term(empty_budget):
    r = feasibility(empty_budget.replace(policy="on_trigger"), energy_per_frame_mj=70)
    terms = r.terms_frame()
    fig = energy_balance_figure(terms, harvest_wh=[("harvest, sunny day", 8.0)])
    assert len(fig.data) == len(terms) + 1
    for trace, row in zip(fig.data[:-1], terms.to_dict(orient="records"), strict=True):
        assert trace.name.startswith(row["term"]) and trace.y[0] == pytest.approx(row["wh_per_day"])
    assert fig.layout.barmode == "stack"


# ----------------------------------------------------------------------------- roofline


def test_roofline_kernels_crossings_and_ceilings():
    spec = es.mobilenet("mobilenetv3_large", 1.0, 224, precision="int8")
    est = es.estimate(spec, "coral-edge-tpu", "max")  # the Edge TPU cuts the graph: later layers fall back to the CPU
    kernels, ceilings = roofline_frame(est)
    layers = est.layers
    ran = layers[(layers["bound"] != "fused") & (layers["time_ms"] > 0)]
    assert list(kernels["name"]) == list(ran["name"])
    assert np.allclose(kernels["attained_gops"], ran["ops"] / (ran["time_ms"] * 1e-3) / 1e9)
    engines = ran["engine"].to_numpy()
    assert int(kernels["crossing"].sum()) == int((engines[1:] != engines[:-1]).sum()) >= 1
    assert set(ceilings["engine"]) == {"tpu", "cpu"}
    # every fused row is listed with the kernel it was fused into
    fused = layers[layers["bound"] == "fused"]
    assert sum(len(f.split(", ")) for f in kernels["fused"] if f) == len(fused)
    fig = roofline_figure(kernels, ceilings)
    roofs = [t for t in fig.data if t.name.startswith("roof ")]
    assert len(roofs) == 2
    points = [t for t in fig.data if not t.name.startswith(("roof ", "fallback"))]
    assert sum(len(t.x) for t in points) == len(kernels.dropna(subset=["intensity_ops_per_byte"]))
    assert {t.marker.symbol for t in points} <= {"circle", "triangle-up"}
    assert len(fig.data[-1].x) == int(kernels["crossing"].sum())


# ----------------------------------------------------------------------------- predicted vs measured (real runs)

TINY = es.ArchSpec("mobilenetv3_small", 0.35, 1.0, 96)
TINY_B = es.ArchSpec("mobilenetv3_small", 0.5, 1.0, 112)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A real calibration (10 tiny networks, so that it has a 5-fold held-out error) and real
    confirm() runs of two tiny networks, each next to its prediction, in the column contract of
    SearchResult.confirmations()."""
    from edgespace.calibration import calibrate, draw_specs
    from edgespace.calibration._loop import collect
    from edgespace.runners._export import export_many

    root = tmp_path_factory.mktemp("edgespace-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGESPACE_CACHE_DIR", str(root))
    specs = draw_specs(10, families=("mobilenetv3_small",), seed=1, ranges={"resolution": (64, 128)})
    export_many(specs + [TINY, TINY_B])
    cal = calibrate("host", collect(specs, threads=1, rounds=3, round_s=0.02, profile_runs=3), threads=1)
    host = es.load_profile("host")
    rows = []
    for spec, source in ((TINY, "analytic"), (TINY_B, "calibrated:host-1t")):
        m = es.confirm(spec, threads=1, warmup=3, runs=40, rounds=4, profile_runs=1)
        est = es.estimate(spec, host)
        predicted = est.latency_ms if source == "analytic" else cal.predict_latency_ms(spec)
        measured_ms = m.latency_p50_ms
        rows.append(
            {
                **{k: v for k, v in spec.to_dict().items() if k != "num_classes"},
                "batch": spec.batch,
                "mode": est.mode,
                "placement": "auto",
                "backend": "onnxruntime",
                "provider": m.provider,
                "threads": m.threads,
                "predicted_latency_ms": predicted,
                "measured_latency_ms": measured_ms,
                "latency_error_pct": (predicted / measured_ms - 1) * 100,
                "latency_source": source,
                "predicted_energy_mj": est.energy_mj,
                "measured_energy_mj": m.energy_mj,
                "energy_error_pct": None if m.energy_mj is None else (est.energy_mj / m.energy_mj - 1) * 100,
                "status": "ok",
            }
        )
    yield {"cal": cal, "confirmations": pd.DataFrame(rows, columns=list(CONFIRMATION_COLUMNS)), "root": root}
    mp.undo()


def test_predicted_vs_measured_from_real_runs(measured):
    conf, cal = measured["confirmations"], measured["cal"]
    assert list(conf.columns) == list(CONFIRMATION_COLUMNS) and (conf["measured_latency_ms"] > 0).all()
    runs = calibration_frame(cal)
    assert len(runs) == len(cal.runs) == 10
    assert np.allclose(runs["measured_latency_ms"], cal.runs["e2e_ms"])
    held = cal.report["held_out_5fold"]
    fig = predicted_vs_measured_figure(conf, runs, held_out=held)
    names = [t.name for t in fig.data]
    assert names[:2] == ["±10 %", "predicted = measured"]
    assert (
        names[2] == "confirmed, predicted by analytic (1)"
        and names[3] == "confirmed, predicted by calibrated:host-1t (1)"
    )
    assert names[4].startswith("calibration runs") and len(fig.data) == 5
    for trace, row in zip(fig.data[2:4], conf.to_dict(orient="records"), strict=True):
        assert _close(trace.x, [row["measured_latency_ms"]]) and _close(trace.y, [row["predicted_latency_ms"]])
    assert _close(fig.data[4].y, [cal.predict_latency_ms(es.ArchSpec(**s)) for s in cal.runs["spec"]])
    # the band is ±10 % around y = x
    band = fig.data[0]
    assert np.allclose(np.asarray(band.y[:2]) / np.asarray(band.x[:2]), 1.1) and np.allclose(
        band.y[2:] / band.x[2:], 0.9
    )
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert f"{held['within_10pct']:.0%} within ±10 %" in texts and f"n = {held['n']}" in texts
    if conf["measured_energy_mj"].isna().all():  # no power meter here: said, not invented
        assert "no power meter" in texts and "energy per inference (mJ)" not in texts


def test_report_shows_confirmations_and_calibration(measured, tmp_path):
    path = report(
        None,
        tmp_path / "measured.html",
        confirmations=measured["confirmations"],
        calibration=measured["cal"],
        profile="host",
    )
    page = path.read_text()
    assert "data-section='measured'" in page and "fig-predicted-measured" in page
    assert "confirmations</th><td>2 design point(s) run for real, 2 ok" in page
    assert "5-fold held out" in page


# ----------------------------------------------------------------------------- the HTML file


def test_report_is_one_self_contained_file_with_a_section_per_input(result, tmp_path):
    from plotly.offline import get_plotlyjs

    budget = Budget.from_profile(
        PROFILE,
        "7W",
        battery_wh=50,
        solar_wh_per_day=8,
        frames_per_day=2000,
        cloudy_days=3,
        policy="periodic",
        wake_period_s=3600,
        sleep_w=0.05,
    )
    path = report(result, tmp_path / "r.html", budget=budget)
    page = path.read_text()
    assert page.count(get_plotlyjs()[:4000]) == 1  # plotly.js embedded once
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=.http", page)  # nothing to fetch: opens offline
    sections = re.findall(r"data-section='([a-z]+)'", page)
    assert sections == ["overview", "search", "thermal", "roofline", "budget"]
    figures = re.findall(r"data-figure='([a-z-]+)' data-traces='(\d+)'", page)
    assert [f for f, _ in figures] == [
        "fig-pareto-energy",
        "fig-pareto-latency",
        "fig-accuracy-per-joule",
        "fig-front-table",
        "fig-throttling",
        "fig-roofline",
        "fig-battery",
        "fig-energy-balance",
    ]
    # the header: profile, modes, objectives, constraints and where the numbers came from
    for text in (
        "jetson-orin-nano-8gb",
        "7W (7 W)",
        "MAXN_SUPER",
        "accuracy (maximize)",
        "energy_mj (minimize)",
        "sustained_latency_ms &lt;= 3",
        "latency from</th><td><b>analytic</b> (200 rows)",
        "energy from</th><td><b>analytic</b> (200 rows)",
        "predicted from published ImageNet results",
    ):
        assert text in page, text
    # the budget is checked with the front's most accurate design point, in its own mode
    best = result.pareto_front().sort_values("accuracy", ascending=False).iloc[0]
    assert f"Energy budget for {point_label(best)}" in page
    # no confirmations() on this result (or none stored): no measured section
    assert not hasattr(result, "confirmations") or result.confirmations() is None or len(result.confirmations()) == 0


def test_report_reads_provenance_columns(result, tmp_path):
    frame = result.trials_frame()
    n = len(frame)
    # the labels a search with a calibration and a metered power model writes (int8 rows outside
    # the calibration stay analytic): a source per row, each one a label the code itself writes
    from edgespace.cost._estimate import SOURCE_COLUMNS

    assert SOURCE_COLUMNS == ("latency_source", "energy_source")
    frame["latency_source"] = ["calibrated:host-1t"] * (n - 10) + ["analytic"] * 10
    frame["energy_source"] = ["metered:host-1t"] * (n - 10) + ["estimated"] * 10
    page = report(frame, tmp_path / "p.html", profile=PROFILE).read_text()
    assert f"<b>calibrated:host-1t</b> ({n - 10} rows), <b>analytic</b> (10 rows)" in page
    assert f"energy from</th><td><b>metered:host-1t</b> ({n - 10} rows), <b>estimated</b> (10 rows)" in page


def test_report_of_a_5000_trial_study_is_under_10_mb(tmp_path):
    r = es.search(
        "all",
        PROFILE,
        ["accuracy", "energy_mj"],
        ["sustained_latency_ms <= 33"],
        n_trials=5000,
        sampler="random",
        storage="memory",
        seed=0,
    )
    t0 = time.perf_counter()
    path = report(r, tmp_path / "big.html")
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    print(f"5,000-trial report: {size / 1e6:.2f} MB in {seconds:.1f} s")
    assert size < 10e6
    page = path.read_text()
    assert '"type":"scattergl"' in page  # the trial cloud is drawn with WebGL


def test_report_rejects_bad_input(tmp_path):
    with pytest.raises(ReportError, match=r"report\(int\): allowed: a SearchResult"):
        report(42, tmp_path / "x.html")
    with pytest.raises(ReportError, match="nothing to report"):
        report(None, tmp_path / "x.html")
    with pytest.raises(ReportError, match=r"report\(frame\): column\(s\) family.* missing"):
        report(pd.DataFrame({"a": [1]}), tmp_path / "x.html")
    with pytest.raises(ReportError, match="report\\(budget=...\\): no design point"):
        report(None, tmp_path / "x.html", budget=Budget(battery_wh=10, frames_per_day=10))


# ----------------------------------------------------------------------------- CLI and PNG


def test_cli_search_writes_the_report_and_report_reads_a_stored_study(tmp_path, capsys):
    journal = tmp_path / "s.journal"
    out = tmp_path / "runs" / "report.html"
    rc = main(
        [
            "search",
            "--profile",
            PROFILE,
            "--space",
            "mobilenetv2",
            "--trials",
            "100",
            "--storage",
            f"journal:{journal}",
            "--study",
            "rep",
            "--constraint",
            "sustained_latency_ms<=33",
            "--quiet",
            "--report",
            str(out),
        ]
    )
    assert rc == 0 and out.is_file()
    assert f"report: {out} (" in capsys.readouterr().out
    again = tmp_path / "again.html"
    assert main(["report", "--storage", f"journal:{journal}", "--study", "rep", "--out", str(again)]) == 0
    assert f"report: {again}" in capsys.readouterr().out
    assert "study <code>rep</code>" in again.read_text() and "100 trials, 100 complete" in again.read_text()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["report", "--study", "nope", "--storage", "journal:{d}/missing.journal", "--out", "{d}/x.html"],
            "no storage file",
        ),
        (["report", "--study", "rep", "--out", "{d}/x.txt"], "--out '{d}/x.txt': allowed: a file name ending in .html"),
        (["report", "--out", "{d}/x.html"], "the following arguments are required: --study"),
        (
            ["search", "--profile", PROFILE, "--report", "{d}/x.pdf"],
            "--report '{d}/x.pdf': allowed: a file name ending in .html",
        ),
    ],
)
def test_cli_report_bad_input_exits_2_with_one_line(argv, needle, tmp_path, capsys):
    argv = [a.format(d=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and needle.format(d=tmp_path) in err
    assert not (tmp_path / "missing.journal").exists()  # reading a study never creates a storage


def test_png_export_through_kaleido_or_a_clear_error(tmp_path, monkeypatch, result):
    fig = front_table(result.pareto_front())
    pytest.importorskip("kaleido", reason="kaleido is optional (pip install 'edgespace[png]')")
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-browser-here"))
    with pytest.raises(es.UnavailableError, match="PNG export needs a Chrome or Chromium browser"):
        write_png(fig, tmp_path / "t.png")
    monkeypatch.delenv("BROWSER_PATH")
    import shutil

    if not (shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chrome")):
        pytest.skip("no Chrome/Chromium here for kaleido; the error above is what a user sees")
    path = write_png(fig, tmp_path / "t.png", width=600, height=300)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_dla_placement_is_labelled_and_reproduced():
    """A design point placed on the DLA (profiles' placement dimension): its label says so, the
    accuracy-per-joule frame recomputes it on the DLA, the roofline's roofs are the DLA's and its
    GPU fallback's."""
    prof = "jetson-agx-orin-64gb"
    grid = es.screen(
        es.EfficientNetSpace(placements=("dla",), precisions=("int8",), modes=("15W",)), prof, ["accuracy", "energy_mj"]
    )
    front = grid[grid["pareto"]].head(3)
    assert (front["placement"] == "dla").all() and point_label(front.iloc[0]).endswith("@ 15W, dla")
    mf = front_modes_frame(front, prof, top=None)
    on = mf[mf["on_front"]].merge(
        front, on=["family", "width", "depth", "resolution", "precision", "mode"], suffixes=("", "_f")
    )
    assert len(on) == 3 and (on["placement"] == "dla").all()
    assert np.allclose(on["accuracy_per_joule"], on["accuracy_per_joule_f"], rtol=1e-9)
    r = front.iloc[0]
    est = es.estimate(
        es.ArchSpec(r["family"], r["width"], r["depth"], int(r["resolution"]), "int8"), prof, "15W", placement="dla"
    )
    kernels, ceilings = roofline_frame(est)
    assert list(ceilings["engine"]) == ["dla", "gpu"] and list(ceilings["role"]) == ["primary", "fallback"]
    engines = kernels["engine"].to_numpy()
    assert int(kernels["crossing"].sum()) == int((engines[1:] != engines[:-1]).sum()) > 0
