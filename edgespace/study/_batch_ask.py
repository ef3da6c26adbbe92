"""Asking a whole batch of trials with one read of the study and one write.

``Study.ask`` reads the study's trials several times per trial (the sampler's relative search
space, its population, its generation: on SQLite and PostgreSQL each a query) and writes the
new trial field by field (each suggested parameter its own journal append or SQL commit). That
made SQL searches an order of magnitude slower than a journal file, and a journal search spend
most of its time in fsync. Here the batch is sampled, with the study's own sampler, against a
snapshot of the study (:mod:`edgespace.study._snapshot`: its trials and system attributes, where
NSGA-II caches its populations, read once) and the sampled trials are written together, created
RUNNING with their parameters (:func:`~edgespace.study._batch_write.create_trials`: one journal
append, or one SQL transaction that leases them at once); the study's changed system attributes
are written back. Queued trials (retries of dead workers' trials) are popped first with
``Study.ask``, as before.

The sampler sees what it would have seen asking one trial after another in this process (the
snapshot plus the batch's own trials); with the same seed it proposes the same trials. Trials
another worker adds meanwhile are seen at the next batch, as with ``Study.ask`` between two of
its reads.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from edgespace.study._batch_write import create_trials
from edgespace.study._snapshot import snapshot_storage

__all__ = ["ask_batch"]


def ask_batch(study, distributions: dict, k: int, trials: list | None = None) -> list[Any]:
    """``k`` new trials of ``study``, RUNNING, params suggested from ``distributions``, as
    ``FrozenTrial`` objects (read them only; tell them with
    :func:`~edgespace.study._batch_write.tell_trials`, or ``study.tell`` by number).
    ``trials``: the study's trials as the caller just read them (``deepcopy=False``), to save a
    read."""
    import optuna
    from optuna.trial import FrozenTrial, TrialState

    if k <= 0:
        return []
    if isinstance(study._storage, optuna.storages.InMemoryStorage):  # nothing to save
        return [study.ask(distributions)._cached_frozen_trial for _ in range(k)]
    if trials is None:
        trials = study.get_trials(deepcopy=False)
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    out = [study.ask(distributions)._cached_frozen_trial for _ in range(min(waiting, k))]
    if len(out) == k:
        return out
    if out:
        trials = study.get_trials(deepcopy=False)
    _check_distributions(trials, distributions)
    storage = study._storage
    snapshot = snapshot_storage(study, trials, storage.get_study_system_attrs(study._study_id))
    mirror = optuna.Study(study.study_name, storage=snapshot, sampler=study.sampler)
    templates = []
    for _ in range(k - len(out)):
        sampled = snapshot.get_trial(mirror.ask(distributions)._trial_id)
        templates.append(
            FrozenTrial(
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
        )
    out += create_trials(storage, study._study_id, templates)
    for key, value in snapshot.changed_system_attrs.items():
        storage.set_study_system_attr(study._study_id, key, value)
    return out


def _check_distributions(trials, distributions: dict) -> None:
    """Each parameter's distribution as the study's trials have it (Optuna checks the same,
    parameter by parameter, on every write)."""
    from optuna.distributions import check_distribution_compatibility

    todo = dict(distributions)
    for t in trials:
        for name in [n for n in todo if n in t.distributions]:
            check_distribution_compatibility(t.distributions[name], todo.pop(name))
        if not todo:
            return
