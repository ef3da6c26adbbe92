"""Checks of paths a user gives for output (journals, capture sets, calibration files).

Each check runs before any work is done and raises the caller's error type with one line naming
the option, the path and what is wrong: an empty path, a directory where a file is meant (or a
file where a directory is meant), a name longer than the file system allows, a parent that is not
a directory or not writable, a device or a kernel file (``/dev/null``, ``/proc/...``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edgespace._errors import EdgespaceError

__all__ = ["output_dir", "output_file"]


def _name_max(folder: Path) -> int:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # pathconf is POSIX only
        return 255


def _common(text, what: str, error: type[EdgespaceError]) -> Path:
    if not isinstance(text, (str, os.PathLike)):
        raise error(f"{what}: {text!r}: expected a path")
    raw = os.fspath(text)
    if isinstance(raw, bytes):
        raw = os.fsdecode(raw)
    if not raw.strip():
        raise error(f"{what}: {raw!r}: empty path")
    if "\0" in raw:
        raise error(f"{what}: {raw!r}: a path cannot hold a NUL character")
    path = Path(raw).expanduser()
    limit = _name_max(path.parent if path.parent != Path("") else Path("."))
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            shown = part if len(part) <= 40 else part[:37] + "..."
            raise error(
                f"{what}: {shown!r}: a name of {len(os.fsencode(part))} bytes is longer than this file system "
                f"allows ({limit})"
            )
    resolved = path.resolve()
    for system in ("/proc", "/sys", "/dev"):
        if str(resolved) == system or str(resolved).startswith(system + "/"):
            raise error(f"{what}: {raw}: a device or kernel file ({system}), not a place for edgespace's files")
    return path


def _writable_parent(path: Path, what: str, error: type[EdgespaceError]) -> None:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the nearest existing ancestor (missing folders are created)
    if not parent.is_dir():
        raise error(f"{what}: {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise error(f"{what}: {path}: cannot write in {parent} (permission denied)")


def output_file(text, what: str, error: type[EdgespaceError]) -> Path:
    """A path for a file edgespace will write or append to (missing parent folders are fine)."""
    path = _common(text, what, error)
    if path.exists():
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{what}: {path}: is a directory; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what}: {path}: not a regular file (a device, pipe or socket)")
        if not os.access(path, os.R_OK | os.W_OK):
            raise error(f"{what}: {path}: not readable and writable (permission denied)")
    _writable_parent(path, what, error)
    return path


def output_dir(text, what: str, error: type[EdgespaceError]) -> Path:
    """A path for a directory edgespace will create (if missing) and write files into."""
    path = _common(text, what, error)
    if path.exists():
        if not path.is_dir():
            raise error(f"{what}: {path}: not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise error(f"{what}: {path}: cannot write in it (permission denied)")
        return path
    _writable_parent(path, what, error)
    return path


#: The first bytes of every report edgespace writes: an existing file that does not start with
#: them is not overwritten.
REPORT_MARK = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='generator' content='edgespace report'>"
)


def report_file(text, what: str, error: type[EdgespaceError], *, protected=()) -> Path:
    """A path for a report edgespace will write: :func:`output_file`, and never one of
    ``protected`` (a study's storage and its side files), never an existing file that is not a
    previous edgespace report, never more than one missing folder deep."""
    path = output_file(text, what, error)
    resolved = path.resolve()
    for other in protected:
        if Path(other).resolve() == resolved:
            raise error(f"{what}: {path}: is the study's own storage ({other}); refused, it would be overwritten")
    if path.name.endswith((".owners", ".lock")):
        raise error(f"{what}: {path}: a journal's side file name; refused")
    if not path.parent.is_dir() and not path.parent.parent.is_dir():
        raise error(
            f"{what}: {path}: neither {path.parent} nor the folder above it exists; create them first "
            "(one missing folder is created, not a chain of them)"
        )
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as fh:
            head = fh.read(len(REPORT_MARK.encode()))
        if head != REPORT_MARK.encode():
            raise error(
                f"{what}: {path}: exists and is not an edgespace report; refused so that nothing is overwritten "
                "(move it away or give another file name)"
            )
    return path


#: Largest input file edgespace reads (calibration files, capture sets, profiler JSON, logs).
MAX_INPUT_BYTES = 256 * 1024 * 1024


def read_input(path, error: type[Exception], *, limit: int = MAX_INPUT_BYTES) -> str:
    """The text of an input file, refusing (before reading) anything that is not a regular file
    (``/dev/zero``, a pipe, a socket) or is larger than ``limit`` bytes. A missing file raises
    ``FileNotFoundError`` as ``open`` does; the caller names what it expected."""
    p = Path(path)
    st = os.stat(p)
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: not a regular file (a device, pipe, socket or directory); refused")
    if st.st_size > limit:
        raise error(f"{p}: {st.st_size:,} bytes: larger than the {limit:,} bytes allowed for an input file; refused")
    with open(p, "rb") as fh:
        raw = fh.read(limit + 1)  # the file may have grown since stat()
    if len(raw) > limit:
        raise error(f"{p}: larger than the {limit:,} bytes allowed for an input file; refused")
    return raw.decode("utf-8")
