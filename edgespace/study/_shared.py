"""Design points the study already holds complete, whoever evaluated them.

Each process keeps the rows it evaluated (NSGA-II proposes the same discrete points again and
again), but workers on one study would each evaluate the points the others had already
evaluated: with two workers the CPU per trial grew by a quarter. :class:`SharedResults` indexes
the study's complete trials by design point as they are read (once per batch, in the read the
batch is asked against); a trial proposing a point found there is told the values, record and
constraint of that trial (the record's ``worker`` is the teller), which is what evaluating the
point again would give: the evaluation is a pure function of the point and the study's
definition, which every worker shares.
"""

from __future__ import annotations

from typing import Any

from edgespace._spec import POINT_COLUMNS

__all__ = ["SharedResults"]


class SharedResults:
    def __init__(self, record_key: str, constraint_key: str) -> None:
        self.record_key, self.constraint_key = record_key, constraint_key
        self.by_point: dict[tuple, Any] = {}
        self.seen: set[int] = set()

    def update(self, trials) -> None:
        """Index the complete trials of ``trials`` not indexed yet."""
        from optuna.trial import TrialState

        for t in trials:
            if t.state != TrialState.COMPLETE or t._trial_id in self.seen:
                continue
            self.seen.add(t._trial_id)
            rec = t.user_attrs.get(self.record_key)
            if (
                isinstance(rec, dict)
                and all(c in rec for c in POINT_COLUMNS)
                and self.constraint_key in t.system_attrs
                and t.values is not None
            ):
                self.by_point.setdefault(tuple(rec[c] for c in POINT_COLUMNS), t)

    def told(self, key: tuple, trial_id: int, worker: str):
        """The tell item (trial id, user attrs, system attrs, values) for a trial proposing the
        point ``key``, from the complete trial holding it; None when there is none."""
        t = self.by_point.get(key)
        if t is None:
            return None
        record = {**t.user_attrs[self.record_key], "worker": worker}
        constraint = {self.constraint_key: t.system_attrs[self.constraint_key]}
        return trial_id, {self.record_key: record}, constraint, list(t.values)
