"""Figure functions: each draws a frame (or a result, through :mod:`edgespace.report._data`) and
returns a ``plotly.graph_objects.Figure`` (usable in a notebook; ``report`` puts them in one
HTML file). Plotting only: the numbers are computed by the cost models before they get here.

Conventions: colour = power mode (the profile's order, one colour each, :func:`mode_colors`),
marker symbol = precision (:data:`PRECISION_SYMBOLS`), grey = infeasible; each title says where
its numbers come from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from edgespace._spec import ARCH_COLUMNS
from edgespace.report._data import (
    REQUIRED_POINT_COLUMNS,
    arch_label,
    check_columns,
    point_columns,
    point_label,
    sources_of,
)

__all__ = [
    "PRECISION_SYMBOLS",
    "WEBGL_THRESHOLD",
    "mode_colors",
    "pareto_figure",
    "accuracy_per_joule_figure",
    "throttling_figure",
    "battery_figure",
    "energy_balance_figure",
    "predicted_vs_measured_figure",
    "roofline_figure",
    "front_table",
]

PRECISION_SYMBOLS = {"fp32": "circle", "fp16": "square", "int8": "diamond"}
_PRECISION_GLYPH = {"fp32": "●", "fp16": "■", "int8": "◆"}
#: Colour-blind-safe qualitative palette (Okabe & Ito, 2008), then plotly's default ones.
_PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#636EFA",
    "#EF553B",
    "#00CC96",
    "#AB63FA",
    "#FFA15A",
    "#19D3F3",
)
INFEASIBLE_COLOR = "#B0B0B0"
#: Above this many points a trial cloud is drawn with WebGL (``Scattergl``): SVG slows down past
#: a few thousand markers, and the HTML stays the same size either way.
WEBGL_THRESHOLD = 2000
_LABELS = {
    "accuracy": "ImageNet top-1 (%)",
    "energy_mj": "energy per inference (mJ)",
    "sustained_energy_mj": "sustained energy per inference (mJ)",
    "sustained_latency_ms": "sustained latency (ms)",
    "latency_ms": "latency (ms)",
    "accuracy_per_joule": "accuracy per joule (top-1 % × inferences/J)",
}


def _go():
    import plotly.graph_objects as go

    return go


def mode_colors(modes: Sequence[str]) -> dict[str, str]:
    """One colour per power mode, in the order given (the profile's)."""
    return {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(dict.fromkeys(modes))}


def _modes_in(frame: pd.DataFrame, modes: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(frame["mode"].astype(str))) if "mode" in frame.columns else []
    if modes is None:
        return present
    return [m for m in modes if m in present] + [m for m in present if m not in modes]


def _r(x, digits: int = 4):
    """Round for the page: 4 significant digits keeps hover text exact enough and the file small."""
    a = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where((a != 0) & np.isfinite(a), np.floor(np.log10(np.abs(a))), 0)
    scale = 10.0 ** (digits - 1 - mag)
    return np.where(np.isfinite(a), np.round(a * scale) / scale, np.nan)


def _title(text: str, source: str) -> dict:
    return {"text": f"{text}<br><sup>{source}</sup>", "x": 0.0, "xanchor": "left"}


def _source_text(frame: pd.DataFrame) -> str:
    lat = ", ".join(f"{k} ({v})" for k, v in sources_of(frame, "latency_source").items())
    en = ", ".join(f"{k} ({v})" for k, v in sources_of(frame, "energy_source").items())
    return (
        f"latency: {lat or 'analytic'}; energy: {en or 'analytic'}; accuracy: predicted from published ImageNet results"
    )


def _hover(frame: pd.DataFrame, x: str, y: str) -> tuple[np.ndarray, str]:
    """customdata + hovertemplate: the design point and its numbers, once per point."""
    cols = [
        c
        for c in ("accuracy", "energy_mj", "sustained_latency_ms", "accuracy_per_joule", "total_memory_mb")
        if c in frame.columns
    ]
    labels = [point_label(r) for r in frame[point_columns(frame)].to_dict(orient="records")]
    data = [labels] + [_r(frame[c].to_numpy(dtype=float)) for c in cols]
    number = frame["number"].to_numpy() if "number" in frame.columns else np.full(len(frame), -1)
    data.append(number)
    custom = np.empty((len(frame), len(data)), dtype=object)
    for j, col in enumerate(data):
        custom[:, j] = col
    units = {
        "accuracy": "%",
        "energy_mj": " mJ",
        "sustained_latency_ms": " ms",
        "accuracy_per_joule": "",
        "total_memory_mb": " MB",
    }
    parts = ["<b>%{customdata[0]}</b>"]
    parts += [f"{c}: %{{customdata[{j + 1}]}}{units[c]}" for j, c in enumerate(cols)]
    parts.append(f"trial %{{customdata[{len(cols) + 1}]}}")
    return custom, "<br>".join(parts) + "<extra></extra>"


def _constraint_lines(fig, constraints, axis_name: str, axis: str, log: bool = False) -> None:
    for c in constraints or ():
        name, op, value = getattr(c, "name", None), getattr(c, "op", None), getattr(c, "value", None)
        if name == axis_name and op in ("<=", "<", ">=", ">") and value is not None:
            if log and value <= 0:
                continue
            at = math.log10(value) if log else value  # plotly places shapes on a log axis in log10 units
            kw = {"x": at} if axis == "x" else {"y": at}
            (fig.add_vline if axis == "x" else fig.add_hline)(
                **kw,
                line={"dash": "dash", "color": "#444", "width": 1},
                annotation_text=f"constraint {name} {op} {value:g}",
                annotation_position="top left" if axis == "x" else "bottom right",
            )


def pareto_figure(
    trials: pd.DataFrame,
    front: pd.DataFrame,
    *,
    x: str = "energy_mj",
    y: str = "accuracy",
    modes: Sequence[str] | None = None,
    constraints: Sequence[Any] = (),
    log_x: bool = True,
    webgl: bool | None = None,
    title: str | None = None,
):
    """Every trial of ``trials`` (complete ones with finite ``x``/``y``): feasible trials coloured
    by power mode (one trace per mode, in ``modes`` order), infeasible ones grey (one trace);
    symbol = precision; the ``front`` (e.g. ``SearchResult.pareto_front()``) highlighted on top
    (one trace, joined in ``x`` order, each marker in its mode's colour). Hover: the design point
    and its numbers. ``webgl`` (default: above :data:`WEBGL_THRESHOLD` trials) draws the cloud
    with ``Scattergl``. Trace order: the modes, ``infeasible``, ``Pareto front``."""
    go = _go()
    check_columns(trials, [*REQUIRED_POINT_COLUMNS, x, y], "pareto_figure(trials)")
    check_columns(front, [*REQUIRED_POINT_COLUMNS, x, y], "pareto_figure(front)")
    t = trials
    if "state" in t.columns:
        t = t[t["state"].astype(str) == "COMPLETE"]
    xv, yv = pd.to_numeric(t[x], errors="coerce"), pd.to_numeric(t[y], errors="coerce")
    t = t[np.isfinite(xv) & np.isfinite(yv) & ((xv > 0) if log_x else True)]
    feasible = t["feasible"].astype(bool).to_numpy() if "feasible" in t.columns else np.ones(len(t), dtype=bool)
    gl = (len(t) > WEBGL_THRESHOLD) if webgl is None else bool(webgl)
    Scatter = go.Scattergl if gl else go.Scatter
    all_modes = _modes_in(pd.concat([t[["mode"]], front[["mode"]]]), modes)
    colors = mode_colors(list(modes or []) + all_modes)
    fig = go.Figure()
    ok = t[feasible]
    for m in all_modes:
        part = ok[ok["mode"].astype(str) == m]
        custom, tmpl = _hover(part, x, y)
        fig.add_trace(
            Scatter(
                x=_r(part[x]),
                y=_r(part[y]),
                mode="markers",
                name=f"{m} ({len(part)})",
                legendgroup=m,
                marker={
                    "color": colors[m],
                    "size": 6,
                    "opacity": 0.55,
                    "symbol": [PRECISION_SYMBOLS.get(p, "circle") for p in part["precision"]],
                },
                customdata=custom,
                hovertemplate=tmpl,
            )
        )
    bad = t[~feasible]
    custom, tmpl = _hover(bad, x, y)
    fig.add_trace(
        Scatter(
            x=_r(bad[x]),
            y=_r(bad[y]),
            mode="markers",
            name=f"infeasible ({len(bad)})",
            marker={
                "color": INFEASIBLE_COLOR,
                "size": 5,
                "opacity": 0.5,
                "symbol": [PRECISION_SYMBOLS.get(p, "circle") for p in bad["precision"]],
            },
            customdata=custom,
            hovertemplate=tmpl,
        )
    )
    f = front.sort_values(x)
    custom, tmpl = _hover(f, x, y)
    fig.add_trace(
        go.Scatter(
            x=_r(f[x]),
            y=_r(f[y]),
            mode="lines+markers",
            name=f"Pareto front ({len(f)})",
            line={"color": "#222", "width": 1.5, "shape": "hv" if y == "accuracy" else "linear"},
            marker={
                "color": [colors.get(str(m), "#222") for m in f["mode"]],
                "size": 11,
                "symbol": [PRECISION_SYMBOLS.get(p, "circle") for p in f["precision"]],
                "line": {"color": "#000", "width": 1.5},
            },
            customdata=custom,
            hovertemplate=tmpl,
        )
    )
    _constraint_lines(fig, constraints, x, "x", log=log_x)
    _constraint_lines(fig, constraints, y, "y")
    glyphs = "  ".join(f"{g} {p}" for p, g in _PRECISION_GLYPH.items())
    fig.add_annotation(
        text=f"colour: power mode · symbol: {glyphs} · grey: infeasible",
        xref="paper",
        yref="paper",
        x=0,
        y=-0.24,
        showarrow=False,
        xanchor="left",
        yanchor="top",
        font={"size": 11},
    )
    fig.update_layout(
        title=_title(
            title or f"{_LABELS.get(y, y)} vs {_LABELS.get(x, x)}: {len(t):,} trials, {len(f)} on the front",
            _source_text(t),
        ),
        xaxis={"title": _LABELS.get(x, x) + (" (log)" if log_x else ""), "type": "log" if log_x else "linear"},
        yaxis={"title": _LABELS.get(y, y)},
        legend={"title": {"text": "power mode"}},
        template="plotly_white",
        height=540,
        margin={"b": 110},
    )
    return fig


def accuracy_per_joule_figure(
    modes_frame: pd.DataFrame, *, modes: Sequence[str] | None = None, title: str | None = None
):
    """The front's architectures ranked by accuracy per joule (best first, top to bottom), with the
    profile's power modes side by side (one bar trace per mode); ``◀ front`` marks the mode the
    front holds. ``modes_frame``: :func:`edgespace.report.front_modes_frame`."""
    go = _go()
    check_columns(modes_frame, ["arch", "mode", "accuracy_per_joule", "on_front", "rank"], "accuracy_per_joule_figure")
    mf = modes_frame.sort_values("rank")
    order = list(dict.fromkeys(mf["arch"]))
    all_modes = _modes_in(mf, modes)
    colors = mode_colors(list(modes or []) + all_modes)
    fig = go.Figure()
    for m in all_modes:
        part = mf[mf["mode"].astype(str) == m].set_index("arch").reindex(order)
        fig.add_trace(
            go.Bar(
                y=order,
                x=_r(part["accuracy_per_joule"]),
                name=m,
                orientation="h",
                marker={"color": colors[m]},
                text=["◀ front" if bool(v) else "" for v in part["on_front"].fillna(False)],
                textposition="outside",
                customdata=np.column_stack([_r(part["energy_mj"]), _r(part["accuracy"])])
                if "energy_mj" in part
                else None,
                hovertemplate="<b>%{y}</b> @ " + m + "<br>accuracy per joule: %{x}<br>energy: %{customdata[0]} mJ"
                "<br>top-1: %{customdata[1]} %<extra></extra>",
            )
        )
    fig.update_layout(
        title=_title(
            title or f"Accuracy per joule: the front's {len(order)} architectures in every power mode",
            "analytic energy per inference (cost model) × predicted top-1; ◀ front = the mode on the Pareto front",
        ),
        barmode="group",
        xaxis={"title": _LABELS["accuracy_per_joule"]},
        yaxis={"autorange": "reversed", "title": ""},
        template="plotly_white",
        height=max(360, 60 + 22 * len(order) * max(1, len(all_modes)) // 2),
        legend={"title": {"text": "power mode"}},
    )
    return fig


def throttling_figure(thermal: pd.DataFrame, *, title: str | None = None):
    """Throughput (top) and temperature (bottom) over time for each candidate of ``thermal``
    (:func:`edgespace.report.thermal_frame`): one fps trace and one temperature trace per
    candidate (in that order, candidate by candidate), the trip temperature, each candidate's
    peak and sustained fps marked and its time to throttle annotated."""
    go = _go()
    from plotly.subplots import make_subplots

    check_columns(
        thermal,
        ["candidate", "time_s", "fps", "temperature_c", "peak_fps", "sustained_fps", "time_to_throttle_s", "trip_c"],
        "throttling_figure",
    )
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    cands = list(dict.fromkeys(thermal["candidate"]))
    for i, c in enumerate(cands):
        part = thermal[thermal["candidate"] == c]
        color = _PALETTE[i % len(_PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=_r(part["time_s"]),
                y=_r(part["fps"]),
                name=c,
                legendgroup=c,
                mode="lines",
                line={"color": color, "width": 1.5},
                hovertemplate="%{x} s: %{y} fps<extra>" + c + "</extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=_r(part["time_s"]),
                y=_r(part["temperature_c"]),
                name=c,
                legendgroup=c,
                showlegend=False,
                mode="lines",
                line={"color": color, "width": 1.5},
                hovertemplate="%{x} s: %{y} °C<extra>" + c + "</extra>",
            ),
            row=2,
            col=1,
        )
        first = part.iloc[0]
        fig.add_hline(
            y=float(first["peak_fps"]),
            line={"color": color, "dash": "dot", "width": 1},
            row=1,
            col=1,
            annotation_text=f"peak {first['peak_fps']:.0f} fps",
            annotation_position="top right",
            annotation_font={"color": color, "size": 10},
        )
        fig.add_hline(
            y=float(first["sustained_fps"]),
            line={"color": color, "dash": "dash", "width": 1},
            row=1,
            col=1,
            annotation_text=f"sustained {first['sustained_fps']:.0f} fps",
            annotation_position="bottom right",
            annotation_font={"color": color, "size": 10},
        )
        ttt = float(first["time_to_throttle_s"])
        if not math.isfinite(ttt):
            fig.add_annotation(
                x=float(part["time_s"].max()),
                y=float(first["peak_fps"]),
                xanchor="right",
                yshift=-14 - 14 * i,
                text=f"no throttling within {part['time_s'].max():.0f} s",
                showarrow=False,
                font={"color": color, "size": 10},
                row=1,
                col=1,
            )
        else:
            fig.add_vline(x=ttt, line={"color": color, "dash": "dot", "width": 1})
            fig.add_annotation(
                x=ttt,
                y=float(first["peak_fps"]),
                text=f"throttles at {ttt:.0f} s",
                showarrow=True,
                arrowhead=2,
                ax=40,
                ay=-25 - 18 * i,
                font={"color": color, "size": 10},
                row=1,
                col=1,
            )
    if len(thermal):
        for trip in sorted(set(thermal["trip_c"].astype(float))):
            fig.add_hline(
                y=trip,
                line={"color": "#c00", "dash": "dash", "width": 1},
                row=2,
                col=1,
                annotation_text=f"trip {trip:g} °C",
                annotation_position="bottom right",
            )
    fig.update_yaxes(title_text="throughput (fps)", row=1, col=1)
    fig.update_yaxes(title_text="hot-spot temperature (°C)", row=2, col=1)
    fig.update_xaxes(title_text="time under continuous load (s)", row=2, col=1)
    fig.update_layout(
        title=_title(
            title or f"Throttling under continuous load: {len(cands)} design points of the front",
            "simulate_thermal: lumped RC thermal model + the profile's DVFS table (estimated constants; see the profile)",
        ),
        template="plotly_white",
        height=620,
        legend={"orientation": "h", "y": -0.12},
    )
    return fig


def _cloudy_days(hourly: pd.DataFrame) -> list[int]:
    """Days whose harvest is below the sunniest day's (a cloudy spell or a dim day of a series)."""
    daily = hourly.groupby("day")["harvest_wh"].sum()
    if daily.empty or daily.max() <= 0:
        return []
    return [int(d) for d, v in daily.items() if v < 0.999 * daily.max()]


def battery_figure(
    hourly: pd.DataFrame, *, usable_wh: float | None = None, title: str | None = None, subtitle: str = ""
):
    """State of charge over the horizon, hour by hour (``FeasibilityResult.to_frame()``): the
    charge as a share of the usable capacity (trace 1), the hours the battery was empty (red
    markers, trace 2, always present), cloudy days shaded (days harvesting less than the
    sunniest)."""
    go = _go()
    check_columns(hourly, ["day", "hour", "soc_fraction", "harvest_wh", "load_wh", "unmet_wh"], "battery_figure")
    t_h = hourly["day"].to_numpy() * 24 + hourly["hour"].to_numpy() + 1.0  # charge at the end of each hour
    fig = go.Figure()
    soc = hourly["soc_fraction"].to_numpy(dtype=float) * 100
    custom = np.column_stack([hourly["day"], hourly["hour"], _r(hourly["harvest_wh"]), _r(hourly["load_wh"])])
    fig.add_trace(
        go.Scatter(
            x=t_h / 24.0,
            y=_r(soc),
            mode="lines",
            name="state of charge",
            line={"color": "#0072B2", "width": 2},
            customdata=custom,
            hovertemplate="day %{customdata[0]} %{customdata[1]}:00<br>charge %{y:.1f} %<br>harvest "
            "%{customdata[2]} Wh, load %{customdata[3]} Wh<extra></extra>",
        )
    )
    empty = hourly["unmet_wh"].to_numpy(dtype=float) > 1e-9
    fig.add_trace(
        go.Scatter(
            x=t_h[empty] / 24.0,
            y=soc[empty],
            mode="markers",
            name=f"empty ({int(empty.sum())} h)",
            marker={"color": "#D00000", "size": 7, "symbol": "x"},
            customdata=_r(hourly["unmet_wh"].to_numpy(dtype=float)[empty]),
            hovertemplate="day %{x:.2f}: empty, %{customdata} Wh unserved<extra></extra>",
        )
    )
    for d in _cloudy_days(hourly):
        fig.add_vrect(x0=d, x1=d + 1, fillcolor="#888", opacity=0.18, line_width=0, layer="below")
    cloudy = _cloudy_days(hourly)
    note = f"shaded: {len(cloudy)} cloudy day(s)" if cloudy else "no cloudy days in the horizon"
    fig.update_layout(
        title=_title(
            title or "Battery state of charge over the horizon",
            f"hourly simulation of the budget (edgespace.budget.feasibility); {note}{'; ' + subtitle if subtitle else ''}",
        ),
        xaxis={"title": "day"},
        yaxis={
            "title": "charge (% of usable capacity)" + (f", {usable_wh:g} Wh = 100 %" if usable_wh else ""),
            "range": [-3, 103],
        },
        template="plotly_white",
        height=420,
    )
    return fig


_TERM_COLORS = {
    "inference": "#0072B2",
    "capture": "#56B4E9",
    "idle_awake": "#E69F00",
    "wake": "#CC79A7",
    "sleep": "#009E73",
}


def energy_balance_figure(
    terms: pd.DataFrame, *, harvest_wh: Sequence[tuple[str, float]] = (), title: str | None = None
):
    """The typical day's energy by term (``FeasibilityResult.terms_frame()``): one stacked bar
    trace per term (in the frame's order: where the joules go) and one trace of the harvest
    (``harvest_wh``: (label, Wh per day) pairs, e.g. a sunny and a cloudy day, after charge
    efficiency)."""
    go = _go()
    check_columns(terms, ["term", "wh_per_day", "share"], "energy_balance_figure")
    fig = go.Figure()
    for r in terms.to_dict(orient="records"):
        fig.add_trace(
            go.Bar(
                x=["load, typical day"],
                y=[float(r["wh_per_day"])],
                name=f"{r['term']} ({r['share']:.1%})",
                marker={"color": _TERM_COLORS.get(r["term"], "#999")},
                hovertemplate=f"{r['term']}: %{{y:.3f}} Wh/day ({r['share']:.1%} of the load)<extra></extra>",
            )
        )
    fig.add_trace(
        go.Bar(
            x=[h[0] for h in harvest_wh],
            y=[float(h[1]) for h in harvest_wh],
            name="harvest (net)",
            marker={"color": "#F0E442", "line": {"color": "#999", "width": 1}},
            hovertemplate="%{x}: %{y:.3f} Wh/day<extra></extra>",
        )
    )
    fig.update_layout(
        title=_title(
            title or "Daily energy balance by term",
            "budget model (edgespace.budget): load by term vs harvest into the battery",
        ),
        barmode="stack",
        yaxis={"title": "Wh per day"},
        template="plotly_white",
        height=420,
    )
    return fig


def _band(go, lo: float, hi: float):
    xs = np.geomspace(lo, hi, 2)
    return go.Scatter(
        x=np.r_[xs, xs[::-1]],
        y=np.r_[xs * 1.1, xs[::-1] * 0.9],
        fill="toself",
        fillcolor="rgba(0,158,115,0.15)",
        line={"width": 0},
        name="±10 %",
        hoverinfo="skip",
    )


def predicted_vs_measured_figure(
    confirmations: pd.DataFrame | None = None,
    calibration_runs: pd.DataFrame | None = None,
    *,
    held_out: dict | None = None,
    title: str | None = None,
):
    """Predicted vs measured latency: the ±10 % band (trace 1), y = x (trace 2), then the
    confirmed design points (``SearchResult.confirmations()``, status ``ok``) one trace per
    ``latency_source`` (analytic, calibrated:<id>), then the calibration's own runs
    (:func:`edgespace.report.calibration_frame`, one trace). ``held_out``: the calibration's
    ``report['held_out_5fold']`` (n, within_10pct, mape_pct, ...), written on the figure.
    Failed confirmations are listed under the plot. A second panel shows energy where a meter
    measured it."""
    go = _go()
    from plotly.subplots import make_subplots

    conf = (
        confirmations
        if confirmations is not None
        else pd.DataFrame(columns=["measured_latency_ms", "predicted_latency_ms"])
    )
    runs = (
        calibration_runs
        if calibration_runs is not None
        else pd.DataFrame(columns=["measured_latency_ms", "predicted_latency_ms"])
    )
    check_columns(conf, ["measured_latency_ms", "predicted_latency_ms"], "predicted_vs_measured_figure(confirmations)")
    check_columns(
        runs, ["measured_latency_ms", "predicted_latency_ms"], "predicted_vs_measured_figure(calibration_runs)"
    )
    ok = conf
    failed = conf.iloc[0:0]
    if "status" in conf.columns:
        good = conf["status"].astype(str) == "ok"
        ok, failed = conf[good], conf[~good]
    energy = (
        ok[pd.to_numeric(ok.get("measured_energy_mj", pd.Series(index=ok.index, dtype=float)), errors="coerce").notna()]
        if "measured_energy_mj" in ok.columns
        else ok.iloc[0:0]
    )
    panels = 2 if len(energy) else 1
    fig = make_subplots(rows=1, cols=panels, subplot_titles=["latency (ms)", "energy per inference (mJ)"][:panels])
    vals = pd.concat(
        [
            pd.to_numeric(d[c], errors="coerce")
            for d in (ok, runs)
            for c in ("measured_latency_ms", "predicted_latency_ms")
        ]
    )
    vals = vals[np.isfinite(vals) & (vals > 0)]
    lo, hi = (float(vals.min()) / 1.5, float(vals.max()) * 1.5) if len(vals) else (0.1, 1000.0)
    fig.add_trace(_band(go, lo, hi), row=1, col=1)
    fig.add_trace(
        go.Scatter(
            x=[lo, hi],
            y=[lo, hi],
            mode="lines",
            name="predicted = measured",
            line={"color": "#444", "dash": "dash"},
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    symbols = {"analytic": "circle", "calibrated": "diamond", "measured": "square"}
    source = (
        ok["latency_source"].fillna("analytic").astype(str)
        if "latency_source" in ok.columns
        else pd.Series("analytic", index=ok.index)
    )
    for i, src in enumerate(dict.fromkeys(source)):
        part = ok[source == src]
        labels = (
            [point_label(r) for r in part.to_dict(orient="records")]
            if set(REQUIRED_POINT_COLUMNS) <= set(part.columns)
            else [""] * len(part)
        )
        err = 100 * (part["predicted_latency_ms"].astype(float) / part["measured_latency_ms"].astype(float) - 1)
        fig.add_trace(
            go.Scatter(
                x=_r(part["measured_latency_ms"]),
                y=_r(part["predicted_latency_ms"]),
                mode="markers",
                name=f"confirmed, predicted by {src} ({len(part)})",
                marker={
                    "size": 11,
                    "symbol": symbols.get(src.split(":")[0], "circle"),
                    "color": _PALETTE[i % len(_PALETTE)],
                    "line": {"color": "#000", "width": 1},
                },
                customdata=np.column_stack([labels, _r(err)]) if len(part) else None,
                hovertemplate="<b>%{customdata[0]}</b><br>measured %{x} ms, predicted %{y} ms<br>error %{customdata[1]} %<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if len(runs):
        src = str(runs["latency_source"].iloc[0]) if "latency_source" in runs.columns else "calibrated"
        err = 100 * (runs["predicted_latency_ms"].astype(float) / runs["measured_latency_ms"].astype(float) - 1)
        fig.add_trace(
            go.Scatter(
                x=_r(runs["measured_latency_ms"]),
                y=_r(runs["predicted_latency_ms"]),
                mode="markers",
                name=f"calibration runs, {src} in sample ({len(runs)})",
                marker={"size": 7, "color": "#999", "symbol": "circle-open"},
                customdata=np.column_stack([runs.get("network", pd.Series([""] * len(runs))).astype(str), _r(err)]),
                hovertemplate="<b>%{customdata[0]}</b><br>measured %{x} ms, fitted %{y} ms<br>error %{customdata[1]} %<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if panels == 2:
        e = energy
        ev = pd.concat([pd.to_numeric(e[c], errors="coerce") for c in ("measured_energy_mj", "predicted_energy_mj")])
        ev = ev[np.isfinite(ev) & (ev > 0)]
        elo, ehi = float(ev.min()) / 1.5, float(ev.max()) * 1.5
        band = _band(go, elo, ehi)
        band.showlegend = False
        fig.add_trace(band, row=1, col=2)
        src = e["energy_source"].astype(str) if "energy_source" in e.columns else "measured"
        fig.add_trace(
            go.Scatter(
                x=_r(e["measured_energy_mj"]),
                y=_r(e["predicted_energy_mj"]),
                mode="markers",
                name=f"energy, confirmed ({len(e)})",
                marker={"size": 11, "color": "#D55E00"},
                text=src,
                hovertemplate="measured %{x} mJ, predicted %{y} mJ (%{text})<extra></extra>",
            ),
            row=1,
            col=2,
        )
        fig.update_xaxes(type="log", title_text="measured (mJ)", row=1, col=2)
        fig.update_yaxes(type="log", title_text="predicted (mJ)", row=1, col=2)
    fig.update_xaxes(type="log", title_text="measured (ms)", row=1, col=1)
    fig.update_yaxes(type="log", title_text="predicted (ms)", row=1, col=1)
    notes = []
    if held_out:
        notes.append(
            f"calibration, 5-fold held out: {held_out.get('within_10pct', float('nan')):.0%} within ±10 %, "
            f"MAPE {held_out.get('mape_pct', float('nan')):.1f} %, worst {held_out.get('worst_pct', float('nan')):.0f} % "
            f"(n = {held_out.get('n', '?')})"
        )
    if len(ok) and "measured_energy_mj" in ok.columns and not len(energy):
        notes.append(
            "energy: no power meter on the confirming machine (measured_energy_mj is None); energy stays analytic"
        )
    if len(failed):
        notes.append(
            "failed: "
            + "; ".join(
                f"{point_label(r) if set(REQUIRED_POINT_COLUMNS) <= set(r) else '?'}: {r['status']}"
                for r in failed.to_dict(orient="records")
            )
        )
    for k, text in enumerate(notes):
        fig.add_annotation(
            text=text,
            xref="paper",
            yref="paper",
            x=0,
            y=-0.2 - 0.07 * k,
            showarrow=False,
            xanchor="left",
            font={"size": 11},
        )
    fig.update_layout(
        title=_title(
            title or "Predicted vs measured latency",
            "real runs (edgespace.confirm / calibration) against the predictions they check; shaded: within ±10 %",
        ),
        template="plotly_white",
        height=520,
        margin={"b": 80 + 25 * len(notes)},
    )
    return fig


def roofline_figure(kernels: pd.DataFrame, ceilings: pd.DataFrame, *, title: str | None = None, subtitle: str = ""):
    """Per-kernel roofline of one design point (:func:`edgespace.report.roofline_frame`): one
    roof trace per engine (``min(peak, bandwidth × intensity)``), then the kernels, one trace
    per (engine, bound) pair, then the fallback crossings (one trace, always present). Hover:
    the kernel, its op, time, and the layers fused into it."""
    go = _go()
    check_columns(
        kernels,
        ["name", "op", "engine", "bound", "time_ms", "intensity_ops_per_byte", "attained_gops", "fused", "crossing"],
        "roofline_figure(kernels)",
    )
    check_columns(ceilings, ["engine", "peak_gops", "bandwidth_gb_s"], "roofline_figure(ceilings)")
    k = kernels[
        np.isfinite(kernels["intensity_ops_per_byte"].astype(float)) & (kernels["attained_gops"].astype(float) > 0)
    ]
    lo = float(k["intensity_ops_per_byte"].min()) / 2 if len(k) else 0.1
    hi = float(k["intensity_ops_per_byte"].max()) * 2 if len(k) else 1000.0
    engines = list(dict.fromkeys(list(ceilings["engine"]) + list(k["engine"])))
    colors = {e: _PALETTE[i % len(_PALETTE)] for i, e in enumerate(engines)}
    fig = go.Figure()
    for r in ceilings.to_dict(orient="records"):
        xs = np.geomspace(lo, hi, 64)
        ys = (
            np.minimum(r["peak_gops"], r["bandwidth_gb_s"] * xs)
            if math.isfinite(r["peak_gops"])
            else r["bandwidth_gb_s"] * xs
        )
        fig.add_trace(
            go.Scatter(
                x=_r(xs),
                y=_r(ys),
                mode="lines",
                name=f"roof {r['engine']}: {r['peak_gops']:,.0f} GOPS, {r['bandwidth_gb_s']:.1f} GB/s",
                line={"color": colors[r["engine"]], "width": 2, "dash": "dash"},
                hoverinfo="skip",
            )
        )
    for (eng, bound), part in k.groupby(["engine", "bound"], sort=False):
        custom = np.column_stack(
            [part["name"], part["op"], _r(part["time_ms"] * 1e3), part["fused"].replace("", "none")]
        )
        fig.add_trace(
            go.Scatter(
                x=_r(part["intensity_ops_per_byte"]),
                y=_r(part["attained_gops"]),
                mode="markers",
                name=f"{eng}, {bound}-bound ({len(part)})",
                marker={
                    "color": colors[eng],
                    "size": np.clip(np.sqrt(part["time_ms"].to_numpy() * 1e3) * 2.5, 5, 22),
                    "symbol": "circle" if bound == "compute" else "triangle-up",
                    "opacity": 0.8,
                    "line": {"color": "#000", "width": 0.5},
                },
                customdata=custom,
                hovertemplate="<b>%{customdata[0]}</b> (%{customdata[1]}, "
                + eng
                + ", "
                + bound
                + "-bound)<br>%{x} ops/byte, %{y} GOPS"
                "<br>%{customdata[2]} µs<br>fused: %{customdata[3]}<extra></extra>",
            )
        )
    cross = k[k["crossing"].astype(bool)]
    fig.add_trace(
        go.Scatter(
            x=_r(cross["intensity_ops_per_byte"]),
            y=_r(cross["attained_gops"]),
            mode="markers",
            name=f"fallback crossing ({len(cross)})",
            marker={"symbol": "x-thin-open", "size": 16, "color": "#D00000", "line": {"width": 2, "color": "#D00000"}},
            text=cross["name"],
            hovertemplate="crossing into %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title=_title(
            title or "Per-layer roofline",
            "analytic cost model: attained = ops / kernel time; marker size ~ kernel time"
            + (f"; {subtitle}" if subtitle else ""),
        ),
        xaxis={"title": "operational intensity (ops per DRAM byte, log)", "type": "log"},
        yaxis={"title": "attained (GOPS, log)", "type": "log"},
        template="plotly_white",
        height=520,
    )
    return fig


_TABLE_COLUMNS = [
    ("design point", None),
    ("mode", "mode"),
    ("top-1 %", "accuracy"),
    ("energy mJ", "energy_mj"),
    ("sustained latency ms", "sustained_latency_ms"),
    ("sustained fps", "sustained_fps"),
    ("acc/J", "accuracy_per_joule"),
    ("memory MB", "total_memory_mb"),
    ("days autonomy", "days_autonomy"),
    ("latency source", "latency_source"),
    ("energy source", "energy_source"),
]


def _numeric(col: pd.Series) -> bool:
    """A column of numbers with gaps (None where a value is infinite or missing, as trial records
    store them)."""
    if col.dtype.kind not in "O" or not col.notna().any():
        return False
    return bool(pd.to_numeric(col, errors="coerce").notna().sum() == col.notna().sum())


def _num(v) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def front_table(front: pd.DataFrame, *, title: str | None = None):
    """The front as a table (one row per design point, in the front's order)."""
    go = _go()
    check_columns(front, list(ARCH_COLUMNS), "front_table")
    cols = [
        (h, c) for h, c in _TABLE_COLUMNS if c is None or c in front.columns or c in ("latency_source", "energy_source")
    ]
    values = []
    for _, c in cols:
        if c is None:
            values.append([arch_label(r) for r in front.to_dict(orient="records")])
        elif c not in front.columns:
            values.append(["analytic"] * len(front))
        elif front[c].dtype.kind in "fc" or _numeric(front[c]):
            values.append([_num(v) for v in pd.to_numeric(front[c], errors="coerce")])
        else:
            values.append([str(v) for v in front[c]])
    fig = go.Figure(
        go.Table(
            header={"values": [f"<b>{h}</b>" for h, _ in cols], "fill_color": "#e8eef5", "align": "left"},
            cells={"values": values, "align": "left", "height": 24},
            columnwidth=[3.2] + [1] * (len(cols) - 1),
        )
    )
    fig.update_layout(
        title=_title(
            title or f"The Pareto front ({len(front)} design points)", "one row per design point; sources per row"
        ),
        height=min(1400, 140 + 26 * max(len(front), 1)),
        margin={"l": 10, "r": 10},
    )
    return fig
