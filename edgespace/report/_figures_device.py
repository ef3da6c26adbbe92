"""Figures of a device over time and per kernel: how a candidate throttles (temperature, clock,
frames per second) and where its kernels sit under the roofline. Conventions as in
:mod:`edgespace.report._figures`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from edgespace.report._data import (
    check_columns,
)
from edgespace.report._figures import _PALETTE, _go, _r, _title

__all__ = ["throttling_figure", "roofline_figure"]


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
