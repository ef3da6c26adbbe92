"""Refine: confirm a calibrated search's front, fold the runs into the calibration, search again,
until the confirmed front holds (:meth:`SearchResult.refine`).

One round:

1. choose ``top`` front points whose latency the current calibration predicts and that no
   earlier round confirmed (:func:`choose_refine_points`);
2. time them as the calibration timed its networks (:func:`confirm_points`, profiled) and store
   the rows with the study, with their ``round``;
3. stop when every one of them is within the tolerance, or when the rounds are spent;
4. otherwise fold the runs into the calibration (``CalibrationBase.with_runs``: a new id),
   store it with the study (and beside a study kept in a file), evaluate the points of the
   earlier trials again under it and add the points of the new front to the study as trials
   (Optuna trials cannot change, so the front is read from the trials of the current
   calibration), and continue the search with the refitted calibration.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from edgespace._spec import POINT_COLUMNS
from edgespace.study._confirm import (
    CONFIRMATIONS_KEY,
    MEASURED_MACHINE,
    check_machine,
    confirm_points,
    merge_confirmations,
)
from edgespace.study._definition import (
    CALIBRATION_KEY,
    DEFINITION_KEY,
    RUN_KEY,
    pack_calibration,
    stored_search_args,
    unpack_calibration,
)
from edgespace.study._errors import SearchError
from edgespace.study._pareto import minimisation_matrix, pareto_mask

__all__ = ["REFINE_KEY", "ROUND_COLUMNS", "choose_refine_points", "refine_study", "rounds_frame"]

#: Study user attr holding one record per refine round.
REFINE_KEY = "edgespace_refine"
#: Columns of :meth:`SearchResult.refine_rounds`.
ROUND_COLUMNS = (
    "round",
    "calibration_id",
    "confirmed",
    "failed",
    "within_tolerance",
    "tolerance_pct",
    "median_abs_error_pct",
    "max_abs_error_pct",
    "front_size",
    "refit_to",
    "trials_added",
    "front_kept",
    "front_joined",
    "front_left",
    "calibration_file",
    "stopped",
)


def rounds_frame(study) -> pd.DataFrame:
    rows = [{c: r.get(c) for c in ROUND_COLUMNS} for r in study.user_attrs.get(REFINE_KEY) or []]
    return pd.DataFrame(rows, columns=list(ROUND_COLUMNS), dtype=object)


def _key(row) -> tuple:
    return tuple(None if (isinstance(row.get(c), float) and math.isnan(row[c])) else row.get(c) for c in POINT_COLUMNS)


def choose_refine_points(
    front: pd.DataFrame, trials: pd.DataFrame, objectives, top: int, source: str, done
) -> pd.DataFrame:
    """``top`` rows of ``front`` to confirm next: those whose latency came from ``source`` (the
    current calibration; an analytic latency teaches the calibration nothing), those whose design
    point is not in ``done`` (confirmed by an earlier round) before those that are, and among
    them the points that decide the most of the front first.

    A front point *decides* the feasible evaluated points that it alone dominates: were it
    slower than predicted, those points would join the front. Points are ranked by that count,
    then by the absolute width of their latency interval (``latency_high_ms - latency_low_ms``:
    wider for a point far from the networks measured, and for a slower point, whose error costs
    more milliseconds), then by predicted latency."""
    if front.empty:
        return front
    cand = front[(front["latency_source"].astype(str) == source)]
    if cand.empty:
        return cand
    fresh = np.array([_key(r) not in done for r in cand.to_dict(orient="records")])
    rest = trials[trials["feasible"].astype(bool)] if "feasible" in trials.columns else trials
    keys = {_key(r) for r in front.to_dict(orient="records")}
    rest = rest[[_key(r) not in keys for r in rest.to_dict(orient="records")]]
    rest = rest.drop_duplicates(subset=[c for c in POINT_COLUMNS if c in rest.columns])
    f, o = minimisation_matrix(front, objectives), minimisation_matrix(rest, objectives)
    dom = np.all(f[:, None, :] <= o[None, :, :], axis=2) & np.any(f[:, None, :] < o[None, :, :], axis=2)
    alone = dom[:, dom.sum(axis=0) == 1].sum(axis=1) if len(o) else np.zeros(len(f), int)
    decides = pd.Series(alone, index=front.index)

    def col(name: str) -> pd.Series:
        return pd.to_numeric(cand[name], errors="coerce") if name in cand.columns else pd.Series(np.nan, cand.index)

    order = pd.DataFrame(
        {
            "decides": decides.loc[cand.index],
            "width": (col("latency_high_ms") - col("latency_low_ms")).fillna(0.0),
            "latency": pd.to_numeric(cand["latency_ms"], errors="coerce").fillna(0.0),
            "fresh": fresh,
        }
    ).sort_values(["fresh", "decides", "width", "latency"], ascending=False)
    return (
        cand.loc[order.index[:top]].assign(decides_front=order["decides"].iloc[:top].to_numpy()).reset_index(drop=True)
    )


def _check_int(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise SearchError(f"refine({name}={value!r}): allowed: an integer >= {lo}")
    return value


def _calibration(result):
    if result.calibration is not None:
        return result.calibration
    stored = result.study.user_attrs.get(CALIBRATION_KEY)
    if stored is None:
        raise SearchError(
            f"refine(): study {result.study_name!r} has no calibration; calibrate first (edgespace calibrate) "
            "and search with calibration=FILE (CLI: --calibration FILE)"
        )
    result.calibration = unpack_calibration(stored, f"study {result.study_name!r}")
    return result.calibration


def _search_args(result) -> dict:
    """What continuing the search needs beyond the space, objectives and constraints: the
    arguments of the search that returned ``result``, or those its stored definition holds."""
    definition = result.study.user_attrs[DEFINITION_KEY]
    run = result.study.user_attrs.get(RUN_KEY, {})
    if result.search_args is not None:
        return dict(result.search_args)
    from edgespace.study._samplers import SAMPLERS

    try:
        args = stored_search_args(
            definition,
            run,
            result.study_name,
            accuracy_hint="refine the result that search(..., accuracy=...) returned",
        )
    except SearchError as exc:
        raise SearchError(f"refine(): {exc}") from None
    if args["sampler"] not in SAMPLERS:
        raise SearchError(
            f"refine(): study {result.study_name!r} was searched with a sampler object ({args['sampler']}); refine "
            "the result that search() returned"
        )
    return {**args, "seed": run.get("seed")}


def _new_front_points(result, args: dict, cal) -> list[dict]:
    """The params of earlier trials whose points are on the front once every calibrated point
    is evaluated again under ``cal`` (one vectorised evaluation)."""
    from edgespace.study._evaluate import evaluate_points

    frame = result.trials_frame(complete_only=True)
    if frame.empty:
        return []
    cols = [c for c in POINT_COLUMNS if c in frame.columns]
    frame = frame.drop_duplicates(subset=cols).reset_index(drop=True)
    calibrated = frame["latency_source"].astype(str).str.startswith("calibrated:").to_numpy()
    if not calibrated.any():
        return []
    again = evaluate_points(
        frame.loc[calibrated, cols].reset_index(drop=True),
        result.profile,
        accuracy=args["accuracy"],
        ambient_c=args["ambient_c"],
        budget=args["budget"],
        calibration=cal,
    )
    values = [np.where(again["runnable"].to_numpy(dtype=float) > 0, 0.0, 1.0)] + [
        c.violation(again) for c in result.constraints
    ]
    again["feasible"] = np.all(np.column_stack(values) <= 0, axis=1)
    again["number"] = frame.loc[calibrated, "number"].to_numpy()
    current = pd.concat([frame[~calibrated], again], ignore_index=True)
    current = current[current["feasible"].astype(bool)]
    on_front = current[pareto_mask(current, result.objectives)]
    on_front = on_front[on_front["latency_source"].astype(str) == cal.source]
    by_number = {t.number: t for t in result.study.get_trials(deepcopy=False)}
    return [dict(by_number[int(n)].params) for n in on_front["number"]]


def _store_calibration(result, cal, round_no: int) -> str | None:
    """The refitted calibration as the study's own (its definition's summary too), kept with the
    round's number; beside the study's file as ``<study>-round<k>-calibration.json`` when the
    study lives in a file. Returns that file's path, or None."""
    from edgespace.study._storage import storage_file

    study = result.study
    definition = dict(study.user_attrs[DEFINITION_KEY])
    definition["calibration"] = cal.summary()
    packed = pack_calibration(cal)
    study.set_user_attr(f"{CALIBRATION_KEY}_round{round_no}", packed)
    study.set_user_attr(CALIBRATION_KEY, packed)
    study.set_user_attr(DEFINITION_KEY, definition)
    try:
        path = storage_file(result.storage, result.study_name)
    except Exception:
        path = None
    if path is None or not path.parent.is_dir():
        return None
    return str(cal.save(path.parent / f"{result.study_name}-round{round_no}-calibration.json"))


def _continue(result, cal, trials: int | None, round_no: int) -> tuple[int, str | None]:
    """Store ``cal`` with the study, add the points of its new front as trials and search on with
    it; returns (trials added, the calibration file written beside the study or None)."""
    from edgespace.study._loop import search

    args = _search_args(result)
    params = _new_front_points(result, args, cal)
    path = _store_calibration(result, cal, round_no)
    for p in params:
        result.study.enqueue_trial(p)
    from optuna.trial import TrialState

    complete = len(result.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if trials is None:
        trials = 0 if args["sampler"] == "grid" else int(args["population_size"])
    seed = args["seed"]
    more = search(
        result.space,
        args["profile"],
        [o.name for o in result.objectives],
        result.constraints,
        n_trials=complete + len(params) + trials,
        sampler=args["sampler"],
        storage=result.study._storage,
        study_name=result.study_name,
        seed=None if seed is None else (int(seed) + round_no) % 2**32,
        accuracy=args["accuracy"],
        ambient_c=args["ambient_c"],
        budget=args["budget"],
        population_size=args["population_size"],
        calibration=cal,
    )
    result.calibration = cal
    result.told += more.told
    return more.told, path


def refine_study(
    result,
    *,
    top: int,
    max_rounds: int,
    tolerance_pct: float,
    threads: int,
    backend: str,
    confirm_rounds: int,
    trials_per_round: int | None,
    meter: str,
    progress,
    cache_dir,
) -> pd.DataFrame:
    """:meth:`SearchResult.refine` (see there)."""
    from edgespace.cost import CalibrationBase

    _check_int("top", top, 1)
    _check_int("max_rounds", max_rounds, 1)
    _check_int("threads", threads, 1)
    _check_int("confirm_rounds", confirm_rounds, 1)
    if trials_per_round is not None:
        _check_int("trials_per_round", trials_per_round, 0)
    if isinstance(tolerance_pct, bool) or not isinstance(tolerance_pct, (int, float)) or not 0 < tolerance_pct < 1000:
        raise SearchError(f"refine(tolerance_pct={tolerance_pct!r}): allowed: a number of percent > 0 and < 1000")
    if backend not in MEASURED_MACHINE:
        raise SearchError(
            f"refine(backend={backend!r}): this backend does not confirm a front on this machine; backends "
            f"that do: {', '.join(MEASURED_MACHINE)}. For another device, capture the front there "
            "(edgespace.calibration.capture), fit with `edgespace calibrate --from`, and search with that calibration"
        )
    check_machine(result.profile, backend, False)  # a proxy run cannot calibrate another device
    cal = _calibration(result)
    if type(cal).with_runs is CalibrationBase.with_runs:
        raise SearchError(f"refine(): {type(cal).__name__} {cal.id} cannot take confirmed runs into its fit")
    if cal.applies_to.get("threads") not in (None, threads):
        raise SearchError(
            f"refine(threads={threads}): calibration {cal.id} was measured at {cal.applies_to['threads']} "
            "thread(s); runs folded into it must be timed the same way"
        )
    study = result.study
    history = list(study.user_attrs.get(REFINE_KEY) or [])
    first = len(history) + 1
    for round_no in range(first, first + max_rounds):
        confirmed = study.user_attrs.get(CONFIRMATIONS_KEY) or []
        done = {_key(r) for r in confirmed if r.get("round") is not None}
        front = result.pareto_front()
        points = choose_refine_points(
            front, result._current(result.trials_frame(complete_only=True)), result.objectives, top, cal.source, done
        )
        rec = {c: None for c in ROUND_COLUMNS}
        rec.update(round=round_no, calibration_id=cal.id, tolerance_pct=float(tolerance_pct), front_size=len(front))
        if points.empty:
            rec.update(confirmed=0, failed=0, within_tolerance=0, stopped="no calibrated point on the front")
            history.append(rec)
            study.set_user_attr(REFINE_KEY, history)
            break
        measured: dict = {}
        rows = confirm_points(
            points,
            backend=backend,
            threads=threads,
            rounds=confirm_rounds,
            meter=meter,
            cache_dir=cache_dir,
            progress=None if progress is None else (lambda d, t, r=round_no: progress(f"round {r}: confirm", d, t)),
            profile=result.profile,
            profile_runs=10,
            measured=measured,
        )
        for row in rows:
            row["round"] = round_no
        study.set_user_attr(CONFIRMATIONS_KEY, merge_confirmations(confirmed, rows))
        errs = np.array(
            [abs(r["latency_error_pct"]) for r in rows if r["status"] == "ok" and r["latency_error_pct"] is not None]
        )
        n_in = int((errs <= tolerance_pct).sum())
        rec.update(
            confirmed=len(errs),
            failed=len(rows) - len(errs),
            within_tolerance=n_in,
            median_abs_error_pct=float(np.median(errs)) if len(errs) else None,
            max_abs_error_pct=float(errs.max()) if len(errs) else None,
        )
        if len(errs) == len(rows) and n_in == len(rows):
            rec["stopped"] = "held"
        elif round_no == first + max_rounds - 1:
            rec["stopped"] = "rounds spent"
        elif not measured:
            rec["stopped"] = "no confirmed run to fold in"
        if rec["stopped"] is not None:
            history.append(rec)
            study.set_user_attr(REFINE_KEY, history)
            break
        if progress is not None:
            progress(f"round {round_no}: refit", 0, 1)
        new = cal.with_runs(
            [measured[i] for i in sorted(measured)], note=f"refine round {round_no} of study {result.study_name}"
        )
        before = {_key(r) for r in front.to_dict(orient="records")}
        added, path = _continue(result, new, trials_per_round, round_no)
        after = {_key(r) for r in result.pareto_front().to_dict(orient="records")}
        rec.update(
            refit_to=new.id,
            trials_added=int(added),
            front_kept=len(before & after),
            front_joined=len(after - before),
            front_left=len(before - after),
            calibration_file=path,
        )
        history.append(rec)
        study.set_user_attr(REFINE_KEY, history)
        cal = new
    return result.confirmations()
