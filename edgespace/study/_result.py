"""What a search returns (:class:`SearchResult`, a view over its Optuna study) and
:func:`screen` (every point of a discretised space evaluated at once, no study)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from edgespace._spec import POINT_COLUMNS
from edgespace.cost import ESTIMATE_COLUMNS
from edgespace.study._definition import RECORD_KEY, check_budget_constraints, check_space, resolve_profile
from edgespace.study._evaluate import evaluate_points
from edgespace.study._objectives import Constraint, Objective, parse_constraints, parse_objectives
from edgespace.study._pareto import hypervolume as _hypervolume
from edgespace.study._pareto import pareto_mask
from edgespace.study._space import Space

__all__ = ["SearchResult", "screen"]


class SearchResult:
    """A search over an Optuna study: :meth:`trials_frame`, :meth:`pareto_front`,
    :meth:`hypervolume`; ``study`` is the Optuna study itself."""

    def __init__(
        self,
        study,
        *,
        space: Space,
        profile,
        objectives: list[Objective],
        constraints: list[Constraint],
        storage: str = "memory",
        told: int = 0,
        calibration=None,
        search_args: dict | None = None,
    ) -> None:
        self.study = study
        self.space = space
        self.profile = profile
        self.objectives = objectives
        self.constraints = constraints
        self.storage = storage
        self.told = told  # trials this call evaluated and told
        self.calibration = calibration  # the Calibration the study's latencies came from, or None
        self.search_args = search_args  # what search() was given beyond the definition (refine continues with it)

    @property
    def study_name(self) -> str:
        return self.study.study_name

    def trials_frame(self, *, complete_only: bool = False) -> pd.DataFrame:
        """One row per trial: ``number``, ``state``, the Optuna params (``params_*``), the design
        point, every Estimate field, ``accuracy``/``accuracy_std``/``accuracy_per_joule``, the
        constraint values (``constraint_<i>``, <= 0 is feasible) and ``feasible``. A metric that
        is infinite (a point that cannot run) reads NaN."""
        from optuna.trial import TrialState

        rows = []
        for t in self.study.get_trials(deepcopy=False):
            if complete_only and t.state != TrialState.COMPLETE:
                continue
            rec = dict(t.user_attrs.get(RECORD_KEY) or {})
            cons = rec.pop("constraints", None) or []
            row = {"number": t.number, "state": t.state.name, **{f"params_{k}": v for k, v in t.params.items()}, **rec}
            for i, c in enumerate(cons):
                row[f"constraint_{i}"] = c
            rows.append(row)
        frame = pd.DataFrame(rows)
        if frame.empty:
            cols = [
                "number",
                "state",
                *POINT_COLUMNS,
                *ESTIMATE_COLUMNS,
                "accuracy",
                "accuracy_std",
                "accuracy_per_joule",
                "feasible",
            ]
            return pd.DataFrame(columns=cols)
        if "feasible" in frame.columns:
            frame["feasible"] = frame["feasible"].fillna(False).astype(bool)
        return frame

    def pareto_front(self) -> pd.DataFrame:
        """The complete, feasible, non-dominated trials, one row per distinct design point,
        sorted by the first objective (best first)."""
        frame = self._current(self.trials_frame(complete_only=True))
        if frame.empty:
            return frame
        frame = frame.drop_duplicates(
            subset=[c for c in POINT_COLUMNS if c in frame.columns]
        )  # older studies: no batch/placement
        front = frame[pareto_mask(frame, self.objectives)]
        first = self.objectives[0]
        return front.sort_values(first.name, ascending=first.direction == "minimize").reset_index(drop=True)

    def confirm(
        self,
        top: int = 5,
        *,
        backend: str = "onnxruntime",
        threads: int = 1,
        by: str | None = None,
        rounds: int = 10,
        meter: str = "auto",
        progress: Callable[[int, int], None] | None = None,
        cache_dir=None,
        proxy: bool = False,
    ) -> pd.DataFrame:
        """Run ``top`` points of the front for real and compare: spread evenly along the front
        (``by=None``) or the best ``top`` by the objective ``by``. Each is exported (a child
        process, cached), derived to its precision, and timed on this machine: with ONNX Runtime
        as a calibration times its networks (reference-paired, ``rounds`` interleaved rounds,
        ``threads`` pinned threads), or with ``backend="litert"`` / ``"executorch"`` through the
        phone runtime's XNNPACK CPU path (``rounds`` rounds of back-to-back calls); energy is measured where a CPU-domain power meter works
        here, and each row names its ``meter`` and ``meter_domain``.

        The backend measures this machine (profile ``host``): a study of another device is
        refused with a :class:`SearchError` naming both, unless ``proxy=True`` asks to time its
        front here as a proxy; proxy rows say ``profile="host"`` and ``proxy_for`` the study's
        device, with no power mode, placement or prediction. A point is measured at its own batch
        and placement, or fails with the reason (this backend runs batch 1 on the CPU).

        Returns :meth:`confirmations` (all stored rows, these included): predicted against
        measured latency and energy with the error (``(predicted − measured) / measured``, %).
        A point that fails (e.g. fp16 without an fp16 kernel here) is a row with status
        ``failed: <reason>``; the search itself is untouched. The rows are stored in the study
        (user attr ``edgespace_confirmations``), so a resumed or reloaded study shows them.
        ``progress(done, total)`` is called as the work advances."""
        from edgespace.study._confirm import (
            CONFIRMATIONS_KEY,
            check_machine,
            choose_points,
            confirm_points,
            merge_confirmations,
        )

        check_machine(self.profile, backend, proxy)  # before any work
        points = choose_points(self.pareto_front(), top, by, self.objectives)
        if points.empty:
            return self.confirmations()
        rows = confirm_points(
            points,
            backend=backend,
            threads=threads,
            rounds=rounds,
            meter=meter,
            progress=progress,
            cache_dir=cache_dir,
            profile=self.profile,
            proxy=proxy,
        )
        stored = merge_confirmations(self.study.user_attrs.get(CONFIRMATIONS_KEY), rows)
        self.study.set_user_attr(CONFIRMATIONS_KEY, stored)
        return self.confirmations()

    def confirmations(self) -> pd.DataFrame:
        """Confirmed design points stored with the study, one row each: the design point,
        ``backend``, ``provider``, ``threads``, predicted and measured latency (ms) and energy (mJ,
        measured: None without a power meter), their errors (%), ``latency_source``, the machine
        measured (``profile``; ``proxy_for`` on a proxy run), ``meter``, ``meter_domain``,
        ``energy_unavailable_reason`` and ``status`` (``ok`` or ``failed: <reason>``)."""
        from edgespace.study._confirm import CONFIRMATIONS_KEY, confirmations_frame

        return confirmations_frame(self.study.user_attrs.get(CONFIRMATIONS_KEY))

    def hypervolume(self, reference: Sequence[float] | Mapping[str, float]) -> float:
        """Hypervolume of the feasible front against ``reference`` (natural units, one value per
        objective in order, or a dict by objective name)."""
        return _hypervolume(self._current(self.trials_frame(complete_only=True)), self.objectives, reference)

    def _current(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` without the trials predicted by a calibration the study no longer uses (a
        refined study keeps them as history; its front is the current calibration's)."""
        from edgespace.study._definition import CALIBRATION_KEY

        if frame.empty or "latency_source" not in frame.columns:
            return frame
        current = self.calibration.id if self.calibration is not None else None
        if current is None:
            current = (self.study.user_attrs.get(CALIBRATION_KEY) or {}).get("id")
        if current is None:
            return frame
        src = frame["latency_source"].astype(str)
        return frame[~src.str.startswith("calibrated:") | (src == f"calibrated:{current}")]

    def refine(
        self,
        top: int = 4,
        max_rounds: int = 3,
        tolerance_pct: float = 10.0,
        *,
        threads: int = 1,
        backend: str = "onnxruntime",
        confirm_rounds: int = 10,
        trials_per_round: int | None = None,
        meter: str = "auto",
        progress: Callable[[str, int, int], None] | None = None,
        cache_dir=None,
    ) -> pd.DataFrame:
        """Confirm the front, fold the runs into the calibration, search again, until the
        confirmed front holds. Each round confirms ``top`` calibrated front points not confirmed
        before (those that decide the most of the front first: see
        :func:`~edgespace.study._refine.choose_refine_points`), and stops when every one of them
        is within ``tolerance_pct`` of its prediction or after ``max_rounds`` rounds. Otherwise
        the runs are folded into the calibration (:meth:`CalibrationBase.with_runs`: a new id,
        stored with the study), the earlier trials' points are evaluated again under it (the
        points of the new front join the study as trials, so the front is the new
        calibration's), and the search continues with ``trials_per_round`` more trials (default:
        one population; none for the grid sampler).

        ``backend`` must confirm on this machine (``onnxruntime``); the calibration must be one
        that takes runs (a per-operator calibration measured at ``threads`` threads). Returns
        :meth:`confirmations` (their ``round`` column says which round ran them);
        :meth:`refine_rounds` has one row per round. ``progress(stage, done, total)``."""
        from edgespace.study._refine import refine_study

        return refine_study(
            self,
            top=top,
            max_rounds=max_rounds,
            tolerance_pct=tolerance_pct,
            threads=threads,
            backend=backend,
            confirm_rounds=confirm_rounds,
            trials_per_round=trials_per_round,
            meter=meter,
            progress=progress,
            cache_dir=cache_dir,
        )

    def refine_rounds(self) -> pd.DataFrame:
        """One row per refine round stored with the study: ``round``, the ``calibration_id`` its
        predictions came from, ``confirmed``, ``failed``, ``within_tolerance``, ``tolerance_pct``,
        ``median_abs_error_pct``, ``max_abs_error_pct``, ``front_size``, ``refit_to`` (the new
        calibration's id, None when the round ended the refine), ``trials_added``,
        ``front_kept``/``front_joined``/``front_left`` (how the front moved under the refit) and
        ``stopped`` (``held``, ``rounds spent``, or why it stopped; None when it went on)."""
        from edgespace.study._refine import rounds_frame

        return rounds_frame(self.study)

    def __repr__(self) -> str:
        return (
            f"SearchResult(study={self.study_name!r}, storage={self.storage!r}, trials={len(self.study.trials)}, "
            f"objectives={[o.name for o in self.objectives]})"
        )


def screen(
    space: Space | str,
    profile,
    objectives: str | Sequence[str] | None = None,
    constraints: str | Callable | Sequence[str | Callable] = (),
    *,
    accuracy=None,
    ambient_c: float | None = None,
    budget=None,
    calibration=None,
) -> pd.DataFrame:
    """Every point of the discretised ``space`` (architecture × precision × batch × mode) evaluated at
    once: the design point, every Estimate field, accuracy, ``accuracy_per_joule``, constraint
    values, ``feasible`` and, when ``objectives`` are given, ``pareto`` (on the feasible front).
    ``calibration``: as in :func:`~edgespace.search` (``latency_source`` says where it applied)."""
    space = check_space(space)
    prof, _ = resolve_profile(profile)
    cons = parse_constraints(constraints)
    check_budget_constraints(cons, budget)
    objs = parse_objectives(objectives) if objectives is not None else None
    frame = evaluate_points(
        space.grid(prof), prof, accuracy=accuracy, ambient_c=ambient_c, budget=budget, calibration=calibration
    )
    values = [np.where(frame["runnable"].to_numpy(), 0.0, 1.0)] + [c.violation(frame) for c in cons]
    for i, v in enumerate(values[1:]):
        frame[f"constraint_{i}"] = v
    frame["feasible"] = np.all(np.column_stack(values) <= 0, axis=1)
    if objs is not None:
        frame["pareto"] = pareto_mask(frame, objs)
    return frame
