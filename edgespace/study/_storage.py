"""Where a study lives.

* ``None`` (default): an append-only journal file (Optuna's ``JournalFileBackend``) named after
  the study, under the run folder: ``$EDGESPACE_RUN_DIR`` or ``./runs``. The same study name
  resumes. The journal is a JSON-lines log replayed on open; a write is appended under a file
  lock, flushed and fsync'ed, so a killed process loses at most the trials it had not told.
  The tail is checked before every append: a damaged last line (a write cut short) stops the
  search with the file, the line and ``edgespace repair`` (see :mod:`edgespace.study._journal`).
* ``"memory"``: in memory, nothing kept (benchmarks, tests, throw-away searches).
* ``"journal:PATH"`` or a path ending in ``.journal``/``.jsonl``/``.log``: a journal file there.
* Any Optuna RDB URL (``sqlite:///x.db``, ``postgresql://user:pw@host/db``, ``mysql://...``):
  an ``RDBStorage`` with heartbeats (``sqlite://`` and ``sqlite:///:memory:``, in-memory, are
  refused: nothing would be kept) (``heartbeat_interval``, grace period twice that) and
  ``RetryHeartbeatStaleTrialCallback`` (Optuna 5's name for ``RetryFailedTrialCallback``), so a
  trial whose worker died is failed and queued again (up to 3 times). ``postgresql://`` uses
  psycopg 3 when psycopg2 is not installed.
* An Optuna storage object: used as is.

Journal files have no heartbeat in Optuna. Each process records which trials it asked in an
owner lease (``<journal>.owners``: host, pid, start time); a RUNNING trial whose owner ran on
this host and is gone is failed and queued again at once. Owners on other hosts cannot be
checked: their RUNNING trials are presumed dead once older than ``stale_after_s`` (see
:func:`edgespace.study.search`), then failed and queued again the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from edgespace.study._errors import SearchError

__all__ = ["open_storage", "storage_file", "run_dir", "check_study_name"]

_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def run_dir() -> Path:
    """The folder of default (journal) storages: ``$EDGESPACE_RUN_DIR`` or ``./runs``."""
    return Path(os.environ.get("EDGESPACE_RUN_DIR") or "runs")


def check_study_name(name: str) -> str:
    if not isinstance(name, str) or not _STUDY_NAME.match(name):
        raise SearchError(
            f"study name {name!r}: allowed: 1-128 characters from A-Z a-z 0-9 _ . - (not starting with . _ -)"
        )
    return name


def _postgres_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    try:
        import psycopg2  # noqa: F401

        return "postgresql://" + rest
    except ImportError:
        pass
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise SearchError(
            f"storage {url.split('@')[-1]!r}: PostgreSQL needs a driver; pip install 'psycopg[binary]' (or psycopg2-binary)"
        ) from None
    return "postgresql+psycopg://" + rest


def storage_file(storage: Any, study_name: str) -> Path | None:
    """The file ``storage`` keeps the study ``study_name`` in (a journal or an SQLite database),
    or None where it keeps none (memory, a database server, a storage object). The one reading
    of a storage text: :func:`open_storage` opens what it names."""
    if storage is not None and not isinstance(storage, (str, os.PathLike)):
        return None
    if storage is None:
        return run_dir() / f"{check_study_name(study_name)}.journal"
    text = os.fspath(storage)
    if text in ("memory", ":memory:"):
        return None
    if text.startswith("journal:") or text.endswith((".journal", ".jsonl", ".log")):
        return Path(text.removeprefix("journal:").removeprefix("//"))
    scheme, sep, rest = text.partition("://")
    if sep and scheme.split("+")[0] == "sqlite" and rest.removeprefix("/") not in ("", ":memory:"):
        return Path(rest[1:] if rest.startswith("/") else rest)
    return None


def open_storage(storage: Any, study_name: str, *, heartbeat_interval: int = 30, max_retry: int = 3) -> tuple[Any, str]:
    """An Optuna storage object for ``storage`` (see the module docstring) and a short
    description of it (no password)."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    from edgespace._paths import output_file
    from edgespace.study._journal import open_journal

    def journal(path: Path, what: str):
        # Checked before any work: empty, a directory, /dev/null, /proc/..., a name too long,
        # an unwritable folder are one-line SearchErrors; then the tail of an existing journal.
        path = output_file(path, what, SearchError)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SearchError(f"{what}: {path}: cannot create its folder: {exc.strerror or exc}") from None
        return open_journal(path)

    if storage is not None and not isinstance(storage, (str, os.PathLike)):
        if isinstance(storage, optuna.storages.BaseStorage):
            return storage, type(storage).__name__
        raise SearchError(
            f"storage={storage!r}: give None, 'memory', a journal path or an Optuna storage URL or object"
        )
    if storage is None:
        path = storage_file(None, study_name)
        return journal(path, "the default journal (EDGESPACE_RUN_DIR or ./runs)"), f"journal:{path}"
    text = os.fspath(storage)
    if text in ("memory", ":memory:"):
        return optuna.storages.InMemoryStorage(), "memory"
    if text.startswith("journal:") or text.endswith((".journal", ".jsonl", ".log")):
        path = storage_file(text, study_name)
        if not str(path).strip() or str(path) == ".":
            raise SearchError(
                f"storage {text!r}: the journal path is empty; give journal:PATH (e.g. journal:runs/study.journal)"
            )
        return journal(path, f"storage journal:{path}"), f"journal:{path}"
    if "://" not in text:
        raise SearchError(
            f"storage {text!r}: not understood; allowed: 'memory', 'journal:PATH', a path ending in .journal, "
            "or an Optuna RDB URL such as sqlite:///study.db or postgresql://user@host/db"
        )
    scheme, _, rest = text.partition("://")
    if scheme.split("+")[0] == "sqlite" and rest.removeprefix("/") in ("", ":memory:"):
        raise SearchError(
            f"storage {text!r}: an in-memory SQLite database keeps nothing and other workers cannot join it; "
            "give sqlite:///FILE.db (a file; four slashes for an absolute path), or 'memory' for a "
            "throw-away search"
        )
    url = _postgres_url(text)
    if heartbeat_interval is not None and not (
        isinstance(heartbeat_interval, int)
        and not isinstance(heartbeat_interval, bool)
        and 1 <= heartbeat_interval <= 86400
    ):
        raise SearchError(
            f"heartbeat_interval={heartbeat_interval!r}: allowed: an integer 1 to 86400 (seconds) or None"
        )
    import warnings

    try:
        with warnings.catch_warnings():  # heartbeats and the retry callback are marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            rdb = RDBStorage(
                url,
                heartbeat_interval=heartbeat_interval,
                grace_period=None if heartbeat_interval is None else 2 * heartbeat_interval,
                heartbeat_stale_trial_callback=None
                if heartbeat_interval is None
                else RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
            )
    except ImportError as exc:
        raise SearchError(f"storage {text.split('@')[-1]!r}: a database driver is missing: {exc}") from None
    except Exception as exc:  # sqlalchemy errors: bad URL, server down, auth
        raise SearchError(
            f"storage {text.split('@')[-1]!r}: cannot open: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    return rdb, _without_credentials(text)


def _without_credentials(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if "@" in rest else url
