"""``search``: an Optuna study driven by ask-and-tell in batches, in threads, with heartbeats
(RDB storages) or an age limit (journal files) to requeue the trials of dead workers; and
``run_worker``, which joins a stored study and runs the same loop."""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from edgespace._json import jsonable
from edgespace._spec import POINT_COLUMNS, check_ambient_c, check_number
from edgespace.study._batch_ask import ask_batch
from edgespace.study._batch_write import tell_trials
from edgespace.study._definition import (
    CALIBRATION_KEY,
    CONSTRAINT_KEY,
    RECORD_KEY,
    RUN_KEY,
    build_definition,
    check_budget_constraints,
    check_definition,
    check_space,
    default_study_name,
    pack_calibration,
    resolve_profile,
    unpack_calibration,
)
from edgespace.study._errors import SearchError
from edgespace.study._evaluate import evaluate_points
from edgespace.study._journal import lease_path, record_lease
from edgespace.study._objectives import Constraint, Objective, parse_constraints, parse_objectives
from edgespace.study._rdb import cached, database_errors
from edgespace.study._result import SearchResult
from edgespace.study._samplers import SAMPLERS, default_batch_size, make_sampler
from edgespace.study._shared import SharedResults
from edgespace.study._space import Space
from edgespace.study._stale import _fail_stale, _Heartbeat
from edgespace.study._storage import check_study_name, open_storage

__all__ = ["search"]

#: Optuna's key of a trial's constraint values (``Trial.set_constraint``).
_CONSTRAINTS = "constraints"


@dataclass
class _Context:
    study: Any
    storage: Any
    space: Space
    profile: Any
    objectives: list[Objective]
    constraints: list[Constraint]
    accuracy: Any
    ambient_c: float | None
    budget: Any
    calibration: Any
    target: int
    batch_size: int
    grid: pd.DataFrame | None
    distributions: dict
    stale_after_s: float | None
    heartbeat: bool
    progress: Callable[[int, int], None] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    told: int = 0
    own_running: set = field(default_factory=set)  # trial numbers this process has in flight
    lease: Any = None  # <journal>.owners for journal files (see _journal), else None
    cache: dict = field(default_factory=dict)  # design point -> evaluated row
    waiting: bool = False  # the last ask found only other workers' RUNNING trials left
    shared: Any = None  # the study's complete trials by design point (see _shared)


#: Pause between asks while only other workers' trials are RUNNING (seconds).
_WAIT_S = 1.0


def _record(row: dict, constraint_values: list[float], feasible: bool, worker: str) -> dict:
    """A trial's full record as JSON data (a user attr; infinite metrics are stored as None)."""
    rec = jsonable(row)
    rec["constraints"] = [float(c) for c in constraint_values]
    rec["feasible"] = bool(feasible)
    rec["worker"] = worker
    return rec


# ----------------------------------------------------------------------------- the loop


def _ask_batch(ctx: _Context) -> list:
    from optuna.trial import TrialState

    with ctx.lock:
        _fail_stale(ctx)
        every = ctx.study.get_trials(deepcopy=False)  # one read: ask_batch samples against it
        ctx.shared.update(every)
        trials = [t for t in every if t.state in (TrialState.COMPLETE, TrialState.RUNNING)]
        done = sum(t.state == TrialState.COMPLETE for t in trials)
        if ctx.progress is not None:
            ctx.progress(done, ctx.target)
        k = min(ctx.batch_size, ctx.target - len(trials))
        # Short of the target with trials RUNNING elsewhere: wait for them to finish or be
        # presumed dead (heartbeat grace, lease, stale_after_s) and retried, rather than return.
        foreign = sum(t.state == TrialState.RUNNING and t.number not in ctx.own_running for t in trials)
        ctx.waiting = k <= 0 and done < ctx.target and foreign > 0 and (ctx.heartbeat or ctx.stale_after_s is not None)
        batch = ask_batch(ctx.study, ctx.distributions, k, every)
        ctx.own_running.update(t.number for t in batch)
        return batch


def _evaluate_cached(ctx: _Context, points: pd.DataFrame) -> pd.DataFrame:
    """``evaluate_points`` for the points not evaluated before in this process (NSGA-II
    revisits the same discrete points often); the rest come from the cache."""
    keys = list(points[list(POINT_COLUMNS)].itertuples(index=False, name=None))
    todo = [k for k in dict.fromkeys(keys) if k not in ctx.cache]
    if todo:
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        fresh = evaluate_points(
            points.iloc[[first[k] for k in todo]],
            ctx.profile,
            accuracy=ctx.accuracy,
            ambient_c=ctx.ambient_c,
            budget=ctx.budget,
            calibration=ctx.calibration,
        )
        for k, row in zip(todo, fresh.to_dict(orient="records"), strict=True):
            ctx.cache[k] = row
    return pd.DataFrame(
        [
            {**ctx.cache[k], **{c: v for c, v in p.items() if c not in ctx.cache[k]}}
            for k, p in zip(keys, points.to_dict(orient="records"), strict=True)
        ]
    )


def _tell_batch(ctx: _Context, batch: list) -> None:
    if ctx.grid is not None:
        points = ctx.grid.iloc[[int(t.params["point"]) for t in batch]].reset_index(drop=True)
    else:
        points = pd.DataFrame([ctx.space.decode(t.params) for t in batch])
    # a point this process evaluated comes from its cache; one only another worker evaluated,
    # from that worker's trial (the same result)
    keys = list(points[list(POINT_COLUMNS)].itertuples(index=False, name=None))
    reused = [
        None if k in ctx.cache else ctx.shared.told(k, t._trial_id, ctx.worker)
        for k, t in zip(keys, batch, strict=True)
    ]
    fresh = [i for i, item in enumerate(reused) if item is None]
    items = [item for item in reused if item is not None]
    if fresh:
        items += _evaluated_items(ctx, [batch[i] for i in fresh], points.iloc[fresh].reset_index(drop=True))
    try:
        # a trial another worker presumed dead meanwhile is left to the copy it queued
        ctx.told += len(tell_trials(ctx.study, items, {t._trial_id: t for t in batch}))
    finally:
        ctx.own_running.difference_update(t.number for t in batch)


def _evaluated_items(ctx: _Context, batch: list, points: pd.DataFrame) -> list:
    frame = _evaluate_cached(ctx, points)
    runnable = frame["runnable"].to_numpy(dtype=float)
    cons = [np.where(runnable > 0, 0.0, 1.0)] + [c.violation(frame) for c in ctx.constraints]
    cons = np.column_stack(cons)
    feasible = np.all(cons <= 0, axis=1)
    values = np.column_stack([frame[o.name].to_numpy(dtype=float) for o in ctx.objectives])
    for j, o in enumerate(ctx.objectives):
        values[~np.isfinite(values[:, j]), j] = o.worst()
    records = frame.to_dict(orient="records")
    return [
        (
            trial._trial_id,
            {RECORD_KEY: _record(records[i], list(cons[i]), feasible[i], ctx.worker)},
            # Trial.set_constraint's key; a re-queued trial keeps its first run's (equal) value
            {f"{_CONSTRAINTS}:{CONSTRAINT_KEY}": float(np.clip(cons[i], 0.0, None).sum())},
            [float(v) for v in values[i]],
        )
        for i, trial in enumerate(batch)
    ]


def _loop(ctx: _Context, errors: list) -> None:
    hb = _Heartbeat(ctx.storage, max(1.0, ctx.storage.get_heartbeat_interval() / 2)) if ctx.heartbeat else None
    try:
        while not errors:
            batch = _ask_batch(ctx)
            if not batch:
                if not ctx.waiting:
                    return
                time.sleep(_WAIT_S)
                continue
            if hb is not None:
                hb.set([t._trial_id for t in batch])
            try:
                _tell_batch(ctx, batch)
            except BaseException:
                from optuna.trial import TrialState

                for t in batch:  # leave nothing RUNNING behind on an error of ours
                    try:
                        ctx.study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
                    except Exception:
                        pass
                raise
            finally:
                if hb is not None:
                    hb.set([])
    except BaseException as exc:  # noqa: BLE001 - passed to the caller's thread
        errors.append(exc)
    finally:
        if hb is not None:
            hb.close()


def _run(ctx: _Context, n_jobs: int) -> None:
    errors: list = []
    if n_jobs == 1:
        _loop(ctx, errors)
    else:
        threads = [threading.Thread(target=_loop, args=(ctx, errors)) for _ in range(n_jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    if ctx.progress is not None:
        from optuna.trial import TrialState

        ctx.progress(len(ctx.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))), ctx.target)


# ----------------------------------------------------------------------------- entry points


def search(
    space: Space | str,
    profile,
    objectives: str | Sequence[str] = ("accuracy", "energy_mj"),
    constraints: str | Callable | Sequence[str | Callable] = (),
    *,
    n_trials: int | None = None,
    sampler="nsga2",
    storage=None,
    study_name: str | None = None,
    seed: int | None = None,
    n_jobs: int = 1,
    accuracy=None,
    ambient_c: float | None = None,
    budget=None,
    population_size: int = 50,
    batch_size: int | None = None,
    stale_after_s: float | None = 600.0,
    heartbeat_interval: int | None = 30,
    progress: Callable[[int, int], None] | None = None,
    calibration=None,
) -> SearchResult:
    """Multi-objective search of ``space`` on ``profile``.

    ``objectives``: names from :data:`~edgespace.study.OBJECTIVES` (each has its direction).
    ``constraints``: strings such as ``"sustained_latency_ms <= 33"``, ``"fits_memory"``,
    ``"energy_mj <= 70"``, or callables ``fn(row) -> bool | float``; they reach Optuna as the
    trial's constraint (``Trial.set_constraint``: the sum of violations, which NSGA-II and TPE
    rank infeasible trials by), are recorded with every trial, and infeasible trials never
    enter :meth:`SearchResult.pareto_front`. A point that cannot run on its mode is always
    infeasible.

    ``n_trials``: the study's total of complete trials (default 1000; the grid sampler: the
    grid's size). A study resumed by name runs only what is missing. ``sampler``: ``nsga2``
    (default), ``tpe``, ``random``, ``grid`` or an Optuna sampler. ``storage``: ``None`` = a
    journal file ``<run dir>/<study_name>.journal`` (run dir: ``$EDGESPACE_RUN_DIR`` or
    ``./runs``), ``"memory"``, ``"journal:PATH"``, an Optuna URL (sqlite, postgresql, ...), or
    a storage object. ``study_name`` defaults to the space's name plus a hash of the
    definition, so the same call resumes. Trials are asked and told in batches (a generation
    of ``population_size`` for NSGA-II), each evaluated with one vectorised cost/accuracy call;
    ``n_jobs`` threads run batches side by side (useful only with a slow ``accuracy`` model).

    ``budget``: an energy budget (:class:`~edgespace.Budget`); each candidate's sustained
    energy per inference in its mode is checked against it and the columns ``days_autonomy``,
    ``budget_feasible``, ``budget_margin_fraction`` and ``budget_daily_margin_j`` join the trial
    record, so constraints such as ``"days_autonomy >= 7"`` or ``"budget_feasible"`` keep only
    deployable designs. Floors taken from a profile (``Budget.from_profile``) follow each
    candidate's power mode.

    ``calibration``: a :class:`~edgespace.calibration.Calibration` (or its file's path); where it applies
    (profile, mode, precision) each candidate's latency comes from it and the trial rows say so
    (``latency_source`` / ``energy_source``). The calibration is stored in the study (user
    attr ``edgespace_calibration``, its summary in the definition), so that workers and a
    resumed search use the same one; resuming with another calibration is refused, and
    resuming without one uses the stored one.

    Dead workers: RDB storages use heartbeats (``heartbeat_interval`` s) and queue a stale trial
    again. Journal files have no heartbeat: each process leases the trials it asks
    (``<journal>.owners``: host, pid, start time), and a RUNNING trial whose owner ran on this
    host and is gone is failed and queued again by the next batch at once; a trial of an owner
    on another host once it is older than ``stale_after_s`` (> 0 s; ``None`` disables the age
    rule).
    """
    import optuna

    space = check_space(space)
    prof, profile_ref = resolve_profile(profile)
    objs = parse_objectives(objectives)
    cons = parse_constraints(constraints)
    if stale_after_s is not None:
        stale_after_s = check_number(
            "stale_after_s",
            stale_after_s,
            0.0,
            lo_open=True,
            error=SearchError,
            allowed="a finite number of seconds > 0, or None",
        )
    ambient_c = check_ambient_c(ambient_c, "ambient_c", error=SearchError)
    if not (isinstance(n_jobs, int) and n_jobs >= 1):
        raise SearchError(f"n_jobs={n_jobs!r}: allowed: an integer >= 1")
    if not (isinstance(population_size, int) and population_size >= 2):
        raise SearchError(f"population_size={population_size!r}: allowed: an integer >= 2")
    if batch_size is not None and not (isinstance(batch_size, int) and batch_size >= 1):
        raise SearchError(f"batch_size={batch_size!r}: allowed: an integer >= 1")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32):
        raise SearchError(f"seed={seed!r}: allowed: an integer from 0 to 2**32 - 1")
    if isinstance(sampler, str) and sampler not in SAMPLERS:
        raise SearchError(f"sampler={sampler!r} is unknown; allowed: {', '.join(SAMPLERS)} or an optuna sampler object")
    space.distributions(prof)  # checks the modes against the profile
    grid = space.grid(prof) if sampler == "grid" else None
    if n_trials is None:
        n_trials = len(grid) if grid is not None else 1000
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
        raise SearchError(f"n_trials={n_trials!r}: allowed: an integer >= 0")
    if budget is not None and not hasattr(budget, "provenance"):
        raise SearchError(f"budget={budget!r}: give an edgespace.Budget (or None)")
    check_budget_constraints(cons, budget)
    from edgespace.cost import as_calibration

    try:
        cal = as_calibration(calibration)
    except Exception as exc:  # a bad file: one line naming it
        raise SearchError(f"calibration: {exc}") from None
    definition = build_definition(space, profile_ref, objs, cons, accuracy, ambient_c, budget, cal)
    name = check_study_name(study_name) if study_name is not None else default_study_name(definition, sampler, seed)
    store, store_text = open_storage(storage, name, heartbeat_interval=heartbeat_interval)
    record_lease(lease_path(store), store)  # before this process asks for any trial
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    with warnings.catch_warnings(), database_errors(store_text):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=cached(store),
            sampler=make_sampler(
                sampler, seed=seed, population_size=population_size, grid_size=0 if grid is None else len(grid)
            ),
            study_name=name,
            directions=[o.direction for o in objs],
            load_if_exists=True,
        )
    if [d.name.lower() for d in study.directions] != [o.direction for o in objs]:
        raise SearchError(
            f"study {name!r} exists with directions {[d.name.lower() for d in study.directions]}; asked {[o.direction for o in objs]}"
        )
    stored_cal = study.user_attrs.get(CALIBRATION_KEY)
    if stored_cal is not None and cal is None:
        cal = unpack_calibration(stored_cal, f"study {name!r}")  # resumed: the study's own calibration
        definition["calibration"] = cal.summary()
    check_definition(study, definition)
    if cal is not None and stored_cal is None:
        study.set_user_attr(CALIBRATION_KEY, pack_calibration(cal))
    study.set_user_attr(
        RUN_KEY,
        {
            "n_trials": n_trials,
            "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
            "seed": seed,
            "population_size": population_size,
        },
    )
    if grid is not None:
        from optuna.distributions import IntDistribution

        dists = {"point": IntDistribution(0, max(len(grid) - 1, 0))}
    else:
        dists = space.distributions(prof)
    default_batch = default_batch_size(sampler, population_size)
    ctx = _Context(
        study=study,
        storage=store,
        space=space,
        profile=prof,
        objectives=objs,
        constraints=cons,
        accuracy=accuracy,
        ambient_c=ambient_c,
        budget=budget,
        calibration=cal,
        target=n_trials,
        batch_size=batch_size or default_batch,
        grid=grid,
        distributions=dists,
        stale_after_s=stale_after_s,
        heartbeat=getattr(store, "get_heartbeat_interval", lambda: None)() is not None,
        progress=progress,
        lease=lease_path(store),
        shared=SharedResults(RECORD_KEY, f"{_CONSTRAINTS}:{CONSTRAINT_KEY}"),
    )
    with warnings.catch_warnings(), database_errors(store_text):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # we beat for asked trials ourselves (_Heartbeat), which Optuna does only in optimize()
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        _run(ctx, n_jobs)
    return SearchResult(
        study,
        space=space,
        profile=prof,
        objectives=objs,
        constraints=cons,
        storage=store_text,
        told=ctx.told,
        calibration=cal,
        search_args={
            "profile": profile,  # as given: a profile object need not be loadable by its name
            "accuracy": accuracy,
            "ambient_c": ambient_c,
            "budget": budget,
            "sampler": sampler,
            "seed": seed,
            "population_size": population_size,
        },
    )
