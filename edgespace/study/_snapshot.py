"""A read-only snapshot of a study that a sampler can ask new trials of without writing.

A sampler proposing a trial reads the study's trials several times and writes the new trial
field by field (created, then one write per suggested parameter, then its system attributes).
On a journal file every write is an fsync'ed append; on SQLite and PostgreSQL a committed
transaction, and every read a query. :class:`SnapshotStorage` answers the sampler's reads from
one snapshot of the study (its trials and system attributes, read once per batch) plus the
trials asked of it so far, and keeps the writes in memory; the caller then writes each new
trial whole (see :mod:`edgespace.study._batch_write`). Trials asked of it get negative ids,
which never collide with a storage's own.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Container, Sequence
from typing import Any

__all__ = ["snapshot_storage"]


def snapshot_storage(study, trials: Sequence[Any], system_attrs: dict):
    """A :class:`SnapshotStorage` of ``study`` holding ``trials`` (not copied: the sampler only
    reads them) and a copy of the study's ``system_attrs``."""
    return _snapshot_class()(study, trials, system_attrs)


@functools.cache
def _snapshot_class() -> type:
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial, TrialState

    class SnapshotStorage(BaseStorage):
        def __init__(self, study, trials: Sequence[FrozenTrial], system_attrs: dict) -> None:
            self.study_id = study._study_id
            self.study_name = study.study_name
            self.directions = list(study.directions)
            self.user_attrs: dict = {}
            self.system_attrs = dict(system_attrs)
            self.changed_system_attrs: dict = {}
            self.trials = list(trials)
            self.held = len(self.trials)  # the snapshot's own trials; asked ones follow
            self.filtered: dict = {}
            self.by_id = {t._trial_id: t for t in self.trials}
            self.next_number = 1 + max((t.number for t in self.trials), default=-1)
            self.new: list[FrozenTrial] = []

        # --- the study
        def create_new_study(self, directions, study_name=None) -> int:
            raise NotImplementedError("a snapshot holds one study")

        def delete_study(self, study_id: int) -> None:
            raise NotImplementedError("a snapshot holds one study")

        def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
            self.user_attrs[key] = value

        def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
            self.system_attrs[key] = value
            self.changed_system_attrs[key] = value

        def get_study_id_from_name(self, study_name: str) -> int:
            if study_name != self.study_name:
                raise KeyError(study_name)
            return self.study_id

        def get_study_name_from_id(self, study_id: int) -> str:
            return self.study_name

        def get_study_directions(self, study_id: int) -> list:
            return list(self.directions)

        def get_study_user_attrs(self, study_id: int) -> dict:
            return dict(self.user_attrs)

        def get_study_system_attrs(self, study_id: int) -> dict:
            return dict(self.system_attrs)

        def get_all_studies(self) -> list:
            raise NotImplementedError("a snapshot holds one study")

        # --- trials
        def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
            if template_trial is not None:
                raise NotImplementedError("a snapshot asks new trials only")
            import datetime as _dt

            trial = FrozenTrial(
                number=self.next_number,
                state=TrialState.RUNNING,
                value=None,
                values=None,
                datetime_start=_dt.datetime.now(),
                datetime_complete=None,
                params={},
                distributions={},
                user_attrs={},
                system_attrs={},
                intermediate_values={},
                trial_id=-1 - len(self.new),
            )
            self.next_number += 1
            self.new.append(trial)
            self.trials.append(trial)
            self.by_id[trial._trial_id] = trial
            return trial._trial_id

        def _own(self, trial_id: int) -> FrozenTrial:
            if trial_id >= 0:
                raise NotImplementedError("a snapshot changes only the trials asked of it")
            return self.by_id[trial_id]

        def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float, distribution) -> None:
            trial = self._own(trial_id)
            trial.params[param_name] = distribution.to_external_repr(param_value_internal)
            trial.distributions[param_name] = distribution

        def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
            for t in self.trials:
                if t.number == trial_number:
                    return t._trial_id
            raise KeyError(trial_number)

        def set_trial_state_values(self, trial_id: int, state, values=None) -> bool:
            raise NotImplementedError("a snapshot keeps its new trials running")

        def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
            self._own(trial_id).intermediate_values[step] = intermediate_value

        def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
            self._own(trial_id).user_attrs[key] = value

        def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
            self._own(trial_id).system_attrs[key] = value

        def get_trial(self, trial_id: int) -> FrozenTrial:
            trial = self.by_id[trial_id]
            if trial_id >= 0:
                return trial
            out = copy.copy(trial)  # the caller may change its dicts (Trial does)
            out.params, out.distributions = dict(trial.params), dict(trial.distributions)
            out.user_attrs, out.system_attrs = dict(trial.user_attrs), dict(trial.system_attrs)
            return out

        def get_all_trials(
            self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
        ) -> list[FrozenTrial]:
            if tuple(states or ()) == (TrialState.WAITING,):
                return []  # queued trials are popped by Study.ask on the study itself, never here
            if states is None:
                out = list(self.trials)
            else:  # the snapshot's part filtered once per states asked (samplers ask often)
                key = frozenset(states)
                if key not in self.filtered:
                    self.filtered[key] = [t for t in self.trials[: self.held] if t.state in key]
                out = self.filtered[key] + [t for t in self.new if t.state in key]
            return copy.deepcopy(out) if deepcopy else out

    return SnapshotStorage
