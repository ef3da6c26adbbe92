"""What a report is made of: its inputs gathered and checked (a study, a trials or screen frame,
a budget, a calibration, confirmations) into one :class:`ReportInputs`. The HTML page is
assembled from them in :mod:`edgespace.report._report`."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pandas as pd

from edgespace.report import _figures as F
from edgespace.report._data import (
    REQUIRED_POINT_COLUMNS,
    ReportError,
    point_columns,
)

__all__ = ["ReportInputs", "collect"]


@dataclasses.dataclass
class ReportInputs:
    """What a report is made of, normalised from the caller's arguments."""

    title: str
    profile: Any = None
    objectives: list = dataclasses.field(default_factory=list)
    constraints: list = dataclasses.field(default_factory=list)
    trials: pd.DataFrame | None = None
    front: pd.DataFrame | None = None
    study: dict = dataclasses.field(default_factory=dict)
    definition: dict = dataclasses.field(default_factory=dict)
    feasibility: Any = None
    budget_point: dict | None = None
    confirmations: pd.DataFrame | None = None
    calibration: Any = None
    refine_rounds: pd.DataFrame | None = None  # SearchResult.refine_rounds(), where the study was refined


def _is_result(obj) -> bool:
    return all(hasattr(obj, k) for k in ("trials_frame", "pareto_front", "objectives", "profile"))


def _from_result(result, inputs: ReportInputs) -> None:
    inputs.profile = result.profile
    inputs.objectives = list(result.objectives)
    inputs.constraints = list(result.constraints)
    inputs.trials = result.trials_frame()
    inputs.front = result.pareto_front()
    from edgespace.study import DEFINITION_KEY, RUN_KEY

    study = getattr(result, "study", None)
    attrs = dict(getattr(study, "user_attrs", {}) or {})
    inputs.definition = dict(attrs.get(DEFINITION_KEY) or {})
    run = dict(attrs.get(RUN_KEY) or {})
    inputs.study = {"name": getattr(result, "study_name", None), "storage": getattr(result, "storage", None), **run}
    if hasattr(result, "confirmations"):
        conf = result.confirmations()
        if conf is not None and len(conf):
            inputs.confirmations = conf
    if hasattr(result, "refine_rounds") and len(rounds := result.refine_rounds()):
        inputs.refine_rounds = rounds


def _from_frame(frame: pd.DataFrame, inputs: ReportInputs, objectives, profile, constraints) -> None:
    from edgespace.profiles import load_profile
    from edgespace.study import pareto_mask, parse_constraints, parse_objectives

    missing = [c for c in REQUIRED_POINT_COLUMNS if c not in frame.columns]
    if missing:
        raise ReportError(
            f"report(frame): column(s) {', '.join(missing)} missing; give SearchResult.trials_frame(), screen(...) "
            "or a frame with the design-point columns and the metrics"
        )
    if profile is None:
        prof_col = frame["profile"].dropna().unique() if "profile" in frame.columns else []
        if len(prof_col) != 1:
            raise ReportError("report(frame, profile=None): the frame names no single profile; pass profile=NAME")
        profile = prof_col[0]
    inputs.profile = profile if hasattr(profile, "modes") else load_profile(profile)
    inputs.objectives = parse_objectives(objectives or ("accuracy", "energy_mj"))
    inputs.constraints = parse_constraints(constraints or ())
    t = frame.reset_index(drop=True)
    if "feasible" not in t.columns:
        t = t.assign(feasible=t["runnable"].astype(bool) if "runnable" in t.columns else True)
    inputs.trials = t
    complete = t[t["state"].astype(str) == "COMPLETE"] if "state" in t.columns else t
    complete = complete.drop_duplicates(subset=point_columns(complete))
    if "pareto" in complete.columns:
        front = complete[complete["pareto"].astype(bool)]
    else:
        front = complete[pareto_mask(complete, inputs.objectives)]
    first = inputs.objectives[0]
    inputs.front = front.sort_values(first.name, ascending=first.direction == "minimize").reset_index(drop=True)


def _mode_budget(budget, profile, mode: str):
    """The budget a design point in ``mode`` must meet: floors taken from a hardware profile follow
    its power mode (``Budget.for_mode``); floors given by hand stay."""
    return budget if profile is None else budget.for_mode(profile, mode)


def _budget_from_definition(definition: dict):
    data = definition.get("budget")
    if not data:
        return None
    from edgespace.budget import Budget

    return Budget.from_dict(data)


def collect(
    obj=None,
    *,
    budget=None,
    calibration=None,
    confirmations=None,
    profile=None,
    objectives=None,
    constraints=None,
    energy_per_frame_mj: float | None = None,
    title: str | None = None,
) -> ReportInputs:
    """Normalise :func:`report`'s inputs (see there)."""
    inputs = ReportInputs(title=title or "edgespace report")
    if obj is None:
        pass
    elif _is_result(obj):
        _from_result(obj, inputs)
    elif hasattr(obj, "user_attrs") and hasattr(obj, "get_trials"):  # an Optuna study made by edgespace.search
        from edgespace.study import DEFINITION_KEY, result_from_study

        if not obj.user_attrs.get(DEFINITION_KEY):
            raise ReportError(
                f"report(study={obj.study_name!r}): the study was not made by edgespace.search (no stored definition)"
            )
        _from_result(result_from_study(obj), inputs)
    elif isinstance(obj, pd.DataFrame):
        _from_frame(obj, inputs, objectives, profile, constraints)
    else:
        raise ReportError(
            f"report({type(obj).__name__}): allowed: a SearchResult, an Optuna study made by edgespace.search, "
            "a trials/screen DataFrame, or None (with budget= or calibration=)"
        )
    if profile is not None and inputs.profile is None:
        from edgespace.profiles import load_profile

        inputs.profile = profile if hasattr(profile, "modes") else load_profile(profile)
    if confirmations is not None:
        F.check_columns(confirmations, ["measured_latency_ms", "predicted_latency_ms"], "report(confirmations=...)")
        inputs.confirmations = confirmations
    if calibration is not None:
        if isinstance(calibration, (str, os.PathLike)):
            from edgespace.cost import load_calibration

            calibration = load_calibration(calibration)
        if not (hasattr(calibration, "runs") and hasattr(calibration, "predict_latency_ms")):
            raise ReportError(
                f"report(calibration={calibration!r}): allowed: a Calibration or the path of a calibration file"
            )
        inputs.calibration = calibration
    if budget is None and inputs.definition:
        budget = _budget_from_definition(inputs.definition)
    if budget is not None:
        inputs.feasibility, inputs.budget_point = _feasibility(budget, inputs, energy_per_frame_mj)
    return inputs


def _feasibility(budget, inputs: ReportInputs, energy_per_frame_mj):
    from edgespace.budget import feasibility

    if hasattr(budget, "soc_j") and hasattr(budget, "terms_frame"):  # already a FeasibilityResult
        return budget, None
    if not hasattr(budget, "provenance"):
        raise ReportError(f"report(budget={budget!r}): allowed: an edgespace.Budget or a FeasibilityResult")
    if energy_per_frame_mj is not None:
        return feasibility(budget, energy_per_frame_mj=energy_per_frame_mj), None
    front = inputs.front
    if front is None or front.empty:
        raise ReportError(
            "report(budget=...): no design point to check it with; give a search result with a non-empty front "
            "or energy_per_frame_mj="
        )
    # the design point a user deploys: the front's most accurate (every front point meets the constraints)
    row = (
        front.sort_values("accuracy", ascending=False).iloc[0].to_dict()
        if "accuracy" in front.columns
        else front.iloc[0].to_dict()
    )
    energy = row.get("sustained_energy_mj", row.get("energy_mj"))
    mode_budget = _mode_budget(budget, inputs.profile, str(row["mode"]))
    return feasibility(mode_budget, energy_per_frame_mj=float(energy)), row
