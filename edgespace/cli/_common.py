"""Helpers shared by the CLI commands."""

from __future__ import annotations


def jsonable(value):
    """``json.dumps(default=...)``: numpy scalars become Python numbers; anything else is an error."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
