"""Reading trials from a SQL storage without the ORM.

Optuna's ``RDBStorage`` loads a trial as ORM objects (the trial and five related tables) and
parses each parameter's distribution from its JSON on every load: about 2 ms of CPU a trial,
paid by every worker for every trial every other worker tells (a trial is read when first seen
and again when it finishes). With N workers on one study each trial cost N times that, and the
workers' CPU per trial grew with their number. :func:`load_trials` reads the same rows with one
plain query per table and parses each distinct distribution once per process; the trials it
builds equal Optuna's own (the same ``FrozenTrial`` fields).
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
from collections.abc import Iterable

__all__ = ["load_trials"]

#: Trial ids per query (SQLite allows 32,766 bound parameters; older builds 999).
_CHUNK = 500


@functools.lru_cache(maxsize=4096)
def _distribution(text: str):
    from optuna.distributions import json_to_distribution

    return json_to_distribution(text)


def _local(utc: _dt.datetime | None) -> _dt.datetime | None:
    """As Optuna's ``TrialModel``: naive UTC in the database, naive local time in a trial."""
    return None if utc is None else utc.replace(tzinfo=_dt.UTC).astimezone().replace(tzinfo=None)


def load_trials(rdb, trial_ids: Iterable[int]) -> list:
    """The trials ``trial_ids`` of ``rdb`` (an ``RDBStorage``) as ``FrozenTrial`` objects, by id."""
    import sqlalchemy
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import FrozenTrial

    ids = sorted(set(trial_ids))
    out = []
    T, P, V = models.TrialModel, models.TrialParamModel, models.TrialValueModel
    U, S, M = models.TrialUserAttributeModel, models.TrialSystemAttributeModel, models.TrialIntermediateValueModel
    with _create_scoped_session(rdb.scoped_session) as session:
        for lo in range(0, len(ids), _CHUNK):
            chunk = ids[lo : lo + _CHUNK]

            def rows(*cols, order=None, chunk=chunk):
                q = sqlalchemy.select(*cols).where(cols[0].in_(chunk))
                return session.execute(q.order_by(order) if order is not None else q).all()

            trials = rows(T.trial_id, T.number, T.state, T._datetime_start_utc, T._datetime_complete_utc)
            params: dict = {}
            for tid, name, value, dist in rows(
                P.trial_id, P.param_name, P.param_value, P.distribution_json, order=P.param_id
            ):
                params.setdefault(tid, []).append((name, value, _distribution(dist)))
            values: dict = {}
            for tid, objective, value, kind in rows(V.trial_id, V.objective, V.value, V.value_type):
                values.setdefault(tid, {})[objective] = V.stored_repr_to_value(value, kind)
            attrs: dict = {U: {}, S: {}}
            for model in (U, S):
                for tid, key, text in rows(model.trial_id, model.key, model.value_json):
                    attrs[model].setdefault(tid, {})[key] = json.loads(text)
            steps: dict = {}
            for tid, step, value, kind in rows(M.trial_id, M.step, M.intermediate_value, M.intermediate_value_type):
                steps.setdefault(tid, {})[step] = M.stored_repr_to_intermediate_value(value, kind)
            for tid, number, state, start, complete in trials:
                ps = params.get(tid, [])
                vs = values.get(tid)
                out.append(
                    FrozenTrial(
                        number=number,
                        state=state,
                        value=None,
                        values=[vs[i] for i in range(len(vs))] if vs else None,
                        datetime_start=_local(start),
                        datetime_complete=_local(complete),
                        params={name: dist.to_external_repr(value) for name, value, dist in ps},
                        distributions={name: dist for name, _, dist in ps},
                        user_attrs=attrs[U].get(tid, {}),
                        system_attrs=attrs[S].get(tid, {}),
                        intermediate_values=steps.get(tid, {}),
                        trial_id=tid,
                    )
                )
    return sorted(out, key=lambda t: t._trial_id)
