"""``report(...)``: one self-contained HTML file (plotly.js embedded once, opens offline) with a
section for whatever the inputs hold, and ``write_png`` (kaleido, where a browser is present)."""

from __future__ import annotations

import datetime as _dt
import html
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from edgespace._errors import UnavailableError
from edgespace._paths import REPORT_MARK
from edgespace.report import _figures as F
from edgespace.report._data import (
    ReportError,
    best_candidates,
    calibration_frame,
    front_modes_frame,
    placement_of,
    point_label,
    roofline_frame,
    sources_of,
    spec_of,
    thermal_frame,
)
from edgespace.report._figures_budget import battery_figure, energy_balance_figure
from edgespace.report._figures_device import roofline_figure, throttling_figure
from edgespace.report._figures_runs import predicted_vs_measured_figure, refine_notes
from edgespace.report._inputs import ReportInputs, collect

__all__ = ["report", "write_png"]


# ----------------------------------------------------------------------------- page


def _figure_html(fig, div_id: str) -> str:
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png", "scale": 2}},
    )


def _fmt(v, spec: str = ",.4g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return format(v, spec) if isinstance(v, (int, float, np.integer, np.floating)) else str(v)


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{body}</table>"


def _profile_rows(prof) -> list[tuple[str, str]]:
    if prof is None:
        return []
    modes = ", ".join(
        f"{html.escape(m)} ({prof.mode(m).budget_w:g} W)" if getattr(prof.mode(m), "budget_w", None) else html.escape(m)
        for m in prof.mode_names
    )
    try:
        values = prof.sourced_values()
        sourced = sum(1 for _, s in values if getattr(s, "source", None))
        prov = (
            f"{sourced} of {len(values)} profile values cite a source, {len(values) - sourced} are stated estimates "
            f"(<code>edgespace profiles show {html.escape(prof.name)}</code>)"
        )
    except Exception:  # a profile built by hand may not carry sources
        prov = "see the profile file"
    return [
        ("profile", f"<b>{html.escape(prof.name)}</b>: {html.escape(str(getattr(prof, 'description', '') or ''))}"),
        ("power modes", modes),
        ("profile numbers", prov),
    ]


def _sources_html(frame: pd.DataFrame | None, definition: dict) -> list[tuple[str, str]]:
    if frame is None or not len(frame):
        return []

    def fmt(d: dict[str, int]) -> str:
        return ", ".join(f"<b>{html.escape(k)}</b> ({v:,} rows)" for k, v in d.items())

    acc = definition.get("accuracy", "published:ptq")
    acc_text = {
        "published:ptq": "predicted from published ImageNet results (post-training int8)",
        "published:qat": "predicted from published ImageNet results (quantisation-aware int8)",
    }.get(acc, acc)
    return [
        (
            "latency from",
            fmt(sources_of(frame, "latency_source")) + " <span class='note'>(analytic = the roofline cost model; "
            "calibrated:&lt;id&gt; = a fitted model of real runs; measured:&lt;id&gt; = a run)</span>",
        ),
        (
            "energy from",
            fmt(sources_of(frame, "energy_source")) + " <span class='note'>(analytic = the cost model; "
            "metered:&lt;id&gt; = a power meter)</span>",
        ),
        ("accuracy from", html.escape(acc_text)),
    ]


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1d3557;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:24px}
header .sub{opacity:.85;font-size:13px}main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:18px 0;padding:10px 18px}
h2{font-size:19px;margin:10px 0}table.kv{border-collapse:collapse;font-size:13px;margin:6px 0}
table.kv th{text-align:left;padding:3px 14px 3px 0;vertical-align:top;color:#555;font-weight:600;white-space:nowrap}
table.kv td{padding:3px 0}.note{color:#666;font-size:12px}nav a{margin-right:14px;font-size:13px}
.figure{margin:8px 0 18px}code{background:#f1f1f1;padding:0 3px;border-radius:3px}
"""


def _page(title: str, header_rows, sections: list[tuple[str, str, str]], subtitle: str) -> str:
    from plotly.offline import get_plotlyjs

    nav = "".join(f"<a href='#{sid}'>{html.escape(name)}</a>" for sid, name, _ in sections)
    body = "".join(
        f"<section id='{sid}' data-section='{sid}'><h2>{html.escape(name)}</h2>{content}</section>"
        for sid, name, content in sections
    )
    return (
        f"{REPORT_MARK}"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><div class='sub'>{subtitle}</div></header><main>"
        f"<section id='overview' data-section='overview'><h2>Overview</h2>{_kv_table(header_rows)}<nav>{nav}</nav></section>"
        f"{body}</main></body></html>"
    )


def _figures(inputs: ReportInputs, *, thermal_candidates: int, top: int, ambient_c) -> list[tuple[str, str, list]]:
    """(section id, section name, [(div id, figure, caption html)]) for what the inputs hold."""
    out = []
    prof = inputs.profile
    modes = list(prof.mode_names) if prof is not None else None
    if inputs.trials is not None:
        figs = []
        x_energy = "energy_mj"
        figs.append(
            (
                "fig-pareto-energy",
                F.pareto_figure(inputs.trials, inputs.front, x=x_energy, modes=modes, constraints=inputs.constraints),
                "",
            )
        )
        if "sustained_latency_ms" in inputs.trials.columns:
            figs.append(
                (
                    "fig-pareto-latency",
                    F.pareto_figure(
                        inputs.trials,
                        inputs.front,
                        x="sustained_latency_ms",
                        modes=modes,
                        constraints=inputs.constraints,
                    ),
                    "",
                )
            )
        if prof is not None and len(inputs.front):
            mf = front_modes_frame(inputs.front, prof, ambient_c=ambient_c, top=top)
            figs.append(("fig-accuracy-per-joule", F.accuracy_per_joule_figure(mf, modes=modes), ""))
        figs.append(("fig-front-table", F.front_table(inputs.front), ""))
        out.append(("search", "Search: Pareto fronts and accuracy per joule", figs))
        if prof is not None and len(inputs.front):
            best = best_candidates(inputs.front, thermal_candidates)
            therm = thermal_frame(best, prof, ambient_c=ambient_c)
            top1 = best.iloc[0].to_dict()
            from edgespace.cost import estimate

            est = estimate(spec_of(top1), prof, str(top1["mode"]), ambient_c=ambient_c, placement=placement_of(top1))
            kernels, ceilings = roofline_frame(est, prof)
            n_cross = int(kernels["crossing"].sum())
            out.append(
                (
                    "thermal",
                    "Throttling under sustained load",
                    [
                        ("fig-throttling", throttling_figure(therm), ""),
                        (
                            "",
                            None,
                            "the front's best by accuracy per joule and its most accurate design point (the heaviest, the first to "
                            "throttle); duration: three times the longest closed-form time to throttle, 10 minutes to 2 hours",
                        ),
                    ],
                )
            )
            out.append(
                (
                    "roofline",
                    "Per-layer roofline of the best design point by accuracy per joule",
                    [
                        (
                            "fig-roofline",
                            roofline_figure(
                                kernels,
                                ceilings,
                                title=f"Per-layer roofline: {point_label(top1)}",
                                subtitle=f"{len(kernels)} kernels, {int((kernels['fused'] != '').sum())} with fused layers, "
                                f"{n_cross} fallback crossing(s)",
                            ),
                            "",
                        )
                    ],
                )
            )
    if inputs.feasibility is not None:
        r = inputs.feasibility
        hourly = r.to_frame()
        harvest = []
        if r.budget is not None:
            try:
                series = r.budget.harvest_series_wh(r.horizon_days) * r.budget.charge_efficiency
                harvest.append(("harvest, sunny day", float(series.max())))
                if float(series.min()) < float(series.max()):
                    harvest.append(("harvest, cloudy day", float(series.min())))
            except Exception:  # a budget without a harvest model: show the typical day only
                harvest = []
        if not harvest:
            harvest = [("harvest, typical day", r.daily_harvest_j / 3600.0)]
        point = f" for {point_label(inputs.budget_point)}" if inputs.budget_point else ""
        sub = f"{r.verdict}: {html.escape(r.reasons[0]) if r.reasons else ''}"
        figs = [
            (
                "fig-battery",
                battery_figure(
                    hourly,
                    usable_wh=r.usable_j / 3600.0,
                    subtitle=f"{r.energy_per_frame_j * 1e3:,.1f} mJ per frame{point}",
                ),
                "",
            ),
            ("fig-energy-balance", energy_balance_figure(r.terms_frame(), harvest_wh=harvest), ""),
        ]
        out.append(("budget", f"Energy budget{point}: {r.verdict}", figs + [("", None, sub)]))
    if inputs.confirmations is not None or inputs.calibration is not None:
        runs = calibration_frame(inputs.calibration) if inputs.calibration is not None else None
        held = (inputs.calibration.report or {}).get("held_out_5fold") if inputs.calibration is not None else None
        fig = predicted_vs_measured_figure(inputs.confirmations, runs, held_out=held)
        figs = [("fig-predicted-measured", fig, ""), *refine_notes(inputs.refine_rounds)]
        out.append(("measured", "Predicted vs measured", figs))
    return out


def report(
    obj=None,
    path: str | os.PathLike = "report.html",
    *,
    budget=None,
    calibration=None,
    confirmations=None,
    profile=None,
    objectives=None,
    constraints=None,
    energy_per_frame_mj: float | None = None,
    title: str | None = None,
    thermal_candidates: int = 3,
    top: int = 15,
    ambient_c: float | None = None,
) -> Path:
    """Write one self-contained HTML report to ``path`` and return the path.

    ``obj``: a :class:`~edgespace.SearchResult`, an Optuna study made by ``edgespace.search``,
    a trials/screen DataFrame (then ``profile=`` and ``objectives=`` say what it is), or None.
    Sections appear for what the inputs hold: the search (Pareto fronts in energy and sustained
    latency, accuracy per joule per mode, the front as a table), throttling and the per-layer
    roofline of the front's best candidates, the energy ``budget`` (a Budget checked with the
    front's most accurate design point in its mode, or a FeasibilityResult; a study searched
    under a budget brings its own), and predicted vs measured (``confirmations``: default
    ``obj.confirmations()`` where the result has it; ``calibration``: a Calibration or
    its file). plotly.js is embedded once: the file opens offline."""
    inputs = collect(
        obj,
        budget=budget,
        calibration=calibration,
        confirmations=confirmations,
        profile=profile,
        objectives=objectives,
        constraints=constraints,
        energy_per_frame_mj=energy_per_frame_mj,
        title=title,
    )
    if (
        inputs.trials is None
        and inputs.feasibility is None
        and inputs.confirmations is None
        and inputs.calibration is None
    ):
        raise ReportError("report(): nothing to report; give a search result, budget=, confirmations= or calibration=")
    if not isinstance(thermal_candidates, int) or thermal_candidates < 1:
        raise ReportError(f"report(thermal_candidates={thermal_candidates!r}): allowed: an integer >= 1")
    definition = inputs.definition
    ambient = ambient_c if ambient_c is not None else definition.get("ambient_c")
    groups = _figures(inputs, thermal_candidates=thermal_candidates, top=top, ambient_c=ambient)
    header = _header_rows(inputs)
    sections = []
    for sid, name, figs in groups:
        parts = []
        for div_id, fig, caption in figs:
            if fig is None:
                parts.append(f"<p class='note'>{caption}</p>")
                continue
            parts.append(
                f"<div class='figure' data-figure='{div_id}' data-traces='{len(fig.data)}'>{_figure_html(fig, div_id)}</div>"
            )
        sections.append((sid, name, "".join(parts)))
    from edgespace._version import __version__

    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sub = f"edgespace {__version__} · generated {now} · every figure says where its numbers come from"
    page = _page(inputs.title, header, sections, sub)
    p = _output(path, obj)
    p.parent.mkdir(exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:  # a full disk, a quota: name the file (the partial copy is removed)
        tmp.unlink(missing_ok=True)
        raise ReportError(f"report: {p}: cannot write: {exc.strerror or exc}") from None
    return p


def _output(path, obj) -> Path:
    """The checked report path: never the study's storage, nor a file that is not a report."""
    from edgespace._paths import report_file
    from edgespace.study import storage_files

    storage = getattr(obj, "storage", None)
    protected = storage_files(storage) if isinstance(storage, str) else []
    return report_file(path, "report", ReportError, protected=protected)


def _header_rows(inputs: ReportInputs) -> list[tuple[str, str]]:
    rows = _profile_rows(inputs.profile)
    if inputs.objectives:
        rows.append(("objectives", ", ".join(f"{html.escape(o.name)} ({o.direction})" for o in inputs.objectives)))
        rows.append(("constraints", html.escape("; ".join(str(c) for c in inputs.constraints) or "none")))
    if inputs.trials is not None:
        t = inputs.trials
        complete = t[t["state"].astype(str) == "COMPLETE"] if "state" in t.columns else t
        feas = int(complete["feasible"].astype(bool).sum()) if "feasible" in complete.columns else len(complete)
        st = inputs.study
        study = ""
        if st.get("name"):
            study = f"study <code>{html.escape(str(st['name']))}</code> ({html.escape(str(st.get('storage')))}); "
        if st.get("sampler"):
            seed = st.get("seed")
            study += (
                f"sampler {html.escape(str(st['sampler']))}"
                + (f", seed {html.escape(str(seed))}" if seed is not None else "")
                + "; "
            )
        rows.append(
            (
                "trials",
                f"{study}{len(t):,} trials, {len(complete):,} complete, {feas:,} feasible, {len(inputs.front)} on the front",
            )
        )
        if inputs.definition.get("space"):
            rows.append(("space", html.escape(str(inputs.definition["space"].get("name", "")))))
        rows += _sources_html(t, inputs.definition)
    if inputs.feasibility is not None:
        r = inputs.feasibility
        b = r.budget
        if b is not None:
            rows.append(
                (
                    "energy budget",
                    html.escape(
                        f"{b.battery_wh:g} Wh battery, {r.daily_harvest_j / 3600:,.2f} Wh/day harvest (typical), {r.frames_per_day:,.0f} "
                        f"frames/day, {b.cloudy_days} cloudy day(s), policy {b.policy}"
                    )
                    + f" → <b>{r.verdict}</b>, "
                    f"{r.days_autonomy:,.1f} days of autonomy; floors: "
                    + html.escape("; ".join(f"{k}: {v}" for k, v in sorted(b.provenance.items())) or "given"),
                )
            )
    if inputs.calibration is not None:
        c = inputs.calibration
        pv = c.provenance
        held = (c.report or {}).get("held_out_5fold")
        ho = (
            f"; 5-fold held out: {held['within_10pct']:.0%} within ±10 %, MAPE {held['mape_pct']:.1f} %"
            if held
            else "; too few networks for a held-out error"
        )
        rows.append(
            (
                "calibration",
                html.escape(
                    f"{c.profile}: {pv.get('networks')} networks, {pv.get('runtime')} "
                    f"{pv.get('provider')}, {pv.get('threads')} thread(s), {pv.get('date')}{ho}"
                ),
            )
        )
    if inputs.confirmations is not None:
        conf = inputs.confirmations
        ok = int((conf["status"].astype(str) == "ok").sum()) if "status" in conf.columns else len(conf)
        rows.append(("confirmations", f"{len(conf)} design point(s) run for real, {ok} ok"))
    return rows


def write_png(
    fig, path: str | os.PathLike, *, width: int = 1200, height: int | None = None, scale: float = 1.0
) -> Path:
    """A figure as PNG through kaleido (``pip install 'edgespace[png]'``), which drives a
    Chrome/Chromium already installed (``BROWSER_PATH`` names one that is not on the usual paths).
    Raises :class:`~edgespace.UnavailableError` saying which of the two is missing."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise UnavailableError(
            "PNG export needs kaleido: pip install 'edgespace[png]' (or kaleido); the HTML report needs neither"
        ) from None
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.write_image(str(p), format="png", width=width, height=height or fig.layout.height or 600, scale=scale)
    except Exception as exc:  # kaleido raises a RuntimeError (or choreographer's own) when no browser is found
        text = " ".join(str(exc).split())[:160] or type(exc).__name__
        if "chrome" in text.lower() or "browser" in text.lower() or "ChromeNotFound" in type(exc).__name__:
            raise UnavailableError(
                f"PNG export needs a Chrome or Chromium browser for kaleido (none found: {text}); "
                "install one (Debian: apt-get install chromium) or set BROWSER_PATH"
            ) from None
        raise
    return p
