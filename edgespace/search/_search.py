"""``search`` (an Optuna study driven by ask-and-tell in batches), ``screen`` (exhaustive), workers."""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from edgespace.cost import ESTIMATE_COLUMNS
from edgespace.search._errors import SearchError
from edgespace.search._evaluate import BUDGET_COLUMNS, accuracy_ref, budget_from_dict, budget_to_dict, evaluate_points
from edgespace.search._objectives import Constraint, Objective, parse_constraints, parse_objectives
from edgespace.search._pareto import hypervolume as _hypervolume
from edgespace.search._pareto import pareto_mask
from edgespace.search._space import POINT_COLUMNS, Space, space_from_dict
from edgespace.search._storage import check_study_name, open_storage

__all__ = ["search", "screen", "SearchResult", "run_worker", "load_search", "SAMPLERS"]

SAMPLERS = ("nsga2", "tpe", "random", "grid")
#: Study user attr holding the definition (space, profile, objectives, constraints, accuracy);
#: a worker rebuilds the search from it. Trial user attr holding a trial's full record.
DEFINITION_KEY = "edgespace"
RUN_KEY = "edgespace_run"
RECORD_KEY = "edgespace"
_FORMAT = 1
_DEFAULT_BATCH = {"tpe": 8, "random": 256, "grid": 256}


# ----------------------------------------------------------------------------- inputs


def _profile(profile):
    from edgespace.profiles import HardwareProfile, load_profile

    prof = profile if isinstance(profile, HardwareProfile) else load_profile(profile)
    if isinstance(profile, (str, os.PathLike)) and Path(profile).suffix in (".yaml", ".yml") and Path(profile).is_file():
        ref = str(Path(profile).resolve())
    else:
        ref = prof.name
    return prof, ref


def _check_space(space) -> Space:
    if isinstance(space, str):
        from edgespace.search._space import named_space

        return named_space(space)
    if not isinstance(space, Space):
        raise SearchError(f"space={space!r}: give an EfficientNetSpace, a MobileNetSpace, their union (a | b) or a name")
    return space


#: The one Optuna constraint key a trial carries (``Trial.set_constraint``): the sum of the
#: positive constraint values (0 when feasible), which is what NSGA-II ranks infeasible trials
#: by; the separate values are in the trial's record. One key keeps it one storage write.
CONSTRAINT_KEY = "edgespace_violation"


def _grid_sampler_class():
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        """Optuna's grid sampler, minus its ``study.stop()`` once the grid is covered (that call
        only works inside ``study.optimize``; the ask-and-tell loop stops by counting)."""

        def after_trial(self, study, trial, state, values) -> None:
            return None

    return GridSampler


def _GridSampler(*args, **kwargs):
    return _grid_sampler_class()(*args, **kwargs)


def _make_sampler(sampler, *, seed, population_size, grid_size):
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=population_size, seed=seed)
    if sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "grid":
        return _GridSampler({"point": list(range(grid_size))}, seed=seed)
    raise SearchError(f"sampler={sampler!r} is unknown; allowed: {', '.join(SAMPLERS)} or an optuna sampler object")


@dataclass
class _Context:
    study: Any
    storage: Any
    storage_text: str
    space: Space
    profile: Any
    objectives: list[Objective]
    constraints: list[Constraint]
    accuracy: Any
    ambient_c: float | None
    budget: Any
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
    own_running: set = field(default_factory=set)
    cache: dict = field(default_factory=dict)  # design point -> evaluated row  # trial numbers this process has in flight


# ----------------------------------------------------------------------------- results


def _record(row: dict, constraint_values: list[float], feasible: bool, worker: str) -> dict:
    rec = {}
    for k, v in row.items():
        if isinstance(v, (np.bool_, bool)):
            rec[k] = bool(v)
        elif isinstance(v, (np.integer,)):
            rec[k] = int(v)
        elif isinstance(v, (float, np.floating)):
            rec[k] = float(v) if math.isfinite(v) else None
        else:
            rec[k] = v
    rec["constraints"] = [float(c) for c in constraint_values]
    rec["feasible"] = bool(feasible)
    rec["worker"] = worker
    return rec


class SearchResult:
    """A search over an Optuna study: :meth:`trials_frame`, :meth:`pareto_front`,
    :meth:`hypervolume`; ``study`` is the Optuna study itself."""

    def __init__(self, study, *, space: Space, profile, objectives: list[Objective], constraints: list[Constraint],
                 storage: str = "memory", told: int = 0) -> None:  # fmt: skip
        self.study = study
        self.space = space
        self.profile = profile
        self.objectives = objectives
        self.constraints = constraints
        self.storage = storage
        self.told = told  # trials this call evaluated and told

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
            cols = ["number", "state", *POINT_COLUMNS, *ESTIMATE_COLUMNS, "accuracy", "accuracy_std", "accuracy_per_joule", "feasible"]
            return pd.DataFrame(columns=cols)
        if "feasible" in frame.columns:
            frame["feasible"] = frame["feasible"].fillna(False).astype(bool)
        return frame

    def pareto_front(self) -> pd.DataFrame:
        """The complete, feasible, non-dominated trials, one row per distinct design point,
        sorted by the first objective (best first)."""
        frame = self.trials_frame(complete_only=True)
        if frame.empty:
            return frame
        frame = frame.drop_duplicates(subset=list(POINT_COLUMNS))
        front = frame[pareto_mask(frame, self.objectives)]
        first = self.objectives[0]
        return front.sort_values(first.name, ascending=first.direction == "minimize").reset_index(drop=True)

    def hypervolume(self, reference: Sequence[float] | Mapping[str, float]) -> float:
        """Hypervolume of the feasible front against ``reference`` (natural units, one value per
        objective in order, or a dict by objective name)."""
        return _hypervolume(self.trials_frame(complete_only=True), self.objectives, reference)

    def __repr__(self) -> str:
        return (f"SearchResult(study={self.study_name!r}, storage={self.storage!r}, trials={len(self.study.trials)}, "
                f"objectives={[o.name for o in self.objectives]})")  # fmt: skip


# ----------------------------------------------------------------------------- the loop


def _fail_stale(ctx: _Context) -> None:
    """Fail RUNNING trials whose worker is presumed dead, and queue each again (same params)."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    if ctx.heartbeat:
        optuna.storages.fail_stale_trials(ctx.study)
        return
    if ctx.stale_after_s is None or isinstance(ctx.storage, optuna.storages.InMemoryStorage):
        return
    now = time.time()
    retry = RetryHeartbeatStaleTrialCallback(max_retry=3)
    for t in ctx.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.datetime_start is None or now - t.datetime_start.timestamp() < ctx.stale_after_s:
            continue
        if t.number in ctx.own_running:
            continue
        try:
            ok = ctx.storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        if ok:
            retry(ctx.study, ctx.storage.get_trial(t._trial_id))


class _Heartbeat:
    """Records a heartbeat for the trials of the batch in flight (RDB storages)."""

    def __init__(self, storage, interval: float) -> None:
        self.storage, self.interval = storage, interval
        self.ids: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def set(self, ids: list[int]) -> None:
        self.ids = list(ids)
        self.beat()

    def beat(self) -> None:
        for i in list(self.ids):
            self.storage.record_heartbeat(i)

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self.beat()

    def close(self) -> None:
        self.stop.set()


def _ask_batch(ctx: _Context) -> list:
    from optuna.trial import TrialState

    with ctx.lock:
        _fail_stale(ctx)
        trials = ctx.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        done = sum(t.state == TrialState.COMPLETE for t in trials)
        if ctx.progress is not None:
            ctx.progress(done, ctx.target)
        k = min(ctx.batch_size, ctx.target - len(trials))
        batch = [ctx.study.ask(ctx.distributions) for _ in range(max(k, 0))]
        ctx.own_running.update(t.number for t in batch)
        return batch


def _evaluate_cached(ctx: _Context, points: pd.DataFrame) -> pd.DataFrame:
    """``evaluate_points`` for the points not evaluated before in this process (NSGA-II
    revisits the same discrete points often); the rest come from the cache."""
    keys = list(points[list(POINT_COLUMNS)].itertuples(index=False, name=None))
    todo = [k for k in dict.fromkeys(keys) if k not in ctx.cache]
    if todo:
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        fresh = evaluate_points(points.iloc[[first[k] for k in todo]], ctx.profile, accuracy=ctx.accuracy,
                                ambient_c=ctx.ambient_c, budget=ctx.budget)  # fmt: skip
        for k, row in zip(todo, fresh.to_dict(orient="records")):
            ctx.cache[k] = row
    return pd.DataFrame([{**ctx.cache[k], **{c: v for c, v in p.items() if c not in ctx.cache[k]}}
                         for k, p in zip(keys, points.to_dict(orient="records"))])  # fmt: skip


def _tell_batch(ctx: _Context, batch: list) -> None:
    if ctx.grid is not None:
        points = ctx.grid.iloc[[int(t.params["point"]) for t in batch]].reset_index(drop=True)
    else:
        points = pd.DataFrame([ctx.space.decode(t.params) for t in batch])
    frame = _evaluate_cached(ctx, points)
    runnable = frame["runnable"].to_numpy(dtype=float)
    cons = [np.where(runnable > 0, 0.0, 1.0)] + [c.violation(frame) for c in ctx.constraints]
    cons = np.column_stack(cons)
    feasible = np.all(cons <= 0, axis=1)
    values = np.column_stack([frame[o.name].to_numpy(dtype=float) for o in ctx.objectives])
    for j, o in enumerate(ctx.objectives):
        values[~np.isfinite(values[:, j]), j] = o.worst()
    records = frame.to_dict(orient="records")
    for i, trial in enumerate(batch):
        trial.set_user_attr(RECORD_KEY, _record(records[i], list(cons[i]), feasible[i], ctx.worker))
        trial.set_constraint(CONSTRAINT_KEY, float(np.clip(cons[i], 0.0, None).sum()))
        ctx.study.tell(trial, list(values[i]))
        ctx.own_running.discard(trial.number)
        ctx.told += 1


def _loop(ctx: _Context, errors: list) -> None:
    hb = _Heartbeat(ctx.storage, max(1.0, ctx.storage.get_heartbeat_interval() / 2)) if ctx.heartbeat else None
    try:
        while not errors:
            batch = _ask_batch(ctx)
            if not batch:
                return
            if hb is not None:
                hb.set([t._trial_id for t in batch])
            try:
                _tell_batch(ctx, batch)
            except BaseException:
                from optuna.trial import TrialState

                for t in batch:  # leave nothing RUNNING behind on an error of ours
                    try:
                        ctx.study.tell(t, state=TrialState.FAIL, skip_if_finished=True)
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


# ----------------------------------------------------------------------------- public entry points


def _definition(space, profile_ref, objectives, constraints, accuracy, ambient_c, budget=None) -> dict:
    out = {
        "format": _FORMAT,
        "space": space.to_dict(),
        "profile": profile_ref,
        "objectives": [o.name for o in objectives],
        "constraints": [c.text for c in constraints if c.text is not None],
        "callable_constraints": sum(c.fn is not None for c in constraints),
        "accuracy": accuracy_ref(accuracy),
        "ambient_c": ambient_c,
    }
    if budget is not None:  # only then, so that studies made before budgets existed still resume
        out["budget"] = budget_to_dict(budget)
    return out


def _default_study_name(definition: dict, sampler, seed) -> str:
    key = json.dumps({**definition, "sampler": str(sampler), "seed": seed}, sort_keys=True)
    return f"{definition['space']['name'].replace('+', '-')}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def _check_definition(study, definition: dict) -> None:
    stored = study.user_attrs.get(DEFINITION_KEY)
    if stored is None:
        if study.trials:
            raise SearchError(f"study {study.study_name!r} already holds {len(study.trials)} trials but was not made by "
                              "edgespace.search; choose another study name")  # fmt: skip
        study.set_user_attr(DEFINITION_KEY, definition)
        return
    diff = [k for k in definition if json.dumps(stored.get(k), sort_keys=True) != json.dumps(definition[k], sort_keys=True)]
    if diff:
        details = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {definition[k]!r}" for k in diff)
        raise SearchError(f"study {study.study_name!r} exists with another definition ({details}); use another --study name "
                          "to start a new search, or the same definition to resume")  # fmt: skip


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
) -> SearchResult:
    """Multi-objective search of ``space`` on ``profile``.

    ``objectives``: names from :data:`~edgespace.search.OBJECTIVES` (each has its direction).
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

    Dead workers: RDB storages use heartbeats (``heartbeat_interval`` s) and queue a stale trial
    again; journal files have no heartbeat, so a RUNNING trial older than ``stale_after_s`` is
    failed and queued again by the next batch (``None`` disables this).
    """
    import optuna

    space = _check_space(space)
    prof, profile_ref = _profile(profile)
    objs = parse_objectives(objectives)
    cons = parse_constraints(constraints)
    if not (isinstance(n_jobs, int) and n_jobs >= 1):
        raise SearchError(f"n_jobs={n_jobs!r}: allowed: an integer >= 1")
    if not (isinstance(population_size, int) and population_size >= 2):
        raise SearchError(f"population_size={population_size!r}: allowed: an integer >= 2")
    if batch_size is not None and not (isinstance(batch_size, int) and batch_size >= 1):
        raise SearchError(f"batch_size={batch_size!r}: allowed: an integer >= 1")
    if seed is not None and not isinstance(seed, int):
        raise SearchError(f"seed={seed!r}: allowed: an integer")
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
    _check_budget_constraints(cons, budget)
    definition = _definition(space, profile_ref, objs, cons, accuracy, ambient_c, budget)
    name = check_study_name(study_name) if study_name is not None else _default_study_name(definition, sampler, seed)
    store, store_text = open_storage(storage, name, heartbeat_interval=heartbeat_interval)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=store,
            sampler=_make_sampler(sampler, seed=seed, population_size=population_size, grid_size=0 if grid is None else len(grid)),
            study_name=name,
            directions=[o.direction for o in objs],
            load_if_exists=True,
        )
    if [d.name.lower() for d in study.directions] != [o.direction for o in objs]:
        raise SearchError(f"study {name!r} exists with directions {[d.name.lower() for d in study.directions]}; asked {[o.direction for o in objs]}")
    _check_definition(study, definition)
    study.set_user_attr(RUN_KEY, {"n_trials": n_trials, "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
                                  "seed": seed, "population_size": population_size})  # fmt: skip
    if grid is not None:
        from optuna.distributions import IntDistribution

        dists = {"point": IntDistribution(0, max(len(grid) - 1, 0))}
    else:
        dists = space.distributions(prof)
    default_batch = population_size if sampler == "nsga2" else _DEFAULT_BATCH.get(sampler, 32)
    ctx = _Context(
        study=study, storage=store, storage_text=store_text, space=space, profile=prof, objectives=objs, constraints=cons,
        accuracy=accuracy, ambient_c=ambient_c, budget=budget, target=n_trials, batch_size=batch_size or default_batch, grid=grid,
        distributions=dists, stale_after_s=stale_after_s,
        heartbeat=getattr(store, "get_heartbeat_interval", lambda: None)() is not None, progress=progress,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # we beat for asked trials ourselves (_Heartbeat), which Optuna does only in optimize()
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        _run(ctx, n_jobs)
    return SearchResult(study, space=space, profile=prof, objectives=objs, constraints=cons, storage=store_text, told=ctx.told)


def _check_budget_constraints(constraints, budget) -> None:
    if budget is not None:
        return
    for c in constraints:
        if c.text is not None and any(k in c.text for k in BUDGET_COLUMNS):
            raise SearchError(f"constraint {c.text!r} needs an energy budget: pass budget=Budget(...) "
                              "(CLI: --battery-wh, --frames-per-day, ...)")  # fmt: skip


def load_search(storage, study_name: str, *, accuracy=None) -> tuple[dict, dict]:
    """The stored definition and last run settings of an edgespace study (for workers)."""
    import optuna

    store, _ = open_storage(storage, check_study_name(study_name))
    try:
        summaries = {s.study_name: s for s in optuna.get_all_study_summaries(store, include_best_trial=False)}
    except Exception as exc:
        raise SearchError(f"storage {storage!r}: cannot read studies: {exc}") from None
    if study_name not in summaries:
        raise SearchError(f"study {study_name!r} not found in {storage!r}; there: {', '.join(sorted(summaries)) or 'no studies'}")
    attrs = summaries[study_name].user_attrs
    if DEFINITION_KEY not in attrs:
        raise SearchError(f"study {study_name!r} was not made by edgespace.search (no stored definition)")
    return attrs[DEFINITION_KEY], attrs.get(RUN_KEY, {})


def run_worker(storage, study_name: str, *, n_trials: int | None = None, accuracy=None, seed: int | None = None,
               progress: Callable[[int, int], None] | None = None, **kwargs) -> SearchResult:  # fmt: skip
    """Join the study ``study_name`` in ``storage`` and evaluate trials until it holds
    ``n_trials`` (default: the target of the search that defined it). The space, profile,
    objectives and constraints come from the study's stored definition."""
    definition, run = load_search(storage, study_name)
    if definition.get("format") != _FORMAT:
        raise SearchError(f"study {study_name!r}: stored definition format {definition.get('format')!r}; this edgespace reads {_FORMAT}")
    if definition.get("callable_constraints"):
        raise SearchError(f"study {study_name!r} has {definition['callable_constraints']} callable constraint(s), which cannot "
                          "be stored; run its workers from Python with search(..., study_name=...) instead")  # fmt: skip
    acc = definition.get("accuracy", "published:ptq")
    if accuracy is None and not acc.startswith("published:"):
        raise SearchError(f"study {study_name!r} uses accuracy model {acc!r}; pass the same model to run_worker(accuracy=...)")
    if accuracy is None and acc != "published:ptq":
        from edgespace.accuracy import PublishedAccuracy

        accuracy = PublishedAccuracy(quantization=acc.split(":", 1)[1])
    return search(
        space_from_dict(definition["space"]), definition["profile"], definition["objectives"], definition["constraints"],
        n_trials=run.get("n_trials", 1000) if n_trials is None else n_trials, sampler=run.get("sampler", "nsga2"),
        storage=storage, study_name=study_name, seed=seed, accuracy=accuracy, ambient_c=definition.get("ambient_c"),
        budget=budget_from_dict(definition["budget"]) if definition.get("budget") else None,
        population_size=run.get("population_size", 50), progress=progress, **kwargs,
    )  # fmt: skip


def screen(space: Space | str, profile, objectives: str | Sequence[str] | None = None,
           constraints: str | Callable | Sequence[str | Callable] = (), *, accuracy=None,
           ambient_c: float | None = None, budget=None) -> pd.DataFrame:  # fmt: skip
    """Every point of the discretised ``space`` (architecture × precision × mode) evaluated at
    once: the design point, every Estimate field, accuracy, ``accuracy_per_joule``, constraint
    values, ``feasible`` and, when ``objectives`` are given, ``pareto`` (on the feasible front)."""
    space = _check_space(space)
    prof, _ = _profile(profile)
    cons = parse_constraints(constraints)
    _check_budget_constraints(cons, budget)
    objs = parse_objectives(objectives) if objectives is not None else None
    frame = evaluate_points(space.grid(prof), prof, accuracy=accuracy, ambient_c=ambient_c, budget=budget)
    values = [np.where(frame["runnable"].to_numpy(), 0.0, 1.0)] + [c.violation(frame) for c in cons]
    for i, v in enumerate(values[1:]):
        frame[f"constraint_{i}"] = v
    frame["feasible"] = np.all(np.column_stack(values) <= 0, axis=1)
    if objs is not None:
        frame["pareto"] = pareto_mask(frame, objs)
    return frame
