"""What a SQL worker costs the database and itself per trial: a batch reaches the server as a
few statements (one INSERT per table, not one execution per row), and NSGA-II's search space is
intersected once per complete trial, however many trials other workers hold RUNNING."""

from __future__ import annotations

import datetime as _dt

import pytest

from edgespace.study import named_space, search
from edgespace.study._rdb import leased_rdb_storage
from edgespace.study._samplers import IncrementalIntersection
from tests.test_study_storage import postgres_url  # noqa: F401 - the fixture

PROFILE = "jetson-orin-nano-8gb"


def _executions(store) -> list[int]:
    """Statements the server executes, per cursor call: an executemany runs once per row."""
    import sqlalchemy

    counts: list[int] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        counts.append(len(parameters) if executemany else 1)

    sqlalchemy.event.listen(store.engine, "before_cursor_execute", seen)
    return counts


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_batch_reaches_the_server_as_a_few_statements_not_one_a_row(kind, tmp_path, request):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'w.db'}"
    else:
        from tests.test_study_sql import _fresh_schema

        url = _fresh_schema(request.getfixturevalue("postgres_url"))
    store = leased_rdb_storage()(url, heartbeat_interval=30)
    counts = _executions(store)
    space = named_space("all")  # 22 parameters a trial: about 30 rows a trial, 600 a batch of 20
    search(space, PROFILE, n_trials=20, population_size=20, storage=store, study_name="w", seed=3)
    before = sum(counts)
    search(space, PROFILE, n_trials=80, population_size=20, storage=store, study_name="w", seed=3)
    per_batch = (sum(counts) - before) / 3
    # One executemany per table executed a statement per row: over 600 a batch of 20 trials.
    # Now one INSERT per table, a few reads and updates: a few dozen.
    assert per_batch <= 40, per_batch


def _trial(number: int, state, dists: dict):
    from optuna.trial import FrozenTrial, TrialState

    return FrozenTrial(
        number=number,
        state=state,
        value=None,
        values=[1.0] if state == TrialState.COMPLETE else None,
        datetime_start=_dt.datetime.now(),
        datetime_complete=None,
        params={k: d.to_external_repr(0) for k, d in dists.items()},
        distributions=dists,
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=number,
    )


class _Study:
    def __init__(self) -> None:
        self._study_id, self.trials = 0, []

    def _get_trials(self, deepcopy=False, use_cache=False, states=None):
        return self.trials


def test_the_search_space_is_optunas_and_each_complete_trial_is_intersected_once(monkeypatch):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.search_space import IntersectionSearchSpace
    from optuna.trial import TrialState

    full = {f"x{i}": FloatDistribution(0, 1 + i) for i in range(15)}
    full |= {"c": CategoricalDistribution(["a", "b"]), "n": IntDistribution(0, 3)}
    narrow = {k: v for k, v in full.items() if k != "x3"}
    other = {**full, "x5": FloatDistribution(0, 99)}
    study, ours, theirs = _Study(), IncrementalIntersection(), IntersectionSearchSpace()
    compared = []
    for cls in (FloatDistribution, CategoricalDistribution, IntDistribution):
        eq = cls.__eq__
        monkeypatch.setattr(cls, "__eq__", lambda a, b, eq=eq: (compared.append(1), eq(a, b))[1])
    own_cost = []
    for step in range(30):
        n = len(study.trials)
        # another worker's batch stays RUNNING (held back ten steps), ours completes at once;
        # failed and pruned trials (with other distributions) are left out, as Optuna does
        state = TrialState.RUNNING if step % 10 < 8 else TrialState.COMPLETE
        dists = narrow if step == 25 else other if step in (7, 8) else full
        study.trials.append(_trial(n, state, dists))
        study.trials.append(_trial(n + 1, TrialState.COMPLETE, full))
        study.trials.append(_trial(n + 2, TrialState.FAIL if step % 2 else TrialState.PRUNED, other))
        if step % 10 == 9:  # the other worker's batch ends
            for t in study.trials:
                if t.state == TrialState.RUNNING:
                    t.state, t.values = TrialState.COMPLETE, [1.0]
        compared.clear()
        got = ours.calculate(study)
        own_cost.append(len(compared))
        assert got == theirs.calculate(study) and list(got) == sorted(got)
    assert set(got) == set(narrow) - {"x5"}
    # each complete trial is intersected once, whatever is RUNNING, and two distribution objects
    # are compared once (Optuna's compared 17 a trial, for every trial after the oldest RUNNING)
    assert sum(own_cost) <= 17, own_cost


def test_trials_are_numbered_in_id_order_even_if_the_database_gives_ids_out_of_order(tmp_path, monkeypatch):
    """Trials are numbered as they are inserted (no UPDATE a row); were the ids to come out of
    the VALUES order, the trials are renumbered so that each number still counts the study's
    trials with a smaller id, as Optuna defines it."""
    import sqlite3

    import optuna
    from optuna.distributions import IntDistribution
    from optuna.trial import FrozenTrial, TrialState

    from edgespace.study import _batch_write
    from edgespace.study._batch_write import create_trials
    from edgespace.study._rdb import cached
    from edgespace.study._storage import open_storage

    real = _batch_write.insert_rows

    def reversed_insert(session, table, columns, rows, **kw):  # the last row gets the first id
        return real(session, table, columns, list(reversed(rows)), **kw)

    store, _ = open_storage(f"sqlite:///{tmp_path / 'n.db'}", "n")
    study = optuna.create_study(storage=cached(store), study_name="n", directions=["minimize"])
    study.tell(study.ask({"x": IntDistribution(0, 3)}), 1.0)  # one trial before: numbers start at 1
    template = FrozenTrial(
        number=0,
        state=TrialState.RUNNING,
        value=None,
        values=None,
        datetime_start=_dt.datetime.now(),
        datetime_complete=None,
        params={"x": 1},
        distributions={"x": IntDistribution(0, 3)},
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=0,
    )
    for insert in (real, reversed_insert):
        monkeypatch.setattr(_batch_write, "insert_rows", insert)
        batch = create_trials(study._storage, study._study_id, [template] * 3)
        stored = dict(sqlite3.connect(tmp_path / "n.db").execute("select trial_id, number from trials"))
        assert [stored[t._trial_id] for t in batch] == [t.number for t in batch]
        assert sorted(stored.values()) == list(range(len(stored)))
        assert [n for _, n in sorted(stored.items())] == list(range(len(stored)))  # numbers in id order
    assert [t.number for t in batch] == [6, 5, 4]  # the reversed insert was renumbered


def test_within_a_batch_s_snapshot_the_trials_are_looked_at_once():
    """A batch's snapshot keeps its trials' states (new trials are asked RUNNING), so the search
    space is computed once per snapshot, not once per trial sampled."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState

    from edgespace.study._snapshot import snapshot_storage

    class Snap(_Study):
        reads, study_name, directions = 0, "s", ()

        def _get_trials(self, deepcopy=False, use_cache=False, states=None):
            Snap.reads += 1
            return self.trials

    dists = {"x": FloatDistribution(0, 1)}
    first, second = Snap(), Snap()
    first._storage, second._storage = snapshot_storage(first, [], {}), snapshot_storage(second, [], {})
    assert first._storage.fixed_states
    first.trials = second.trials = [_trial(i, TrialState.COMPLETE, dists) for i in range(5)]
    space = IncrementalIntersection()
    for study in (first, first, first, second, second):
        assert space.calculate(study) == dists
        study.trials.append(_trial(len(study.trials), TrialState.RUNNING, dists))
    assert Snap.reads == 2  # once per snapshot
