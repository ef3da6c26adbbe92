"""Journal files kept honest: the tail checked before every append, damage reported with the
file and line, a repair that backs up and truncates, and owner leases for resuming.

Optuna's journal file is JSON lines, replayed on open. A process killed mid-write leaves a last
line that is cut short (or a stray blank line); Optuna skips a damaged *last* line when it reads,
but anything appended after it turns it into a damaged line in the middle, and from then on no
reader can replay the file. So:

* :func:`checked_backend` (Optuna's file backend, subclassed) looks at the tail under the journal's lock before each
  append and refuses to append after a damaged last line (:class:`~edgespace.SearchError`
  naming the file, the line and ``edgespace repair``);
* :func:`open_journal` checks the tail before anything else and turns a replay failure into a
  one-line error naming the first damaged line (:func:`find_damage`);
* :func:`repair_journal` copies the file to a backup and truncates it to its last complete entry
  (never silently: it reports what it cut and where the backup is).

Owner leases: every journal entry carries the ``worker_id`` of the storage object that wrote it
(Optuna: a random prefix per storage plus the thread). Before a search asks anything it appends
one lease line to ``<journal>.owners``, ``{"prefix", "host", "pid", "start"}``, tying its prefix
to this process; the storage (:func:`owned_storage`) remembers while replaying which worker put
each trial into RUNNING. A RUNNING trial whose owner ran on this host and is gone (no such pid,
a zombie, or the pid reused by a process that started later) is dead at once, without waiting
for ``stale_after_s``; there is no window between asking and leasing, since the lease comes
first.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from edgespace._errors import SearchError

__all__ = [
    "checked_backend",
    "dead_trial_ids",
    "find_damage",
    "lease_path",
    "open_journal",
    "owned_storage",
    "record_lease",
    "repair_journal",
]

#: Most bytes of the tail read to find the last line (an entry is a few hundred bytes; a trial
#: record with every estimate column a few kB).
_TAIL_BYTES = 1 << 20


def _repair_hint(path: Path) -> str:
    return f"run `edgespace repair --storage journal:{path}` to back it up and cut it to the last complete entry"


def _line_problem(line: bytes) -> str | None:
    """Why ``line`` (with its end of line) is not a journal entry, or None if it is one."""
    if not line.endswith(b"\n"):
        return "cut short (no end of line: a write was interrupted)"
    if not line.strip():
        return "a blank line"
    try:
        log = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return f"not JSON ({getattr(exc, 'msg', type(exc).__name__)})"
    if not isinstance(log, dict) or not isinstance(log.get("op_code"), int) or isinstance(log.get("op_code"), bool):
        return "not a journal entry (no integer op_code)"
    return None


def check_tail(path: Path) -> tuple[int, str] | None:
    """``(line number, problem)`` if the last line of the journal at ``path`` is damaged. Reads
    only the tail (a window growing from 16 kB), so it costs little on every append."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with open(path, "rb") as f:
        window = 16 << 10
        while True:
            start = max(0, size - window)
            f.seek(start)
            tail = f.read(size - start)
            body = tail[:-1] if tail.endswith(b"\n") else tail
            cut = body.rfind(b"\n")
            if cut >= 0 or start == 0:
                break
            if window >= _TAIL_BYTES:
                return None  # one line longer than the largest window: leave it to the full replay
            window *= 4
        problem = _line_problem(tail[cut + 1 :])
        if problem is None:
            return None
        # the line number: count the lines before the last one (only when it is damaged)
        f.seek(0)
        before = start + cut + 1
        n, read = 0, 0
        while read < before:
            chunk = f.read(min(1 << 20, before - read))
            if not chunk:
                break
            n += chunk.count(b"\n")
            read += len(chunk)
        return n + 1, problem


def find_damage(path: Path) -> tuple[int, str] | None:
    """The first damaged line of the journal at ``path`` as ``(line number, problem)``: not a
    JSON entry, or an entry Optuna cannot replay; None if the whole file replays."""
    from optuna.storages.journal._storage import JournalStorageReplayResult

    replay = JournalStorageReplayResult("edgespace-check-")
    with open(path, "rb") as f:
        for n, line in enumerate(f, start=1):
            problem = _line_problem(line)
            if problem is not None:
                return n, problem
            try:
                replay.apply_logs([json.loads(line)])
            except Exception as exc:
                return n, f"cannot be replayed ({type(exc).__name__}: {str(exc)[:80] or 'an unknown operation'})"
    return None


@functools.cache
def checked_backend() -> type:
    """Optuna's journal file backend, checking the tail under the lock before each append
    (a class made on first use: optuna loads only when a study is opened)."""
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import get_lock_file

    class CheckedJournalFileBackend(JournalFileBackend):
        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            path = Path(self._file_path)
            with get_lock_file(self._lock):
                damage = check_tail(path)
                if damage is not None:
                    line, problem = damage
                    raise SearchError(
                        f"{path}: line {line}: the last entry is damaged: {problem}; nothing was "
                        f"appended; {_repair_hint(path)}"
                    )
                text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
                with open(path, "ab") as f:
                    f.write(text.encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())

    return CheckedJournalFileBackend


def open_journal(path: Path):
    """A ``JournalStorage`` on the file at ``path``, refusing a damaged tail up front and turning
    a replay failure into a one-line :class:`~edgespace.SearchError` naming file and line."""
    from optuna.storages.journal import JournalFileSymlinkLock
    from optuna.storages.journal._file import get_lock_file

    # The lock is a symlink held for one append; a process killed while holding it leaves it
    # behind, and the next writer breaks it after the grace period. The tail is read under it,
    # so a line another process is appending right now is not mistaken for damage.
    lock = JournalFileSymlinkLock(str(path), grace_period=10)
    if path.is_file():
        _check_is_journal(path)
        with get_lock_file(lock):
            damage = check_tail(path)
    else:
        damage = None
    if damage is not None:
        line, problem = damage
        raise SearchError(f"{path}: line {line}: the last entry is damaged: {problem}; {_repair_hint(path)}")
    try:
        backend = checked_backend()(str(path), lock_obj=lock)
        return owned_storage()(backend)
    except SearchError:
        raise
    except Exception as exc:
        damage = find_damage(path)
        if damage is None:
            raise SearchError(f"{path}: cannot be read as an Optuna journal: {type(exc).__name__}: {exc}") from None
        line, problem = damage
        raise SearchError(
            f"{path}: line {line}: a damaged entry in the middle of the journal ({problem}); the entries "
            f"after it cannot be replayed; `edgespace repair --storage journal:{path} --cut-at-damage` "
            f"keeps the {line - 1} entries before it (with a backup of the whole file)"
        ) from None


def repair_journal(path: str | os.PathLike, *, cut_at_damage: bool = False) -> dict:
    """Back up the journal at ``path`` and truncate it to its last complete entry.

    A damaged last line (cut short, garbage, blank) is removed. Damage in the middle is removed
    only with ``cut_at_damage=True``, which also drops every entry after it (they cannot be
    replayed anyway); otherwise :class:`~edgespace.SearchError`. Returns what was done: ``path``,
    ``backup`` (None when nothing needed repair), ``kept_entries``, ``dropped_lines``, ``line``,
    ``problem``."""
    p = Path(os.fspath(path).removeprefix("journal:"))
    if not p.is_file():
        raise SearchError(f"{p}: no such journal file")
    _check_is_journal(p)
    damage = find_damage(p)
    if damage is None:
        return {
            "path": str(p),
            "backup": None,
            "kept_entries": _count_lines(p),
            "dropped_lines": 0,
            "line": None,
            "problem": None,
        }
    line, problem = damage
    total = _count_lines(p, partial=True)
    if line < total and not cut_at_damage:
        raise SearchError(
            f"{p}: line {line}: damaged ({problem}) with {total - line} more line(s) after it; "
            f"rerun with --cut-at-damage to keep the {line - 1} entries before it (a backup is made first)"
        )
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = p.with_name(f"{p.name}.{stamp}.bak")
    shutil.copy2(p, backup)
    offset = 0
    with open(p, "rb") as f:
        for _ in range(line - 1):
            offset += len(f.readline())
    with open(p, "r+b") as f:
        f.truncate(offset)
        f.flush()
        os.fsync(f.fileno())
    return {
        "path": str(p),
        "backup": str(backup),
        "kept_entries": line - 1,
        "dropped_lines": total - line + 1,
        "line": line,
        "problem": problem,
    }


def _check_is_journal(p: Path) -> None:
    """Refuse a file that is not an Optuna journal (a SQLite database, a report, anything else):
    repairing it would cut it to nothing."""
    with open(p, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3"):
        raise SearchError(
            f"{p}: a SQLite database, not a journal; refused (SQLite keeps its own transaction log; "
            f"open it as sqlite:///{p})"
        )
    if head and not head.startswith(b'{"op_code"'):
        raise SearchError(
            f"{p}: not an Optuna journal (it does not start with a journal entry); refused, nothing changed"
        )


def _count_lines(p: Path, *, partial: bool = False) -> int:
    n, last = 0, b"\n"
    with open(p, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (1 if partial and last != b"\n" else 0)


# ----------------------------------------------------------------------------- owner leases


def lease_path(storage: Any) -> Path | None:
    """``<journal>.owners`` for a journal-file storage; None for any other storage."""
    from optuna.storages.journal import JournalFileBackend

    backend = getattr(storage, "_backend", None)
    if isinstance(backend, JournalFileBackend):
        return Path(backend._file_path + ".owners")
    return None


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def owner() -> dict:
    """This process as a lease owner: host name, pid and start time."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_ticks(os.getpid())}


def record_lease(path: Path | None, storage: Any) -> None:
    """Append this process's lease for ``storage``'s worker prefix (one ``write`` on a file
    opened for appending), before the storage asks for any trial."""
    prefix = getattr(storage, "_worker_id_prefix", None)
    if path is None or not isinstance(prefix, str):
        return
    line = json.dumps({"prefix": prefix, **owner()}, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@functools.cache
def owned_storage() -> type:
    """``JournalStorage`` whose replay also records, per trial id, the ``worker_id`` that put the
    trial into RUNNING (by creating it running, or by popping it from the queue)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal._storage import JournalStorageReplayResult
    from optuna.trial import TrialState

    class _Tracking(JournalStorageReplayResult):
        owner_of: dict

        def _apply_create_trial(self, log: dict[str, Any]) -> None:
            n = len(self._trials)
            super()._apply_create_trial(log)
            if len(self._trials) > n and self._trials[n].state == TrialState.RUNNING:
                self.owner_of[n] = log.get("worker_id")

        def _apply_set_trial_state_values(self, log: dict[str, Any]) -> None:
            trial = self._trials.get(log.get("trial_id"))
            before = None if trial is None else trial.state
            super()._apply_set_trial_state_values(log)
            after = self._trials.get(log.get("trial_id"))
            if (
                before is not None
                and before != TrialState.RUNNING
                and after is not None
                and after.state == TrialState.RUNNING
            ):
                self.owner_of[log["trial_id"]] = log.get("worker_id")

    class OwnedJournalStorage(JournalStorage):
        # JournalStorage.__init__ assigns its replay result; the setter gives it owner tracking.
        @property
        def _replay_result(self):
            return self.__dict__["_replay_result"]

        @_replay_result.setter
        def _replay_result(self, result) -> None:
            if not isinstance(result, _Tracking):
                result.__class__ = _Tracking
                result.owner_of = {}
            self.__dict__["_replay_result"] = result

        def trial_owners(self) -> dict[int, str]:
            """Trial id → the worker id that put it into RUNNING (as replayed so far)."""
            return dict(self._replay_result.owner_of)

    return OwnedJournalStorage


def _owner_dead(host: Any, pid: Any, start: Any) -> bool:
    """True only when the owner is known dead: it ran on this host and its pid is gone, a
    zombie, or now a different (later-started) process. Another host's owner: not known."""
    if host != socket.gethostname() or not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    if _state(pid) == "Z":
        return True
    now = _start_ticks(pid)
    return isinstance(start, int) and now is not None and now != start


def dead_trial_ids(path: Path | None, storage: Any) -> set[int]:
    """Ids of trials put into RUNNING by a worker whose leased owner is known to be dead (see
    :func:`_owner_dead`) or that holds no lease in the file; empty for storages without owner tracking or without leases."""
    if path is None or not path.is_file() or not hasattr(storage, "trial_owners"):
        return set()
    dead_prefixes: list[str] = []
    known: list[str] = []
    with open(path, "rb") as f:
        for line in f:
            try:
                rec = json.loads(line)
                prefix, key = rec["prefix"], (rec["host"], rec["pid"], rec.get("start"))
            except (ValueError, KeyError, TypeError):
                continue  # a lease line cut short by a kill: its trials fall back to stale_after_s
            if not isinstance(prefix, str) or not prefix:
                continue
            known.append(prefix)
            try:
                if _owner_dead(*key):
                    dead_prefixes.append(prefix)
            except TypeError:
                continue
    # A trial whose worker holds no lease at all is orphaned (every search leases before it asks;
    # the journal was copied without its .owners file, or the lease line was lost): dead too.
    return {
        tid
        for tid, wid in storage.trial_owners().items()
        if isinstance(wid, str) and (wid.startswith(tuple(dead_prefixes)) or not wid.startswith(tuple(known)))
    }
