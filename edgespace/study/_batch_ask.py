"""Asking a whole batch of trials with one read of a SQL storage.

``Study.ask`` on an RDB storage reads the study's trials from the database several times per
trial (the sampler's relative search space, its population, its generation: each a query),
which made SQLite and PostgreSQL searches an order of magnitude slower than a journal file and
slower as the study grew. Here the batch is sampled against an in-memory mirror of one
snapshot of the study (its trials, and the study's system attributes, where NSGA-II caches its
populations), with the study's own sampler; each sampled trial is then written to the database
in one transaction (params and system attributes with it, created RUNNING and leased at once),
and the study's new system attributes are written back. Queued trials (retries of dead
workers' trials) are popped first with ``Study.ask``, as before.

The sampler sees what it would have seen asking one trial after another in this process (the
snapshot plus the batch's own trials); trials another worker adds meanwhile are seen at the next
batch, as with ``Study.ask`` between two of its reads.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

__all__ = ["ask_batch"]


def _is_rdb(study) -> bool:
    from optuna.storages import RDBStorage

    storage = study._storage
    return isinstance(getattr(storage, "_backend", storage), RDBStorage)


def ask_batch(study, distributions: dict, k: int) -> list[Any]:
    """``k`` new trials of ``study`` (``optuna.Trial`` objects, params suggested from
    ``distributions``)."""
    import optuna
    from optuna.trial import FrozenTrial, TrialState

    if k <= 0:
        return []
    if not _is_rdb(study):  # in-memory and journal storages read from memory already
        return [study.ask(distributions) for _ in range(k)]
    trials = study.get_trials(deepcopy=False)
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    out = [study.ask(distributions) for _ in range(min(waiting, k))]
    if len(out) == k:
        return out
    if out:
        trials = study.get_trials(deepcopy=False)
    mirror_storage = optuna.storages.InMemoryStorage()
    # the same study id: samplers remember the study they sample for (IntersectionSearchSpace)
    mirror_storage._max_study_id = study._study_id - 1
    sid = mirror_storage.create_new_study(study.directions, study.study_name)
    attrs = dict(study._storage.get_study_system_attrs(study._study_id))
    for key, value in attrs.items():
        mirror_storage.set_study_system_attr(sid, key, value)
    for t in trials:
        if t.state != TrialState.WAITING:
            mirror_storage.create_new_trial(sid, template_trial=t)
    mirror = optuna.load_study(study_name=study.study_name, storage=mirror_storage, sampler=study.sampler)
    storage = study._storage
    for _ in range(k - len(out)):
        sampled = mirror_storage.get_trial(mirror.ask(distributions)._trial_id)
        template = FrozenTrial(
            number=0,
            state=TrialState.RUNNING,
            value=None,
            values=None,
            datetime_start=_dt.datetime.now(),
            datetime_complete=None,
            params=sampled.params,
            distributions=sampled.distributions,
            user_attrs={},
            system_attrs=sampled.system_attrs,
            intermediate_values={},
            trial_id=0,
        )
        out.append(optuna.Trial(study, storage.create_new_trial(study._study_id, template_trial=template)))
    for key, value in mirror_storage.get_study_system_attrs(sid).items():
        if key not in attrs or attrs[key] != value:
            storage.set_study_system_attr(study._study_id, key, value)
    return out
