"""A generated report opened in a real browser (headless Chromium, driven by Playwright): no
JavaScript errors, every figure rendered with the traces it was given, a screenshot saved.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it) and Playwright
from PyPI (its Python package only; no browser download): ``executable_path`` points at the
system's Chromium. Outside CI, a machine without either skips and says why; in CI (``CI`` set)
their absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import edgespace as es
from edgespace.budget import Budget
from edgespace.report import report

#: The flags every run uses: no sandbox (root in CI containers), no GPU, nothing fetched from the
#: network, nothing remembered between runs (each run gets a new empty --user-data-dir).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROFILE = "jetson-orin-nano-8gb"


def _chromium() -> str:
    path = os.environ.get("EDGESPACE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    why = None
    if path is None:
        why = "no Chromium on this machine (Debian: apt-get install chromium; or set EDGESPACE_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            why = "the playwright Python package is missing (pip install playwright; no browser download needed)"
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {why}")
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = _chromium()
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="edgespace-chromium-") as profile_dir:
        ctx = p.chromium.launch_persistent_context(
            profile_dir,
            executable_path=exe,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1300, "height": 900},
        )
        try:
            yield ctx
        finally:
            ctx.close()


#: In the page: for each plot, its id, the traces it holds, the trace groups drawn in SVG, the
#: WebGL canvases with a non-zero size, and the size of the plot.
_INSPECT = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  id: gd.id,
  data: gd.data.length,
  full: gd._fullData.length,
  drawn: gd.querySelectorAll('g.trace, g.table').length,
  gl: Array.from(gd.querySelectorAll('canvas')).filter(c => c.width > 0 && c.height > 0).length,
  points: Array.from(gd.querySelectorAll('g.trace path.point')).length,
  w: gd.getBoundingClientRect().width, h: gd.getBoundingClientRect().height,
}))"""


def _open(browser, path: Path):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
    page.wait_for_timeout(500)  # let the last plots finish drawing
    return page, errors


def _expected(fig) -> tuple[int, int]:
    """(traces, SVG trace groups with something to draw): a scatter with no points draws no group."""
    svg = 0
    for t in fig.data:
        if t.type == "table":
            svg += 1
        elif t.type == "scattergl":
            continue
        elif t.type in ("scatter", "bar") and len(t.x if t.x is not None else t.y or ()) > 0:
            svg += 1
    return len(fig.data), svg


def test_report_renders_in_chromium_without_errors(browser, tmp_path):
    from edgespace.report import collect
    from edgespace.report._report import _figures

    result = es.search(
        "all",
        PROFILE,
        ["accuracy", "energy_mj"],
        ["sustained_latency_ms <= 33"],
        n_trials=300,
        storage="memory",
        seed=0,
    )
    budget = Budget.from_profile(
        PROFILE,
        "7W",
        battery_wh=50,
        solar_wh_per_day=8,
        frames_per_day=2000,
        cloudy_days=3,
        cloudy_start_day=1,
        policy="always_on",
    )
    path = report(result, tmp_path / "report.html", budget=budget)
    # the figures as the page holds them, to compare with what the browser drew
    figs = {
        div: fig
        for _, _, group in _figures(collect(result, budget=budget), thermal_candidates=3, top=15, ambient_c=None)
        for div, fig, _ in group
        if fig is not None
    }
    page, errors = _open(browser, path)
    plots = page.evaluate(_INSPECT)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert errors == []
    assert [p["id"] for p in plots] == list(figs)
    for p in plots:
        n, svg = _expected(figs[p["id"]])
        assert p["data"] == p["full"] == n, p
        assert p["drawn"] == svg, p  # every trace with points has its drawn group
        assert p["w"] > 600 and p["h"] > 300, p
    pareto = next(p for p in plots if p["id"] == "fig-pareto-energy")
    assert pareto["points"] >= 300  # every trial is a marker (300 trials + the front on top)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    keep = os.environ.get("EDGESPACE_REPORT_SCREENSHOT")
    if keep:  # e.g. for the README's picture
        shutil.copy(shot, keep)


def test_webgl_trial_cloud_renders_in_chromium(browser, tmp_path):
    result = es.search(
        "all",
        PROFILE,
        ["accuracy", "energy_mj"],
        ["sustained_latency_ms <= 33"],
        n_trials=2500,
        sampler="random",
        storage="memory",
        seed=1,
    )
    path = report(result, tmp_path / "big.html")
    page, errors = _open(browser, path)
    plots = page.evaluate(_INSPECT)
    assert errors == []
    pareto = next(p for p in plots if p["id"] == "fig-pareto-energy")
    assert pareto["data"] == pareto["full"] == 6  # 4 modes, infeasible, front
    assert pareto["gl"] >= 1 and pareto["drawn"] == 1  # the cloud on a WebGL canvas, the front in SVG
    page.screenshot(path=str(tmp_path / "big.png"))
    assert (tmp_path / "big.png").stat().st_size > 20_000
