"""Figures of an energy budget: the battery's state of charge over days and the daily energy
balance by term. Conventions as in :mod:`edgespace.report._figures`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from edgespace.report._data import (
    check_columns,
)
from edgespace.report._figures import _go, _r, _title

__all__ = ["battery_figure", "energy_balance_figure"]


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
