"""Writing a batch of trials in one go: created whole (one journal append or one SQL
transaction for the batch), and told whole (the same).

Optuna writes a trial field by field: created, then each suggested parameter, each system
attribute, and at the end its record, its constraint and its state, each its own journal
append (flushed and fsync'ed) or SQL transaction, and reads the trial back between them. A
search of the default space made 22 fsync'ed appends per trial on a journal file and about 40
queries with five commits per trial on SQLite and PostgreSQL. Here:

* :func:`create_trials` writes the trials a sampler proposed (params, system attributes,
  created RUNNING) as one journal append, or one SQL transaction that also gives each its
  heartbeat, so each is leased from the moment it exists (:mod:`edgespace.study._rdb`);
* :func:`tell_trials` writes the batch's results (user attributes, constraint, values and
  state) as one journal append, or one SQL transaction that locks each trial and skips one
  another worker has finished meanwhile (presumed dead and queued again).

Other storages (in memory, a storage object of another kind) get Optuna's own calls.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from typing import Any

from edgespace.study._rdb import _retrying

__all__ = ["create_trials", "tell_trials", "TellItem"]

#: One trial's results: (trial id, user attributes, system attributes to set if absent, values).
TellItem = tuple[int, dict, dict, Sequence[float]]


def _rdb_of(storage):
    from optuna.storages import RDBStorage

    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) else None


def _journal_of(storage):
    from optuna.storages import JournalStorage

    return storage if isinstance(storage, JournalStorage) else None


def _utc(when: _dt.datetime) -> str:
    return when.astimezone(_dt.UTC).isoformat(timespec="microseconds")


# ----------------------------------------------------------------------------- create


def create_trials(storage, study_id: int, templates: Sequence[Any]) -> list[Any]:
    """Create ``templates`` (RUNNING ``FrozenTrial`` objects) in ``study_id``; the trials as
    created (``FrozenTrial`` objects with their ids and numbers), in order. Read them only."""
    if not templates:
        return []
    if (journal := _journal_of(storage)) is not None:
        return _journal_create(journal, study_id, templates)
    if (rdb := _rdb_of(storage)) is not None:
        # as Optuna's own create: a transaction that lost a race (SQLite's "database is locked",
        # a deadlock) was rolled back whole, and is tried again
        return _retrying(_rdb_create, storage, rdb, study_id, templates)
    return [storage.get_trial(storage.create_new_trial(study_id, template_trial=t)) for t in templates]


def _journal_create(storage, study_id: int, templates) -> list[int]:
    from optuna.distributions import distribution_to_json
    from optuna.storages.journal._storage import JournalOperation

    logs = []
    for t in templates:
        logs.append(
            {
                "op_code": JournalOperation.CREATE_TRIAL,
                "study_id": study_id,
                "datetime_start": _utc(t.datetime_start),
                "state": t.state,
                "value": None,
                "values": None,
                "distributions": {k: distribution_to_json(d) for k, d in t.distributions.items()},
                "params": {k: t.distributions[k].to_internal_repr(v) for k, v in t.params.items()},
                "user_attrs": t.user_attrs,
                "system_attrs": t.system_attrs,
                "intermediate_values": t.intermediate_values,
            }
        )
    with storage._thread_lock:
        worker = storage._replay_result.worker_id
        storage._backend.append_logs([{**log, "worker_id": worker} for log in logs])
        storage._sync_with_backend()
        # one append under the file lock: the batch's entries are consecutive in the journal
        last = storage._replay_result._last_created_trial_id_by_this_process
        return [storage._replay_result._trials[tid] for tid in range(last - len(templates) + 1, last + 1)]


def _rdb_create(cached, rdb, study_id: int, templates) -> list[int]:
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    leased = rdb.heartbeat_interval is not None
    with _create_scoped_session(rdb.scoped_session) as session:
        # as Optuna: the study row is locked while trial numbers are counted
        models.StudyModel.find_or_raise_by_id(study_id, session, for_update=True)
        rows = [
            models.TrialModel(study_id=study_id, number=None, state=TrialState.RUNNING, datetime_start=t.datetime_start)
            for t in templates
        ]
        session.add_all(rows)
        session.flush()
        first = min(r.trial_id for r in rows)
        base = models.TrialModel(study_id=study_id, trial_id=first).count_past_trials(session)
        order = sorted(range(len(rows)), key=lambda i: rows[i].trial_id)
        for n, i in enumerate(order):
            rows[i].number = base + n
        params, system, user, beats = [], [], [], []
        for row, t in zip(rows, templates, strict=True):
            tid = row.trial_id
            params += [
                {
                    "trial_id": tid,
                    "param_name": name,
                    "param_value": t.distributions[name].to_internal_repr(value),
                    "distribution_json": _dist_json(t.distributions[name]),
                }
                for name, value in t.params.items()
            ]
            system += [{"trial_id": tid, "key": k, "value_json": json.dumps(v)} for k, v in t.system_attrs.items()]
            user += [{"trial_id": tid, "key": k, "value_json": json.dumps(v)} for k, v in t.user_attrs.items()]
            beats += [{"trial_id": tid}] if leased else []
        _insert_many(
            session,
            (models.TrialParamModel, params),
            (models.TrialSystemAttributeModel, system),
            (models.TrialUserAttributeModel, user),
            (models.TrialHeartbeatModel, beats),
        )
        out = [(row.trial_id, row.number, row.datetime_start) for row in rows]
    import copy

    frozen = []
    for (tid, number, start), t in zip(out, templates, strict=True):
        f = copy.copy(t)
        f.number, f._trial_id, f.datetime_start = number, tid, start
        frozen.append(f)
    if cached is not rdb:  # Optuna's cache in front of the database: it holds what it created
        with cached._lock:
            cached._add_trials_to_cache(study_id, [copy.copy(f) for f in frozen])
    return frozen


def _insert_many(session, *tables) -> None:
    """One executemany INSERT per table (SQLAlchemy Core: no ORM objects, no ids read back)."""
    import sqlalchemy

    for model, rows in tables:
        if rows:
            session.execute(sqlalchemy.insert(model), rows)


def _dist_json(dist) -> str:
    from optuna.distributions import distribution_to_json

    return distribution_to_json(dist)


# ----------------------------------------------------------------------------- tell


def tell_trials(study, items: Sequence[TellItem], frozen: dict) -> set[int]:
    """Complete the trials of ``items`` with their values and attributes; ``frozen`` maps each
    trial id to its ``FrozenTrial`` as asked (for the sampler's ``after_trial``). The ids of the
    trials told: a trial another worker finished meanwhile is left as it is."""
    from optuna.trial import TrialState

    storage = study._storage
    for tid, _user, _system, values in items:
        study.sampler.after_trial(study, frozen[tid], TrialState.COMPLETE, list(values))
    if (journal := _journal_of(storage)) is not None:
        return _journal_tell(journal, items)
    if (rdb := _rdb_of(storage)) is not None:
        told, now = _retrying(_rdb_tell, rdb, items)
        if storage is not rdb:  # the cache holds them finished: not read back (see _rdb.cached)
            _cache_told(storage, study._study_id, [i for i in items if i[0] in told], frozen, now)
        return told
    told = set()
    for tid, user, system, values in items:
        import optuna

        try:
            for key, value in user.items():
                storage.set_trial_user_attr(tid, key, value)
            have = storage.get_trial(tid).system_attrs
            for key, value in system.items():
                if key not in have:
                    storage.set_trial_system_attr(tid, key, value)
            storage.set_trial_state_values(tid, TrialState.COMPLETE, [float(v) for v in values])
            told.add(tid)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
    return told


def _journal_tell(storage, items) -> set[int]:
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages.journal._storage import JournalOperation as Op
    from optuna.trial import TrialState

    with storage._thread_lock:
        storage._sync_with_backend()
        trials = storage._replay_result._trials
        worker = storage._replay_result.worker_id
        now = _utc(_dt.datetime.now(_dt.UTC))
        logs = []
        for tid, user, system, values in items:
            if trials[tid].state.is_finished():
                continue  # another worker presumed it dead and queued a copy
            base = {"worker_id": worker, "trial_id": tid}
            logs += [{"op_code": Op.SET_TRIAL_USER_ATTR, **base, "user_attr": {k: v}} for k, v in user.items()]
            logs += [
                {"op_code": Op.SET_TRIAL_SYSTEM_ATTR, **base, "system_attr": {k: v}}
                for k, v in system.items()
                if k not in trials[tid].system_attrs
            ]
            logs.append(
                {
                    "op_code": Op.SET_TRIAL_STATE_VALUES,
                    **base,
                    "state": TrialState.COMPLETE,
                    "values": [float(v) for v in values],
                    "datetime_complete": now,
                }
            )
        if logs:
            storage._backend.append_logs(logs)
        while True:
            try:
                storage._sync_with_backend()
                break
            except UpdateFinishedTrialError:
                continue  # finished by another worker between the check and the append: skipped
        logged = {log["trial_id"] for log in logs}
        return {tid for tid in logged if trials[tid].state == TrialState.COMPLETE}


def _rdb_tell(rdb, items) -> tuple[set[int], _dt.datetime]:
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    told: set[int] = set()
    ids = [tid for tid, *_ in items]
    with _create_scoped_session(rdb.scoped_session) as session:
        rows = {
            r.trial_id: r
            for r in session.query(models.TrialModel)
            .filter(models.TrialModel.trial_id.in_(ids))
            .order_by(models.TrialModel.trial_id)
            .with_for_update()
            .all()
        }
        live = [i for i in ids if i in rows and not rows[i].state.is_finished()]
        have: dict[tuple, Any] = {}
        for model in (models.TrialUserAttributeModel, models.TrialSystemAttributeModel):
            for a in session.query(model).filter(model.trial_id.in_(live)).all():
                have[(model, a.trial_id, a.key)] = a
        now = _dt.datetime.now()
        new: dict = {models.TrialUserAttributeModel: [], models.TrialSystemAttributeModel: []}
        values_rows = []
        for tid, user, system, values in items:
            if tid not in live:
                continue
            for model, attrs, replace in (
                (models.TrialUserAttributeModel, user, True),
                (models.TrialSystemAttributeModel, system, False),
            ):
                for key, value in attrs.items():
                    old = have.get((model, tid, key))
                    if old is None:
                        new[model].append({"trial_id": tid, "key": key, "value_json": json.dumps(value)})
                    elif replace:
                        old.value_json = json.dumps(value)
            for objective, v in enumerate(values):
                stored, kind = models.TrialValueModel.value_to_stored_repr(float(v))
                values_rows.append({"trial_id": tid, "objective": objective, "value": stored, "value_type": kind})
            rows[tid].state = TrialState.COMPLETE
            rows[tid].datetime_complete = now
            told.add(tid)
        _insert_many(session, *new.items(), (models.TrialValueModel, values_rows))
    return told, now


def _cache_told(cache, study_id: int, items, frozen: dict, now) -> None:
    import copy

    from optuna.trial import TrialState

    done = []
    for tid, user, system, values in items:
        f = copy.copy(frozen[tid])
        f.user_attrs = {**f.user_attrs, **user}
        f.system_attrs = {**system, **f.system_attrs}
        f.state, f.values, f.datetime_complete = TrialState.COMPLETE, [float(v) for v in values], now
        done.append(f)
    with cache._lock:
        cache._add_trials_to_cache(study_id, done)
