"""The figure of real runs against the model: predicted against measured latency for a study's
confirmations and a calibration's own networks. Conventions as in :mod:`edgespace.report._figures`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgespace.report._data import (
    REQUIRED_POINT_COLUMNS,
    check_columns,
    point_label,
)
from edgespace.report._figures import _PALETTE, _go, _r, _title

__all__ = ["predicted_vs_measured_figure"]


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
    Where a confirmation carries the calibration's prediction interval
    (``predicted_latency_low_ms`` / ``predicted_latency_high_ms``) its point has a vertical bar
    spanning it. Failed confirmations are listed under the plot. A second panel shows energy where a meter
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
    if "round" in ok.columns:  # refine rounds: one trace per round (each has its own calibration)
        rnd = pd.to_numeric(ok["round"], errors="coerce")
        source = source.where(rnd.isna(), "round " + rnd.fillna(0).astype(int).astype(str) + ", " + source)
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
                error_y=_interval_bars(part),
                mode="markers",
                name=f"confirmed, predicted by {src} ({len(part)})",
                marker={
                    "size": 11,
                    "symbol": symbols.get(src.split(", ")[-1].split(":")[0], "circle"),
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


def _interval_bars(part: pd.DataFrame) -> dict | None:
    """Vertical bars from the calibration's prediction interval (``predicted_latency_low_ms`` /
    ``predicted_latency_high_ms``) where the rows carry one; None (no bars) elsewhere."""
    cols = ("predicted_latency_low_ms", "predicted_latency_high_ms")
    if not set(cols) <= set(part.columns):
        return None
    pred = pd.to_numeric(part["predicted_latency_ms"], errors="coerce").to_numpy(float)
    low, high = (pd.to_numeric(part[c], errors="coerce").to_numpy(float) for c in cols)
    if not np.isfinite(low).any():
        return None
    return {
        "type": "data",
        "symmetric": False,
        "array": np.nan_to_num(high - pred),
        "arrayminus": np.nan_to_num(pred - low),
        "color": "#555",
        "thickness": 1,
    }


def refine_notes(rounds: pd.DataFrame | None) -> list[tuple[str, None, str]]:
    """One note per refine round (``SearchResult.refine_rounds()``) for the predicted-vs-measured
    section: the calibration its predictions came from, how many confirmed points held, the
    errors, the refit and how the front moved. Empty without rounds."""
    import html

    if rounds is None or not len(rounds):
        return []

    def num(v) -> float | None:
        v = pd.to_numeric(v, errors="coerce")
        return None if pd.isna(v) else float(v)

    out = []
    for r in rounds.to_dict(orient="records"):
        med, worst = num(r.get("median_abs_error_pct")), num(r.get("max_abs_error_pct"))
        text = (
            f"Refine round {r['round']}: predicted by calibrated:{r['calibration_id']}; "
            f"{r.get('within_tolerance') or 0} of {r.get('confirmed') or 0} confirmed points within "
            f"±{num(r.get('tolerance_pct')) or 0:g} %"
        )
        if med is not None:
            text += f" (median |error| {med:.1f} %, worst {worst:.1f} %)"
        if r.get("refit_to"):
            text += (
                f"; runs folded in, refitted to calibrated:{r['refit_to']}, {int(num(r.get('trials_added')) or 0)} "
                f"trials added; front: {int(num(r.get('front_kept')) or 0)} points kept, "
                f"{int(num(r.get('front_joined')) or 0)} joined, {int(num(r.get('front_left')) or 0)} left"
            )
        if r.get("stopped"):
            text += f"; stopped: {r['stopped']}"
        out.append(("", None, html.escape(text)))
    return out
