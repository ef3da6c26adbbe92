"""Reports: plotly figures of searches, budgets, throttling, rooflines and confirmations, and one
self-contained HTML file that holds them.

>>> import edgespace as es
>>> from edgespace.report import report, pareto_figure
>>> r = es.search("all", "jetson-orin-nano-8gb", ["accuracy", "energy_mj"], ["sustained_latency_ms <= 33"], n_trials=500)
>>> pareto_figure(r.trials_frame(), r.pareto_front())      # a plotly Figure (notebooks)
>>> report(r, "runs/report.html")                           # one HTML file, opens offline

The figure functions draw frames (``_figures``); the frames come from the cost models through
the ``*_frame`` functions (``_data``); :func:`report` glues both into a page. plotly is imported
here, so ``edgespace`` loads this package only when it is used.
"""

from __future__ import annotations

from edgespace.report._data import (
    ReportError,
    arch_label,
    best_candidates,
    calibration_frame,
    front_modes_frame,
    point_label,
    roofline_frame,
    sources_of,
    thermal_frame,
)
from edgespace.report._figures import (
    PRECISION_SYMBOLS,
    WEBGL_THRESHOLD,
    accuracy_per_joule_figure,
    front_table,
    mode_colors,
    pareto_figure,
)
from edgespace.report._figures_budget import battery_figure, energy_balance_figure
from edgespace.report._figures_device import roofline_figure, throttling_figure
from edgespace.report._figures_runs import predicted_vs_measured_figure
from edgespace.report._inputs import collect
from edgespace.report._report import report, write_png

__all__ = [
    "PRECISION_SYMBOLS",
    "ReportError",
    "WEBGL_THRESHOLD",
    "accuracy_per_joule_figure",
    "arch_label",
    "battery_figure",
    "best_candidates",
    "calibration_frame",
    "collect",
    "energy_balance_figure",
    "front_modes_frame",
    "front_table",
    "mode_colors",
    "pareto_figure",
    "point_label",
    "predicted_vs_measured_figure",
    "report",
    "roofline_figure",
    "roofline_frame",
    "sources_of",
    "thermal_frame",
    "throttling_figure",
    "write_png",
]
