"""Reading JSON that profilers and trace tools write: the file, and one number field in it,
refused with an :class:`~edgespace._errors.IngestError` naming the file, the entry and the field."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from edgespace._errors import IngestError
from edgespace._paths import read_input

__all__ = ["read_json_source", "json_number"]


def read_json_source(path_or_data, what: str):
    """(data, where) from a JSON file path, or ``(path_or_data, "<data>")`` for data already read;
    an :class:`IngestError` names the file and what was expected. Files are size-checked and
    special files refused before reading (:func:`~edgespace._paths.read_input`)."""
    if isinstance(path_or_data, (str, os.PathLike)):
        p = Path(path_or_data)
        try:
            return json.loads(read_input(p, IngestError)), str(p)
        except FileNotFoundError:
            raise IngestError(f"{p}: no such file ({what} expected)") from None
        except OSError as exc:
            raise IngestError(f"{p}: cannot read: {exc.strerror or exc} ({what} expected)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IngestError(f"{p}: not JSON ({exc}); {what} expected") from None
        except RecursionError:
            raise IngestError(f"{p}: not JSON (nested too deeply); {what} expected") from None
    return path_or_data, "<data>"


def json_number(src: str, where: str, entry, key: str, *, default=None, positive: bool = False) -> float:
    """``entry[key]`` as a finite float, or an :class:`IngestError` naming the file, the entry
    and the field (JSON's ``Infinity``/``NaN``, text, ``true`` and a missing key are refused)."""
    if not isinstance(entry, dict):
        raise IngestError(f"{src}: {where}: expected a JSON object, got {type(entry).__name__}")
    if key not in entry:
        if default is not None:
            return default
        raise IngestError(f"{src}: {where}: field {key!r} is missing")
    v = entry[key]
    if isinstance(v, str):  # ORT writes some numbers (allocator accounting) as text
        try:
            v = float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise IngestError(f"{src}: {where}: {key}: {str(v)[:40]!r}: expected a number")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f) or (positive and f < 0):
        raise IngestError(f"{src}: {where}: {key}: {v!r}: expected a finite number{' >= 0' if positive else ''}")
    return f
