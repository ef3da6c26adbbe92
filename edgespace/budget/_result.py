"""What :func:`~edgespace.budget.feasibility` returns (:class:`FeasibilityResult`) and how it
is presented: the reasons for the verdict, plain text, frames and JSON."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from edgespace._json import jsonable
from edgespace.budget._balance import TOL
from edgespace.budget._model import Budget
from edgespace.budget._units import J_PER_WH, SECONDS_PER_DAY

__all__ = ["FeasibilityResult", "TERM_LABELS", "reasons"]

TERM_LABELS = {
    "inference": "inference",
    "idle_awake": "idle while awake",
    "wake": "wake-ups",
    "sleep": "sleep",
    "capture": "capture",
}


@dataclasses.dataclass(frozen=True)
class FeasibilityResult:
    """What :func:`feasibility` found. Energies in J (per typical day where named ``daily``),
    times in days or hours as named; ``to_frame()`` is the hourly state-of-charge series,
    ``terms_frame()`` the daily balance by term, ``to_dict()`` everything JSON-ready.
    """

    feasible: bool
    reasons: tuple[str, ...]
    energy_per_frame_j: float
    energy_source: str
    frames_per_day: float
    daily_terms_j: dict[str, float]
    daily_load_j: float
    daily_harvest_j: float
    dominant_term: str
    max_energy_per_frame_j: float | None
    allowance_j: dict[str, float | None]
    margin_fraction: float | None
    daily_margin_j: float
    days_autonomy: float
    cloudy_days: int
    max_frames_per_day: float
    horizon_days: int
    hourly_harvest_j: np.ndarray = dataclasses.field(repr=False)
    hourly_load_j: np.ndarray = dataclasses.field(repr=False)
    soc_j: np.ndarray = dataclasses.field(repr=False)
    clipped_j: np.ndarray = dataclasses.field(repr=False)
    unmet_j: np.ndarray = dataclasses.field(repr=False)
    usable_j: float = 0.0
    budget: Budget | None = dataclasses.field(default=None, repr=False)

    # -- summaries ----------------------------------------------------------------------------
    @property
    def verdict(self) -> str:
        """``"feasible"`` or ``"infeasible"``; the reasons are in :attr:`reasons`."""
        return "feasible" if self.feasible else "infeasible"

    @property
    def energy_clipped_j(self) -> float:
        """Harvest thrown away because the battery was full (J, over the horizon)."""
        return float(self.clipped_j.sum())

    @property
    def energy_unmet_j(self) -> float:
        """Load the battery could not serve because it was empty (J, over the horizon)."""
        return float(self.unmet_j.sum())

    @property
    def time_empty_h(self) -> float:
        """Hours spent empty: each hour counts the share of its load that went unserved."""
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(self.hourly_load_j > 0, self.unmet_j / self.hourly_load_j, 0.0)
        return float(np.clip(share, 0.0, 1.0).sum())

    @property
    def first_empty_hour(self) -> int | None:
        """Index (from hour 0 of day 0) of the first hour the battery ran empty, or None."""
        idx = np.flatnonzero(self.unmet_j > TOL * self.usable_j + 1e-9)
        return int(idx[0]) if idx.size else None

    @property
    def min_soc_fraction(self) -> float:
        """Lowest charge over the horizon, as a share of the usable capacity."""
        return float(self.soc_j.min() / self.usable_j)

    @property
    def autonomy_margin_days(self) -> float:
        """Days of autonomy with no harvest minus the cloudy days to survive."""
        return self.days_autonomy - self.cloudy_days

    def to_frame(self):
        """The hourly series as a DataFrame: day, hour, harvest/load/clipped/unmet (Wh), soc_wh, soc_fraction."""
        import pandas as pd

        k = np.arange(self.soc_j.size)
        return pd.DataFrame(
            {
                "day": k // 24,
                "hour": k % 24,
                "harvest_wh": self.hourly_harvest_j / J_PER_WH,
                "load_wh": self.hourly_load_j / J_PER_WH,
                "clipped_wh": self.clipped_j / J_PER_WH,
                "unmet_wh": self.unmet_j / J_PER_WH,
                "soc_wh": self.soc_j / J_PER_WH,
                "soc_fraction": self.soc_j / self.usable_j,
            }
        )

    def terms_frame(self):
        """The typical day's balance by term: term, j_per_day, wh_per_day, share of the load."""
        import pandas as pd

        total = self.daily_load_j
        rows = [
            {"term": k, "j_per_day": v, "wh_per_day": v / J_PER_WH, "share": (v / total) if total > 0 else 0.0}
            for k, v in self.daily_terms_j.items()
        ]
        return pd.DataFrame(rows)

    def to_dict(self, *, hourly: bool = True) -> dict[str, Any]:
        """Everything as plain JSON types (infinities become None)."""
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "feasible": self.feasible,
            "reasons": list(self.reasons),
            "energy_per_frame_j": self.energy_per_frame_j,
            "energy_source": self.energy_source,
            "frames_per_day": self.frames_per_day,
            "daily_terms_j": dict(self.daily_terms_j),
            "daily_load_j": self.daily_load_j,
            "daily_harvest_j": self.daily_harvest_j,
            "dominant_term": self.dominant_term,
            "max_energy_per_frame_j": self.max_energy_per_frame_j,
            "allowance_j": dict(self.allowance_j),
            "margin_fraction": self.margin_fraction,
            "daily_margin_j": self.daily_margin_j,
            "days_autonomy": self.days_autonomy,
            "cloudy_days": self.cloudy_days,
            "autonomy_margin_days": self.autonomy_margin_days,
            "max_frames_per_day": self.max_frames_per_day,
            "horizon_days": self.horizon_days,
            "usable_j": self.usable_j,
            "energy_clipped_j": self.energy_clipped_j,
            "energy_unmet_j": self.energy_unmet_j,
            "time_empty_h": self.time_empty_h,
            "first_empty_hour": self.first_empty_hour,
            "min_soc_fraction": self.min_soc_fraction,
        }
        if self.budget is not None:
            out["budget"] = self.budget.to_dict()
        if hourly:
            out["hourly"] = {k: v.tolist() for k, v in self.to_frame().items()}
        return jsonable(out)

    def to_text(self) -> str:
        """The verdict, the term table and the allowance, as plain text with units."""
        lines = [f"{self.verdict.upper()}: {self.reasons[0]}"]
        lines += [f"  {r}" for r in self.reasons[1:]]
        lines.append("")
        lines.append(
            f"typical day ({self.frames_per_day:,.0f} frames at {self.energy_per_frame_j * 1e3:,.1f} mJ; {self.energy_source}):"
        )
        lines.append(f"  {'term':<18}{'Wh/day':>10}{'J/day':>12}{'share':>8}")
        total = self.daily_load_j
        for k, v in self.daily_terms_j.items():
            share = v / total if total > 0 else 0.0
            mark = "  <- dominant" if k == self.dominant_term else ""
            lines.append(f"  {TERM_LABELS[k]:<18}{v / J_PER_WH:>10.3f}{v:>12,.0f}{share:>8.1%}{mark}")
        lines.append(f"  {'total load':<18}{total / J_PER_WH:>10.3f}{total:>12,.0f}")
        lines.append(f"  {'harvest (net)':<18}{self.daily_harvest_j / J_PER_WH:>10.3f}{self.daily_harvest_j:>12,.0f}")
        lines.append(f"  {'balance':<18}{self.daily_margin_j / J_PER_WH:>+10.3f}{self.daily_margin_j:>+12,.0f}")
        lines.append("")
        lines.append("allowance per inference:")
        max_e = self.max_energy_per_frame_j
        if max_e is not None and max_e < 0:
            lines.append(f"  max energy per frame: none fits: the floors alone overshoot by {_fmt_j(-max_e)} per frame")
        else:
            margin = (
                ""
                if self.margin_fraction is None
                else f" ({self.margin_fraction + 1:,.1f}x the {self.energy_per_frame_j * 1e3:,.1f} mJ used)"
            )
            lines.append(f"  max energy per frame: {_fmt_j(max_e)}{margin}")
        names = {
            "energy_neutral": "energy neutral on a typical day",
            "autonomy_daily": "sizing rule (daily runs of deficit)",
            "never_empty_hourly": "hourly simulation never empty",
        }
        for k, v in self.allowance_j.items():
            lines.append(f"    {names.get(k, k):<38}{_fmt_j(v)}")
        lines.append(
            f"  days of autonomy with no harvest: {self.days_autonomy:,.2f} (cloudy days to survive: {self.cloudy_days})"
        )
        cap = " (the model's limit: one frame per second)" if self.max_frames_per_day >= SECONDS_PER_DAY else ""
        lines.append(f"  max frames per day: {self.max_frames_per_day:,.0f}{cap}")
        lines.append(
            f"  over {self.horizon_days} days: lowest charge {self.min_soc_fraction:.0%}, empty {self.time_empty_h:,.1f} h, "
            f"{self.energy_clipped_j / J_PER_WH:,.1f} Wh lost to a full battery"
        )
        return "\n".join(lines)


def _fmt_j(v: float | None) -> str:
    if v is None:
        return "none fits"
    if math.isinf(v):
        return "unbounded"
    if abs(v) < 1.0:
        return f"{v * 1e3:,.1f} mJ"
    return f"{v:,.3f} J"


def reasons(r: FeasibilityResult, neutral_ok: bool, never_empty: bool, neutral_required: bool) -> list[str]:
    wh = lambda j: f"{j / J_PER_WH:,.2f} Wh"  # noqa: E731
    dom = (
        f"{TERM_LABELS[r.dominant_term]} dominates ({r.daily_terms_j[r.dominant_term] / r.daily_load_j:.0%} of the load)"
        if r.daily_load_j > 0
        else "no load"
    )
    out = []
    if r.feasible:
        head = f"{r.energy_per_frame_j * 1e3:,.1f} mJ per frame fits"
        if r.max_energy_per_frame_j is not None and not math.isinf(r.max_energy_per_frame_j):
            head += f"; up to {_fmt_j(r.max_energy_per_frame_j)} per frame would"
        out.append(head + f"; {dom}")
    else:
        out.append(f"{r.energy_per_frame_j * 1e3:,.1f} mJ per frame does not fit; {dom}")
    sign = "to spare" if r.daily_margin_j >= 0 else "short"
    status = ("ok" if neutral_ok else "FAIL") if neutral_required else "n/a"
    label = "energy neutral" if neutral_required else "energy neutral (not required: no harvest)"
    out.append(
        f"{status} {label}: a typical day loads {wh(r.daily_load_j)} against "
        f"{wh(r.daily_harvest_j)} harvested: {wh(abs(r.daily_margin_j))} per day {sign}"
    )
    if never_empty:
        k = int(np.argmin(r.soc_j))
        out.append(
            f"ok never empty over {r.horizon_days} days: lowest charge {r.min_soc_fraction:.0%} "
            f"(day {k // 24}, {k % 24 + 1:02d}:00)"
        )
    else:
        k = r.first_empty_hour
        out.append(
            f"FAIL the battery runs empty on day {k // 24} by {k % 24 + 1:02d}:00 and is empty "
            f"{r.time_empty_h:,.1f} h of the {r.horizon_days * 24} h horizon"
        )
    out.append(f"days of autonomy with no harvest: {r.days_autonomy:,.2f} (cloudy days to survive: {r.cloudy_days})")
    return out
