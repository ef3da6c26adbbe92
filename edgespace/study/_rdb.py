"""SQL storages (SQLite, PostgreSQL, MySQL) as safe as the journal.

Optuna's ``RDBStorage`` with three changes, and one error translation:

* **Leased from the moment they are asked.** A trial gets its heartbeat row in the call that
  puts it into RUNNING (created running, or popped from the queue), not after its whole batch
  was asked. A RUNNING trial that still has no heartbeat (a process killed between the two
  commits) is stale once its start is older than the grace period, like one whose heartbeat
  stopped. So a kill at any point leaves every unfinished trial retried, never counted toward
  the target for ever.
* **Concurrent first starts.** Creating the schema on an empty database (``create_all`` and
  Alembic's version row) races when several workers start at once ("table already exists",
  ``IntegrityError`` on ``alembic_version``, "database is locked"); opening is retried a few
  times with a random pause, after which the schema exists. Study attributes (the stored
  definition every worker writes on start) are retried the same way.
* **A database that goes away** mid-search (server shutdown, network loss) ends the search with
  one :class:`~edgespace.SearchError` line: what happened, that every trial told before it is
  kept, and that the same command resumes once the server is back (:func:`database_errors`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import random
import time
from collections.abc import Iterator
from typing import Any

from edgespace.study._errors import SearchError

__all__ = ["cached", "database_errors", "leased_rdb_storage"]

#: Attempts at opening a database (and writing a study attribute) while other workers race.
ATTEMPTS = 8


def _retrying(fn, *args, **kwargs):
    import sqlalchemy.exc
    from optuna.exceptions import StorageInternalError

    for attempt in range(ATTEMPTS):
        try:
            return fn(*args, **kwargs)
        except (sqlalchemy.exc.DBAPIError, StorageInternalError):
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))
    raise AssertionError("unreachable")


@functools.cache
def leased_rdb_storage() -> type:
    """The ``RDBStorage`` subclass described in the module docstring."""
    import logging

    from optuna.storages import RDBStorage
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    logging.getLogger("optuna.storages._rdb.storage").addFilter(_QuietLostConnection())
    logging.getLogger("psycopg").addFilter(_QuietLostConnection())

    class LeasedRDBStorage(RDBStorage):
        def __init__(self, url: str, **kwargs: Any) -> None:
            _retrying(super().__init__, url, **kwargs)

        def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
            _retrying(super().set_study_user_attr, study_id, key, value)

        def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
            _retrying(super().set_study_system_attr, study_id, key, value)

        def _create_new_trial(self, study_id: int, template_trial=None):
            # Optuna's cache in front of the storage calls this one, not create_new_trial
            frozen = super()._create_new_trial(study_id, template_trial)
            if self.heartbeat_interval is not None and frozen.state == TrialState.RUNNING:
                self.record_heartbeat(frozen._trial_id)
            return frozen

        def set_trial_state_values(self, trial_id: int, state, values=None) -> bool:
            ok = super().set_trial_state_values(trial_id, state, values)
            if ok and state == TrialState.RUNNING and self.heartbeat_interval is not None:
                self.record_heartbeat(trial_id)  # popped from the queue: leased at once
            return ok

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            stale = super()._get_stale_trial_ids(study_id)
            grace = self.grace_period or 2 * (self.heartbeat_interval or 0)
            # datetime_start is stored as naive UTC, from the asking process's clock.
            cutoff = _dt.datetime.now(_dt.UTC).replace(tzinfo=None) - _dt.timedelta(seconds=grace)
            session = self.scoped_session()
            try:
                orphans = (
                    session.query(models.TrialModel.trial_id)
                    .outerjoin(models.TrialHeartbeatModel)
                    .filter(models.TrialModel.study_id == study_id)
                    .filter(models.TrialModel.state == TrialState.RUNNING)
                    .filter(models.TrialHeartbeatModel.trial_heartbeat_id.is_(None))
                    .filter(models.TrialModel._datetime_start_utc < cutoff)
                    .all()
                )
            finally:
                session.close()
            return sorted(set(stale) | {row[0] for row in orphans})

    return LeasedRDBStorage


def cached(storage):
    """``storage`` behind the cache Optuna puts in front of an ``RDBStorage`` (any other storage
    as is), re-reading less: Optuna's cache reads again, on every read of the study's trials,
    each trial it has not seen finished (with all its params and attributes: tens of
    milliseconds for a batch, and every other worker's batch twice); this one first reads the ids
    and states of those trials and loads only the ones it does not hold in the same state (a
    trial this process told is put into the cache finished, see
    :mod:`edgespace.study._batch_write`). A running trial is loaded when first seen and again
    when its state changes: edgespace creates a trial whole, so only a plain Optuna client that
    writes a running trial's params one by one would show partly in the cache until it ends."""
    from optuna.storages import RDBStorage

    return _lean_cache()(storage) if isinstance(storage, RDBStorage) else storage


@functools.cache
def _lean_cache() -> type:
    from optuna.storages._cached_storage import _CachedStorage, _StudyInfo
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    from edgespace.study._rdb_read import load_trials

    class LeanCache(_CachedStorage):
        def _read_trials_from_remote_storage(self, study_id: int) -> None:
            import sqlalchemy

            with self._lock:
                study = self._studies.setdefault(study_id, _StudyInfo())
                trial = models.TrialModel
                with _create_scoped_session(self._backend.scoped_session) as session:
                    rows = (
                        session.query(trial.trial_id, trial.number, trial.state)
                        .filter(trial.study_id == study_id)
                        .filter(
                            sqlalchemy.or_(
                                trial.trial_id > study.last_finished_trial_id,
                                trial.trial_id.in_(study.unfinished_trial_ids),
                            )
                        )
                        .all()
                    )
                held = {}
                for tid, number, state in rows:
                    have = study.trials.get(number)
                    if have is not None and have._trial_id == tid and state == have.state:
                        held[tid] = have
                need = {tid for tid, _, _ in rows if tid not in held}
                loaded = load_trials(self._backend, need) if need else []
                self._add_trials_to_cache(study_id, loaded)
                for t in [*loaded, *held.values()]:
                    if not t.state.is_finished():
                        study.unfinished_trial_ids.add(t._trial_id)
                        continue
                    study.last_finished_trial_id = max(study.last_finished_trial_id, t._trial_id)
                    study.unfinished_trial_ids.discard(t._trial_id)

    return LeanCache


def _is_database_error(exc: BaseException) -> bool:
    import sqlalchemy.exc
    from optuna.exceptions import StorageInternalError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return True
        if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, StorageInternalError) and exc.__cause__ is not None:
            exc = exc.__cause__
            continue
        exc = exc.__cause__ or exc.__context__
    return False


def _driver_error(exc: BaseException) -> BaseException:
    """The database driver's own error behind ``exc`` (e.g. psycopg's ``AdminShutdown``), or the
    last error of the chain."""
    import sqlalchemy.exc

    seen, last = set(), exc
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None:
            return exc.orig
        last = exc
        exc = exc.__cause__ or exc.__context__
    return last


class _QuietLostConnection:
    """Drops Optuna's multi-line warning about a failed query and psycopg's warning when a batch's
    pipeline cannot be closed on a lost connection (the search reports the loss once)."""

    def filter(self, record) -> bool:
        return not str(record.getMessage()).startswith(("Caught an error from sqlalchemy", "error ignored terminating"))


@contextlib.contextmanager
def database_errors(storage_text: str) -> Iterator[None]:
    """Turn a lost database connection into one :class:`SearchError` line (nothing else)."""
    try:
        yield
    except SearchError:
        raise
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        root = _driver_error(exc)
        first = (str(root).strip().splitlines() or [type(root).__name__])[0]
        raise SearchError(
            f"storage {storage_text}: the database went away mid-search ({type(root).__name__}: {first}); "
            "every trial told before it is kept; when the server is back, run the same command again "
            "to resume (trials left running are retried after the heartbeat grace period)"
        ) from None
