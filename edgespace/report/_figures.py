"""Figure functions: each draws a frame (or a result, through :mod:`edgespace.report._data`) and
returns a ``plotly.graph_objects.Figure`` (usable in a notebook; ``report`` puts them in one
HTML file). Plotting only: the numbers are computed by the cost models before they get here.

This module holds the shared conventions and the design-space figures (the Pareto front,
accuracy per joule, the front as a table); the other families live beside it: a device over
time and per kernel (``_figures_device``), an energy budget (``_figures_budget``) and real runs
against the model (``_figures_runs``).

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
